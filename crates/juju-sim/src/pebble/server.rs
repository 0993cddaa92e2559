//! The HTTP/1.1 server on the Unix socket: hyper on a current-thread tokio runtime in its own
//! thread, stopped (and the socket removed) when the [`ServerHandle`] drops.

use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio::net::UnixListener;

use super::{PebbleState, Reply, Request, handle};

/// Largest request body accepted (a pushed file).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// Failures starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Removing a stale socket or creating its directory failed.
    #[error("preparing the Pebble socket {path}")]
    PrepareSocket {
        /// Socket path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Binding the socket failed.
    #[error("binding the Pebble socket {path}")]
    Bind {
        /// Socket path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Building the runtime or the stop channel failed.
    #[error("starting the Pebble server thread")]
    Start(#[source] std::io::Error),
}

/// Starts Pebble servers.
#[derive(Debug)]
pub struct Server;

/// A running server; dropping it stops the server and removes the socket. Do not drop it
/// while holding the state's lock: a request being answered needs that lock to finish.
#[derive(Debug)]
pub struct ServerHandle {
    socket: PathBuf,
    stop: Option<StdUnixStream>,
    thread: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        // Closing our end wakes the server loop, which then returns.
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Server {
    /// Serves `state` on `socket_path` until the handle drops.
    pub fn start(
        socket_path: &Path,
        state: Arc<Mutex<PebbleState>>,
    ) -> Result<ServerHandle, ServerError> {
        let prepare = |source| ServerError::PrepareSocket {
            path: socket_path.to_owned(),
            source,
        };
        if let Some(dir) = socket_path.parent() {
            std::fs::create_dir_all(dir).map_err(prepare)?;
        }
        match std::fs::remove_file(socket_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(prepare(e)),
            _ => {}
        }
        let listener = std::os::unix::net::UnixListener::bind(socket_path).map_err(|source| {
            ServerError::Bind {
                path: socket_path.to_owned(),
                source,
            }
        })?;
        listener.set_nonblocking(true).map_err(ServerError::Start)?;
        let (ours, theirs) = StdUnixStream::pair().map_err(ServerError::Start)?;
        theirs.set_nonblocking(true).map_err(ServerError::Start)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(ServerError::Start)?;
        let thread = std::thread::Builder::new()
            .name(format!("pebble {}", socket_path.display()))
            .spawn(move || runtime.block_on(serve(listener, theirs, state)))
            .map_err(ServerError::Start)?;
        Ok(ServerHandle {
            socket: socket_path.to_owned(),
            stop: Some(ours),
            thread: Some(thread),
        })
    }
}

async fn serve(
    listener: std::os::unix::net::UnixListener,
    stop: StdUnixStream,
    state: Arc<Mutex<PebbleState>>,
) {
    let (Ok(listener), Ok(mut stop)) = (
        UnixListener::from_std(listener),
        tokio::net::UnixStream::from_std(stop),
    ) else {
        return;
    };
    let mut buf = [0u8; 1];
    loop {
        tokio::select! {
            // EOF or error on the stop stream: the handle dropped.
            _ = stop.read(&mut buf) => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    let service = service_fn(move |req| respond(Arc::clone(&state), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

async fn respond(
    state: Arc<Mutex<PebbleState>>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = parse_query(req.uri().query().unwrap_or_default());
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(e) => {
            return Ok(to_response(&super::bad_request(&format!(
                "cannot read request body: {e}"
            ))));
        }
    };
    let request = Request {
        method,
        path,
        query,
        content_type,
        body,
    };
    let reply = match state.lock() {
        Ok(mut s) => handle(&mut s, &request),
        // A panic elsewhere poisoned the lock; the data is still consistent per request.
        Err(poisoned) => handle(&mut poisoned.into_inner(), &request),
    };
    Ok(to_response(&reply))
}

fn to_response(reply: &Reply) -> hyper::Response<Full<Bytes>> {
    let mut resp = hyper::Response::new(Full::new(Bytes::from(reply.body.clone())));
    *resp.status_mut() = hyper::StatusCode::from_u16(reply.status).unwrap_or(hyper::StatusCode::OK);
    if let Ok(v) = hyper::header::HeaderValue::from_str(&reply.content_type) {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    resp
}

/// Decodes `a=b&c=%2Fd` (`+` is a space).
pub(super) fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
