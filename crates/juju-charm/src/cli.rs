//! The command line of a charm binary outside Juju: the charm's commands (argh
//! subcommands) with `--help`/`help` and `--version` at the top level.

use std::fmt::Write as _;

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
            "Usage: {} <command> [<args>]\n\n{}\nJuju runs it as the charm's dispatch; outside \
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
