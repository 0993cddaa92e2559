//! The VPN data path with real packets (issue 17): a gateway pod and a client pod are network
//! namespaces (pod-net, docs/adr/0033), running pod-gateway v1.13.0's own scripts with
//! exactly the commands, args, env and ConfigMaps our charms render. The gateway's tunnel and
//! the internet behind it are pod-net's stand-ins; the cluster DNS is dnsmasq.
//!
//! Needs root, iproute2, util-linux, busybox, dnsmasq, dig, iptables, tcpdump, inotify-tools
//! and pod-gateway's source tree (`POD_GATEWAY_SRC`, default
//! `../shared/third_party/pod-gateway-v1.13.0` from the workspace root); skipped otherwise.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use pod_net::{
    Capture, Cluster, ClusterDns, ClusterSpec, Container, Image, Internet, InternetSpec, Pod,
    PodDns, PodSpec, Whoami, tcp_whoami,
};
use serde_json::Value;
use support::{
    CLIENT_APP, GATEWAY_APP, MODEL, PORT, PROBE, RenderedPair, object, peer_pod, pod_gateway_src,
    render_pair, rendered_container, scratch, show, start_gateway, strings,
};

/// An internet name a download client looks up (a tracker).
const INTERNET_NAME: &str = "tracker.example.org";

/// Everything of one run: dropped in reverse order of declaration, pods before the cluster.
struct Bench {
    client: Pod,
    peer: Pod,
    _peer_whoami: Whoami,
    internet_whoami: Whoami,
    internet: Internet,
    gateway: Pod,
    _dns: ClusterDns,
    image: Image,
    client_rendered: Value,
    gateway_dns_name: String,
    cluster: Cluster,
    _scratch: tempfile::TempDir,
}

impl Bench {
    /// The cluster, the gateway pod run as Kubernetes would (gateway-init, then the tunnel
    /// and gateway-sidecar), and an unrouted peer pod; the client pod exists but runs nothing.
    fn new(register_gateway_dns: bool) -> Self {
        let scratch = scratch();
        let cluster = Cluster::new(ClusterSpec::default()).expect("cluster");
        let internet_spec = InternetSpec::default();
        let RenderedPair {
            gateway: gateway_rendered,
            client: client_rendered,
            gateway_dns_name,
        } = render_pair(scratch.path(), cluster.spec(), internet_spec.tunnel_addr);

        let gateway = cluster
            .add_pod(PodSpec::new(format!("{GATEWAY_APP}-0"), MODEL))
            .expect("gateway pod");
        let records: Vec<(&str, Ipv4Addr)> = if register_gateway_dns {
            vec![(gateway_dns_name.as_str(), gateway.ip())]
        } else {
            Vec::new()
        };
        let dns = ClusterDns::start(&cluster, &records).expect("cluster DNS");
        let image = pod_net::pod_gateway::image(&pod_gateway_src()).expect("pod-gateway image");

        let init = rendered_container(
            &gateway_rendered,
            GATEWAY_APP,
            "initContainers",
            "gateway-init",
        );
        let sidecar = rendered_container(
            &gateway_rendered,
            GATEWAY_APP,
            "containers",
            "gateway-sidecar",
        );
        let internet = start_gateway(&cluster, &gateway, &image, &init, &sidecar, internet_spec);
        let internet_whoami = internet.whoami(PORT).expect("internet listener");
        let (peer, peer_whoami) = peer_pod(&cluster);
        // The client pod's DNS as its rendered template sets it (dnsPolicy None).
        let client = cluster
            .add_pod(
                PodSpec::new(format!("{CLIENT_APP}-0"), MODEL)
                    .with_dns(rendered_dns(&client_rendered)),
            )
            .expect("client pod");
        Self {
            client,
            peer,
            _peer_whoami: peer_whoami,
            internet_whoami,
            internet,
            gateway,
            _dns: dns,
            image,
            gateway_dns_name,
            client_rendered,
            cluster,
            _scratch: scratch,
        }
    }

    /// Runs the client's first init container, the in-pod filter (kill switch layer 0).
    fn run_filter(&self) {
        let filter = self.client_container("initContainers", "vpn-killswitch");
        let exited = self
            .client
            .run(&self.image, &filter, Duration::from_secs(30))
            .expect("vpn-killswitch runs");
        assert!(exited.success(), "vpn-killswitch: {}", show(&exited));
    }

    fn client_container(&self, list: &str, name: &str) -> Container {
        rendered_container(&self.client_rendered, CLIENT_APP, list, name)
    }

    fn internet_host(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.internet.spec().hosts[0], PORT)
    }
}

/// The pod DNS the client's rendered template sets (`dnsPolicy: None` with `dnsConfig`).
fn rendered_dns(rendered: &Value) -> PodDns {
    let statefulset = object(rendered, "StatefulSet", CLIENT_APP);
    let spec = &statefulset["spec"]["template"]["spec"];
    assert_eq!(spec["dnsPolicy"], "None", "{spec}");
    let config = &spec["dnsConfig"];
    PodDns {
        nameservers: strings(&config["nameservers"]),
        searches: strings(&config["searches"]),
        options: config["options"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| match o["value"].as_str() {
                Some(value) => format!("{}:{value}", o["name"].as_str().unwrap_or_default()),
                None => o["name"].as_str().unwrap_or_default().to_owned(),
            })
            .collect(),
    }
}

fn route_get(pod: &Pod, addr: Ipv4Addr) -> String {
    pod.netns_output("ip", &["route", "get", &addr.to_string()])
        .expect("ip route get")
}

/// The client's NOT_ROUTED_TO_GATEWAY_CIDRS, from its rendered ConfigMap.
fn not_routed_cidrs(client_rendered: &Value) -> Vec<ipnet::Ipv4Net> {
    let settings = object(
        client_rendered,
        "ConfigMap",
        &format!("{CLIENT_APP}-gateway-client-config"),
    )["data"]["settings.sh"]
        .as_str()
        .expect("settings.sh");
    let line = settings
        .lines()
        .find_map(|l| l.strip_prefix("NOT_ROUTED_TO_GATEWAY_CIDRS="))
        .expect("NOT_ROUTED_TO_GATEWAY_CIDRS");
    line.trim_matches('"')
        .split_whitespace()
        .map(|c| c.parse().expect("a CIDR"))
        .collect()
}

#[test]
fn client_traffic_leaves_through_the_tunnel_cluster_traffic_stays_direct_and_nothing_leaks_when_it_is_down()
 {
    require_prerequisites!();
    let started = Instant::now();
    let bench = Bench::new(true);
    let (client, gateway) = (&bench.client, &bench.gateway);

    // The init containers in the rendered order: the in-pod filter, then vpn-route-init (the
    // rendered wrapper under the image's /bin/sh); then the sidecar.
    bench.run_filter();
    // Re-entry (a restarted init container) changes nothing: still one jump, one chain.
    bench.run_filter();
    let rules = client
        .netns_output("iptables", &["-S"])
        .expect("iptables -S");
    assert_eq!(
        rules.matches("-j CHARMARR-EGRESS").count(),
        1,
        "one jump after two runs: {rules}"
    );
    let init = bench.client_container("initContainers", "vpn-route-init");
    let exited = client
        .run(&bench.image, &init, Duration::from_secs(200))
        .expect("vpn-route-init runs");
    assert!(exited.success(), "vpn-route-init: {}", show(&exited));
    assert!(
        exited.stdout.contains("Gateway ready and reachable"),
        "client_init.sh did not finish: {}",
        show(&exited)
    );
    // Its outcome, as the kubelet puts it in the Pod's status for the charm's gate.
    assert_eq!(
        exited.termination_message,
        format!("{}\n", vpn_gateway_iface::wrapper::ROUTED),
        "{}",
        show(&exited)
    );
    let sidecar = bench.client_container("containers", "vpn-route-sidecar");
    client
        .start(&bench.image, &sidecar)
        .expect("vpn-route-sidecar starts");

    // Routes: default via the overlay; every cluster CIDR on eth0 via the node.
    let default = client
        .netns_output("ip", &["route", "show", "default"])
        .expect("ip route");
    assert!(default.contains("dev vxlan0"), "default route: {default}");
    assert!(
        route_get(client, bench.internet.spec().hosts[0]).contains("dev vxlan0"),
        "internet not via vxlan0"
    );
    let cidrs = not_routed_cidrs(&bench.client_rendered);
    assert!(cidrs.contains(&bench.cluster.spec().pod_cidr), "{cidrs:?}");
    for cidr in &cidrs {
        let addr = cidr.hosts().last().unwrap_or(cidr.addr());
        let route = route_get(client, addr);
        assert!(route.contains("dev eth0"), "{cidr} not on eth0: {route}");
    }
    assert_dns_goes_through_the_gateway(&bench);

    // Cluster names still resolve through the gateway's dnsmasq (DNS_LOCAL_CIDRS="local"
    // forwards them to the cluster DNS).
    let name = bench.gateway_dns_name.as_str();
    let answer = client
        .netns_output(
            "dig",
            &["+short", "+time=2", "+tries=1", "@172.16.0.1", name],
        )
        .expect("dig through the gateway");
    assert_eq!(answer.trim(), gateway.ip().to_string(), "{name}");

    // Internet traffic arrives from the tunnel's address (MASQUERADE on tun0).
    let tunnel_addr = IpAddr::V4(bench.internet.spec().tunnel_addr);
    let seen = tcp_whoami(client.netns(), bench.internet_host(), PROBE)
        .expect("probe runs")
        .expect("the internet answers through the tunnel");
    assert_eq!(seen, tunnel_addr);
    assert_eq!(
        bench
            .internet_whoami
            .seen()
            .last()
            .map(std::net::SocketAddr::ip),
        Some(tunnel_addr)
    );

    // A pod in a cluster CIDR is reached directly: it sees the client's own address.
    let peer_addr = SocketAddrV4::new(bench.peer.ip(), PORT);
    let seen = tcp_whoami(client.netns(), peer_addr, PROBE)
        .expect("probe runs")
        .expect("the peer pod answers");
    assert_eq!(seen, IpAddr::V4(client.ip()));

    assert_nothing_leaves_with_the_tunnel_down(&bench, peer_addr);

    // Tunnel back: the same client reaches the internet again, no restart needed.
    bench.internet.up().expect("tunnel up");
    let seen = tcp_whoami(client.netns(), bench.internet_host(), PROBE)
        .expect("probe runs")
        .expect("the internet answers again");
    assert_eq!(seen, tunnel_addr);
    assert!(
        client.is_running("vpn-route-sidecar"),
        "{:?}",
        client.logs("vpn-route-sidecar")
    );
    assert!(
        gateway.is_running("gateway-sidecar"),
        "{:?}",
        gateway.logs("gateway-sidecar")
    );
    assert_the_sidecar_survives_a_failed_reconnect(&bench);
    eprintln!("data path checked in {:?}", started.elapsed());
}

#[test]
fn vpn_route_init_ends_in_bounded_time_and_the_in_pod_filter_stops_the_leak_it_leaves() {
    require_prerequisites!();
    // The gateway's name does not resolve (its headless Service has no ready endpoint).
    let bench = Bench::new(false);
    let client = &bench.client;
    let init = bench.client_container("initContainers", "vpn-route-init");
    let exited = client
        .run(&bench.image, &init, Duration::from_secs(200))
        .expect("vpn-route-init runs");
    // ADR 0021: three bounded attempts 5 s apart, then exit 0 so the pod starts.
    assert!(exited.success(), "{}", show(&exited));
    assert!(
        exited.elapsed < Duration::from_secs(130),
        "{}",
        show(&exited)
    );
    assert_eq!(
        exited.stdout.matches("vpn-route-init: attempt").count(),
        3,
        "{}",
        show(&exited)
    );
    assert!(
        exited
            .stderr
            .contains("gateway unreachable after 3 attempts"),
        "{}",
        show(&exited)
    );
    // The termination message says it gave up, and why (the name did not resolve, so
    // client_init.sh failed rather than hung).
    let message = &exited.termination_message;
    assert!(
        message.starts_with(&format!(
            "{} after 3 attempts (last: client_init.sh exited ",
            vpn_gateway_iface::wrapper::NOT_ROUTED
        )),
        "termination message {message:?}; {}",
        show(&exited)
    );
    // The state it leaves: the default route restored via the node on eth0, no overlay.
    let default = client
        .netns_output("ip", &["route", "show", "default"])
        .expect("ip route");
    assert!(
        default.contains(&format!("via {} dev eth0", client.node_ip())),
        "default route: {default:?}; routes: {:?}; {}",
        client.netns_output("ip", &["route"]),
        show(&exited)
    );
    assert!(
        client
            .netns_output("ip", &["link", "show", "vxlan0"])
            .is_err(),
        "vxlan0 exists"
    );
    eprintln!("vpn-route-init gave up after {:?}", exited.elapsed);

    // That restored default route is the leak of issue 18 on a CNI that ignores the
    // NetworkPolicy: a connection to the internet leaves the client's eth0 (captured).
    let internet = bench.internet_host();
    let filter = format!("host {}", internet.ip());
    let leak = Capture::start(client.netns(), "eth0", &filter).expect("capture");
    let outcome = tcp_whoami(client.netns(), internet, PROBE).expect("probe runs");
    let leak = leak.finish();
    assert!(outcome.is_err(), "the node routes nowhere: {outcome:?}");
    assert!(
        !leak.packets.is_empty(),
        "without the filter the packet leaves eth0 (control): {leak:?}"
    );
    // With the in-pod filter (which the pod runs first) the same connection never leaves.
    bench.run_filter();
    let capture = Capture::start(client.netns(), "eth0", &filter).expect("capture");
    let outcome = tcp_whoami(client.netns(), internet, PROBE).expect("probe runs");
    let capture = capture.finish();
    assert!(outcome.is_err(), "{outcome:?}");
    assert!(
        capture.packets.is_empty(),
        "leaked past the in-pod filter: {capture:?}"
    );
    // Cluster traffic still flows on eth0 (the charm's API server and the gateway are here).
    let peer_addr = SocketAddrV4::new(bench.peer.ip(), PORT);
    let seen = tcp_whoami(client.netns(), peer_addr, PROBE)
        .expect("probe runs")
        .expect("the peer pod answers through the filter");
    assert_eq!(seen, IpAddr::V4(client.ip()));
}

/// The pod resolves through the gateway only (its rendered dnsConfig, ADR 0040).
fn assert_dns_goes_through_the_gateway(bench: &Bench) {
    // The pod resolves through the gateway only (its rendered dnsConfig): a container's own
    // resolver finds a cluster name there, an internet name is asked there too, and no DNS
    // packet leaves the client's eth0 (they travel inside the overlay). (Full names:
    // pod-gateway's DHCP client rewrites resolv.conf with the gateway's resolver and no search
    // list, as Alpine's udhcpc script does; ADR 0040.)
    let (client, gateway) = (&bench.client, &bench.gateway);
    let resolv = client.resolv_conf().expect("resolv.conf");
    assert!(resolv.contains("nameserver 172.16.0.1"), "{resolv}");
    assert!(
        !resolv.contains(&bench.cluster.spec().dns_ip.to_string()),
        "{resolv}"
    );
    let dns_on_eth0 = Capture::start(client.netns(), "eth0", "port 53").expect("capture");
    let dns_on_overlay = Capture::start(gateway.netns(), "vxlan0", "port 53").expect("capture");
    let lookup = |name: &str| {
        let container = Container {
            name: "lookup".to_owned(),
            command: ["dig", "+short", "+time=2", "+tries=1", name]
                .map(String::from)
                .to_vec(),
            ..Container::default()
        };
        client
            .run(&bench.image, &container, Duration::from_secs(20))
            .expect("dig runs")
    };
    let cluster_name = lookup(&bench.gateway_dns_name);
    assert_eq!(
        cluster_name.stdout.trim(),
        gateway.ip().to_string(),
        "{resolv:?}: {}",
        show(&cluster_name)
    );
    // The gateway forwards it upstream (gluetun's resolver through the tunnel, which the
    // stand-in does not play; the gateway's dnsmasq validates DNSSEC, so an unsigned stand-in
    // answer would not pass): what matters here is where the question went.
    lookup(INTERNET_NAME);
    let (dns_on_eth0, dns_on_overlay) = (dns_on_eth0.finish(), dns_on_overlay.finish());
    for name in [bench.gateway_dns_name.as_str(), INTERNET_NAME] {
        assert!(
            dns_on_overlay.packets.iter().any(|p| p.contains(name)),
            "{name} was not asked of the gateway: {dns_on_overlay:?}"
        );
    }
    assert!(
        dns_on_eth0.packets.is_empty(),
        "DNS left the client's eth0: {dns_on_eth0:?}"
    );
}

/// Polls `condition` every 200 ms until it holds or `limit` passes (then panics with `what`).
fn wait_until(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The overlay breaks (the gateway drops VXLAN): the sidecar's reconnect fails, and the
/// container keeps running (pod-gateway's own sidecar would exit and wait out the kubelet's
/// back-off; ADR 0041); the overlay comes back and the client routes again, no restart.
fn assert_the_sidecar_survives_a_failed_reconnect(bench: &Bench) {
    let (client, gateway) = (&bench.client, &bench.gateway);
    let rule = ["INPUT", "-p", "udp", "--dport", "4790", "-j", "DROP"];
    let iptables = |op: &str| {
        let mut args = vec!["-w", op];
        args.extend(rule);
        gateway
            .netns_output("iptables", &args)
            .expect("iptables in the gateway");
    };
    iptables("-I");
    wait_until(Duration::from_secs(150), "a failed reconnect", || {
        client
            .logs("vpn-route-sidecar")
            .1
            .contains("reconnect failed")
    });
    assert!(
        client.is_running("vpn-route-sidecar"),
        "the sidecar ended on a failed reconnect: {:?}",
        client.logs("vpn-route-sidecar")
    );
    iptables("-D");
    let tunnel_addr = IpAddr::V4(bench.internet.spec().tunnel_addr);
    wait_until(
        Duration::from_secs(150),
        "routing again after the overlay is back",
        || {
            tcp_whoami(client.netns(), bench.internet_host(), PROBE)
                .expect("probe runs")
                .is_ok_and(|seen| seen == tunnel_addr)
        },
    );
    assert!(client.is_running("vpn-route-sidecar"));
}

/// Tunnel down: nothing outside the cluster answers, and no packet to the internet host
/// leaves the client's eth0 or the gateway's eth0 — while the client's packets do reach the
/// gateway over the overlay (the captures work). Cluster traffic is unaffected.
fn assert_nothing_leaves_with_the_tunnel_down(bench: &Bench, peer_addr: SocketAddrV4) {
    let (client, gateway) = (&bench.client, &bench.gateway);
    bench.internet.down().expect("tunnel down");
    let filter = format!("host {}", bench.internet.spec().hosts[0]);
    let client_eth0 = Capture::start(client.netns(), "eth0", &filter).expect("capture");
    let gateway_eth0 = Capture::start(gateway.netns(), "eth0", &filter).expect("capture");
    let gateway_vxlan0 = Capture::start(gateway.netns(), "vxlan0", &filter).expect("capture");
    let outcome = tcp_whoami(client.netns(), bench.internet_host(), PROBE).expect("probe runs");
    assert!(
        outcome.is_err(),
        "reached the internet with the tunnel down: {outcome:?}"
    );
    let (client_eth0, gateway_eth0, gateway_vxlan0) = (
        client_eth0.finish(),
        gateway_eth0.finish(),
        gateway_vxlan0.finish(),
    );
    assert!(
        !gateway_vxlan0.packets.is_empty(),
        "the client's packets never reached the gateway: {gateway_vxlan0:?}"
    );
    assert!(
        client_eth0.packets.is_empty(),
        "leaked from the client: {client_eth0:?}"
    );
    assert!(
        gateway_eth0.packets.is_empty(),
        "leaked from the gateway: {gateway_eth0:?}"
    );
    // Cluster traffic does not depend on the tunnel.
    let seen = tcp_whoami(client.netns(), peer_addr, PROBE)
        .expect("probe runs")
        .expect("the peer pod answers with the tunnel down");
    assert_eq!(seen, IpAddr::V4(client.ip()));
}

/// Issue 23, item 5: the wrapper's "no default route" test with the real iproute2 `ip` in a
/// pod (busybox's `ip` ignores the `default` selector, so with it the route would never be
/// restored and this test fails). `client_init.sh` is replaced by a stand-in that fails the
/// way upstream's can: after it has added a route via the pod's gateway and deleted the
/// default route. The rest of the image, and the init container, are exactly as rendered.
#[test]
fn vpn_route_init_restores_the_default_route_upstream_deleted_with_the_real_ip() {
    require_prerequisites!();
    let scratch = scratch();
    let cluster = Cluster::new(ClusterSpec::default()).expect("cluster");
    let client_rendered = render_pair(
        scratch.path(),
        cluster.spec(),
        InternetSpec::default().tunnel_addr,
    )
    .client;
    // pod-gateway's tree with only client_init.sh changed.
    let src = scratch.path().join("pod-gateway-stand-in");
    let real = pod_gateway_src();
    std::fs::create_dir_all(&src).expect("stand-in tree");
    for dir in ["bin", "config"] {
        let status = std::process::Command::new("cp")
            .arg("-a")
            .arg(real.join(dir))
            .arg(src.join(dir))
            .status();
        assert!(status.is_ok_and(|s| s.success()), "copying {dir}");
    }
    let stand_in = "#!/bin/sh\n\
        via=$(ip route show default | awk '{print $3; exit}')\n\
        [ -n \"$via\" ] && ip route replace 10.152.183.0/24 via \"$via\" dev eth0\n\
        ip route del default 2>/dev/null\n\
        echo 'client_init.sh stand-in: default route deleted, failing'\n\
        exit 1\n";
    std::fs::write(src.join("bin/client_init.sh"), stand_in).expect("stand-in script");
    let image = pod_net::pod_gateway::image(&src).expect("image");
    let client = cluster
        .add_pod(PodSpec::new(format!("{CLIENT_APP}-0"), MODEL))
        .expect("client pod");
    let init = rendered_container(
        &client_rendered,
        CLIENT_APP,
        "initContainers",
        "vpn-route-init",
    );
    let exited = client
        .run(&image, &init, Duration::from_secs(200))
        .expect("vpn-route-init runs");
    assert!(exited.success(), "{}", show(&exited));
    let node = client.node_ip();
    // Restored before attempts 2 and 3 and after the last, each time via the pod's gateway.
    assert_eq!(
        exited
            .stdout
            .matches(&format!(
                "vpn-route-init: restoring default route via {node}"
            ))
            .count(),
        3,
        "{}",
        show(&exited)
    );
    let default = client
        .netns_output("ip", &["route", "show", "default"])
        .expect("ip route");
    assert_eq!(
        default.trim(),
        format!("default via {node} dev eth0"),
        "{}",
        show(&exited)
    );
    assert!(
        exited.termination_message.starts_with(&format!(
            "{} after 3 attempts (last: client_init.sh exited 1)",
            vpn_gateway_iface::wrapper::NOT_ROUTED
        )),
        "{:?}",
        exited.termination_message
    );
}
