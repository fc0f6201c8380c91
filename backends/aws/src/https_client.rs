//! The one HTTPS client every AWS SDK client of the target uses.
//!
//! The SDK crates are built without their default features, which would compile a
//! second HTTP stack (hyper 0.14 with rustls 0.21) and a second crypto provider
//! (aws-lc-rs) beside the ones kube-rs uses. Without a default client the SDK needs
//! one handed to it: hyper 1 over rustls 0.23 with `ring`, the same TLS stack and
//! provider as the Kubernetes client. With a single provider compiled in, rustls picks
//! it by itself, so nothing has to install one process-wide.

use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// An HTTPS client (native root certificates, rustls with `ring`) for SDK configs.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}
