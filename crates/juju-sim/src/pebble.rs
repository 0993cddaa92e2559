//! A Pebble server per workload container: Pebble's HTTP API (the subset charms use) on a Unix
//! socket, backed by a serde-persistable [`PebbleState`].
//!
//! Endpoints (ground truth: Pebble's `internals/daemon/api_*.go`, and ops' `ops/pebble.py`,
//! whose unmodified client the tests drive): `GET /v1/system-info`, `GET /v1/health`,
//! `POST /v1/layers` (see [`plan`] for combine/override rules), `GET /v1/plan?format=yaml`,
//! `GET/POST /v1/services` (start, stop, restart, autostart, replan: each answers an async
//! change), `GET /v1/changes/{id}` and `/wait`, `GET /v1/checks` (`level`, `names`),
//! `GET /v1/files` (`action=read`: Pebble's multipart answer; `action=list` with `pattern` and
//! `itself`), `POST /v1/files` (multipart `write`, JSON `make-dirs` and `remove`; see
//! [`files`]), `GET /v1/notices` (always empty). Envelopes are Pebble's: `{type, status-code,
//! status, result[, change]}`, errors `{type: "error", result: {message[, kind]}}`.
//!
//! Simplifications (each visible to a charm):
//! - Services do not run: the simulator has no workload images. A started service is
//!   `active` until stopped; a change completes (status `Done`) before its id is returned, so
//!   `/wait` answers at once. Dependency order (`after`/`before`/`requires`) is not resolved.
//! - `replan` restarts the running services whose plan entry changed since they were started
//!   and starts every `startup: enabled` service not running, as Pebble does.
//! - Checks are not performed: their status is `up` until the simulator sets it
//!   ([`PebbleState::set_check_status`]), e.g. from a workload endpoint it serves. A
//!   `startup: enabled` check reports a pseudo `change-id` (`check-<name>`, unknown to
//!   `/v1/changes`) so that ops sees it running; a `startup: disabled` one is `inactive`;
//!   `POST /v1/checks` (start/stop checks) is not supported.
//! - `exec`, `signals`, `logs`, `identities` and notice posting answer a 501 error naming
//!   juju-sim.
//! - The state (layers, services, changes, checks, owners) is reset with the pod; files under
//!   the root are the caller's to wipe ([`PebbleState::reset`] does both), files under storage
//!   mounts persist.

pub mod files;
pub mod plan;
mod server;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub use server::{Server, ServerError, ServerHandle};

use files::{FileOwner, Fs, WriteItem};
use plan::Layer;

/// The runtime state of one service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceState {
    /// `active`, `inactive`, `backoff` or `error`.
    pub current: String,
    /// When `current` last changed (seconds since the epoch).
    pub since: u64,
    /// The plan entry it was started with (for replan).
    pub started_with: Option<Value>,
}

/// A check's simulated status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckState {
    /// Up (else down).
    pub up: bool,
    /// Consecutive failures reported.
    pub failures: u32,
}

/// A task of a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Task id.
    pub id: String,
    /// `start`, `stop`.
    pub kind: String,
    /// Summary.
    pub summary: String,
    /// Log lines.
    pub log: Vec<String>,
}

/// A change (always complete in the simulator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Change id.
    pub id: String,
    /// `start`, `stop`, `restart`, `autostart`, `replan`.
    pub kind: String,
    /// Summary.
    pub summary: String,
    /// Tasks.
    pub tasks: Vec<Task>,
    /// Error message if it failed.
    pub err: Option<String>,
    /// Seconds since the epoch.
    pub time: u64,
}

/// The state of one container's Pebble. Plain data: persist it as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PebbleState {
    /// Host directory standing for the container's `/`.
    pub root: PathBuf,
    /// Storage mounts: (path in the container, host directory).
    pub mounts: Vec<(String, PathBuf)>,
    /// Layers in order.
    pub layers: Vec<Layer>,
    /// Service runtime states by name.
    pub services: BTreeMap<String, ServiceState>,
    /// Changes, oldest first.
    pub changes: Vec<Change>,
    /// Last change/task id handed out.
    pub last_id: u64,
    /// Check statuses by name (absent: up).
    pub checks: BTreeMap<String, CheckState>,
    /// Owners of container paths.
    pub owners: BTreeMap<String, FileOwner>,
    /// Boot id (new on every reset).
    pub boot_id: String,
}

impl PebbleState {
    /// A fresh Pebble with its filesystem at `root` (created if missing).
    pub fn new(root: PathBuf, mounts: Vec<(String, PathBuf)>) -> std::io::Result<Self> {
        std::fs::create_dir_all(&root)?;
        for (_, dir) in &mounts {
            std::fs::create_dir_all(dir)?;
        }
        Ok(Self {
            root,
            mounts,
            boot_id: boot_id(),
            ..Self::default()
        })
    }

    /// The pod restarted: forget everything and empty the root directory. Storage mounts
    /// keep their files, also when their host directory lies inside the root.
    pub fn reset(&mut self) -> std::io::Result<()> {
        let root = std::mem::take(&mut self.root);
        let mounts = std::mem::take(&mut self.mounts);
        let keep: Vec<&Path> = mounts.iter().map(|(_, dir)| dir.as_path()).collect();
        if root.exists() {
            clear_dir(&root, &keep)?;
        }
        *self = Self::new(root, mounts)?;
        Ok(())
    }

    /// The combined plan.
    pub fn plan(&self) -> Map<String, Value> {
        // Every stored layer set was validated when added.
        plan::combine(&self.layers).unwrap_or_default()
    }

    /// Sets a check up or down (what the workload's health would be).
    pub fn set_check_status(&mut self, name: &str, up: bool) {
        let entry = self.checks.entry(name.to_owned()).or_insert(CheckState {
            up: true,
            failures: 0,
        });
        entry.failures = if up { 0 } else { entry.failures + 1 };
        entry.up = up;
    }

    /// The `current` state of a service (`inactive` if unknown).
    pub fn service_current(&self, name: &str) -> &str {
        self.services
            .get(name)
            .map_or("inactive", |s| s.current.as_str())
    }

    fn fs(&self) -> Fs<'_> {
        Fs {
            root: &self.root,
            mounts: &self.mounts,
        }
    }

    fn next_id(&mut self) -> String {
        self.last_id += 1;
        self.last_id.to_string()
    }
}

/// Empties `dir`, sparing the directories in `keep` (and the directories leading to them).
fn clear_dir(dir: &Path, keep: &[&Path]) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if keep.iter().any(|k| *k == path) {
            continue;
        }
        if keep.iter().any(|k| k.starts_with(&path)) {
            clear_dir(&path, keep)?;
        } else if std::fs::symlink_metadata(&path)?.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

fn boot_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:032x}", nanos ^ u128::from(std::process::id()) << 64)
}

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Content type.
    pub content_type: String,
    /// Body.
    pub body: Vec<u8>,
}

fn status_text(code: u16) -> &'static str {
    match code {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        _ => "",
    }
}

fn json_reply(status: u16, v: &Value) -> Reply {
    let mut body = v.to_string().into_bytes();
    body.push(b'\n');
    Reply {
        status,
        content_type: "application/json".into(),
        body,
    }
}

fn sync(result: Value) -> Reply {
    let mut v = json!({ "type": "sync", "status-code": 200, "status": "OK" });
    v["result"] = result;
    json_reply(200, &v)
}

fn error(status: u16, message: &str, kind: Option<&str>) -> Reply {
    let mut result = json!({ "message": message });
    if let Some(k) = kind {
        result["kind"] = Value::String(k.to_owned());
    }
    json_reply(
        status,
        &json!({
            "type": "error",
            "status-code": status,
            "status": status_text(status),
            "result": result,
        }),
    )
}

fn bad_request(message: &str) -> Reply {
    error(400, message, None)
}

fn async_reply(change: &str) -> Reply {
    json_reply(
        202,
        &json!({
            "type": "async",
            "status-code": 202,
            "status": "Accepted",
            "change": change,
            "result": null,
        }),
    )
}

/// A request as the handler needs it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Query parameters in order (repeated keys kept).
    pub query: Vec<(String, String)>,
    /// Content-Type header.
    pub content_type: String,
    /// Body.
    pub body: Vec<u8>,
}

impl Request {
    fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn params(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn names(&self) -> Vec<String> {
        self.params("names")
            .iter()
            .flat_map(|v| v.split(','))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// Answers one request against the state.
pub fn handle(state: &mut PebbleState, req: &Request) -> Reply {
    let path = req.path.trim_end_matches('/');
    let method = req.method.as_str();
    match (method, path) {
        ("GET", "/v1/system-info") => sync(json!({
            "version": "1.19.0-juju-sim",
            "boot-id": state.boot_id,
            "http-address": "",
        })),
        ("GET", "/v1/health") => sync(json!({ "healthy": true })),
        ("GET", "/v1/plan") => get_plan(state, req),
        ("POST", "/v1/layers") => post_layers(state, req),
        ("GET", "/v1/services") => get_services(state, req),
        ("POST", "/v1/services") => post_services(state, req),
        ("GET", "/v1/changes") => sync(Value::Array(
            state.changes.iter().map(change_json).collect(),
        )),
        ("GET", "/v1/checks") => get_checks(state, req),
        ("GET", "/v1/files") => get_files(state, req),
        ("POST", "/v1/files") => post_files(state, req),
        ("GET", "/v1/notices") => sync(json!([])),
        (
            _,
            "/v1/exec" | "/v1/signals" | "/v1/logs" | "/v1/identities" | "/v1/notices"
            | "/v1/checks" | "/v1/checks/refresh" | "/v1/pairing" | "/v1/metrics",
        ) => error(
            501,
            &format!("{method} {path} is not supported by juju-sim"),
            None,
        ),
        _ => {
            if let Some(rest) = path.strip_prefix("/v1/changes/") {
                if method != "GET" {
                    return error(405, &format!("method {method:?} not allowed"), None);
                }
                let id = rest.strip_suffix("/wait").unwrap_or(rest);
                return match state.changes.iter().find(|c| c.id == id) {
                    Some(c) => sync(change_json(c)),
                    None => error(404, &format!("cannot find change with id {id:?}"), None),
                };
            }
            match path {
                "/v1/system-info" | "/v1/health" | "/v1/plan" | "/v1/layers" | "/v1/services"
                | "/v1/changes" | "/v1/files" => {
                    error(405, &format!("method {method:?} not allowed"), None)
                }
                _ => error(404, "not found", None),
            }
        }
    }
}

fn get_plan(state: &PebbleState, req: &Request) -> Reply {
    let format = req.param("format").unwrap_or_default();
    if format != "yaml" {
        return bad_request(&format!("invalid format {format:?}"));
    }
    let plan = Value::Object(state.plan());
    let yaml = crate::tools::yaml(&plan);
    sync(Value::String(yaml))
}

fn post_layers(state: &mut PebbleState, req: &Request) -> Reply {
    #[derive(Deserialize)]
    struct Payload {
        #[serde(default)]
        action: String,
        #[serde(default)]
        combine: bool,
        #[serde(default)]
        label: String,
        #[serde(default)]
        format: String,
        #[serde(default)]
        layer: String,
    }
    let payload: Payload = match serde_json::from_slice(&req.body) {
        Ok(p) => p,
        Err(e) => return bad_request(&format!("cannot decode request body: {e}")),
    };
    if payload.action != "add" {
        return bad_request(&format!("invalid action {:?}", payload.action));
    }
    if payload.label.is_empty() {
        return bad_request("label must be set");
    }
    if payload.format != "yaml" {
        return bad_request(&format!("invalid format {:?}", payload.format));
    }
    let body = match plan::parse_layer(&payload.label, &payload.layer) {
        Ok(b) => b,
        Err(e) => return bad_request(&e.to_string()),
    };
    match plan::add_layer(&mut state.layers, &payload.label, body, payload.combine) {
        Ok(()) => sync(Value::Bool(true)),
        Err(e) => bad_request(&e.to_string()),
    }
}

fn get_services(state: &PebbleState, req: &Request) -> Reply {
    let names = req.names();
    let plan = state.plan();
    let empty = Map::new();
    let services = plan
        .get("services")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let list = services
        .iter()
        .filter(|(name, _)| names.is_empty() || names.contains(name))
        .map(|(name, svc)| {
            let startup = match svc.get("startup").and_then(Value::as_str) {
                Some("enabled") => "enabled",
                _ => "disabled",
            };
            let mut v = json!({
                "name": name,
                "startup": startup,
                "current": state.service_current(name),
            });
            if let Some(s) = state.services.get(name) {
                v["current-since"] = Value::String(crate::tools::rfc3339(s.since));
            }
            v
        })
        .collect();
    sync(Value::Array(list))
}

fn post_services(state: &mut PebbleState, req: &Request) -> Reply {
    #[derive(Deserialize)]
    struct Payload {
        #[serde(default)]
        action: String,
        #[serde(default)]
        services: Vec<String>,
    }
    let payload: Payload = match serde_json::from_slice(&req.body) {
        Ok(p) => p,
        Err(e) => return bad_request(&format!("cannot decode data from request body: {e}")),
    };
    let plan = state.plan();
    let empty = Map::new();
    let services = plan
        .get("services")
        .and_then(Value::as_object)
        .unwrap_or(&empty)
        .clone();
    let action = payload.action.as_str();
    let mut names = payload.services.clone();
    names.sort();
    names.dedup();
    match action {
        "start" | "stop" | "restart" => {
            if names.is_empty() {
                return bad_request(&format!("no services to {action} provided"));
            }
        }
        "autostart" | "replan" => {}
        _ => return bad_request(&format!("invalid action {action:?}")),
    }
    if let Some(missing) = names.iter().find(|n| !services.contains_key(*n)) {
        return bad_request(&format!("service {missing:?} does not exist"));
    }
    let (to_stop, to_start) = match plan_service_action(state, &services, action, names) {
        Ok(lists) => lists,
        Err(reply) => return reply,
    };
    run_service_change(state, &services, action, &to_stop, &to_start)
}

/// Which services an action stops and starts (Err: the 400 to answer).
fn plan_service_action(
    state: &PebbleState,
    services: &Map<String, Value>,
    action: &str,
    names: Vec<String>,
) -> Result<(Vec<String>, Vec<String>), Reply> {
    let enabled: Vec<String> = services
        .iter()
        .filter(|(_, s)| s.get("startup").and_then(Value::as_str) == Some("enabled"))
        .map(|(n, _)| n.clone())
        .collect();
    Ok(match action {
        "start" => (Vec::new(), names),
        "stop" => (names, Vec::new()),
        "restart" => (names.clone(), names),
        "autostart" => {
            let start = if names.is_empty() { enabled } else { names };
            if start.is_empty() {
                return Err(bad_request("no default services"));
            }
            (Vec::new(), start)
        }
        _ => {
            // replan: restart changed running services, start enabled ones not running.
            let changed: Vec<String> = state
                .services
                .iter()
                .filter(|(n, s)| {
                    s.current == "active" && s.started_with.as_ref() != services.get(*n)
                })
                .map(|(n, _)| n.clone())
                .collect();
            let mut start = changed.clone();
            for n in enabled {
                if state.service_current(&n) != "active" && !start.contains(&n) {
                    start.push(n);
                }
            }
            start.retain(|n| services.contains_key(n));
            start.sort();
            (changed, start)
        }
    })
}

/// Applies the stops and starts and records the (complete) change.
fn run_service_change(
    state: &mut PebbleState,
    services: &Map<String, Value>,
    action: &str,
    to_stop: &[String],
    to_start: &[String],
) -> Reply {
    let now = crate::tools::now();
    let mut tasks = Vec::new();
    for name in to_stop {
        let id = state.next_id();
        let log = if state.service_current(name) == "active" {
            Vec::new()
        } else {
            vec![format!("Service {name:?} already stopped.")]
        };
        if let Some(s) = state.services.get_mut(name) {
            s.current = "inactive".into();
            s.since = now;
            s.started_with = None;
        }
        tasks.push(Task {
            id,
            kind: "stop".into(),
            summary: format!("Stop service {name:?}"),
            log,
        });
    }
    for name in to_start {
        let id = state.next_id();
        let log = if state.service_current(name) == "active" {
            vec![format!("Service {name:?} already started.")]
        } else {
            Vec::new()
        };
        state.services.insert(
            name.clone(),
            ServiceState {
                current: "active".into(),
                since: now,
                started_with: services.get(name).cloned(),
            },
        );
        tasks.push(Task {
            id,
            kind: "start".into(),
            summary: format!("Start service {name:?}"),
            log,
        });
    }
    let summary = match (action, to_start, to_stop) {
        ("replan", _, _) => "Replan service changes".to_owned(),
        (_, [one], []) | (_, [], [one]) => {
            format!(
                "{}{} service {one:?}",
                action[..1].to_uppercase(),
                &action[1..]
            )
        }
        _ => format!(
            "{}{} service {:?}",
            action[..1].to_uppercase(),
            &action[1..],
            to_start.iter().chain(to_stop).collect::<Vec<_>>()
        ),
    };
    let id = state.next_id();
    state.changes.push(Change {
        id: id.clone(),
        kind: action.to_owned(),
        summary,
        tasks,
        err: None,
        time: now,
    });
    async_reply(&id)
}

fn change_json(c: &Change) -> Value {
    let time = crate::tools::rfc3339(c.time);
    let status = if c.err.is_some() { "Error" } else { "Done" };
    let tasks: Vec<Value> = c
        .tasks
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "kind": t.kind,
                "summary": t.summary,
                "status": status,
                "log": t.log,
                "progress": { "label": "", "done": 1, "total": 1 },
                "spawn-time": time,
                "ready-time": time,
            })
        })
        .collect();
    let mut v = json!({
        "id": c.id,
        "kind": c.kind,
        "summary": c.summary,
        "status": status,
        "tasks": tasks,
        "ready": true,
        "spawn-time": time,
        "ready-time": time,
    });
    if let Some(e) = &c.err {
        v["err"] = Value::String(e.clone());
    }
    v
}

fn get_checks(state: &PebbleState, req: &Request) -> Reply {
    let level = req.param("level").unwrap_or_default();
    if !matches!(level, "" | "alive" | "ready") {
        return bad_request("level must be \"alive\" or \"ready\"");
    }
    let names = req.names();
    let plan = state.plan();
    let empty = Map::new();
    let checks = plan
        .get("checks")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let list = checks
        .iter()
        .filter(|(name, _)| names.is_empty() || names.contains(name))
        .filter(|(_, c)| level.is_empty() || c.get("level").and_then(Value::as_str) == Some(level))
        .map(|(name, c)| {
            let st = state.checks.get(name);
            let mut v = json!({
                "name": name,
                "status": if st.is_none_or(|s| s.up) { "up" } else { "down" },
                "failures": st.map_or(0, |s| s.failures),
                "threshold": c.get("threshold").cloned().unwrap_or(Value::from(3)),
                "startup": c.get("startup").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or("enabled"),
            });
            if let Some(l) = c.get("level").and_then(Value::as_str).filter(|l| !l.is_empty()) {
                v["level"] = Value::String(l.to_owned());
            }
            // A running check has a change in Pebble ≥ 1.23 (ops reads a check without one
            // as inactive); ours is a stable pseudo id, not a change `/v1/changes` knows.
            if v["startup"] == "enabled" {
                v["change-id"] = Value::String(format!("check-{name}"));
                v["successes"] = Value::from(u32::from(st.is_none_or(|s| s.up)));
            } else {
                v["status"] = Value::String("inactive".into());
            }
            v
        })
        .collect();
    sync(Value::Array(list))
}

fn get_files(state: &PebbleState, req: &Request) -> Reply {
    match req.param("action").unwrap_or_default() {
        "read" => {
            let paths = req.params("path");
            if paths.is_empty() {
                return bad_request("must specify one or more paths");
            }
            let mut files_out = Vec::new();
            let mut results = Vec::new();
            for p in paths {
                match files::read(state.fs(), p) {
                    Ok(content) => {
                        files_out.push((p.to_owned(), content));
                        results.push(json!({ "path": p }));
                    }
                    Err(e) => results.push(json!({ "path": p, "error": e.to_json() })),
                }
            }
            let response = json!({
                "type": "sync", "status-code": 200, "status": "OK", "result": results,
            });
            let boundary = format!("juju-sim-{}", state.last_id);
            Reply {
                status: 200,
                content_type: format!("multipart/form-data; boundary={boundary}"),
                body: files::multipart_read_response(&files_out, &response, &boundary),
            }
        }
        "list" => {
            let Some(path) = req.param("path").filter(|p| !p.is_empty()) else {
                return bad_request("must specify path");
            };
            let itself = match req.param("itself") {
                None | Some("false") => false,
                Some("true") => true,
                Some(_) => return bad_request("itself parameter must be \"true\" or \"false\""),
            };
            if !path.starts_with('/') {
                return bad_request(&format!("path must be absolute, got {path:?}"));
            }
            match files::list(
                state.fs(),
                &state.owners,
                path,
                req.param("pattern"),
                itself,
            ) {
                Ok(list) => sync(Value::Array(list)),
                Err(e) => json_reply(
                    e.status(),
                    &json!({
                        "type": "error",
                        "status-code": e.status(),
                        "status": status_text(e.status()),
                        "result": e.to_json(),
                    }),
                ),
            }
        }
        other => bad_request(&format!("invalid action {other:?}")),
    }
}

fn result_entry(path: &str, r: Result<(), files::FileError>) -> Value {
    match r {
        Ok(()) => json!({ "path": path }),
        Err(e) => json!({ "path": path, "error": e.to_json() }),
    }
}

fn post_files(state: &mut PebbleState, req: &Request) -> Reply {
    let media = req
        .content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "multipart/form-data" => post_files_multipart(state, req),
        "application/json" | "" => post_files_json(state, req),
        other => bad_request(&format!("invalid media type {other:?}")),
    }
}

/// `write`: a multipart body, `request` metadata first, then a `files` part per file.
fn post_files_multipart(state: &mut PebbleState, req: &Request) -> Reply {
    #[derive(Deserialize)]
    struct Payload {
        #[serde(default)]
        action: String,
        #[serde(default)]
        files: Vec<WriteItem>,
    }
    let Some(boundary) = files::boundary(&req.content_type) else {
        return bad_request(&format!("invalid Content-Type {:?}", req.content_type));
    };
    let parts = match files::parse_multipart(&req.body, &boundary) {
        Ok(p) => p,
        Err(e) => return bad_request(&format!("cannot read request metadata: {e}")),
    };
    let Some((meta, file_parts)) = parts.split_first() else {
        return bad_request("cannot read request metadata: empty multipart body");
    };
    if meta.name != "request" {
        return bad_request(&format!(
            "metadata field name must be \"request\", got {:?}",
            meta.name
        ));
    }
    let payload: Payload = match serde_json::from_slice(&meta.body) {
        Ok(p) => p,
        Err(e) => return bad_request(&format!("cannot decode request metadata: {e}")),
    };
    if payload.action != "write" {
        return bad_request(&format!(
            "multipart action must be \"write\", got {:?}",
            payload.action
        ));
    }
    if payload.files.is_empty() {
        return bad_request("must specify one or more files");
    }
    let mut contents: BTreeMap<String, &[u8]> = BTreeMap::new();
    for part in file_parts {
        if part.name != "files" {
            return bad_request(&format!(
                "field name must be \"files\", got {:?}",
                part.name
            ));
        }
        let path = part.filename.clone().unwrap_or_default();
        if !payload.files.iter().any(|f| f.path == path) {
            return bad_request(&format!("no metadata for path {path:?}"));
        }
        contents.insert(path, &part.body);
    }
    let fs_ = Fs {
        root: &state.root,
        mounts: &state.mounts,
    };
    let results = payload
        .files
        .iter()
        .map(|item| {
            let r = match contents.get(&item.path) {
                Some(c) => files::write(fs_, &mut state.owners, item, c),
                None => Err(files::FileError {
                    kind: "generic-file-error",
                    message: format!("no file content for path {:?}", item.path),
                }),
            };
            result_entry(&item.path, r)
        })
        .collect();
    sync(Value::Array(results))
}

/// `make-dirs` and `remove`: JSON bodies.
fn post_files_json(state: &mut PebbleState, req: &Request) -> Reply {
    #[derive(Deserialize)]
    struct RemoveItem {
        path: String,
        #[serde(default)]
        recursive: bool,
    }
    #[derive(Deserialize)]
    struct Payload {
        #[serde(default)]
        action: String,
        #[serde(default)]
        dirs: Vec<WriteItem>,
        #[serde(default)]
        paths: Vec<RemoveItem>,
    }
    let payload: Payload = match serde_json::from_slice(&req.body) {
        Ok(p) => p,
        Err(e) => return bad_request(&format!("cannot decode request body: {e}")),
    };
    let fs_ = Fs {
        root: &state.root,
        mounts: &state.mounts,
    };
    match payload.action.as_str() {
        "make-dirs" => {
            if payload.dirs.is_empty() {
                return bad_request("must specify one or more directories");
            }
            let results = payload
                .dirs
                .iter()
                .map(|d| result_entry(&d.path, files::make_dir(fs_, &mut state.owners, d)))
                .collect();
            sync(Value::Array(results))
        }
        "remove" => {
            if payload.paths.is_empty() {
                return bad_request("must specify one or more paths");
            }
            let results = payload
                .paths
                .iter()
                .map(|p| {
                    result_entry(
                        &p.path,
                        files::remove(fs_, &mut state.owners, &p.path, p.recursive),
                    )
                })
                .collect();
            sync(Value::Array(results))
        }
        "write" => bad_request("must use multipart with \"write\" action"),
        other => bad_request(&format!("invalid action {other:?}")),
    }
}
