//! gluetun-k8s: the VPN gateway charm, built on [`juju_charm::Charm`]
//! (docs/adr/0028-charm-skeleton.md). The rooms, as in every charm of this repository:
//!
//! - [`constants`]: names, labels, status wording, budgets;
//! - [`inputs`]: what a hook reads, typed;
//! - [`gather`]: reads everything the plan needs, decides nothing;
//! - [`plan`]: every decision, pure; the stage order ([`plan::needs`]);
//! - [`apply`]: writes only the difference, in the plan's order;
//! - [`render`]: the offline dry run, the same plan from files;
//! - the pure leaves: [`config`] (validated options), [`overrides`] (what
//!   `custom-overrides` may not set, read from gluetun's source) and [`workload`] (the
//!   gluetun container's layer, environment and files, and its health answer).
//!
//! gluetun-k8s has no actions.

pub mod apply;
pub mod config;
pub mod constants;
pub mod gather;
pub mod inputs;
pub mod overrides;
pub mod plan;
pub mod render;
pub mod workload;

juju_charm::charm! {
    /// The charm: its rooms wired into [`juju_charm::Charm`].
    pub struct GluetunK8s;
}
