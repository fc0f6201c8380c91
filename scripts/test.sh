#!/usr/bin/env bash
# The one command that runs every test on a fresh machine (the README's test command).
# It installs what the tests need, then runs formatting, lints and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# Headless Chromium renders the HTML report in tests/e2e/report.rs (Debian's package).
command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# moto and the fake Kubernetes API server of the aws target's e2e tests
# (tests/aws/, started by tests/e2e/aws_harness.rs), and cfn-lint for the export tests
# and statelint for the export tests (tests/e2e/export_step_functions.rs), run on the
# Python in .venv-moto/. A venv that already has the pinned moto is reused (and given
# the pinned cfn-lint and statelint if it lacks them); otherwise it is (re)made.
want_moto=$(sed -n 's/^moto\[server\]==//p' tests/aws/requirements.txt)
want_cfn_lint=$(sed -n 's/^cfn-lint==//p' tests/aws/requirements.txt)
want_statelint=$(sed -n 's/^statelint==//p' tests/aws/requirements.txt)
if ! .venv-moto/bin/python -c "import moto, sys; sys.exit(moto.__version__ != '$want_moto')" 2>/dev/null; then
    python3 -c 'import venv, ensurepip' 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; }
    rm -rf .venv-moto
    python3 -m venv .venv-moto
    .venv-moto/bin/pip install -q --disable-pip-version-check -r tests/aws/requirements.txt
elif [ "$(.venv-moto/bin/cfn-lint --version 2>/dev/null)" != "cfn-lint $want_cfn_lint" ] \
    || [ "$(.venv-moto/bin/statelint --version 2>/dev/null | cut -d' ' -f1)" != "$want_statelint" ]; then
    .venv-moto/bin/pip install -q --disable-pip-version-check -r tests/aws/requirements.txt
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
