//! The run loop: what a charm's `main` calls.
//!
//! [`run`] builds the [`Context`] from the environment, installs logging, hands the charm a
//! [`Juju`] handle and the [`Hook`], sets the collected status once at the end, and maps the
//! result to the exit code Juju expects: non-zero only when Juju should retry the hook (Juju
//! then discards the hook's relation, secret and port changes and retries with back-off;
//! `status-set` and `juju-log` already took effect).
//!
//! Without `JUJU_DISPATCH_PATH` the binary is not running a hook: [`run_or_cli`] turns it into
//! a command line with the charm's commands (argh subcommands) and built-in
//! `--help`/`--version`.

use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::{CliInfo, CliRequest, parse_cli};
use crate::context::Context;
use crate::hook::Hook;
use crate::juju::{Juju, KubeSettings};
use crate::log::error_chain;
use crate::tools::{ProcessRunner, Tools};

/// How a hook ended, for Juju.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done (whatever the status): exit 0, Juju commits the hook's changes.
    Done,
    /// Failed: exit 1, Juju discards the hook's changes and retries it.
    Retry,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Done => Self::SUCCESS,
            Outcome::Retry => Self::FAILURE,
        }
    }
}

/// Runs one hook with an explicit context and tools (no global logging is installed): calls
/// the charm, sets status once, logs a failure's error chain.
pub fn run_hook<F, E>(ctx: Context, tools: Tools, f: F) -> Outcome
where
    F: FnOnce(&mut Juju, &Hook) -> Result<(), E>,
    E: std::error::Error,
{
    run_hook_with(ctx, tools, KubeSettings::default(), f)
}

/// [`run_hook`] with the charm's Kubernetes settings.
pub fn run_hook_with<F, E>(ctx: Context, tools: Tools, settings: KubeSettings, f: F) -> Outcome
where
    F: FnOnce(&mut Juju, &Hook) -> Result<(), E>,
    E: std::error::Error,
{
    let hook = Hook::from_context(&ctx);
    let mut juju = Juju::new(ctx, tools).with_kube_settings(settings);
    tracing::debug!(?hook, "running hook");
    if let Err(error) = f(&mut juju, &hook) {
        // No status is set: Juju shows the hook as failed and retries it.
        tracing::error!("hook {hook:?} failed: {}", error_chain(&error));
        return Outcome::Retry;
    }
    if let Err(error) = juju.set_status() {
        tracing::error!("hook {hook:?} failed: {}", error_chain(&error));
        return Outcome::Retry;
    }
    Outcome::Done
}

/// A charm's `main`: runs the hook Juju dispatched (see the module docs).
///
/// Outside Juju (no `JUJU_DISPATCH_PATH`) it prints a short explanation and exits 2; charms
/// that want a CLI there use [`run_or_cli`].
pub fn run<F, E>(f: F) -> ExitCode
where
    F: FnOnce(&mut Juju, &Hook) -> Result<(), E>,
    E: std::error::Error,
{
    let ctx = Context::from_env();
    if !ctx.under_juju() {
        eprintln!("JUJU_DISPATCH_PATH is not set: this is a Juju charm, run by Juju.");
        return ExitCode::from(2);
    }
    run_under_juju(ctx, KubeSettings::default(), f)
}

fn run_under_juju<F, E>(ctx: Context, settings: KubeSettings, f: F) -> ExitCode
where
    F: FnOnce(&mut Juju, &Hook) -> Result<(), E>,
    E: std::error::Error,
{
    let tools = Tools::new(Arc::new(ProcessRunner::new()));
    crate::log::install(&ctx, &tools);
    log_panics();
    run_hook_with(ctx, tools, settings, f).into()
}

/// Sends a panic's message to the unit log before the default hook prints it (charms build
/// with `panic = "abort"`; the non-zero exit makes Juju retry the hook).
fn log_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!("charm panicked: {info}");
        default(info);
    }));
}

/// A charm's `main` with a CLI: under Juju it runs the hook (as [`run`], connecting to
/// Kubernetes with `settings`); otherwise it parses the command line into one of the charm's
/// commands `C` ([`parse_cli`]) and calls `cli` with it. [`crate::charm::main`] is this
/// for a [`crate::Charm`].
pub fn run_or_cli<C, F, E, G, E2>(
    info: &CliInfo,
    settings: KubeSettings,
    hook: F,
    cli: G,
) -> ExitCode
where
    C: argh::SubCommands,
    F: FnOnce(&mut Juju, &Hook) -> Result<(), E>,
    E: std::error::Error,
    G: FnOnce(C) -> Result<(), E2>,
    E2: std::error::Error,
{
    let ctx = Context::from_env();
    if ctx.under_juju() {
        return run_under_juju(ctx, settings, hook);
    }
    let args: Result<Vec<String>, _> = std::env::args_os()
        .map(std::ffi::OsString::into_string)
        .collect();
    let Ok(args) = args else {
        eprintln!("error: an argument is not UTF-8");
        return ExitCode::from(2);
    };
    match parse_cli::<C>(info, &args) {
        CliRequest::Exit { output, success } => {
            if success {
                println!("{output}");
                ExitCode::SUCCESS
            } else {
                eprintln!("{output}");
                ExitCode::from(2)
            }
        }
        CliRequest::Run(command) => {
            let tools = Tools::new(Arc::new(ProcessRunner::new()));
            crate::log::install(&ctx, &tools);
            match cli(command) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {}", error_chain(&error));
                    ExitCode::FAILURE
                }
            }
        }
    }
}
