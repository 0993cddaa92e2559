//! The hook context: everything Juju passes to a charm in the process environment.
//!
//! This is the ONLY place in the crate that reads environment variables. [`Context::from_env`]
//! snapshots the environment once at start-up; [`Context::from_vars`] builds the same value
//! from an explicit map so tests never mutate the real environment.
//!
//! Variable names are those Juju's uniter sets for a hook
//! (`worker/uniter/runner/context/context.go`, `HookVars`) and that ops reads in
//! `ops/jujucontext.py` (`JujuContext._from_dict`). As in ops, an empty value counts as absent,
//! `JUJU_RELATION_ID` is `<endpoint>:<id>` (the number after the last `:` is the id) and
//! `JUJU_STORAGE_ID` is `<storage-name>/<index>`.
//!
//! No variable is ours: a charm finds each workload's Pebble socket where Juju mounts it
//! (`/charm/containers/<container>/pebble.socket`) and each workload port on `127.0.0.1`, as
//! the containers of a pod share its network namespace; the simulator gives hooks exactly that
//! (crates/juju-sim, docs/adr/0044-simulator-pods.md).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Default directory under which Juju mounts each workload container's Pebble socket
/// (`/charm/containers/<container>/pebble.socket`).
pub const DEFAULT_PEBBLE_DIR: &str = "/charm/containers";

/// Everything Juju told this process about the hook it runs, typed.
///
/// Optional fields are `None` when the variable is absent or empty (Juju only sets the
/// relation, storage, workload, secret, notice and action variables for hooks of that kind).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Context {
    /// `JUJU_DISPATCH_PATH`, e.g. `hooks/install` or `actions/show-credentials`. Absent means
    /// the binary was not started by Juju (it then acts as a CLI).
    pub dispatch_path: Option<String>,
    /// `JUJU_HOOK_NAME` (empty for actions), e.g. `config-changed`.
    pub hook_name: Option<String>,
    /// `JUJU_UNIT_NAME`, e.g. `gluetun/0`.
    pub unit_name: String,
    /// `JUJU_MODEL_NAME`.
    pub model_name: String,
    /// `JUJU_MODEL_UUID`.
    pub model_uuid: String,
    /// `JUJU_VERSION`, e.g. `3.6.4`.
    pub juju_version: Option<String>,
    /// `JUJU_CHARM_DIR`: where the charm is unpacked.
    pub charm_dir: Option<PathBuf>,
    /// `JUJU_CONTEXT_ID`: identifies this hook run to the hook tools.
    pub context_id: Option<String>,
    /// `JUJU_AGENT_SOCKET_ADDRESS`: where the hook tools reach the unit agent.
    pub agent_socket_address: Option<String>,
    /// `JUJU_DEBUG` is set: ops then also writes logs to stderr.
    pub debug: bool,
    /// `JUJU_RELATION`: the endpoint of a relation hook, e.g. `vpn-gateway`.
    pub relation_name: Option<String>,
    /// The numeric id from `JUJU_RELATION_ID` (`vpn-gateway:5` → 5).
    pub relation_id: Option<u64>,
    /// `JUJU_REMOTE_APP`: the application on the other side of the relation.
    pub remote_app: Option<String>,
    /// `JUJU_REMOTE_UNIT`: the remote unit a relation unit hook is about.
    pub remote_unit: Option<String>,
    /// `JUJU_DEPARTING_UNIT`: the unit leaving, in `relation-departed`.
    pub departing_unit: Option<String>,
    /// `JUJU_WORKLOAD_NAME`: the container of a Pebble hook.
    pub workload_name: Option<String>,
    /// `JUJU_NOTICE_ID`.
    pub notice_id: Option<String>,
    /// `JUJU_NOTICE_TYPE`, e.g. `custom`.
    pub notice_type: Option<String>,
    /// `JUJU_NOTICE_KEY`, e.g. `example.com/a`.
    pub notice_key: Option<String>,
    /// `JUJU_PEBBLE_CHECK_NAME`: the check of `pebble-check-failed`/`-recovered`.
    pub pebble_check_name: Option<String>,
    /// `JUJU_SECRET_ID`, e.g. `secret:cn9...`.
    pub secret_id: Option<String>,
    /// `JUJU_SECRET_LABEL`.
    pub secret_label: Option<String>,
    /// `JUJU_SECRET_REVISION`.
    pub secret_revision: Option<u64>,
    /// `JUJU_ACTION_NAME`.
    pub action_name: Option<String>,
    /// `JUJU_ACTION_UUID`.
    pub action_uuid: Option<String>,
    /// `JUJU_STORAGE_ID` as given, e.g. `config/0`.
    pub storage_id: Option<String>,
    /// The storage name from `JUJU_STORAGE_ID` (`config/0` → `config`).
    pub storage_name: Option<String>,
    /// The index from `JUJU_STORAGE_ID` (`config/0` → 0).
    pub storage_index: Option<u64>,
    /// `JUJU_STORAGE_LOCATION`: where the storage is mounted.
    pub storage_location: Option<PathBuf>,
    /// `JUJU_STORAGE_KIND`, e.g. `filesystem`.
    pub storage_kind: Option<String>,
}

impl Context {
    /// Reads the real process environment (once; the only `std::env` read in the crate).
    ///
    /// Variables whose name or value is not UTF-8 are ignored: Juju sets only UTF-8.
    #[allow(clippy::disallowed_methods)] // The one home of environment reads (clippy.toml).
    pub fn from_env() -> Self {
        Self::from_vars(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// Builds a context from explicit variables, as if they were the environment.
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in vars {
            let v = v.into();
            // ops treats an empty value as absent (`env.get(...) or None`); so do we.
            if !v.is_empty() {
                env.insert(k.into(), v);
            }
        }
        let get = |name: &str| env.get(name).cloned();

        // `JUJU_RELATION_ID` is `<endpoint>:<id>`; ops takes the part after the last ':'.
        let relation_id = get("JUJU_RELATION_ID")
            .and_then(|raw| raw.rsplit(':').next().and_then(|n| n.parse().ok()));
        // `JUJU_STORAGE_ID` is `<name>/<index>` (ops: split on '/').
        let storage_id = get("JUJU_STORAGE_ID");
        let (storage_name, storage_index) = match &storage_id {
            Some(id) => match id.split_once('/') {
                Some((name, index)) => (Some(name.to_owned()), index.parse().ok()),
                None => (Some(id.clone()), None),
            },
            None => (None, None),
        };
        Self {
            dispatch_path: get("JUJU_DISPATCH_PATH"),
            hook_name: get("JUJU_HOOK_NAME"),
            unit_name: get("JUJU_UNIT_NAME").unwrap_or_default(),
            model_name: get("JUJU_MODEL_NAME").unwrap_or_default(),
            model_uuid: get("JUJU_MODEL_UUID").unwrap_or_default(),
            juju_version: get("JUJU_VERSION"),
            charm_dir: get("JUJU_CHARM_DIR").map(PathBuf::from),
            context_id: get("JUJU_CONTEXT_ID"),
            agent_socket_address: get("JUJU_AGENT_SOCKET_ADDRESS"),
            // ops: `debug='JUJU_DEBUG' in env` (presence, whatever the value).
            debug: env.contains_key("JUJU_DEBUG"),
            relation_name: get("JUJU_RELATION"),
            relation_id,
            remote_app: get("JUJU_REMOTE_APP"),
            remote_unit: get("JUJU_REMOTE_UNIT"),
            departing_unit: get("JUJU_DEPARTING_UNIT"),
            workload_name: get("JUJU_WORKLOAD_NAME"),
            notice_id: get("JUJU_NOTICE_ID"),
            notice_type: get("JUJU_NOTICE_TYPE"),
            notice_key: get("JUJU_NOTICE_KEY"),
            pebble_check_name: get("JUJU_PEBBLE_CHECK_NAME"),
            secret_id: get("JUJU_SECRET_ID"),
            secret_label: get("JUJU_SECRET_LABEL"),
            secret_revision: get("JUJU_SECRET_REVISION").and_then(|r| r.parse().ok()),
            action_name: get("JUJU_ACTION_NAME"),
            action_uuid: get("JUJU_ACTION_UUID"),
            storage_id,
            storage_name,
            storage_index,
            storage_location: get("JUJU_STORAGE_LOCATION").map(PathBuf::from),
            storage_kind: get("JUJU_STORAGE_KIND"),
        }
    }

    /// True when Juju started this process for a hook or action (`JUJU_DISPATCH_PATH` set).
    pub fn under_juju(&self) -> bool {
        self.dispatch_path.is_some()
    }

    /// The application name: the unit name before the `/` (ops: `unit_name.split('/')[0]`).
    pub fn app_name(&self) -> &str {
        self.unit_name
            .split_once('/')
            .map_or(self.unit_name.as_str(), |(app, _)| app)
    }

    /// This unit's number (`app/3` → 3; its pod is `<app>-3`), `None` when the unit name has
    /// no number (not a name Juju gives).
    pub fn unit_number(&self) -> Option<u32> {
        unit_number(&self.unit_name)
    }

    /// The path of a workload container's Pebble socket:
    /// `/charm/containers/<container>/pebble.socket`.
    pub fn pebble_socket(&self, container: &str) -> PathBuf {
        PathBuf::from(DEFAULT_PEBBLE_DIR)
            .join(container)
            .join("pebble.socket")
    }

    /// Where to reach `port` of a workload container: `127.0.0.1:<port>` (the containers of a
    /// pod share its network namespace). The container is named for the reader only.
    pub fn workload_addr(&self, _container: &str, port: u16) -> String {
        format!("127.0.0.1:{port}")
    }
}

/// The number of a unit name (`app/3` → 3), `None` when it has none: the one parser of unit
/// ordinals of the charms.
pub fn unit_number(unit: &str) -> Option<u32> {
    unit.rsplit_once('/').and_then(|(_, n)| n.parse().ok())
}
