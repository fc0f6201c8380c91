//! The kubeconfig a served world prints: kubectl and kube-rs pointed at it with no
//! other flags.

use std::net::SocketAddr;
use std::path::Path;

/// The context (and cluster and user) name in the kubeconfig.
pub const CONTEXT: &str = "runbook-sim";

/// A kubeconfig for the world served at `addr`: plain HTTP on loopback, no
/// credentials (the server is the presenter's own process).
pub fn kubeconfig(addr: SocketAddr) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {CONTEXT}
  cluster:
    server: http://{addr}
contexts:
- name: {CONTEXT}
  context:
    cluster: {CONTEXT}
    user: {CONTEXT}
current-context: {CONTEXT}
users:
- name: {CONTEXT}
  user: {{}}
"
    )
}

/// Writes the kubeconfig for `addr` to `path`.
pub fn write(path: &Path, addr: SocketAddr) -> std::io::Result<()> {
    std::fs::write(path, kubeconfig(addr))
}
