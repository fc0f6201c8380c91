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
use runbook_backend::ActionError;

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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use aws_credential_types::Credentials;
    use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use http::{Request, Response};
    use tower::{Layer, Service};

    use super::{TOKEN_REFRESH, TokenSource};

    /// Credentials that change on every call (as assumed-role credentials do), so a
    /// token shows which call made it.
    #[derive(Debug, Default)]
    struct Rotating(AtomicU32);

    impl ProvideCredentials for Rotating {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            future::ProvideCredentials::ready(Ok(Credentials::new(
                format!("AKID{n}"),
                "secret",
                None,
                None,
                "test",
            )))
        }
    }

    /// The access key id inside the bearer token of a request.
    fn access_key(request: &Request<()>) -> String {
        let header = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .expect("authorization")
            .to_str()
            .expect("ascii");
        let token = header
            .strip_prefix("Bearer k8s-aws-v1.")
            .expect("an EKS bearer token");
        let url =
            String::from_utf8(URL_SAFE_NO_PAD.decode(token).expect("base64url")).expect("utf-8");
        let credential = url
            .split('&')
            .find_map(|kv| kv.strip_prefix("X-Amz-Credential="))
            .expect("credential");
        credential
            .split("%2F")
            .next()
            .unwrap_or_default()
            .to_string()
    }

    #[tokio::test(start_paused = true)]
    async fn every_request_carries_the_current_token_and_it_is_renewed_in_time() {
        let layer = TokenSource {
            cluster: "demo".into(),
            region: "us-east-2".into(),
            credentials: SharedCredentialsProvider::new(Rotating::default()),
        }
        .start()
        .await
        .expect("first token");
        // Let the renewal task start its timer.
        tokio::task::yield_now().await;
        let (mock, mut handle) = tower_test::mock::pair::<Request<()>, Response<()>>();
        let mut service = layer.layer(mock);
        let mut send = async |service: &mut super::BearerService<_>| {
            std::future::poll_fn(|cx| service.poll_ready(cx))
                .await
                .expect("ready");
            drop(service.call(Request::new(())));
            let (request, _respond) = handle.next_request().await.expect("request");
            access_key(&request)
        };
        assert_eq!(send(&mut service).await, "AKID0");
        tokio::time::advance(TOKEN_REFRESH - Duration::from_secs(1)).await;
        assert_eq!(send(&mut service).await, "AKID0");
        // Well before EKS's 15 minutes run out, requests carry a new token.
        tokio::time::advance(Duration::from_secs(2)).await;
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(TOKEN_REFRESH < Duration::from_secs(14 * 60));
        assert_eq!(send(&mut service).await, "AKID1");
    }
}
