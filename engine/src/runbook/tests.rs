//! Snapshot tests of the validator on the bad runbooks in `engine/testdata/invalid/`:
//! each must be rejected with its exact messages and positions, and none may panic.

use std::path::Path;

use super::load_file;

#[test]
fn every_invalid_runbook_is_rejected_with_positions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("engine/testdata/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 25,
        "expected at least 25 bad runbooks, found {}",
        files.len()
    );
    for path in files {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let result = std::panic::catch_unwind(|| load_file(&path));
        let Ok(loaded) = result else {
            panic!("validator panicked on {name}");
        };
        let err = match loaded {
            Ok(_) => panic!("{name} was accepted"),
            Err(e) => e,
        };
        assert!(
            !err.diagnostics.is_empty(),
            "{name}: an error without diagnostics"
        );
        // Paths as from the test data directory, wherever the checkout is (the
        // runbooks included from `included/` are shown by their own path).
        let data = dir.parent().unwrap_or(&dir);
        let rendered = err
            .to_string()
            .replace(&format!("{}/", dir.display()), "")
            .replace(&format!("{}/", data.display()), "");
        insta::assert_snapshot!(name, rendered);
    }
}
