//! Our two charms in the simulator with the pods' containers running (issue 17 items 2 and 4,
//! issue 18 item 2): everything the packets cross is what the charms wrote into Kubernetes,
//! run by juju-sim's kubelet (crates/juju-sim/src/kubelet.rs, docs/adr/0045) with pod-gateway's
//! own scripts; gluetun's tunnel is pod-net's stand-in.
//!
//! Needs what the data-path tests need (root, iproute2, dnsmasq, iptables, tcpdump, ... and
//! pod-gateway's source tree); skipped otherwise.

mod support;

use std::net::{IpAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use juju_sim::model::Model;
use juju_sim::workload::Answer;
use pod_net::{Capture, tcp_whoami};
use serde_json::Value;
use support::{PORT, PROBE, pod_gateway_src};

const MODEL: &str = "downloads";
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const EXIT_IP: &str = "198.51.100.4";
/// The simulator's pod and service ranges (crates/juju-sim/src/pod_network.rs).
const CLUSTER_CIDRS: &str = "10.1.0.0/16,10.0.0.0/24";

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The charm binaries and the hook tool, built on demand (other packages' binaries).
fn ensure_binaries() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let ok = std::process::Command::new(cargo)
        .args(["build", "-p", "juju-sim", "--bin", "juju-sim-tool"])
        .args(["-p", "gluetun-k8s", "-p", "qbittorrent-k8s"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cannot build the charms and juju-sim-tool");
}

fn status(model: &Model, unit: &str) -> String {
    let app = unit.split('/').next().unwrap_or_default();
    let s = model.status();
    let w = &s["applications"][app]["units"][unit]["workload-status"];
    format!("{} {}", w["current"], w["message"])
}

fn pod_status(model: &Model, pod: &str) -> Value {
    let pod = pod.to_owned();
    let live = model.with_admin(|c| async move {
        kube::Api::<k8s_openapi::api::core::v1::Pod>::namespaced(c, MODEL)
            .get(&pod)
            .await
    });
    serde_json::to_value(live.expect("the pod exists")).expect("pod JSON")["status"].clone()
}

/// `ip -n <netns> args...`'s output.
fn ip(netns: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("ip")
        .args(["-n", netns])
        .args(args)
        .output()
        .expect("ip runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn init_message(status: &Value, container: &str) -> String {
    status["initContainerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == container)
        .map(|c| {
            c["state"]["terminated"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .unwrap_or_default()
}

/// gluetun's control server's answer with the exit IP.
fn exit_ip() -> Answer {
    Answer::Http {
        status: 200,
        body: format!(r#"{{"public_ip":"{EXIT_IP}","country":"Netherlands"}}"#),
    }
}

/// A model whose pods run their containers, with our gateway deployed, keyed and Active.
fn running_gateway(dir: &std::path::Path) -> Model {
    ensure_binaries();
    let mut model = Model::new(dir, MODEL).expect("model");
    model
        .run_containers(&pod_gateway_src())
        .expect("the kubelet");
    model
        .workload_http("vpnarr", "gluetun", 8000, "/v1/publicip/ip", exit_ip())
        .expect("gluetun's control server");
    model
        .deploy("gluetun-k8s", Some("vpnarr"), true, &[])
        .expect("deploy the gateway");
    let uri = model
        .add_secret("vpn-key", &kv(&[("private-key", KEY)]))
        .expect("secret");
    model
        .config(
            "vpnarr",
            &kv(&[
                ("cluster-cidrs", CLUSTER_CIDRS),
                ("vpn-provider", "mullvad"),
                ("wireguard-addresses", "10.64.222.21/32"),
                ("wireguard-private-key-secret", &uri),
            ]),
        )
        .expect("configure the gateway");
    model.grant_secret("vpn-key", "vpnarr").expect("grant");
    model.update_status().expect("update-status");
    model
}

/// The source address the internet saw from `netns`, polled (each attempt bounded by
/// [`PROBE`]) until it answers or `within` passes.
fn until_answered(netns: &str, host: SocketAddrV4, within: Duration) -> Option<IpAddr> {
    let mut seen = None;
    poll(within, || {
        seen = tcp_whoami(netns, host, PROBE).ok().and_then(Result::ok);
        seen.is_some()
    });
    seen
}

#[test]
#[allow(clippy::too_many_lines)] // One scenario, in the order an operator lives it.
fn the_client_routes_through_the_gateway_our_charms_configured() {
    require_prerequisites!();
    let tmp = tempfile::tempdir().expect("scratch");
    let mut model = running_gateway(tmp.path());
    let gateway = pod_status(&model, "vpnarr-0");
    assert!(
        status(&model, "vpnarr/0").starts_with("\"active\""),
        "{}; pod status {gateway:#}; last hook: {:?}",
        status(&model, "vpnarr/0"),
        model.history().last()
    );
    assert_eq!(gateway["phase"], "Running", "{gateway:#}");
    let internet = model
        .internet("vpnarr/0")
        .expect("gluetun's tunnel stand-in");
    let whoami = internet.whoami(PORT).expect("internet listener");
    let host = SocketAddrV4::new(internet.spec().hosts[0], PORT);
    let tunnel_addr = internet.spec().tunnel_addr;

    model
        .deploy("qbittorrent-k8s", Some("qbittorrent"), true, &[])
        .expect("deploy the client");
    model.relate("qbittorrent", "vpnarr").expect("relate");
    let client = pod_status(&model, "qbittorrent-0");
    // vpn-route-init ran pod-gateway's client_init.sh and said so, as the kubelet reports it.
    assert_eq!(
        init_message(&client, "vpn-route-init"),
        vpn_gateway_iface::wrapper::ROUTED,
        "{client:#}"
    );
    assert_eq!(client["phase"], "Running", "{client:#}");
    let netns = model.unit_netns("qbittorrent/0").expect("client pod");
    let route = ip(&netns, &["route", "show", "default"]);
    assert!(route.contains("dev vxlan0"), "default route: {route:?}");
    // The cluster's addresses stay on eth0: the API server's Service and the gateway's pod.
    let gateway_ip = gateway["podIP"]
        .as_str()
        .expect("the gateway pod's address");
    for addr in [
        juju_sim::pod_network::API_SERVICE_IP.to_string(),
        gateway_ip.to_owned(),
    ] {
        let out = ip(&netns, &["route", "get", &addr]);
        assert!(out.contains("dev eth0"), "{addr}: {out:?}");
    }

    // A connection to the internet arrives from the tunnel's side, and none of it on eth0.
    let filter = format!("host {}", host.ip());
    let eth0 = Capture::start(&netns, "eth0", &filter).expect("capture");
    let seen = tcp_whoami(&netns, host, PROBE)
        .expect("probe runs")
        .expect("the internet answers through the tunnel");
    let eth0 = eth0.finish();
    assert_eq!(seen, IpAddr::V4(tunnel_addr));
    assert_eq!(whoami.seen().len(), 1);
    assert!(eth0.packets.is_empty(), "routed, yet on eth0: {eth0:?}");
    let active = status(&model, "qbittorrent/0");
    assert!(active.starts_with("\"active\" \"VPN exit "), "{active}");

    // Tunnel down (and gluetun's control server, which asks through it, without an exit
    // IP): nothing reaches the internet, nothing leaves the client's eth0, and the client
    // says why.
    assert!(model.set_tunnel("vpnarr/0", false).expect("tunnel down"));
    model
        .workload_http("vpnarr", "gluetun", 8000, "/v1/publicip/ip", Answer::Down)
        .expect("control server without an exit IP");
    model.update_status().expect("update-status");
    let eth0 = Capture::start(&netns, "eth0", &filter).expect("capture");
    let outcome = tcp_whoami(&netns, host, PROBE).expect("probe runs");
    let eth0 = eth0.finish();
    assert!(
        outcome.is_err(),
        "reached the internet with the tunnel down"
    );
    assert!(eth0.packets.is_empty(), "leaked from the client: {eth0:?}");
    assert_eq!(
        status(&model, "qbittorrent/0"),
        "\"waiting\" \"Waiting for VPN connection\""
    );
    assert!(model.set_tunnel("vpnarr/0", true).expect("tunnel up"));
    model
        .workload_http("vpnarr", "gluetun", 8000, "/v1/publicip/ip", exit_ip())
        .expect("control server with the exit IP");
    model.update_status().expect("update-status");
    let seen = tcp_whoami(&netns, host, Duration::from_secs(5))
        .expect("probe runs")
        .expect("the tunnel is back");
    assert_eq!(seen, IpAddr::V4(tunnel_addr));
    assert_eq!(status(&model, "qbittorrent/0"), active);

    // The gateway restarts (a new pod): the client's vpn-route-sidecar finds it again and
    // traffic goes through the new tunnel; nothing toward the internet leaves eth0 meanwhile.
    model.delete_pod("vpnarr/0").expect("gateway pod deleted");
    let internet = model.internet("vpnarr/0").expect("the new pod's tunnel");
    let _whoami = internet.whoami(PORT).expect("internet listener");
    let eth0 = Capture::start(&netns, "eth0", &filter).expect("capture");
    let seen = until_answered(&netns, host, Duration::from_mins(2));
    let eth0 = eth0.finish();
    assert_eq!(
        seen,
        Some(IpAddr::V4(tunnel_addr)),
        "the client never reconnected to the restarted gateway"
    );
    assert!(
        eth0.packets.is_empty(),
        "leaked during the reconnect: {eth0:?}"
    );
    assert!(
        status(&model, "qbittorrent/0").starts_with("\"active\""),
        "{}",
        status(&model, "qbittorrent/0")
    );

    // Relation removed: the client's pod rolls without the route, and what it keeps (the
    // in-pod filter, ADR 0039) cuts it off: nothing reaches the internet or leaves its eth0,
    // with NetworkPolicy enforced by nobody here.
    model
        .remove_relation("qbittorrent", "vpnarr")
        .expect("remove the relation");
    let client = pod_status(&model, "qbittorrent-0");
    let netns = model.unit_netns("qbittorrent/0").expect("client pod");
    let route = ip(&netns, &["route", "show", "default"]);
    assert!(
        !route.contains("vxlan0"),
        "default route: {route:?}; {client:#}"
    );
    let eth0 = Capture::start(&netns, "eth0", &filter).expect("capture");
    let outcome = tcp_whoami(&netns, host, PROBE).expect("probe runs");
    let eth0 = eth0.finish();
    assert!(
        outcome.is_err(),
        "reached the internet after the relation went: {client:#}"
    );
    assert!(eth0.packets.is_empty(), "leaked from the client: {eth0:?}");
    assert_eq!(
        status(&model, "qbittorrent/0"),
        "\"blocked\" \"VPN relation removed: egress blocked by kill switch\""
    );
}

/// The gateway is unreachable while the client's pod starts (issue 18, the give-up path): with
/// no NetworkPolicy enforced, nothing leaves the client's eth0 toward the internet, and
/// qBittorrent is not started; the status names the cause and the fix. Once the gateway is
/// back, the fix (deleting the pod) routes it and starts qBittorrent.
#[test]
fn a_gateway_unreachable_at_the_clients_start_keeps_it_offline_and_stopped() {
    require_prerequisites!();
    let tmp = tempfile::tempdir().expect("scratch");
    let mut model = running_gateway(tmp.path());
    let internet = model
        .internet("vpnarr/0")
        .expect("gluetun's tunnel stand-in");
    let host = SocketAddrV4::new(internet.spec().hosts[0], PORT);
    let tunnel_addr = internet.spec().tunnel_addr;
    // The gateway's pod drops everything from the pods (its charm still reaches the API
    // server and the DNS, which are Services): unreachable for a client, as a gateway that
    // hangs is. The rule goes with the pod's namespace, also if the test fails.
    let gateway_netns = model.unit_netns("vpnarr/0").expect("gateway pod");
    let unreachable = [
        "INPUT",
        "1",
        "-s",
        juju_sim::pod_network::POD_CIDR,
        "-j",
        "DROP",
    ];
    iptables(&gateway_netns, "-I", &unreachable);
    model
        .deploy("qbittorrent-k8s", Some("qbittorrent"), true, &[])
        .expect("deploy the client");
    model.relate("qbittorrent", "vpnarr").expect("relate");
    let client = pod_status(&model, "qbittorrent-0");
    let message = init_message(&client, "vpn-route-init");
    assert!(
        message.starts_with(vpn_gateway_iface::wrapper::NOT_ROUTED),
        "{message:?}; {client:#}"
    );
    let waiting = status(&model, "qbittorrent/0");
    assert!(
        waiting.starts_with("\"waiting\" \"VPN route not up: gateway unreachable; "),
        "{waiting}"
    );
    assert_ne!(qbittorrent_service(&model).as_deref(), Some("active"));
    let netns = model.unit_netns("qbittorrent/0").expect("client pod");
    let eth0 = Capture::start(&netns, "eth0", &format!("host {}", host.ip())).expect("capture");
    let outcome = tcp_whoami(&netns, host, PROBE).expect("probe runs");
    let eth0 = eth0.finish();
    assert!(outcome.is_err(), "reached the internet without a route");
    assert!(eth0.packets.is_empty(), "leaked from the client: {eth0:?}");

    // The gateway comes back: the message was written once, so the gate stays closed.
    iptables(
        &gateway_netns,
        "-D",
        &unreachable[..1]
            .iter()
            .chain(&unreachable[2..])
            .copied()
            .collect::<Vec<_>>(),
    );
    // vpn-route-sidecar brings the route up without a pod restart (ADR 0041)...
    let routed = poll(Duration::from_mins(2), || {
        ip(&netns, &["route", "show", "default"]).contains("dev vxlan0")
    });
    assert!(routed, "the sidecar never restored the route");
    // ... but qBittorrent stays stopped until the pod's own init says routed.
    model.update_status().expect("update-status");
    assert_eq!(status(&model, "qbittorrent/0"), waiting);
    assert_ne!(qbittorrent_service(&model).as_deref(), Some("active"));
    // The operator's fix, as the status says.
    model
        .delete_pod("qbittorrent/0")
        .expect("client pod deleted");
    let client = pod_status(&model, "qbittorrent-0");
    assert_eq!(
        init_message(&client, "vpn-route-init"),
        vpn_gateway_iface::wrapper::ROUTED,
        "{client:#}"
    );
    assert!(
        status(&model, "qbittorrent/0").starts_with("\"active\""),
        "{}",
        status(&model, "qbittorrent/0")
    );
    assert_eq!(qbittorrent_service(&model).as_deref(), Some("active"));
    let probe = model.probe("qbittorrent/0", PORT).expect("probe");
    assert_eq!(probe.seen, Ok(IpAddr::V4(tunnel_addr)), "{probe}");
    assert_eq!(probe.eth0_packets, 0, "{probe}");

    // DNS takes pod-gateway's path: the gateway's resolver on the overlay answers a cluster
    // name (forwarded to the cluster DNS), and no DNS packet leaves the client's eth0.
    let netns = model.unit_netns("qbittorrent/0").expect("client pod");
    let eth0 = Capture::start(&netns, "eth0", "port 53").expect("capture");
    let answer = dig(&netns, "172.16.0.1", "kubernetes.default.svc.cluster.local");
    let eth0 = eth0.finish();
    assert_eq!(
        answer.trim(),
        juju_sim::pod_network::API_SERVICE_IP.to_string(),
        "through the gateway's resolver"
    );
    assert!(eth0.packets.is_empty(), "DNS on eth0: {eth0:?}");

    // A new VXLAN id: both pods roll (gateway settings, client data) and route again on it.
    model
        .config("vpnarr", &kv(&[("vxlan-id", "77")]))
        .expect("vxlan-id");
    let netns = model.unit_netns("qbittorrent/0").expect("client pod");
    let link = ip(&netns, &["-d", "link", "show", "vxlan0"]);
    assert!(link.contains("vxlan id 77 "), "{link}");
    let probe = model.probe("qbittorrent/0", PORT).expect("probe");
    assert_eq!(probe.seen, Ok(IpAddr::V4(tunnel_addr)), "{probe}");
    assert_eq!(probe.eth0_packets, 0, "{probe}");
    assert!(
        status(&model, "qbittorrent/0").starts_with("\"active\""),
        "{}",
        status(&model, "qbittorrent/0")
    );
}

/// `dig +short name @server` from `netns` (one try, 2 s).
fn dig(netns: &str, server: &str, name: &str) -> String {
    let out = std::process::Command::new("ip")
        .args([
            "netns", "exec", netns, "dig", "+short", "+time=2", "+tries=1",
        ])
        .arg(format!("@{server}"))
        .arg(name)
        .output()
        .expect("dig runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `condition` holds within `within`, checked every half second.
fn poll(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        // Paces the checks; the condition, not the sleep, decides.
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `iptables <op> <rule...>` in `netns`, which must succeed.
fn iptables(netns: &str, op: &str, rule: &[&str]) {
    let ok = std::process::Command::new("ip")
        .args(["netns", "exec", netns, "iptables", op])
        .args(rule)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "iptables {op} {rule:?} in {netns}");
}

/// qBittorrent's Pebble service state in the client's unit.
fn qbittorrent_service(model: &Model) -> Option<String> {
    model
        .pebble("qbittorrent/0", "qbittorrent")?
        .pointer("/services/qbittorrent")
        .and_then(Value::as_str)
        .map(str::to_owned)
}
