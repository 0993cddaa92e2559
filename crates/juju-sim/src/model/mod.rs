//! The simulated Juju model: the operations a `juju` command performs (`deploy`, `config`,
//! `relate`, ...) and the hooks they fire, in Juju's order, against the real API server.
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
//!   `upgrade-charm`, `config-changed`, `start`, `<container>-pebble-ready`;
//! - `refresh --path`: first Juju's checks (charm name, storage block, established relations;
//!   [`RefreshRefused`], Juju's texts, nothing changed when refused: docs/adr/0047), then the
//!   charm swap and the restart above.
//!
//! A failed hook is retried at once, at most [`RETRIES_PER_OPERATION`] times per operation; an
//! operation stops with [`ModelError::NotSettled`] after [`MAX_HOOKS`] hooks and with
//! [`ModelError::RestartLoop`] after [`MAX_RESTARTS`] pod restarts of one application. Other
//! simplifications (scheduling, identity, storage, ports, timers): docs/adr/0019-juju-sim.md.

mod actions;
mod applications;
mod error;
mod faults;
mod k8s_sync;
mod refresh;
mod relations;
mod running;
mod scheduler;
mod secrets;
mod sim_state;
mod state_meta;
mod unit_host;
mod units;

pub use actions::ActionOutcome;
pub use error::ModelError;
pub use k8s_sync::MAX_RESTARTS;
pub use refresh::{RefreshRefused, STORAGE_UPGRADE_MESSAGE, local_charm_url};
pub use running::{ClusterMode, Model};
pub use scheduler::{MAX_HOOKS, RETRIES_PER_OPERATION};
pub use sim_state::{AppSim, Fault, SimState, UnitError};
pub use state_meta::to_state_meta;
pub use unit_host::Probe;
