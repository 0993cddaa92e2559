//! The Pebble client against a small HTTP server on a Unix socket that answers like Pebble
//! (`internals/daemon/response.go`: sync, async + change, error envelopes; multipart files)
//! and records every request, so each test asserts the exact method, path, query and body
//! that ops (`ops/pebble.py`) would send; and against raw servers whose answers never end, for
//! the bounds on what is read.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::error::Error;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use juju_charm::pebble::{
    Check, CheckLevel, FileOptions, HttpCheck, Layer, MAX_RESPONSE_BYTES, Override, Pebble,
    PebbleError, Plan, Service, ServiceAction, Startup,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::UnixListener;

type TestResult = Result<(), Box<dyn Error>>;

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Path and query, exactly as sent.
    target: String,
    content_type: String,
    accept: String,
    body: Vec<u8>,
}

impl Seen {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// An answer: status, content type, body.
struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

fn sync(result: &Value) -> Answer {
    Answer {
        status: 200,
        content_type: "application/json".into(),
        body: json!({"type": "sync", "status-code": 200, "status": "OK", "result": result})
            .to_string()
            .into_bytes(),
    }
}

fn accepted(change: &str) -> Answer {
    Answer {
        status: 202,
        content_type: "application/json".into(),
        body: json!({"type": "async", "status-code": 202, "status": "Accepted", "change": change, "result": null})
            .to_string()
            .into_bytes(),
    }
}

fn error(status: u16, message: &str, kind: Option<&str>) -> Answer {
    let mut result = json!({ "message": message });
    if let Some(kind) = kind {
        result["kind"] = json!(kind);
    }
    Answer {
        status,
        content_type: "application/json".into(),
        body: json!({"type": "error", "status-code": status, "status": "Error", "result": result})
            .to_string()
            .into_bytes(),
    }
}

fn change(id: &str, kind: &str, err: Option<&str>) -> Value {
    let mut change = json!({
        "id": id, "kind": kind, "summary": format!("{kind} service \"svc\""),
        "status": if err.is_some() { "Error" } else { "Done" }, "ready": true,
        "spawn-time": "2026-11-24T22:00:00.000000000Z",
        "ready-time": "2026-11-24T22:00:01.000000000Z",
        "tasks": [{"id": "1", "kind": kind, "summary": "task", "status": "Done",
                   "progress": {"label": "", "done": 1, "total": 1},
                   "spawn-time": "2026-11-24T22:00:00.000000000Z"}]
    });
    if let Some(err) = err {
        change["err"] = json!(err);
    }
    change
}

type Handler = Arc<dyn Fn(&Seen) -> Option<Answer> + Send + Sync>;

/// A fake Pebble: a socket at `<base>/<container>/pebble.socket`.
struct FakePebble {
    _dir: tempfile::TempDir,
    base: PathBuf,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakePebble {
    /// Serves `handler`; `None` from the handler means "never answer".
    fn start(
        handler: impl Fn(&Seen) -> Option<Answer> + Send + Sync + 'static,
    ) -> Result<Self, Box<dyn Error>> {
        let dir = tempfile::tempdir()?;
        let base = dir.path().to_path_buf();
        std::fs::create_dir_all(base.join("workload"))?;
        let listener = UnixListener::bind(base.join("workload").join("pebble.socket"))?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let seen_in = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let handler = Arc::clone(&handler);
                let seen = Arc::clone(&seen_in);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let handler = Arc::clone(&handler);
                        let seen = Arc::clone(&seen);
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes().to_vec())
                                .unwrap_or_default();
                            let header = |name: &str| {
                                parts
                                    .headers
                                    .get(name)
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or_default()
                                    .to_owned()
                            };
                            let request = Seen {
                                method: parts.method.to_string(),
                                target: parts.uri.to_string(),
                                content_type: header("content-type"),
                                accept: header("accept"),
                                body,
                            };
                            if let Ok(mut log) = seen.lock() {
                                log.push(request.clone());
                            }
                            let Some(answer) = handler(&request) else {
                                // Never answer: park this connection's request forever.
                                std::future::pending::<()>().await;
                                unreachable!("pending() never completes");
                            };
                            let response = Response::builder()
                                .status(answer.status)
                                .header("content-type", answer.content_type)
                                .body(Full::new(Bytes::from(answer.body)))
                                .unwrap_or_default();
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            _dir: dir,
            base,
            seen,
        })
    }

    fn client(&self) -> Pebble {
        Pebble::new(&self.base, "workload").with_timeout(Duration::from_millis(1500))
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|log| log.clone()).unwrap_or_default()
    }
}

fn gluetun_layer() -> Layer {
    let mut environment = BTreeMap::new();
    environment.insert("VPN_TYPE".to_owned(), "wireguard".to_owned());
    environment.insert("VPN_ENDPOINT_PORT".to_owned(), "51820".to_owned());
    let mut layer = Layer {
        summary: Some("gluetun layer".into()),
        ..Layer::default()
    };
    layer.services.insert(
        "gluetun".into(),
        Service {
            r#override: Some(Override::Replace),
            summary: Some("gluetun VPN client".into()),
            command: Some("/gluetun-entrypoint".into()),
            startup: Some(Startup::Enabled),
            environment,
            on_failure: Some(ServiceAction::Restart),
            ..Service::default()
        },
    );
    layer.checks.insert(
        "vpn-up".into(),
        Check {
            r#override: Some(Override::Replace),
            level: Some(CheckLevel::Ready),
            period: Some("1m".into()),
            http: Some(HttpCheck {
                url: "http://localhost:8000/v1/publicip/ip".into(),
                headers: BTreeMap::new(),
            }),
            ..Check::default()
        },
    );
    layer
}

#[tokio::test]
async fn system_info_and_can_connect() -> TestResult {
    let pebble = FakePebble::start(|_| Some(sync(&json!({"version": "1.19.0", "boot-id": "x"}))))?;
    let client = pebble.client();
    assert!(client.can_connect().await);
    assert_eq!(client.system_info().await?.version, "1.19.0");
    let seen = pebble.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("GET", "/v1/system-info")
    );
    assert_eq!(seen[0].accept, "application/json");
    assert!(seen[0].body.is_empty());
    Ok(())
}

#[tokio::test]
async fn no_socket_means_cannot_connect() -> TestResult {
    let dir = tempfile::tempdir()?;
    let client = Pebble::new(dir.path(), "workload");
    assert_eq!(client.socket(), dir.path().join("workload/pebble.socket"));
    assert!(!client.can_connect().await);
    let error = client
        .system_info()
        .await
        .err()
        .ok_or("expected an error")?;
    assert!(matches!(error, PebbleError::Connect { .. }), "{error:?}");
    assert!(error.is_unreachable());
    Ok(())
}

#[tokio::test]
async fn add_layer_sends_ops_body_with_the_layer_as_json_text() -> TestResult {
    let pebble = FakePebble::start(|_| Some(sync(&json!(true))))?;
    pebble
        .client()
        .add_layer("gluetun", &gluetun_layer(), true)
        .await?;
    let seen = pebble.seen();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("POST", "/v1/layers")
    );
    assert_eq!(seen[0].content_type, "application/json");
    let body = seen[0].json();
    let text = body["layer"]
        .as_str()
        .ok_or("layer is not a string")?
        .to_owned();
    assert_eq!(
        body,
        json!({"action": "add", "combine": true, "label": "gluetun", "format": "yaml", "layer": text})
    );
    insta::assert_snapshot!(text, @r#"{"summary":"gluetun layer","services":{"gluetun":{"override":"replace","summary":"gluetun VPN client","command":"/gluetun-entrypoint","startup":"enabled","environment":{"VPN_ENDPOINT_PORT":"51820","VPN_TYPE":"wireguard"},"on-failure":"restart"}},"checks":{"vpn-up":{"override":"replace","level":"ready","period":"1m","http":{"url":"http://localhost:8000/v1/publicip/ip"}}}}"#);
    // JSON, which a YAML reader (yaml.v3 in Pebble, serde-saphyr here) reads as the same layer.
    let back: Layer = serde_saphyr::from_str(&text)?;
    assert_eq!(back, gluetun_layer());
    Ok(())
}

/// What Pebble's `GET /v1/plan?format=yaml` returns after the layer above was added
/// (yaml.v3 rendering, defaults filled in: threshold 3, period canonicalised to `1m0s`).
const PLAN_WITH_LAYER: &str = r#"services:
    gluetun:
        summary: gluetun VPN client
        startup: enabled
        override: replace
        command: /gluetun-entrypoint
        environment:
            VPN_ENDPOINT_PORT: "51820"
            VPN_TYPE: wireguard
        on-failure: restart
    other:
        override: replace
        command: /bin/other
checks:
    vpn-up:
        override: replace
        level: ready
        period: 1m0s
        threshold: 3
        http:
            url: http://localhost:8000/v1/publicip/ip
"#;

#[tokio::test]
async fn plan_is_parsed_and_holds_decides_re_adding() -> TestResult {
    let pebble = FakePebble::start(|seen| {
        Some(match seen.method.as_str() {
            "GET" => sync(&json!(PLAN_WITH_LAYER)),
            _ => sync(&json!(true)),
        })
    })?;
    let client = pebble.client();
    let plan = client.plan().await?;
    assert_eq!(plan.services.len(), 2);
    assert!(plan.holds(&gluetun_layer()));
    // Unchanged layer: a plan read, no add.
    assert!(!client.ensure_layer("gluetun", &gluetun_layer()).await?);
    // A changed environment value: added.
    let mut changed = gluetun_layer();
    if let Some(service) = changed.services.get_mut("gluetun") {
        service
            .environment
            .insert("VPN_TYPE".into(), "openvpn".into());
    }
    assert!(!plan.holds(&changed));
    assert!(client.ensure_layer("gluetun", &changed).await?);
    let targets: Vec<_> = pebble
        .seen()
        .iter()
        .map(|s| format!("{} {}", s.method, s.target))
        .collect();
    assert_eq!(
        targets,
        [
            "GET /v1/plan?format=yaml",
            "GET /v1/plan?format=yaml",
            "GET /v1/plan?format=yaml",
            "POST /v1/layers"
        ]
    );
    Ok(())
}

#[test]
fn holds_semantics() -> TestResult {
    let plan = Plan::from_yaml(PLAN_WITH_LAYER)?;
    // replace: an extra environment entry in the plan means the layer differs.
    let mut fewer = gluetun_layer();
    if let Some(service) = fewer.services.get_mut("gluetun") {
        service.environment.remove("VPN_ENDPOINT_PORT");
    }
    assert!(!plan.holds(&fewer));
    // merge: extra entries from other layers are fine.
    if let Some(service) = fewer.services.get_mut("gluetun") {
        service.r#override = Some(Override::Merge);
    }
    assert!(plan.holds(&fewer));
    // A service the plan lacks.
    let mut more = gluetun_layer();
    more.services.insert("new".into(), Service::default());
    assert!(!plan.holds(&more));
    // An empty plan holds only an empty layer.
    assert!(Plan::from_yaml("{}\n")?.holds(&Layer::default()));
    assert!(!Plan::from_yaml("")?.holds(&gluetun_layer()));
    Ok(())
}

#[tokio::test]
async fn services_start_stop_restart_replan_wait_for_the_change() -> TestResult {
    let pebble = FakePebble::start(|seen| {
        Some(match (seen.method.as_str(), seen.target.as_str()) {
            ("GET", t) if t.starts_with("/v1/services") => sync(&json!([
                {"name": "gluetun", "startup": "enabled", "current": "active", "current-since": "2026-11-24T22:00:00Z"},
                {"name": "other", "startup": "disabled", "current": "inactive"}
            ])),
            ("POST", "/v1/services") => accepted("42"),
            ("GET", t) if t.starts_with("/v1/changes/42/wait") => {
                sync(&change("42", "start", None))
            }
            _ => error(400, "unexpected", None),
        })
    })?;
    let client = pebble.client();
    let services = client.services(&[]).await?;
    assert!(services[0].is_running() && !services[1].is_running());
    client.services(&["gluetun", "other"]).await?;
    let wait = Duration::from_secs(30);
    assert!(client.start(&["gluetun"], wait).await?.ready);
    client.stop(&["gluetun"], wait).await?;
    client.restart(&["gluetun"], wait).await?;
    client.replan(Duration::from_millis(2500)).await?;
    let submitted = client.start(&["gluetun"], Duration::ZERO).await?;
    assert_eq!((submitted.id.as_str(), submitted.ready), ("42", false));
    let seen = pebble.seen();
    let targets: Vec<_> = seen
        .iter()
        .map(|s| format!("{} {}", s.method, s.target))
        .collect();
    assert_eq!(
        targets,
        [
            "GET /v1/services",
            "GET /v1/services?names=gluetun%2Cother",
            "POST /v1/services",
            "GET /v1/changes/42/wait?timeout=30.000s",
            "POST /v1/services",
            "GET /v1/changes/42/wait?timeout=30.000s",
            "POST /v1/services",
            "GET /v1/changes/42/wait?timeout=30.000s",
            "POST /v1/services",
            "GET /v1/changes/42/wait?timeout=2.500s",
            "POST /v1/services",
        ]
    );
    let bodies: Vec<_> = seen
        .iter()
        .filter(|s| s.method == "POST")
        .map(Seen::json)
        .collect();
    assert_eq!(
        bodies,
        [
            json!({"action": "start", "services": ["gluetun"]}),
            json!({"action": "stop", "services": ["gluetun"]}),
            json!({"action": "restart", "services": ["gluetun"]}),
            json!({"action": "replan", "services": []}),
            json!({"action": "start", "services": ["gluetun"]}),
        ]
    );
    Ok(())
}

#[tokio::test]
async fn failed_change_and_wait_timeout_are_typed() -> TestResult {
    let pebble = FakePebble::start(|seen| {
        Some(match seen.target.as_str() {
            "/v1/services" => accepted("7"),
            t if t.starts_with("/v1/changes/7/wait") => sync(&change(
                "7",
                "start",
                Some("cannot start service: exited quickly with code 1"),
            )),
            _ => error(504, "timed out waiting for change after 1s", None),
        })
    })?;
    let client = pebble.client();
    let error = client
        .start(&["svc"], Duration::from_secs(1))
        .await
        .err()
        .ok_or("expected error")?;
    match error {
        PebbleError::Change { id, err, .. } => {
            assert_eq!(id, "7");
            assert!(err.contains("exited quickly"));
        }
        other => return Err(format!("unexpected {other:?}").into()),
    }
    let error = client
        .wait_change("8", Duration::from_secs(1))
        .await
        .err()
        .ok_or("expected error")?;
    assert!(matches!(error, PebbleError::Timeout { .. }), "{error:?}");
    Ok(())
}

#[tokio::test]
async fn checks_query_matches_ops() -> TestResult {
    let pebble = FakePebble::start(|_| {
        Some(sync(&json!([
            {"name": "vpn-up", "level": "ready", "startup": "enabled", "status": "down",
             "successes": 0, "failures": 3, "threshold": 3, "change-id": "9"}
        ])))
    })?;
    let client = pebble.client();
    let checks = client.checks(None, &[]).await?;
    assert_eq!(checks[0].status, "down");
    assert_eq!(checks[0].failures, 3);
    assert_eq!(checks[0].change_id.as_deref(), Some("9"));
    client.checks(Some(CheckLevel::Ready), &["a", "b"]).await?;
    let targets: Vec<_> = pebble.seen().into_iter().map(|s| s.target).collect();
    assert_eq!(
        targets,
        ["/v1/checks", "/v1/checks?level=ready&names=a&names=b"]
    );
    Ok(())
}

/// A multipart part: its header block and content.
type Part = (String, Vec<u8>);

/// Splits a multipart body (as our client or Go's writer produce it) into its parts.
fn multipart(body: &[u8], content_type: &str) -> Result<Vec<Part>, Box<dyn Error>> {
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .ok_or("no boundary")?
        .trim_matches('"')
        .to_owned();
    let text = body.to_vec();
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut positions = Vec::new();
    let mut i = 0;
    while i + delimiter.len() <= text.len() {
        if text[i..i + delimiter.len()] == delimiter[..] {
            positions.push(i);
            i += delimiter.len();
        } else {
            i += 1;
        }
    }
    for pair in positions.windows(2) {
        let part = &text[pair[0] + delimiter.len() + 2..pair[1] - 2];
        let split = part
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("no header end")?;
        parts.push((
            String::from_utf8(part[..split].to_vec())?,
            part[split + 4..].to_vec(),
        ));
    }
    Ok(parts)
}

/// Collects tracing output of the current thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut out) = self.0.lock() {
            out.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn push_sends_multipart_with_mode_and_never_logs_content() -> TestResult {
    let pebble =
        FakePebble::start(|_| Some(sync(&json!([{"path": "/gluetun/wireguard/private_key"}]))))?;
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let secret = b"SECRET-wg-key-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let options = FileOptions {
        make_parents: true,
        permissions: Some(0o600),
        user_id: Some(0),
        user: Some("root".into()),
        group_id: Some(0),
        group: Some("root".into()),
    };
    pebble
        .client()
        .push("/gluetun/wireguard/private_key", secret, &options)
        .await?;
    let seen = pebble.seen();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("POST", "/v1/files")
    );
    assert_eq!(seen[0].accept, "application/json");
    assert!(
        seen[0]
            .content_type
            .starts_with("multipart/form-data; boundary=")
    );
    let parts = multipart(&seen[0].body, &seen[0].content_type)?;
    assert_eq!(parts.len(), 2);
    assert_eq!(
        parts[0].0,
        "Content-Type: application/json\r\nContent-Disposition: form-data; name=\"request\""
    );
    let metadata: Value = serde_json::from_slice(&parts[0].1)?;
    assert_eq!(
        metadata,
        json!({"action": "write", "files": [{
            "path": "/gluetun/wireguard/private_key", "make-dirs": true, "permissions": "600",
            "user-id": 0, "user": "root", "group-id": 0, "group": "root"
        }]})
    );
    assert_eq!(
        parts[1].0,
        "Content-Type: application/octet-stream\r\nContent-Disposition: form-data; name=\"files\"; filename=\"/gluetun/wireguard/private_key\""
    );
    assert_eq!(parts[1].1, secret);
    let log = String::from_utf8(captured.0.lock().map(|l| l.clone()).unwrap_or_default())?;
    assert!(log.contains("/gluetun/wireguard/private_key"), "{log}");
    assert!(!log.contains("SECRET"), "{log}");
    Ok(())
}

#[tokio::test]
async fn push_path_error_is_typed() -> TestResult {
    let pebble = FakePebble::start(|_| {
        Some(sync(&json!([{"path": "/nope/f", "error": {
            "message": "open /nope/f: no such file or directory", "kind": "not-found"}}])))
    })?;
    let error = pebble
        .client()
        .push("/nope/f", b"x", &FileOptions::default())
        .await
        .err()
        .ok_or("expected error")?;
    match error {
        PebbleError::Path {
            path,
            kind,
            message,
            ..
        } => {
            assert_eq!((path.as_str(), kind.as_str()), ("/nope/f", "not-found"));
            assert!(message.contains("no such file"));
        }
        other => return Err(format!("unexpected {other:?}").into()),
    }
    Ok(())
}

/// What Pebble's `readFilesResponse` writes (Go's `mime/multipart` writer).
fn go_multipart_read(path: &str, content: &[u8], error: Option<&Value>) -> Answer {
    let boundary = "b8e1c3a3f2d04e6d9f5c0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b";
    let mut body = Vec::new();
    let mut result = json!({"path": path});
    if let Some(error) = error {
        result["error"] = error.clone();
    } else {
        let _ = write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{path}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    let metadata = json!({"type": "sync", "status-code": 200, "status": "OK", "result": [result]});
    let _ = write!(
        body,
        "--{boundary}\r\nContent-Disposition: form-data; name=\"response\"\r\nContent-Type: application/json\r\n\r\n{metadata}\n\r\n--{boundary}--\r\n"
    );
    Answer {
        status: 200,
        content_type: format!("multipart/form-data; boundary={boundary}"),
        body,
    }
}

#[tokio::test]
async fn pull_reads_the_multipart_answer() -> TestResult {
    let content = b"line 1\r\n--not-a-boundary\r\nline 3\n".to_vec();
    let answer_content = content.clone();
    let pebble = FakePebble::start(move |seen| {
        Some(if seen.target.contains("missing") {
            go_multipart_read(
                "/config/missing",
                b"",
                Some(
                    &json!({"message": "stat /config/missing: no such file or directory", "kind": "not-found"}),
                ),
            )
        } else {
            go_multipart_read("/config/qBittorrent.conf", &answer_content, None)
        })
    })?;
    let client = pebble.client();
    assert_eq!(
        client.pull("/config/qBittorrent.conf", 1024).await?,
        content
    );
    let error = client
        .pull("/config/missing", 1024)
        .await
        .err()
        .ok_or("expected error")?;
    assert!(
        matches!(&error, PebbleError::Path { kind, .. } if kind == "not-found"),
        "{error:?}"
    );
    assert!(error.is_path_not_found() && !error.is_unreachable());
    let seen = pebble.seen();
    assert_eq!(
        seen[0].target,
        "/v1/files?action=read&path=%2Fconfig%2FqBittorrent.conf"
    );
    assert_eq!(seen[0].accept, "multipart/form-data");
    Ok(())
}

#[tokio::test]
async fn pull_refuses_a_file_over_the_callers_bound() -> TestResult {
    let pebble = FakePebble::start(|seen| {
        let path = if seen.target.contains("at-bound") {
            "/config/at-bound"
        } else if seen.target.contains("over-by-one") {
            "/config/over-by-one"
        } else {
            "/config/huge"
        };
        let size = match path {
            "/config/at-bound" => 1024,
            "/config/over-by-one" => 1025,
            // More than the bound and the framing allowance: refused on its Content-Length.
            _ => 1024 * 1024,
        };
        Some(go_multipart_read(path, &vec![b'x'; size], None))
    })?;
    let client = pebble.client();
    assert_eq!(client.pull("/config/at-bound", 1024).await?.len(), 1024);
    for path in ["/config/over-by-one", "/config/huge"] {
        let error = client
            .pull(path, 1024)
            .await
            .err()
            .ok_or("expected error")?;
        assert!(
            matches!(&error, PebbleError::TooLarge { op: "pull file", path: p, limit: 1024 } if p == path),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("Pebble pull file: {path} is larger than 1024 bytes")
        );
        assert!(!error.is_unreachable() && !error.is_path_not_found());
    }
    Ok(())
}

/// A Pebble on `<dir>/<name>.socket` that answers every request 200 with `content_type` and a
/// body that never ends (chunks of 64 KiB for as long as the client reads), or, with
/// `announce`, a `Content-Length` of that many bytes and then nothing at all.
fn endless_pebble(
    dir: &Path,
    name: &str,
    content_type: &'static str,
    announce: Option<usize>,
) -> std::io::Result<PathBuf> {
    let socket = dir.join(format!("{name}.socket"));
    let listener = UnixListener::bind(&socket)?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let framing = announce.map_or_else(
                    || "Transfer-Encoding: chunked".to_owned(),
                    |n| format!("Content-Length: {n}"),
                );
                let head =
                    format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n{framing}\r\n\r\n");
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                if announce.is_some() {
                    std::future::pending::<()>().await;
                }
                let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
                // Ends when the client hangs up.
                while stream.write_all(chunk.as_bytes()).await.is_ok() {}
            });
        }
    });
    Ok(socket)
}

#[tokio::test]
async fn answers_are_read_only_up_to_their_bound() -> TestResult {
    let dir = tempfile::tempdir()?;
    // Bodies without end: a client reading the whole body before checking its size would run
    // into the 30 s deadline (`Timeout`) instead.
    let client = |socket: PathBuf| Pebble::at_socket(socket).with_timeout(Duration::from_secs(30));
    let multipart = endless_pebble(
        dir.path(),
        "multipart",
        "multipart/form-data; boundary=b",
        None,
    )?;
    let error = client(multipart)
        .pull("/config/qBittorrent.conf", 1024 * 1024)
        .await
        .err()
        .ok_or("expected error")?;
    assert!(
        matches!(&error, PebbleError::TooLarge { path, limit: 1_048_576, .. } if path == "/config/qBittorrent.conf"),
        "{error:?}"
    );
    let json = endless_pebble(dir.path(), "json", "application/json", None)?;
    let error = client(json).plan().await.err().ok_or("expected error")?;
    assert!(
        matches!(error, PebbleError::ResponseTooLarge { op: "get plan", limit } if limit == MAX_RESPONSE_BYTES),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("Pebble's answer to get plan is larger than {MAX_RESPONSE_BYTES} bytes")
    );
    // An announced length over the bound is refused before any of the body is sent.
    let announced = endless_pebble(
        dir.path(),
        "announced",
        "application/json",
        Some(MAX_RESPONSE_BYTES + 1),
    )?;
    let error = client(announced)
        .services(&[])
        .await
        .err()
        .ok_or("expected error")?;
    assert!(
        matches!(error, PebbleError::ResponseTooLarge { op: "get services", limit } if limit == MAX_RESPONSE_BYTES),
        "{error:?}"
    );
    Ok(())
}

#[tokio::test]
async fn list_files_and_make_dir() -> TestResult {
    let pebble = FakePebble::start(|seen| {
        Some(match (seen.method.as_str(), seen.target.as_str()) {
            ("GET", t) if t.contains("nope") => error(
                404,
                "stat /nope: no such file or directory",
                Some("not-found"),
            ),
            ("GET", _) => sync(&json!([{
                "path": "/config/a.conf", "name": "a.conf", "type": "file", "size": 12,
                "permissions": "644", "last-modified": "2026-11-24T22:00:00Z",
                "user-id": 1000, "user": "abc", "group-id": 1000, "group": "abc"
            }])),
            _ => sync(&json!([{"path": "/config/sub"}])),
        })
    })?;
    let client = pebble.client();
    let files = client.list_files("/config", Some("*.conf"), false).await?;
    assert_eq!(
        (files[0].name.as_str(), files[0].permissions.as_str()),
        ("a.conf", "644")
    );
    assert_eq!(files[0].user_id, Some(1000));
    client.list_files("/config", None, true).await?;
    let error = client
        .list_files("/nope", None, false)
        .await
        .err()
        .ok_or("expected error")?;
    assert!(
        matches!(&error, PebbleError::Path { kind, .. } if kind == "not-found"),
        "{error:?}"
    );
    client
        .make_dir(
            "/config/sub",
            &FileOptions {
                make_parents: true,
                permissions: Some(0o750),
                user_id: Some(1000),
                ..FileOptions::default()
            },
        )
        .await?;
    let seen = pebble.seen();
    assert_eq!(
        seen[0].target,
        "/v1/files?path=%2Fconfig&pattern=%2A.conf&action=list"
    );
    assert_eq!(
        seen[1].target,
        "/v1/files?path=%2Fconfig&itself=true&action=list"
    );
    assert_eq!(
        (seen[3].method.as_str(), seen[3].target.as_str()),
        ("POST", "/v1/files")
    );
    assert_eq!(
        seen[3].json(),
        json!({"action": "make-dirs", "dirs": [{"path": "/config/sub", "make-parents": true, "permissions": "750", "user-id": 1000}]})
    );
    Ok(())
}

#[tokio::test]
async fn remove_path_matches_ops() -> TestResult {
    let pebble = FakePebble::start(|seen| {
        let path = seen.json()["paths"][0]["path"].clone();
        Some(if path == "/busy" {
            sync(&json!([{"path": "/busy", "error": {
                "message": "remove /busy: directory not empty", "kind": "generic-file-error"}}]))
        } else {
            sync(&json!([{ "path": path }]))
        })
    })?;
    let client = pebble.client();
    client.remove_path("/gluetun/key", false).await?;
    client.remove_path("/gluetun", true).await?;
    let error = client
        .remove_path("/busy", false)
        .await
        .err()
        .ok_or("expected error")?;
    assert!(
        matches!(&error, PebbleError::Path { kind, .. } if kind == "generic-file-error"),
        "{error:?}"
    );
    let bodies: Vec<_> = pebble.seen().iter().map(Seen::json).collect();
    assert_eq!(
        bodies[..2],
        [
            json!({"action": "remove", "paths": [{"path": "/gluetun/key"}]}),
            json!({"action": "remove", "paths": [{"path": "/gluetun", "recursive": true}]}),
        ]
    );
    Ok(())
}

#[test]
fn holds_compares_numbers_and_ids() -> TestResult {
    let plan = Plan::from_yaml(
        "services:\n    web:\n        override: merge\n        command: /bin/web\n        user-id: 1000\n        group: abc\n        backoff-delay: 500ms\nchecks:\n    port:\n        override: replace\n        threshold: 5\n        period: 10s\n        tcp:\n            port: 8080\n",
    )?;
    let mut layer = Layer::default();
    layer.services.insert(
        "web".into(),
        Service {
            r#override: Some(Override::Merge),
            command: Some("/bin/web".into()),
            user_id: Some(1000),
            backoff_delay: Some("0.5s".into()),
            ..Service::default()
        },
    );
    layer.checks.insert(
        "port".into(),
        Check {
            r#override: Some(Override::Replace),
            threshold: Some(5),
            tcp: Some(juju_charm::pebble::TcpCheck {
                port: 8080,
                host: None,
            }),
            ..Check::default()
        },
    );
    assert!(plan.holds(&layer));
    if let Some(check) = layer.checks.get_mut("port") {
        check.tcp = Some(juju_charm::pebble::TcpCheck {
            port: 8081,
            host: None,
        });
    }
    assert!(!plan.holds(&layer));
    Ok(())
}

#[tokio::test]
async fn api_errors_carry_pebbles_message() -> TestResult {
    let pebble =
        FakePebble::start(|_| Some(error(400, "cannot parse layer YAML: bad", Some("generic"))))?;
    let error = pebble
        .client()
        .add_layer("x", &Layer::default(), false)
        .await
        .err()
        .ok_or("expected error")?;
    match &error {
        PebbleError::Api {
            code,
            kind,
            message,
            op,
        } => {
            assert_eq!(
                (*code, kind.as_deref(), message.as_str(), *op),
                (
                    400,
                    Some("generic"),
                    "cannot parse layer YAML: bad",
                    "add layer"
                )
            );
        }
        other => return Err(format!("unexpected {other:?}").into()),
    }
    assert!(error.to_string().contains("cannot parse layer YAML: bad"));
    assert!(!error.is_unreachable());
    Ok(())
}

#[tokio::test]
async fn a_non_json_error_body_is_kept_as_the_message() -> TestResult {
    let pebble = FakePebble::start(|_| {
        Some(Answer {
            status: 502,
            content_type: "text/plain".into(),
            body: b"bad gateway\n".to_vec(),
        })
    })?;
    let error = pebble.client().plan().await.err().ok_or("expected error")?;
    assert!(
        matches!(&error, PebbleError::Api { code: 502, kind: None, message, .. } if message == "bad gateway"),
        "{error:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_silent_pebble_times_out_within_the_bound() -> TestResult {
    let pebble = FakePebble::start(|_| None)?;
    let client = pebble.client().with_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let error = client.system_info().await.err().ok_or("expected error")?;
    let elapsed = started.elapsed();
    assert!(matches!(error, PebbleError::Timeout { .. }), "{error:?}");
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    assert!(!client.can_connect().await);
    Ok(())
}

#[tokio::test]
async fn a_dropped_connection_is_an_http_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let socket = dir.path().join("pebble.socket");
    let listener = UnixListener::bind(&socket)?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    let error = Pebble::at_socket(&socket)
        .system_info()
        .await
        .err()
        .ok_or("expected error")?;
    assert!(matches!(error, PebbleError::Http { .. }), "{error:?}");
    Ok(())
}
