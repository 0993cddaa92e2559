//! juju-sim: a simulated Juju unit agent and Pebble that run real charm binaries against the
//! real API server of `kube-testbed`. Never linked into a charm.

pub mod pebble;
pub mod state;
pub mod tools;
