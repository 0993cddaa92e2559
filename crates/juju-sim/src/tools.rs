//! Hook tools: the wire protocol between the `juju-sim-tool` client and the simulator, and
//! [`dispatch`], which runs one tool invocation against a [`HookScope`].
//!
//! Wire protocol (both directions): a 4-byte big-endian length, then that many bytes of JSON.
//! The client sends a [`ToolRequest`] and reads one [`ToolResponse`]; one connection per
//! invocation, like Juju's `jujuc` client talking to the unit agent's socket
//! (`JUJU_AGENT_SOCKET_ADDRESS`). Byte strings travel as JSON arrays of numbers, so the client
//! needs nothing but `serde_json`. (Juju's own wire is Go RPC; nothing a charm sees depends
//! on it.)
//!
//! The tools take Juju's flags (`gnuflag`: `-x`/`--x`, `--f=v`/`--f v`, interspersed
//! positionals, `--`), print Juju's formats (`smart`/`yaml`/`json`, Go's JSON escaping, a
//! trailing newline) and fail as Juju does: `ERROR <message>` on stderr, exit 2 for bad
//! arguments, 1 for failures, with Juju's texts where a charm or ops matches on them
//! (`cannot write relation settings`, `permission denied`, `this unit is not the leader`,
//! `secret "<id>" not found`, `invalid value "<v>" for option -r: relation not found`,
//! `not running an action`). Rules per tool are in the `relation`, `secret` and `other` modules;
//! what a hook queues versus applies at once is in [`crate::state`]. Every call is recorded in
//! [`HookScope::tool_calls`] (argv with secret content redacted, exit code, stdin length).
//!
//! Simplifications (each visible to a charm):
//! - YAML output is serde-saphyr's, not Go yaml.v2's: the same data, quoting may differ
//!   (`ip: "10.0.0.9"`).
//! - Error texts Juju builds from controller errors that no client parses are approximated
//!   (e.g. reading a unit that never joined: `cannot read settings for unit ...`).
//! - Tools not listed in [`TOOL_NAMES`] (`leader-get/set`,
//!   `resource-get`, `storage-add`, `juju-reboot`, `add-metric`, payloads) exit 127 with
//!   `juju-sim-tool: <tool>: hook tool not supported by juju-sim`; podspec tools
//!   (`pod-spec-set`, `k8s-spec-set`, ...) fail with a "not supported for sidecar charms"
//!   error, as a sidecar charm should never call them.
//! - `JUJU_CONTEXT_ID` is carried but not checked: the runner serves one hook at a time.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

mod args;
mod other;
mod relation;
mod secret;

pub use args::{ToolError, now, rfc3339, yaml};

use crate::state::{HookScope, PortOp, ToolCall};

/// Largest message accepted on the wire (stdin of `relation-set --file -` and the like).
pub const MAX_MESSAGE: u32 = 64 * 1024 * 1024;

/// One tool invocation as the client sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolRequest {
    /// `argv[0]` is the tool name (the basename the client was invoked as).
    pub argv: Vec<String>,
    /// Standard input, read only by the tools that take it.
    #[serde(default)]
    pub stdin: Vec<u8>,
    /// `JUJU_CONTEXT_ID` of the calling hook.
    #[serde(default)]
    pub context_id: String,
}

/// What the client prints and exits with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolResponse {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

impl ToolResponse {
    /// Exit 0 with `stdout`.
    pub fn ok(stdout: impl Into<Vec<u8>>) -> Self {
        Self {
            code: 0,
            stdout: stdout.into(),
            stderr: Vec::new(),
        }
    }

    /// A failure with `stderr` and `code`.
    pub fn fail(code: i32, stderr: impl Into<Vec<u8>>) -> Self {
        Self {
            code,
            stdout: Vec::new(),
            stderr: stderr.into(),
        }
    }
}

/// Failures of the wire protocol.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Reading the length prefix or body failed.
    #[error("reading a hook-tool message")]
    Read(#[source] std::io::Error),
    /// Writing failed.
    #[error("writing a hook-tool message")]
    Write(#[source] std::io::Error),
    /// The announced length is over [`MAX_MESSAGE`].
    #[error("hook-tool message of {0} bytes is over the limit")]
    TooLarge(u32),
    /// The body is not the expected JSON.
    #[error("decoding a hook-tool message")]
    Decode(#[source] serde_json::Error),
    /// Encoding failed.
    #[error("encoding a hook-tool message")]
    Encode(#[source] serde_json::Error),
}

fn read_message<T: for<'de> Deserialize<'de>>(r: &mut impl Read) -> Result<T, WireError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).map_err(WireError::Read)?;
    let len = u32::from_be_bytes(len);
    if len > MAX_MESSAGE {
        return Err(WireError::TooLarge(len));
    }
    let mut body = Vec::new();
    r.take(u64::from(len))
        .read_to_end(&mut body)
        .map_err(WireError::Read)?;
    if body.len() != len as usize {
        return Err(WireError::Read(std::io::ErrorKind::UnexpectedEof.into()));
    }
    serde_json::from_slice(&body).map_err(WireError::Decode)
}

fn write_message<T: Serialize>(w: &mut impl Write, msg: &T) -> Result<(), WireError> {
    let body = serde_json::to_vec(msg).map_err(WireError::Encode)?;
    let len = u32::try_from(body.len())
        .ok()
        .filter(|l| *l <= MAX_MESSAGE)
        .ok_or(WireError::TooLarge(u32::MAX))?;
    w.write_all(&len.to_be_bytes()).map_err(WireError::Write)?;
    w.write_all(&body).map_err(WireError::Write)?;
    w.flush().map_err(WireError::Write)
}

/// Server side: reads the request of one connection.
pub fn read_request(r: &mut impl Read) -> Result<ToolRequest, WireError> {
    read_message(r)
}

/// Server side: writes the response.
pub fn write_response(w: &mut impl Write, resp: &ToolResponse) -> Result<(), WireError> {
    write_message(w, resp)
}

/// Client side (tests; the `juju-sim-tool` binary has its own copy without this crate).
pub fn write_request(w: &mut impl Write, req: &ToolRequest) -> Result<(), WireError> {
    write_message(w, req)
}

/// Client side: reads the response.
pub fn read_response(r: &mut impl Read) -> Result<ToolResponse, WireError> {
    read_message(r)
}

/// Runs one hook-tool invocation against the scope and records it in `scope.tool_calls`.
pub fn dispatch(scope: &mut HookScope<'_>, req: &ToolRequest) -> ToolResponse {
    let name = req
        .argv
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_owned())
        .unwrap_or_default();
    let args = req.argv.get(1..).unwrap_or_default();
    let resp = match run_tool(scope, &name, args, &req.stdin) {
        Ok(resp) => resp,
        Err(e) => ToolResponse::fail(e.code, format!("ERROR {}\n", e.message)),
    };
    scope.tool_calls.push(ToolCall {
        argv: redact(&name, &req.argv),
        code: resp.code,
        stdin_len: req.stdin.len(),
    });
    resp
}

/// The hook tools [`dispatch`] knows (the runner installs the client under each name).
pub const TOOL_NAMES: &[&str] = &[
    "action-fail",
    "action-get",
    "action-log",
    "action-set",
    "application-version-set",
    "close-port",
    "config-get",
    "credential-get",
    "goal-state",
    "is-leader",
    "juju-log",
    "k8s-raw-get",
    "k8s-raw-set",
    "k8s-spec-get",
    "k8s-spec-set",
    "network-get",
    "open-port",
    "opened-ports",
    "pod-spec-get",
    "pod-spec-set",
    "relation-get",
    "relation-ids",
    "relation-list",
    "relation-model-get",
    "relation-set",
    "secret-add",
    "secret-get",
    "secret-grant",
    "secret-ids",
    "secret-info-get",
    "secret-remove",
    "secret-revoke",
    "secret-set",
    "state-delete",
    "state-get",
    "state-set",
    "status-get",
    "status-set",
    "storage-get",
    "storage-list",
];

type Outcome = Result<ToolResponse, ToolError>;

fn run_tool(scope: &mut HookScope<'_>, name: &str, args: &[String], stdin: &[u8]) -> Outcome {
    match name {
        "relation-ids" => relation::relation_ids(scope, args),
        "relation-list" => relation::relation_list(scope, args),
        "relation-get" => relation::relation_get(scope, args),
        "relation-set" => relation::relation_set(scope, args, stdin),
        "relation-model-get" => relation::relation_model_get(scope, args),
        "secret-add" => secret::secret_add(scope, args, stdin),
        "secret-get" => secret::secret_get(scope, args),
        "secret-set" => secret::secret_set(scope, args, stdin),
        "secret-grant" => secret::secret_grant(scope, args),
        "secret-revoke" => secret::secret_revoke(scope, args),
        "secret-remove" => secret::secret_remove(scope, args),
        "secret-ids" => secret::secret_ids(scope, args),
        "secret-info-get" => secret::secret_info_get(scope, args),
        "config-get" => other::config_get(scope, args),
        "is-leader" => other::is_leader(scope, args),
        "status-set" => other::status_set(scope, args),
        "status-get" => other::status_get(scope, args),
        "application-version-set" => other::application_version_set(scope, args),
        "juju-log" => other::juju_log(scope, args),
        "goal-state" => other::goal_state(scope, args),
        "open-port" => other::port(scope, args, PortOp::Open),
        "close-port" => other::port(scope, args, PortOp::Close),
        "opened-ports" => other::opened_ports(scope, args),
        "action-get" => other::action_get(scope, args),
        "action-set" => other::action_set(scope, args),
        "action-fail" => other::action_fail(scope, args),
        "action-log" => other::action_log(scope, args),
        "storage-get" => other::storage_get(scope, args),
        "storage-list" => other::storage_list(scope, args),
        "state-get" => other::state_get(scope, args),
        "state-set" => other::state_set(scope, args, stdin),
        "state-delete" => other::state_delete(scope, args),
        "network-get" => other::network_get(scope, args),
        "credential-get" => other::credential_get(scope, args),
        "pod-spec-set" | "pod-spec-get" | "k8s-spec-set" | "k8s-spec-get" | "k8s-raw-set"
        | "k8s-raw-get" => Err(ToolError::run(format!(
            "{name} is not supported for sidecar charms (juju-sim: podspec charms are not simulated)"
        ))),
        _ => Ok(ToolResponse::fail(
            127,
            format!("juju-sim-tool: {name}: hook tool not supported by juju-sim\n"),
        )),
    }
}

/// Replaces secret content values in `secret-add`/`secret-set` arguments with `***`.
fn redact(name: &str, argv: &[String]) -> Vec<String> {
    if name != "secret-add" && name != "secret-set" {
        return argv.to_vec();
    }
    argv.iter()
        .map(|a| match a.split_once('=') {
            Some((k, _)) if !a.starts_with('-') => format!("{k}=***"),
            _ => a.clone(),
        })
        .collect()
}
