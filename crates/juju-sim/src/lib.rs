//! juju-sim: a simulated Juju unit agent and Pebble that run real charm binaries against the
//! real API server of `kube-testbed`. Never linked into a charm.
//!
//! # Using it from a test ("deploy, relate, assert")
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use juju_sim::model::Model;
//! let dir = tempfile::tempdir()?;
//! // Starts a test cluster owned by `model` (stopped when it drops) and namespace "demo".
//! let mut model = Model::new(dir.path(), "demo")?;
//! model.deploy("gluetun-k8s", Some("vpnarr"), true, &[("vpn-provider".into(), "custom".into())])?;
//! model.deploy("qbittorrent-k8s", None, true, &[])?;
//! model.relate("vpnarr", "qbittorrent-k8s")?;
//! let status = model.status(); // shaped like `juju status --format=json`
//! assert_eq!(status["applications"]["vpnarr"]["application-status"]["current"], "active");
//! # Ok(()) }
//! ```
//! Operations: [`model::Model`]'s `deploy`, `config`, `trust`, `relate`, `remove_relation`,
//! `scale`, `refresh`, `refresh_path` (Juju's checks, then the swap), `reapply`, `run_action`,
//! `update_status`, `add_secret`, `grant_secret`, `update_secret`, `fault`, `clear_faults`, `workload_http`, `settle_now`; observations:
//! `status`, `history` (every hook run), `pebble`, `workload_requests`, `state`, `with_admin`.
//! The `juju-sim` binary ([`cli`]) offers the same operations command by command.
//!
//! Modules: [`meta`] (charm metadata), [`charm`] (locating a charm), [`k8s`] (what Juju creates
//! in Kubernetes, and the StatefulSet controller's pods), [`runner`] (running one hook),
//! [`model`] (operations and Juju's hook order), [`pebble_host`] (Pebble per unit container),
//! [`workload`] (workload HTTP endpoints), [`status`] (status and debug-log output), [`cli`];
//! and the hook tools ([`tools`]), the model state ([`state`]) and Pebble ([`pebble`]).
//! Every simplification is listed in the module docs and in docs/adr/0019-juju-sim.md.

pub mod charm;
pub mod cli;
pub mod k8s;
pub mod kubelet;
pub mod meta;
pub mod model;
pub mod pebble;
pub mod pebble_host;
pub mod pod_network;
pub mod runner;
pub mod state;
pub mod status;
pub mod tools;
pub mod workload;
