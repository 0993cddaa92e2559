//! Forwarding: the running [`FaultProxy`] (its thread, runtime and listeners, plain HTTP and
//! TLS with the API server's own certificate), and per request: classify, let the control
//! state pick a rule, then answer in the server's place, drop the connection, or (after any
//! delay) forward to the API server and stream its answer back.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::json;

use super::control::{CONTROL_PREFIX, LoggedRequest, ProxyControl, control_endpoint};
use super::request::{RequestInfo, Verb};
use super::rules::Action;
use crate::cluster::Cluster;
use crate::error::{Error, Result};

pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(super) type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

/// A running fault proxy; stops (and closes its connections) when dropped.
/// Dereferences to its [`ProxyControl`] (arm rules, read hits and the request log).
///
/// Other processes control it over HTTP on its ports (both sides; loopback only):
/// - `POST /_testbed/faultproxy/rules` with a [`Rule`](super::Rule) as JSON → `{"id": N}`
/// - `GET /_testbed/faultproxy/rules` → `[{"id", "rule", "hits", "remaining"}]`
/// - `DELETE /_testbed/faultproxy/rules` → clears the rules
/// - `GET /_testbed/faultproxy/log`, `DELETE /_testbed/faultproxy/log` → the request log
///
/// Rule JSON example: `{"verb":"patch","resource":"statefulsets","name":"app",
/// "action":{"status":{"code":409}},"times":1}`; other actions: `{"delay":{"millis":500}}`,
/// `"drop"`.
#[derive(Debug)]
pub struct FaultProxy {
    control: ProxyControl,
    addr: SocketAddr,
    shutdown: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Deref for FaultProxy {
    type Target = ProxyControl;
    fn deref(&self) -> &ProxyControl {
        &self.control
    }
}

impl FaultProxy {
    /// Starts a proxy in front of `cluster`'s API server, on plain HTTP ([`ProxyControl::url`])
    /// and on TLS with the API server's own certificate ([`ProxyControl::https_url`]), so a
    /// proxied kubeconfig differs from a direct one only in its port. kubectl needs the TLS
    /// side: client-go sends bearer tokens over TLS only.
    pub fn start(cluster: &Cluster) -> Result<Self> {
        Self::start_in(cluster.dir())
    }

    /// [`FaultProxy::start`] for a cluster known by its directory only (e.g. one started by
    /// another process): its `admin.kubeconfig` and `certs/`.
    pub fn start_in(cluster_dir: &Path) -> Result<Self> {
        let certs = cluster_dir.join("certs");
        let tls = Tls {
            cert: certs.join("apiserver.crt"),
            key: certs.join("apiserver.key"),
        };
        Self::start_inner(&cluster_dir.join("admin.kubeconfig"), Some(&tls))
    }

    /// Starts a plain-HTTP proxy in front of the server (and CA) named by `kubeconfig`; the
    /// proxy itself sends no credentials: each request carries its client's own token.
    pub fn start_for(kubeconfig: &Path) -> Result<Self> {
        Self::start_inner(kubeconfig, None)
    }

    fn start_inner(kubeconfig: &Path, tls: Option<&Tls>) -> Result<Self> {
        let mut kc =
            kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| Error::Client {
                path: kubeconfig.to_path_buf(),
                source: Box::new(e),
            })?;
        for user in &mut kc.auth_infos {
            user.auth_info = Some(kube::config::AuthInfo::default());
        }
        let bind = || -> std::io::Result<(StdListener, SocketAddr)> {
            let l = StdListener::bind("127.0.0.1:0")?;
            l.set_nonblocking(true)?;
            let addr = l.local_addr()?;
            Ok((l, addr))
        };
        let (listener, addr) = bind().map_err(Error::StartProxy)?;
        let tls = match tls {
            Some(t) => {
                let (l, a) = bind().map_err(Error::StartProxy)?;
                Some((
                    l,
                    a,
                    t.acceptor().map_err(Error::StartProxy)?,
                    t.cert.clone(),
                ))
            }
            None => None,
        };
        let control = ProxyControl::new(
            format!("http://{addr}"),
            tls.as_ref().map(|(_, a, _, _)| format!("https://{a}")),
            tls.as_ref().map(|(_, _, _, ca)| ca.clone()),
        );
        let tls = tls.map(|(l, _, acceptor, _)| (l, acceptor));
        let (shutdown, stop_rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
        let path = kubeconfig.to_path_buf();
        let thread_control = control.clone();
        let thread = thread::Builder::new()
            .name(format!("kube-testbed-proxy-{}", addr.port()))
            .spawn(move || {
                serve(listener, tls, kc, path, thread_control, &ready_tx, &stop_rx);
            })
            .map_err(Error::StartProxy)?;
        let ready = ready_rx.recv().unwrap_or_else(|_| {
            Err(Error::StartProxy(std::io::Error::other(
                "proxy thread died",
            )))
        });
        let proxy = Self {
            control,
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        };
        ready.map(|()| proxy)
    }

    /// A cloneable handle for other threads.
    pub fn control(&self) -> ProxyControl {
        self.control.clone()
    }

    /// The port of the plain-HTTP side (127.0.0.1); the control endpoint answers on both.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// The TLS side's certificate and key: the API server's own (they cover 127.0.0.1).
struct Tls {
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
}

impl Tls {
    fn acceptor(&self) -> std::io::Result<tokio_rustls::TlsAcceptor> {
        use tokio_rustls::rustls;
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let pem = |e: rustls::pki_types::pem::Error| std::io::Error::other(e.to_string());
        let certs = CertificateDer::pem_file_iter(&self.cert)
            .map_err(pem)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(pem)?;
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(pem)?;
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(std::io::Error::other)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        drop(self.shutdown.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The proxy thread: its runtime, the upstream client, the accept loop.
fn serve(
    listener: StdListener,
    tls: Option<(StdListener, tokio_rustls::TlsAcceptor)>,
    kc: kube::config::Kubeconfig,
    path: std::path::PathBuf,
    control: ProxyControl,
    ready: &std::sync::mpsc::Sender<Result<()>>,
    stop: &std::sync::mpsc::Receiver<()>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(Error::Runtime(e)));
            return;
        }
    };
    rt.block_on(async move {
        let setup = async {
            let mut config = kube::Config::from_custom_kubeconfig(
                kc,
                &kube::config::KubeConfigOptions::default(),
            )
            .await
            .map_err(|e| Error::Client {
                path: path.clone(),
                source: Box::new(e),
            })?;
            // Forward faithfully: kube clients retry 429/503/504 by default, the proxy must not.
            config.default_retry = false;
            let client = kube::Client::try_from(config).map_err(|e| Error::Client {
                path,
                source: Box::new(e),
            })?;
            let listener =
                tokio::net::TcpListener::from_std(listener).map_err(Error::StartProxy)?;
            let tls = match tls {
                Some((l, acceptor)) => Some((
                    tokio::net::TcpListener::from_std(l).map_err(Error::StartProxy)?,
                    acceptor,
                )),
                None => None,
            };
            Ok::<_, Error>((client, listener, tls))
        };
        let (client, listener, tls) = match setup.await {
            Ok(x) => {
                let _ = ready.send(Ok(()));
                x
            }
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        loop {
            // Check for shutdown between accepts (and at least every 50 ms).
            if !matches!(stop.try_recv(), Err(std::sync::mpsc::TryRecvError::Empty)) {
                return;
            }
            let accept = async {
                match &tls {
                    Some((tls_listener, _)) => tokio::select! {
                        r = listener.accept() => r.map(|(s, _)| (s, false)),
                        r = tls_listener.accept() => r.map(|(s, _)| (s, true)),
                    },
                    None => listener.accept().await.map(|(s, _)| (s, false)),
                }
            };
            let Ok(Ok((stream, is_tls))) =
                tokio::time::timeout(Duration::from_millis(50), accept).await
            else {
                continue;
            };
            // As the API server's own sockets (Go sets TCP_NODELAY on every connection): with
            // Nagle, a response written in pieces waits for the client's delayed ACK, ~40 ms.
            let _ = stream.set_nodelay(true);
            let client = client.clone();
            let control = control.clone();
            let acceptor = tls.as_ref().map(|(_, a)| a.clone()).filter(|_| is_tls);
            tokio::spawn(async move {
                match acceptor {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            serve_connection(stream, client, control).await;
                        }
                    }
                    None => serve_connection(stream, client, control).await,
                }
            });
        }
    });
}

/// Serves one client connection (plain or TLS) over HTTP/1.1.
async fn serve_connection<I>(io: I, client: kube::Client, control: ProxyControl)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |req| handle(req, client.clone(), control.clone()));
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .await;
}

/// Thrown to hyper to close the connection without an answer.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by a fault-proxy rule")]
struct Dropped;

async fn handle(
    req: Request<Incoming>,
    client: kube::Client,
    control: ProxyControl,
) -> Result<Response<ProxyBody>, BoxError> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    if parts.uri.path().starts_with(CONTROL_PREFIX) {
        return Ok(control_endpoint(
            &parts.method,
            parts.uri.path(),
            &body,
            &control,
        ));
    }
    let info = RequestInfo::parse(&parts.method, parts.uri.path(), parts.uri.query(), &body);
    let logged = LoggedRequest {
        method: parts.method.to_string(),
        path: path_and_query.clone(),
        verb: info.verb,
        resource: info.resource_path(),
        namespace: info.namespace.clone(),
        name: info.name.clone(),
        status: None,
        rule: None,
    };
    let (seq, hit) = control.admit(logged, &info);
    match hit {
        Some((_, Action::Drop)) => return Err(Box::new(Dropped)),
        Some((_, Action::Status { code })) => {
            control.finish(seq, Some(code));
            return Ok(status_response(code, &info));
        }
        Some((_, Action::Delay { millis })) => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
        }
        None => {}
    }
    let mut upstream = Request::builder().method(parts.method).uri(path_and_query);
    for (name, value) in &parts.headers {
        if !is_hop_by_hop(name) && name != header::HOST {
            upstream = upstream.header(name, value);
        }
    }
    let upstream = upstream.body(kube::client::Body::from(body.to_vec()))?;
    match client.send(upstream).await {
        Ok(resp) => {
            control.finish(seq, Some(resp.status().as_u16()));
            let (mut parts, body) = resp.into_parts();
            for name in HOP_BY_HOP {
                parts.headers.remove(name);
            }
            parts.headers.remove("keep-alive");
            Ok(Response::from_parts(
                parts,
                body.map_err(|e| Box::new(e) as BoxError).boxed_unsync(),
            ))
        }
        Err(e) => {
            control.finish(seq, Some(502));
            let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("fault proxy: upstream request failed: {e}"), "reason": "", "code": 502});
            Ok(json_response(StatusCode::BAD_GATEWAY, &status))
        }
    }
}

const HOP_BY_HOP: [header::HeaderName; 7] = [
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::TE,
    header::TRAILER,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
];

fn is_hop_by_hop(name: &header::HeaderName) -> bool {
    HOP_BY_HOP.contains(name) || name.as_str() == "keep-alive"
}

pub(super) fn json_response(code: StatusCode, value: &serde_json::Value) -> Response<ProxyBody> {
    let mut resp = Response::new(full(value.to_string()));
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn full(s: String) -> ProxyBody {
    Full::new(Bytes::from(s))
        .map_err(|e: Infallible| match e {})
        .boxed_unsync()
}

/// The injected answer: a `Status` shaped like the real server's for that code.
fn status_response(code: u16, info: &RequestInfo) -> Response<ProxyBody> {
    let qualified = match info.group.as_str() {
        "" => info.resource.clone().unwrap_or_default(),
        g => format!("{}.{g}", info.resource.clone().unwrap_or_default()),
    };
    let name = info.name.clone().unwrap_or_default();
    let what = format!("{qualified} \"{name}\"");
    let injected = "injected by the kube-testbed fault proxy";
    let (reason, message) = match code {
        400 => (
            "BadRequest",
            format!("the server rejected our request: {injected}"),
        ),
        401 => ("Unauthorized", "Unauthorized".to_owned()),
        403 => ("Forbidden", format!("{what} is forbidden: {injected}")),
        404 => ("NotFound", format!("{what} not found")),
        405 => (
            "MethodNotAllowed",
            format!("the server does not allow this method: {injected}"),
        ),
        409 if info.verb == Some(Verb::Create) => {
            ("AlreadyExists", format!("{what} already exists"))
        }
        409 => (
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {what}: the object has been modified; \
                 please apply your changes to the latest version and try again"
            ),
        ),
        410 => ("Expired", format!("too old resource version: {injected}")),
        422 => ("Invalid", format!("{what} is invalid: {injected}")),
        429 => (
            "TooManyRequests",
            "Too many requests, please try again later.".to_owned(),
        ),
        500 => (
            "InternalError",
            format!("Internal error occurred: {injected}"),
        ),
        503 => (
            "ServiceUnavailable",
            format!("the server is currently unable to handle the request: {injected}"),
        ),
        504 => (
            "Timeout",
            "Timeout: request did not complete within requested timeout".to_owned(),
        ),
        _ => ("", injected.to_owned()),
    };
    let mut details =
        json!({"group": info.group, "kind": info.resource.clone().unwrap_or_default()});
    if !name.is_empty() {
        details["name"] = json!(name);
    }
    match code {
        429 => details["retryAfterSeconds"] = json!(1),
        422 => {
            details["causes"] =
                json!([{"reason": "FieldValueInvalid", "message": injected, "field": "metadata"}]);
        }
        500 => details["causes"] = json!([{"message": injected}]),
        _ => {}
    }
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "details": details, "code": code,
    });
    let http = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = json_response(http, &status);
    if code == 429 {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    resp
}
