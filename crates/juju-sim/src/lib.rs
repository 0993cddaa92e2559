//! juju-sim: a simulated Juju unit agent and Pebble that run real charm binaries against the
//! real API server of `kube-testbed`. Never linked into a charm.
//!
//! Modules: [`meta`] (charm metadata), [`k8s`] (what Juju creates in Kubernetes, and the
//! StatefulSet controller's pods), plus the hook tools ([`tools`]), the model state ([`state`])
//! and Pebble ([`pebble`]).

pub mod charm;
pub mod cli;
pub mod k8s;
pub mod meta;
pub mod model;
pub mod pebble;
pub mod pebble_host;
pub mod runner;
pub mod state;
pub mod status;
pub mod tools;
pub mod workload;
