//! The charm runtime: everything that makes a Rust binary a Juju Kubernetes charm.
//!
//! No charm logic lives here. All I/O of a charm goes through this crate: the hook context
//! (the only reader of the environment), hook tools (the only process spawner), status,
//! logging, Pebble and Kubernetes.
//!
//! A charm's `main` is [`run()`] (or [`run_or_cli`]) around its reconcile function:
//!
//! ```no_run
//! use std::process::ExitCode;
//!
//! use juju_charm::{Hook, Juju, Status, ToolError};
//!
//! fn main() -> ExitCode {
//!     juju_charm::run(|juju: &mut Juju, hook: &Hook| {
//!         if hook.is_teardown() {
//!             return Ok(());
//!         }
//!         let status = if juju.tools().planned_units()? > 1 {
//!             Status::blocked("Scale to 1 unit")
//!         } else {
//!             Status::active("")
//!         };
//!         juju.add_status(status);
//!         Ok::<(), ToolError>(())
//!     })
//! }
//! ```

pub mod context;
pub mod hook;
pub mod http;
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
