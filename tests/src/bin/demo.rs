//! `make demo`: the whole story of the README, on the simulator and the real test API server,
//! driven through the `juju-sim` CLI exactly as an operator would type the `juju` commands.
//!
//! Usage: `demo --sim PATH/juju-sim --gateway CHARM --client CHARM [--state DIR]
//! [--pod-gateway-src DIR]`, where CHARM is a `.charm` file (what `make charms` builds) or a
//! workspace charm name. Every command is printed with its output; the run stops at the first
//! failing command, and the test cluster is always stopped at the end (`juju-sim down`), also
//! on failure.
//!
//! With pod-gateway's source tree (`--pod-gateway-src`, an existing directory), the pods'
//! pod-gateway containers really run (`juju-sim run-containers`, docs/adr/0045) and the demo
//! sends packets from the client's pod: it fails unless the stand-in internet sees them from
//! the tunnel's address while routed, and sees nothing, with nothing on the pod's eth0, after
//! the relation is removed. Without it, no container runs and the client stays Waiting for
//! vpn-route-init, as a real client would without its route.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

/// A throwaway WireGuard key for the demo (32 bytes, base64); not a real credential.
const DEMO_KEY: &str = "oK56DE9Ue9zK76rAc8pBl6opph+1v36lm7cXXsQKrQM=";
const EXIT_IP: &str = "198.51.100.4";

struct Sim {
    bin: PathBuf,
    state: PathBuf,
}

impl Sim {
    /// Runs one `juju-sim` command, printing it and its output; returns stdout.
    fn run(&self, args: &[&str]) -> Result<String, String> {
        println!("\n$ juju-sim {}", args.join(" "));
        let out = Command::new(&self.bin)
            .arg("--state")
            .arg(&self.state)
            .arg("--model")
            .arg("charmarr-downloads")
            .args(args)
            .output()
            .map_err(|e| format!("running {}: {e}", self.bin.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        print!("{stdout}");
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!(
                "`juju-sim {}` failed ({})",
                args.join(" "),
                out.status
            ))
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        // Always leave nothing running, whatever happened above.
        let _ = self.run(&["down"]);
    }
}

fn say(text: &str) {
    println!("\n## {text}");
}

/// What a `juju-sim probe` line must say: through the tunnel, or not at all; never a packet on
/// the pod's eth0.
fn expect_probe(out: &str, routed: bool) -> Result<(), String> {
    let through_tunnel = out.contains("tunnel address");
    let reached = out.contains(": reached ");
    let clean = out.trim_end().ends_with("(outside the tunnel): 0");
    match (routed, reached, through_tunnel, clean) {
        (true, true, true, true) | (false, false, _, true) => Ok(()),
        _ => Err(format!(
            "the probe contradicts the kill switch (expected {}): {out}",
            if routed { "the tunnel" } else { "no way out" }
        )),
    }
}

fn story(sim: &Sim, gateway: &str, client: &str, pod_gateway: Option<&str>) -> Result<(), String> {
    let ip_body = format!(r#"{{"public_ip":"{EXIT_IP}","country":"Netherlands"}}"#);
    match pod_gateway {
        Some(src) => {
            say(
                "Run the pods' containers: pod-gateway's own scripts, a stand-in for gluetun's tunnel",
            );
            sim.run(&["run-containers", src])?;
        }
        None => say(
            "pod-gateway's source is not here (--pod-gateway-src): no container runs, so the \
             client will wait for a route that never comes",
        ),
    }
    say("Deploy the VPN gateway (gluetun-k8s) as `vpnarr`, with --trust");
    // gluetun's control server inside the pod answers with the VPN exit IP once connected.
    sim.run(&[
        "workload-http",
        "vpnarr",
        "gluetun",
        "/v1/publicip/ip",
        "--status",
        "200",
        "--body",
        &ip_body,
    ])?;
    sim.run(&[
        "deploy",
        gateway,
        "vpnarr",
        "--trust",
        "--config",
        "vpn-provider=mullvad",
        "--config",
        "wireguard-addresses=10.64.222.21/32",
        // The simulated cluster's pod and service ranges.
        "--config",
        "cluster-cidrs=10.1.0.0/16,10.0.0.0/24",
    ])?;
    sim.run(&["status"])?;

    say("Give it the WireGuard key as a Juju secret");
    let uri = sim.run(&["add-secret", "vpn-key", &format!("private-key={DEMO_KEY}")])?;
    let uri = uri.trim().to_owned();
    sim.run(&["grant-secret", "vpn-key", "vpnarr"])?;
    sim.run(&[
        "config",
        "vpnarr",
        &format!("wireguard-private-key-secret={uri}"),
    ])?;
    sim.run(&["status"])?;

    say("Deploy qBittorrent: without a gateway it stays Blocked and qBittorrent is not started");
    sim.run(&["deploy", client, "qbittorrent", "--trust"])?;
    sim.run(&["status"])?;

    say("Relate them: the client now egresses through the VPN only");
    sim.run(&["relate", "qbittorrent", "vpnarr"])?;
    sim.run(&["status", "--relations"])?;

    say("The client's pod template: routing containers, settings volume, config hash");
    sim.run(&[
        "kubectl", "get", "statefulset", "qbittorrent", "-o",
        "jsonpath=initContainers: {.spec.template.spec.initContainers[*].name}{\"\\n\"}containers: {.spec.template.spec.containers[*].name}{\"\\n\"}volumes: {.spec.template.spec.volumes[*].name}{\"\\n\"}annotations: {.spec.template.metadata.annotations}{\"\\n\"}",
    ])?;
    say("The gateway's pod template: pod-gateway's gateway containers, privileged gluetun");
    sim.run(&[
        "kubectl", "get", "statefulset", "vpnarr", "-o",
        "jsonpath=initContainers: {.spec.template.spec.initContainers[*].name}{\"\\n\"}containers: {.spec.template.spec.containers[*].name}{\"\\n\"}gluetun privileged: {.spec.template.spec.containers[?(@.name==\"gluetun\")].securityContext.privileged}{\"\\n\"}",
    ])?;
    say("The kill switch");
    sim.run(&[
        "kubectl",
        "get",
        "networkpolicy",
        "qbittorrent-vpn-killswitch",
        "-o",
        "yaml",
    ])?;
    sim.run(&[
        "kubectl",
        "get",
        "configmap",
        "qbittorrent-gateway-client-config",
        "-o",
        "jsonpath={.data.settings\\.sh}",
    ])?;
    sim.run(&["run", "qbittorrent/0", "get-credentials"])?;
    if pod_gateway.is_some() {
        say("A packet from qBittorrent's pod: it leaves through the VPN tunnel, nothing on eth0");
        expect_probe(&sim.run(&["probe", "qbittorrent/0"])?, true)?;
    }

    operate(sim, &ip_body, pod_gateway.is_some())
}

/// Day-two: a VPN drop and recovery, then the relation removed with the kill switch kept.
fn operate(sim: &Sim, ip_body: &str, probes: bool) -> Result<(), String> {
    say("The VPN drops: the gateway notices at the next update-status, and so does the client");
    sim.run(&[
        "workload-http",
        "vpnarr",
        "gluetun",
        "/v1/publicip/ip",
        "--down",
    ])?;
    sim.run(&["update-status"])?;
    sim.run(&["status"])?;
    say("The VPN comes back");
    sim.run(&[
        "workload-http",
        "vpnarr",
        "gluetun",
        "/v1/publicip/ip",
        "--status",
        "200",
        "--body",
        ip_body,
    ])?;
    sim.run(&["update-status"])?;
    sim.run(&["status"])?;

    say("Remove the relation: routing goes, the kill switch stays (fail closed)");
    sim.run(&["remove-relation", "qbittorrent", "vpnarr"])?;
    sim.run(&["status", "--relations"])?;
    sim.run(&["kubectl", "get", "networkpolicy"])?;
    sim.run(&[
        "kubectl", "get", "statefulset", "qbittorrent", "-o",
        "jsonpath=initContainers: {.spec.template.spec.initContainers[*].name}{\"\\n\"}containers: {.spec.template.spec.containers[*].name}{\"\\n\"}",
    ])?;
    if probes {
        say("The same packet now: the in-pod filter drops it, on any CNI");
        expect_probe(&sim.run(&["probe", "qbittorrent/0"])?, false)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut bin, mut gateway, mut client, mut pod_gateway) = (None, None, None, None);
    let mut state = PathBuf::from("build/demo-state");
    while let Some(flag) = args.next() {
        let value = args.next();
        match (flag.as_str(), value) {
            ("--sim", Some(v)) => bin = Some(PathBuf::from(v)),
            ("--gateway", Some(v)) => gateway = Some(v),
            ("--client", Some(v)) => client = Some(v),
            ("--state", Some(v)) => state = PathBuf::from(v),
            ("--pod-gateway-src", Some(v)) => pod_gateway = Some(v),
            _ => {
                eprintln!(
                    "usage: demo --sim JUJU_SIM --gateway CHARM --client CHARM [--state DIR] [--pod-gateway-src DIR]"
                );
                return ExitCode::from(2);
            }
        }
    }
    let (Some(bin), Some(gateway), Some(client)) = (bin, gateway, client) else {
        eprintln!(
            "usage: demo --sim JUJU_SIM --gateway CHARM --client CHARM [--state DIR] [--pod-gateway-src DIR]"
        );
        return ExitCode::from(2);
    };
    if state.exists() {
        // A previous run's cluster (if any) is stopped by its recorded PIDs, then forgotten.
        let old = Sim {
            bin: bin.clone(),
            state: state.clone(),
        };
        drop(old);
        if let Err(e) = std::fs::remove_dir_all(&state) {
            eprintln!("cannot clear {}: {e}", state.display());
            return ExitCode::FAILURE;
        }
    }
    let sim = Sim { bin, state };
    // An absolute path: juju-sim keeps it in its state.
    let pod_gateway = pod_gateway
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .and_then(|p| std::fs::canonicalize(p).ok())
        .map(|p| p.display().to_string());
    match story(&sim, &gateway, &client, pod_gateway.as_deref()) {
        Ok(()) => {
            println!("\nDemo finished: every step above ran against a real kube-apiserver.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\nDemo failed: {e}");
            ExitCode::FAILURE
        }
    }
}
