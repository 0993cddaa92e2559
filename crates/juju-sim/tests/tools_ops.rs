//! ops' own model backend (`ops.model._ModelBackend`, unmodified, from PyPI) calls our hook
//! tools through the `juju-sim-tool` client, as a charm does under Juju, and must parse every
//! answer: relation data (leader and follower rules), config, status, goal state, secrets,
//! network, storage, ports, errors (`tests/tools_ops/backend.py`). Uses the ops venv of
//! `tests/pebble_ops.rs`; set `JUJU_SIM_SKIP_OPS=1` to skip.

#[path = "support/ops_venv.rs"]
mod ops_venv;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use juju_sim::state::{
    Application, CharmMeta, ConfigOption, EndpointMeta, HookScope, ModelState, Relation,
    RelationEnd, Role, StorageMeta, Unit,
};
use juju_sim::tools::{TOOL_NAMES, dispatch, read_request, write_response};
use serde_json::json;

fn app(name: &str, units: u32, endpoints: &[(&str, Role)]) -> Application {
    let mut metadata = CharmMeta::default();
    for (ep, role) in endpoints {
        metadata.endpoints.insert(
            (*ep).into(),
            EndpointMeta {
                role: *role,
                interface: "pg".into(),
                limit: None,
                optional: false,
            },
        );
    }
    let units = (0..units)
        .map(|i| {
            let n = format!("{name}/{i}");
            (
                n.clone(),
                Unit {
                    name: n,
                    ..Unit::default()
                },
            )
        })
        .collect();
    Application {
        name: name.into(),
        metadata,
        units,
        leader: Some(format!("{name}/0")),
        planned_units: 2,
        ..Application::default()
    }
}

fn model() -> ModelState {
    let mut db = app("db", 2, &[("database", Role::Provides)]);
    let option = |kind: &str, default| ConfigOption {
        kind: kind.into(),
        default,
        description: String::new(),
    };
    db.metadata
        .config
        .insert("port".into(), option("int", Some(json!(5432))));
    db.metadata
        .config
        .insert("debug".into(), option("boolean", Some(json!(false))));
    db.metadata
        .config
        .insert("name".into(), option("string", None));
    db.config.insert("debug".into(), json!(true));
    db.metadata.storage.insert(
        "data".into(),
        StorageMeta {
            kind: "filesystem".into(),
            location: None,
        },
    );
    if let Some(u) = db.units.get_mut("db/0") {
        u.storage
            .insert("data".into(), PathBuf::from("/tmp/sim/db-0/data"));
    }
    let web = app("web", 1, &[("db", Role::Requires)]);
    let rel = Relation {
        id: 1,
        endpoints: [
            RelationEnd {
                app: "db".into(),
                endpoint: "database".into(),
            },
            RelationEnd {
                app: "web".into(),
                endpoint: "db".into(),
            },
        ],
        app_data: BTreeMap::from([(
            "web".into(),
            BTreeMap::from([("want".into(), "users".into())]),
        )]),
        unit_data: BTreeMap::from([(
            "web/0".into(),
            BTreeMap::from([("ip".into(), "10.0.0.9".into())]),
        )]),
        units_joined: BTreeMap::from([
            ("db/0".into(), BTreeSet::from(["web/0".to_owned()])),
            ("db/1".into(), BTreeSet::from(["web/0".to_owned()])),
        ]),
        dying: false,
        broken_for: std::collections::BTreeSet::new(),
    };
    ModelState {
        name: "m".into(),
        uuid: "5b1f2c3d-0000-4000-8000-000000000001".into(),
        applications: BTreeMap::from([("db".into(), db), ("web".into(), web)]),
        relations: vec![rel],
        next_relation_id: 2,
        ..ModelState::default()
    }
}

/// Serves hook-tool connections for one hook of `unit`, then commits.
fn serve_hook(
    listener: UnixListener,
    unit: &'static str,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<ModelState> {
    std::thread::spawn(move || {
        let mut state = model();
        let mut scope = HookScope::new(&mut state, unit, "update-status");
        for stream in listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let Ok(mut stream) = stream else { continue };
            if let Ok(req) = read_request(&mut stream) {
                let resp = dispatch(&mut scope, &req);
                let _ = write_response(&mut stream, &resp);
            }
        }
        scope.commit();
        state
    })
}

fn run_backend(python: &Path, unit: &'static str, mode: &str) -> ModelState {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let bin = dir.path().join("tools");
    std::fs::create_dir(&bin).unwrap_or_else(|e| panic!("mkdir: {e}"));
    for name in TOOL_NAMES {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_juju-sim-tool"), bin.join(name))
            .unwrap_or_else(|e| panic!("symlink: {e}"));
    }
    let socket = dir.path().join("agent.socket");
    let listener = UnixListener::bind(&socket).unwrap_or_else(|e| panic!("bind: {e}"));
    let stop = Arc::new(AtomicBool::new(false));
    let agent = serve_hook(listener, unit, Arc::clone(&stop));
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools_ops/backend.py");
    let out = Command::new(python)
        .arg(script)
        .arg(mode)
        .env("PATH", path)
        .env("JUJU_AGENT_SOCKET_ADDRESS", &socket)
        .env("JUJU_CONTEXT_ID", format!("{unit}-update-status-1"))
        .env("JUJU_UNIT_NAME", unit)
        .env("JUJU_MODEL_NAME", "m")
        .env("JUJU_MODEL_UUID", "5b1f2c3d-0000-4000-8000-000000000001")
        .env("JUJU_VERSION", "3.6.11")
        .env("JUJU_HOOK_NAME", "update-status")
        .env("JUJU_DISPATCH_PATH", "hooks/update-status")
        .output()
        .unwrap_or_else(|e| panic!("python: {e}"));
    stop.store(true, Ordering::SeqCst);
    let _ = UnixStream::connect(&socket);
    let state = agent
        .join()
        .unwrap_or_else(|_| panic!("agent thread panicked"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim() == "OK",
        "ops backend ({mode}) failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    state
}

#[test]
fn ops_model_backend_parses_every_answer() {
    let Some(python) = ops_venv::ops_python() else {
        return;
    };
    let state = run_backend(&python, "db/0", "leader");
    // The hook succeeded: its queued writes were committed.
    assert_eq!(state.relations[0].app_data["db"]["host"], "db.svc");
    assert_eq!(state.relations[0].unit_data["db/0"]["ready"], "yes");
    assert_eq!(state.secrets.len(), 1);
    let secret = state
        .secrets
        .values()
        .next()
        .map(|s| s.grants.contains_key("web"));
    assert_eq!(secret, Some(true));
    assert_eq!(state.applications["db"].opened_ports.len(), 2);
    assert_eq!(state.applications["db"].workload_version, "1.2.3");
    assert!(state.log.iter().any(|l| l.message == "hello from ops"));
    assert_eq!(state.applications["db"].units["db/0"].charm_state.len(), 1);

    let state = run_backend(&python, "db/1", "follower");
    assert!(!state.relations[0].app_data.contains_key("db"));
}
