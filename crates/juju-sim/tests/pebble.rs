//! The Pebble server driven with raw HTTP/1.1 over its Unix socket: every endpoint, the layer
//! combine/override rules, replan, files with permissions and owners, and errors.

// Scenario tests read best in one piece.
#![allow(clippy::too_many_lines, clippy::many_single_char_names)]

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Mutex};

use juju_sim::pebble::{PebbleState, Server, ServerHandle};
use serde_json::{Value, json};

struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

fn http(socket: &Path, method: &str, target: &str, content_type: &str, body: &[u8]) -> Reply {
    let mut s = UnixStream::connect(socket).unwrap_or_else(|e| panic!("connect: {e}"));
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())
        .and_then(|()| s.write_all(body))
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("read: {e}"));
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end"));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|_| l["content-type:".len()..].trim().to_owned())
        })
        .unwrap_or_default();
    Reply {
        status,
        content_type,
        body: raw[split + 4..].to_vec(),
    }
}

fn get(socket: &Path, target: &str) -> Reply {
    http(socket, "GET", target, "application/json", b"")
}

fn post(socket: &Path, target: &str, body: &Value) -> Reply {
    http(
        socket,
        "POST",
        target,
        "application/json",
        body.to_string().as_bytes(),
    )
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    storage: std::path::PathBuf,
    socket: std::path::PathBuf,
    state: Arc<Mutex<PebbleState>>,
    _server: ServerHandle,
}

fn start() -> Fixture {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let root = dir.path().join("rootfs");
    let storage = dir.path().join("storage-config");
    let state = PebbleState::new(root.clone(), vec![("/config".to_owned(), storage.clone())])
        .unwrap_or_else(|e| panic!("state: {e}"));
    let state = Arc::new(Mutex::new(state));
    let socket = dir.path().join("pebble.socket");
    let server =
        Server::start(&socket, Arc::clone(&state)).unwrap_or_else(|e| panic!("start: {e}"));
    Fixture {
        _dir: dir,
        root,
        storage,
        socket,
        state,
        _server: server,
    }
}

fn add_layer(socket: &Path, label: &str, combine: bool, yaml: &str) -> Reply {
    post(
        socket,
        "/v1/layers",
        &json!({ "action": "add", "label": label, "combine": combine, "format": "yaml", "layer": yaml }),
    )
}

fn plan(socket: &Path) -> Value {
    let r = get(socket, "/v1/plan?format=yaml");
    assert_eq!(r.status, 200);
    let yaml = r.json()["result"].as_str().unwrap_or_default().to_owned();
    serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("plan YAML {yaml:?}: {e}"))
}

#[test]
fn system_info_envelope_and_unknown_paths() {
    let f = start();
    let r = get(&f.socket, "/v1/system-info");
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "application/json");
    let v = r.json();
    assert_eq!(v["type"], "sync");
    assert_eq!(v["status-code"], 200);
    assert_eq!(v["status"], "OK");
    assert!(v["result"]["version"].is_string());
    let r = get(&f.socket, "/v1/nope");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["type"], "error");
    assert_eq!(r.json()["result"]["message"], "not found");
    let r = post(&f.socket, "/v1/exec", &json!({ "command": ["ls"] }));
    assert_eq!(r.status, 501);
    assert!(
        r.json()["result"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("juju-sim")
    );
    let r = get(&f.socket, "/v1/notices");
    assert_eq!(r.json()["result"], json!([]));
    let r = get(&f.socket, "/v1/plan?format=json");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["result"]["message"], "invalid format \"json\"");
}

#[test]
fn layers_combine_and_override() {
    let f = start();
    let base = "summary: base\nservices:\n  web:\n    override: replace\n    command: /bin/web --port 80\n    startup: enabled\n    environment:\n      A: '1'\n    after: [db]\n";
    assert_eq!(add_layer(&f.socket, "base", false, base).status, 200);
    // Same label without combine: refused.
    let r = add_layer(&f.socket, "base", false, base);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["result"]["message"],
        "layer \"base\" already exists"
    );
    // A merge layer: maps merge, lists append, scalars replace.
    let merge = "services:\n  web:\n    override: merge\n    command: /bin/web --port 81\n    environment:\n      B: '2'\n    after: [cache]\n";
    assert_eq!(add_layer(&f.socket, "extra", false, merge).status, 200);
    let p = plan(&f.socket);
    assert_eq!(p["services"]["web"]["command"], "/bin/web --port 81");
    assert_eq!(
        p["services"]["web"]["environment"],
        json!({ "A": "1", "B": "2" })
    );
    assert_eq!(p["services"]["web"]["after"], json!(["db", "cache"]));
    assert_eq!(p["services"]["web"]["startup"], "enabled");
    // Replace drops what earlier layers said.
    let replace = "services:\n  web:\n    override: replace\n    command: /bin/other\n";
    assert_eq!(add_layer(&f.socket, "extra", true, replace).status, 200);
    let p = plan(&f.socket);
    assert_eq!(p["services"]["web"]["command"], "/bin/other");
    assert!(p["services"]["web"]["environment"].is_null());
    assert_eq!(f.state.lock().map_or(0, |s| s.layers.len()), 2);
    // Errors: missing or invalid override, no command, bad YAML, bad payload.
    let r = add_layer(&f.socket, "x", false, "services:\n  s:\n    command: c\n");
    assert_eq!(
        r.json()["result"]["message"],
        "layer \"x\" must define \"override\" for service \"s\""
    );
    let r = add_layer(
        &f.socket,
        "x",
        false,
        "services:\n  s:\n    override: sideways\n    command: c\n",
    );
    assert_eq!(
        r.json()["result"]["message"],
        "layer \"x\" has invalid \"override\" value for service \"s\""
    );
    let r = add_layer(
        &f.socket,
        "x",
        false,
        "services:\n  s:\n    override: merge\n",
    );
    assert_eq!(
        r.json()["result"]["message"],
        "plan must define \"command\" for service \"s\""
    );
    let r = add_layer(&f.socket, "x", false, "services: [unbalanced");
    assert_eq!(r.status, 400);
    assert!(
        r.json()["result"]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("cannot parse layer YAML")
    );
    let r = post(
        &f.socket,
        "/v1/layers",
        &json!({ "action": "add", "format": "yaml", "layer": "" }),
    );
    assert_eq!(r.json()["result"]["message"], "label must be set");
    let r = http(
        &f.socket,
        "POST",
        "/v1/layers",
        "application/json",
        b"{nope",
    );
    assert_eq!(r.status, 400);
    // Failed adds changed nothing.
    assert_eq!(f.state.lock().map_or(0, |s| s.layers.len()), 2);
}

#[test]
fn services_changes_and_replan() {
    let f = start();
    let layer = "services:\n  web:\n    override: replace\n    command: web\n    startup: enabled\n  job:\n    override: replace\n    command: job\n";
    assert_eq!(add_layer(&f.socket, "l", false, layer).status, 200);
    let services =
        |f: &Fixture| -> Value { get(&f.socket, "/v1/services").json()["result"].clone() };
    let s = services(&f);
    assert_eq!(s[0]["name"], "job");
    assert_eq!(s[0]["startup"], "disabled");
    assert_eq!(s[0]["current"], "inactive");
    assert_eq!(s[1]["startup"], "enabled");

    // replan starts the enabled service; the change is async and already done.
    let r = post(
        &f.socket,
        "/v1/services",
        &json!({ "action": "replan", "services": [] }),
    );
    assert_eq!(r.status, 202);
    let v = r.json();
    assert_eq!(v["type"], "async");
    let change = v["change"].as_str().unwrap_or_default().to_owned();
    let w = get(
        &f.socket,
        &format!("/v1/changes/{change}/wait?timeout=4.000s"),
    )
    .json();
    assert_eq!(w["result"]["status"], "Done");
    assert_eq!(w["result"]["ready"], true);
    assert_eq!(w["result"]["tasks"][0]["kind"], "start");
    assert_eq!(services(&f)[1]["current"], "active");
    assert_eq!(services(&f)[0]["current"], "inactive");

    // start/stop/restart by name; names filter.
    let r = post(
        &f.socket,
        "/v1/services",
        &json!({ "action": "start", "services": ["job"] }),
    );
    assert_eq!(r.status, 202);
    let one = get(&f.socket, "/v1/services?names=job").json()["result"].clone();
    assert_eq!(one.as_array().map_or(0, Vec::len), 1);
    assert_eq!(one[0]["current"], "active");
    post(
        &f.socket,
        "/v1/services",
        &json!({ "action": "stop", "services": ["job"] }),
    );
    assert_eq!(services(&f)[0]["current"], "inactive");

    // replan after a config change restarts the changed running service only.
    let changed = "services:\n  web:\n    override: merge\n    environment:\n      X: '1'\n";
    assert_eq!(add_layer(&f.socket, "l2", false, changed).status, 200);
    let r = post(&f.socket, "/v1/services", &json!({ "action": "replan" }));
    let id = r.json()["change"].as_str().unwrap_or_default().to_owned();
    let c = get(&f.socket, &format!("/v1/changes/{id}")).json()["result"].clone();
    let kinds: Vec<&str> = c["tasks"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["kind"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(kinds, vec!["stop", "start"]);
    // Nothing changed: replan does nothing.
    let r = post(&f.socket, "/v1/services", &json!({ "action": "replan" }));
    let id = r.json()["change"].as_str().unwrap_or_default().to_owned();
    let c = get(&f.socket, &format!("/v1/changes/{id}")).json()["result"].clone();
    assert_eq!(c["tasks"], json!([]));

    // Errors.
    let r = post(
        &f.socket,
        "/v1/services",
        &json!({ "action": "start", "services": [] }),
    );
    assert_eq!(
        r.json()["result"]["message"],
        "no services to start provided"
    );
    let r = post(
        &f.socket,
        "/v1/services",
        &json!({ "action": "start", "services": ["ghost"] }),
    );
    assert_eq!(
        r.json()["result"]["message"],
        "service \"ghost\" does not exist"
    );
    let r = post(
        &f.socket,
        "/v1/services",
        &json!({ "action": "dance", "services": ["web"] }),
    );
    assert_eq!(r.status, 400);
    let r = get(&f.socket, "/v1/changes/999");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()["result"]["message"],
        "cannot find change with id \"999\""
    );
}

#[test]
fn checks_levels_names_and_status() {
    let f = start();
    let layer = "checks:\n  up:\n    override: replace\n    level: alive\n    http:\n      url: http://localhost:8000/\n  ready:\n    override: replace\n    level: ready\n    tcp:\n      port: 8000\n    threshold: 5\n";
    assert_eq!(add_layer(&f.socket, "c", false, layer).status, 200);
    let checks = |q: &str| get(&f.socket, &format!("/v1/checks{q}")).json()["result"].clone();
    let all = checks("");
    assert_eq!(all.as_array().map_or(0, Vec::len), 2);
    assert_eq!(all[0]["name"], "ready");
    assert_eq!(all[0]["threshold"], 5);
    assert_eq!(all[1]["threshold"], 3);
    assert_eq!(all[1]["status"], "up");
    assert_eq!(checks("?level=alive")[0]["name"], "up");
    assert_eq!(checks("?names=ready")[0]["name"], "ready");
    if let Ok(mut s) = f.state.lock() {
        s.set_check_status("up", false);
    }
    let up = checks("?names=up");
    assert_eq!(up[0]["status"], "down");
    assert_eq!(up[0]["failures"], 1);
    let p = plan(&f.socket);
    assert_eq!(p["checks"]["up"]["period"], "10s");
    let r = add_layer(
        &f.socket,
        "bad",
        false,
        "checks:\n  c:\n    override: replace\n",
    );
    assert_eq!(
        r.json()["result"]["message"],
        "plan must specify one of \"http\", \"tcp\" or \"exec\" for check \"c\""
    );
}

fn push(socket: &Path, meta: &Value, path: &str, content: &[u8]) -> Reply {
    let boundary = "b0undary";
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{boundary}\r\nContent-Type: application/json\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n").as_bytes());
    body.extend_from_slice(
        json!({ "action": "write", "files": [meta] })
            .to_string()
            .as_bytes(),
    );
    body.extend_from_slice(format!("\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{path}\"\r\n\r\n").as_bytes());
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    http(
        socket,
        "POST",
        "/v1/files",
        &format!("multipart/form-data; boundary=\"{boundary}\""),
        &body,
    )
}

#[test]
fn files_push_pull_list_mkdir_remove() {
    let f = start();
    // Push without make-dirs into a missing directory fails per file.
    let r = push(
        &f.socket,
        &json!({ "path": "/etc/app/conf.yaml" }),
        "/etc/app/conf.yaml",
        b"a: 1\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["result"][0]["error"]["kind"], "not-found");
    // With make-dirs, permissions and an owner.
    let meta = json!({ "path": "/etc/app/conf.yaml", "make-dirs": true, "permissions": "600", "user": "app", "user-id": 584_792, "group": "app", "group-id": 584_792 });
    let r = push(
        &f.socket,
        &meta,
        "/etc/app/conf.yaml",
        b"a: 1\n\r\n--not-a-boundary\n",
    );
    assert_eq!(
        r.json()["result"],
        json!([{ "path": "/etc/app/conf.yaml" }])
    );
    let host = f.root.join("etc/app/conf.yaml");
    assert_eq!(
        std::fs::read(&host).unwrap_or_default(),
        b"a: 1\n\r\n--not-a-boundary\n"
    );
    let mode = std::fs::metadata(&host).map_or(0, |m| m.permissions().mode() & 0o777);
    assert_eq!(mode, 0o600);

    // List: a directory, a pattern, the path itself, a missing path (404).
    let list = get(&f.socket, "/v1/files?action=list&path=/etc/app").json()["result"].clone();
    assert_eq!(list[0]["path"], "/etc/app/conf.yaml");
    assert_eq!(list[0]["name"], "conf.yaml");
    assert_eq!(list[0]["type"], "file");
    assert_eq!(list[0]["size"], 24);
    assert_eq!(list[0]["permissions"], "600");
    assert_eq!(list[0]["user"], "app");
    assert_eq!(list[0]["user-id"], 584_792);
    assert_eq!(list[0]["group"], "app");
    let none = get(
        &f.socket,
        "/v1/files?action=list&path=/etc/app&pattern=*.json",
    )
    .json();
    assert_eq!(none["result"], json!([]));
    let itself =
        get(&f.socket, "/v1/files?action=list&path=/etc/app&itself=true").json()["result"].clone();
    assert_eq!(itself[0]["type"], "directory");
    assert_eq!(itself[0]["permissions"], "755");
    let r = get(&f.socket, "/v1/files?action=list&path=/nope");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["result"]["kind"], "not-found");
    let r = get(&f.socket, "/v1/files?action=list&path=relative");
    assert_eq!(r.status, 400);

    // Pull: multipart with the file and a response part; a missing file reports its error.
    let r = get(&f.socket, "/v1/files?action=read&path=/etc/app/conf.yaml");
    assert!(
        r.content_type.starts_with("multipart/form-data; boundary="),
        "{}",
        r.content_type
    );
    let boundary = r
        .content_type
        .split("boundary=")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let parts = juju_sim::pebble::files::parse_multipart(&r.body, &boundary)
        .unwrap_or_else(|e| panic!("multipart: {e}"));
    assert_eq!(parts[0].name, "files");
    assert_eq!(parts[0].filename.as_deref(), Some("/etc/app/conf.yaml"));
    assert_eq!(parts[0].body, b"a: 1\n\r\n--not-a-boundary\n");
    assert_eq!(parts[1].name, "response");
    let resp: Value = serde_json::from_slice(&parts[1].body).unwrap_or_default();
    assert_eq!(resp["result"], json!([{ "path": "/etc/app/conf.yaml" }]));
    let r = get(&f.socket, "/v1/files?action=read&path=/missing");
    let boundary = r
        .content_type
        .split("boundary=")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let parts = juju_sim::pebble::files::parse_multipart(&r.body, &boundary).unwrap_or_default();
    assert_eq!(parts.len(), 1);
    let resp: Value = serde_json::from_slice(&parts[0].body).unwrap_or_default();
    assert_eq!(resp["result"][0]["error"]["kind"], "not-found");
    assert_eq!(
        resp["result"][0]["error"]["message"],
        "stat /missing: no such file or directory"
    );

    // make-dirs: parents, permissions, existing without make-parents fails.
    let mk = |dirs: Value| {
        post(
            &f.socket,
            "/v1/files",
            &json!({ "action": "make-dirs", "dirs": dirs }),
        )
    };
    let r =
        mk(json!([{ "path": "/var/lib/app/data", "make-parents": true, "permissions": "700" }]));
    assert_eq!(r.json()["result"], json!([{ "path": "/var/lib/app/data" }]));
    let mode = std::fs::metadata(f.root.join("var/lib/app/data"))
        .map_or(0, |m| m.permissions().mode() & 0o777);
    assert_eq!(mode, 0o700);
    let r = mk(json!([{ "path": "/var/lib/app/data" }]));
    assert_eq!(
        r.json()["result"][0]["error"]["message"],
        "mkdir /var/lib/app/data: file exists"
    );
    let r = mk(json!([{ "path": "/var/lib/app/data", "make-parents": true }]));
    assert!(r.json()["result"][0]["error"].is_null());
    let r = mk(json!([{ "path": "/x", "permissions": "99" }]));
    assert!(
        r.json()["result"][0]["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("3-digit octal")
    );

    // `..` cannot climb out of the container.
    let r = push(
        &f.socket,
        &json!({ "path": "/../../escape" }),
        "/../../escape",
        b"x",
    );
    assert!(r.json()["result"][0]["error"].is_null());
    assert!(f.root.join("escape").exists());

    // remove: non-empty dir needs recursive; missing is not-found.
    let rm = |path: &str, recursive: bool| {
        post(
            &f.socket,
            "/v1/files",
            &json!({ "action": "remove", "paths": [{ "path": path, "recursive": recursive }] }),
        )
    };
    let r = rm("/etc/app", false);
    assert_eq!(
        r.json()["result"][0]["error"]["message"],
        "remove /etc/app: directory not empty"
    );
    assert!(rm("/etc/app", true).json()["result"][0]["error"].is_null());
    assert!(!f.root.join("etc/app").exists());
    assert_eq!(
        rm("/etc/app", false).json()["result"][0]["error"]["kind"],
        "not-found"
    );

    // Bad bodies.
    let r = http(
        &f.socket,
        "POST",
        "/v1/files",
        "multipart/form-data; boundary=zz",
        b"garbage",
    );
    assert_eq!(r.status, 400);
    let r = post(&f.socket, "/v1/files", &json!({ "action": "write" }));
    assert_eq!(
        r.json()["result"]["message"],
        "must use multipart with \"write\" action"
    );
}

#[test]
fn storage_mounts_survive_a_reset() {
    let f = start();
    let r = push(
        &f.socket,
        &json!({ "path": "/config/keep.txt" }),
        "/config/keep.txt",
        b"kept",
    );
    assert!(r.json()["result"][0]["error"].is_null());
    let r = push(
        &f.socket,
        &json!({ "path": "/tmp/lose.txt", "make-dirs": true }),
        "/tmp/lose.txt",
        b"lost",
    );
    assert!(r.json()["result"][0]["error"].is_null());
    assert_eq!(
        std::fs::read(f.storage.join("keep.txt")).unwrap_or_default(),
        b"kept"
    );
    assert_eq!(
        add_layer(
            &f.socket,
            "l",
            false,
            "services:\n  s:\n    override: replace\n    command: s\n"
        )
        .status,
        200
    );
    let boot = f
        .state
        .lock()
        .map(|s| s.boot_id.clone())
        .unwrap_or_default();
    if let Ok(mut s) = f.state.lock() {
        s.reset().unwrap_or_else(|e| panic!("reset: {e}"));
    }
    assert_eq!(plan(&f.socket), json!({}));
    let r = get(&f.socket, "/v1/files?action=read&path=/config/keep.txt");
    assert!(String::from_utf8_lossy(&r.body).contains("kept"));
    assert_eq!(
        get(&f.socket, "/v1/files?action=list&path=/tmp/lose.txt").status,
        404
    );
    assert_ne!(
        get(&f.socket, "/v1/system-info").json()["result"]["boot-id"],
        boot
    );
    // The state persists as JSON.
    let saved = f
        .state
        .lock()
        .map(|s| serde_json::to_string(&*s).unwrap_or_default())
        .unwrap_or_default();
    let back: PebbleState = serde_json::from_str(&saved).unwrap_or_else(|e| panic!("reload: {e}"));
    assert_eq!(back.mounts.len(), 1);
}

#[test]
fn reset_spares_a_mount_inside_the_root() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let root = dir.path().join("root");
    let mount = root.join("var/lib/juju/storage/data");
    let mut state = PebbleState::new(root.clone(), vec![("/data".into(), mount.clone())])
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(mount.join("kept"), "k").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(root.join("lost"), "l").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(root.join("var/lost"), "l").unwrap_or_else(|e| panic!("{e}"));
    state.reset().unwrap_or_else(|e| panic!("reset: {e}"));
    assert!(mount.join("kept").exists());
    assert!(!root.join("lost").exists());
    assert!(!root.join("var/lost").exists());
}

#[test]
fn dropping_the_handle_stops_the_server() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let socket = dir.path().join("sub/pebble.socket");
    let state =
        PebbleState::new(dir.path().join("root"), Vec::new()).unwrap_or_else(|e| panic!("{e}"));
    let handle =
        Server::start(&socket, Arc::new(Mutex::new(state))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(handle.socket(), socket);
    assert_eq!(get(&socket, "/v1/health").status, 200);
    drop(handle);
    assert!(!socket.exists());
    assert!(UnixStream::connect(&socket).is_err());
}
