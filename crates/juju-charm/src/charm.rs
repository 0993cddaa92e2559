//! The charm skeleton (docs/adr/0028-charm-skeleton.md): what every charm is, and the one
//! place that runs it.
//!
//! A charm implements [`Charm`]: `gather` reads everything and decides nothing, `plan` (pure)
//! makes every decision and returns the ordered writes and the statuses, `apply` writes only
//! the difference, in the plan's order. [`main`] owns the rest, once: the current-thread
//! async runtime, teardown hooks (nothing to do), actions, error reporting and the status
//! fold (error > blocked > maintenance > waiting > active, set once at the end, only when it
//! differs). The offline `render` dry run builds the same `Inputs` from files and prints
//! what `plan` decided ([`crate::render`]): one code path for the hook and the dry run.
//!
//! A charm crate has the same rooms as every other: `constants`, `inputs`, `gather`, `plan`,
//! `apply`, `render` (and `actions` when it has any), beside its pure leaves. [`charm!`]
//! declares the charm type and wires those rooms into [`Charm`] by their names, so the
//! compiler holds every charm to the one layout; its `main` is one line:
//!
//! ```ignore
//! // lib.rs
//! juju_charm::charm! {
//!     /// The charm.
//!     pub struct MyCharm;
//! }
//! // main.rs
//! fn main() -> std::process::ExitCode {
//!     juju_charm::main::<my_charm::MyCharm>()
//! }
//! ```

use std::error::Error;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

use crate::cli::CliInfo;
use crate::hook::Hook;
use crate::juju::{Juju, KubeSettings};
use crate::status::Status;
use crate::tools::ToolError;

/// The reads every charm's `gather` starts with (its names, leadership, config, the
/// Kubernetes connection), failed: the hook fails and Juju retries. A charm's own gather error
/// carries it `#[error(transparent)]`, so every charm names these steps alike.
#[derive(Debug, thiserror::Error)]
pub enum ContextReadError {
    /// The unit's application or model name is not what Juju guarantees.
    #[error("invalid name in the hook context")]
    Names(#[source] Box<dyn Error + Send + Sync>),
    /// `is-leader` failed.
    #[error("cannot check leadership")]
    Leader(#[source] ToolError),
    /// `config-get` failed.
    #[error("cannot read the config")]
    Config(#[source] ToolError),
    /// No Kubernetes client.
    #[error("cannot connect to Kubernetes")]
    Connect(#[source] crate::k8s::KubeError),
}

impl ContextReadError {
    /// [`Self::Names`] from the charm's name validation error.
    pub fn names(e: impl Error + Send + Sync + 'static) -> Self {
        Self::Names(Box::new(e))
    }
}

/// What a plan tells the runtime.
pub trait Planned {
    /// The statuses the plan found, folded by the runtime after apply's own.
    fn statuses(&self) -> &[Status];
    /// True when apply has nothing to write (statuses aside): the steady state.
    fn writes_nothing(&self) -> bool;
}

/// A Juju Kubernetes charm: gather → plan → apply, actions, and the offline dry run.
///
/// The futures need not be `Send`: one hook runs on one current-thread runtime.
pub trait Charm {
    /// Name, version and one line for the command line.
    const INFO: CliInfo;
    /// Field manager of every Kubernetes write (and the `managed-by` label).
    const FIELD_MANAGER: &'static str;
    /// Time all Kubernetes requests of one hook may take, retries included.
    const KUBE_BUDGET: Duration;

    /// Everything one hook reads (built by `gather`, or from files by `render_inputs`).
    type Inputs;
    /// Everything one hook writes, in order, and the statuses.
    type Plan: Planned + std::fmt::Debug;
    /// A read the charm cannot turn into a status.
    type GatherError: Error + 'static;
    /// A write the charm cannot turn into a status.
    type ApplyError: Error + 'static;
    /// An action's machinery failed (expected refusals are `action-fail`s, not errors).
    type ActionError: Error + From<ToolError> + 'static;
    /// The `render` command's arguments.
    type Render: argh::SubCommand;
    /// Why `render` refused its input.
    type RenderError: Error + 'static;

    /// Reads everything the plan needs; decides nothing.
    fn gather(
        juju: &mut Juju,
        hook: &Hook,
    ) -> impl Future<Output = Result<Self::Inputs, Self::GatherError>>;

    /// Every decision, pure.
    fn plan(inputs: &Self::Inputs) -> Self::Plan;

    /// Writes the plan, in its order, only what differs. Returns the statuses the writes
    /// found (a refused write: `--trust`, our StatefulSet gone); they fold before the plan's.
    fn apply(
        juju: &mut Juju,
        plan: &Self::Plan,
    ) -> impl Future<Output = Result<Vec<Status>, Self::ApplyError>>;

    /// Runs the action `name`. The default knows none.
    fn action(juju: &mut Juju, name: &str) -> impl Future<Output = Result<(), Self::ActionError>> {
        let unknown = format!("unknown action {name}");
        async move { Ok(juju.tools().action_fail(&unknown)?) }
    }

    /// `render`'s inputs, from the files its arguments name.
    fn render_inputs(args: &Self::Render) -> Result<Self::Inputs, Self::RenderError>;

    /// What `render` prints: the objects and data the plan writes for these inputs.
    fn render_output(inputs: &Self::Inputs, plan: &Self::Plan) -> Result<Value, Self::RenderError>;
}

/// Why one hook failed (Juju retries it): the charm's gather, apply and action errors.
#[derive(Debug, thiserror::Error)]
pub enum HookError<G: Error + 'static, A: Error + 'static, X: Error + 'static> {
    /// The async runtime could not be built.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// Reading the current state failed.
    #[error("reading the current state failed")]
    Gather(#[source] G),
    /// Writing the desired state failed.
    #[error("writing the desired state failed")]
    Apply(#[source] A),
    /// An action failed.
    #[error("the action failed")]
    Action(#[source] X),
}

/// [`HookError`] of charm `C`.
pub type CharmHookError<C> =
    HookError<<C as Charm>::GatherError, <C as Charm>::ApplyError, <C as Charm>::ActionError>;

/// One hook of charm `C` on an existing handle: nothing on `stop`/`remove` (what we wrote
/// goes with the application), the action for an action, else gather → plan → apply and
/// the statuses (apply's first, then the plan's; the runtime folds and sets them once).
pub fn hook<C: Charm>(juju: &mut Juju, hook: &Hook) -> Result<(), CharmHookError<C>> {
    if hook.is_teardown() {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(HookError::Runtime)?;
    runtime.block_on(async {
        if let Hook::Action(name) = hook {
            return C::action(juju, name).await.map_err(HookError::Action);
        }
        // Boxed: the overlapping reads make a large future (clippy::large_futures).
        let inputs = Box::pin(C::gather(juju, hook))
            .await
            .map_err(HookError::Gather)?;
        let plan = C::plan(&inputs);
        tracing::debug!(writes_nothing = plan.writes_nothing(), ?plan, "planned");
        let found = Box::pin(C::apply(juju, &plan))
            .await
            .map_err(HookError::Apply)?;
        for status in found.into_iter().chain(plan.statuses().iter().cloned()) {
            juju.add_status(status);
        }
        Ok(())
    })
}

/// A charm's `main`: under Juju, the hook it dispatched ([`hook`]); otherwise the command
/// line (`render`, `--help`, `--version`).
pub fn main<C: Charm>() -> ExitCode {
    let settings = KubeSettings {
        field_manager: C::FIELD_MANAGER,
        budget: C::KUBE_BUDGET,
    };
    crate::run::run_or_cli::<C::Render, _, _, _, _>(&C::INFO, settings, hook::<C>, |args| {
        crate::render::run::<C>(&args)
    })
}

/// Declares a charm type and implements [`Charm`] for it from the crate's rooms, by name:
/// `constants::{FIELD_MANAGER, KUBE_BUDGET}`, `inputs::Inputs`, `gather::{gather,
/// GatherError}`, `plan::{plan, Plan}`, `apply::{apply, ApplyError}`, `render::{RenderArgs,
/// RenderError, inputs, output}`, and with `actions;` also `actions::{run, ActionError}`.
/// The command line's name, version and description come from the crate's `Cargo.toml`.
#[macro_export]
// `crate::` is meant: the rooms are the calling charm's.
#[allow(clippy::crate_in_macro_def)]
macro_rules! charm {
    ($(#[$meta:meta])* $vis:vis struct $name:ident;) => {
        $crate::charm!(@define [$(#[$meta])*] $vis $name,
            type ActionError = $crate::ToolError;
        );
    };
    ($(#[$meta:meta])* $vis:vis struct $name:ident; actions;) => {
        $crate::charm!(@define [$(#[$meta])*] $vis $name,
            type ActionError = crate::actions::ActionError;

            async fn action(
                juju: &mut $crate::Juju,
                name: &str,
            ) -> ::std::result::Result<(), Self::ActionError> {
                crate::actions::run(juju, name).await
            }
        );
    };
    (@define [$($meta:tt)*] $vis:vis $name:ident, $($actions:tt)*) => {
        $($meta)*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;

        impl $crate::Charm for $name {
            const INFO: $crate::cli::CliInfo = $crate::cli::CliInfo {
                name: env!("CARGO_PKG_NAME"),
                version: env!("CARGO_PKG_VERSION"),
                about: env!("CARGO_PKG_DESCRIPTION"),
            };
            const FIELD_MANAGER: &'static str = crate::constants::FIELD_MANAGER;
            const KUBE_BUDGET: ::std::time::Duration = crate::constants::KUBE_BUDGET;

            type Inputs = crate::inputs::Inputs;
            type Plan = crate::plan::Plan;
            type GatherError = crate::gather::GatherError;
            type ApplyError = crate::apply::ApplyError;
            type Render = crate::render::RenderArgs;
            type RenderError = crate::render::RenderError;
            $($actions)*

            async fn gather(
                juju: &mut $crate::Juju,
                hook: &$crate::Hook,
            ) -> ::std::result::Result<Self::Inputs, Self::GatherError> {
                crate::gather::gather(juju, hook).await
            }

            fn plan(inputs: &Self::Inputs) -> Self::Plan {
                crate::plan::plan(inputs)
            }

            async fn apply(
                juju: &mut $crate::Juju,
                plan: &Self::Plan,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::Status>, Self::ApplyError> {
                crate::apply::apply(juju, plan).await
            }

            fn render_inputs(
                args: &Self::Render,
            ) -> ::std::result::Result<Self::Inputs, Self::RenderError> {
                crate::render::inputs(args)
            }

            fn render_output(
                inputs: &Self::Inputs,
                plan: &Self::Plan,
            ) -> ::std::result::Result<$crate::serde_json::Value, Self::RenderError> {
                crate::render::output(inputs, plan)
            }
        }
    };
}
