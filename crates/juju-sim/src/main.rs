//! `juju-sim`: the simulated Juju model's command line (see [`juju_sim::cli`]).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    juju_sim::cli::main_with(juju_sim::cli::Cli::parse())
}
