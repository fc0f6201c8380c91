//! Authenticating kube-rs requests to EKS with a token that is renewed in the
//! background. A kube-rs `Client` keeps its service stack for its whole life and the
//! pod watch of the observer runs for the whole run, far longer than the 15 minutes
//! an EKS token is valid; so the stack reads the current token for every request, and
//! a task makes a new one every [`TOKEN_REFRESH`].

use std::sync::{Arc, RwLock, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use http::{HeaderValue, Request, header::AUTHORIZATION};
use tower::{Layer, Service};

use super::eks_token::{TOKEN_REFRESH, eks_token};
use crate::error::ActionError;

/// Where EKS tokens come from: the cluster they are for and the AWS identity.
#[derive(Clone)]
pub(super) struct TokenSource {
    pub(super) cluster: String,
    pub(super) region: String,
    pub(super) credentials: SharedCredentialsProvider,
}

impl TokenSource {
    /// A new token, as an `Authorization` header value.
    pub(super) async fn header(&self) -> Result<HeaderValue, ActionError> {
        let fail = |message: String| ActionError::Service {
            service: "Kubernetes",
            operation: "authenticate",
            resource: self.cluster.clone(),
            code: "Unauthorized".into(),
            message,
        };
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| fail(format!("no AWS credentials for the EKS token: {e}")))?;
        let token = eks_token(&self.cluster, &self.region, &credentials, SystemTime::now())
            .map_err(fail)?;
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|e| fail(format!("the EKS token is not a valid header: {e}")))?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Makes the first token and starts renewing it; the renewal stops when the
    /// returned layer (and the client built with it) is dropped.
    pub(super) async fn start(self) -> Result<BearerLayer, ActionError> {
        let current = Arc::new(RwLock::new(self.header().await?));
        let weak = Arc::downgrade(&current);
        tokio::spawn(renew(self, weak));
        Ok(BearerLayer { current })
    }
}

/// Renews the token every [`TOKEN_REFRESH`]; after a failure (credentials briefly
/// unavailable) it tries again sooner, while the old token is still valid.
async fn renew(source: TokenSource, current: Weak<RwLock<HeaderValue>>) {
    let mut wait = TOKEN_REFRESH;
    loop {
        tokio::time::sleep(wait).await;
        let Some(slot) = current.upgrade() else {
            return;
        };
        match source.header().await {
            Ok(value) => {
                *slot
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = value;
                wait = TOKEN_REFRESH;
            }
            Err(_) => wait = Duration::from_secs(30),
        }
    }
}

/// Sets `Authorization: Bearer <current EKS token>` on every request.
#[derive(Clone)]
pub(super) struct BearerLayer {
    current: Arc<RwLock<HeaderValue>>,
}

impl<S> Layer<S> for BearerLayer {
    type Service = BearerService<S>;

    fn layer(&self, inner: S) -> BearerService<S> {
        BearerService {
            inner,
            current: Arc::clone(&self.current),
        }
    }
}

/// The service [`BearerLayer`] makes.
pub(super) struct BearerService<S> {
    inner: S,
    current: Arc<RwLock<HeaderValue>>,
}

impl<S, B> Service<Request<B>> for BearerService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let value = self
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        request.headers_mut().insert(AUTHORIZATION, value);
        self.inner.call(request)
    }
}
