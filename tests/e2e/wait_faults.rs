//! Waits on `--target aws` outlast transient errors: a read that is throttled (or
//! answered with a 5xx) past the SDK's own three attempts, while a step waits, is read
//! again after a pause instead of failing a wait that may last many minutes.

use crate::aws_faults::{Fault, Op};
use crate::aws_harness::AwsWorld;
use crate::fault_injection::platform_steps;
use crate::harness::{Test, gate, step};

/// A job submitted, then a gate (so the test can arm a fault for the wait alone: the
/// submission reads its job run back too), then the wait for it.
fn waiting() -> String {
    format!(
        r#"name: waiting
steps:
{}  - id: job
    action: submit-job
    with:
      virtual_cluster: "{{{{ steps.virtual_cluster.outputs.virtual_cluster_id }}}}"
      name: nightly
      role: "{{{{ steps.role.outputs.role_arn }}}}"
  - id: gate
    action: exec
    with:
      argv: [sh, -c, "echo gate >> started; {}"]
  - id: done
    action: wait-for-job
    with: {{ job: "{{{{ steps.job.outputs.job_id }}}}", timeout: 2m }}
"#,
        platform_steps("nightly-JobExecutionRole"),
        gate("go")
    )
}

/// DescribeJobRun throttled six times in a row (two calls' worth of the SDK's three
/// attempts) while `wait-for-job` waits: the step keeps waiting and the job's end is
/// seen, in one attempt.
#[test]
fn a_wait_outlasts_throttled_reads() {
    let world = AwsWorld::builder().fault_proxy().start();
    let t = Test::new().runbook("waiting.yaml", &waiting());
    let mut run = world.run_plain(&t, "waiting.yaml", &[]).spawn();
    run.wait_until("the gate is reached", || t.lines("started") == ["gate"]);
    let rule = world.inject(Op::DESCRIBE_JOB_RUN, Fault::Throttled, 6);
    t.touch("go");
    let out = run.wait();
    assert_eq!(
        world.fault_hits(rule),
        6,
        "the wait did not meet the throttling; the calls:\n{}",
        world.proxied_requests()
    );
    out.success();
    let id = t.only_run()["id"].as_str().expect("id").to_owned();
    let status = t.status(&id);
    assert_eq!(step(&status, "done")["status"], "succeeded", "{status:#}");
    assert_eq!(step(&status, "done")["attempts"], 1, "{status:#}");
    assert_eq!(step(&status, "done")["outputs"]["state"], "COMPLETED");
}
