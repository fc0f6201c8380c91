//! Response bodies: a whole JSON document, a stream of watch events, or an answer
//! sent in chunks as it is written.

use std::convert::Infallible;
use std::io::{self, Write};
use std::task::{Context, Poll};

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
    let response = of_chunks(content_type, move |cx| rx.poll_recv(cx));
    (tx, response)
}

/// A response written by a blocking writer (an answer rendered on a thread of its
/// own): what is written goes out in chunks of [`CHUNK`] bytes as they fill, while the
/// rest is still being written. The writer never waits for the client, so that what it
/// holds (the world's lock) is not held longer for a slow one; what the client has not
/// read yet waits in memory. Dropping the writer ends the response.
pub(crate) fn written(content_type: &str) -> (Chunks, Response<Body>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    let response = of_chunks(content_type, move |cx| rx.poll_recv(cx));
    let chunks = Chunks {
        tx,
        chunk: Vec::with_capacity(CHUNK),
    };
    (chunks, response)
}

fn of_chunks(
    content_type: &str,
    mut next: impl FnMut(&mut Context<'_>) -> Poll<Option<Bytes>> + Send + Sync + 'static,
) -> Response<Body> {
    let stream = futures::stream::poll_fn(move |cx| {
        next(cx).map(|chunk| chunk.map(|bytes| Ok::<_, Infallible>(Frame::data(bytes))))
    });
    let mut response = Response::new(StreamBody::new(stream).boxed());
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

/// How much of a written answer goes out at a time.
pub(crate) const CHUNK: usize = 256 * 1024;

/// The writer of a [`written`] response.
pub(crate) struct Chunks {
    tx: mpsc::UnboundedSender<Bytes>,
    chunk: Vec<u8>,
}

impl Write for Chunks {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.chunk.extend_from_slice(bytes);
        if self.chunk.len() >= CHUNK {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    /// Sends what is written so far; fails once the client has gone.
    fn flush(&mut self) -> io::Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
        self.tx
            .send(Bytes::from(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client has gone"))
    }
}

impl Drop for Chunks {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}
