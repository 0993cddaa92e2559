//! Workload endpoints: what a charm reaches on `localhost` inside its pod (gluetun's control
//! server on port 8000), served on `127.0.0.1:<port>` in the unit's pod network namespace
//! (crate::pod_network), per (unit, container, port), with answers set by the operator
//! (`workload-http`). The charm finds it where it would in Kubernetes: an unmodified charm
//! works. Without pod namespaces (not root) the endpoint listens on a free host port that no
//! charm knows; only tests that connect to [`Endpoint::addr`] themselves can use it.
//!
//! Each endpoint is a tiny HTTP/1.1 server on its own thread (one request per connection,
//! `Connection: close`), answering by exact path (the query string is ignored). A path set
//! `--down` gets its connection closed without an answer (the charm sees a connection error);
//! a path with no answer gets 404. Every request (method, path, headers) is recorded, so a test
//! can check that the charm authenticates.
//!
//! Simplification: the endpoints live as long as the simulator process (the CLI starts them
//! again for each command; the answers and the recorded requests are persisted in the state).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};

/// How a path answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    /// An HTTP answer.
    Http {
        /// Status code.
        status: u16,
        /// Body (sent as `application/json` when it parses as JSON, else `text/plain`).
        body: String,
    },
    /// The connection is closed without an answer.
    Down,
}

/// One request the workload endpoint received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadRequest {
    /// The unit whose pod it stands for.
    pub unit: String,
    /// The container.
    pub container: String,
    /// The port inside the pod.
    pub port: u16,
    /// The HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: BTreeMap<String, String>,
}

/// Answers by path, and the requests seen, shared between the model and its endpoints.
#[derive(Debug, Default)]
pub struct Shared {
    /// Answers by path.
    pub answers: BTreeMap<String, Answer>,
    /// Requests in arrival order.
    pub requests: Vec<WorkloadRequest>,
}

/// A running endpoint; stops when dropped.
#[derive(Debug)]
pub struct Endpoint {
    addr: String,
    netns: Option<String>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Endpoint {
    /// Starts an endpoint for (`unit`, `container`, `port`) answering from `shared`, on
    /// `127.0.0.1:<port>` in network namespace `netns` (its pod's), or on a free host port.
    pub fn start(
        unit: &str,
        container: &str,
        port: u16,
        shared: Arc<Mutex<Shared>>,
        netns: Option<&str>,
    ) -> std::io::Result<Self> {
        let listener = match netns {
            Some(ns) => pod_net::in_netns(ns, || TcpListener::bind(("127.0.0.1", port)))
                .map_err(std::io::Error::other)??,
            None => TcpListener::bind("127.0.0.1:0")?,
        };
        let addr = listener.local_addr()?.to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let (unit, container, flag) = (unit.to_owned(), container.to_owned(), stop.clone());
        let thread = std::thread::Builder::new()
            .name(format!("workload-{container}-{port}"))
            .spawn(move || {
                for conn in listener.incoming() {
                    if flag.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = conn {
                        // As gluetun's control server (Go sets TCP_NODELAY on every connection).
                        let _ = stream.set_nodelay(true);
                        let _ = serve_one(stream, &unit, &container, port, &shared);
                    }
                }
            })?;
        Ok(Self {
            addr,
            netns: netns.map(str::to_owned),
            stop,
            thread: Some(thread),
        })
    }

    /// `127.0.0.1:<port>` (in the pod's namespace, when it has one).
    pub fn addr(&self) -> &str {
        &self.addr
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop (from its namespace), bounded: a pod's firewall may drop it.
        let woke = self.addr.parse::<std::net::SocketAddr>().is_ok_and(|addr| {
            let connect = || TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2));
            match &self.netns {
                Some(ns) => pod_net::in_netns(ns, connect).is_ok_and(|c| c.is_ok()),
                None => connect().is_ok(),
            }
        });
        // Unwoken, the thread is left blocked in accept; it holds nothing but the listener.
        if let Some(t) = self.thread.take()
            && woke
        {
            let _ = t.join();
        }
    }
}

fn serve_one(
    stream: TcpStream,
    unit: &str,
    container: &str,
    port: u16,
    shared: &Mutex<Shared>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(());
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_lowercase(), v.trim().to_owned());
        }
    }
    let len: u64 = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = Vec::new();
    reader.take(len).read_to_end(&mut body)?;
    let answer = {
        let mut s = shared.lock().unwrap_or_else(PoisonError::into_inner);
        s.requests.push(WorkloadRequest {
            unit: unit.to_owned(),
            container: container.to_owned(),
            port,
            method,
            path: path.clone(),
            headers,
        });
        let bare = path.split('?').next().unwrap_or_default();
        s.answers.get(bare).cloned()
    };
    let mut stream = stream;
    match answer {
        Some(Answer::Down) => Ok(()),
        Some(Answer::Http { status, body }) => respond(&mut stream, status, &body),
        None => respond(&mut stream, 404, "404 page not found\n"),
    }
}

fn respond(stream: &mut TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    let ctype = if serde_json::from_str::<serde_json::Value>(body).is_ok() {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}
