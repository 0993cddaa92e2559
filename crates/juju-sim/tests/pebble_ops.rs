//! Wire compatibility: ops' own Pebble client (`ops.pebble.Client`, unmodified, installed from
//! PyPI into a cached venv) drives the simulator's Pebble server through layers, plan,
//! services, changes, checks and files (`tests/pebble_ops/client.py`).
//!
//! The venv lives at `${XDG_CACHE_HOME:-$HOME/.cache}/charmarr-rs/ops-venv` and is created on
//! first use (`python3 -m venv`, `pip install ops`). Set `JUJU_SIM_SKIP_OPS=1` to skip where
//! neither Python nor PyPI is available.

#[path = "support/ops_venv.rs"]
mod ops_venv;

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use juju_sim::pebble::{PebbleState, Server};

#[test]
fn ops_pebble_client_speaks_to_the_simulator() {
    let Some(python) = ops_venv::ops_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let state = PebbleState::new(dir.path().join("root"), Vec::new())
        .unwrap_or_else(|e| panic!("state: {e}"));
    let socket = dir.path().join("pebble.socket");
    let _server = Server::start(&socket, Arc::new(Mutex::new(state)))
        .unwrap_or_else(|e| panic!("start: {e}"));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pebble_ops/client.py");
    let out = Command::new(python)
        .arg(script)
        .arg(&socket)
        .output()
        .unwrap_or_else(|e| panic!("python: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim() == "OK",
        "ops client failed:\n{stdout}\n{stderr}"
    );
}
