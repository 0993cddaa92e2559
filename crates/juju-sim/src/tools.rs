//! Hook tools: the wire protocol between the `juju-sim-tool` client and the simulator, and
//! [`dispatch`], which runs one tool invocation against a [`HookScope`].
//!
//! Wire protocol (both directions): a 4-byte big-endian length, then that many bytes of JSON.
//! The client sends a [`ToolRequest`] and reads one [`ToolResponse`]; one connection per
//! invocation, like Juju's `jujuc` client talking to the unit agent's socket
//! (`JUJU_AGENT_SOCKET_ADDRESS`). Byte strings travel as JSON arrays of numbers, so the client
//! needs nothing but `serde_json`.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::state::HookScope;

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
    let resp = ToolResponse::fail(127, format!("ERROR unknown command \"{name}\"\n"));
    scope.tool_calls.push(crate::state::ToolCall {
        argv: req.argv.clone(),
        code: resp.code,
        stdin_len: req.stdin.len(),
    });
    resp
}
