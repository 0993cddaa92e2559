//! gluetun-k8s: under Juju, the holistic reconcile of every hook; otherwise a small CLI
//! (`render`, `--help`, `--version`).

use std::process::ExitCode;

use juju_charm::run::CliInfo;

const INFO: CliInfo = CliInfo {
    name: "gluetun-k8s",
    version: env!("CARGO_PKG_VERSION"),
    about: "Juju charm: gluetun VPN gateway, provider of vpn-gateway",
};

fn main() -> ExitCode {
    juju_charm::run_or_cli(
        &INFO,
        gluetun_k8s::hook::reconcile,
        gluetun_k8s::render::run,
    )
}
