//! The `juju-sim-tool` client over a real Unix socket: invoked under a tool's name, as the
//! simulator installs it, it sends argv, stdin (for `--file -`) and `JUJU_CONTEXT_ID`, prints
//! the answer and exits with its code.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use juju_sim::state::{Application, HookScope, ModelState, Relation, RelationEnd, Unit};
use juju_sim::tools::{ToolRequest, dispatch, read_request, write_response};

fn model() -> ModelState {
    let unit = |n: &str| Unit {
        name: n.into(),
        ..Unit::default()
    };
    let db = Application {
        name: "db".into(),
        units: BTreeMap::from([("db/0".into(), unit("db/0"))]),
        leader: Some("db/0".into()),
        planned_units: 1,
        ..Application::default()
    };
    let web = Application {
        name: "web".into(),
        units: BTreeMap::from([("web/0".into(), unit("web/0"))]),
        leader: Some("web/0".into()),
        planned_units: 1,
        ..Application::default()
    };
    ModelState {
        name: "m".into(),
        uuid: "u".into(),
        applications: BTreeMap::from([("db".into(), db), ("web".into(), web)]),
        relations: vec![Relation {
            id: 4,
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
            unit_data: BTreeMap::new(),
            units_joined: BTreeMap::new(),
            dying: false,
            broken_for: std::collections::BTreeSet::new(),
        }],
        ..ModelState::default()
    }
}

/// Serves hook-tool connections for `db/0` until stopped; returns the model and requests seen.
struct Agent {
    socket: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<(ModelState, Vec<ToolRequest>)>>,
}

impl Agent {
    fn start(dir: &Path) -> Self {
        let socket = dir.join("agent.socket");
        let listener = UnixListener::bind(&socket).unwrap_or_else(|e| panic!("bind: {e}"));
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut state = model();
            let mut seen = Vec::new();
            let mut scope = HookScope::new(&mut state, "db/0", "database-relation-changed");
            scope.relation_id = Some(4);
            scope.remote_app = Some("web".into());
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let Ok(req) = read_request(&mut stream) else {
                    continue;
                };
                let resp = dispatch(&mut scope, &req);
                let _ = write_response(&mut stream, &resp);
                seen.push(req);
            }
            scope.commit();
            (state, seen)
        });
        Self {
            socket,
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> (ModelState, Vec<ToolRequest>) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = UnixStream::connect(&self.socket);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_else(|| panic!("agent thread failed"))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.stop.store(true, Ordering::SeqCst);
            let _ = UnixStream::connect(&self.socket);
            let _ = t.join();
        }
    }
}

fn tool(bin_dir: &Path, name: &str) -> PathBuf {
    let link = bin_dir.join(name);
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_juju-sim-tool"), &link)
            .unwrap_or_else(|e| panic!("symlink: {e}"));
    }
    link
}

fn run(bin_dir: &Path, socket: &Path, name: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(tool(bin_dir, name))
        .args(args)
        .env("JUJU_AGENT_SOCKET_ADDRESS", socket)
        .env("JUJU_CONTEXT_ID", "db/0-database-relation-changed-1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("stdin: {e}"));
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait {name}: {e}"))
}

#[test]
fn client_round_trip_over_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap_or_else(|e| panic!("mkdir: {e}"));
    let agent = Agent::start(dir.path());

    let o = run(
        &bin,
        &agent.socket,
        "relation-get",
        &["--app", "want", "web"],
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "users\n");

    // stdin is sent for `--file -` (ops' relation-set), and the write is committed.
    let o = run(
        &bin,
        &agent.socket,
        "relation-set",
        &["-r", "4", "--app", "--file", "-"],
        Some("{\"host\": \"db.svc\"}"),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Errors: Juju's text on stderr, its exit code.
    let o = run(
        &bin,
        &agent.socket,
        "relation-get",
        &["-r", "99", "-", "web"],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "ERROR invalid value \"99\" for option -r: relation not found\n"
    );

    // Run as `juju-sim-tool TOOL ...` too.
    let o = run(
        &bin,
        &agent.socket,
        "juju-sim-tool",
        &["is-leader", "--format=json"],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "true\n");

    let (state, seen) = agent.finish();
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[0].argv, vec!["relation-get", "--app", "want", "web"]);
    assert_eq!(seen[0].context_id, "db/0-database-relation-changed-1");
    assert!(seen[0].stdin.is_empty());
    assert_eq!(seen[1].stdin, b"{\"host\": \"db.svc\"}");
    assert_eq!(state.relations[0].app_data["db"]["host"], "db.svc");
}

#[test]
fn client_without_socket_fails_clearly() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let o = Command::new(tool(dir.path(), "is-leader"))
        .env_remove("JUJU_AGENT_SOCKET_ADDRESS")
        .output()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("JUJU_AGENT_SOCKET_ADDRESS is not set"));
    let o = Command::new(tool(dir.path(), "is-leader"))
        .env(
            "JUJU_AGENT_SOCKET_ADDRESS",
            dir.path().join("absent.socket"),
        )
        .output()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("connecting to"));
}
