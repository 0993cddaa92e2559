//! The qbittorrent-k8s binary: a Juju hook (or action) when Juju runs it, the `render` CLI
//! otherwise. Everything else lives in the library.

use std::process::ExitCode;

use juju_charm::run::CliInfo;
use qbittorrent_k8s::{hook, render};

const INFO: CliInfo = CliInfo {
    name: env!("CARGO_PKG_NAME"),
    version: env!("CARGO_PKG_VERSION"),
    about: "Juju charm: qBittorrent whose internet traffic leaves only through a vpn-gateway provider",
};

fn main() -> ExitCode {
    juju_charm::run_or_cli::<render::Command, _, _, _, _>(&INFO, hook::run, render::run)
}
