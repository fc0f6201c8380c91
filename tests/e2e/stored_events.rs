//! A state DB written before the typed event model still loads: `status` and `report`
//! read the event rows the simulator and the `aws` observer stored then
//! (`fixtures/pre_typed_events.sql`), every one of them, and the report tells the same
//! story (the preemption, the replacement, the nodes by capacity type).

use crate::harness::{Test, step};

const SIM_RUN: &str = "20261204-184127-0e8f0a";
const AWS_RUN: &str = "20260101-000000-a1b2c3";

/// The test's state DB, made from the fixture's SQL as that version stored it.
fn old_state_db() -> Test {
    let t = Test::new();
    let db = rusqlite::Connection::open(t.state_db()).expect("create the state DB");
    db.execute_batch(include_str!("fixtures/pre_typed_events.sql"))
        .expect("load the fixture");
    t
}

fn report(t: &Test, run: &str) -> String {
    let file = format!("{run}.html");
    t.args(["report", run, "-o", &file]).run().success();
    t.read(&file)
}

#[test]
fn status_reads_runs_stored_before_the_typed_events() {
    let t = old_state_db();
    assert_eq!(t.runs().len(), 2);
    let sim = t.status(SIM_RUN);
    assert_eq!(sim["status"], "succeeded");
    assert_eq!(
        step(&sim, "low_job")["outputs"]["job_id"],
        "00000003j2f4no45ron"
    );
    assert_eq!(t.status(AWS_RUN)["status"], "succeeded");
}

#[test]
fn the_report_of_a_sim_run_stored_before_the_typed_events_shows_its_preemption() {
    let t = old_state_db();
    let html = report(&t, SIM_RUN);
    assert!(
        html.contains("from the state DB (104 events of the world read)."),
        "every world event read, none skipped"
    );
    assert!(html.contains(
        r#"<g class="mark preempt" data-pod="monthly-batch/monthly-batch-low-priority-job-ff6fc4f030fb8645-exec-2" data-preemptor="intra-day-batch/intra-day-batch-high-priority-9aa96d3dd287378d-exec-2">"#
    ));
    assert!(html.contains(
        "executor #2 of monthly-batch-low-priority-job preempted on ip-192-168-87-33.us-east-2.compute.internal by intra-day-batch-high-priority-9aa96d3dd287378d-exec-2 (priority 400 over 100); its driver kept running"
    ));
    assert!(html.contains(r#"data-replaces="2">"#));
    assert!(html.contains(
        r#"<li class="nodes">Nodes: 1 at peak, 1 at the end; 1 node(s) in all (1 × c5.2xlarge on-demand), 0 removed.</li>"#
    ));
    assert!(html.contains("job monthly-batch-low-priority-job COMPLETED"));
}

#[test]
fn the_report_of_an_aws_run_stored_before_the_typed_events_shows_its_preemption() {
    let t = old_state_db();
    let html = report(&t, AWS_RUN);
    assert!(
        html.contains("from the state DB (20 events of the world read)."),
        "every world event read, none skipped"
    );
    assert!(html.contains(
        r#"<g class="mark preempt" data-pod="spark/job-a-exec-3" data-preemptor="spark/job-b-driver">"#
    ));
    assert!(html.contains(
        "executor #3 of job-a preempted on n1 by job-b-driver (priority 1000 over 10); its driver kept running"
    ));
    assert!(
        html.contains(
            r#"<g class="mark replace" data-pod="spark/job-a-exec-4" data-replaces="3">"#
        )
    );
    // EKS's `ON_DEMAND` and `SPOT` as the aws observer stored them.
    assert!(html.contains(
        "Nodes: 2 at peak, 1 at the end; 2 node(s) in all (1 × c5.2xlarge on-demand, 1 × c5.2xlarge spot), 1 removed."
    ));
    assert!(html.contains("node n2 (c5.2xlarge, spot) added by provisioner spark"));
}
