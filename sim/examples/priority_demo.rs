//! Prints the event log of the canned priority demo, as a presenter would narrate it.
//!
//! ```text
//! cargo run -p runbook-sim --example priority_demo            # one node: preemption
//! cargo run -p runbook-sim --example priority_demo -- two     # two nodes: none
//! cargo run -p runbook-sim --example priority_demo -- karpenter
//! ```

use runbook_sim::demo::{self, DemoOptions};
use runbook_sim::{SimParams, World};

fn main() -> Result<(), runbook_sim::SimError> {
    let variant = std::env::args().nth(1).unwrap_or_default();
    let options = DemoOptions {
        nodes: if variant == "two" { 2 } else { 1 },
        autoscaling: variant == "karpenter",
        container_insights: variant == "insights",
        ..DemoOptions::default()
    };
    let mut world = World::new(1, SimParams::default());
    let setup = demo::setup(&mut world, &options)?;
    let account = world.params().account_id.clone();
    let first_event = world.events().len() as u64;
    let start = world.now();
    world.submit_job_run(setup.low_priority_job(&account))?;
    // With Karpenter the walkthrough submits both jobs at once (row 21).
    if !options.autoscaling {
        world.advance_to(start + demo::HIGH_JOB_DELAY_MS)?;
    }
    world.submit_job_run(setup.high_priority_job(&account))?;
    world.run_until_idle();
    for event in world.events_since(first_event) {
        if !matches!(
            event.kind.type_name(),
            "TaskStarted" | "TaskFinished" | "PodCreated" | "PodStarted"
        ) {
            println!("{event}");
        }
    }
    Ok(())
}
