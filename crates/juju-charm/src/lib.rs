//! The charm runtime: everything that makes a Rust binary a Juju Kubernetes charm.
//!
//! No charm logic lives here. All I/O of a charm goes through this crate: the hook context
//! (the only reader of the environment), hook tools (the only process spawner), status,
//! logging, Pebble and Kubernetes.

pub mod k8s;
pub mod pebble;
