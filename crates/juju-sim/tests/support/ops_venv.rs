//! The cached venv with ops from PyPI, shared by the ops-driven tests (and created under the
//! same `flock` as `tests/ops_fidelity.rs`, so parallel test binaries do not race).

use std::path::PathBuf;
use std::process::Command;

/// The venv's python with `ops` importable, created on first use; `None` (skip) when
/// `JUJU_SIM_SKIP_OPS` is set. Panics, naming the venv, when it cannot be set up.
pub fn ops_python() -> Option<PathBuf> {
    if std::env::var_os("JUJU_SIM_SKIP_OPS").is_some() {
        eprintln!("skipped: JUJU_SIM_SKIP_OPS is set");
        return None;
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    let root = cache.join("charmarr-rs");
    let venv = root.join("ops-venv");
    let python = venv.join("bin/python");
    let script = format!(
        "{py} -c 'import ops' 2>/dev/null || {{ python3 -m venv {v} && {v}/bin/pip install -q ops; }}",
        py = python.display(),
        v = venv.display()
    );
    let ok = std::fs::create_dir_all(&root).is_ok()
        && Command::new("flock")
            .arg(root.join(".ops-venv.lock"))
            .args(["sh", "-c", &script])
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        ok,
        "could not set up the ops venv at {} (python3 -m venv; pip install ops); \
         set JUJU_SIM_SKIP_OPS=1 to skip",
        venv.display()
    );
    Some(python)
}
