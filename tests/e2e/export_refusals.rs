//! Snapshots of what `runbook export --to step-functions` says when it refuses: for
//! each action no input of which can be exported, and for the refusals of a step's
//! input users meet most, the full stderr (`file:line:col`, the source line, a caret
//! and the reason) of a small runbook that `runbook validate` accepts, and exit 2.
//!
//! The snapshots are insta's, in `snapshots/export_refusals/<name>.snap`, each with the
//! runbook it was made from as its description. A missing or different snapshot fails
//! the test (insta writes the new text beside it as `.snap.new`); after a deliberate
//! change of a message, re-bless them with
//! `INSTA_UPDATE=always cargo nextest run --test e2e export_refusals` and read the diff.

use crate::harness::Test;

/// Exports `file` (with `args` after it) from a test directory holding `files`, after
/// `runbook validate` has accepted it, and compares its stderr with the snapshot `name`.
#[track_caller]
fn assert_refused(name: &str, files: &[(&str, &str)], args: &[&str]) {
    let (file, yaml) = files[0];
    let t = Test::new();
    for (path, contents) in files {
        t.write(path, contents);
    }
    t.args(["validate", file]).run().success();
    let mut export = vec!["export", "--to", "step-functions", file];
    export.extend_from_slice(args);
    let out = t.args(export).run().code(2);
    assert_eq!(out.stdout, "", "a refused export prints no template");
    assert!(
        out.stderr.ends_with('\n') && !out.stderr.ends_with("\n\n"),
        "stderr ends with exactly one newline: {:?}",
        out.stderr
    );
    insta::with_settings!({
        snapshot_path => "snapshots/export_refusals",
        prepend_module_to_snapshot => false,
        omit_expression => true,
        description => yaml,
    }, {
        insta::assert_snapshot!(name, out.stderr);
    });
}

/// A runbook of one step `id` of `action` with the input `with` (a flow mapping).
fn one_step(action: &str, id: &str, with: &str) -> String {
    format!(
        "name: refused-{action}\nsteps:\n  - id: {id}\n    action: {action}\n    with: {with}\n"
    )
}

#[test]
fn exec() {
    let yaml = one_step("exec", "shell", "{ argv: [echo, hi] }");
    assert_refused("exec", &[("exec.yaml", &yaml)], &[]);
}

#[test]
fn assert_eviction() {
    let yaml = one_step(
        "assert-eviction",
        "evicted",
        "{ victim_job: j-1, preemptor_job: j-2 }",
    );
    assert_refused("assert-eviction", &[("assert-eviction.yaml", &yaml)], &[]);
}

#[test]
fn wait_for_pods() {
    let yaml = one_step(
        "wait-for-pods",
        "pods",
        "{ cluster: c, job: j-1, role: executor, running: 2 }",
    );
    assert_refused("wait-for-pods", &[("wait-for-pods.yaml", &yaml)], &[]);
}

#[test]
fn assert_autoscaling() {
    let yaml = one_step("assert-autoscaling", "scaled", "{ min_added: 1 }");
    assert_refused(
        "assert-autoscaling",
        &[("assert-autoscaling.yaml", &yaml)],
        &[],
    );
}

/// An assert's conditions become Choice rules as a `when` does; one computing with a
/// run-time value (a filter here) has none.
#[test]
fn assert_condition_with_a_filter() {
    let yaml = "\
name: refused-assert
steps:
  - id: group
    action: create-log-group
    with: { name: /team/app }
  - id: check
    action: assert
    with:
      that:
        - \"{{ steps.group.outputs.name != '' }}\"
        - \"{{ steps.group.outputs.name | length > 3 }}\"
      message: an odd log group
";
    assert_refused(
        "assert-condition-with-a-filter",
        &[("assert.yaml", yaml)],
        &[],
    );
}

#[test]
fn apply_manifest() {
    let yaml = "\
name: refused-apply-manifest
steps:
  - id: priorities
    action: apply-manifest
    with:
      cluster: c
      manifest: |
        apiVersion: scheduling.k8s.io/v1
        kind: PriorityClass
        metadata: { name: high }
        value: 1000
";
    assert_refused("apply-manifest", &[("apply-manifest.yaml", yaml)], &[]);
}

#[test]
fn enable_autoscaling() {
    let yaml = one_step(
        "enable-autoscaling",
        "karpenter",
        "{ cluster: c, capacity_types: [spot] }",
    );
    assert_refused(
        "enable-autoscaling",
        &[("enable-autoscaling.yaml", &yaml)],
        &[],
    );
}

#[test]
fn put_object() {
    let yaml = one_step(
        "put-object",
        "script",
        "{ bucket: jobs, key: pi.py, content: \"print(1)\" }",
    );
    assert_refused("put-object", &[("put-object.yaml", &yaml)], &[]);
}

#[test]
fn delete_cluster() {
    let yaml = one_step("delete-cluster", "cluster", "{ name: eks-emr-cluster }");
    assert_refused("delete-cluster", &[("delete-cluster.yaml", &yaml)], &[]);
}

/// An included runbook is exported inside its step; what it refuses is said where it is
/// written in its own file, under the step that includes it.
#[test]
fn runbook_including_what_cannot_be_exported() {
    let yaml = one_step("runbook", "child", "{ file: child.yaml }");
    let child = "\
name: child
steps:
  - id: shell
    action: exec
    with: { argv: [echo, hi] }
";
    assert_refused(
        "runbook-including-exec",
        &[("runbook.yaml", &yaml), ("child.yaml", child)],
        &[],
    );
}

/// An included runbook's params are rendered into its states at export time.
#[test]
fn runbook_param_known_only_at_run_time() {
    let yaml = "\
name: refused-runbook-param
steps:
  - id: group
    action: create-log-group
    with: { name: /team/app }
  - id: child
    action: runbook
    with: { file: child.yaml, params: { prefix: \"{{ steps.group.outputs.name }}\" } }
";
    let child = "\
name: child
params:
  prefix: { default: /x }
steps:
  - id: copy
    action: create-log-group
    with: { name: \"{{ params.prefix }}-copy\" }
";
    assert_refused(
        "runbook-param-at-run-time",
        &[("runbook.yaml", yaml), ("child.yaml", child)],
        &[],
    );
}

/// create-cluster without `role_arn`, `node_role_arn` or `subnet_ids` would make them
/// as eksctl does: the refusal names every one missing (all three as the walkthrough
/// writes it, or one).
#[test]
fn create_cluster_without_roles_or_subnets() {
    const ROLE: &str = "      role_arn: arn:aws:iam::111122223333:role/eks-cluster\n";
    const NODE_ROLE: &str = "      node_role_arn: arn:aws:iam::111122223333:role/eks-node\n";
    const SUBNETS: &str = "      subnet_ids: [subnet-0a1, subnet-0b2]\n";
    let cases = [
        ("create-cluster-without-role-arn", ""),
        (
            "create-cluster-without-node-role-arn",
            &*format!("{ROLE}{SUBNETS}"),
        ),
        (
            "create-cluster-without-subnet-ids",
            &*format!("{ROLE}{NODE_ROLE}"),
        ),
    ];
    for (name, given) in cases {
        let yaml = format!(
            "name: refused-create-cluster\nsteps:\n  - id: cluster\n    action: create-cluster\n    with:\n      name: eks-emr-cluster\n{given}"
        );
        assert_refused(name, &[("create-cluster.yaml", &yaml)], &[]);
    }
}

#[test]
fn for_each_not_a_list() {
    let yaml = "\
name: refused-for-each
params:
  groups: { default: \"/emr/a,/emr/b\" }
steps:
  - id: group
    action: create-log-group
    for_each: \"{{ params.groups }}\"
    with: { name: \"{{ item }}\" }
";
    assert_refused("for-each-not-a-list", &[("for-each.yaml", yaml)], &[]);
}

#[test]
fn secret_param_in_input() {
    let yaml = "\
name: refused-secret
params:
  token: { type: string, secret: true }
steps:
  - id: say
    action: log
    with: { message: \"token {{ params.token }}\" }
";
    assert_refused(
        "secret-param-in-input",
        &[("secret.yaml", yaml)],
        &["--set", "token=hunter2"],
    );
}

#[test]
fn when_reads_a_step_status() {
    let yaml = "\
name: refused-when-status
steps:
  - id: group
    action: create-log-group
    with: { name: /emr/a }
  - id: note
    action: log
    when: \"{{ steps.group.status == 'failed' }}\"
    with: { message: created }
";
    assert_refused("when-step-status", &[("when-status.yaml", yaml)], &[]);
}

#[test]
fn filter_without_a_states_language_equivalent() {
    let yaml = "\
name: refused-filter
steps:
  - id: bucket
    action: create-bucket
    with: { name: emr-logs-111122223333 }
  - id: note
    action: log
    with: { message: \"logs in {{ steps.bucket.outputs.name | replace('-', '_') }}\" }
";
    assert_refused("filter-at-run-time", &[("filter.yaml", yaml)], &[]);
}
