//! Fault injection on `--target aws`: StartJobRun, a create (S3 CreateBucket) and a
//! delete (IAM DeleteRole) answer too late after reaching moto, fail with 500 before
//! or after moto acted, are throttled, or lose their connection mid-answer (the fault
//! proxy of `aws_faults.rs`), with step `retry`, step `timeout`, `kill -9` and
//! `resume` in between. Whatever happened on the wire, moto ends with exactly one job
//! run for the submit step and no resource created twice or left behind, checked
//! through the AWS SDK on moto directly (not through the proxy).
//!
//! moto answers a StartJobRun that repeats a `clientToken` with the job run it started
//! (the launcher patches it to, as EMR does), so the SDK's own retries of one call are
//! safe; what these tests prove is the engine's side: a step retried or resumed after
//! its call may have reached EMR keeps the key, finds the job run it started, and
//! reattaches to it.

use std::time::Duration;

use serde_json::Value;

use crate::aws_faults::{Fault, Op};
use crate::aws_harness::AwsWorld;
use crate::aws_sdk::Sdk;
use crate::harness::{Background, Output, Test, step};

const ACCOUNT: &str = "123456789012";
const CLUSTER: &str = "eks-emr-cluster";
const ROLE: &str = "nightly-batch-JobExecutionRole";
/// Created and then deleted by the run: the delete under fault.
const SCRATCH_ROLE: &str = "scratch-JobExecutionRole";
const BUCKET: &str = "nightly-logs-123456789012-us-east-2";

/// How long a late answer is held: longer than the faulted steps' `timeout` (3 s: far
/// more than any call to a local moto needs, even the first S3 call, which imports
/// moto's S3 backend).
const LATE: Duration = Duration::from_secs(6);

/// Retried: up to 5 attempts, each bounded by the timeout.
const RETRIED: &str = "    timeout: 3s\n    retry: { attempts: 5, delay: 100ms }\n";
/// One attempt, bounded by the timeout: a fault fails the run.
const ONE_ATTEMPT: &str = "    timeout: 3s\n";
/// No bound and no retry: a test kills the run while a call hangs.
const PLAIN: &str = "";

/// The platform steps of a nightly batch: `cluster` (EKS with the given roles and
/// subnets, which moto does not check), `virtual_cluster` on namespace
/// `nightly-batch`, and the job role `role`.
pub(crate) fn platform_steps(role: &str) -> String {
    format!(
        r#"  - id: cluster
    action: create-cluster
    with:
      name: {CLUSTER}
      role_arn: arn:aws:iam::{ACCOUNT}:role/eks-cluster-role
      node_role_arn: arn:aws:iam::{ACCOUNT}:role/eks-node-role
      subnet_ids: [subnet-0a1, subnet-0b2]
      nodegroup: {{ name: {CLUSTER}-ng, instance_type: m5.2xlarge, desired_size: 1 }}
  - id: virtual_cluster
    action: register-vc
    with: {{ cluster: {CLUSTER}, namespace: nightly-batch }}
  - id: role
    action: create-job-role
    with: {{ name: {role}, cluster: {CLUSTER}, namespace: nightly-batch }}
"#
    )
}

/// A nightly batch on its own cluster: the faulted steps (`bucket`, `job`,
/// `drop_scratch`) carry `policy` (their `timeout` and `retry`).
fn nightly(policy: &str) -> String {
    format!(
        r#"name: faults
steps:
{}  - id: scratch_role
    action: create-job-role
    with: {{ name: {SCRATCH_ROLE}, cluster: {CLUSTER}, namespace: nightly-batch }}
  - id: bucket
    action: create-bucket
{policy}    with: {{ name: {BUCKET} }}
  - id: job
    action: submit-job
{policy}    with:
      virtual_cluster: "{{{{ steps.virtual_cluster.outputs.virtual_cluster_id }}}}"
      name: nightly
      role: "{{{{ steps.role.outputs.role_arn }}}}"
  - id: done
    action: wait-for-job
    with: {{ job: "{{{{ steps.job.outputs.job_id }}}}", timeout: 1m }}
  - id: drop_scratch
    action: delete-job-role
{policy}    with: {{ name: {SCRATCH_ROLE} }}
"#,
        platform_steps(ROLE)
    )
}

/// A world with the fault proxy, and a test directory holding [`nightly`] with
/// `policy`.
fn setup(policy: &str) -> (AwsWorld, Sdk, Test) {
    let world = AwsWorld::builder().fault_proxy().start();
    let sdk = Sdk::new(&world);
    let t = Test::new().runbook("nightly.yaml", &nightly(policy));
    (world, sdk, t)
}

fn run(world: &AwsWorld, t: &Test) -> Background {
    world.run_plain(t, "nightly.yaml", &[]).spawn()
}

fn resume(world: &AwsWorld, t: &Test, run_id: &str) -> Background {
    world
        .env_for(t.args(["--output", "plain", "resume", run_id]))
        .spawn()
}

/// The only run's id.
fn run_id(t: &Test) -> String {
    t.only_run()["id"].as_str().expect("a run id").to_owned()
}

/// What moto holds after the run: one COMPLETED job run (the submit step's), the one
/// bucket, the job role and not the scratch role, one virtual cluster.
fn assert_one_of_everything(sdk: &Sdk, status: &Value) {
    let vcs = sdk.running_virtual_clusters();
    assert_eq!(
        vcs,
        [(
            "nightly-batch-emr-cluster".to_owned(),
            "nightly-batch".to_owned(),
            CLUSTER.to_owned()
        )],
        "virtual clusters"
    );
    let vc = sdk.virtual_cluster_id("nightly-batch-emr-cluster");
    let runs = sdk.job_runs(&vc);
    let described: Vec<String> = runs
        .iter()
        .map(|r| format!("{:?} {:?} {:?}", r.id(), r.name(), r.state()))
        .collect();
    assert_eq!(
        runs.len(),
        1,
        "one job run for the submit step: {described:#?}"
    );
    assert_eq!(
        runs[0].id(),
        step(status, "job")["outputs"]["job_id"].as_str(),
        "the step's job is moto's job"
    );
    assert_eq!(
        runs[0].state(),
        Some(&aws_sdk_emrcontainers::types::JobRunState::Completed)
    );
    assert_eq!(sdk.buckets(), [BUCKET], "buckets");
    assert_eq!(sdk.role_names(), [ROLE], "roles (the scratch role deleted)");
}

/// Every attempt record of `key` carries one idempotency key: the step retried (or
/// resumed) after its call may have reached the service asked for the same thing
/// again instead of something new.
fn assert_one_key(t: &Test, run_id: &str, key: &str) {
    let records = t.attempt_records(run_id);
    let keys: Vec<(u32, &str)> = records
        .iter()
        .filter(|r| r.step_key == key)
        .map(|r| (r.attempt, r.idempotency_key.as_str()))
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0].1 == w[1].1),
        "step `{key}` changed its idempotency key between attempts: {keys:?}"
    );
}

/// The same fault on the three calls, `times` times each, with the steps retried: the
/// run succeeds with one of everything, and each faulted step took more than one
/// attempt (`times` is chosen so that the fault outlasts the SDK's own three attempts,
/// or the step's timeout ends the attempt).
fn faulted_run_with_retries(fault: Fault, times: u32) -> (Output, Value) {
    let (world, sdk, t) = setup(RETRIED);
    let rules = [Op::CREATE_BUCKET, Op::START_JOB_RUN, Op::DELETE_ROLE]
        .map(|op| (op, world.inject(op, fault, times)));
    let out = run(&world, &t).wait().success();
    for (op, rule) in rules {
        assert_eq!(
            world.fault_hits(rule),
            u64::from(times),
            "{op:?} did not meet {fault:?} {times} time(s); the calls:\n{}",
            world.proxied_requests()
        );
    }
    let id = run_id(&t);
    let status = t.status(&id);
    assert_eq!(status["status"], "succeeded", "{status:#}");
    assert_one_of_everything(&sdk, &status);
    for key in ["bucket", "job", "drop_scratch"] {
        assert!(
            step(&status, key)["attempts"].as_u64() > Some(1),
            "`{key}` was not retried, so the fault was not tested: {status:#}"
        );
        assert_one_key(&t, &id, key);
    }
    (out, status)
}

/// The answer comes after the step's timeout, though moto acted: the bucket is
/// adopted, the job run found again by its key, the role found gone.
#[test]
fn a_late_answer_after_moto_acted_times_out_and_the_retry_finds_what_it_did() {
    let (_, status) = faulted_run_with_retries(Fault::LateAnswer(LATE), 1);
    assert_eq!(step(&status, "bucket")["outputs"]["created"], false);
    assert_eq!(step(&status, "job")["outputs"]["reattached"], true);
    assert_eq!(step(&status, "drop_scratch")["outputs"]["deleted"], false);
}

/// 500 after moto acted, on each of the SDK's three attempts: the step fails its
/// attempt and its retry finds what the first call did.
#[test]
fn server_errors_after_moto_acted_do_not_double_anything() {
    let (_, status) = faulted_run_with_retries(Fault::ServerErrorAfter, 3);
    assert_eq!(step(&status, "job")["outputs"]["reattached"], true);
}

/// 500 before the call reaches moto, on each of the SDK's three attempts: nothing
/// happened, and the retry does it once.
#[test]
fn server_errors_before_moto_acted_do_not_double_anything() {
    let (_, status) = faulted_run_with_retries(Fault::ServerErrorBefore, 3);
    assert_eq!(step(&status, "bucket")["outputs"]["created"], true);
    assert_eq!(step(&status, "job")["outputs"]["reattached"], false);
    assert_eq!(step(&status, "drop_scratch")["outputs"]["deleted"], true);
}

/// Throttled past the SDK's three attempts: the step's retry gets through, once.
#[test]
fn throttling_past_the_sdk_retries_does_not_double_anything() {
    let (_, status) = faulted_run_with_retries(Fault::Throttled, 4);
    assert_eq!(step(&status, "job")["outputs"]["reattached"], false);
}

/// The connection closes in the middle of moto's answer, three times (whether the
/// SDK retries a cut answer itself or not, the step's attempt fails at least once).
#[test]
fn a_connection_lost_mid_answer_does_not_double_anything() {
    let (_, status) = faulted_run_with_retries(Fault::ConnectionLost, 3);
    assert_eq!(step(&status, "job")["outputs"]["reattached"], true);
}

/// No retry: each late answer fails the run (exit 1), and `resume` of the failed run
/// retries the failed step, which finds what the timed-out call did. Three faults,
/// three failed nights, one of everything.
#[test]
fn resume_of_a_run_failed_by_a_late_answer_finds_what_the_call_did() {
    let (world, sdk, t) = setup(ONE_ATTEMPT);
    for op in [Op::CREATE_BUCKET, Op::START_JOB_RUN, Op::DELETE_ROLE] {
        world.inject(op, Fault::LateAnswer(LATE), 1);
    }
    let mut failed = Vec::new();
    let mut out = run(&world, &t).wait();
    let id = run_id(&t);
    while out.code == Some(1) && failed.len() < 3 {
        failed.push(
            step_failed_in(&t.status(&id))
                .unwrap_or_else(|| panic!("exit 1 without a failed step:\n{}", out.stderr)),
        );
        out = resume(&world, &t, &id).wait();
    }
    let out = out.success();
    assert_eq!(failed, ["bucket", "job", "drop_scratch"], "{}", out.stdout);
    let status = t.status(&id);
    assert_one_of_everything(&sdk, &status);
    assert_eq!(step(&status, "job")["outputs"]["reattached"], true);
    assert_one_key(&t, &id, "job");
}

/// The step of a run's `status --json` that failed.
fn step_failed_in(status: &Value) -> Option<String> {
    status["steps"]
        .as_array()?
        .iter()
        .find(|s| s["status"] == "failed")
        .and_then(|s| s["key"].as_str())
        .map(str::to_owned)
}

/// `kill -9` while each of the three calls hangs after moto acted, then `resume`:
/// each resumed step re-enters with its key and finds what its call did.
#[test]
fn kill_9_while_a_call_hangs_after_moto_acted_then_resume_finds_what_it_did() {
    let (world, sdk, t) = setup(PLAIN);
    let hung = [
        (Op::CREATE_BUCKET, "bucket"),
        (Op::START_JOB_RUN, "job"),
        (Op::DELETE_ROLE, "drop_scratch"),
    ]
    .map(|(op, key)| {
        (
            world.inject(op, Fault::LateAnswer(PATIENCE_FOR_A_KILL), 1),
            key,
        )
    });
    let mut bg = run(&world, &t);
    let mut run_id = None;
    for (rule, key) in hung {
        // moto acts, and then the proxy holds its answer.
        bg.wait_until(&format!("the call of `{key}` reached moto"), || {
            world.fault_hits(rule) == 1
                && match key {
                    "bucket" => sdk.buckets() == [BUCKET],
                    "job" => {
                        let vc = sdk.virtual_cluster_id("nightly-batch-emr-cluster");
                        sdk.job_runs(&vc).len() == 1
                    }
                    _ => sdk.role_names() == [ROLE],
                }
        });
        bg.kill9();
        let id = run_id.get_or_insert_with(|| run_id_of_killed(&t)).clone();
        assert_eq!(
            step(&t.status(&id), key)["status"],
            "running",
            "`{key}` was in flight at the kill"
        );
        bg = resume(&world, &t, &id);
    }
    bg.wait().success();
    let id = run_id.expect("a run");
    let status = t.status(&id);
    assert_eq!(status["status"], "succeeded");
    assert_eq!(status["resumes"], 3);
    assert_one_of_everything(&sdk, &status);
    assert_eq!(step(&status, "bucket")["outputs"]["created"], false);
    assert_eq!(step(&status, "job")["outputs"]["reattached"], true);
    assert_eq!(step(&status, "drop_scratch")["outputs"]["deleted"], false);
    for key in ["bucket", "job", "drop_scratch"] {
        assert_eq!(
            step(&status, key)["attempts"],
            1,
            "`{key}` was re-entered, not retried"
        );
    }
}

/// Long enough that a held call is still hanging when the test kills the run.
const PATIENCE_FOR_A_KILL: Duration = Duration::from_secs(60);

fn run_id_of_killed(t: &Test) -> String {
    let run = t.only_run();
    assert_eq!(run["status"], "running", "nobody could mark a killed run");
    run["id"].as_str().expect("a run id").to_owned()
}
