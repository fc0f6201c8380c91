//! Authenticating kube-rs requests to EKS with a token that is renewed when it is
//! due. A kube-rs `Client` keeps its service stack for its whole life and the pod
//! watch of the observer runs for the whole run, far longer than the 15 minutes an EKS
//! token is valid; so the stack checks the token before every request and signs a new
//! one when it is [`TOKEN_REFRESH`] old *by the wall clock* (EKS judges the token's
//! signing time by the wall clock, and a laptop that slept for an hour has a monotonic
//! clock that did not move), or when the API server answered 401 to it (credentials
//! rotated, clock skew).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::SystemTime;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use http::{HeaderValue, Request, Response, StatusCode, header::AUTHORIZATION};
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

/// The wall clock (a test's own clock in tests).
type WallClock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

impl TokenSource {
    /// A new token signed at `now`, as an `Authorization` header value.
    async fn header(&self, now: SystemTime) -> Result<HeaderValue, ActionError> {
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
        let token = eks_token(&self.cluster, &self.region, &credentials, now).map_err(fail)?;
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|e| fail(format!("the EKS token is not a valid header: {e}")))?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Makes the first token (so missing credentials fail the connection at once) and
    /// the layer that keeps it current.
    pub(super) async fn start(self) -> Result<BearerLayer, ActionError> {
        self.start_with_clock(Arc::new(SystemTime::now)).await
    }

    pub(super) async fn start_with_clock(self, now: WallClock) -> Result<BearerLayer, ActionError> {
        let signed_at = now();
        let header = self.header(signed_at).await?;
        Ok(BearerLayer {
            source: self,
            current: Arc::new(Mutex::new(Token {
                header,
                signed_at,
                dated: signed_at,
                rejected: false,
            })),
            now,
        })
    }
}

/// The token in use.
struct Token {
    header: HeaderValue,
    /// When it was signed, by the wall clock.
    signed_at: SystemTime,
    /// The date it carries: `signed_at`, or a second after the date of a token the
    /// API server refused in the same second.
    dated: SystemTime,
    /// The API server answered 401 to it.
    rejected: bool,
}

impl Token {
    /// Whether a new token is due: rejected, [`TOKEN_REFRESH`] old, or signed "later"
    /// than now (the wall clock was set back, and EKS would judge it by that clock).
    fn due(&self, now: SystemTime) -> bool {
        self.rejected
            || now
                .duration_since(self.signed_at)
                .map_or(true, |age| age >= TOKEN_REFRESH)
    }
}

/// Sets `Authorization: Bearer <current EKS token>` on every request.
#[derive(Clone)]
pub(super) struct BearerLayer {
    source: TokenSource,
    current: Arc<Mutex<Token>>,
    now: WallClock,
}

impl<S> Layer<S> for BearerLayer {
    type Service = BearerService<S>;

    fn layer(&self, inner: S) -> BearerService<S> {
        BearerService {
            inner,
            source: self.source.clone(),
            current: Arc::clone(&self.current),
            now: Arc::clone(&self.now),
            signing: None,
        }
    }
}

/// A token being signed: the wall clock's time, the token's date, and the token.
type Signing = Pin<
    Box<dyn Future<Output = (SystemTime, SystemTime, Result<HeaderValue, ActionError>)> + Send>,
>;

/// The service [`BearerLayer`] makes. A due token is renewed in `poll_ready`, before
/// the request that would carry it is accepted (kube-rs drives one service from its
/// buffer, so requests wait for the renewal instead of racing it).
pub(super) struct BearerService<S> {
    inner: S,
    source: TokenSource,
    current: Arc<Mutex<Token>>,
    now: WallClock,
    /// The renewal under way.
    signing: Option<Signing>,
}

impl<S> BearerService<S> {
    fn token(&self) -> std::sync::MutexGuard<'_, Token> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<S, B, RB> Service<Request<B>> for BearerService<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    RB: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<RB>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.signing.is_none() {
            let now = (self.now)();
            let sign_at = {
                let token = self.token();
                // SigV4 dates are whole seconds: a token refused in the second it was
                // signed would come out the same again, so its successor is dated a
                // second later at least (well within the skew EKS allows).
                token.due(now).then(|| match token.rejected {
                    true => now.max(token.dated + std::time::Duration::from_secs(1)),
                    false => now,
                })
            };
            if let Some(at) = sign_at {
                let source = self.source.clone();
                self.signing = Some(Box::pin(async move { (now, at, source.header(at).await) }));
            }
        }
        if let Some(signing) = self.signing.as_mut() {
            let (signed_at, dated, signed) = std::task::ready!(signing.as_mut().poll(cx));
            self.signing = None;
            // Without credentials just now, the old token goes out; its 401 is what
            // the caller sees, and the next request tries again.
            if let Ok(header) = signed {
                *self.token() = Token {
                    header,
                    signed_at,
                    dated,
                    rejected: false,
                };
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let value = self.token().header.clone();
        request.headers_mut().insert(AUTHORIZATION, value);
        let answer = self.inner.call(request);
        let current = Arc::clone(&self.current);
        Box::pin(async move {
            let response = answer.await?;
            if response.status() == StatusCode::UNAUTHORIZED {
                current
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .rejected = true;
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
    use std::time::{Duration, UNIX_EPOCH};

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

    /// The presigned STS URL inside the bearer token of a request.
    fn presigned_url(request: &Request<()>) -> String {
        let header = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .expect("authorization")
            .to_str()
            .expect("ascii");
        let token = header
            .strip_prefix("Bearer k8s-aws-v1.")
            .expect("an EKS bearer token");
        String::from_utf8(URL_SAFE_NO_PAD.decode(token).expect("base64url")).expect("utf-8")
    }

    /// A query parameter of a presigned URL.
    fn query(url: &str, name: &str) -> String {
        url.split(['?', '&'])
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {url}"))
            .to_string()
    }

    /// The access key id a presigned URL was signed with.
    fn access_key(url: &str) -> String {
        query(url, "X-Amz-Credential")
            .split("%2F")
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// A wall clock the test moves.
    fn test_clock() -> (Arc<AtomicU64>, super::WallClock) {
        let seconds = Arc::new(AtomicU64::new(1_800_000_000));
        let read = Arc::clone(&seconds);
        let clock: super::WallClock =
            Arc::new(move || UNIX_EPOCH + Duration::from_secs(read.load(Ordering::SeqCst)));
        (seconds, clock)
    }

    async fn layer(clock: super::WallClock) -> super::BearerLayer {
        TokenSource {
            cluster: "demo".into(),
            region: "us-east-2".into(),
            credentials: SharedCredentialsProvider::new(Rotating::default()),
        }
        .start_with_clock(clock)
        .await
        .expect("first token")
    }

    /// Sends one request through `service`, answers it with `status`, and returns the
    /// presigned URL of the token it carried.
    async fn send(
        service: &mut super::BearerService<tower_test::mock::Mock<Request<()>, Response<()>>>,
        handle: &mut tower_test::mock::Handle<Request<()>, Response<()>>,
        status: u16,
    ) -> String {
        std::future::poll_fn(|cx| service.poll_ready(cx))
            .await
            .expect("ready");
        let answer = service.call(Request::new(()));
        let (request, respond) = handle.next_request().await.expect("request");
        let mut response = Response::new(());
        *response.status_mut() = http::StatusCode::from_u16(status).expect("status");
        respond.send_response(response);
        answer.await.expect("answered");
        presigned_url(&request)
    }

    /// The token is renewed by its wall-clock age, before EKS's 15 minutes run out,
    /// even when no time passed for the process (a laptop that slept).
    #[tokio::test]
    async fn a_token_is_renewed_when_the_wall_clock_says_it_is_due() {
        let (seconds, clock) = test_clock();
        let (mock, mut handle) = tower_test::mock::pair::<Request<()>, Response<()>>();
        let mut service = layer(clock).await.layer(mock);
        assert_eq!(
            access_key(&send(&mut service, &mut handle, 200).await),
            "AKID0"
        );
        seconds.fetch_add(TOKEN_REFRESH.as_secs() - 1, Ordering::SeqCst);
        assert_eq!(
            access_key(&send(&mut service, &mut handle, 200).await),
            "AKID0"
        );
        seconds.fetch_add(2, Ordering::SeqCst);
        assert!(TOKEN_REFRESH < Duration::from_secs(14 * 60));
        assert_eq!(
            access_key(&send(&mut service, &mut handle, 200).await),
            "AKID1"
        );
        // A wall clock set back makes the token look signed in the future: renewed.
        seconds.fetch_sub(3600, Ordering::SeqCst);
        assert_eq!(
            access_key(&send(&mut service, &mut handle, 200).await),
            "AKID2"
        );
    }

    /// A 401 (credentials rotated, clock skew) makes the next request carry a new
    /// token, however young the old one is.
    #[tokio::test]
    async fn a_401_makes_the_next_request_carry_a_new_token() {
        let (_, clock) = test_clock();
        let (mock, mut handle) = tower_test::mock::pair::<Request<()>, Response<()>>();
        let mut service = layer(clock).await.layer(mock);
        assert_eq!(
            access_key(&send(&mut service, &mut handle, 200).await),
            "AKID0"
        );
        let refused = send(&mut service, &mut handle, 401).await;
        assert_eq!(access_key(&refused), "AKID0");
        let next = send(&mut service, &mut handle, 200).await;
        assert_eq!(access_key(&next), "AKID1");
        assert_eq!(
            access_key(&send(&mut service, &mut handle, 200).await),
            "AKID1"
        );
        // The wall clock did not move, yet the new token is dated a second later: with
        // the same credentials it would otherwise be the refused token again.
        assert_eq!(query(&refused, "X-Amz-Date"), "20270115T080000Z");
        assert_eq!(query(&next, "X-Amz-Date"), "20270115T080001Z");
    }
}
