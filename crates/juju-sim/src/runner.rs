//! Running one hook (or action) of one unit, as Juju's unit agent does.
//!
//! The charm's `dispatch` runs with Juju's environment (see [`hook_env`]), its working
//! directory the unit's charm directory, and a PATH whose first entry holds the hook tools
//! (every tool name a link to `juju-sim-tool`). While it runs, the agent socket
//! (`JUJU_AGENT_SOCKET_ADDRESS`) is served: every connection is one tool invocation, read with
//! [`tools::read_request`], run with [`tools::dispatch`] against the hook's [`HookScope`],
//! answered with [`tools::write_response`]. When the hook exits 0 the scope's queued changes
//! are committed; otherwise they are discarded (status and logs stay), as in Juju.
//!
//! Pebble: ops finds a container's Pebble only at `/charm/containers/<name>/pebble.socket`.
//! Every hook therefore runs in its own mount namespace (`unshare --mount --propagation
//! private`, util-linux; needs root) in which the unit's socket directory is bind-mounted onto
//! `/charm/containers`, so each unit sees its own sockets and the host's mount table is never
//! touched. `/charm/containers` is created on the host once, empty, if absent (the bind mount
//! needs a mount point); nothing is ever written into it. Without root (or without `unshare`),
//! hooks run without the namespace and no charm finds Pebble (recorded in the hook record).
//!
//! Network: when the unit has a pod ([`UnitEnv::netns`], crate::pod_network), the hook runs in
//! the pod's network namespace (`nsenter --net`), so the workload's ports are on its
//! `localhost`, as in the charm container of a Kubernetes pod.
//!
//! Kubernetes: the same namespace binds the application's service-account directory (token,
//! `ca.crt`, namespace) onto [`SERVICE_ACCOUNT_DIR`] and the environment carries
//! `KUBERNETES_SERVICE_HOST`/`PORT` (in a pod, the `kubernetes` Service relayed to the fault
//! proxy; else the proxy's TLS side), which is all Juju gives a charm and all our runtime
//! reads. Without the mount namespace, charms that read in-cluster configuration (ours) cannot
//! reach the API server; `KUBECONFIG` is still set for tools and test charms.
//!
//! Each hook runs in its own process group. When the hook exits, whatever it left running in
//! that group is killed (Juju would leave it running in the charm container until the pod
//! restarts; here nothing may outlive the simulator); a hook running longer than
//! `$JUJU_SIM_HOOK_TIMEOUT` seconds (default 600) is killed and fails.

use std::io::Read;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::k8s::JUJU_VERSION;
use crate::state::{ActionRun, Effects, HookScope, ModelState, ToolCall};
use crate::tools;

/// Every hook tool Juju 3.6 puts on a hook's PATH.
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
    "juju-reboot",
    "leader-get",
    "leader-set",
    "network-get",
    "open-port",
    "opened-ports",
    "relation-get",
    "relation-ids",
    "relation-list",
    "relation-model-get",
    "relation-set",
    "resource-get",
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
    "storage-add",
    "storage-get",
    "storage-list",
    "unit-get",
];

/// The mount point ops expects Pebble sockets under.
pub const CHARM_CONTAINERS: &str = "/charm/containers";

/// Where a pod's service-account token, CA and namespace are (what kube's and lightkube's
/// in-cluster configurations read): each hook gets its application's mounted here.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// An application's in-cluster identity, as Kubernetes gives it to a pod.
#[derive(Debug, Clone)]
pub struct ServiceAccount {
    /// The directory with `token`, `ca.crt` and `namespace`, mounted on
    /// [`SERVICE_ACCOUNT_DIR`] in the hook's mount namespace.
    pub dir: PathBuf,
    /// `KUBERNETES_SERVICE_HOST`.
    pub host: String,
    /// `KUBERNETES_SERVICE_PORT`.
    pub port: u16,
}

/// Errors while running a hook (not the hook failing: that is an exit code).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Preparing a directory or socket failed.
    #[error("preparing {what}")]
    Prepare {
        /// What.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The charm's dispatch could not be started.
    #[error("starting {dispatch}")]
    Spawn {
        /// The program.
        dispatch: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Waiting for the hook failed.
    #[error("waiting for hook {hook}")]
    Wait {
        /// The hook.
        hook: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// What kind of hook runs and its context variables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HookContext {
    /// The hook name (`install`, `db-relation-changed`, `web-pebble-ready`) or action name.
    pub hook: String,
    /// Whether this is an action (`JUJU_DISPATCH_PATH=actions/<name>`).
    pub is_action: bool,
    /// Relation id and endpoint name, for relation hooks.
    pub relation: Option<(u64, String)>,
    /// `JUJU_REMOTE_APP`.
    pub remote_app: Option<String>,
    /// `JUJU_REMOTE_UNIT`.
    pub remote_unit: Option<String>,
    /// `JUJU_DEPARTING_UNIT`.
    pub departing_unit: Option<String>,
    /// Secret id (bare), label and revision, for secret hooks.
    pub secret: Option<(String, Option<String>, Option<u32>)>,
    /// Storage name and its location in the charm container, for storage hooks.
    pub storage: Option<(String, String)>,
    /// `JUJU_WORKLOAD_NAME`, for workload (pebble) hooks.
    pub workload: Option<String>,
    /// The action run (name, params), for actions.
    pub action: Option<ActionRun>,
}

impl HookContext {
    /// A plain hook without context.
    pub fn hook(name: impl Into<String>) -> Self {
        Self {
            hook: name.into(),
            ..Self::default()
        }
    }
}

/// Where a unit's hooks run and what they are pointed at.
#[derive(Debug, Clone)]
pub struct UnitEnv {
    /// The unit name (`app/0`).
    pub unit: String,
    /// The model name.
    pub model_name: String,
    /// The model UUID.
    pub model_uuid: String,
    /// The unit's charm directory (`JUJU_CHARM_DIR`, the working directory).
    pub charm_dir: PathBuf,
    /// The directory of tool links, first on PATH.
    pub tools_dir: PathBuf,
    /// The unit's agent directory (holds the agent socket).
    pub agent_dir: PathBuf,
    /// The unit's Pebble base directory (`<container>/pebble.socket` inside).
    pub pebble_dir: PathBuf,
    /// The kubeconfig of the application's identity (pointing at the fault proxy).
    pub kubeconfig: Option<PathBuf>,
    /// The same identity in-cluster (what Juju's charms use), mounted when hooks run in
    /// their own mount namespace.
    pub service_account: Option<ServiceAccount>,
    /// The network namespace of the unit's pod (`/run/netns/<name>`), when it has one.
    pub netns: Option<String>,
}

/// What one hook run did, for `debug-log` and the caller.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HookRecord {
    /// The unit.
    pub unit: String,
    /// The hook (or `action <name>`).
    pub hook: String,
    /// The exit code (-1: killed by a signal).
    pub code: i32,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// Tool calls in order.
    pub tool_calls: Vec<ToolCall>,
    /// API requests the charm sent (from the fault proxy's log), `VERB path -> status`.
    #[serde(default)]
    pub api_requests: Vec<String>,
    /// The last lines of the hook's stderr.
    #[serde(default)]
    pub stderr: String,
    /// The hook's stdout (Juju logs it at DEBUG).
    #[serde(default)]
    pub stdout: String,
    /// For a retry of a failed hook: which attempt (1 = first retry) and the backoff Juju
    /// would have waited, in seconds (not slept: the sim runs the retry at once).
    #[serde(default)]
    pub retry: Option<(u32, u64)>,
}

/// The outcome of [`run_hook`].
#[derive(Debug, Clone, Default)]
pub struct HookOutcome {
    /// The record.
    pub record: HookRecord,
    /// What the committed changes did (None when the hook failed).
    pub effects: Option<Effects>,
    /// The action run with its results.
    pub action: Option<ActionRun>,
}

/// Whether hooks can run in their own mount namespace (root and `unshare` present), and
/// `/charm/containers` and [`SERVICE_ACCOUNT_DIR`] exist as mount points (created here, empty,
/// if absent; nothing is ever written into them on the host).
pub fn namespaces_available() -> bool {
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
    });
    if !root || !Path::new("/usr/bin/unshare").exists() {
        return false;
    }
    [CHARM_CONTAINERS, SERVICE_ACCOUNT_DIR]
        .iter()
        .all(|d| Path::new(d).is_dir() || std::fs::create_dir_all(d).is_ok())
}

/// Makes `<dir>/<tool>` links to the `juju-sim-tool` binary for every tool name.
pub fn install_tools(dir: &Path, tool_binary: &Path) -> Result<(), RunError> {
    let prep = |what: &Path| {
        let what = what.display().to_string();
        move |source| RunError::Prepare { what, source }
    };
    std::fs::create_dir_all(dir).map_err(prep(dir))?;
    for name in TOOL_NAMES {
        let link = dir.join(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(tool_binary, &link).map_err(prep(&link))?;
    }
    Ok(())
}

static TOOL_BINARY: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Tells the simulator where `juju-sim-tool` is (tests: `env!("CARGO_BIN_EXE_juju-sim-tool")`).
pub fn set_tool_binary(path: &Path) {
    let mut t = TOOL_BINARY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *t = Some(path.to_path_buf());
}

/// Finds the `juju-sim-tool` binary: the one given to [`set_tool_binary`], else
/// `$JUJU_SIM_TOOL`, else next to the running executable (or one directory up, for test
/// binaries in `target/<profile>/deps`).
pub fn tool_binary() -> Option<PathBuf> {
    if let Some(p) = TOOL_BINARY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
    {
        return Some(p);
    }
    if let Some(p) = std::env::var_os("JUJU_SIM_TOOL").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir.join("juju-sim-tool"), dir.join("../juju-sim-tool")]
        .into_iter()
        .find(|p| p.is_file())
}

/// The environment Juju 3.6 gives a hook (the PATH is added by [`run_hook`]).
pub fn hook_env(env: &UnitEnv, ctx: &HookContext, context_id: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, val: String| v.push((k.to_owned(), val));
    let dispatch_path = if ctx.is_action {
        format!("actions/{}", ctx.hook)
    } else {
        format!("hooks/{}", ctx.hook)
    };
    let charm_dir = env.charm_dir.display().to_string();
    set("JUJU_CHARM_DIR", charm_dir.clone());
    set("CHARM_DIR", charm_dir);
    set("JUJU_CONTEXT_ID", context_id.to_owned());
    set("JUJU_DISPATCH_PATH", dispatch_path);
    if !ctx.is_action {
        set("JUJU_HOOK_NAME", ctx.hook.clone());
    }
    set("JUJU_MODEL_NAME", env.model_name.clone());
    set("JUJU_MODEL_UUID", env.model_uuid.clone());
    set("JUJU_UNIT_NAME", env.unit.clone());
    set("JUJU_PRINCIPAL_UNIT", String::new());
    set("JUJU_VERSION", JUJU_VERSION.to_owned());
    set("JUJU_AGENT_SOCKET_NETWORK", "unix".to_owned());
    set(
        "JUJU_AGENT_SOCKET_ADDRESS",
        env.agent_dir.join("agent.socket").display().to_string(),
    );
    set("JUJU_API_ADDRESSES", "127.0.0.1:17070".to_owned());
    set("JUJU_AVAILABILITY_ZONE", String::new());
    set("HOME", env.agent_dir.display().to_string());
    set("LANG", "C.UTF-8".to_owned());
    set("TERM", "tmux-256color".to_owned());
    if let Some(kc) = &env.kubeconfig {
        set("KUBECONFIG", kc.display().to_string());
    }
    if let Some(sa) = &env.service_account {
        set("KUBERNETES_SERVICE_HOST", sa.host.clone());
        set("KUBERNETES_SERVICE_PORT", sa.port.to_string());
    }
    if let Some((id, endpoint)) = &ctx.relation {
        set("JUJU_RELATION", endpoint.clone());
        set("JUJU_RELATION_ID", format!("{endpoint}:{id}"));
    }
    if let Some(app) = &ctx.remote_app {
        set("JUJU_REMOTE_APP", app.clone());
    }
    if let Some(unit) = &ctx.remote_unit {
        set("JUJU_REMOTE_UNIT", unit.clone());
    }
    if let Some(unit) = &ctx.departing_unit {
        set("JUJU_DEPARTING_UNIT", unit.clone());
    }
    if let Some((id, label, revision)) = &ctx.secret {
        set("JUJU_SECRET_ID", format!("secret:{id}"));
        if let Some(label) = label {
            set("JUJU_SECRET_LABEL", label.clone());
        }
        if let Some(rev) = revision {
            set("JUJU_SECRET_REVISION", rev.to_string());
        }
    }
    if let Some((name, location)) = &ctx.storage {
        set("JUJU_STORAGE_ID", format!("{name}/0"));
        set("JUJU_STORAGE_KIND", "filesystem".to_owned());
        set("JUJU_STORAGE_LOCATION", location.clone());
    }
    if let Some(w) = &ctx.workload {
        set("JUJU_WORKLOAD_NAME", w.clone());
    }
    if ctx.is_action {
        set("JUJU_ACTION_NAME", ctx.hook.clone());
        let uuid = context_id.rsplit('-').next().unwrap_or("0").to_owned();
        set("JUJU_ACTION_UUID", uuid.clone());
        set("JUJU_ACTION_ID", uuid);
    }
    v
}

/// Serves tool invocations on `listener` against `scope` until `stop` is set (and a
/// connection wakes the loop).
fn serve_tools(listener: &UnixListener, scope: &Mutex<HookScope<'_>>, stop: &AtomicBool) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(mut stream) = conn else { continue };
        let Ok(req) = tools::read_request(&mut stream) else {
            continue;
        };
        let resp = {
            let mut guard = match scope.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            tools::dispatch(&mut guard, &req)
        };
        let _ = tools::write_response(&mut stream, &resp);
    }
}

/// How long a hook may run: `$JUJU_SIM_HOOK_TIMEOUT` seconds, default 600.
fn hook_timeout() -> std::time::Duration {
    let secs = std::env::var("JUJU_SIM_HOOK_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    std::time::Duration::from_secs(secs)
}

/// Sends SIGKILL to the process group `pgid` (the hook's own group, led by the process we
/// started), with util-linux `kill`; a group that is already empty is fine.
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn tail(bytes: &[u8], max: usize) -> String {
    let s = String::from_utf8_lossy(bytes);
    let start = s.len().saturating_sub(max);
    let start = (start..s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(s.len());
    s[start..].to_owned()
}

/// Runs one hook of `env.unit` against `state`: serves the tools, commits or discards.
#[allow(clippy::too_many_lines)] // one sequence: socket, scope, child, pipes, commit
pub fn run_hook(
    state: &mut ModelState,
    env: &UnitEnv,
    dispatch: &Path,
    ctx: &HookContext,
    context_n: u64,
) -> Result<HookOutcome, RunError> {
    let prep = |what: &Path| {
        let what = what.display().to_string();
        move |source| RunError::Prepare { what, source }
    };
    std::fs::create_dir_all(&env.agent_dir).map_err(prep(&env.agent_dir))?;
    std::fs::create_dir_all(&env.pebble_dir).map_err(prep(&env.pebble_dir))?;
    let socket = env.agent_dir.join("agent.socket");
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket).map_err(prep(&socket))?;
    let context_id = format!("{}-{}-{context_n}", env.unit, ctx.hook);

    let mut scope = HookScope::new(state, &env.unit, &ctx.hook);
    scope.relation_id = ctx.relation.as_ref().map(|r| r.0);
    scope.remote_app.clone_from(&ctx.remote_app);
    scope.remote_unit.clone_from(&ctx.remote_unit);
    scope.departing_unit.clone_from(&ctx.departing_unit);
    scope.secret_id = ctx.secret.as_ref().map(|s| s.0.clone());
    scope.action.clone_from(&ctx.action);
    let scope = Mutex::new(scope);
    let stop = AtomicBool::new(false);

    let path = format!(
        "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        env.tools_dir.display()
    );
    let use_ns = namespaces_available();
    let mut cmd = if use_ns {
        let mut c = match &env.netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/run/netns/{ns}"))
                    .args(["--", "/usr/bin/unshare"]);
                c
            }
            None => Command::new("/usr/bin/unshare"),
        };
        c.args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"]);
        match &env.service_account {
            Some(sa) => c
                .arg(format!(
                    "mount --bind \"$0\" {CHARM_CONTAINERS} && \
                     mount --bind \"$1\" {SERVICE_ACCOUNT_DIR} && shift && exec \"$@\""
                ))
                .arg(&env.pebble_dir)
                .arg(&sa.dir),
            None => c
                .arg(format!(
                    "mount --bind \"$0\" {CHARM_CONTAINERS} && exec \"$@\""
                ))
                .arg(&env.pebble_dir),
        };
        c.arg(dispatch);
        c
    } else {
        Command::new(dispatch)
    };
    // Its own process group, so what the hook leaves behind can be ended with it.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.env_clear()
        .envs(hook_env(env, ctx, &context_id))
        .env("PATH", path)
        .current_dir(&env.charm_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Python (ops) needs its interpreter's environment when the test venv is used.
    for k in ["PYTHONPATH", "VIRTUAL_ENV"] {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }

    let started = Instant::now();
    let result = std::thread::scope(|s| {
        let server = s.spawn(|| serve_tools(&listener, &scope, &stop));
        let spawned = cmd.spawn();
        let outcome = match spawned {
            Err(source) => Err(RunError::Spawn {
                dispatch: dispatch.display().to_string(),
                source,
            }),
            Ok(mut child) => {
                let mut out_pipe = child.stdout.take();
                let mut err_pipe = child.stderr.take();
                let out_reader = s.spawn(move || {
                    let mut buf = Vec::new();
                    if let Some(p) = out_pipe.as_mut() {
                        let _ = p.read_to_end(&mut buf);
                    }
                    buf
                });
                let err_reader = s.spawn(move || {
                    let mut buf = Vec::new();
                    if let Some(p) = err_pipe.as_mut() {
                        let _ = p.read_to_end(&mut buf);
                    }
                    buf
                });
                // Watchdog: a hook running past the timeout has its process group killed.
                let pgid = child.id();
                let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
                let timeout = hook_timeout();
                let watchdog = s.spawn(move || {
                    let timed_out = matches!(
                        done_rx.recv_timeout(timeout),
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                    );
                    if timed_out {
                        kill_group(pgid);
                    }
                    timed_out
                });
                let status = child.wait();
                let _ = done_tx.send(());
                let timed_out = watchdog.join().unwrap_or(false);
                // Processes the hook left behind (same process group) end with it, so nothing
                // outlives the hook and its pipes close.
                kill_group(pgid);
                let stdout = out_reader.join().unwrap_or_default();
                let mut stderr = err_reader.join().unwrap_or_default();
                if timed_out {
                    stderr.extend_from_slice(
                        format!("\n[juju-sim: hook killed after {timeout:?}]\n").as_bytes(),
                    );
                }
                status
                    .map(|st| (st.code().unwrap_or(-1), stdout, stderr))
                    .map_err(|source| RunError::Wait {
                        hook: ctx.hook.clone(),
                        source,
                    })
            }
        };
        stop.store(true, Ordering::SeqCst);
        // Wake the accept loop; if connecting fails the listener is already unusable.
        let _ = UnixStream::connect(&socket);
        let _ = server.join();
        outcome
    });
    let _ = std::fs::remove_file(&socket);
    let (code, stdout, stderr) = result?;
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let scope = match scope.into_inner() {
        Ok(s) => s,
        Err(poisoned) => poisoned.into_inner(),
    };
    let hook_name = if ctx.is_action {
        format!("action {}", ctx.hook)
    } else {
        ctx.hook.clone()
    };
    let mut record = HookRecord {
        unit: env.unit.clone(),
        hook: hook_name,
        code,
        duration_ms,
        stderr: tail(&stderr, 4000),
        stdout: tail(&stdout, 4000),
        ..HookRecord::default()
    };
    if !use_ns {
        record.stderr.insert_str(
            0,
            "[juju-sim: no mount namespace; ops cannot find Pebble]\n",
        );
    }
    let (effects, action) = if code == 0 {
        let (effects, calls, action) = scope.commit();
        record.tool_calls = calls;
        (Some(effects), action)
    } else {
        let (calls, action) = scope.discard();
        record.tool_calls = calls;
        (None, action)
    };
    Ok(HookOutcome {
        record,
        effects,
        action,
    })
}
