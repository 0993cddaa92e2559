//! One hook: gather → plan → apply on a current-thread tokio runtime, then the status.
//! `stop` and `remove` change nothing: the StatefulSet and its additions go with the
//! application, and the ConfigMap is harmless (the next deployment adopts it).

use juju_charm::{Hook, Juju};

use crate::apply::{ApplyError, apply};
use crate::gather::{GatherError, gather};
use crate::plan::plan;

/// Why a hook failed (Juju retries it).
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The async runtime could not be built.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// A read failed.
    #[error("reading the current state failed")]
    Gather(#[source] Box<GatherError>),
    /// A write failed.
    #[error("writing the desired state failed")]
    Apply(#[source] Box<ApplyError>),
}

/// The holistic reconcile every hook runs.
pub fn reconcile(juju: &mut Juju, hook: &Hook) -> Result<(), HookError> {
    if hook.is_teardown() {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(HookError::Runtime)?;
    let status = runtime.block_on(async {
        // Boxed: the overlapping reads make a large future (clippy::large_futures).
        let gathered = Box::pin(gather(juju, hook))
            .await
            .map_err(|e| HookError::Gather(Box::new(e)))?;
        let plan = plan(&gathered.inputs);
        tracing::debug!(writes_nothing = plan.writes_nothing(), "planned");
        apply(juju, gathered.kube.as_ref(), &plan)
            .await
            .map_err(|e| HookError::Apply(Box::new(e)))
    })?;
    juju.add_status(status);
    Ok(())
}
