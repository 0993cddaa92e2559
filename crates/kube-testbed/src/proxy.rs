//! [`FaultProxy`]: a loopback HTTP proxy in front of the API server that injects faults.
//!
//! It listens on plain HTTP at `http://127.0.0.1:<free port>` (point a kubeconfig's `server`
//! at [`FaultProxy::url`]; bearer tokens over loopback are fine) and forwards every request
//! to the API server over TLS, streaming answers (watches work; exec/port-forward upgrades do
//! not). Each request is classified as Kubernetes does (verb from method, path and `?watch`;
//! resource, subresource, namespace, name from the path; for `create` the name from the body)
//! and checked against the armed [`Rule`]s in arming order: the first active match applies its
//! [`Action`] (a Kubernetes-shaped `Status` answer, a delay then forward, or a dropped
//! connection) and counts one hit. Every request is logged ([`LoggedRequest`]) in arrival order.
//!
//! It runs on its own thread with its own current-thread runtime, so it can be embedded in any
//! process; its controls are `&self` and thread-safe ([`ProxyControl`] is a cloneable handle).
//! Other processes control it over HTTP on its ports (both sides; loopback only):
//! - `POST /_testbed/faultproxy/rules` with a [`Rule`] as JSON → `{"id": N}`
//! - `GET /_testbed/faultproxy/rules` → `[{"id", "rule", "hits", "remaining"}]`
//! - `DELETE /_testbed/faultproxy/rules` → clears the rules
//! - `GET /_testbed/faultproxy/log`, `DELETE /_testbed/faultproxy/log` → the request log
//!
//! Rule JSON example: `{"verb":"patch","resource":"statefulsets","name":"app",
//! "action":{"status":{"code":409}},"times":1}`; other actions: `{"delay":{"millis":500}}`,
//! `"drop"`.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::ops::Deref;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::kubeconfig::Identity;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

const CONTROL_PREFIX: &str = "/_testbed/faultproxy/";

/// A Kubernetes API verb, as RBAC and audit logs name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    /// GET of one object.
    Get,
    /// GET of a collection.
    List,
    /// GET with `?watch=true` (or the old `/watch/` path prefix).
    Watch,
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH (strategic-merge, merge, JSON or server-side apply).
    Patch,
    /// DELETE of one object.
    Delete,
    /// DELETE of a collection.
    Deletecollection,
}

/// What a matching rule does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Answer with this HTTP status and the `Status` body the real server would send
    /// (409 Conflict or AlreadyExists for create, 429 with `Retry-After: 1`, 500 InternalError,
    /// 403 Forbidden, 404 NotFound, 422 Invalid, 503, 504, …). The request is not forwarded.
    Status {
        /// The HTTP status code.
        code: u16,
    },
    /// Wait, then forward the request.
    Delay {
        /// How long to wait, in milliseconds.
        millis: u64,
    },
    /// Close the connection without answering. The request is not forwarded.
    Drop,
}

impl Action {
    /// [`Action::Status`] with `code`.
    pub fn status(code: u16) -> Self {
        Self::Status { code }
    }

    /// [`Action::Delay`] of `d`.
    pub fn delay(d: Duration) -> Self {
        Self::Delay {
            millis: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// Which requests to fault, what to do, and how often. Unset filters match anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// The verb, e.g. [`Verb::Patch`].
    #[serde(default)]
    pub verb: Option<Verb>,
    /// The resource's plural name (`statefulsets`), or `resource/subresource` (`pods/exec`).
    #[serde(default)]
    pub resource: Option<String>,
    /// The namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The object's name.
    #[serde(default)]
    pub name: Option<String>,
    /// What to do.
    pub action: Action,
    /// For how many matching requests; `None` = all of them.
    #[serde(default)]
    pub times: Option<u32>,
}

impl Rule {
    /// A rule that applies `action` to every request (narrow it with the builder methods).
    pub fn new(action: Action) -> Self {
        Self {
            verb: None,
            resource: None,
            namespace: None,
            name: None,
            action,
            times: None,
        }
    }

    /// Only requests with this verb.
    #[must_use]
    pub fn verb(mut self, verb: Verb) -> Self {
        self.verb = Some(verb);
        self
    }

    /// Only requests for this resource (plural, or `resource/subresource`).
    #[must_use]
    pub fn resource(mut self, resource: &str) -> Self {
        self.resource = Some(resource.to_owned());
        self
    }

    /// Only requests in this namespace.
    #[must_use]
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_owned());
        self
    }

    /// Only requests for the object with this name.
    #[must_use]
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// Only for the next `n` matching requests.
    #[must_use]
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    fn matches(&self, info: &RequestInfo) -> bool {
        let Some(resource) = info.resource_path() else {
            return false; // discovery, /readyz, ...: never faulted
        };
        self.verb.is_none_or(|v| Some(v) == info.verb)
            && self.resource.as_deref().is_none_or(|r| r == resource)
            && self
                .namespace
                .as_deref()
                .is_none_or(|n| Some(n) == info.namespace.as_deref())
            && self
                .name
                .as_deref()
                .is_none_or(|n| Some(n) == info.name.as_deref())
    }
}

/// The id of an armed rule, for [`ProxyControl::hits`] and [`ProxyControl::disarm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RuleId(pub u64);

/// One request the proxy saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// The HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The Kubernetes verb (`None` for non-resource paths such as `/api` or `/readyz`).
    pub verb: Option<Verb>,
    /// The resource (plural), with `/subresource` if any.
    pub resource: Option<String>,
    /// The namespace.
    pub namespace: Option<String>,
    /// The object's name.
    pub name: Option<String>,
    /// The status answered; `None` while in flight or when the connection was dropped.
    pub status: Option<u16>,
    /// The rule that acted on it, if any.
    pub rule: Option<RuleId>,
}

impl LoggedRequest {
    /// Whether this request may change state (create, update, patch, delete, deletecollection).
    pub fn is_write(&self) -> bool {
        matches!(
            self.verb,
            Some(Verb::Create | Verb::Update | Verb::Patch | Verb::Delete | Verb::Deletecollection)
        )
    }
}

#[derive(Debug)]
struct Armed {
    id: RuleId,
    rule: Rule,
    hits: u64,
}

impl Armed {
    fn active(&self) -> bool {
        self.rule.times.is_none_or(|t| self.hits < u64::from(t))
    }
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    rules: Vec<Armed>,
    log: Vec<(u64, LoggedRequest)>,
    next_seq: u64,
}

/// A cloneable, thread-safe handle that arms rules and reads counters and the log.
#[derive(Debug, Clone)]
pub struct ProxyControl {
    state: Arc<Mutex<State>>,
    url: String,
    https_url: Option<String>,
    ca: Option<std::path::PathBuf>,
}

impl ProxyControl {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State inconsistent (plain pushes/updates).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The proxy's URL, `http://127.0.0.1:<port>`, for a kubeconfig's `server`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The TLS side's URL, `https://127.0.0.1:<port>` (same CA as the API server), when the
    /// proxy was started with [`FaultProxy::start`].
    pub fn https_url(&self) -> Option<String> {
        self.https_url.clone()
    }

    /// The CA file that verifies the TLS side, when there is one.
    pub fn ca(&self) -> Option<&std::path::Path> {
        self.ca.as_deref()
    }

    /// Writes a kubeconfig for `identity` that goes through this proxy (TLS side when there
    /// is one, so kubectl works too), next to the identity's own as
    /// `<name>.proxy-<port>.kubeconfig`, and returns its path.
    pub fn kubeconfig_for(&self, identity: &Identity) -> Result<std::path::PathBuf> {
        // Named after the port, so two proxies never overwrite each other's files.
        let suffix = |url: &str| format!("proxy-{}", url.rsplit(':').next().unwrap_or_default());
        match (&self.https_url, &self.ca) {
            (Some(url), Some(ca)) => identity.kubeconfig_for_server(url, Some(ca), &suffix(url)),
            _ => identity.kubeconfig_for_server(&self.url, None, &suffix(&self.url)),
        }
    }

    /// Arms a rule; it acts on the next matching requests.
    pub fn arm(&self, rule: Rule) -> RuleId {
        let mut s = self.lock();
        s.next_id += 1;
        let id = RuleId(s.next_id);
        s.rules.push(Armed { id, rule, hits: 0 });
        id
    }

    /// Removes a rule (its hits are forgotten).
    pub fn disarm(&self, id: RuleId) {
        self.lock().rules.retain(|a| a.id != id);
    }

    /// Removes every rule.
    pub fn clear_rules(&self) {
        self.lock().rules.clear();
    }

    /// How many requests rule `id` has acted on (0 if unknown).
    pub fn hits(&self, id: RuleId) -> u64 {
        self.lock()
            .rules
            .iter()
            .find(|a| a.id == id)
            .map_or(0, |a| a.hits)
    }

    /// How many requests any rule has acted on.
    pub fn injected(&self) -> u64 {
        self.lock().rules.iter().map(|a| a.hits).sum()
    }

    /// Every request seen since the last [`Self::clear_log`], in arrival order.
    pub fn log(&self) -> Vec<LoggedRequest> {
        self.lock().log.iter().map(|(_, r)| r.clone()).collect()
    }

    /// The logged requests that may change state (see [`LoggedRequest::is_write`]).
    pub fn writes(&self) -> Vec<LoggedRequest> {
        self.log()
            .into_iter()
            .filter(LoggedRequest::is_write)
            .collect()
    }

    /// Forgets the request log.
    pub fn clear_log(&self) {
        self.lock().log.clear();
    }

    /// Logs a request and picks the action of the first active matching rule.
    fn admit(&self, logged: LoggedRequest, info: &RequestInfo) -> (u64, Option<(RuleId, Action)>) {
        let mut s = self.lock();
        let seq = s.next_seq;
        s.next_seq += 1;
        let hit = s
            .rules
            .iter_mut()
            .find(|a| a.active() && a.rule.matches(info))
            .map(|a| {
                a.hits += 1;
                (a.id, a.rule.action.clone())
            });
        let mut logged = logged;
        logged.rule = hit.as_ref().map(|(id, _)| *id);
        s.log.push((seq, logged));
        (seq, hit)
    }

    fn finish(&self, seq: u64, status: Option<u16>) {
        let mut s = self.lock();
        if let Some((_, r)) = s.log.iter_mut().rev().find(|(n, _)| *n == seq) {
            r.status = status;
        }
    }

    fn rules_json(&self) -> serde_json::Value {
        let s = self.lock();
        s.rules
            .iter()
            .map(|a| {
                let remaining = a.rule.times.map(|t| u64::from(t).saturating_sub(a.hits));
                json!({"id": a.id.0, "rule": a.rule, "hits": a.hits, "remaining": remaining})
            })
            .collect()
    }
}

/// A running fault proxy; stops (and closes its connections) when dropped.
/// Dereferences to its [`ProxyControl`] (arm rules, read hits and the request log).
///
/// Other processes control it over HTTP on its ports (both sides; loopback only):
/// - `POST /_testbed/faultproxy/rules` with a [`Rule`] as JSON → `{"id": N}`
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
        let control = ProxyControl {
            state: Arc::default(),
            url: format!("http://{addr}"),
            https_url: tls.as_ref().map(|(_, a, _, _)| format!("https://{a}")),
            ca: tls.as_ref().map(|(_, _, _, ca)| ca.clone()),
        };
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

fn json_response(code: StatusCode, value: &serde_json::Value) -> Response<ProxyBody> {
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

fn control_endpoint(
    method: &Method,
    path: &str,
    body: &[u8],
    control: &ProxyControl,
) -> Response<ProxyBody> {
    let what = &path[CONTROL_PREFIX.len()..];
    match (method.as_str(), what) {
        ("GET", "rules") => json_response(StatusCode::OK, &control.rules_json()),
        ("POST", "rules") => match serde_json::from_slice::<Rule>(body) {
            Ok(rule) => json_response(StatusCode::CREATED, &json!({"id": control.arm(rule).0})),
            Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({"error": e.to_string()})),
        },
        ("DELETE", "rules") => {
            control.clear_rules();
            json_response(StatusCode::OK, &json!({}))
        }
        ("GET", "log") => json_response(StatusCode::OK, &json!(control.log())),
        ("DELETE", "log") => {
            control.clear_log();
            json_response(StatusCode::OK, &json!({}))
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": format!("no control endpoint {method} {path}")}),
        ),
    }
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

/// A request classified as the API server's RequestInfoFactory does.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct RequestInfo {
    verb: Option<Verb>,
    group: String,
    resource: Option<String>,
    subresource: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
}

impl RequestInfo {
    fn parse(method: &Method, path: &str, query: Option<&str>, body: &[u8]) -> Self {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let (group, mut rest) = match parts.as_slice() {
            ["api", _version, rest @ ..] => (String::new(), rest),
            ["apis", group, _version, rest @ ..] => ((*group).to_owned(), rest),
            _ => return Self::default(),
        };
        if rest.is_empty() {
            return Self::default(); // discovery
        }
        let mut watch = false;
        if rest[0] == "watch" {
            watch = true;
            rest = &rest[1..];
        }
        let mut info = Self {
            group,
            ..Self::default()
        };
        if rest.first() == Some(&"namespaces") && rest.len() > 1 {
            info.namespace = Some(rest[1].to_owned());
            if rest.len() > 2 && !matches!(rest[2], "status" | "finalize") {
                rest = &rest[2..];
            }
        }
        info.resource = rest.first().map(|s| (*s).to_owned());
        info.name = rest.get(1).map(|s| (*s).to_owned());
        info.subresource = rest.get(2).map(|s| (*s).to_owned());
        let watch_query = query.is_some_and(|q| {
            q.split('&')
                .any(|kv| kv == "watch=true" || kv == "watch=1" || kv == "watch")
        });
        info.verb = Some(match *method {
            Method::GET if watch || watch_query => Verb::Watch,
            Method::GET if info.name.is_some() => Verb::Get,
            Method::GET => Verb::List,
            Method::POST => Verb::Create,
            Method::PUT => Verb::Update,
            Method::PATCH => Verb::Patch,
            Method::DELETE if info.name.is_some() => Verb::Delete,
            Method::DELETE => Verb::Deletecollection,
            _ => return Self::default(),
        });
        if info.verb == Some(Verb::Create) && info.name.is_none() {
            info.name = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| {
                    v.pointer("/metadata/name")
                        .and_then(|n| n.as_str())
                        .map(str::to_owned)
                });
        }
        info
    }

    /// `resource` or `resource/subresource`; `None` for non-resource requests.
    fn resource_path(&self) -> Option<String> {
        let r = self.resource.as_ref()?;
        Some(match &self.subresource {
            Some(s) => format!("{r}/{s}"),
            None => r.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(method: &Method, path: &str, query: Option<&str>) -> RequestInfo {
        RequestInfo::parse(method, path, query, b"")
    }

    #[test]
    fn classifies_requests_as_kubernetes_does() {
        let i = info(
            &Method::PATCH,
            "/apis/apps/v1/namespaces/a/statefulsets/app",
            None,
        );
        assert_eq!(
            (
                i.verb,
                i.group.as_str(),
                i.resource_path().as_deref(),
                i.namespace.as_deref(),
                i.name.as_deref()
            ),
            (
                Some(Verb::Patch),
                "apps",
                Some("statefulsets"),
                Some("a"),
                Some("app")
            )
        );
        let i = info(
            &Method::GET,
            "/api/v1/namespaces/a/pods",
            Some("watch=true&resourceVersion=1"),
        );
        assert_eq!(
            (i.verb, i.resource.as_deref()),
            (Some(Verb::Watch), Some("pods"))
        );
        assert_eq!(
            info(&Method::GET, "/api/v1/watch/namespaces/a/pods", None).verb,
            Some(Verb::Watch)
        );
        assert_eq!(
            info(&Method::GET, "/api/v1/pods", None).verb,
            Some(Verb::List)
        );
        let i = info(&Method::GET, "/api/v1/namespaces/a", None);
        assert_eq!(
            (i.verb, i.resource.as_deref(), i.name.as_deref()),
            (Some(Verb::Get), Some("namespaces"), Some("a"))
        );
        let i = info(&Method::PUT, "/api/v1/namespaces/a/finalize", None);
        assert_eq!(i.resource_path().as_deref(), Some("namespaces/finalize"));
        let i = info(&Method::POST, "/api/v1/namespaces/a/pods/p/exec", None);
        assert_eq!(
            (i.verb, i.resource_path().as_deref()),
            (Some(Verb::Create), Some("pods/exec"))
        );
        assert_eq!(
            info(&Method::DELETE, "/api/v1/namespaces/a/pods", None).verb,
            Some(Verb::Deletecollection)
        );
        assert_eq!(info(&Method::GET, "/apis", None), RequestInfo::default());
        assert_eq!(info(&Method::GET, "/readyz", None), RequestInfo::default());
        let i = RequestInfo::parse(
            &Method::POST,
            "/api/v1/namespaces/a/configmaps",
            None,
            br#"{"metadata":{"name":"cm"}}"#,
        );
        assert_eq!(i.name.as_deref(), Some("cm"));
    }

    #[test]
    fn rule_filters_and_times() {
        let i = info(
            &Method::PATCH,
            "/apis/apps/v1/namespaces/a/statefulsets/app",
            None,
        );
        let rule = Rule::new(Action::Drop)
            .verb(Verb::Patch)
            .resource("statefulsets");
        assert!(rule.matches(&i));
        assert!(!rule.clone().name("other").matches(&i));
        assert!(!rule.clone().namespace("b").matches(&i));
        assert!(!Rule::new(Action::Drop).verb(Verb::Get).matches(&i));
        assert!(!Rule::new(Action::Drop).matches(&info(&Method::GET, "/readyz", None)));
        let json = serde_json::to_string(&rule.times(1)).unwrap_or_default();
        assert_eq!(
            serde_json::from_str::<Rule>(
                r#"{"verb":"patch","resource":"statefulsets","action":"drop","times":1}"#
            )
            .ok(),
            serde_json::from_str::<Rule>(&json).ok()
        );
    }
}
