//! Wire compatibility: ops' own Pebble client (`ops.pebble.Client`, unmodified, installed from
//! PyPI into a cached venv) drives the simulator's Pebble server through layers, plan,
//! services, changes, checks and files (`tests/pebble_ops/client.py`).
//!
//! The venv lives at `${XDG_CACHE_HOME:-$HOME/.cache}/charmarr-rs/ops-venv` and is created on
//! first use (`python3 -m venv`, `pip install ops`). Set `JUJU_SIM_SKIP_OPS=1` to skip where
//! neither Python nor PyPI is available.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use juju_sim::pebble::{PebbleState, Server};

fn venv() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    cache.join("charmarr-rs/ops-venv")
}

/// The venv's python with ops importable, created if needed.
fn ops_python() -> PathBuf {
    let dir = venv();
    let python = dir.join("bin/python");
    let has_ops = |py: &PathBuf| {
        Command::new(py)
            .args(["-c", "import ops"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if has_ops(&python) {
        return python;
    }
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(dir.join("bin/pip"))
            .args(["install", "--quiet", "ops"])
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        ok && has_ops(&python),
        "could not set up the ops venv at {} (python3 -m venv; pip install ops); \
         set JUJU_SIM_SKIP_OPS=1 to skip",
        dir.display()
    );
    python
}

#[test]
fn ops_pebble_client_speaks_to_the_simulator() {
    if std::env::var_os("JUJU_SIM_SKIP_OPS").is_some() {
        eprintln!("skipped: JUJU_SIM_SKIP_OPS is set");
        return;
    }
    let python = ops_python();
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
