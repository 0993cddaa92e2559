//! Pebble client: the charm's handle on one workload container.
//!
//! Juju mounts each container's Pebble socket at `/charm/containers/<container>/pebble.socket`
//! in the charm container. [`Pebble`] talks HTTP/1.1 to it, sending exactly what ops
//! (`ops/pebble.py`, Canonical's Python client) sends, and parses Pebble's JSON envelope
//! (`{type: sync|async|error, status-code, result, change}`, `internals/daemon/response.go`).
//! Every call has a deadline and a size bound on the answer it reads ([`MAX_RESPONSE_BYTES`];
//! a pull takes the caller's bound for the file, [`Pebble::pull`]); errors carry Pebble's own
//! message.
//!
//! Layers ([`Layer`]) and the plan ([`Plan`], with [`Plan::holds`]) are re-exported here.

mod layer;
mod plan_yaml;
mod transport;

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use layer::{
    Check, CheckLevel, ExecCheck, HttpCheck, Layer, Override, Plan, PlanError, Service,
    ServiceAction, Startup, TcpCheck,
};
use transport::{RawResponse, TransportError};

/// Where Juju mounts the containers' Pebble sockets in the charm container.
pub const JUJU_CONTAINERS_DIR: &str = "/charm/containers";

/// Default deadline of one request (ops' default client timeout is 5 s too).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest answer read from Pebble other than a pulled file: 4 MiB. Pebble's JSON answers are
/// a plan (a few KiB per service), lists of services, checks or directory entries (about
/// 250 bytes each), or a change with its tasks' last log lines: kilobytes, rarely 100 KiB.
/// 4 MiB is ample for any of them and still bounds what a broken or hostile workload
/// container can make a hook hold in memory (docs/adr/0031).
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// What a pull's answer may add to the file itself: the multipart boundaries, the file part's
/// headers (its filename is the path: at most 4 KiB on Linux, twice that escaped) and the
/// `response` part's JSON envelope (the path again, or Pebble's error). 64 KiB is several
/// times their sum, so a file within the caller's bound is never refused for its framing.
pub const PULL_FRAMING_BYTES: usize = 64 * 1024;

/// Errors of the Pebble client. `op` names the call that failed (`"add layer"`, ...).
#[derive(Debug, thiserror::Error)]
pub enum PebbleError {
    /// The socket is absent or refuses connections: the container is not (yet) up.
    #[error("cannot connect to Pebble at {socket} ({op}): {source}")]
    Connect {
        /// The failed call.
        op: &'static str,
        /// The socket path.
        socket: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Pebble did not answer within the deadline.
    #[error("Pebble did not answer {op} within {after:?}")]
    Timeout {
        /// The failed call.
        op: &'static str,
        /// The deadline that passed.
        after: Duration,
    },
    /// Pebble answered with an error envelope.
    #[error("Pebble refused {op} (HTTP {code}): {message}")]
    Api {
        /// The failed call.
        op: &'static str,
        /// HTTP status code.
        code: u16,
        /// Pebble's error kind (`not-found`, `permission-denied`, ...), when given.
        kind: Option<String>,
        /// Pebble's message.
        message: String,
    },
    /// A file operation failed on one path (Pebble reports these per path).
    #[error("Pebble {op} failed on {path}: {kind}: {message}")]
    Path {
        /// The failed call.
        op: &'static str,
        /// The path.
        path: String,
        /// `not-found`, `permission-denied` or `generic-file-error`.
        kind: String,
        /// Pebble's message.
        message: String,
    },
    /// A change (start, stop, replan, ...) finished with an error.
    #[error("Pebble change {id} ({op}) failed: {err}")]
    Change {
        /// The failed call.
        op: &'static str,
        /// The change id.
        id: String,
        /// Pebble's error text (includes the task logs).
        err: String,
    },
    /// The HTTP exchange failed (connection dropped, malformed HTTP).
    #[error("HTTP exchange with Pebble failed ({op})")]
    Http {
        /// The failed call.
        op: &'static str,
        /// The HTTP error.
        #[source]
        source: hyper::Error,
    },
    /// Pebble's answer was not what its API defines.
    #[error("unexpected answer from Pebble ({op}): {detail}")]
    Protocol {
        /// The failed call.
        op: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A pulled file is larger than the caller's bound ([`Pebble::pull`]); reading stopped
    /// at the bound.
    #[error("Pebble {op}: {path} is larger than {limit} bytes")]
    TooLarge {
        /// The failed call.
        op: &'static str,
        /// The file.
        path: String,
        /// The bound, in bytes.
        limit: usize,
    },
    /// Pebble's answer is larger than [`MAX_RESPONSE_BYTES`]; reading stopped at the bound.
    #[error("Pebble's answer to {op} is larger than {limit} bytes")]
    ResponseTooLarge {
        /// The failed call.
        op: &'static str,
        /// The bound, in bytes.
        limit: usize,
    },
    /// The layer could not be written out.
    #[error("cannot write out layer {label}")]
    RenderLayer {
        /// The layer label.
        label: String,
        /// The serialiser's error.
        #[source]
        source: serde_json::Error,
    },
}

impl PebbleError {
    /// True when the error means "Pebble is not reachable" (socket absent or refusing, or
    /// no answer in time), as opposed to Pebble refusing the request.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Connect { .. } | Self::Timeout { .. })
    }

    /// True when a file operation found no file at its path (Pebble's `not-found` kind): the
    /// one test of "absent" for pulls and listings, as opposed to a refusal.
    pub fn is_path_not_found(&self) -> bool {
        matches!(self, Self::Path { kind, .. } if kind.ends_with("not-found"))
    }
}

/// `GET /v1/system-info`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SystemInfo {
    /// Pebble's version.
    pub version: String,
}

/// One entry of `GET /v1/services`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServiceInfo {
    /// Service name.
    pub name: String,
    /// `enabled` or `disabled`.
    pub startup: String,
    /// `active`, `inactive`, `backoff` or `error`.
    pub current: String,
}

impl ServiceInfo {
    /// Whether the service is running (ops' `ServiceInfo.is_running`).
    pub fn is_running(&self) -> bool {
        self.current == "active"
    }
}

/// One entry of `GET /v1/checks`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CheckInfo {
    /// Check name.
    pub name: String,
    /// `alive`, `ready` or absent.
    #[serde(default)]
    pub level: Option<String>,
    /// `enabled` or `disabled` (absent on older Pebble).
    #[serde(default)]
    pub startup: Option<String>,
    /// `up`, `down` or `inactive`.
    pub status: String,
    /// Failures since the last success.
    #[serde(default)]
    pub failures: u32,
    /// Failures before the check is down.
    #[serde(default)]
    pub threshold: u32,
    /// Change driving the check (absent on older Pebble, and when the check is stopped).
    #[serde(default)]
    pub change_id: Option<String>,
}

/// A Pebble change (`GET /v1/changes/{id}/wait`), reduced to what callers need.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Change {
    /// Change id.
    pub id: String,
    /// Kind (`start`, `replan`, ...).
    pub kind: String,
    /// Human summary.
    pub summary: String,
    /// `Done`, `Error`, ...
    pub status: String,
    /// Whether the change has finished.
    pub ready: bool,
    /// Error text when the change failed.
    #[serde(default)]
    pub err: Option<String>,
}

/// One entry of `GET /v1/files?action=list`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FileInfo {
    /// Full path.
    pub path: String,
    /// Base name.
    pub name: String,
    /// `file`, `directory`, `symlink`, ...
    #[serde(rename = "type")]
    pub file_type: String,
    /// Size in bytes (files only).
    #[serde(default)]
    pub size: Option<u64>,
    /// Permissions as octal text (`644`).
    pub permissions: String,
    /// Owner uid.
    #[serde(default)]
    pub user_id: Option<u32>,
    /// Owner name.
    #[serde(default)]
    pub user: Option<String>,
    /// Group gid.
    #[serde(default)]
    pub group_id: Option<u32>,
    /// Group name.
    #[serde(default)]
    pub group: Option<String>,
}

/// Mode and ownership for a pushed file or a created directory (ops' `_make_auth_dict`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileOptions {
    /// Create missing parent directories.
    pub make_parents: bool,
    /// Unix mode, e.g. `0o600` (Pebble's default: 0644 for files, 0755 for directories).
    pub permissions: Option<u32>,
    /// Owner uid.
    pub user_id: Option<u32>,
    /// Owner name.
    pub user: Option<String>,
    /// Group gid.
    pub group_id: Option<u32>,
    /// Group name.
    pub group: Option<String>,
}

impl FileOptions {
    fn to_json(&self, path: &str, parents_key: &str) -> Value {
        let mut info = serde_json::Map::new();
        if let Some(mode) = self.permissions {
            info.insert("permissions".into(), json!(format!("{mode:03o}")));
        }
        if let Some(id) = self.user_id {
            info.insert("user-id".into(), json!(id));
        }
        if let Some(user) = &self.user {
            info.insert("user".into(), json!(user));
        }
        if let Some(id) = self.group_id {
            info.insert("group-id".into(), json!(id));
        }
        if let Some(group) = &self.group {
            info.insert("group".into(), json!(group));
        }
        info.insert("path".into(), json!(path));
        if self.make_parents {
            info.insert(parents_key.into(), json!(true));
        }
        Value::Object(info)
    }
}

/// Pebble's response envelope.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    result: Value,
    #[serde(default)]
    change: Option<String>,
}

/// A client for one container's Pebble.
#[derive(Debug, Clone)]
pub struct Pebble {
    socket: PathBuf,
    timeout: Duration,
}

impl Pebble {
    /// A client for `container`, whose socket is `<base>/<container>/pebble.socket`
    /// (`base` is [`JUJU_CONTAINERS_DIR`] under Juju). Nothing is opened yet.
    pub fn new(base: impl AsRef<Path>, container: &str) -> Self {
        Self::at_socket(base.as_ref().join(container).join("pebble.socket"))
    }

    /// A client for an explicit socket path.
    pub fn at_socket(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets the deadline of each request (default [`DEFAULT_TIMEOUT`]).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Whether Pebble answers (`GET /v1/system-info` succeeds), like ops' `can_connect`.
    pub async fn can_connect(&self) -> bool {
        match self.system_info().await {
            Ok(_) => true,
            Err(error) => {
                tracing::debug!(socket = %self.socket.display(), %error, "Pebble not reachable");
                false
            }
        }
    }

    /// `GET /v1/system-info`.
    pub async fn system_info(&self) -> Result<SystemInfo, PebbleError> {
        let op = "get system info";
        let envelope = self.json(op, Method::GET, "/v1/system-info", None).await?;
        decode(op, envelope.result)
    }

    /// Adds `layer` under `label` (`POST /v1/layers`, `action: add`). With `combine`, an
    /// existing layer of that label is merged into (ops' `add_layer(..., combine=True)`).
    pub async fn add_layer(
        &self,
        label: &str,
        layer: &Layer,
        combine: bool,
    ) -> Result<(), PebbleError> {
        let op = "add layer";
        let text = layer.to_text().map_err(|source| PebbleError::RenderLayer {
            label: label.to_owned(),
            source,
        })?;
        let body = json!({
            "action": "add",
            "combine": combine,
            "label": label,
            "format": "yaml",
            "layer": text,
        });
        self.json(op, Method::POST, "/v1/layers", Some(&body))
            .await
            .map(drop)
    }

    /// The combined plan (`GET /v1/plan?format=yaml`).
    pub async fn plan(&self) -> Result<Plan, PebbleError> {
        let op = "get plan";
        let envelope = self
            .json(op, Method::GET, "/v1/plan?format=yaml", None)
            .await?;
        let Value::String(yaml) = envelope.result else {
            return Err(protocol(op, "plan result is not a YAML string"));
        };
        Plan::from_yaml(&yaml).map_err(|e| protocol(op, format!("plan YAML: {e}")))
    }

    /// Adds `layer` only when the plan does not already hold it ([`Plan::holds`]); returns
    /// whether it was added. Callers then `replan` when this returns true.
    pub async fn ensure_layer(&self, label: &str, layer: &Layer) -> Result<bool, PebbleError> {
        if self.plan().await?.holds(layer) {
            tracing::debug!(label, "Pebble plan already holds the layer; not adding it");
            return Ok(false);
        }
        self.add_layer(label, layer, true).await?;
        Ok(true)
    }

    /// Service status (`GET /v1/services`, optionally `?names=a,b`).
    pub async fn services(&self, names: &[&str]) -> Result<Vec<ServiceInfo>, PebbleError> {
        let op = "get services";
        let path = if names.is_empty() {
            "/v1/services".to_owned()
        } else {
            format!(
                "/v1/services?{}",
                transport::encode_query(&[("names", &names.join(","))])
            )
        };
        let envelope = self.json(op, Method::GET, &path, None).await?;
        decode(op, envelope.result)
    }

    /// Starts services and waits for the change (up to `wait`; `Duration::ZERO` = do not wait,
    /// the returned change is then not ready).
    pub async fn start(&self, services: &[&str], wait: Duration) -> Result<Change, PebbleError> {
        self.services_action("start services", "start", services, wait)
            .await
    }

    /// Stops services and waits for the change (up to `wait`).
    pub async fn stop(&self, services: &[&str], wait: Duration) -> Result<Change, PebbleError> {
        self.services_action("stop services", "stop", services, wait)
            .await
    }

    /// Restarts services (starting stopped ones) and waits for the change (up to `wait`).
    pub async fn restart(&self, services: &[&str], wait: Duration) -> Result<Change, PebbleError> {
        self.services_action("restart services", "restart", services, wait)
            .await
    }

    /// Replans (restarts services whose definition changed, starts `startup: enabled` ones)
    /// and waits for the change (up to `wait`).
    pub async fn replan(&self, wait: Duration) -> Result<Change, PebbleError> {
        self.services_action("replan", "replan", &[], wait).await
    }

    async fn services_action(
        &self,
        op: &'static str,
        action: &str,
        services: &[&str],
        wait: Duration,
    ) -> Result<Change, PebbleError> {
        let body = json!({ "action": action, "services": services });
        let envelope = self
            .json(op, Method::POST, "/v1/services", Some(&body))
            .await?;
        let Some(id) = envelope.change.filter(|_| envelope.kind == "async") else {
            return Err(protocol(op, "expected an async answer with a change id"));
        };
        if wait.is_zero() {
            // Like ops' `timeout=0`: submit only. (Pebble reads `?timeout=0` as "no timeout".)
            return Ok(Change {
                id,
                kind: action.to_owned(),
                summary: String::new(),
                status: "Do".to_owned(),
                ready: false,
                err: None,
            });
        }
        let change = self.wait_change(&id, wait).await?;
        match change.err.as_deref() {
            Some(err) if !err.is_empty() => Err(PebbleError::Change {
                op,
                id,
                err: err.to_owned(),
            }),
            _ => Ok(change),
        }
    }

    /// Waits until change `id` is ready (`GET /v1/changes/{id}/wait?timeout=...`), at most
    /// `timeout`; a change still running then is [`PebbleError::Timeout`].
    pub async fn wait_change(&self, id: &str, timeout: Duration) -> Result<Change, PebbleError> {
        let op = "wait for change";
        let query =
            transport::encode_query(&[("timeout", &format!("{:.3}s", timeout.as_secs_f64()))]);
        let path = format!("/v1/changes/{}/wait?{query}", id_segment(id));
        // Pebble answers by itself when `timeout` passes; allow our usual deadline on top.
        let deadline = timeout + self.timeout;
        match self
            .request(
                op,
                Method::GET,
                &path,
                &[],
                Vec::new(),
                deadline,
                MAX_RESPONSE_BYTES,
            )
            .await
            .and_then(|raw| envelope(op, &raw))
        {
            Ok(envelope) => decode(op, envelope.result),
            // Pebble: 504 "timed out waiting for change" (ops maps it to TimeoutError too).
            Err(PebbleError::Api { code: 504, .. }) => {
                Err(PebbleError::Timeout { op, after: timeout })
            }
            Err(e) => Err(e),
        }
    }

    /// Check status (`GET /v1/checks`, optionally `?level=` and `?names=a&names=b`).
    pub async fn checks(
        &self,
        level: Option<CheckLevel>,
        names: &[&str],
    ) -> Result<Vec<CheckInfo>, PebbleError> {
        let op = "get checks";
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(level) = level {
            query.push((
                "level",
                match level {
                    CheckLevel::Alive => "alive",
                    CheckLevel::Ready => "ready",
                },
            ));
        }
        query.extend(names.iter().map(|n| ("names", *n)));
        let path = if query.is_empty() {
            "/v1/checks".to_owned()
        } else {
            format!("/v1/checks?{}", transport::encode_query(&query))
        };
        let envelope = self.json(op, Method::GET, &path, None).await?;
        decode(op, envelope.result)
    }

    /// Writes `content` to `path` in the container (`POST /v1/files`, multipart, like ops'
    /// `push`). The content is never logged (pushes carry secrets such as WireGuard keys).
    pub async fn push(
        &self,
        path: &str,
        content: &[u8],
        options: &FileOptions,
    ) -> Result<(), PebbleError> {
        let op = "push file";
        let metadata = json!({
            "action": "write",
            "files": [options.to_json(path, "make-dirs")],
        });
        let metadata = metadata.to_string();
        let (body, content_type) = transport::encode_push(metadata.as_bytes(), path, content);
        tracing::debug!(
            path,
            bytes = content.len(),
            permissions = ?options.permissions.map(|m| format!("{m:03o}")),
            "Pebble push"
        );
        let raw = self
            .request(
                op,
                Method::POST,
                "/v1/files",
                &[
                    ("Accept", "application/json".to_owned()),
                    ("Content-Type", content_type),
                ],
                body,
                self.timeout,
                MAX_RESPONSE_BYTES,
            )
            .await?;
        let envelope = envelope(op, &raw)?;
        check_path_result(op, path, &envelope.result)
    }

    /// Reads the file at `path` (`GET /v1/files?action=read&path=...`, multipart answer), at
    /// most `max_bytes` of it: a larger file is [`PebbleError::TooLarge`]. The answer is read
    /// only up to `max_bytes` plus its framing ([`PULL_FRAMING_BYTES`]), never whole first,
    /// so a file of any size costs the hook at most that much memory and time.
    pub async fn pull(&self, path: &str, max_bytes: usize) -> Result<Vec<u8>, PebbleError> {
        let op = "pull file";
        let too_large = || PebbleError::TooLarge {
            op,
            path: path.to_owned(),
            limit: max_bytes,
        };
        let query = transport::encode_query(&[("action", "read"), ("path", path)]);
        let raw = match self
            .request(
                op,
                Method::GET,
                &format!("/v1/files?{query}"),
                &[("Accept", "multipart/form-data".to_owned())],
                Vec::new(),
                self.timeout,
                max_bytes.saturating_add(PULL_FRAMING_BYTES),
            )
            .await
        {
            Err(PebbleError::ResponseTooLarge { .. }) => return Err(too_large()),
            raw => raw?,
        };
        let Some(boundary) = transport::multipart_boundary(&raw.content_type) else {
            // Errors before the multipart starts come as a normal JSON envelope.
            envelope(op, &raw)?;
            return Err(protocol(
                op,
                format!("expected multipart/form-data, got {:?}", raw.content_type),
            ));
        };
        let parts = transport::parse_multipart(&raw.body, &boundary)
            .ok_or_else(|| protocol(op, "malformed multipart body"))?;
        let response = parts
            .iter()
            .find(|p| p.name == "response")
            .ok_or_else(|| protocol(op, "no \"response\" part in multipart body"))?;
        let envelope: Envelope = serde_json::from_slice(response.content)
            .map_err(|e| protocol(op, format!("response part: {e}")))?;
        check_path_result(op, path, &envelope.result)?;
        let file = parts
            .iter()
            .find(|p| p.name == "files" && p.filename.as_deref() == Some(path))
            .ok_or_else(|| protocol(op, "no file content in multipart body"))?;
        // The framing allowance may have let a little more than `max_bytes` through.
        if file.content.len() > max_bytes {
            return Err(too_large());
        }
        Ok(file.content.to_vec())
    }

    /// Lists `path` (`GET /v1/files?action=list`; with `itself`, describes the directory
    /// itself instead of its entries; `pattern` filters names, e.g. `*.txt`).
    pub async fn list_files(
        &self,
        path: &str,
        pattern: Option<&str>,
        itself: bool,
    ) -> Result<Vec<FileInfo>, PebbleError> {
        let op = "list files";
        let mut query = vec![("path", path)];
        if let Some(pattern) = pattern {
            query.push(("pattern", pattern));
        }
        if itself {
            query.push(("itself", "true"));
        }
        query.push(("action", "list"));
        let path_q = format!("/v1/files?{}", transport::encode_query(&query));
        match self.json(op, Method::GET, &path_q, None).await {
            Ok(envelope) if envelope.result.is_null() => Ok(Vec::new()),
            Ok(envelope) => decode(op, envelope.result),
            Err(PebbleError::Api {
                kind: Some(kind),
                message,
                ..
            }) if kind.ends_with("not-found")
                || kind == "permission-denied"
                || kind == "generic-file-error" =>
            {
                Err(PebbleError::Path {
                    op,
                    path: path.to_owned(),
                    kind,
                    message,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Creates the directory `path` (`POST /v1/files`, `action: make-dirs`).
    pub async fn make_dir(&self, path: &str, options: &FileOptions) -> Result<(), PebbleError> {
        let op = "make directory";
        let body = json!({
            "action": "make-dirs",
            "dirs": [options.to_json(path, "make-parents")],
        });
        let envelope = self
            .json(op, Method::POST, "/v1/files", Some(&body))
            .await?;
        check_path_result(op, path, &envelope.result)
    }

    /// Removes the file or directory `path` (`POST /v1/files`, `action: remove`); with
    /// `recursive`, like `rm -rf` (an absent path is then not an error).
    pub async fn remove_path(&self, path: &str, recursive: bool) -> Result<(), PebbleError> {
        let op = "remove path";
        let mut info = json!({ "path": path });
        if recursive {
            info["recursive"] = json!(true);
        }
        let body = json!({ "action": "remove", "paths": [info] });
        let envelope = self
            .json(op, Method::POST, "/v1/files", Some(&body))
            .await?;
        check_path_result(op, path, &envelope.result)
    }

    /// A JSON request/response exchange.
    async fn json(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Envelope, PebbleError> {
        let mut headers = vec![("Accept", "application/json".to_owned())];
        let body = match body {
            Some(body) => {
                headers.push(("Content-Type", "application/json".to_owned()));
                body.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        let raw = self
            .request(
                op,
                method,
                path,
                &headers,
                body,
                self.timeout,
                MAX_RESPONSE_BYTES,
            )
            .await?;
        envelope(op, &raw)
    }

    /// One exchange within `deadline`, its answer read up to `max_body` bytes (over it:
    /// [`PebbleError::ResponseTooLarge`]).
    #[allow(clippy::too_many_arguments)] // One private call shape; a struct would only rename them.
    async fn request(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        deadline: Duration,
        max_body: usize,
    ) -> Result<RawResponse, PebbleError> {
        tracing::debug!(socket = %self.socket.display(), %method, path, "Pebble request");
        transport::round_trip(
            &self.socket,
            method,
            path,
            headers,
            body,
            deadline,
            max_body,
        )
        .await
        .map_err(|e| match e {
            TransportError::Connect(source) => PebbleError::Connect {
                op,
                socket: self.socket.clone(),
                source,
            },
            TransportError::Timeout => PebbleError::Timeout {
                op,
                after: deadline,
            },
            TransportError::Http(source) => PebbleError::Http { op, source },
            TransportError::TooLarge => PebbleError::ResponseTooLarge {
                op,
                limit: max_body,
            },
            TransportError::Build(e) => protocol(op, format!("cannot build request: {e}")),
        })
    }
}

/// Parses the JSON envelope and turns `type: error` (or an HTTP error status) into
/// [`PebbleError::Api`] with Pebble's message.
fn envelope(op: &'static str, raw: &RawResponse) -> Result<Envelope, PebbleError> {
    let parsed: Result<Envelope, _> = serde_json::from_slice(&raw.body);
    let code = raw.status.as_u16();
    match parsed {
        Ok(envelope) if envelope.kind != "error" && raw.status.is_success() => Ok(envelope),
        Ok(envelope) => Err(PebbleError::Api {
            op,
            code,
            kind: envelope
                .result
                .get("kind")
                .and_then(Value::as_str)
                .map(str::to_owned),
            message: envelope
                .result
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        }),
        Err(e) if raw.status.is_success() => Err(protocol(op, format!("invalid JSON: {e}"))),
        Err(_) => Err(PebbleError::Api {
            op,
            code,
            kind: None,
            message: String::from_utf8_lossy(&raw.body).trim().to_owned(),
        }),
    }
}

/// File calls answer one `{path, error?}` per path; turn an error on ours into
/// [`PebbleError::Path`].
fn check_path_result(op: &'static str, path: &str, result: &Value) -> Result<(), PebbleError> {
    let items = result.as_array().map(Vec::as_slice).unwrap_or_default();
    let item = items
        .iter()
        .find(|item| item.get("path").and_then(Value::as_str) == Some(path))
        .ok_or_else(|| protocol(op, format!("path {path} missing from the answer")))?;
    match item.get("error") {
        Some(error) if !error.is_null() => Err(PebbleError::Path {
            op,
            path: path.to_owned(),
            kind: error
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("generic-file-error")
                .to_owned(),
            message: error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        }),
        _ => Ok(()),
    }
}

fn decode<T: DeserializeOwned>(op: &'static str, result: Value) -> Result<T, PebbleError> {
    serde_json::from_value(result).map_err(|e| protocol(op, format!("result: {e}")))
}

fn protocol(op: &'static str, detail: impl Into<String>) -> PebbleError {
    PebbleError::Protocol {
        op,
        detail: detail.into(),
    }
}

/// Change ids are numbers; refuse anything that could change the request path.
fn id_segment(id: &str) -> String {
    transport::encode_query(&[("", id)])
        .trim_start_matches('=')
        .to_owned()
}
