//! `--serve ADDR` on `run` and `resume`: the run's simulated world served over the
//! Kubernetes API (`runbook_sim_serve`) while the run goes on, and after it ends until
//! Ctrl-C, so the presenter can point `kubectl get pods -w` at the demo.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::time::Duration;

use runbook_backend::{Clock, TargetKind};
use runbook_backend_sim::SimTarget;
use runbook_sim_serve::{Account, Served};

use super::Global;
use crate::error::Error;

/// Takes the port before anything is written: a port in use, or `--serve` on the aws
/// target, stops the command with exit 2 and no run behind.
pub(super) fn bind(
    addr: Option<SocketAddr>,
    target: TargetKind,
) -> Result<Option<TcpListener>, Error> {
    let Some(addr) = addr else { return Ok(None) };
    if target == TargetKind::Aws {
        return Err(Error::BadArgument(
            "--serve serves the simulated world; on the aws target point kubectl at the EKS cluster itself".into(),
        ));
    }
    listen(addr).map(Some)
}

/// Takes the port `addr` (exit 2 if it cannot be had).
pub(super) fn listen(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| Error::BadArgument(format!("cannot serve on {addr}: {e}")))
}

/// Where a served run's kubeconfig goes: beside the state DB, named after the run.
pub(super) fn kubeconfig_path(global: &Global, run_id: &str) -> PathBuf {
    let state = super::state_path(global);
    let dir = state
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    // Absolute, so the printed `export KUBECONFIG=...` works from any directory.
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    dir.join("served").join(format!("{run_id}.kubeconfig"))
}

/// Serves `world` on `listener`, writes the kubeconfig and tells the presenter (on
/// stderr, which a run's `--output json` leaves alone) how to point kubectl at it.
pub(super) async fn start(
    listener: TcpListener,
    world: Arc<SimTarget>,
    account: Option<Arc<Account>>,
    kubeconfig: &Path,
) -> std::io::Result<Served> {
    let served = runbook_sim_serve::serve(listener, world, account).await?;
    if let Some(dir) = kubeconfig.parent() {
        std::fs::create_dir_all(dir)?;
    }
    runbook_sim_serve::kubeconfig::write(kubeconfig, served.addr)?;
    let url = format!("http://{}", served.addr);
    eprintln!(
        "serving the simulated world (Kubernetes, EKS and EMR on EKS APIs) on {url}\n  export KUBECONFIG={}\n  export AWS_ENDPOINT_URL_EKS={url} AWS_ENDPOINT_URL_EMR_CONTAINERS={url}\n  kubectl get pods -A -w\n  aws emr-containers list-virtual-clusters",
        kubeconfig.display()
    );
    Ok(served)
}

/// Keeps serving until Ctrl-C (or SIGTERM), saying so after `why` ("the run has
/// ended"). Virtual time goes on at `speed` virtual seconds per wall second (real time
/// when not given), so a job started through the served EMR API runs, and kubectl
/// watching sees it.
pub(super) async fn until_stopped(served: &Served, why: &str, clock: &Clock, speed: Option<f64>) {
    let speed = speed.unwrap_or(1.0);
    eprintln!(
        "{why}; still serving on http://{} until Ctrl-C (virtual time goes on at {speed}x)",
        served.addr
    );
    clock.set_speed(Some(speed));
    let keeper = clock.enter();
    let keep_time = async {
        loop {
            clock.sleep(&keeper, Duration::from_secs(1)).await;
        }
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminated = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminated => {}
        () = keep_time => {}
    }
    eprintln!("stopped serving");
}
