use runbook_sim::{SimParams, World, demo};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("one");
    let mut w = World::new(1, SimParams::default());
    let mut opts = demo::DemoOptions::default();
    if mode == "two" {
        opts.nodes = 2;
    }
    if mode == "auto" {
        opts.autoscaling = true;
    }
    if mode == "ci" {
        opts.container_insights = true;
    }
    let d = demo::setup(&mut w, &opts).expect("setup");
    let start_idx = w.events().len();
    let acct = w.params().account_id.clone();
    let t0 = w.now();
    w.submit_job_run(d.low_priority_job(&acct)).expect("low");
    if mode != "auto" {
        w.advance_to(t0 + demo::HIGH_JOB_DELAY_MS).expect("adv");
    }
    w.submit_job_run(d.high_priority_job(&acct)).expect("high");
    w.run_until_idle();
    for e in &w.events()[start_idx..] {
        println!("{}", e);
    }
}
