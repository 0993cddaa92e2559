//! The charm runtime: everything that makes a Rust binary a Juju Kubernetes charm.
//!
//! No charm logic lives here. All I/O of a charm goes through this crate: the hook context
//! (the only reader of the environment), hook tools (the only process spawner), status,
//! logging, Pebble and Kubernetes.
//!
//! A charm's `main` is [`run`] (or [`run_or_cli`]) around its reconcile function.

pub mod context;
pub mod hook;
pub mod k8s;
pub mod log;
pub mod pebble;
pub mod run;
pub mod status;
pub mod tools;

pub use context::Context;
pub use hook::Hook;
pub use run::{Juju, run, run_or_cli};
pub use status::{Status, StatusCollector, StatusLevel};
pub use tools::{SecretString, ToolError, ToolRunner, Tools};
