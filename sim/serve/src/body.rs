//! Response bodies: a whole JSON document, or a stream of watch events.

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use tokio::sync::mpsc;

/// Every response's body.
pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// A JSON response.
pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    with_type(status, "application/json", value.to_string().into_bytes())
}

/// A response of `content_type`.
pub(crate) fn with_type(status: StatusCode, content_type: &str, bytes: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(bytes)).boxed());
    *response.status_mut() = status;
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

/// A streamed response: each chunk sent on the returned sender is written as it comes
/// (chunked transfer); dropping the sender ends the response.
pub(crate) fn streamed(content_type: &str) -> (mpsc::Sender<Bytes>, Response<Body>) {
    let (tx, mut rx) = mpsc::channel::<Bytes>(64);
    let stream = futures::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|chunk| chunk.map(|bytes| Ok::<_, Infallible>(Frame::data(bytes))))
    });
    let mut response = Response::new(StreamBody::new(stream).boxed());
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    (tx, response)
}
