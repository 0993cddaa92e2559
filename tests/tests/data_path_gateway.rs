//! The gateway's own bypasses (issue 23, docs/adr/0038), with real packets: pod-gateway
//! v1.13.0's scripts run unmodified in pod-net's network namespaces with exactly the
//! commands, env and ConfigMaps our charms render (as in `data_path.rs`).
//!
//! - Nothing but cluster traffic leaves the gateway's `eth0`: no packet from a client to a
//!   non-cluster 10.x or 192.168.x host, no packet from the gateway pod itself to such a host
//!   or to port 443 on the internet, tunnel up or down (tcpdump on `eth0`).
//! - Positive control: with the reference's four-line `settings.sh` (pod-gateway's defaults
//!   in force) the same probes from the gateway pod do leave its `eth0`, so the captures see
//!   a leak when there is one.
//! - A cluster whose pod CIDR lies outside 10/8 and 192.168/16 routes, and a client started
//!   while the gateway is not Ready (its tunnel down) joins: Juju's `<app>-endpoints`
//!   Service publishes not-ready addresses, so the gateway's name resolves from the start.
//!
//! Needs root and the tools of `data_path.rs`; skipped otherwise.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddrV4, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use pod_net::{
    Capture, Captured, Cluster, ClusterDns, ClusterSpec, Container, Image, Internet, InternetSpec,
    Pod, PodSpec, Whoami, in_netns, tcp_whoami,
};
use serde_json::Value;
use support::{
    CLIENT_APP, GATEWAY_APP, MODEL, PORT, PROBE, RenderedPair, peer_pod, pod_gateway_src,
    render_pair, rendered_container, show, start_gateway,
};

const HTTPS: u16 = 443;
/// Hosts on the node's side that are in no cluster CIDR: a LAN's 10.x and 192.168.x
/// addresses, inside pod-gateway's default `VPN_LOCAL_CIDRS`.
const LAN_HOSTS: [Ipv4Addr; 2] = [
    Ipv4Addr::new(10, 200, 0, 10),
    Ipv4Addr::new(192, 168, 50, 10),
];

/// Which gateway `settings.sh` the gateway runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settings {
    /// What gluetun-k8s renders.
    Ours,
    /// The reference charm's: the first four lines of ours (the reference vectors prove they
    /// are its bytes), pod-gateway's defaults for everything else.
    Reference,
}

/// Everything of one run: dropped in reverse order of declaration, pods before the cluster.
struct Bench {
    client: Pod,
    peer: Pod,
    _peer_whoami: Whoami,
    _lan_whoami: Whoami,
    internet_whoami: Whoami,
    _internet_https: Whoami,
    internet: Internet,
    gateway: Pod,
    _dns: ClusterDns,
    image: Image,
    client_rendered: Value,
    gateway_init: Container,
    cluster: Cluster,
    _scratch: tempfile::TempDir,
}

impl Bench {
    /// The cluster (`spec`), LAN hosts on the node, the gateway pod run as Kubernetes would
    /// (gateway-init, then the tunnel and gateway-sidecar) with `settings`, its name in the
    /// cluster DNS from the start (Juju's `publishNotReadyAddresses`), an unrouted peer pod,
    /// and the client pod, running nothing yet.
    fn new(spec: ClusterSpec, settings: Settings) -> Self {
        let scratch = tempfile::Builder::new()
            .prefix("charmarr-data-path-gateway-")
            .tempdir()
            .expect("temp dir");
        let cluster = Cluster::new(spec).expect("cluster");
        let internet_spec = InternetSpec::default();
        let RenderedPair {
            gateway: gateway_rendered,
            client: client_rendered,
            gateway_dns_name,
        } = render_pair(scratch.path(), cluster.spec(), internet_spec.tunnel_addr);

        // The LAN: addresses on the node, answering on PORT (the node's own, reached over the
        // pods' default route).
        for host in LAN_HOSTS {
            let out = Command::new("ip")
                .args(["-n", cluster.node_netns(), "addr", "add"])
                .arg(format!("{host}/32"))
                .args(["dev", "lo"])
                .output()
                .expect("ip runs");
            assert!(out.status.success(), "LAN host {host}: {out:?}");
        }
        let lan_whoami = Whoami::start(
            cluster.node_netns(),
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT),
        )
        .expect("LAN listener");

        let gateway = cluster
            .add_pod(PodSpec::new(format!("{GATEWAY_APP}-0"), MODEL))
            .expect("gateway pod");
        let dns = ClusterDns::start(&cluster, &[(gateway_dns_name.as_str(), gateway.ip())])
            .expect("cluster DNS");
        let image = pod_net::pod_gateway::image(&pod_gateway_src()).expect("pod-gateway image");

        let mut init = rendered_container(
            &gateway_rendered,
            GATEWAY_APP,
            "initContainers",
            "gateway-init",
        );
        let mut sidecar = rendered_container(
            &gateway_rendered,
            GATEWAY_APP,
            "containers",
            "gateway-sidecar",
        );
        if settings == Settings::Reference {
            for container in [&mut init, &mut sidecar] {
                for volume in &mut container.volumes {
                    if let Some(file) = volume.files.get_mut("settings.sh") {
                        *file = file.lines().take(4).collect::<Vec<_>>().join("\n");
                    }
                }
            }
        }
        let internet = start_gateway(&cluster, &gateway, &image, &init, &sidecar, internet_spec);
        let internet_whoami = internet.whoami(PORT).expect("internet listener");
        let internet_https = internet.whoami(HTTPS).expect("internet listener on 443");

        let (peer, peer_whoami) = peer_pod(&cluster);
        let client = cluster
            .add_pod(PodSpec::new(format!("{CLIENT_APP}-0"), MODEL))
            .expect("client pod");
        Self {
            client,
            peer,
            _peer_whoami: peer_whoami,
            _lan_whoami: lan_whoami,
            internet_whoami,
            _internet_https: internet_https,
            internet,
            gateway,
            _dns: dns,
            image,
            client_rendered,
            gateway_init: init,
            cluster,
            _scratch: scratch,
        }
    }

    fn internet_host(&self) -> Ipv4Addr {
        self.internet.spec().hosts[0]
    }

    /// vpn-route-init (to completion) and vpn-route-sidecar, as rendered.
    fn join_client(&self) {
        let container = |list: &str, name: &str| {
            rendered_container(&self.client_rendered, CLIENT_APP, list, name)
        };
        let init = container("initContainers", "vpn-route-init");
        let exited = self
            .client
            .run(&self.image, &init, Duration::from_secs(200))
            .expect("vpn-route-init runs");
        assert!(exited.success(), "vpn-route-init: {}", show(&exited));
        assert!(
            exited.stdout.contains("Gateway ready and reachable"),
            "client_init.sh did not finish: {}",
            show(&exited)
        );
        self.client
            .start(&self.image, &container("containers", "vpn-route-sidecar"))
            .expect("vpn-route-sidecar starts");
    }

    /// A tcpdump on the gateway's `iface` for every probed non-cluster address.
    fn capture(&self, iface: &str) -> Capture {
        let mut hosts: Vec<String> = LAN_HOSTS.iter().map(ToString::to_string).collect();
        hosts.push(self.internet_host().to_string());
        let filter = hosts
            .iter()
            .map(|h| format!("host {h}"))
            .collect::<Vec<_>>()
            .join(" or ");
        Capture::start(self.gateway.netns(), iface, &filter).expect("capture")
    }
}

/// A TCP connection to `addr` and a UDP datagram to it, both from network namespace `netns`;
/// whether the TCP connection was answered.
fn probe(netns: &str, addr: SocketAddrV4) -> bool {
    let answered = tcp_whoami(netns, addr, PROBE).expect("probe runs").is_ok();
    // Refused by the gateway's own firewall or sent: only the captures tell.
    let _ = in_netns(netns, || {
        UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).and_then(|s| s.send_to(b"probe", addr))
    });
    answered
}

/// No packet printed, and none counted by the kernel's filter either.
fn assert_empty(captured: &Captured, what: &str) {
    assert!(
        captured.packets.is_empty() && captured.received_by_filter() == Some(0),
        "{what}: {} packets: {:#?} ({})",
        captured.packets.len(),
        captured.packets,
        captured.summary
    );
}

/// The gateway pod's own probes: every LAN host on PORT, the internet host on 443.
fn gateway_own_probes(bench: &Bench) -> Vec<(SocketAddrV4, bool)> {
    let mut targets: Vec<SocketAddrV4> = LAN_HOSTS
        .iter()
        .map(|h| SocketAddrV4::new(*h, PORT))
        .collect();
    targets.push(SocketAddrV4::new(bench.internet_host(), HTTPS));
    targets
        .into_iter()
        .map(|addr| (addr, probe(bench.gateway.netns(), addr)))
        .collect()
}

/// One phase (tunnel up or down): the client's and the gateway's probes to every non-cluster
/// address, with the gateway's `eth0`, `vxlan0` and (when up) `tun0` captured.
fn assert_nothing_leaves_eth0(bench: &Bench, tunnel_up: bool) {
    let phase = if tunnel_up {
        "tunnel up"
    } else {
        "tunnel down"
    };
    let eth0 = bench.capture("eth0");
    let vxlan0 = bench.capture("vxlan0");
    let tun0 = tunnel_up.then(|| bench.capture("tun0"));
    // The client to the LAN hosts: routed to the gateway (not a cluster CIDR).
    for host in LAN_HOSTS {
        let answered = probe(bench.client.netns(), SocketAddrV4::new(host, PORT));
        assert!(!answered, "{phase}: the client reached LAN host {host}");
    }
    // The gateway pod itself: the LAN hosts and the internet on 443.
    let own = gateway_own_probes(bench);
    let internet_443 = SocketAddrV4::new(bench.internet_host(), HTTPS);
    for (addr, answered) in &own {
        let through_tunnel = tunnel_up && *addr == internet_443;
        assert_eq!(
            *answered, through_tunnel,
            "{phase}: the gateway's own connection to {addr}"
        );
    }
    let (eth0, vxlan0, tun0) = (eth0.finish(), vxlan0.finish(), tun0.map(Capture::finish));
    // Positive controls: the client's packets reached the gateway over the overlay, and with
    // the tunnel up the gateway's own and the client's went into it.
    assert!(
        !vxlan0.packets.is_empty(),
        "{phase}: the client's packets never reached the gateway: {vxlan0:?}"
    );
    if let Some(tun0) = &tun0 {
        assert!(
            tun0.packets.len() >= 3,
            "{phase}: nothing went into the tunnel: {tun0:?}"
        );
    }
    assert_empty(&eth0, &format!("{phase}: left the gateway's eth0"));
    eprintln!(
        "{phase}: gateway eth0 {} packets ({}), vxlan0 {} ({}), tun0 {}",
        eth0.packets.len(),
        eth0.summary,
        vxlan0.packets.len(),
        vxlan0.summary,
        tun0.map_or_else(
            || "-".to_owned(),
            |t| format!("{} ({})", t.packets.len(), t.summary)
        )
    );
}

#[test]
fn nothing_but_cluster_traffic_leaves_the_gateways_eth0_tunnel_up_or_down() {
    require_prerequisites!();
    let started = Instant::now();
    let bench = Bench::new(ClusterSpec::default(), Settings::Ours);
    let settings = bench
        .gateway_init
        .volumes
        .iter()
        .find_map(|v| v.files.get("settings.sh"))
        .expect("settings.sh");
    let spec = bench.cluster.spec();
    assert!(
        settings.contains(&format!(
            "VPN_LOCAL_CIDRS=\"{} {}\"",
            spec.pod_cidr, spec.service_cidr
        )),
        "{settings}"
    );
    bench.join_client();

    // Cluster traffic still bypasses the tunnel: the client reaches the peer directly.
    let peer = SocketAddrV4::new(bench.peer.ip(), PORT);
    let seen = tcp_whoami(bench.client.netns(), peer, PROBE)
        .expect("probe runs")
        .expect("the peer pod answers");
    assert_eq!(seen, IpAddr::V4(bench.client.ip()));
    // And the client's internet traffic leaves through the tunnel.
    let tunnel_addr = IpAddr::V4(bench.internet.spec().tunnel_addr);
    let internet = SocketAddrV4::new(bench.internet_host(), PORT);
    let seen = tcp_whoami(bench.client.netns(), internet, PROBE)
        .expect("probe runs")
        .expect("the internet answers through the tunnel");
    assert_eq!(seen, tunnel_addr);

    assert_nothing_leaves_eth0(&bench, true);
    bench.internet.down().expect("tunnel down");
    assert_nothing_leaves_eth0(&bench, false);

    // Not closed by settings (ADR 0038): pod-gateway accepts UDP to the VXLAN port on eth0
    // to any address. Measured, not asserted.
    let vxlan_port = Capture::start(
        bench.gateway.netns(),
        "eth0",
        &format!("udp port 4790 and host {}", bench.internet_host()),
    )
    .expect("capture");
    let _ = in_netns(bench.gateway.netns(), || {
        UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
            .and_then(|s| s.send_to(b"probe", (bench.internet_host(), 4790)))
    });
    let vxlan_port = vxlan_port.finish();
    eprintln!(
        "tunnel down, the gateway's own UDP to the internet's port 4790 on eth0: {} ({})",
        vxlan_port.packets.len(),
        vxlan_port.summary
    );

    // The gateway's own firewall, as gateway_init.sh left it (for the report).
    let rules = bench
        .gateway
        .netns_output("iptables", &["-S", "OUTPUT"])
        .expect("iptables -S");
    assert!(rules.contains("-P OUTPUT DROP"), "{rules}");
    assert!(!rules.contains("--dport 443"), "{rules}");
    eprintln!("gateway OUTPUT chain:\n{rules}");

    bench.internet.up().expect("tunnel up");
    let seen = tcp_whoami(bench.client.netns(), internet, PROBE)
        .expect("probe runs")
        .expect("the internet answers again");
    assert_eq!(seen, tunnel_addr);
    assert!(
        bench
            .internet_whoami
            .seen()
            .iter()
            .all(|s| s.ip() == tunnel_addr),
        "{:?}",
        bench.internet_whoami.seen()
    );
    eprintln!("checked in {:?}", started.elapsed());
}

#[test]
fn with_the_references_settings_the_gateways_own_traffic_leaves_eth0() {
    require_prerequisites!();
    // Positive control for the captures above: pod-gateway's defaults (VPN_LOCAL_CIDRS
    // "10.0.0.0/8 192.168.0.0/16", VPN_TRAFFIC_PORT 443) let the gateway pod reach the LAN
    // and port 443 around the tunnel, which is down.
    let bench = Bench::new(ClusterSpec::default(), Settings::Reference);
    bench.internet.down().expect("tunnel down");
    let eth0 = bench.capture("eth0");
    let own = gateway_own_probes(&bench);
    let eth0 = eth0.finish();
    for (addr, answered) in &own {
        if LAN_HOSTS.contains(addr.ip()) {
            assert!(answered, "the reference's gateway did not reach {addr}");
        }
    }
    for target in LAN_HOSTS
        .iter()
        .chain(std::iter::once(&bench.internet_host()))
    {
        let dst = format!("> {target}.");
        assert!(
            eth0.packets.iter().any(|p| p.contains(&dst)),
            "no packet to {target} on the reference's gateway eth0: {eth0:#?}"
        );
    }
    let first: Vec<&String> = LAN_HOSTS
        .iter()
        .chain(std::iter::once(&bench.internet_host()))
        .filter_map(|t| {
            let dst = format!("> {t}.");
            eth0.packets.iter().find(|p| p.contains(&dst))
        })
        .collect();
    eprintln!(
        "reference settings, tunnel down: {} packets left the gateway's eth0 ({}); probes \
         answered: {own:?}; first to each: {first:#?}",
        eth0.packets.len(),
        eth0.summary,
    );
}

#[test]
fn a_pod_cidr_outside_the_defaults_routes_and_a_client_started_before_ready_joins() {
    require_prerequisites!();
    let spec = ClusterSpec {
        pod_cidr: "172.20.0.0/24".parse().expect("a CIDR"),
        ..ClusterSpec::default()
    };
    let bench = Bench::new(spec, Settings::Ours);
    // Not Ready: gluetun has no tunnel yet. The name resolves all the same (Juju's
    // `<app>-endpoints` Service publishes not-ready addresses), and the client joins.
    bench.internet.down().expect("tunnel down");
    bench.join_client();
    let (client, gateway) = (&bench.client, &bench.gateway);
    let ping = client
        .netns_output(
            "busybox",
            &["ping", "-c", "1", "-W", "2", &gateway.ip().to_string()],
        )
        .expect("the gateway answers its clients from outside 10/8");
    assert!(
        ping.contains("1 received") || ping.contains("1 packets received"),
        "{ping}"
    );
    let internet = SocketAddrV4::new(bench.internet_host(), PORT);
    let outcome = tcp_whoami(client.netns(), internet, PROBE).expect("probe runs");
    assert!(
        outcome.is_err(),
        "internet reached before the tunnel: {outcome:?}"
    );

    // Ready: the tunnel comes up and the joined client's traffic leaves through it.
    bench.internet.up().expect("tunnel up");
    let seen = tcp_whoami(client.netns(), internet, PROBE)
        .expect("probe runs")
        .expect("the internet answers through the tunnel");
    assert_eq!(seen, IpAddr::V4(bench.internet.spec().tunnel_addr));
    let peer = SocketAddrV4::new(bench.peer.ip(), PORT);
    let seen = tcp_whoami(client.netns(), peer, PROBE)
        .expect("probe runs")
        .expect("the peer pod answers directly");
    assert_eq!(seen, IpAddr::V4(client.ip()));
    // The peer is reached on eth0, not through the overlay.
    let route = client
        .netns_output("ip", &["route", "get", &bench.peer.ip().to_string()])
        .expect("ip route get");
    assert!(route.contains("dev eth0"), "{route}");
}
