#!/usr/bin/env bash
# The one command that runs every test on a fresh machine (the README's test command).
# It installs what the tests need, then runs formatting, lints and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# Headless Chromium renders the HTML report in tests/e2e/report.rs (Debian's package).
command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
