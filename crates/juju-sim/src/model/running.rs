//! The running model: what an open [`Model`] holds (the persisted state, a tokio runtime, the
//! admin client, the cluster when it owns one, the per-process services and the hook queue),
//! opening it on a state directory, saving it, and shutting it down.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::k8s;
use crate::runner::{self, HookContext, HookRecord};
use crate::state::ActionRun;
use crate::workload;

use super::error::{ModelError, Result, cluster_err, io_err, kube_err};
use super::sim_state::SimState;

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
    /// The state directory (canonical).
    pub(super) dir: PathBuf,
    /// The persisted state.
    pub(super) st: SimState,
    /// Runs the Kubernetes calls.
    pub(super) rt: tokio::runtime::Runtime,
    /// The cluster's admin client.
    pub(super) admin: kube::Client,
    pub(super) admin_kubeconfig: PathBuf,
    /// The cluster, when this model owns it ([`ClusterMode::Owned`]).
    pub(super) cluster: Option<kube_testbed::Cluster>,
    /// Fault proxy per application.
    pub(super) proxies: BTreeMap<String, kube_testbed::FaultProxy>,
    /// Armed rules: (index in `st.faults`, application, the proxy's rule id).
    pub(super) proxy_rules: Vec<(usize, String, kube_testbed::RuleId)>,
    /// Workload endpoints per (unit, container, port).
    pub(super) endpoints: BTreeMap<(String, String, u16), workload::Endpoint>,
    /// Answers and requests shared with the endpoints, per `app/container/port`.
    pub(super) shared: BTreeMap<String, Arc<Mutex<workload::Shared>>>,
    pub(super) pebbles: crate::pebble_host::Pebbles,
    /// Runs the pods' containers the simulator has images for ([`Model::run_containers`]).
    pub(super) kubelet: Option<crate::kubelet::Kubelet>,
    /// gluetun's tunnel stand-in per pod (dropped before the pods they hang off).
    pub(super) tunnels: BTreeMap<String, pod_net::Internet>,
    /// The pods' network namespaces, API relay and DNS, when the host can make them
    /// ([`crate::pod_network::available`]).
    pub(super) pods: Option<crate::pod_network::PodNetwork>,
    /// The hook queue: (unit, hook).
    pub(super) queue: VecDeque<(String, HookContext)>,
    /// Pod restarts per application in the current operation.
    pub(super) restarts_in_op: BTreeMap<String, u32>,
    /// The hook tools' directory (first on a hook's PATH).
    pub(super) tools_dir: PathBuf,
    /// The last action run's results.
    pub(super) last_action: Option<ActionRun>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("dir", &self.dir)
            .field("model", &self.st.model.name)
            .finish_non_exhaustive()
    }
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
        let mut st = SimState::load(&dir, name)?;
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
                    st.forget_all_but_identity();
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
        let pods = if crate::pod_network::available() {
            Some(crate::pod_network::PodNetwork::start()?)
        } else {
            None
        };
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
            kubelet: None,
            tunnels: BTreeMap::new(),
            pods,
            queue: VecDeque::new(),
            restarts_in_op: BTreeMap::new(),
            tools_dir,
            last_action: None,
        };
        if let Some(src) = model.st.pod_gateway_src.clone() {
            model.run_containers(&src)?;
        }
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

    /// Writes the state file (and the Pebble states).
    pub fn save(&self) -> Result<()> {
        self.st.save(&self.dir)?;
        self.pebbles.save(&self.dir.join("pebble"));
        Ok(())
    }

    /// Stops everything this model started (Pebble, endpoints, proxies) and, for
    /// [`ClusterMode::Persistent`], the detached cluster too (`down`).
    pub fn down(mut self) -> Result<Vec<&'static str>> {
        self.collect_proxy_state();
        self.save()?;
        self.endpoints.clear();
        self.tunnels.clear();
        self.pods = None;
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

    /// Every hook run so far.
    pub fn history(&self) -> &[HookRecord] {
        &self.st.history
    }
}
