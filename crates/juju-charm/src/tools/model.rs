//! Model-level reads: `config-get`, `is-leader`, `goal-state`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{ToolError, Tools, argv};

/// One unit or application in `goal-state` output.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Goal {
    /// `active`, `waiting`, `dying`, …
    pub status: String,
    /// When it entered that status (RFC 3339-ish, as Juju prints it).
    #[serde(default)]
    pub since: Option<String>,
}

/// `goal-state --format=json`: the units this application will have, and related ones.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct GoalState {
    /// This application's units by name.
    #[serde(default)]
    pub units: BTreeMap<String, Goal>,
    /// For each endpoint, the related applications and units.
    #[serde(default)]
    pub relations: BTreeMap<String, BTreeMap<String, Goal>>,
}

impl GoalState {
    /// Units that are or will be running: every unit not `dying` (ops `planned_units`).
    pub fn planned_units(&self) -> usize {
        self.units.values().filter(|g| g.status != "dying").count()
    }
}

impl Tools {
    /// The application's config parsed into the caller's type: `config-get --format=json`.
    ///
    /// Juju prints options that are set or have a default; `secret` options are secret ids.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, ToolError> {
        self.run_json("config-get", &argv(["--format=json"]))
    }

    /// Whether this unit is the leader: `is-leader --format=json` (`true`/`false`). Valid for
    /// 30 s from the call (Juju's lease); a hook runs well within that.
    pub fn is_leader(&self) -> Result<bool, ToolError> {
        self.run_json("is-leader", &argv(["--format=json"]))
    }

    /// `goal-state --format=json`.
    pub fn goal_state(&self) -> Result<GoalState, ToolError> {
        self.run_json("goal-state", &argv(["--format=json"]))
    }

    /// How many units this application is planned to have (see [`GoalState::planned_units`]).
    pub fn planned_units(&self) -> Result<usize, ToolError> {
        Ok(self.goal_state()?.planned_units())
    }
}
