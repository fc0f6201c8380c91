//! `runbook export --to step-functions`: the canned runbooks become CloudFormation
//! templates that the real `cfn-lint` (PyPI, which checks the resources and the
//! States-language definition embedded in them) accepts without an error, whose
//! definitions alone the real `statelint` (PyPI, a States-language validator written
//! apart from cfn-lint's schema) accepts too, and what cannot be exported is refused
//! with its position, as validation errors are.
//!
//! Both are in `<repo>/.venv-moto/bin/`, which `bash scripts/test.sh` installs from
//! tests/aws/requirements.txt; without them these tests fail (never skip) and say so.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::harness::Test;

/// The roles and subnets create-cluster needs to be exported (without them it makes a
/// VPC and roles as eksctl does, which is not exported).
const CLUSTER_SETS: [&str; 6] = [
    "--set",
    "cluster_role_arn=arn:aws:iam::111122223333:role/eks-cluster",
    "--set",
    "node_role_arn=arn:aws:iam::111122223333:role/eks-node",
    "--set",
    "subnet_ids=[subnet-0a1,subnet-0b2]",
];

fn cfn_lint() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-moto/bin/cfn-lint");
    assert!(
        path.exists(),
        "the export tests need cfn-lint, but {} does not exist: run `bash scripts/test.sh` once \
         (it installs tests/aws/requirements.txt into .venv-moto/), or \
         `.venv-moto/bin/pip install cfn-lint==1.51.0`",
        path.display()
    );
    path
}

fn statelint() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-moto/bin/statelint");
    assert!(
        path.exists(),
        "the export tests need statelint, but {} does not exist: run `bash scripts/test.sh` once \
         (it installs tests/aws/requirements.txt into .venv-moto/), or \
         `.venv-moto/bin/pip install statelint==3.1.0`",
        path.display()
    );
    path
}

fn canned(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("runbooks")
        .join(name)
        .display()
        .to_string()
}

/// Exports a canned runbook into the test directory and returns the template's path.
fn export(t: &Test, runbook: &str, extra: &[&str], format: &str) -> PathBuf {
    let out = t.path(&format!("{runbook}.{format}"));
    let mut args: Vec<String> = vec![
        "export".into(),
        "--to".into(),
        "step-functions".into(),
        canned(&format!("{runbook}.yaml")),
        "--format".into(),
        format.into(),
        "--out".into(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_string()));
    t.args(args).run().success();
    out
}

/// cfn-lint's verdict: its exit status has bit 2 set for errors (4 is warnings, 8
/// informational findings).
#[track_caller]
fn assert_no_lint_errors(template: &Path) {
    let output = Command::new(cfn_lint())
        .arg(template)
        .output()
        .expect("cfn-lint runs");
    let code = output.status.code().expect("cfn-lint exited");
    assert_eq!(
        code & 2,
        0,
        "cfn-lint found errors in {}:\n{}{}",
        template.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// statelint's verdict on the template's `Properties.Definition` alone. The template
/// (JSON or YAML, JSON being YAML) is read as YAML and the definition written out as
/// YAML for `statelint --yaml`, so both formats are checked the same way.
#[track_caller]
fn assert_valid_definition(template: &Path) {
    let text = std::fs::read_to_string(template).expect("the template reads");
    let documents = yaml_rust2::YamlLoader::load_from_str(&text).expect("the template parses");
    let definition = &documents[0]["Resources"]["StateMachine"]["Properties"]["Definition"];
    assert!(
        !definition.is_badvalue(),
        "{} has no Resources.StateMachine.Properties.Definition",
        template.display()
    );
    let mut out = String::new();
    yaml_rust2::YamlEmitter::new(&mut out)
        .dump(definition)
        .expect("the definition writes as YAML");
    let path = template.with_extension("asl.yaml");
    std::fs::write(&path, out).expect("the definition is written");
    let output = Command::new(statelint())
        .arg("--yaml")
        .arg(&path)
        .output()
        .expect("statelint runs");
    assert!(
        output.status.success(),
        "statelint found problems in the definition of {}:\n{}{}",
        template.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_canned_runbooks_export_to_templates_cfn_lint_accepts() {
    let t = Test::new();
    let with_cluster = |skip: &[&'static str]| {
        let mut args: Vec<&str> = CLUSTER_SETS.to_vec();
        for step in skip {
            args.extend(["--allow-partial", step]);
        }
        args
    };
    let templates = [
        // The log steps' messages compute with outputs (a loop, arithmetic, filters):
        // each is left out by name.
        export(&t, "platform-setup", &with_cluster(&["summary"]), "json"),
        export(&t, "simple-job", &with_cluster(&["report"]), "json"),
        // Whole: its `finally` cancel-job reads whether the submit and the wait
        // succeeded, and the job's id, so the two stay apart (startJobRun, then polls).
        export(&t, "nightly-batch", &with_cluster(&[]), "json"),
        export(
            &t,
            "nightly-batch",
            &with_cluster(&["cancel_on_failure"]),
            "yaml",
        ),
        export(
            &t,
            "teardown",
            &["--allow-partial", "cluster", "--allow-partial", "done"],
            "json",
        ),
    ];
    for template in &templates {
        assert_no_lint_errors(template);
        assert_valid_definition(template);
    }
    let platform: Value =
        serde_json::from_str(&t.read("platform-setup.json")).expect("the template is JSON");
    let machine = &platform["Resources"]["StateMachine"];
    assert_eq!(machine["Type"], "AWS::StepFunctions::StateMachine");
    let definition = &machine["Properties"]["Definition"];
    assert!(definition.is_object(), "the definition is an object");
    // The four steps needing only the cluster run side by side.
    let parallel = &definition["States"]["Side by side 1"];
    assert_eq!(parallel["Type"], "Parallel");
    assert_eq!(parallel["Branches"].as_array().map(Vec::len), Some(4));
    let roles = parallel["Branches"]
        .as_array()
        .expect("branches")
        .iter()
        .find_map(|b| b["States"].get("roles"))
        .expect("a branch runs roles");
    assert_eq!(roles["Type"], "Map");
    assert_eq!(roles["MaxConcurrency"], 5);
    let statements = platform["Resources"]["StateMachineRole"]["Properties"]["Policies"][0]
        ["PolicyDocument"]["Statement"]
        .as_array()
        .expect("statements")
        .clone();
    let actions: Vec<&str> = statements
        .iter()
        .flat_map(|s| match &s["Action"] {
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect::<Vec<_>>(),
            one => one.as_str().into_iter().collect(),
        })
        .collect();
    assert!(!actions.contains(&"*"), "{actions:?}");
    for needed in [
        "eks:CreateCluster",
        "emr-containers:CreateVirtualCluster",
        "iam:CreateRole",
        "logs:CreateLogGroup",
        "s3:CreateBucket",
        "iam:PassRole",
    ] {
        assert!(
            actions.contains(&needed),
            "{needed} missing from {actions:?}"
        );
    }
    let nightly = t.read("nightly-batch.yaml");
    assert!(
        nightly.contains("arn:aws:states:::emr-containers:startJobRun.sync"),
        "without the finally step, submit-job followed by wait-for-job on its job is one .sync task:\n{nightly}"
    );
    let whole = t.read("nightly-batch.json");
    assert!(
        !whole.contains("startJobRun.sync")
            && whole.contains("arn:aws:states:::emr-containers:startJobRun\"")
            && whole.contains("\"done ended?\""),
        "with it, the job is started, then polled:\n{whole}"
    );
}

#[test]
fn the_dry_run_summarises_the_mapping() {
    let t = Test::new();
    let mut args = vec![
        "export",
        "--to",
        "step-functions",
        "--dry-run",
        "--allow-partial",
        "cancel_on_failure",
    ];
    args.extend(CLUSTER_SETS);
    let path = canned("nightly-batch.yaml");
    args.push(&path);
    let out = t.args(args).run().success();
    assert_eq!(
        out.stderr,
        "warning: step cancel_on_failure (cancel-job) is not exported: left out with --allow-partial\n"
    );
    let file = canned("nightly-batch.yaml");
    let expected = format!(
        "\
export of nightly-batch ({file}) to Step Functions; nothing is written
states: 21
steps:
  cluster (create-cluster): eks:createCluster.sync, aws-sdk:eks:describeCluster, aws-sdk:iam:createOpenIDConnectProvider, eks:createNodegroup.sync
  virtual_cluster (register-vc): aws-sdk:eks:describeCluster, eks:call, emr-containers:createVirtualCluster
  role (create-job-role): aws-sdk:eks:describeCluster, aws-sdk:iam:createRole, aws-sdk:iam:putRolePolicy, aws-sdk:iam:getRole
  log_group (create-log-group): aws-sdk:cloudwatchlogs:createLogGroup, aws-sdk:cloudwatchlogs:putRetentionPolicy
  job (submit-job): emr-containers:startJobRun.sync
  done (wait-for-job): waited by job's emr-containers:startJobRun.sync
skipped:
  cancel_on_failure (cancel-job): left out with --allow-partial
role actions: ec2:DescribeSubnets, eks:CreateAccessEntry, eks:CreateCluster, eks:CreateNodegroup, eks:DeleteCluster, eks:DeleteNodegroup, eks:DescribeCluster, eks:DescribeNodegroup, emr-containers:CancelJobRun, emr-containers:CreateVirtualCluster, emr-containers:DescribeJobRun, emr-containers:StartJobRun, iam:CreateOpenIDConnectProvider, iam:CreateRole, iam:GetRole, iam:ListAttachedRolePolicies, iam:PutRolePolicy, logs:CreateLogGroup, logs:PutRetentionPolicy, iam:PassRole, iam:CreateServiceLinkedRole
refused: none
"
    );
    assert_eq!(out.stdout, expected);
}

const REFUSED: &str = "\
name: refused
steps:
  - id: hello
    action: log
    with: { message: hello }
  - id: pods
    action: wait-for-pods
    with: { cluster: c, job: j-1, role: executor, running: 2 }
  - id: evicted
    action: assert-eviction
    with: { victim_job: j-1, preemptor_job: j-2 }
  - id: shell
    action: exec
    with: { argv: [echo, hi] }
";

#[test]
fn what_cannot_be_exported_is_refused_where_it_is_written() {
    let t = Test::new().runbook("refused.yaml", REFUSED);
    let out = t
        .args(["export", "--to", "step-functions", "refused.yaml"])
        .run()
        .code(2);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "\
error: wait-for-pods cannot be exported: it watches pods until they reach a state; `eks:call` reads once and no integration waits on pods
 --> refused.yaml:7:13
  |
7 |     action: wait-for-pods
  |             ^^^^^^^^^^^^^
  = help: `--allow-partial pods` leaves the step out, with a warning

error: assert-eviction cannot be exported: it follows the job's pods and the scheduler's preemptions while the jobs run; no Step Functions integration observes pod events
 --> refused.yaml:10:13
   |
10 |     action: assert-eviction
   |             ^^^^^^^^^^^^^^^
   = help: `--allow-partial evicted` leaves the step out, with a warning

error: exec cannot be exported: it runs a program on the machine that runs runbook; a state machine has no machine of its own to run it on
 --> refused.yaml:13:13
   |
13 |     action: exec
   |             ^^^^
   = help: `--allow-partial shell` leaves the step out, with a warning
"
    );
    let out = t
        .args([
            "export",
            "--to",
            "step-functions",
            "refused.yaml",
            "--allow-partial",
            "pods",
            "--allow-partial",
            "evicted",
            "--allow-partial",
            "shell",
        ])
        .run()
        .success();
    assert_eq!(
        out.stderr,
        "\
warning: step pods (wait-for-pods) is not exported: left out with --allow-partial
warning: step evicted (assert-eviction) is not exported: left out with --allow-partial
warning: step shell (exec) is not exported: left out with --allow-partial
"
    );
    let template: Value = serde_json::from_str(&out.stdout).expect("a JSON template");
    let states = &template["Resources"]["StateMachine"]["Properties"]["Definition"]["States"];
    assert_eq!(states["hello outputs"]["Parameters"]["message"], "hello");
    assert!(states.get("pods").is_none());
}

#[test]
fn a_computation_over_a_run_time_value_is_refused_with_its_position() {
    let t = Test::new().runbook(
        "computes.yaml",
        "\
name: computes
steps:
  - id: group
    action: create-log-group
    with: { name: /emr/a }
  - id: shout
    action: log
    with: { message: \"{{ steps.group.outputs.name | upper }}\" }
",
    );
    t.args(["export", "--to", "step-functions", "computes.yaml"])
        .run()
        .code(2)
        .stderr(
            "\
error: `steps.group.outputs.name | upper` computes with a value known only when the state machine runs; only a plain reference (`steps.<id>.outputs.<name>`, `item`, `index`, `run.started_at[:10]`) translates exactly to the States language
 --> computes.yaml:8:22
  |
8 |     with: { message: \"{{ steps.group.outputs.name | upper }}\" }
  |                      ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  = help: `--allow-partial shout` leaves the step out, with a warning
",
        );
}

/// A virtual cluster and a job submitted to it without waiting: the start of the
/// runbooks of the polling and `when` tests.
const SUBMITTED_JOB: &str = "  - id: vc
    action: register-vc
    with: { cluster: c, namespace: ns }
  - id: job
    action: submit-job
    with: { virtual_cluster: \"{{ steps.vc.outputs.virtual_cluster_id }}\", name: pi, role: \"arn:aws:iam::111122223333:role/job\" }
";

#[test]
fn a_wait_for_a_job_started_earlier_polls_it_until_it_ends() {
    let t = Test::new().runbook(
        "poll.yaml",
        &format!(
            "\
name: poll
steps:
{SUBMITTED_JOB}  - id: note
    action: log
    with: {{ message: \"started {{{{ steps.job.outputs.job_id }}}}\" }}
  - id: done
    action: wait-for-job
    with: {{ job: \"{{{{ steps.job.outputs.job_id }}}}\", virtual_cluster_id: \"{{{{ steps.job.outputs.virtual_cluster_id }}}}\", timeout: 10m }}
"
        ),
    );
    t.args([
        "export",
        "--to",
        "step-functions",
        "poll.yaml",
        "--out",
        "poll.json",
    ])
    .run()
    .success();
    assert_no_lint_errors(&t.path("poll.json"));
    assert_valid_definition(&t.path("poll.json"));
    let template: Value = serde_json::from_str(&t.read("poll.json")).expect("JSON");
    let states = &template["Resources"]["StateMachine"]["Properties"]["Definition"]["States"];
    assert_eq!(
        states["job StartJobRun"]["Resource"],
        "arn:aws:states:::emr-containers:startJobRun"
    );
    assert_eq!(
        states["done DescribeJobRun"]["Parameters"]["Id.$"],
        "$.steps.job.job_id"
    );
    assert_eq!(states["done wait"]["Seconds"], 30);
    let choices = states["done ended?"]["Choices"]
        .as_array()
        .expect("choices");
    assert_eq!(choices[0]["Next"], "done outputs");
    assert_eq!(choices[1]["Next"], "done ended FAILED");
    assert_eq!(
        choices[3],
        serde_json::json!({"Variable": "$.scratch.done_polls.polls", "NumericGreaterThanEquals": 20, "Next": "done timed out"})
    );
}

#[test]
fn a_secret_is_never_written_into_a_template() {
    let t = Test::new().runbook(
        "secret.yaml",
        "\
name: secret
params:
  token: { type: string, secret: true }
steps:
  - id: hello
    action: log
    with: { message: \"token {{ params.token }}\" }
",
    );
    let out = t
        .args([
            "export",
            "--to",
            "step-functions",
            "secret.yaml",
            "--set",
            "token=s3cr3t-value-123",
        ])
        .run()
        .code(2)
        .stderr(
            "\
error: the input of step hello (its `message`) holds a secret (a `secret: true` param or a secret-looking environment variable), which the template would carry in clear; secrets are not exported yet
 --> secret.yaml:7:22
  |
7 |     with: { message: \"token {{ params.token }}\" }
  |                      ^^^^^^^^^^^^^^^^^^^^^^^^^^
  = help: `--allow-partial hello` leaves the step out, with a warning
",
        );
    assert_eq!(out.stdout, "");
}

#[test]
fn a_when_comparing_an_output_with_a_literal_is_a_choice() {
    let t = Test::new().runbook(
        "when.yaml",
        &format!(
            "\
name: when
steps:
{SUBMITTED_JOB}  - id: done
    action: wait-for-job
    with: {{ job: \"{{{{ steps.job.outputs.job_id }}}}\", virtual_cluster_id: \"{{{{ steps.job.outputs.virtual_cluster_id }}}}\", expect: [COMPLETED, FAILED] }}
  - id: report
    action: log
    when: \"{{{{ steps.done.outputs.state != 'COMPLETED' }}}}\"
    with: {{ message: \"job {{{{ steps.done.outputs.job_id }}}} ended {{{{ steps.done.outputs.state }}}}\" }}
  - id: shout
    action: log
    when: \"{{{{ steps.done.outputs.state | lower == 'failed' }}}}\"
    with: {{ message: failed }}
"
        ),
    );
    t.args(["export", "--to", "step-functions", "when.yaml"])
        .run()
        .code(2)
        .stderr(
            "\
error: this `when` is not exported: the filter `lower` has no Choice rule; only comparisons of a step output with a literal, joined with and/or/not, do
 --> when.yaml:18:11
   |
18 |     when: \"{{ steps.done.outputs.state | lower == 'failed' }}\"
   |           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
   = help: `--allow-partial shout` leaves the step out, with a warning
",
        );
    t.args([
        "export",
        "--to",
        "step-functions",
        "when.yaml",
        "--allow-partial",
        "shout",
        "--out",
        "when.json",
    ])
    .run()
    .success();
    assert_no_lint_errors(&t.path("when.json"));
    assert_valid_definition(&t.path("when.json"));
    let template: Value = serde_json::from_str(&t.read("when.json")).expect("JSON");
    let states = &template["Resources"]["StateMachine"]["Properties"]["Definition"]["States"];
    assert_eq!(states["done outputs"]["Next"], "report when");
    assert_eq!(
        states["report when"],
        serde_json::json!({
            "Type": "Choice",
            "Choices": [{"Not": {"Variable": "$.steps.done.state", "StringEquals": "COMPLETED"}, "Next": "report outputs"}],
            "Default": "Succeeded",
        })
    );
}

#[test]
fn a_scheduled_export_starts_the_state_machine_once_per_scheduled_time() {
    let t = Test::new();
    let mut args: Vec<&str> = CLUSTER_SETS.to_vec();
    args.extend([
        "--allow-partial",
        "cancel_on_failure",
        "--schedule",
        "cron(15 2 * * ? *)",
        "--schedule-timezone",
        "Europe/Paris",
    ]);
    let template_path = export(&t, "nightly-batch", &args, "json");
    assert_no_lint_errors(&template_path);
    assert_valid_definition(&template_path);
    let template: Value = serde_json::from_str(&t.read("nightly-batch.json")).expect("JSON");
    let resources = &template["Resources"];
    let schedule = &resources["Schedule"];
    assert_eq!(schedule["Type"], "AWS::Scheduler::Schedule");
    let properties = &schedule["Properties"];
    assert_eq!(properties["ScheduleExpression"], "cron(15 2 * * ? *)");
    assert_eq!(properties["ScheduleExpressionTimezone"], "Europe/Paris");
    assert_eq!(
        properties["FlexibleTimeWindow"],
        serde_json::json!({"Mode": "OFF"})
    );
    assert_eq!(
        properties["Target"]["Arn"],
        serde_json::json!({"Ref": "StateMachine"})
    );
    assert_eq!(
        properties["Target"]["Input"],
        "{\"scheduled_time\":\"<aws.scheduler.scheduled-time>\"}"
    );
    let role = &resources["ScheduleRole"]["Properties"];
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "scheduler.amazonaws.com"
    );
    let policies = role["Policies"]
        .as_array()
        .expect("the schedule role's policies");
    assert_eq!(policies.len(), 1);
    assert_eq!(
        policies[0]["PolicyDocument"]["Statement"],
        serde_json::json!([{"Effect": "Allow", "Action": "states:StartExecution", "Resource": {"Ref": "StateMachine"}}])
    );
    // The scheduled start names the execution after its time (`:` is refused in names).
    let states = &resources["StateMachine"]["Properties"]["Definition"]["States"];
    let start = &states["start the scheduled time once"];
    assert_eq!(
        start["Resource"],
        "arn:aws:states:::aws-sdk:sfn:startExecution"
    );
    assert_eq!(
        start["Parameters"]["StateMachineArn.$"],
        "$$.StateMachine.Id"
    );
    assert!(
        start["Parameters"]["Name.$"]
            .as_str()
            .is_some_and(|name| name.contains("States.StringSplit($.scheduled_time, ':')")),
        "{start}"
    );
    assert_eq!(
        start["Catch"][0]["ErrorEquals"],
        serde_json::json!(["Sfn.ExecutionAlreadyExistsException"])
    );
    let path = canned("nightly-batch.yaml");
    let mut dry_run = vec!["export", "--to", "step-functions", "--dry-run", &path];
    dry_run.extend(&args);
    let out = t.args(dry_run).run().success();
    assert!(
        out.stdout.contains(", states:StartExecution\nschedule: cron(15 2 * * ? *) (Europe/Paris), flexible window off; the scheduled start passes its time and the state machine starts itself once per scheduled time, named after it (2026-12-09T02:15:00Z -> 2026-12-09T02-15-00Z); the schedule's role may only states:StartExecution on it\nrefused: none\n"),
        "{}",
        out.stdout
    );
    t.args(["export", "--to", "step-functions", &path, "--schedule", "cron(15 2 * * *)"])
        .run()
        .code(2)
        .stderr(
            "error: --schedule \"cron(15 2 * * *)\": a cron expression has six fields (minutes hours day-of-month month day-of-week year), not 5\n",
        );
}

#[test]
fn independent_chains_run_as_the_branches_of_a_parallel_joined_before_the_step_needing_them() {
    let t = Test::new().runbook(
        "chains.yaml",
        "\
name: chains
steps:
  - id: logs
    action: create-log-group
    with: { name: /runbook/chains, retention_days: 7 }
  - id: logs_noted
    action: log
    needs: [logs]
    with: { message: \"log group {{ steps.logs.outputs.name }}\" }
  - id: hello
    action: log
    needs: []
    with: { message: hello }
  - id: hello_noted
    action: log
    needs: [hello]
    with: { message: \"said {{ steps.hello.outputs.message }}\" }
  - id: joined
    action: log
    needs: [logs_noted, hello_noted]
    with: { message: \"{{ steps.logs_noted.outputs.message }}; {{ steps.hello_noted.outputs.message }}\" }
",
    );
    t.args([
        "export",
        "--to",
        "step-functions",
        "chains.yaml",
        "--out",
        "chains.json",
    ])
    .run()
    .success();
    assert_no_lint_errors(&t.path("chains.json"));
    assert_valid_definition(&t.path("chains.json"));
    let template: Value = serde_json::from_str(&t.read("chains.json")).expect("JSON");
    let definition = &template["Resources"]["StateMachine"]["Properties"]["Definition"];
    let states = &definition["States"];
    let parallel = &states["Side by side 1"];
    assert_eq!(parallel["Type"], "Parallel");
    let branches = parallel["Branches"].as_array().expect("branches");
    assert_eq!(branches.len(), 2);
    let branch_states = |b: usize| -> Vec<String> {
        branches[b]["States"]
            .as_object()
            .expect("states")
            .keys()
            .cloned()
            .collect()
    };
    assert!(branch_states(0).iter().any(|s| s.starts_with("logs_noted")));
    assert!(
        branch_states(1)
            .iter()
            .any(|s| s.starts_with("hello_noted"))
    );
    assert_eq!(
        parallel["ResultSelector"]["steps.$"],
        "States.JsonMerge($[0].steps, $[1].steps, false)"
    );
    let join = parallel["Next"].as_str().expect("the Parallel goes on");
    assert!(join.starts_with("joined"), "{join}");
    let out = t
        .args([
            "export",
            "--to",
            "step-functions",
            "--dry-run",
            "chains.yaml",
        ])
        .run()
        .success();
    assert!(
        out.stdout.contains("side by side: 1 Parallel state, "),
        "{}",
        out.stdout
    );
}

#[test]
fn a_finally_cancel_job_cancels_a_job_still_running_and_leaves_an_ended_one_alone() {
    let t = Test::new().runbook(
        "cancel.yaml",
        &format!(
            "\
name: cancel
steps:
{SUBMITTED_JOB}finally:
  - id: cancel
    action: cancel-job
    with: {{ job: \"{{{{ steps.job.outputs.job_id }}}}\", virtual_cluster_id: \"{{{{ steps.job.outputs.virtual_cluster_id }}}}\", if_running: true }}
"
        ),
    );
    t.args([
        "export",
        "--to",
        "step-functions",
        "cancel.yaml",
        "--out",
        "cancel.json",
    ])
    .run()
    .success();
    assert_no_lint_errors(&t.path("cancel.json"));
    assert_valid_definition(&t.path("cancel.json"));
    let template: Value = serde_json::from_str(&t.read("cancel.json")).expect("JSON");
    let states = &template["Resources"]["StateMachine"]["Properties"]["Definition"]["States"];
    // Both outcomes of the main steps go on to the cancel step.
    assert_eq!(states["main steps"]["Next"], "cancel DescribeJobRun");
    assert_eq!(
        states["main steps"]["Catch"][0]["Next"],
        "cancel DescribeJobRun"
    );
    assert_eq!(
        states["cancel DescribeJobRun"]["Parameters"],
        serde_json::json!({"Id.$": "$.steps.job.job_id", "VirtualClusterId.$": "$.steps.job.virtual_cluster_id"})
    );
    let ended = &states["cancel ended?"];
    assert_eq!(ended["Default"], "cancel CancelJobRun");
    assert_eq!(ended["Choices"][0]["Next"], "cancel outputs");
    let cancel = &states["cancel CancelJobRun"];
    assert_eq!(
        cancel["Resource"],
        "arn:aws:states:::aws-sdk:emrcontainers:cancelJobRun"
    );
    assert_eq!(cancel["Next"], "cancel DescribeJobRun after the request");
    assert_eq!(
        states["cancel outputs"]["Next"],
        "outcome of the main steps"
    );
    let policy = t.read("cancel.json");
    assert!(policy.contains("emr-containers:CancelJobRun"), "{policy}");
}

#[test]
fn finally_steps_run_after_the_main_steps_whatever_their_outcome_which_is_then_restored() {
    let t = Test::new().runbook(
        "finally.yaml",
        "\
name: finally
steps:
  - id: logs
    action: create-log-group
    with: { name: /runbook/finally, retention_days: 7 }
finally:
  - id: cleanup
    action: delete-log-group
    with: { name: \"{{ steps.logs.outputs.name }}\" }
",
    );
    t.args([
        "export",
        "--to",
        "step-functions",
        "finally.yaml",
        "--out",
        "finally.json",
    ])
    .run()
    .success();
    assert_no_lint_errors(&t.path("finally.json"));
    assert_valid_definition(&t.path("finally.json"));
    let template: Value = serde_json::from_str(&t.read("finally.json")).expect("JSON");
    let states = &template["Resources"]["StateMachine"]["Properties"]["Definition"]["States"];
    assert_eq!(states["Start"]["Next"], "main steps");
    let main = &states["main steps"];
    assert_eq!(main["Type"], "Parallel");
    let branch = &main["Branches"][0]["States"];
    // A main step's error ends the main steps with the error kept, its outputs too.
    assert_eq!(
        branch["logs CreateLogGroup"]["Catch"][1],
        serde_json::json!({"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "main steps failed"})
    );
    // Success and failure both go on to the finally step.
    assert_eq!(main["Next"], "cleanup DeleteLogGroup");
    assert_eq!(
        main["Catch"],
        serde_json::json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "cleanup DeleteLogGroup"}])
    );
    assert_eq!(
        states["cleanup outputs"]["Next"],
        "outcome of the main steps"
    );
    assert_eq!(
        states["outcome of the main steps"],
        serde_json::json!({
            "Type": "Choice",
            "Choices": [{"Variable": "$.failure", "IsNull": false, "Next": "Failed"}],
            "Default": "Succeeded",
        })
    );
    assert_eq!(
        states["Failed"],
        serde_json::json!({"Type": "Fail", "ErrorPath": "$.failure.Error", "CausePath": "$.failure.Cause"})
    );
}

/// One runbook using every action the Kubernetes and Wait mappings write, and a
/// put-object and a delete-cluster, which are refused.
const KUBE_AND_WAIT: &str = "\
name: kube-and-wait
steps:
  - id: team
    action: create-namespace
    with: { cluster: c, name: spark }
  - id: critical
    action: create-priority-class
    with: { cluster: c, name: critical-priority, value: 400, global_default: true }
  - id: script
    action: put-object
    with: { bucket: jobs, key: pi.py, content: \"print(1)\\n\" }
  - id: pause
    action: sleep
    with: { duration: 90s }
  - id: no_critical
    action: delete-priority-class
    with: { cluster: c, name: critical-priority }
  - id: no_team
    action: delete-namespace
    with: { cluster: c, name: spark }
  - id: cluster
    action: delete-cluster
    with: { name: c }
  - id: done
    action: log
    with: { message: \"{{ steps.critical.outputs.name }} is {{ steps.critical.outputs.value }}\" }
";

#[test]
fn namespaces_priority_classes_and_sleeps_export_in_both_styles() {
    let t = Test::new().runbook("kube.yaml", KUBE_AND_WAIT);
    let refused = t
        .args(["export", "--to", "step-functions", "kube.yaml"])
        .run()
        .code(2);
    assert!(
        refused.stderr.starts_with(
            "error: put-object cannot be exported: `aws-sdk:s3:putObject` sends a Body written in the States language as JSON"
        ) && refused.stderr.contains(" --> kube.yaml:10:13\n"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains(
            "error: delete-cluster cannot be exported: before the cluster it removes the Karpenter NodePools"
        ) && refused.stderr.contains(" --> kube.yaml:22:13\n"),
        "{}",
        refused.stderr
    );
    for style in ["optimized", "sdk"] {
        let out = format!("kube-{style}.json");
        t.args([
            "export",
            "--to",
            "step-functions",
            "kube.yaml",
            "--integration-style",
            style,
            "--allow-partial",
            "cluster",
            "--allow-partial",
            "script",
            "--out",
            &out,
        ])
        .run()
        .success();
        assert_no_lint_errors(&t.path(&out));
        assert_valid_definition(&t.path(&out));
        let template: Value = serde_json::from_str(&t.read(&out)).expect("JSON");
        let states = &template["Resources"]["StateMachine"]["Properties"]["Definition"]["States"];
        let create = &states["team create Namespace"];
        assert_eq!(create["Resource"], "arn:aws:states:::eks:call");
        assert_eq!(create["Catch"][0]["Next"], "team get Namespace");
        assert_eq!(states["team Terminating?"]["Default"], "team outputs");
        assert_eq!(
            states["critical create PriorityClass"]["Parameters"]["RequestBody"]["value"],
            400
        );
        assert_eq!(states["critical differs"]["Type"], "Fail");
        assert_eq!(
            states["pause wait"],
            serde_json::json!({"Type": "Wait", "Seconds": 90, "Next": "pause outputs"})
        );
        for (step, kind) in [("no_critical", "PriorityClass"), ("no_team", "Namespace")] {
            assert_eq!(
                states[format!("{step} DescribeCluster")]["Catch"][0]["ErrorEquals"],
                serde_json::json!(["Eks.ResourceNotFoundException"])
            );
            assert_eq!(
                states[format!("{step} delete {kind}")]["Catch"][0]["ErrorEquals"],
                serde_json::json!(["EKS.404"])
            );
        }
        assert_eq!(
            states["done outputs"]["Parameters"]["message.$"],
            "States.Format('{} is {}', $.steps.critical.name, $.steps.critical.value)"
        );
        let role = template["Resources"]["StateMachineRole"].to_string();
        assert!(role.contains("eks:DescribeCluster"), "{role}");
    }
}

/// Values CloudFormation or Step Functions would refuse at deploy time are refused by
/// the export, saying which: a cron field out of its range, a poll interval that is
/// not whole seconds.
#[test]
fn a_schedule_or_poll_interval_out_of_range_is_refused_before_anything_is_written() {
    let t = Test::new();
    let nightly = canned("nightly-batch.yaml");
    let export = |extra: &[&str]| {
        let mut args = vec!["export", "--to", "step-functions", nightly.as_str()];
        args.extend_from_slice(extra);
        t.args(args).run()
    };
    let out = export(&["--schedule", "cron(15 25 * * ? *)"]).code(2);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "error: --schedule \"cron(15 25 * * ? *)\": hours \"25\" is not a list of values 0-23, ranges, `*` and steps\n"
    );
    let out = export(&["--poll-interval", "500ms"]).code(2);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains(
            "500ms is not a whole number of seconds of at least 1 (a Wait state waits whole seconds)"
        ),
        "{}",
        out.stderr
    );
}
