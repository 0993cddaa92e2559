//! `juju-sim-tool`: the hook-tool client. The simulator links it under every tool name
//! (`relation-get`, `status-set`, ...) in a directory first on the hook's PATH; invoked under
//! such a name it sends its arguments, `JUJU_CONTEXT_ID` and (for `--file -` only) its stdin
//! to the simulator over the Unix socket named by `JUJU_AGENT_SOCKET_ADDRESS` (as Juju's
//! `jujuc` client does), prints the answer and exits with its code. Invoked as
//! `juju-sim-tool TOOL ARGS...` it runs TOOL.
//!
//! Wire format (see `juju_sim::tools`): 4-byte big-endian length + JSON, each way. Kept to std
//! and serde_json so that it starts fast: a hook may run it dozens of times.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use serde_json::{Value, json};

const MAX_MESSAGE: usize = 64 * 1024 * 1024;

fn main() -> ExitCode {
    match run() {
        Ok(code) => ExitCode::from(u8::try_from(code.clamp(0, 255)).unwrap_or(1)),
        Err(message) => {
            eprintln!("juju-sim-tool: {message}");
            ExitCode::from(1)
        }
    }
}

fn run() -> Result<i32, String> {
    let mut argv: Vec<String> = std::env::args().collect();
    let invoked = argv
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_owned())
        .unwrap_or_default();
    if invoked == "juju-sim-tool" || invoked.is_empty() {
        argv.remove(0);
        if argv.is_empty() {
            return Err(
                "usage: juju-sim-tool TOOL [ARGS...] (or run it under a tool's name)".into(),
            );
        }
    } else {
        argv[0] = invoked;
    }
    let wants_stdin = argv
        .windows(2)
        .any(|w| (w[0] == "--file" || w[0] == "-file") && w[1] == "-")
        || argv.iter().any(|a| a == "--file=-" || a == "-file=-");
    let mut stdin = Vec::new();
    if wants_stdin {
        std::io::stdin()
            .read_to_end(&mut stdin)
            .map_err(|e| format!("reading stdin: {e}"))?;
    }
    let address = std::env::var("JUJU_AGENT_SOCKET_ADDRESS")
        .map_err(|_| "JUJU_AGENT_SOCKET_ADDRESS is not set (not running in a hook?)".to_owned())?;
    let context_id = std::env::var("JUJU_CONTEXT_ID").unwrap_or_default();
    let mut stream = connect(&address)?;
    let request = json!({ "argv": argv, "stdin": stdin, "context_id": context_id });
    let body = serde_json::to_vec(&request).map_err(|e| format!("encoding request: {e}"))?;
    let len = u32::try_from(body.len()).map_err(|_| "request too large".to_owned())?;
    stream
        .write_all(&len.to_be_bytes())
        .and_then(|()| stream.write_all(&body))
        .and_then(|()| stream.flush())
        .map_err(|e| format!("sending request to {address}: {e}"))?;
    let mut len = [0u8; 4];
    stream
        .read_exact(&mut len)
        .map_err(|e| format!("reading response from {address}: {e}"))?;
    let len = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
    if len > MAX_MESSAGE {
        return Err(format!("response of {len} bytes is over the limit"));
    }
    let mut body = vec![0u8; len];
    stream
        .read_exact(&mut body)
        .map_err(|e| format!("reading response from {address}: {e}"))?;
    let response: Value =
        serde_json::from_slice(&body).map_err(|e| format!("decoding response: {e}"))?;
    let bytes = |key: &str| -> Vec<u8> {
        response[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let code = response["code"]
        .as_i64()
        .and_then(|c| i32::try_from(c).ok())
        .unwrap_or(1);
    // A closed stdout/stderr (the caller stopped reading) is not our failure.
    let _ = std::io::stdout().write_all(&bytes("stdout"));
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(&bytes("stderr"));
    Ok(code)
}

fn connect(address: &str) -> Result<UnixStream, String> {
    if let Some(name) = address.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            .map_err(|e| format!("abstract socket {address}: {e}"))?;
        return UnixStream::connect_addr(&addr)
            .map_err(|e| format!("connecting to {address}: {e}"));
    }
    UnixStream::connect(address).map_err(|e| format!("connecting to {address}: {e}"))
}
