//! Snapshot tests of the validator on the bad runbooks in `engine/testdata/invalid/`:
//! each must be rejected with its exact messages and positions, and none may panic.
//! Then YAML merge keys (`<<: *anchor`) as the loader sees them.

use std::path::Path;

use super::{LoadError, load_file, load_str};

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

/// `load_str`'s diagnostics, rendered as `runbook validate` prints them for `file`.
fn rendered_errors(file: &str, source: &str) -> String {
    let Err(diagnostics) = load_str(source) else {
        panic!("{file} was accepted")
    };
    LoadError {
        file: file.to_string(),
        source_text: source.to_string(),
        diagnostics,
        included: Vec::new(),
    }
    .to_string()
}

#[test]
fn steps_share_with_through_an_anchor_and_a_merge_key() {
    let source = "\
name: demo
steps:
  - id: first
    action: exec
    with: &helm
      argv: [helm, version]
      env: { HELM_NAMESPACE: karpenter }
      allow_on_sim: true
  - id: second
    action: exec
    with:
      <<: *helm
      argv: [helm, list]
";
    let runbook = load_str(source).expect("a merge key in `with` is valid");
    assert_eq!(
        runbook.steps[1].with.to_json(),
        serde_json::json!({
            "argv": ["helm", "list"],
            "env": { "HELM_NAMESPACE": "karpenter" },
            "allow_on_sim": true,
        })
    );
}

/// An error in a merged value is reported once, at the anchor, where the author fixes it
/// for every step that merges it; an error in a key written beside the merge key points
/// at that step.
#[test]
fn errors_in_merged_values_point_at_the_anchor() {
    let source = "\
name: demo
steps:
  - id: low_job
    action: submit-job
    with: &job
      virtual_cluster: monthly-batch-emr-cluster
      name: low-priority-job
      role: monthly-batch-JobExecutionRole
      executor_memroy: 2G
      executors: many
  - id: high_job
    action: submit-job
    with:
      <<: *job
      name: high-priority-job
      driver_cores: [1]
";
    insta::assert_snapshot!("merged-with-errors", rendered_errors("merged.yaml", source));
}

/// The `*` of the alias forgotten: `<<: message` merges the string `message`.
#[test]
fn a_merge_key_without_a_mapping_is_a_yaml_error() {
    let source = "\
name: demo
steps:
  - id: first
    action: log
    with: &message { message: hello }
  - id: second
    action: log
    with:
      <<: message
";
    insta::assert_snapshot!(
        "merge-of-a-string",
        rendered_errors("merge-string.yaml", source)
    );
}

/// `defaults:` gives every step without its own `retry` and `timeout` the runbook's;
/// a step's own wins, and a `runbook` step is never retried as a whole.
#[test]
fn defaults_apply_to_steps_without_their_own() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("child.yaml"),
        "name: child\nsteps:\n  - { id: c, action: log, with: { message: hi } }\n",
    )
    .expect("write child");
    let parent = dir.path().join("parent.yaml");
    std::fs::write(
        &parent,
        "name: parent
defaults:
  retry: { attempts: 3, delay: 2s }
  timeout: 10m
steps:
  - { id: plain, action: log, with: { message: a } }
  - { id: own, action: log, timeout: 1m, retry: { attempts: 5 }, with: { message: b } }
  - { id: inner, action: runbook, with: { file: child.yaml } }
",
    )
    .expect("write parent");
    let loaded = load_file(&parent).unwrap_or_else(|e| panic!("{e}"));
    let step = |id: &str| {
        loaded
            .runbook
            .step_at(id)
            .unwrap_or_else(|| panic!("step {id}"))
    };
    let minutes = |m: u64| Some(std::time::Duration::from_secs(m * 60));
    assert_eq!(step("plain").retry.attempts, 3);
    assert_eq!(step("plain").retry.delay, std::time::Duration::from_secs(2));
    assert_eq!(step("plain").timeout, minutes(10));
    assert_eq!(step("own").retry.attempts, 5);
    assert_eq!(step("own").timeout, minutes(1));
    assert_eq!(
        step("inner").retry.attempts,
        1,
        "a runbook step is not retried"
    );
    assert_eq!(step("inner").timeout, minutes(10));
    // The included runbook's steps keep their own (no) defaults.
    assert_eq!(step("inner/c").retry.attempts, 1);
    assert_eq!(step("inner/c").timeout, None);
}
