//! `runbook sim serve`: a stored simulated world served over the Kubernetes API, to
//! look at with kubectl after the fact: a failed or interrupted run's world as it
//! last stood, or a named world (`--world NAME`) between the runs that share it.
//!
//! What is served is a copy restored from the state DB: nothing served changes the
//! stored world, and virtual time stands still at the snapshot.
//!
//! With `--for-aws`, an empty simulated EKS and EMR on EKS in the AWS account the
//! SDK's configuration names, for `run --target aws`: its steps make the cluster
//! through the served EKS API, reach its Kubernetes API through the endpoint EKS
//! gives, and run jobs through the served EMR API, while IAM, S3 and CloudWatch Logs
//! stay the account's (moto, in tests). Nothing of it is stored.

use std::net::SocketAddr;

use runbook_backend::VirtualClock;
use runbook_backend_sim::SimTarget;
use runbook_sim_serve::Account;

use super::run::{SIM_SEED, current_thread_runtime};
use super::sim_world::SimWorld;
use super::{Global, open_store, serve};
use crate::error::Error;
use crate::exit::Exit;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The run whose world to serve [default: the latest run]
    #[arg(conflicts_with_all = ["world", "for_aws"])]
    pub run: Option<String>,
    /// Serve an empty simulated EKS and EMR on EKS for `run --target aws` instead, in
    /// the AWS account of the SDK's configuration (--profile, --region, AWS_*): the
    /// served EMR reads job roles and pod templates from that account's IAM and S3
    #[arg(long, conflicts_with = "world")]
    pub for_aws: bool,
    /// Serve the named simulated world (as the last run on it left it) instead
    #[arg(long, value_name = "NAME", value_parser = super::sim_world::parse_world_name)]
    pub world: Option<String>,
    /// Where to serve (port 0 picks one)
    #[arg(long, default_value = "127.0.0.1:8001", value_name = "ADDR")]
    pub addr: SocketAddr,
    /// Virtual seconds per wall second while serving (a job started through the
    /// served EMR API runs at this pace) [default: 1, real time]
    #[arg(long, value_name = "N", value_parser = super::sim_speed::parse_sim_speed)]
    pub sim_speed: Option<f64>,
}

pub(super) fn serve_stored(global: &Global, args: &ServeArgs) -> Result<Exit, Error> {
    if args.for_aws {
        return serve_for_aws(global, args);
    }
    let store = open_store(global)?;
    // The kubeconfig's file name, what is served in words, and the world.
    let (label, what, snapshot) = match &args.world {
        Some(name) => match SimWorld::named(&store, name)? {
            SimWorld::Shared(snapshot) | SimWorld::Own(snapshot) => (
                format!("world-{name}"),
                format!("world {name}, as the last run on it left it"),
                snapshot,
            ),
            SimWorld::Fresh => return Err(Error::NoSuchWorld(name.clone())),
        },
        None => {
            let run = match &args.run {
                Some(id) => store.run(id)?.ok_or_else(|| Error::NoSuchRun(id.clone()))?,
                None => store
                    .runs(&runbook_state::RunFilter {
                        limit: Some(1),
                        ..runbook_state::RunFilter::default()
                    })?
                    .pop()
                    .ok_or(Error::NoRunToShow)?,
            };
            let snapshot = store.load_snapshot(&run.id)?.ok_or_else(|| {
                Error::BadArgument(if run.status == runbook_state::RunStatus::Succeeded {
                    format!(
                        "run {} succeeded, and a succeeded run keeps no simulated world (the state DB stays small): serve a run while it runs with `run --serve ADDR` (it goes on serving after the run ends), or run in a named world (`run --world NAME`) and serve that with `runbook sim serve --world NAME`",
                        run.id
                    )
                } else {
                    format!(
                        "run {} has no simulated world to serve (it ran on aws, or stopped before its first step)",
                        run.id
                    )
                })
            })?;
            let what = format!("the world of run {}, as it was stored", run.id);
            (run.id, what, snapshot)
        }
    };
    let listener = serve::listen(args.addr)?;
    let kubeconfig = serve::kubeconfig_path(global, &label);
    current_thread_runtime()?.block_on(async {
        // Made inside the runtime: at a speed, the virtual clock paces its jumps on it.
        let clock = VirtualClock::new(u64::try_from(snapshot.at_ms).unwrap_or(0), None);
        let world = SimTarget::restore(&snapshot.data, std::sync::Arc::clone(&clock))
            .map_err(|e| Error::Backend(e.into()))?;
        let clock = runbook_backend::Clock::Virtual(clock);
        serve_until_stopped(listener, world, None, &kubeconfig, &what, clock, args).await
    })?;
    Ok(Exit::Ok)
}

/// `--for-aws`: a fresh world in the account and region of the AWS configuration,
/// with that account's IAM and S3 behind the served EMR.
fn serve_for_aws(global: &Global, args: &ServeArgs) -> Result<Exit, Error> {
    let listener = serve::listen(args.addr)?;
    let kubeconfig = serve::kubeconfig_path(global, "for-aws");
    current_thread_runtime()?.block_on(async {
        let settings = runbook_backend_aws::AwsSettings {
            profile: global.profile.clone(),
            region: global.region.clone(),
            ..runbook_backend_aws::AwsSettings::default()
        };
        let aws = runbook_backend_aws::connect(&settings)
            .await
            .map_err(|e| Error::Backend(e.into()))?;
        let clock = VirtualClock::new(0, None);
        let world = SimTarget::in_account(
            SIM_SEED,
            std::sync::Arc::clone(&clock),
            &aws.account_id,
            &aws.region,
        );
        let account = std::sync::Arc::new(Account {
            iam: aws.iam,
            s3: aws.s3,
        });
        let what = format!(
            "an empty simulated EKS and EMR on EKS in account {} ({}) for `run --target aws`",
            aws.account_id, aws.region
        );
        let clock = runbook_backend::Clock::Virtual(clock);
        serve_until_stopped(
            listener,
            world,
            Some(account),
            &kubeconfig,
            &what,
            clock,
            args,
        )
        .await
    })?;
    Ok(Exit::Ok)
}

async fn serve_until_stopped(
    listener: std::net::TcpListener,
    world: std::sync::Arc<SimTarget>,
    account: Option<std::sync::Arc<Account>>,
    kubeconfig: &std::path::Path,
    what: &str,
    clock: runbook_backend::Clock,
    args: &ServeArgs,
) -> Result<(), Error> {
    let served = serve::start(listener, world, account, kubeconfig)
        .await
        .map_err(|source| Error::Serve {
            path: kubeconfig.to_path_buf(),
            source,
        })?;
    serve::until_stopped(&served, what, &clock, args.sim_speed).await;
    Ok(())
}
