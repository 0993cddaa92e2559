//! The simulator's persisted state ([`SimState`], `<state>/state.json`), what one CLI command
//! leaves for the next: the model the hook tools see, plus the simulator's own data per
//! application, the units in error, every hook run, the armed faults and the workload answers and
//! requests; loading and saving it, and the queries on it that the model's steps share.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::runner::{HookContext, HookRecord};
use crate::state::{ModelState, Relation, Status, Unit};
use crate::workload::{Answer, WorkloadRequest};

use super::error::{ModelError, Result, io_err};

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
    /// The charm's revision in the model (0 at deploy, +1 per `refresh`), as in its URL
    /// `local:<name>-<revision>`.
    #[serde(default)]
    pub charm_revision: u32,
    /// The metadata of the charm the application runs, as deployed or refreshed (what the
    /// refresh checks compare against, even if its directory changed since).
    #[serde(default)]
    pub charm_meta: Option<crate::meta::CharmMeta>,
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
    /// pod-gateway's source tree, once containers run ([`Model::run_containers`]): kept so
    /// that every later command (a new process in the CLI) runs them too.
    #[serde(default)]
    pub pod_gateway_src: Option<std::path::PathBuf>,
}

impl SimState {
    /// The state saved in `dir`, or, if there is none, a new model named `name` with fresh
    /// model and controller UUIDs.
    pub(super) fn load(dir: &Path, name: &str) -> Result<Self> {
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
        Ok(st)
    }

    /// Starts the model afresh, keeping only its name and the model and controller UUIDs.
    pub(super) fn forget_all_but_identity(&mut self) {
        let (n, u, c) = (
            self.model.name.clone(),
            self.model.uuid.clone(),
            self.controller_uuid.clone(),
        );
        *self = SimState::default();
        self.model.name = n;
        self.model.uuid = u;
        self.controller_uuid = c;
    }

    /// Writes `<dir>/state.json` (through a temporary file renamed over it).
    pub(super) fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join("state.json");
        let tmp = dir.join("state.json.tmp");
        let text =
            serde_json::to_string_pretty(self).map_err(|source| ModelError::StateDecode {
                path: path.display().to_string(),
                source,
            })?;
        std::fs::write(&tmp, text).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
        Ok(())
    }

    /// The units of `app` (none if there is no such application).
    pub(super) fn app_units(&self, app: &str) -> Vec<String> {
        self.model
            .applications
            .get(app)
            .map(|a| a.units.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The relations `app` takes part in (peer relations included), copied: the caller goes
    /// on to change the model while it walks them.
    pub(super) fn app_relations(&self, app: &str) -> Vec<Relation> {
        self.model
            .relations
            .iter()
            .filter(|r| r.end_of(app).is_some())
            .cloned()
            .collect()
    }

    /// The unit named `unit`, if it exists.
    pub(super) fn unit_mut(&mut self, unit: &str) -> Option<&mut Unit> {
        let app = unit.split('/').next().unwrap_or_default();
        self.model
            .applications
            .get_mut(app)
            .and_then(|a| a.units.get_mut(unit))
    }
}

pub(super) fn uuid_like(seed: &str) -> String {
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
