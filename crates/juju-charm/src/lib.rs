//! The charm runtime: everything that makes a Rust binary a Juju Kubernetes charm.
//!
//! No charm logic lives here. All I/O of a charm goes through this crate: the hook context
//! (the only reader of the environment), hook tools (the only process spawner), status,
//! logging, Pebble and Kubernetes.
//!
//! A charm is a [`Charm`] (gather → plan → apply, declared from its rooms with [`charm!`]) and
//! its `main` is [`main()`]: the runtime owns the loop ([`charm`], docs/adr/0028). Under it,
//! [`run()`] (or [`run_or_cli`]) runs any function as a hook:
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

pub mod charm;
pub mod cli;
pub mod context;
pub mod hook;
pub mod http;
pub mod juju;
pub mod k8s;
pub mod log;
pub mod pebble;
pub mod render;
pub mod run;
pub mod status;
pub mod tools;

pub use charm::{Charm, ContextReadError, Planned, main};
pub use context::Context;
pub use hook::Hook;
pub use juju::Juju;
pub use run::{run, run_or_cli};
#[doc(hidden)]
pub use serde_json; // for `charm!`
pub use status::{Status, StatusCollector, StatusLevel};
pub use tools::{SecretString, ToolError, ToolRunner, Tools};
