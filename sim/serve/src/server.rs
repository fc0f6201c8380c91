//! The HTTP server: one loopback port, every connection served on the run's runtime.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use runbook_backend_sim::SimTarget;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::account::Account;
use crate::body::Body;
use crate::{eks, emr, kube};

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
/// runtime, which serves the connections. With an `account`, the served EMR reads
/// execution roles and pod templates from that account's IAM and S3.
pub async fn serve(
    listener: std::net::TcpListener,
    target: Arc<SimTarget>,
    account: Option<Arc<Account>>,
) -> std::io::Result<Served> {
    let listener = TcpListener::from_std(listener)?;
    let addr = listener.local_addr()?;
    let kept = Arc::new(kube::Annotations::default());
    let accepting = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            // Answers go out as they are written: with Nagle's algorithm a response
            // written in parts waited for the client's delayed ACK (40 ms or more per
            // page of a paged list).
            let _ = stream.set_nodelay(true);
            let target = Arc::clone(&target);
            let kept = Arc::clone(&kept);
            let account = account.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let target = Arc::clone(&target);
                    let kept = Arc::clone(&kept);
                    let account = account.clone();
                    async move {
                        Ok::<_, Infallible>(
                            answer(&target, &kept, account.as_deref(), addr, request).await,
                        )
                    }
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

/// Which API a request is for. EMR on EKS is under `/virtualclusters`; EKS under
/// `/clusters`, except the Kubernetes API of one cluster at
/// `/clusters/NAME/{api,apis,version,openapi}`; everything else is the Kubernetes API.
#[derive(Debug, PartialEq, Eq)]
enum Api {
    Emr,
    Eks,
    Kube,
}

fn api_of(path: &str) -> Api {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["virtualclusters", ..] => Api::Emr,
        ["clusters", _, "api" | "apis" | "version" | "openapi", ..] => Api::Kube,
        ["clusters", ..] => Api::Eks,
        _ => Api::Kube,
    }
}

async fn answer(
    target: &Arc<SimTarget>,
    kept: &kube::Annotations,
    account: Option<&Account>,
    addr: SocketAddr,
    request: Request<Incoming>,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    match api_of(path) {
        Api::Emr => {
            let bytes = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            emr::handle(target, account, &parts.method, path, &bytes).await
        }
        Api::Eks => {
            let bytes = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            eks::handle(target, addr, &parts.method, path, &bytes)
        }
        Api::Kube => {
            let accept = parts
                .headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json");
            let request = kube::Request {
                method: &parts.method,
                path,
                query: parts.uri.query(),
                accept,
            };
            if parts.method == http::Method::GET {
                kube::handle(target, kept, &request)
            } else {
                let content_type = parts
                    .headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/json");
                let bytes = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                kube::handle_write(target, kept, &request, content_type, &bytes).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_go_to_their_api() {
        assert_eq!(api_of("/virtualclusters/abc/jobruns"), Api::Emr);
        assert_eq!(api_of("/clusters"), Api::Eks);
        assert_eq!(api_of("/clusters/eks-emr-cluster"), Api::Eks);
        assert_eq!(api_of("/clusters/eks-emr-cluster/node-groups/ng"), Api::Eks);
        assert_eq!(api_of("/clusters/eks-emr-cluster/api/v1/pods"), Api::Kube);
        assert_eq!(api_of("/clusters/eks-emr-cluster/version"), Api::Kube);
        assert_eq!(api_of("/api/v1/namespaces"), Api::Kube);
    }
}
