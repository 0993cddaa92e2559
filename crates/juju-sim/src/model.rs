//! The simulated Juju model: operations (`deploy`, `config`, `relate`, ...) and the hooks they
//! fire, in Juju's order, against the real API server.
//!
//! Hook order (Juju 3.6, sidecar charms):
//! - deploy / new unit: `<storage>-storage-attached` per storage, `install`, peer
//!   `<peer>-relation-created`, `leader-elected` (the leader, unit 0) or
//!   `leader-settings-changed` (others), `config-changed`, `start`, `<container>-pebble-ready`
//!   per container; then peer `-relation-joined`/`-changed` with the other units;
//! - config change / `trust`: `config-changed` on every unit;
//! - relate: `-relation-created` on every unit of both sides, then per unit and remote unit
//!   `-relation-joined` followed by `-relation-changed`;
//! - a committed data change: `-relation-changed` on the units of the other side (for a unit
//!   databag: on the units that have seen that unit join, with `JUJU_REMOTE_UNIT`; for an
//!   application databag: on every remote unit, without `JUJU_REMOTE_UNIT`), until the model
//!   settles;
//! - remove-relation: `-relation-departed` per unit and remote unit, then `-relation-broken`;
//! - scale down: the remote units get `-relation-departed`, the dying unit gets
//!   `-relation-departed`/`-relation-broken` per relation, `<storage>-storage-detaching`,
//!   `stop`, `remove`; its Pod is deleted;
//! - a secret's new revision: `secret-changed` on the units tracking it;
//! - a pod restart (whenever the StatefulSet's pod template changed after a hook or a
//!   `refresh`): Pebble state reset, Pod deleted and created again from the template, then
//!   `upgrade-charm`, `config-changed`, `start`, `<container>-pebble-ready`.
//!
//! Failing hooks: the queued changes are discarded, the unit shows `error` /
//! `hook failed: "<hook>"`, and the hook is retried as Juju's retry strategy would, at most
//! [`RETRIES_PER_OPERATION`] times per operation, each retry recorded with the backoff Juju
//! would have waited (5, 10, 20, 40 s ...) but run at once (simplification). While a unit is in
//! error its other hooks wait; every later operation retries the failed hook first.
//!
//! Other simplifications (scheduling, identity, storage, ports, timers): docs/adr/0019-juju-sim.md.
//!
//! Settling bound: more than [`MAX_RESTARTS`] pod restarts in one operation stops the model with
//! [`ModelError::RestartLoop`]; more than [`MAX_HOOKS`] hooks in one operation with
//! [`ModelError::NotSettled`].

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::charm::{Charm, CharmError};
use crate::k8s::{self, AppSpec, KubeError};
use crate::meta::{CharmMeta, Role};
use crate::runner::{self, HookContext, HookRecord, RunError, UnitEnv};
use crate::state::{
    self, ActionRun, Application, ModelState, Relation, RelationEnd, Secret, SecretGrant,
    SecretOwner, SecretRevision, Status, StatusKind, Unit,
};
use crate::workload::{self, Answer, WorkloadRequest};

/// Pod restarts allowed in one operation before the model reports a restart loop.
pub const MAX_RESTARTS: u32 = 5;
/// Hooks allowed in one operation before the model reports that it does not settle.
pub const MAX_HOOKS: u32 = 500;
/// Immediate retries of a failed hook within one operation.
pub const RETRIES_PER_OPERATION: u32 = 2;

/// Errors of model operations.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Starting or reaching the test cluster failed.
    #[error("test cluster: {0}")]
    Cluster(#[source] Box<kube_testbed::Error>),
    /// A Kubernetes step failed.
    #[error("kubernetes")]
    Kube(#[source] Box<KubeError>),
    /// Locating the charm failed.
    #[error("locating the charm")]
    Charm(#[source] Box<CharmError>),
    /// Running a hook failed (not the hook's own failure).
    #[error("running a hook")]
    Run(#[source] RunError),
    /// Reading or writing the state directory failed.
    #[error("state directory {path}")]
    StateIo {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The state file is not valid.
    #[error("decoding state {path}")]
    StateDecode {
        /// The file.
        path: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// Starting a runtime, Pebble or a workload endpoint failed.
    #[error("starting {what}")]
    Start {
        /// What.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The operator asked for something Juju would refuse.
    #[error("{0}")]
    Invalid(String),
    /// The pods of an application kept restarting.
    #[error(
        "restart loop: application {app} restarted its pods {restarts} times in one operation \
         (its pod template changes after every restart); last hooks: {last_hooks:?}"
    )]
    RestartLoop {
        /// The application.
        app: String,
        /// Restarts seen.
        restarts: u32,
        /// The last hook records (unit, hook, code).
        last_hooks: Vec<String>,
    },
    /// Hooks kept firing.
    #[error("model did not settle after {0} hooks")]
    NotSettled(u32),
}

type Result<T> = std::result::Result<T, ModelError>;

fn kube_err(e: KubeError) -> ModelError {
    ModelError::Kube(Box::new(e))
}

fn cluster_err(e: kube_testbed::Error) -> ModelError {
    ModelError::Cluster(Box::new(e))
}

fn charm_err(e: CharmError) -> ModelError {
    ModelError::Charm(Box::new(e))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::StateIo {
        path: path.display().to_string(),
        source,
    }
}

/// Simulator-side data of an application (beyond what the hook tools see).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AppSim {
    /// What `deploy` was given.
    pub charm_spec: String,
    /// Juju's storage prefix.
    pub storage_id: String,
    /// The identity's token.
    pub token: String,
    /// Fingerprint of the pod template the pods run.
    pub template: String,
    /// Juju's charm-modified-version.
    pub charm_modified_version: u32,
    /// Next unit ordinal.
    pub next_ordinal: u32,
    /// Pod restarts since deploy.
    pub restarts: u32,
}

/// A unit whose hook failed and is waiting to be retried.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnitError {
    /// The failed hook.
    pub ctx: HookContext,
    /// Retries so far.
    pub attempts: u32,
    /// The status before the failure (restored when the retry succeeds).
    pub previous: Status,
    /// Hooks that waited while the unit was in error.
    pub held: Vec<HookContext>,
}

/// An armed fault for an application's API traffic.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    /// The application.
    pub app: String,
    /// The rule (its `times` counts down as it hits).
    pub rule: kube_testbed::Rule,
}

/// Everything persisted in `<state>/state.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SimState {
    /// What the hook tools see.
    pub model: ModelState,
    /// Simulator data per application.
    pub apps: BTreeMap<String, AppSim>,
    /// Units in error.
    pub unit_errors: BTreeMap<String, UnitError>,
    /// Every hook run (the debug-log).
    pub history: Vec<HookRecord>,
    /// Armed faults.
    pub faults: Vec<Fault>,
    /// Workload answers: `app/container/port` → path → answer.
    pub workload: BTreeMap<String, BTreeMap<String, Answer>>,
    /// Workload requests seen.
    pub workload_requests: Vec<WorkloadRequest>,
    /// Controller UUID (annotations).
    pub controller_uuid: String,
    /// Hook counter (context ids).
    pub hook_counter: u64,
}

/// The outcome of `run UNIT ACTION`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionOutcome {
    /// `completed` or `failed`.
    pub status: String,
    /// Results set with `action-set`.
    pub results: serde_json::Map<String, Value>,
    /// The `action-fail` message.
    pub message: Option<String>,
    /// `action-log` lines.
    pub log: Vec<String>,
}

/// How [`Model::open`] gets its cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterMode {
    /// Start a cluster owned by this `Model` (stopped when it drops): tests.
    Owned,
    /// Use the cluster recorded in `<state>/cluster`, starting it detached if it is not
    /// running: the CLI.
    Persistent,
}

/// A running simulated model.
pub struct Model {
    dir: PathBuf,
    /// The persisted state.
    st: SimState,
    rt: tokio::runtime::Runtime,
    admin: kube::Client,
    admin_kubeconfig: PathBuf,
    cluster: Option<kube_testbed::Cluster>,
    proxies: BTreeMap<String, kube_testbed::FaultProxy>,
    proxy_rules: Vec<(usize, String, kube_testbed::RuleId)>,
    endpoints: BTreeMap<(String, String, u16), workload::Endpoint>,
    shared: BTreeMap<String, Arc<Mutex<workload::Shared>>>,
    pebbles: crate::pebble_host::Pebbles,
    queue: VecDeque<(String, HookContext)>,
    restarts_in_op: BTreeMap<String, u32>,
    tools_dir: PathBuf,
    last_action: Option<ActionRun>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("dir", &self.dir)
            .field("model", &self.st.model.name)
            .finish_non_exhaustive()
    }
}

fn uuid_like(seed: &str) -> String {
    // A stable UUID-shaped id from a seed and the clock (FNV-1a; not cryptographic).
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in seed.bytes().chain(nanos.to_be_bytes()) {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    let s = format!("{h:032x}");
    format!(
        "{}-{}-4{}-8{}-{}",
        &s[0..8],
        &s[8..12],
        &s[13..16],
        &s[17..20],
        &s[20..32]
    )
}

impl Model {
    /// A fresh model named `name` on a cluster owned by the returned value, with its state in
    /// `dir` (tests: one model per test binary or test; everything stops on drop).
    pub fn new(dir: &Path, name: &str) -> Result<Self> {
        Self::open(dir, name, ClusterMode::Owned)
    }

    /// Opens the model whose state is in `dir` (creating it, named `name`, if absent).
    pub fn open(dir: &Path, name: &str, mode: ClusterMode) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let dir = std::fs::canonicalize(dir).map_err(io_err(dir))?;
        let state_file = dir.join("state.json");
        let mut st: SimState = match std::fs::read_to_string(&state_file) {
            Ok(text) => serde_json::from_str(&text).map_err(|source| ModelError::StateDecode {
                path: state_file.display().to_string(),
                source,
            })?,
            Err(_) => SimState::default(),
        };
        if st.model.name.is_empty() {
            name.clone_into(&mut st.model.name);
            st.model.uuid = uuid_like(name);
            st.controller_uuid = uuid_like("controller");
        }
        let cluster_dir = dir.join("cluster");
        let cluster = match mode {
            ClusterMode::Owned => Some(
                kube_testbed::Cluster::start_with(&kube_testbed::ClusterOptions {
                    dir: Some(cluster_dir.clone()),
                    ..kube_testbed::ClusterOptions::default()
                })
                .map_err(cluster_err)?,
            ),
            ClusterMode::Persistent => {
                if kube_testbed::running_in_dir(&cluster_dir).len() < 2 {
                    let c = kube_testbed::Cluster::start_with(&kube_testbed::ClusterOptions {
                        dir: Some(cluster_dir.clone()),
                        lifetime: kube_testbed::Lifetime::Detached,
                        ..kube_testbed::ClusterOptions::default()
                    })
                    .map_err(cluster_err)?;
                    c.detach();
                    // A new cluster knows nothing of an old model: start the model afresh.
                    let (n, u, c) = (
                        st.model.name.clone(),
                        st.model.uuid.clone(),
                        st.controller_uuid.clone(),
                    );
                    st = SimState::default();
                    st.model.name = n;
                    st.model.uuid = u;
                    st.controller_uuid = c;
                }
                None
            }
        };
        let admin_kubeconfig = cluster_dir.join("admin.kubeconfig");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| ModelError::Start {
                what: "tokio runtime".into(),
                source,
            })?;
        let admin = rt
            .block_on(kube_testbed::client_for(&admin_kubeconfig))
            .map_err(cluster_err)?;
        rt.block_on(k8s::ensure_namespace(&admin, &st.model.name))
            .map_err(kube_err)?;
        let tools_dir = dir.join("tools");
        let tool = runner::tool_binary().ok_or_else(|| ModelError::Start {
            what: "hook tools (juju-sim-tool not found; set JUJU_SIM_TOOL)".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        })?;
        runner::install_tools(&tools_dir, &tool).map_err(ModelError::Run)?;
        let mut model = Self {
            dir,
            st,
            rt,
            admin,
            admin_kubeconfig,
            cluster,
            proxies: BTreeMap::new(),
            proxy_rules: Vec::new(),
            endpoints: BTreeMap::new(),
            shared: BTreeMap::new(),
            pebbles: crate::pebble_host::Pebbles::default(),
            queue: VecDeque::new(),
            restarts_in_op: BTreeMap::new(),
            tools_dir,
            last_action: None,
        };
        model.start_unit_services()?;
        Ok(model)
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The admin kubeconfig of the test cluster.
    pub fn admin_kubeconfig(&self) -> &Path {
        &self.admin_kubeconfig
    }

    /// The model's (namespace's) name.
    pub fn name(&self) -> &str {
        &self.st.model.name
    }

    /// The persisted state (read-only).
    pub fn state(&self) -> &SimState {
        &self.st
    }

    /// Runs `f` with the admin client (for tests that change objects as an operator would).
    pub fn with_admin<T, F, Fut>(&self, f: F) -> T
    where
        F: FnOnce(kube::Client) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        self.rt.block_on(f(self.admin.clone()))
    }

    /// Writes the state file.
    pub fn save(&self) -> Result<()> {
        let path = self.dir.join("state.json");
        let tmp = self.dir.join("state.json.tmp");
        let text =
            serde_json::to_string_pretty(&self.st).map_err(|source| ModelError::StateDecode {
                path: path.display().to_string(),
                source,
            })?;
        std::fs::write(&tmp, text).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
        self.pebbles.save(&self.dir.join("pebble"));
        Ok(())
    }

    /// Stops everything this model started (Pebble, endpoints, proxies) and, for
    /// [`ClusterMode::Persistent`], the detached cluster too (`down`).
    pub fn down(mut self) -> Result<Vec<&'static str>> {
        self.collect_proxy_state();
        self.save()?;
        self.endpoints.clear();
        self.proxies.clear();
        self.pebbles.stop_all();
        let mut stopped = Vec::new();
        if let Some(mut c) = self.cluster.take() {
            c.stop();
            stopped.push("kube-apiserver");
            stopped.push("etcd");
        } else {
            stopped = kube_testbed::stop_dir(&self.dir.join("cluster"));
        }
        Ok(stopped)
    }

    // ----- per-process services: Pebble, workload endpoints, fault proxies -----

    fn unit_dir(&self, unit: &str) -> PathBuf {
        self.dir.join("units").join(unit.replace('/', "-"))
    }

    fn start_unit_services(&mut self) -> Result<()> {
        let units: Vec<(String, String)> = self
            .st
            .model
            .applications
            .values()
            .flat_map(|a| a.units.keys().map(move |u| (a.name.clone(), u.clone())))
            .collect();
        for (app, unit) in units {
            self.start_pebble(&app, &unit, false)?;
            self.start_endpoints(&app, &unit)?;
        }
        Ok(())
    }

    fn start_pebble(&mut self, app: &str, unit: &str, reset: bool) -> Result<()> {
        let containers: Vec<String> = self
            .st
            .model
            .applications
            .get(app)
            .map(|a| a.metadata.containers.keys().cloned().collect())
            .unwrap_or_default();
        let unit_dir = self.unit_dir(unit);
        let mounts = self.storage_mounts(app, unit);
        for c in containers {
            self.pebbles
                .start(
                    &self.dir.join("pebble"),
                    unit,
                    &c,
                    &unit_dir.join("containers"),
                    mounts.get(&c).cloned().unwrap_or_default(),
                    reset,
                )
                .map_err(|source| ModelError::Start {
                    what: format!("pebble for {unit} container {c}"),
                    source,
                })?;
        }
        Ok(())
    }

    /// Container → [(storage host dir, location in the container)].
    fn storage_mounts(&self, app: &str, unit: &str) -> BTreeMap<String, Vec<(PathBuf, String)>> {
        let mut out: BTreeMap<String, Vec<(PathBuf, String)>> = BTreeMap::new();
        let Some(a) = self.st.model.applications.get(app) else {
            return out;
        };
        for (cname, c) in &a.metadata.containers {
            for m in &c.mounts {
                out.entry(cname.clone()).or_default().push((
                    self.unit_dir(unit).join("storage").join(&m.storage),
                    m.location.clone(),
                ));
            }
        }
        out
    }

    fn start_endpoints(&mut self, app: &str, unit: &str) -> Result<()> {
        let keys: Vec<String> = self
            .st
            .workload
            .keys()
            .filter(|k| k.split('/').next() == Some(app))
            .cloned()
            .collect();
        for key in keys {
            let mut parts = key.splitn(3, '/');
            let (_, container, port) = (parts.next(), parts.next(), parts.next());
            let (Some(container), Some(port)) = (container, port.and_then(|p| p.parse().ok()))
            else {
                continue;
            };
            let id = (unit.to_owned(), container.to_owned(), port);
            if self.endpoints.contains_key(&id) {
                continue;
            }
            let shared = self
                .shared
                .entry(key.clone())
                .or_insert_with(|| Arc::new(Mutex::new(workload::Shared::default())))
                .clone();
            if let Some(answers) = self.st.workload.get(&key) {
                shared
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .answers
                    .clone_from(answers);
            }
            let ep =
                workload::Endpoint::start(unit, container, port, shared).map_err(|source| {
                    ModelError::Start {
                        what: format!("workload endpoint {key}"),
                        source,
                    }
                })?;
            self.endpoints.insert(id, ep);
        }
        Ok(())
    }

    /// The application's proxy: its https URL and the CA to trust.
    fn proxy_for(&mut self, app: &str) -> Result<(String, Option<PathBuf>)> {
        if !self.proxies.contains_key(app) {
            // The TLS side, with the API server's CA, as Juju gives a charm (in-cluster: https
            // and the service account's ca.crt). Over plain HTTP kube would find no CA and load
            // the host's whole trust store in every hook, which Juju never makes it do.
            let cluster_dir = self.admin_kubeconfig.parent().unwrap_or(Path::new("."));
            let proxy = kube_testbed::FaultProxy::start_in(cluster_dir).map_err(cluster_err)?;
            for (i, f) in self.st.faults.iter().enumerate() {
                if f.app == app && f.rule.times != Some(0) {
                    let id = proxy.arm(f.rule.clone());
                    self.proxy_rules.push((i, app.to_owned(), id));
                }
            }
            self.proxies.insert(app.to_owned(), proxy);
        }
        let proxy = self.proxies.get(app);
        Ok((
            proxy.and_then(|p| p.https_url()).unwrap_or_default(),
            proxy.and_then(|p| p.ca().map(Path::to_path_buf)),
        ))
    }

    /// Counts fault hits into the persisted rules (a rule with `times` counts down).
    fn collect_proxy_state(&mut self) {
        for (i, app, id) in std::mem::take(&mut self.proxy_rules) {
            let hits = self.proxies.get(&app).map_or(0, |p| p.hits(id));
            if let Some(f) = self.st.faults.get_mut(i)
                && let Some(t) = f.rule.times.as_mut()
            {
                *t = t.saturating_sub(u32::try_from(hits).unwrap_or(u32::MAX));
            }
        }
        for shared in self.shared.values() {
            let mut s = shared.lock().unwrap_or_else(PoisonError::into_inner);
            self.st.workload_requests.append(&mut s.requests);
        }
    }

    /// The application's service-account directory (`token`, `ca.crt`, `namespace`) and the
    /// proxy's host and port, as Kubernetes gives a pod.
    fn service_account(
        &self,
        app: &str,
        identity: &kube_testbed::Identity,
        url: &str,
        ca: Option<&Path>,
    ) -> Result<Option<crate::runner::ServiceAccount>> {
        let (Some(ca), Some((host, port))) = (
            ca,
            url.strip_prefix("https://")
                .and_then(|a| a.rsplit_once(':')),
        ) else {
            return Ok(None);
        };
        let Ok(port) = port.parse::<u16>() else {
            return Ok(None);
        };
        let dir = self
            .dir
            .join("identities")
            .join(format!("{app}.serviceaccount"));
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let ca_pem = std::fs::read(ca).map_err(io_err(ca))?;
        for (name, content) in [
            ("token", identity.token.as_bytes()),
            ("ca.crt", ca_pem.as_slice()),
            ("namespace", identity.namespace.as_bytes()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, content).map_err(io_err(&path))?;
        }
        Ok(Some(crate::runner::ServiceAccount {
            dir,
            host: host.to_owned(),
            port,
        }))
    }

    fn unit_env(&mut self, unit: &str) -> Result<UnitEnv> {
        let app = unit.split('/').next().unwrap_or(unit).to_owned();
        let (url, ca) = self.proxy_for(&app)?;
        let token = self
            .st
            .apps
            .get(&app)
            .map(|a| a.token.clone())
            .unwrap_or_default();
        let identity = kube_testbed::Identity {
            username: format!("system:serviceaccount:{}:{app}", self.st.model.name),
            namespace: self.st.model.name.clone(),
            token,
            kubeconfig: self
                .dir
                .join("identities")
                .join(format!("{app}.kubeconfig")),
        };
        std::fs::create_dir_all(self.dir.join("identities"))
            .map_err(io_err(&self.dir.join("identities")))?;
        let kubeconfig = identity
            .kubeconfig_for_server(&url, ca.as_deref(), "proxy")
            .map_err(cluster_err)?;
        let service_account = self.service_account(&app, &identity, &url, ca.as_deref())?;
        let unit_dir = self.unit_dir(unit);
        let workload_addrs = self
            .endpoints
            .iter()
            .filter(|((u, _, _), _)| u == unit)
            .map(|((_, c, p), ep)| ((c.clone(), *p), ep.addr().to_owned()))
            .collect();
        Ok(UnitEnv {
            unit: unit.to_owned(),
            model_name: self.st.model.name.clone(),
            model_uuid: self.st.model.uuid.clone(),
            charm_dir: unit_dir.join("charm"),
            tools_dir: self.tools_dir.clone(),
            agent_dir: unit_dir.join("agent"),
            pebble_dir: unit_dir.join("containers"),
            kubeconfig: Some(kubeconfig),
            service_account,
            workload_addrs,
        })
    }

    // ----- hook queue -----

    fn push(&mut self, unit: &str, ctx: HookContext) {
        let item = (unit.to_owned(), ctx);
        if !self.queue.contains(&item) {
            self.queue.push_back(item);
        }
    }

    fn app_units(&self, app: &str) -> Vec<String> {
        self.st
            .model
            .applications
            .get(app)
            .map(|a| a.units.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Retries failed hooks, then runs queued hooks until none are left.
    fn settle(&mut self) -> Result<()> {
        self.restarts_in_op.clear();
        self.check_templates()?;
        let errored: Vec<String> = self.st.unit_errors.keys().cloned().collect();
        for unit in errored {
            self.retry_failed(&unit)?;
        }
        let mut ran = 0;
        while let Some((unit, ctx)) = self.queue.pop_front() {
            ran += 1;
            if ran > MAX_HOOKS {
                self.queue.clear();
                return Err(ModelError::NotSettled(MAX_HOOKS));
            }
            let app = unit.split('/').next().unwrap_or_default().to_owned();
            let exists = self
                .st
                .model
                .applications
                .get(&app)
                .is_some_and(|a| a.units.contains_key(&unit));
            if !exists {
                continue;
            }
            if let Some(err) = self.st.unit_errors.get_mut(&unit) {
                err.held.push(ctx);
                continue;
            }
            self.run_one(&unit, &ctx, None)?;
        }
        self.collect_proxy_state();
        self.save()
    }

    fn retry_failed(&mut self, unit: &str) -> Result<()> {
        let Some(err) = self.st.unit_errors.get(unit).cloned() else {
            return Ok(());
        };
        self.run_one(unit, &err.ctx, Some(err.attempts + 1))?;
        Ok(())
    }

    fn backoff(attempt: u32) -> u64 {
        5u64 << attempt.saturating_sub(1).min(8)
    }

    /// Runs one hook (with in-operation retries on failure). Returns whether it succeeded.
    fn run_one(&mut self, unit: &str, ctx: &HookContext, retry: Option<u32>) -> Result<bool> {
        let app = unit.split('/').next().unwrap_or_default().to_owned();
        self.track_membership(unit, ctx);
        let mut attempt = retry;
        loop {
            let env = self.unit_env(unit)?;
            let dispatch = env.charm_dir.join("dispatch");
            let before: Vec<Relation> = self.st.model.relations.clone();
            self.st.hook_counter += 1;
            let log_start = self.proxies.get(&app).map_or(0, |p| p.log().len());
            let outcome = runner::run_hook(
                &mut self.st.model,
                &env,
                &dispatch,
                ctx,
                self.st.hook_counter,
            )
            .map_err(ModelError::Run)?;
            let mut record = outcome.record;
            record.retry = attempt.map(|a| (a, Self::backoff(a)));
            if let Some(p) = self.proxies.get(&app) {
                record.api_requests = p
                    .log()
                    .into_iter()
                    .skip(log_start)
                    .map(|r| {
                        format!(
                            "{} {} -> {}",
                            r.method,
                            r.path,
                            r.status
                                .map_or_else(|| "dropped".to_owned(), |s| s.to_string())
                        )
                    })
                    .collect();
            }
            let code = record.code;
            self.st.history.push(record);
            if let Some(action) = outcome.action {
                self.last_action = Some(action);
            }
            if code == 0 {
                self.mark_broken(unit, ctx);
                // The failed hook succeeded: the unit leaves error, its waiting hooks run next.
                let resolved = self.st.unit_errors.get(unit).is_some_and(|e| e.ctx == *ctx);
                if resolved && let Some(err) = self.st.unit_errors.remove(unit) {
                    if let Some(u) = self.unit_mut(unit)
                        && u.status.current == StatusKind::Error
                    {
                        u.status = err.previous;
                    }
                    for held in err.held.into_iter().rev() {
                        self.queue.push_front((unit.to_owned(), held));
                    }
                }
                if let Some(effects) = outcome.effects {
                    self.follow_effects(unit, &before, &effects);
                    if effects.ports_changed {
                        self.sync_ports(&app)?;
                    }
                }
                self.after_hook(&app)?;
                return Ok(true);
            }
            // Failed: Juju shows the error and retries with backoff.
            let previous = self
                .unit_mut(unit)
                .map(|u| u.status.clone())
                .unwrap_or_default();
            let hook_name = if ctx.is_action {
                return Ok(false);
            } else {
                ctx.hook.clone()
            };
            if let Some(u) = self.unit_mut(unit)
                && u.status.current != StatusKind::Error
            {
                u.status = Status {
                    current: StatusKind::Error,
                    message: format!("hook failed: \"{hook_name}\""),
                    since: now_secs(),
                };
            }
            let entry = self
                .st
                .unit_errors
                .entry(unit.to_owned())
                .or_insert_with(|| UnitError {
                    ctx: ctx.clone(),
                    attempts: 0,
                    previous,
                    held: Vec::new(),
                });
            entry.attempts = attempt.unwrap_or(0);
            let next = attempt.unwrap_or(0) + 1;
            let first = retry.unwrap_or(1);
            if next > first.saturating_sub(1) + RETRIES_PER_OPERATION {
                return Ok(false);
            }
            attempt = Some(next);
        }
    }

    /// The `<app>` Service's ports follow the opened ports (Juju's caasfirewaller).
    fn sync_ports(&mut self, app: &str) -> Result<()> {
        let ports: Vec<state::Port> = self
            .st
            .model
            .applications
            .get(app)
            .map(|a| a.opened_ports.iter().cloned().collect())
            .unwrap_or_default();
        self.rt
            .block_on(k8s::update_ports(
                &self.admin,
                &self.st.model.name,
                app,
                &ports,
            ))
            .map_err(kube_err)
    }

    /// `relation-list` membership, as Juju keeps it: a remote unit joins just before
    /// `-relation-joined` runs and leaves just before `-relation-departed` runs.
    /// After a unit's `relation-broken` hook the relation is gone for that unit; once every
    /// unit on both sides has run it, it is gone from the model.
    fn mark_broken(&mut self, unit: &str, ctx: &HookContext) {
        let Some((rel_id, _)) = &ctx.relation else {
            return;
        };
        if !ctx.hook.ends_with("-relation-broken") {
            return;
        }
        let Some(rel) = self.st.model.relations.iter_mut().find(|r| r.id == *rel_id) else {
            return;
        };
        rel.broken_for.insert(unit.to_owned());
        let apps: Vec<String> = rel.endpoints.iter().map(|e| e.app.clone()).collect();
        let everyone = apps
            .iter()
            .flat_map(|a| self.app_units(a))
            .collect::<Vec<_>>();
        let rel_id = *rel_id;
        let done = self
            .st
            .model
            .relations
            .iter()
            .find(|r| r.id == rel_id)
            .is_some_and(|r| everyone.iter().all(|u| r.broken_for.contains(u)));
        if done {
            self.st.model.relations.retain(|r| r.id != rel_id);
        }
    }

    fn track_membership(&mut self, unit: &str, ctx: &HookContext) {
        let (Some((rel_id, _)), Some(remote)) = (&ctx.relation, &ctx.remote_unit) else {
            return;
        };
        let Some(rel) = self.st.model.relations.iter_mut().find(|r| r.id == *rel_id) else {
            return;
        };
        let seen = rel.units_joined.entry(unit.to_owned()).or_default();
        if ctx.hook.ends_with("-relation-joined") {
            seen.insert(remote.clone());
        } else if ctx.hook.ends_with("-relation-departed") {
            seen.remove(remote);
        }
    }

    fn unit_mut(&mut self, unit: &str) -> Option<&mut Unit> {
        let app = unit.split('/').next().unwrap_or_default();
        self.st
            .model
            .applications
            .get_mut(app)
            .and_then(|a| a.units.get_mut(unit))
    }

    /// Queues the hooks a committed change causes.
    fn follow_effects(&mut self, unit: &str, before: &[Relation], effects: &state::Effects) {
        let app = unit.split('/').next().unwrap_or_default().to_owned();
        for rel_id in &effects.relations_changed {
            let Some(rel) = self
                .st
                .model
                .relations
                .iter()
                .find(|r| r.id == *rel_id)
                .cloned()
            else {
                continue;
            };
            let old = before.iter().find(|r| r.id == *rel_id);
            let app_changed = old.map(|o| o.app_data.get(&app)) != Some(rel.app_data.get(&app));
            let unit_changed = old.map(|o| o.unit_data.get(unit)) != Some(rel.unit_data.get(unit));
            let Some(remote_app) = rel.remote_app(&app).map(str::to_owned) else {
                continue;
            };
            let Some(remote_end) = rel.endpoints.iter().find(|e| e.app == remote_app).cloned()
            else {
                continue;
            };
            for remote_unit in self.app_units(&remote_app) {
                if remote_unit == unit {
                    continue;
                }
                let seen = rel
                    .units_joined
                    .get(&remote_unit)
                    .is_some_and(|s| s.contains(unit));
                let mut ctx =
                    HookContext::hook(format!("{}-relation-changed", remote_end.endpoint));
                ctx.relation = Some((rel.id, remote_end.endpoint.clone()));
                ctx.remote_app = Some(app.clone());
                if unit_changed && seen {
                    let mut c = ctx.clone();
                    c.remote_unit = Some(unit.to_owned());
                    self.push(&remote_unit, c);
                }
                if app_changed {
                    self.push(&remote_unit, ctx);
                }
            }
        }
        for id in &effects.secrets_changed {
            let Some(secret) = self.st.model.secrets.get(id).cloned() else {
                continue;
            };
            for consumer in secret.tracked.keys() {
                let consumer_app = consumer.split('/').next().unwrap_or_default();
                let owned = match &secret.owner {
                    SecretOwner::App(a) => a == consumer_app,
                    SecretOwner::Unit(u) => u == consumer,
                    SecretOwner::Model => false,
                };
                // Owners get no secret-changed (Juju sends it to consumers only).
                if consumer == unit || owned {
                    continue;
                }
                let mut ctx = HookContext::hook("secret-changed");
                ctx.secret = Some((
                    id.clone(),
                    secret.consumer_labels.get(consumer).cloned(),
                    secret.latest().map(|r| r.revision),
                ));
                self.push(consumer, ctx);
            }
        }
    }

    /// After a hook of `app`: restart its pods if their template changed.
    fn after_hook(&mut self, app: &str) -> Result<()> {
        let Some(live) = self
            .rt
            .block_on(k8s::template_of(&self.admin, &self.st.model.name, app))
            .map_err(kube_err)?
        else {
            return Ok(());
        };
        let fp = k8s::template_fingerprint(&live.0);
        let old = self
            .st
            .apps
            .get(app)
            .map(|a| a.template.clone())
            .unwrap_or_default();
        if fp == old {
            return Ok(());
        }
        if let Some(a) = self.st.apps.get_mut(app) {
            a.template = fp;
            a.restarts += 1;
        }
        let n = self.restarts_in_op.entry(app.to_owned()).or_insert(0);
        *n += 1;
        if *n > MAX_RESTARTS {
            let restarts = *n;
            self.queue.clear();
            let last_hooks = self
                .st
                .history
                .iter()
                .rev()
                .take(8)
                .map(|r| format!("{} {} exit {}", r.unit, r.hook, r.code))
                .collect();
            self.save()?;
            return Err(ModelError::RestartLoop {
                app: app.to_owned(),
                restarts,
                last_hooks,
            });
        }
        for unit in self.app_units(app) {
            self.restart_unit(app, &unit)?;
        }
        Ok(())
    }

    /// Every operation first notices templates changed behind the model's back (an operator
    /// editing the StatefulSet) and restarts those pods.
    fn check_templates(&mut self) -> Result<()> {
        let apps: Vec<String> = self.st.apps.keys().cloned().collect();
        for app in apps {
            self.after_hook(&app)?;
        }
        Ok(())
    }

    fn restart_unit(&mut self, app: &str, unit: &str) -> Result<()> {
        let ordinal = ordinal_of(unit);
        self.start_pebble(app, unit, true)?;
        self.rt
            .block_on(k8s::create_pod(
                &self.admin,
                &self.st.model.name,
                app,
                ordinal,
            ))
            .map_err(kube_err)?;
        self.push(unit, HookContext::hook("upgrade-charm"));
        self.push(unit, HookContext::hook("config-changed"));
        self.push(unit, HookContext::hook("start"));
        self.push_pebble_ready(app, unit);
        Ok(())
    }

    fn push_pebble_ready(&mut self, app: &str, unit: &str) {
        let containers: Vec<String> = self
            .st
            .model
            .applications
            .get(app)
            .map(|a| a.metadata.containers.keys().cloned().collect())
            .unwrap_or_default();
        for c in containers {
            let mut ctx = HookContext::hook(format!("{c}-pebble-ready"));
            ctx.workload = Some(c);
            self.push(unit, ctx);
        }
    }

    fn app_spec_parts(&self, app: &str) -> Option<(AppSim, CharmMeta)> {
        let sim = self.st.apps.get(app)?.clone();
        let a = self.st.model.applications.get(app)?;
        let charm = Charm::from_dir(a.charm_dir.clone()).ok()?;
        Some((sim, charm.meta))
    }

    fn apply_k8s(&mut self, app: &str, initial_scale: i32) -> Result<()> {
        let Some((sim, meta)) = self.app_spec_parts(app) else {
            return Err(ModelError::Invalid(format!(
                "application \"{app}\" not found"
            )));
        };
        let spec = AppSpec {
            app,
            namespace: &self.st.model.name,
            controller_uuid: &self.st.controller_uuid,
            model_uuid: &self.st.model.uuid,
            storage_id: &sim.storage_id,
            meta: &meta,
            initial_scale,
            charm_modified_version: sim.charm_modified_version,
        };
        self.rt
            .block_on(k8s::ensure_application(&self.admin, &spec))
            .map_err(kube_err)
    }

    // ----- operations -----

    /// `juju deploy CHARM [APP] [--trust] [--config K=V]...` with one unit.
    pub fn deploy(
        &mut self,
        charm: &str,
        app: Option<&str>,
        trust: bool,
        config: &[(String, String)],
    ) -> Result<()> {
        let work = self.dir.join("charms").join(app.unwrap_or("_new"));
        let located = Charm::locate(charm, &work).map_err(charm_err)?;
        let name = app.map_or_else(|| located.meta.name.clone(), str::to_owned);
        if self.st.model.applications.contains_key(&name) {
            return Err(ModelError::Invalid(format!(
                "cannot add application \"{name}\": application already exists"
            )));
        }
        let located = if app.is_none() {
            let w = self.dir.join("charms").join(&name);
            Charm::locate(charm, &w).map_err(charm_err)?
        } else {
            located
        };
        let mut values = BTreeMap::new();
        for (k, v) in config {
            let typed = located
                .meta
                .typed_config_value(k, v)
                .map_err(ModelError::Invalid)?;
            values.insert(k.clone(), typed);
        }
        let application = Application {
            name: name.clone(),
            charm_dir: located.dir.clone(),
            metadata: to_state_meta(&located.meta),
            config: values,
            trusted: trust,
            planned_units: 1,
            ..Application::default()
        };
        self.st.model.applications.insert(name.clone(), application);
        let storage_id = uuid_like(&name)[..8].to_owned();
        self.st.apps.insert(
            name.clone(),
            AppSim {
                charm_spec: charm.to_owned(),
                storage_id,
                ..AppSim::default()
            },
        );
        let token = self
            .rt
            .block_on(k8s::ensure_identity(
                &self.admin,
                &self.st.model.name,
                &name,
            ))
            .map_err(kube_err)?;
        if let Some(a) = self.st.apps.get_mut(&name) {
            a.token = token;
        }
        if trust {
            self.rt
                .block_on(k8s::set_trust(
                    &self.admin,
                    &self.st.model.name,
                    &name,
                    true,
                ))
                .map_err(kube_err)?;
        }
        self.apply_k8s(&name, 1)?;
        self.record_template(&name)?;
        // Peer relations exist from the start.
        for (ep, role, _) in located.meta.endpoints() {
            if role == Role::Peer {
                self.st.model.next_relation_id += 1;
                let id = self.st.model.next_relation_id;
                let end = RelationEnd {
                    app: name.clone(),
                    endpoint: ep.clone(),
                };
                self.st.model.relations.push(Relation {
                    id,
                    endpoints: [end.clone(), end],
                    app_data: BTreeMap::new(),
                    unit_data: BTreeMap::new(),
                    units_joined: BTreeMap::new(),
                    dying: false,
                    broken_for: std::collections::BTreeSet::new(),
                });
            }
        }
        self.add_unit(&name)?;
        self.settle()
    }

    fn record_template(&mut self, app: &str) -> Result<()> {
        if let Some((t, _)) = self
            .rt
            .block_on(k8s::template_of(&self.admin, &self.st.model.name, app))
            .map_err(kube_err)?
            && let Some(a) = self.st.apps.get_mut(app)
        {
            a.template = k8s::template_fingerprint(&t);
        }
        Ok(())
    }

    fn copy_charm(&self, app: &str, unit: &str) -> Result<()> {
        let Some(a) = self.st.model.applications.get(app) else {
            return Ok(());
        };
        let dest = self.unit_dir(unit).join("charm");
        let _ = std::fs::remove_dir_all(&dest);
        std::fs::create_dir_all(&dest).map_err(io_err(&dest))?;
        let status = std::process::Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", a.charm_dir.display()))
            .arg(&dest)
            .status()
            .map_err(io_err(&dest))?;
        if !status.success() {
            return Err(ModelError::Invalid(format!(
                "copying the charm into {}",
                dest.display()
            )));
        }
        Ok(())
    }

    /// Adds one unit: state, directories, Pod, Pebble, endpoints, and its hooks.
    fn add_unit(&mut self, app: &str) -> Result<String> {
        let ordinal = self.st.apps.get(app).map_or(0, |a| a.next_ordinal);
        if let Some(a) = self.st.apps.get_mut(app) {
            a.next_ordinal += 1;
        }
        let unit = format!("{app}/{ordinal}");
        let unit_dir = self.unit_dir(&unit);
        let storage_names: Vec<String> = self
            .st
            .model
            .applications
            .get(app)
            .map(|a| a.metadata.storage.keys().cloned().collect())
            .unwrap_or_default();
        let mut storage = BTreeMap::new();
        for s in &storage_names {
            let d = unit_dir.join("storage").join(s);
            std::fs::create_dir_all(&d).map_err(io_err(&d))?;
            storage.insert(s.clone(), d);
        }
        for d in ["agent", "containers"] {
            let p = unit_dir.join(d);
            std::fs::create_dir_all(&p).map_err(io_err(&p))?;
        }
        self.copy_charm(app, &unit)?;
        let leader_needed = self
            .st
            .model
            .applications
            .get(app)
            .is_some_and(|a| a.leader.is_none());
        if let Some(a) = self.st.model.applications.get_mut(app) {
            a.units.insert(
                unit.clone(),
                Unit {
                    name: unit.clone(),
                    storage,
                    ..Unit::default()
                },
            );
            if leader_needed {
                a.leader = Some(unit.clone());
            }
        }
        self.rt
            .block_on(k8s::create_pod(
                &self.admin,
                &self.st.model.name,
                app,
                ordinal,
            ))
            .map_err(kube_err)?;
        self.start_pebble(app, &unit, true)?;
        self.start_endpoints(app, &unit)?;
        for s in &storage_names {
            let mut ctx = HookContext::hook(format!("{s}-storage-attached"));
            ctx.storage = Some((s.clone(), AppSpec::charm_storage_location(s)));
            self.push(&unit, ctx);
        }
        self.push(&unit, HookContext::hook("install"));
        let peers: Vec<(u64, String)> = self
            .st
            .model
            .relations
            .iter()
            .filter(|r| r.is_peer() && r.endpoints[0].app == app)
            .map(|r| (r.id, r.endpoints[0].endpoint.clone()))
            .collect();
        for (id, ep) in &peers {
            let mut ctx = HookContext::hook(format!("{ep}-relation-created"));
            ctx.relation = Some((*id, ep.clone()));
            ctx.remote_app = Some(app.to_owned());
            self.push(&unit, ctx);
        }
        if leader_needed {
            self.push(&unit, HookContext::hook("leader-elected"));
        } else {
            self.push(&unit, HookContext::hook("leader-settings-changed"));
        }
        self.push(&unit, HookContext::hook("config-changed"));
        self.push(&unit, HookContext::hook("start"));
        self.push_pebble_ready(app, &unit);
        // Joins: peers with the other units, and every relation of the app with remote units.
        let rels: Vec<Relation> = self
            .st
            .model
            .relations
            .iter()
            .filter(|r| r.end_of(app).is_some())
            .cloned()
            .collect();
        for rel in rels {
            let remote_app = rel.remote_app(app).unwrap_or(app).to_owned();
            for remote in self.app_units(&remote_app) {
                if remote == unit {
                    continue;
                }
                self.queue_join(&rel, &unit, &remote);
                self.queue_join(&rel, &remote, &unit);
            }
        }
        Ok(unit)
    }

    /// Queues `-relation-joined` then `-relation-changed` on `unit` for `remote`.
    fn queue_join(&mut self, rel: &Relation, unit: &str, remote: &str) {
        let app = unit.split('/').next().unwrap_or_default();
        let remote_app = remote.split('/').next().unwrap_or_default();
        let Some(end) = (if rel.is_peer() {
            Some(rel.endpoints[0].clone())
        } else {
            rel.end_of(app).cloned()
        }) else {
            return;
        };
        for kind in ["joined", "changed"] {
            let mut ctx = HookContext::hook(format!("{}-relation-{kind}", end.endpoint));
            ctx.relation = Some((rel.id, end.endpoint.clone()));
            ctx.remote_app = Some(remote_app.to_owned());
            ctx.remote_unit = Some(remote.to_owned());
            self.push(unit, ctx);
        }
    }

    /// `juju config APP K=V...`.
    pub fn config(&mut self, app: &str, values: &[(String, String)]) -> Result<()> {
        let meta = self
            .app_spec_parts(app)
            .map(|p| p.1)
            .ok_or_else(|| ModelError::Invalid(format!("application \"{app}\" not found")))?;
        let mut typed = Vec::new();
        for (k, v) in values {
            let value = if v.is_empty() {
                Value::Null
            } else {
                meta.typed_config_value(k, v).map_err(ModelError::Invalid)?
            };
            typed.push((k.clone(), value));
        }
        let mut changed = false;
        if let Some(a) = self.st.model.applications.get_mut(app) {
            for (k, v) in typed {
                let old = a.config.get(&k).cloned();
                if v.is_null() {
                    changed |= a.config.remove(&k).is_some();
                } else if old.as_ref() != Some(&v) {
                    a.config.insert(k, v);
                    changed = true;
                }
            }
        }
        if changed {
            for unit in self.app_units(app) {
                self.push(&unit, HookContext::hook("config-changed"));
            }
        }
        self.settle()
    }

    /// `juju trust APP --scope=cluster` (grants cluster-admin; Juju re-applies its template
    /// and fires `config-changed`, as trust is an application setting).
    pub fn trust(&mut self, app: &str) -> Result<()> {
        if !self.st.model.applications.contains_key(app) {
            return Err(ModelError::Invalid(format!(
                "application \"{app}\" not found"
            )));
        }
        self.rt
            .block_on(k8s::set_trust(&self.admin, &self.st.model.name, app, true))
            .map_err(kube_err)?;
        if let Some(a) = self.st.model.applications.get_mut(app) {
            a.trusted = true;
        }
        self.apply_k8s(app, 1)?;
        for unit in self.app_units(app) {
            self.push(&unit, HookContext::hook("config-changed"));
        }
        self.settle()
    }

    fn resolve_end(&self, spec: &str) -> Result<(String, Option<String>)> {
        let (app, ep) = match spec.split_once(':') {
            Some((a, e)) => (a.to_owned(), Some(e.to_owned())),
            None => (spec.to_owned(), None),
        };
        if !self.st.model.applications.contains_key(&app) {
            return Err(ModelError::Invalid(format!(
                "application \"{app}\" not found"
            )));
        }
        Ok((app, ep))
    }

    /// `juju integrate A[:EP] B[:EP]`.
    #[allow(clippy::too_many_lines)] // endpoint matching, Juju's checks, then the hooks
    pub fn relate(&mut self, a: &str, b: &str) -> Result<()> {
        let (app_a, ep_a) = self.resolve_end(a)?;
        let (app_b, ep_b) = self.resolve_end(b)?;
        let ma = self.app_spec_parts(&app_a).map(|p| p.1).unwrap_or_default();
        let mb = self.app_spec_parts(&app_b).map(|p| p.1).unwrap_or_default();
        let mut candidates = Vec::new();
        for (ea, ra, ia) in ma.endpoints() {
            if ep_a.as_ref().is_some_and(|e| *e != ea) || ra == Role::Peer {
                continue;
            }
            for (eb, rb, ib) in mb.endpoints() {
                if ep_b.as_ref().is_some_and(|e| *e != eb) || rb == Role::Peer {
                    continue;
                }
                let complementary = matches!(
                    (ra, rb),
                    (Role::Provider, Role::Requirer) | (Role::Requirer, Role::Provider)
                );
                if complementary && ia.interface == ib.interface {
                    candidates.push((ea.clone(), eb.clone()));
                }
            }
        }
        let (ea, eb) = match candidates.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(ModelError::Invalid(format!(
                    "no relations found between \"{a}\" and \"{b}\""
                )));
            }
            _ => {
                return Err(ModelError::Invalid(format!(
                    "ambiguous relation: \"{a} {b}\" could refer to {candidates:?}"
                )));
            }
        };
        let exists = self.st.model.relations.iter().any(|r| {
            r.endpoints
                .iter()
                .any(|e| e.app == app_a && e.endpoint == ea)
                && r.endpoints
                    .iter()
                    .any(|e| e.app == app_b && e.endpoint == eb)
        });
        if exists {
            return Err(ModelError::Invalid(format!(
                "cannot add relation \"{app_a}:{ea} {app_b}:{eb}\": relation {app_a}:{ea} {app_b}:{eb} already exists"
            )));
        }
        for (app, ep, meta) in [(&app_a, &ea, &ma), (&app_b, &eb, &mb)] {
            let limit = meta.endpoint(ep).and_then(|e| e.1.limit);
            let count = self
                .st
                .model
                .relations
                .iter()
                .filter(|r| {
                    r.endpoints
                        .iter()
                        .any(|e| &e.app == app && &e.endpoint == ep)
                })
                .count();
            if limit.is_some_and(|l| count >= l as usize) {
                return Err(ModelError::Invalid(format!(
                    "cannot add relation: establishing a new relation for {app}:{ep} would exceed its maximum relation limit of {}",
                    limit.unwrap_or_default()
                )));
            }
        }
        self.st.model.next_relation_id += 1;
        let id = self.st.model.next_relation_id;
        let rel = Relation {
            id,
            endpoints: [
                RelationEnd {
                    app: app_a.clone(),
                    endpoint: ea.clone(),
                },
                RelationEnd {
                    app: app_b.clone(),
                    endpoint: eb.clone(),
                },
            ],
            app_data: BTreeMap::new(),
            unit_data: BTreeMap::new(),
            units_joined: BTreeMap::new(),
            dying: false,
            broken_for: std::collections::BTreeSet::new(),
        };
        self.st.model.relations.push(rel.clone());
        for (app, ep, remote) in [(&app_a, &ea, &app_b), (&app_b, &eb, &app_a)] {
            for unit in self.app_units(app) {
                let mut ctx = HookContext::hook(format!("{ep}-relation-created"));
                ctx.relation = Some((id, ep.clone()));
                ctx.remote_app = Some(remote.clone());
                self.push(&unit, ctx);
            }
        }
        for unit in self.app_units(&app_a) {
            for remote in self.app_units(&app_b) {
                self.queue_join(&rel, &unit, &remote);
            }
        }
        for unit in self.app_units(&app_b) {
            for remote in self.app_units(&app_a) {
                self.queue_join(&rel, &unit, &remote);
            }
        }
        self.settle()
    }

    /// `juju remove-relation A B`.
    pub fn remove_relation(&mut self, a: &str, b: &str) -> Result<()> {
        let (app_a, ep_a) = self.resolve_end(a)?;
        let (app_b, ep_b) = self.resolve_end(b)?;
        let Some(rel) = self
            .st
            .model
            .relations
            .iter()
            .find(|r| {
                !r.is_peer()
                    && r.end_of(&app_a)
                        .is_some_and(|e| ep_a.as_ref().is_none_or(|x| *x == e.endpoint))
                    && r.end_of(&app_b)
                        .is_some_and(|e| ep_b.as_ref().is_none_or(|x| *x == e.endpoint))
            })
            .cloned()
        else {
            return Err(ModelError::Invalid(format!(
                "relation \"{a} {b}\" not found"
            )));
        };
        if let Some(r) = self.st.model.relations.iter_mut().find(|r| r.id == rel.id) {
            r.dying = true;
        }
        for end in &rel.endpoints {
            let remote_app = rel.remote_app(&end.app).unwrap_or_default().to_owned();
            for unit in self.app_units(&end.app) {
                for remote in self.app_units(&remote_app) {
                    let mut ctx = HookContext::hook(format!("{}-relation-departed", end.endpoint));
                    ctx.relation = Some((rel.id, end.endpoint.clone()));
                    ctx.remote_app = Some(remote_app.clone());
                    ctx.remote_unit = Some(remote.clone());
                    ctx.departing_unit = Some(remote.clone());
                    self.push(&unit, ctx);
                }
            }
        }
        self.settle_departures(&rel)?;
        for end in &rel.endpoints {
            let remote_app = rel.remote_app(&end.app).unwrap_or_default().to_owned();
            for unit in self.app_units(&end.app) {
                let mut ctx = HookContext::hook(format!("{}-relation-broken", end.endpoint));
                ctx.relation = Some((rel.id, end.endpoint.clone()));
                ctx.remote_app = Some(remote_app.clone());
                self.push(&unit, ctx);
            }
        }
        self.settle()?;
        self.st.model.relations.retain(|r| r.id != rel.id);
        self.save()
    }

    /// Runs the queued departed hooks (each departing unit leaves `relation-list` just
    /// before its hook runs, in [`Self::run_one`]).
    fn settle_departures(&mut self, _rel: &Relation) -> Result<()> {
        self.settle()
    }

    /// `juju scale-application APP N`.
    pub fn scale(&mut self, app: &str, n: u32) -> Result<()> {
        let current = self.app_units(app);
        if !self.st.model.applications.contains_key(app) {
            return Err(ModelError::Invalid(format!(
                "application \"{app}\" not found"
            )));
        }
        if let Some(a) = self.st.model.applications.get_mut(app) {
            a.planned_units = n;
        }
        self.rt
            .block_on(k8s::scale(
                &self.admin,
                &self.st.model.name,
                app,
                i32::try_from(n).unwrap_or(i32::MAX),
            ))
            .map_err(kube_err)?;
        let have = u32::try_from(current.len()).unwrap_or(u32::MAX);
        if n > have {
            for _ in have..n {
                self.add_unit(app)?;
            }
            return self.settle();
        }
        let mut sorted = current;
        sorted.sort_by_key(|u| ordinal_of(u));
        let dying: Vec<String> = sorted.into_iter().skip(n as usize).collect();
        for unit in dying.iter().rev() {
            self.remove_unit(app, unit)?;
        }
        self.settle()
    }

    fn remove_unit(&mut self, app: &str, unit: &str) -> Result<()> {
        let rels: Vec<Relation> = self
            .st
            .model
            .relations
            .iter()
            .filter(|r| r.end_of(app).is_some())
            .cloned()
            .collect();
        for rel in &rels {
            let end = rel.end_of(app).cloned().unwrap_or(RelationEnd {
                app: app.to_owned(),
                endpoint: String::new(),
            });
            let remote_app = rel.remote_app(app).unwrap_or(app).to_owned();
            let remote_end = if rel.is_peer() {
                end.clone()
            } else {
                rel.endpoints
                    .iter()
                    .find(|e| e.app == remote_app)
                    .cloned()
                    .unwrap_or_else(|| end.clone())
            };
            for remote in self.app_units(&remote_app) {
                if remote == unit {
                    continue;
                }
                let mut ctx =
                    HookContext::hook(format!("{}-relation-departed", remote_end.endpoint));
                ctx.relation = Some((rel.id, remote_end.endpoint.clone()));
                ctx.remote_app = Some(app.to_owned());
                ctx.remote_unit = Some(unit.to_owned());
                ctx.departing_unit = Some(unit.to_owned());
                self.push(&remote, ctx);
                let mut own = HookContext::hook(format!("{}-relation-departed", end.endpoint));
                own.relation = Some((rel.id, end.endpoint.clone()));
                own.remote_app = Some(remote_app.clone());
                own.remote_unit = Some(remote.clone());
                own.departing_unit = Some(unit.to_owned());
                self.push(unit, own);
            }
            self.settle_departures(rel)?;
            let mut broken = HookContext::hook(format!("{}-relation-broken", end.endpoint));
            broken.relation = Some((rel.id, end.endpoint.clone()));
            broken.remote_app = Some(remote_app.clone());
            self.push(unit, broken);
        }
        let storage: Vec<String> = self
            .st
            .model
            .applications
            .get(app)
            .map(|a| a.metadata.storage.keys().cloned().collect())
            .unwrap_or_default();
        for s in storage {
            let mut ctx = HookContext::hook(format!("{s}-storage-detaching"));
            ctx.storage = Some((s.clone(), AppSpec::charm_storage_location(&s)));
            self.push(unit, ctx);
        }
        self.push(unit, HookContext::hook("stop"));
        self.push(unit, HookContext::hook("remove"));
        self.settle()?;
        for r in &mut self.st.model.relations {
            r.units_joined.remove(unit);
            for s in r.units_joined.values_mut() {
                s.remove(unit);
            }
            r.unit_data.remove(unit);
        }
        if let Some(a) = self.st.model.applications.get_mut(app) {
            a.units.remove(unit);
            if a.leader.as_deref() == Some(unit) {
                a.leader = a.units.keys().next().cloned();
                if let Some(new) = a.leader.clone() {
                    self.queue
                        .push_back((new, HookContext::hook("leader-elected")));
                }
            }
        }
        self.st.unit_errors.remove(unit);
        self.pebbles.stop_unit(unit);
        self.endpoints.retain(|(u, _, _), _| u != unit);
        let pod = format!("{app}-{}", ordinal_of(unit));
        self.rt
            .block_on(k8s::delete_pod(&self.admin, &self.st.model.name, &pod))
            .map_err(kube_err)?;
        Ok(())
    }

    /// `juju refresh APP`: the charm is read again from where it was deployed from, Juju
    /// re-applies its template (GET + strategic merge, manager `juju`) with a new
    /// charm-modified-version, and the pods roll (`upgrade-charm` ...).
    pub fn refresh(&mut self, app: &str) -> Result<()> {
        let Some(sim) = self.st.apps.get(app).cloned() else {
            return Err(ModelError::Invalid(format!(
                "application \"{app}\" not found"
            )));
        };
        let work = self.dir.join("charms").join(app);
        let charm = Charm::locate(&sim.charm_spec, &work).map_err(charm_err)?;
        if let Some(a) = self.st.model.applications.get_mut(app) {
            a.charm_dir.clone_from(&charm.dir);
            a.metadata = to_state_meta(&charm.meta);
        }
        for unit in self.app_units(app) {
            self.copy_charm(app, &unit)?;
        }
        if let Some(a) = self.st.apps.get_mut(app) {
            a.charm_modified_version += 1;
        }
        self.apply_k8s(app, 1)?;
        self.settle()
    }

    /// Re-applies Juju's template without a charm change (what Juju does on provisioner
    /// restarts and trust changes); pods roll only if the template changed.
    pub fn reapply(&mut self, app: &str) -> Result<()> {
        self.apply_k8s(app, 1)?;
        self.settle()
    }

    /// Runs queued and retried hooks and notices template changes made outside the model.
    pub fn settle_now(&mut self) -> Result<()> {
        self.settle()
    }

    /// `juju run UNIT ACTION [K=V]...`.
    pub fn run_action(
        &mut self,
        unit: &str,
        action: &str,
        params: &[(String, String)],
    ) -> Result<ActionOutcome> {
        let app = unit.split('/').next().unwrap_or_default().to_owned();
        let meta = self
            .app_spec_parts(&app)
            .map(|p| p.1)
            .ok_or_else(|| ModelError::Invalid(format!("application \"{app}\" not found")))?;
        if !self.app_units(&app).iter().any(|u| u == unit) {
            return Err(ModelError::Invalid(format!("unit \"{unit}\" not found")));
        }
        let Some(spec) = meta.actions.get(action) else {
            return Err(ModelError::Invalid(format!(
                "action \"{action}\" not defined on unit \"{unit}\""
            )));
        };
        let mut p = serde_json::Map::new();
        for (k, schema) in &spec.params {
            if let Some(d) = schema.get("default") {
                p.insert(k.clone(), d.clone());
            }
        }
        for (k, v) in params {
            let kind = spec
                .params
                .get(k)
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str)
                .unwrap_or("string");
            let value = match kind {
                "integer" => v.parse::<i64>().map_or_else(|_| json!(v), Value::from),
                "number" => v.parse::<f64>().map_or_else(|_| json!(v), Value::from),
                "boolean" => v.parse::<bool>().map_or_else(|_| json!(v), Value::from),
                _ => json!(v),
            };
            p.insert(k.clone(), value);
        }
        let ctx = HookContext {
            hook: action.to_owned(),
            is_action: true,
            action: Some(ActionRun {
                name: action.to_owned(),
                params: p,
                ..ActionRun::default()
            }),
            ..HookContext::default()
        };
        self.last_action = None;
        let ok = self.run_one(unit, &ctx, None)?;
        let run = self.last_action.take().unwrap_or_default();
        self.settle()?;
        let failed = !ok || run.failed.is_some();
        Ok(ActionOutcome {
            status: if failed { "failed" } else { "completed" }.to_owned(),
            results: run.results,
            message: run.failed,
            log: run.log,
        })
    }

    /// `update-status` on every unit.
    pub fn update_status(&mut self) -> Result<()> {
        let units: Vec<String> = self
            .st
            .model
            .applications
            .values()
            .flat_map(|a| a.units.keys().cloned())
            .collect();
        for u in units {
            self.push(&u, HookContext::hook("update-status"));
        }
        self.settle()
    }

    /// `juju add-secret NAME K=V...`: a user secret; returns its URI.
    pub fn add_secret(&mut self, name: &str, content: &[(String, String)]) -> Result<String> {
        if self
            .st
            .model
            .secrets
            .values()
            .any(|s| s.owner == SecretOwner::Model && s.label.as_deref() == Some(name))
        {
            return Err(ModelError::Invalid(format!(
                "secret with name \"{name}\" already exists"
            )));
        }
        let id = state::new_secret_id(&mut self.st.model);
        let secret = Secret {
            id: id.clone(),
            owner: SecretOwner::Model,
            label: Some(name.to_owned()),
            consumer_labels: BTreeMap::new(),
            description: None,
            revisions: vec![SecretRevision {
                revision: 1,
                content: content.iter().cloned().collect(),
            }],
            grants: BTreeMap::new(),
            tracked: BTreeMap::new(),
            rotate: None,
            expire: None,
        };
        let uri = secret.uri();
        self.st.model.secrets.insert(id, secret);
        self.save()?;
        Ok(uri)
    }

    fn user_secret_id(&self, name: &str) -> Result<String> {
        self.st
            .model
            .secrets
            .values()
            .find(|s| {
                s.owner == SecretOwner::Model
                    && (s.label.as_deref() == Some(name) || s.uri() == name || s.id == name)
            })
            .map(|s| s.id.clone())
            .ok_or_else(|| ModelError::Invalid(format!("secret \"{name}\" not found")))
    }

    /// `juju grant-secret NAME APP`.
    pub fn grant_secret(&mut self, name: &str, app: &str) -> Result<()> {
        let id = self.user_secret_id(name)?;
        if !self.st.model.applications.contains_key(app) {
            return Err(ModelError::Invalid(format!(
                "application \"{app}\" not found"
            )));
        }
        if let Some(s) = self.st.model.secrets.get_mut(&id) {
            s.grants.insert(
                app.to_owned(),
                SecretGrant {
                    relation_id: None,
                    unit: None,
                },
            );
        }
        self.settle()
    }

    /// `juju update-secret NAME K=V...`: a new revision; `secret-changed` on trackers.
    pub fn update_secret(&mut self, name: &str, content: &[(String, String)]) -> Result<()> {
        let id = self.user_secret_id(name)?;
        let mut trackers = Vec::new();
        if let Some(s) = self.st.model.secrets.get_mut(&id) {
            let revision = s.latest().map_or(1, |r| r.revision + 1);
            s.revisions.push(SecretRevision {
                revision,
                content: content.iter().cloned().collect(),
            });
            for u in s.tracked.keys() {
                trackers.push((u.clone(), s.consumer_labels.get(u).cloned(), revision));
            }
        }
        for (unit, label, rev) in trackers {
            let mut ctx = HookContext::hook("secret-changed");
            ctx.secret = Some((id.clone(), label, Some(rev)));
            self.push(&unit, ctx);
        }
        self.settle()
    }

    /// Arms a fault on `app`'s API traffic (persisted; counts down across commands).
    pub fn fault(&mut self, app: &str, rule: kube_testbed::Rule) -> Result<()> {
        self.st.faults.push(Fault {
            app: app.to_owned(),
            rule: rule.clone(),
        });
        if let Some(p) = self.proxies.get(app) {
            let id = p.arm(rule);
            self.proxy_rules
                .push((self.st.faults.len() - 1, app.to_owned(), id));
        }
        self.save()
    }

    /// Clears the faults of `app`.
    pub fn clear_faults(&mut self, app: &str) -> Result<()> {
        self.collect_proxy_state();
        self.st.faults.retain(|f| f.app != app);
        if let Some(p) = self.proxies.get(app) {
            p.clear_rules();
        }
        self.proxy_rules.retain(|(_, a, _)| a != app);
        self.save()
    }

    /// `workload-http APP CONTAINER PATH --status N --body TEXT` (or `--down`), on `port`.
    pub fn workload_http(
        &mut self,
        app: &str,
        container: &str,
        port: u16,
        path: &str,
        answer: Answer,
    ) -> Result<()> {
        let key = format!("{app}/{container}/{port}");
        self.st
            .workload
            .entry(key.clone())
            .or_default()
            .insert(path.to_owned(), answer.clone());
        if let Some(shared) = self.shared.get(&key) {
            shared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .answers
                .insert(path.to_owned(), answer);
        }
        for unit in self.app_units(app) {
            self.start_endpoints(app, &unit)?;
        }
        self.save()
    }

    /// Requests the workload endpoints received so far.
    pub fn workload_requests(&mut self) -> Vec<WorkloadRequest> {
        self.collect_proxy_state();
        self.st.workload_requests.clone()
    }

    /// Every hook run so far.
    pub fn history(&self) -> &[HookRecord] {
        &self.st.history
    }

    /// `juju status --format=json`, shaped like Juju 3.6's.
    pub fn status(&self) -> Value {
        crate::status::json(&self.st)
    }

    /// Sets a Pebble check of a unit's container up or down (what the workload's health would
    /// be; checks are not performed by the simulated Pebble). Returns false if no such Pebble.
    pub fn set_pebble_check(&mut self, unit: &str, container: &str, check: &str, up: bool) -> bool {
        let done = self
            .pebbles
            .with_state(unit, container, |s| s.set_check_status(check, up))
            .is_some();
        if done {
            self.pebbles.save(&self.dir.join("pebble"));
        }
        done
    }

    /// Pebble's state for a unit's container (plan, services, files), if running.
    pub fn pebble(&self, unit: &str, container: &str) -> Option<Value> {
        self.pebbles.describe(unit, container)
    }
}

/// The unit's ordinal (`app/3` → 3).
pub fn ordinal_of(unit: &str) -> u32 {
    unit.rsplit('/')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Converts parsed metadata into the shape the hook tools read.
pub fn to_state_meta(m: &CharmMeta) -> state::CharmMeta {
    let mut endpoints = BTreeMap::new();
    for (name, role, e) in m.endpoints() {
        endpoints.insert(
            name,
            state::EndpointMeta {
                role: match role {
                    Role::Provider => state::Role::Provides,
                    Role::Requirer => state::Role::Requires,
                    Role::Peer => state::Role::Peers,
                },
                interface: e.interface.clone(),
                limit: e.limit,
                optional: false,
            },
        );
    }
    state::CharmMeta {
        name: m.name.clone(),
        endpoints,
        containers: m
            .containers
            .iter()
            .map(|(k, c)| {
                (
                    k.clone(),
                    state::ContainerMeta {
                        resource: c.resource.clone(),
                        mounts: c
                            .mounts
                            .iter()
                            .map(|mm| state::MountMeta {
                                storage: mm.storage.clone(),
                                location: mm.location.clone(),
                            })
                            .collect(),
                    },
                )
            })
            .collect(),
        storage: m
            .storage
            .iter()
            .map(|(k, s)| {
                (
                    k.clone(),
                    state::StorageMeta {
                        kind: if s.kind.is_empty() {
                            "filesystem".to_owned()
                        } else {
                            s.kind.clone()
                        },
                        location: Some(AppSpec::charm_storage_location(k)),
                    },
                )
            })
            .collect(),
        actions: m
            .actions
            .iter()
            .map(|(k, a)| {
                (
                    k.clone(),
                    state::ActionMeta {
                        description: a.description.clone().unwrap_or_default(),
                        params: a.params.clone(),
                    },
                )
            })
            .collect(),
        config: m
            .options
            .iter()
            .map(|(k, o)| {
                (
                    k.clone(),
                    state::ConfigOption {
                        kind: o.kind.clone(),
                        default: o.default.clone(),
                        description: o.description.clone().unwrap_or_default(),
                    },
                )
            })
            .collect(),
    }
}
