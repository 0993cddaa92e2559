//! The charm's handle on one hook ([`Juju`]): what Juju told the process, the hook tools, the
//! statuses collected and set once at the end ([`Juju::set_status`]), and the clients of the
//! hook's workloads: Pebble per container and a Kubernetes client connected on first use.

use std::cell::OnceCell;
use std::path::PathBuf;
use std::time::Duration;

use crate::context::Context;
use crate::k8s::{Kube, KubeError};
use crate::status::{Status, StatusCollector, StatusLevel};
use crate::tools::unit::ApplicationStatus;
use crate::tools::{ToolError, Tools};

/// How a hook's Kubernetes client writes and how long its requests may take in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KubeSettings {
    /// Field manager of every write (and the `managed-by` label).
    pub field_manager: &'static str,
    /// Time all Kubernetes requests of one hook may take, retries included.
    pub budget: Duration,
}

impl Default for KubeSettings {
    /// For a charm not built on [`crate::Charm`] (which names its own).
    fn default() -> Self {
        Self {
            field_manager: "juju-charm",
            budget: Duration::from_secs(30),
        }
    }
}

/// The charm's context for one hook: what Juju told the process, the hook tools, the status
/// collector, a lazily connected Kubernetes client and a Pebble client per container.
#[derive(Debug)]
pub struct Juju {
    ctx: Context,
    tools: Tools,
    status: StatusCollector,
    leader: Option<bool>,
    statuses_read: Option<Result<ApplicationStatus, ToolError>>,
    kube_settings: KubeSettings,
    kube: OnceCell<Kube>,
}

impl Juju {
    /// A handle over an explicit context and tools (tests, the simulator).
    pub fn new(ctx: Context, tools: Tools) -> Self {
        Self {
            ctx,
            tools,
            status: StatusCollector::new(),
            leader: None,
            statuses_read: None,
            kube_settings: KubeSettings::default(),
            kube: OnceCell::new(),
        }
    }

    /// The same handle, connecting to Kubernetes with `settings`.
    #[must_use]
    pub fn with_kube_settings(mut self, settings: KubeSettings) -> Self {
        self.kube_settings = settings;
        self
    }

    /// The Kubernetes client in the model's namespace, connected on first use (a hook that
    /// never asks never connects; the request budget starts then). Clones share it.
    pub fn kube(&self) -> Result<Kube, KubeError> {
        if let Some(kube) = self.kube.get() {
            return Ok(kube.clone());
        }
        let settings = self.kube_settings;
        let kube = Kube::connect(
            &self.ctx.model_name,
            settings.field_manager,
            settings.budget,
        )?;
        Ok(self.kube.get_or_init(|| kube).clone())
    }

    /// What Juju told this process.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The hook tools.
    pub fn tools(&self) -> &Tools {
        &self.tools
    }

    /// Records a status; the most severe one is set when the hook ends.
    pub fn add_status(&mut self, status: Status) {
        self.status.add(status);
    }

    /// The status collector (for unit-only or application-only entries).
    pub fn status(&mut self) -> &mut StatusCollector {
        &mut self.status
    }

    /// Whether this unit leads, asked once per hook (`is-leader` holds for Juju's 30 s lease,
    /// longer than a hook should run).
    pub fn is_leader(&mut self) -> Result<bool, ToolError> {
        if let Some(leader) = self.leader {
            return Ok(leader);
        }
        let leader = self.tools.is_leader()?;
        self.leader = Some(leader);
        Ok(leader)
    }

    /// Records leadership the charm read itself (e.g. `is-leader` in the background with
    /// other reads): [`Self::is_leader`] answers it from then on, as if it had asked.
    pub fn leader_read(&mut self, leader: bool) {
        self.leader = Some(leader);
    }

    /// Gives [`Self::set_status`] the statuses the charm read itself (a leader may run
    /// [`Tools::status_get_application`] in the background with its other reads, see
    /// [`crate::tools::background`]), so that it does not run `status-get` again. Nothing else
    /// sets this unit's or application's status during a hook: what was read at its start is
    /// still there at its end.
    pub fn statuses_read(&mut self, current: Result<ApplicationStatus, ToolError>) {
        self.statuses_read = Some(current);
    }

    /// The Pebble socket of a workload container (see [`Context::pebble_socket`]).
    pub fn pebble_socket(&self, container: &str) -> PathBuf {
        self.ctx.pebble_socket(container)
    }

    /// A Pebble client for a workload container, on the socket Juju mounts for it
    /// ([`Context::pebble_socket`]). Nothing is opened until the first
    /// request.
    pub fn pebble(&self, container: &str) -> crate::pebble::Pebble {
        crate::pebble::Pebble::at_socket(self.ctx.pebble_socket(container))
    }

    /// Where to reach a workload port (see [`Context::workload_addr`]).
    pub fn workload_addr(&self, container: &str, port: u16) -> String {
        self.ctx.workload_addr(container, port)
    }

    /// Sets the collected status once: the unit's, and the application's on the leader.
    ///
    /// Nothing is set when nothing was collected (actions, `stop`, `remove` usually collect
    /// nothing and must not overwrite the status the last reconcile set). A folded `error`
    /// sets nothing and fails the hook so Juju retries it and shows the error.
    pub fn set_status(&mut self) -> Result<(), FinishError> {
        if self.status.is_empty() {
            return Ok(());
        }
        let outcome = self.status.outcome();
        if outcome.unit.level == StatusLevel::Error {
            return Err(FinishError::ErrorStatus(outcome.unit.message));
        }
        if !self.is_leader().map_err(FinishError::CheckLeader)? {
            return self
                .tools
                .status_set(&outcome.unit, false)
                .map_err(FinishError::SetUnitStatus);
        }
        // The leader reads both statuses with one tool call and sets only what differs: a
        // steady hook then runs one tool instead of two. If the read fails, both are set.
        let current = match self.statuses_read.take() {
            Some(read) => read.ok(),
            None => self.tools.status_get_application().ok(),
        };
        let unit_now = current
            .as_ref()
            .and_then(|c| c.units.get(&self.ctx.unit_name).cloned().flatten());
        if unit_now.as_ref() != Some(&outcome.unit) {
            self.tools
                .status_set(&outcome.unit, false)
                .map_err(FinishError::SetUnitStatus)?;
        }
        if outcome.app.level == StatusLevel::Error {
            return Err(FinishError::ErrorStatus(outcome.app.message));
        }
        if current.and_then(|c| c.application).as_ref() != Some(&outcome.app) {
            self.tools
                .status_set(&outcome.app, true)
                .map_err(FinishError::SetAppStatus)?;
        }
        Ok(())
    }
}

/// Why the end of a hook failed.
#[derive(Debug, thiserror::Error)]
pub enum FinishError {
    /// The charm reported an `error` status.
    #[error("error status: {0}")]
    ErrorStatus(String),
    /// `status-set` for the unit failed.
    #[error("could not set the unit status")]
    SetUnitStatus(#[source] ToolError),
    /// `is-leader` failed.
    #[error("could not check leadership before setting the application status")]
    CheckLeader(#[source] ToolError),
    /// `status-set --application` failed.
    #[error("could not set the application status")]
    SetAppStatus(#[source] ToolError),
}
