//! The HTTP server: one loopback port, every connection served on the run's runtime.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use runbook_backend_sim::SimTarget;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::body::Body;
use crate::kube;

/// A world being served; serving stops when this is dropped (open watches end with the
/// process).
pub struct Served {
    /// Where it is served.
    pub addr: SocketAddr,
    accepting: JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// Serves `target`'s world on `listener` (bound by the caller, so that a port in use
/// is found before anything starts; non-blocking). Must be called within a tokio
/// runtime, which serves the connections.
pub async fn serve(
    listener: std::net::TcpListener,
    target: Arc<SimTarget>,
) -> std::io::Result<Served> {
    let listener = TcpListener::from_std(listener)?;
    let addr = listener.local_addr()?;
    let accepting = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let target = Arc::clone(&target);
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let response = answer(&target, &request);
                    async move { Ok::<_, Infallible>(response) }
                });
                // A client that goes away mid-answer is no error of the server's.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(Served { addr, accepting })
}

fn answer(target: &Arc<SimTarget>, request: &Request<Incoming>) -> Response<Body> {
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    kube::handle(
        target,
        &kube::Request {
            method: request.method(),
            path: request.uri().path(),
            query: request.uri().query(),
            accept,
        },
    )
}
