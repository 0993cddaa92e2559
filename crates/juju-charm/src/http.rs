//! A tiny bounded HTTP/1.1 GET over TCP, for a workload's own endpoints inside the pod
//! (e.g. gluetun's control server on `localhost:8000`).
//!
//! One fresh connection per request (hyper's `client::conn::http1`, as the Pebble client
//! does over its Unix socket); the whole exchange (connect, send, headers, body) sits under
//! ONE deadline, and the body is read frame by frame and refused as soon as it passes
//! [`Limits::max_body`] (at once when its `Content-Length` announces more). Header values are
//! never logged nor put into errors (they may carry an API key).
//!
//! The same bounded read serves every HTTP answer the runtime takes in (Pebble's, the
//! Kubernetes API server's): a body is never buffered whole before its size is checked
//! (docs/adr/0031).

use std::time::Duration;

use http_body_util::{BodyExt as _, Empty};
use hyper::body::{Body, Bytes};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Bounds of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deadline of the whole exchange.
    pub timeout: Duration,
    /// Largest body accepted, in bytes.
    pub max_body: usize,
}

impl Default for Limits {
    /// 2 s and 64 KiB: a health check inside a hook.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(2),
            max_body: 64 * 1024,
        }
    }
}

/// A complete answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The whole body (at most [`Limits::max_body`] bytes).
    pub body: Vec<u8>,
}

/// Why a GET did not produce a [`Response`].
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The TCP connection could not be opened (refused, unreachable, bad address).
    #[error("cannot connect to {addr}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The exchange did not finish within the deadline.
    #[error("no complete answer from {addr} within {after:?}")]
    Timeout {
        /// `host:port`.
        addr: String,
        /// The deadline.
        after: Duration,
    },
    /// HTTP-level failure: handshake, dropped connection, malformed answer.
    #[error("HTTP exchange with {addr} failed")]
    Http {
        /// `host:port`.
        addr: String,
        /// hyper's error.
        #[source]
        source: hyper::Error,
    },
    /// The body was larger than allowed.
    #[error("answer from {addr} exceeds {max} bytes")]
    BodyTooLarge {
        /// `host:port`.
        addr: String,
        /// The limit.
        max: usize,
    },
    /// The request could not be built (a path or header name/value HTTP refuses).
    #[error("cannot build the request to {addr}: {reason}")]
    Build {
        /// `host:port`.
        addr: String,
        /// What was refused (never a header value).
        reason: String,
    },
}

/// `GET http://<addr><path>` with `headers`, bounded by `limits`.
pub async fn get(
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
    limits: Limits,
) -> Result<Response, HttpError> {
    let exchange = exchange(addr, path, headers, limits.max_body);
    tokio::time::timeout(limits.timeout, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(HttpError::Timeout {
                addr: addr.to_owned(),
                after: limits.timeout,
            })
        })
}

async fn exchange(
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
    max_body: usize,
) -> Result<Response, HttpError> {
    let http_err = |source| HttpError::Http {
        addr: addr.to_owned(),
        source,
    };
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header("Host", addr);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    // The builder's error names the offending part but never echoes a header value.
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| HttpError::Build {
            addr: addr.to_owned(),
            reason: e.to_string(),
        })?;
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|source| HttpError::Connect {
            addr: addr.to_owned(),
            source,
        })?;
    // A GET is one small write; no reason to let Nagle hold any of it back.
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http_err)?;
    // Drives the socket; aborted below once the answer is read (or on any early return
    // through the guard's drop).
    let driver = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let response = sender.send_request(request).await.map_err(http_err)?;
    let status = response.status().as_u16();
    let body = read_body(response.into_body(), max_body)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => HttpError::BodyTooLarge {
                addr: addr.to_owned(),
                max: max_body,
            },
            BodyError::Read(source) => http_err(source),
        })?;
    drop(sender);
    drop(driver);
    Ok(Response { status, body })
}

/// Why [`read_body`] returned no body.
#[derive(Debug)]
pub(crate) enum BodyError<E> {
    /// The body is larger than the limit (announced, or read so far): reading stopped there.
    TooLarge,
    /// The body could not be read (connection dropped, malformed framing).
    Read(E),
}

/// Reads `body` whole, but never more than `max` bytes of it: an announced length
/// (`Content-Length`) over `max` is refused before a byte is read, and the read stops at the
/// first frame that would pass `max`. What was read is dropped with the error.
pub(crate) async fn read_body<B>(mut body: B, max: usize) -> Result<Vec<u8>, BodyError<B::Error>>
where
    B: Body<Data = Bytes> + Unpin,
{
    let announced = usize::try_from(body.size_hint().lower()).unwrap_or(usize::MAX);
    if announced > max {
        return Err(BodyError::TooLarge);
    }
    // `announced <= max` (checked above): the allocation is bounded by the caller's limit.
    let mut out = Vec::with_capacity(announced);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(BodyError::Read)?.into_data() {
            // `out.len() <= max` holds on every iteration, so the subtraction cannot wrap.
            if data.len() > max - out.len() {
                return Err(BodyError::TooLarge);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// Aborts the connection task when dropped (also when the deadline cancels the exchange).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
