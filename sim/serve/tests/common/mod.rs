//! A served world for the tests: the demo's platform (cluster, node, virtual clusters,
//! priority classes, pod templates) on loopback.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use runbook_backend::VirtualClock;
use runbook_backend_sim::SimTarget;
use runbook_sim::demo::{self, DemoOptions};

pub(crate) struct ServedDemo {
    pub(crate) target: Arc<SimTarget>,
    pub(crate) served: runbook_sim_serve::Served,
    pub(crate) setup: demo::Demo,
}

/// The demo's platform, served; `low_job` also starts the low-priority job and lets
/// it run for the minute before the high job comes.
pub(crate) async fn served_demo(low_job: bool) -> ServedDemo {
    let target = SimTarget::new(7, VirtualClock::new(0, None));
    let setup = {
        let mut world = target.world();
        let setup = demo::setup(&mut world, &DemoOptions::default()).expect("the demo's platform");
        if low_job {
            let account = world.params().account_id.clone();
            world
                .submit_job_run(setup.low_priority_job(&account))
                .expect("the low job");
            world.advance_by(demo::HIGH_JOB_DELAY_MS);
        }
        setup
    };
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("a port");
    listener.set_nonblocking(true).expect("non-blocking");
    let served = runbook_sim_serve::serve(listener, Arc::clone(&target), None)
        .await
        .expect("served");
    ServedDemo {
        target,
        served,
        setup,
    }
}
