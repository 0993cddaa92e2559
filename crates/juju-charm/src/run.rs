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

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::context::Context;
use crate::hook::Hook;
use crate::log::error_chain;
use crate::status::{Status, StatusCollector, StatusLevel};
use crate::tools::unit::ApplicationStatus;
use crate::tools::{ProcessRunner, ToolError, Tools};

/// The charm's handle on Juju for one hook: context, hook tools and the status collector.
#[derive(Debug)]
pub struct Juju {
    ctx: Context,
    tools: Tools,
    status: StatusCollector,
    leader: Option<bool>,
    statuses_read: Option<Result<ApplicationStatus, ToolError>>,
}

impl Juju {
    /// A handle over an explicit context and tools (tests, the simulator).
    pub fn new(ctx: Context, tools: Tools) -> Self {
        Self {
            ctx,
            tools,
            status: StatusCollector::new(),
            leader: None,
            statuses_read: None,
        }
    }

    /// What Juju told this process.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The hook tools.
    pub fn tools(&self) -> &Tools {
        &self.tools
    }

    /// Records a status; the most severe one is set when the hook ends.
    pub fn add_status(&mut self, status: Status) {
        self.status.add(status);
    }

    /// The status collector (for unit-only or application-only entries).
    pub fn status(&mut self) -> &mut StatusCollector {
        &mut self.status
    }

    /// Whether this unit leads, asked once per hook (`is-leader` holds for Juju's 30 s lease,
    /// longer than a hook should run).
    pub fn is_leader(&mut self) -> Result<bool, ToolError> {
        if let Some(leader) = self.leader {
            return Ok(leader);
        }
        let leader = self.tools.is_leader()?;
        self.leader = Some(leader);
        Ok(leader)
    }

    /// Records leadership the charm read itself (e.g. `is-leader` in the background with
    /// other reads): [`Self::is_leader`] answers it from then on, as if it had asked.
    pub fn leader_read(&mut self, leader: bool) {
        self.leader = Some(leader);
    }

    /// Gives [`Self::set_status`] the statuses the charm read itself (a leader may run
    /// [`Tools::status_get_application`] in the background with its other reads, see
    /// [`crate::tools::background`]), so that it does not run `status-get` again. Nothing else
    /// sets this unit's or application's status during a hook: what was read at its start is
    /// still there at its end.
    pub fn statuses_read(&mut self, current: Result<ApplicationStatus, ToolError>) {
        self.statuses_read = Some(current);
    }

    /// The Pebble socket of a workload container (see [`Context::pebble_socket`]).
    pub fn pebble_socket(&self, container: &str) -> PathBuf {
        self.ctx.pebble_socket(container)
    }

    /// A Pebble client for a workload container, on the socket Juju mounts for it
    /// ([`Context::pebble_socket`], overridable with `CHARMARR_PEBBLE_DIR`). Nothing is opened
    /// until the first request. (A Kubernetes handle belongs here too; the charm builds it with
    /// [`crate::k8s`] for now, since connecting is async and needs the hook's runtime.)
    pub fn pebble(&self, container: &str) -> crate::pebble::Pebble {
        crate::pebble::Pebble::at_socket(self.ctx.pebble_socket(container))
    }

    /// Where to reach a workload port (see [`Context::workload_addr`]).
    pub fn workload_addr(&self, container: &str, port: u16) -> String {
        self.ctx.workload_addr(container, port)
    }

    /// Sets the collected status once: the unit's, and the application's on the leader.
    ///
    /// Nothing is set when nothing was collected (actions, `stop`, `remove` usually collect
    /// nothing and must not overwrite the status the last reconcile set). A folded `error`
    /// sets nothing and fails the hook so Juju retries it and shows the error.
    pub fn set_status(&mut self) -> Result<(), FinishError> {
        if self.status.is_empty() {
            return Ok(());
        }
        let outcome = self.status.outcome();
        if outcome.unit.level == StatusLevel::Error {
            return Err(FinishError::ErrorStatus(outcome.unit.message));
        }
        if !self.is_leader().map_err(FinishError::CheckLeader)? {
            return self
                .tools
                .status_set(&outcome.unit, false)
                .map_err(FinishError::SetUnitStatus);
        }
        // The leader reads both statuses with one tool call and sets only what differs: a
        // steady hook then runs one tool instead of two. If the read fails, both are set.
        let current = match self.statuses_read.take() {
            Some(read) => read.ok(),
            None => self.tools.status_get_application().ok(),
        };
        let unit_now = current
            .as_ref()
            .and_then(|c| c.units.get(&self.ctx.unit_name).cloned().flatten());
        if unit_now.as_ref() != Some(&outcome.unit) {
            self.tools
                .status_set(&outcome.unit, false)
                .map_err(FinishError::SetUnitStatus)?;
        }
        if outcome.app.level == StatusLevel::Error {
            return Err(FinishError::ErrorStatus(outcome.app.message));
        }
        if current.and_then(|c| c.application).as_ref() != Some(&outcome.app) {
            self.tools
                .status_set(&outcome.app, true)
                .map_err(FinishError::SetAppStatus)?;
        }
        Ok(())
    }
}

/// Why the end of a hook failed.
#[derive(Debug, thiserror::Error)]
pub enum FinishError {
    /// The charm reported an `error` status.
    #[error("error status: {0}")]
    ErrorStatus(String),
    /// `status-set` for the unit failed.
    #[error("could not set the unit status")]
    SetUnitStatus(#[source] ToolError),
    /// `is-leader` failed.
    #[error("could not check leadership before setting the application status")]
    CheckLeader(#[source] ToolError),
    /// `status-set --application` failed.
    #[error("could not set the application status")]
    SetAppStatus(#[source] ToolError),
}

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
    let hook = Hook::from_context(&ctx);
    let mut juju = Juju::new(ctx, tools);
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
    run_under_juju(ctx, f)
}

fn run_under_juju<F, E>(ctx: Context, f: F) -> ExitCode
where
    F: FnOnce(&mut Juju, &Hook) -> Result<(), E>,
    E: std::error::Error,
{
    let tools = Tools::new(Arc::new(ProcessRunner::new()));
    crate::log::install(&ctx, &tools);
    log_panics();
    run_hook(ctx, tools, f).into()
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

/// Name, version and one-line description of a charm binary's CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CliInfo {
    /// The binary name, e.g. `env!("CARGO_PKG_NAME")`.
    pub name: &'static str,
    /// Its version, e.g. `env!("CARGO_PKG_VERSION")`.
    pub version: &'static str,
    /// One line about it.
    pub about: &'static str,
}

/// What the command line of a charm binary asks for ([`parse_cli`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliRequest<C> {
    /// Run this command.
    Run(C),
    /// Print `output` and exit: on stdout with 0 when `success` (`--help`, `--version`), on
    /// stderr with 2 otherwise (a usage error).
    Exit {
        /// What to print.
        output: String,
        /// Whether this is a requested exit rather than a usage error.
        success: bool,
    },
}

/// Parses CLI arguments (the first is the program name) into one of the charm's commands
/// `C` (an argh subcommand enum), with `--help`/`help` and `--version` at the top level and
/// argh's own `--help` for each command.
pub fn parse_cli<C: argh::SubCommands>(info: &CliInfo, args: &[String]) -> CliRequest<C> {
    let exit = |output: String, success| CliRequest::Exit { output, success };
    let help = || {
        let mut text = format!(
            "Usage: {} <command> [<args>]\n\n{}.\nJuju runs it as the charm's dispatch; outside \
             Juju it is this command line.\n\nOptions:\n  --help, help      display usage \
             information\n  --version         print the version\n\nCommands:\n",
            info.name, info.about
        );
        for command in C::COMMANDS {
            let _ = writeln!(text, "  {:<16}  {}", command.name, command.description);
        }
        let _ = write!(
            text,
            "\nRun {} <command> --help for a command's options.",
            info.name
        );
        text
    };
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    match rest.as_slice() {
        [] => exit(help(), false),
        ["--help" | "-h" | "help"] => exit(help(), true),
        ["--version" | "-V"] => exit(format!("{} {}", info.name, info.version), true),
        [command, options @ ..] if C::COMMANDS.iter().any(|c| c.name == *command) => {
            match C::from_args(&[info.name, command], options) {
                Ok(parsed) => CliRequest::Run(parsed),
                Err(early) => exit(early.output, early.status.is_ok()),
            }
        }
        [other, ..] => exit(
            format!(
                "error: unknown command {other:?}\n\nRun {} --help for the commands.",
                info.name
            ),
            false,
        ),
    }
}

/// A charm's `main` with a CLI: under Juju it runs the hook (as [`run`]); otherwise it parses
/// the command line into one of the charm's commands `C` ([`parse_cli`]) and calls `cli`
/// with it.
pub fn run_or_cli<C, F, E, G, E2>(info: &CliInfo, hook: F, cli: G) -> ExitCode
where
    C: argh::SubCommands,
    F: FnOnce(&mut Juju, &Hook) -> Result<(), E>,
    E: std::error::Error,
    G: FnOnce(C) -> Result<(), E2>,
    E2: std::error::Error,
{
    let ctx = Context::from_env();
    if ctx.under_juju() {
        return run_under_juju(ctx, hook);
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
