//! `--serve ADDR` on `run` and `resume`: the run's simulated world served over the
//! Kubernetes API (`runbook_sim_serve`) while the run goes on, and after it ends until
//! Ctrl-C, so the presenter can point `kubectl get pods -w` at the demo.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use runbook_backend::TargetKind;
use runbook_backend_sim::SimTarget;
use runbook_sim_serve::Served;

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
    let listener = TcpListener::bind(addr)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| Error::BadArgument(format!("--serve {addr}: cannot listen there: {e}")))?;
    Ok(Some(listener))
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
    kubeconfig: &Path,
) -> std::io::Result<Served> {
    let served = runbook_sim_serve::serve(listener, world).await?;
    if let Some(dir) = kubeconfig.parent() {
        std::fs::create_dir_all(dir)?;
    }
    runbook_sim_serve::kubeconfig::write(kubeconfig, served.addr)?;
    eprintln!(
        "serving the simulated world's Kubernetes API on http://{}\n  export KUBECONFIG={}\n  kubectl get pods -A -w",
        served.addr,
        kubeconfig.display()
    );
    Ok(served)
}

/// Keeps serving after the run has ended, until Ctrl-C (or SIGTERM).
pub(super) async fn until_stopped(served: &Served) {
    eprintln!(
        "the run has ended; still serving on http://{} until Ctrl-C",
        served.addr
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
    eprintln!("stopped serving");
}
