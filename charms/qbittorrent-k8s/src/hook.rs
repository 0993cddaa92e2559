//! The hook entry point: gather → plan → apply for every hook (holistic), actions apart,
//! nothing on `stop`/`remove`. One current-thread tokio runtime per hook for Kubernetes and
//! Pebble I/O; every Kubernetes request shares [`BUDGET`].

use std::time::Duration;

use juju_charm::k8s::{Kube, KubeError, Reads};
use juju_charm::{Hook, Juju};
use ring::rand::SystemRandom;

use crate::actions::{self, ActionError};
use crate::apply::{ApplyError, apply};
use crate::gather::{GatherError, gather};
use crate::plan::{CONTAINER, FIELD_MANAGER, plan};

/// Time all Kubernetes requests of one hook may take, retries included.
pub const BUDGET: Duration = Duration::from_mins(1);

/// A hook failed; Juju retries it.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// No Kubernetes client.
    #[error("cannot connect to Kubernetes")]
    ConnectKube(#[source] KubeError),
    /// Reading the inputs.
    #[error("gather")]
    Gather(#[source] Box<GatherError>),
    /// Writing the plan.
    #[error("apply")]
    Apply(#[source] Box<ApplyError>),
    /// An action.
    #[error("action")]
    Action(#[source] Box<ActionError>),
}

/// Runs one hook or action.
pub fn run(juju: &mut Juju, hook: &Hook) -> Result<(), HookError> {
    if hook.is_teardown() {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(HookError::Runtime)?;
    runtime.block_on(async {
        let pebble = juju.pebble(CONTAINER);
        if let Hook::Action(name) = hook {
            return actions::run(juju, name, &pebble)
                .await
                .map_err(|e| HookError::Action(Box::new(e)));
        }
        let model = juju.context().model_name.clone();
        let kube = Kube::connect(&model, FIELD_MANAGER, BUDGET).map_err(HookError::ConnectKube)?;
        let rng = SystemRandom::new();
        // Planning reads come from the API server's cache; apply's writes re-read the
        // latest state (docs/adr/0027).
        let planning = kube.with_reads(Reads::Cached);
        let inputs = gather(juju, hook, &planning, &pebble, &rng)
            .await
            .map_err(|e| HookError::Gather(Box::new(e)))?;
        let plan = plan(&inputs);
        tracing::debug!(
            kube = ?plan.kube.iter().map(ToString::to_string).collect::<Vec<_>>(),
            workload = ?plan.workload,
            "plan"
        );
        apply(juju, &kube, &pebble, &plan)
            .await
            .map_err(|e| HookError::Apply(Box::new(e)))?;
        Ok(())
    })
}
