//! What the data-path tests share (data_path.rs, data_path_gateway.rs): the prerequisites
//! check, the charms' renders, and turning a rendered container into one pod-net runs.
//! Each test file uses part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use pod_net::{
    Cluster, ClusterSpec, Container, Image, Internet, InternetSpec, Pod, PodSpec, Volume, Whoami,
};
use serde_json::{Value, json};

/// The model both apps are deployed in.
pub const MODEL: &str = "charmarr-downloads";
/// The gateway application.
pub const GATEWAY_APP: &str = "vpnarr";
/// The client application.
pub const CLIENT_APP: &str = "qbittorrent";
/// The port every whoami listener serves.
pub const PORT: u16 = 8080;
/// How long one probe may take.
pub const PROBE: Duration = Duration::from_secs(3);

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

pub fn pod_gateway_src() -> PathBuf {
    std::env::var_os("POD_GATEWAY_SRC").map_or_else(
        || workspace_root().join("../shared/third_party/pod-gateway-v1.13.0"),
        PathBuf::from,
    )
}

/// Why this test cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    if !rustix_is_root() {
        return Some("not root (network namespaces need it)".into());
    }
    let tools = [
        "ip",
        "bridge",
        "ss",
        "nsenter",
        "unshare",
        "chroot",
        "busybox",
        "bash",
        "timeout",
        "dnsmasq",
        "dig",
        "iptables",
        "tcpdump",
        "inotifywait",
    ];
    for tool in tools {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
        if !found {
            return Some(format!("{tool} is not installed"));
        }
    }
    let src = pod_gateway_src();
    if !["bin/client_init.sh", "bin/gateway_init.sh"]
        .iter()
        .all(|script| src.join(script).is_file())
    {
        return Some(format!(
            "pod-gateway's source is not at {} (set POD_GATEWAY_SRC)",
            src.display()
        ));
    }
    None
}

pub fn rustix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

/// Returns from the test (printing why) when the prerequisites are missing.
#[macro_export]
macro_rules! require_prerequisites {
    () => {
        if let Some(reason) = $crate::support::unavailable() {
            eprintln!("skipping: {reason}");
            return;
        }
    };
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// gluetun-k8s's render, connected, for a cluster with `spec`'s address plan.
pub fn gateway_render(dir: &Path, spec: &ClusterSpec, exit_ip: Ipv4Addr) -> Value {
    let config = dir.join("gluetun-config.json");
    let options = json!({
        "cluster-cidrs": format!("{},{}", spec.pod_cidr, spec.service_cidr),
        "vpn-provider": "mullvad",
        "wireguard-addresses": "10.64.222.21/32",
        "wireguard-private-key-secret": "secret:d0f6t2fmp25c77ggkdsg",
    });
    std::fs::write(&config, options.to_string()).expect("write config");
    juju_charm::render::output::<gluetun_k8s::GluetunK8s>(&gluetun_k8s::render::RenderArgs {
        app: GATEWAY_APP.into(),
        model: MODEL.into(),
        statefulset: fixture("statefulset-vpnarr.json"),
        config,
        cluster_dns_ip: IpAddr::V4(spec.dns_ip),
        vpn_connected: true,
        external_ip: Some(IpAddr::V4(exit_ip)),
    })
    .expect("gateway renders")
}

/// qbittorrent-k8s's render with the gateway's databag value as it reads it from the relation.
pub fn client_render(dir: &Path, databag: &str) -> Value {
    let data = dir.join("gateway-data.json");
    std::fs::write(&data, databag).expect("write gateway data");
    juju_charm::render::output::<qbittorrent_k8s::QbittorrentK8s>(
        &qbittorrent_k8s::render::RenderArgs {
            app: CLIENT_APP.into(),
            model: MODEL.into(),
            statefulset: fixture("statefulset-qbittorrent.json"),
            gateway_data: Some(data),
            cilium: false,
            storage_data: None,
        },
    )
    .expect("client renders")
}

/// Both charms rendered as related: the gateway's render, the client's render of the databag
/// the gateway publishes, and the `gateway_dns_name` in it.
pub struct RenderedPair {
    /// gluetun-k8s's render.
    pub gateway: Value,
    /// qbittorrent-k8s's render with that relation data.
    pub client: Value,
    /// The name clients resolve to find the gateway.
    pub gateway_dns_name: String,
}

/// [`gateway_render`], then [`client_render`] of the databag it publishes.
pub fn render_pair(dir: &Path, spec: &ClusterSpec, exit_ip: Ipv4Addr) -> RenderedPair {
    let gateway = gateway_render(dir, spec, exit_ip);
    let databag = gateway["relation_data"]["config"]
        .as_str()
        .expect("config is a JSON string")
        .to_owned();
    let client = client_render(dir, &databag);
    let provider: Value = serde_json::from_str(&databag).expect("databag is JSON");
    let gateway_dns_name = provider["gateway_dns_name"]
        .as_str()
        .expect("gateway_dns_name")
        .to_owned();
    RenderedPair {
        gateway,
        client,
        gateway_dns_name,
    }
}

/// A rendered object by kind and name.
pub fn object<'a>(rendered: &'a Value, kind: &str, name: &str) -> &'a Value {
    rendered["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {rendered:#}"))
}

pub fn strings(value: &Value) -> Vec<String> {
    value.as_array().map_or_else(Vec::new, |a| {
        a.iter()
            .map(|s| s.as_str().expect("a string").to_owned())
            .collect()
    })
}

/// Container `name` of the rendered StatefulSet `app` (`list`: `initContainers` or
/// `containers`) as pod-net runs it: its command, args and env, and each ConfigMap volume
/// with that ConfigMap's rendered data.
pub fn rendered_container(rendered: &Value, app: &str, list: &str, name: &str) -> Container {
    let pod_spec = &object(rendered, "StatefulSet", app)["spec"]["template"]["spec"];
    let container = pod_spec[list]
        .as_array()
        .expect("container list")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {list} {name} in {pod_spec:#}"));
    let env = container["env"].as_array().map_or_else(Vec::new, |env| {
        env.iter()
            .map(|e| {
                let value = e["value"]
                    .as_str()
                    .unwrap_or_else(|| panic!("env without a literal value: {e}"));
                (
                    e["name"].as_str().expect("env name").to_owned(),
                    value.to_owned(),
                )
            })
            .collect()
    });
    let volumes = container["volumeMounts"]
        .as_array()
        .map_or_else(Vec::new, |mounts| {
            mounts
                .iter()
                .map(|m| {
                    let volume = pod_spec["volumes"]
                        .as_array()
                        .expect("volumes")
                        .iter()
                        .find(|v| v["name"] == m["name"])
                        .expect("mounted volume exists");
                    let cm_name = volume["configMap"]["name"]
                        .as_str()
                        .unwrap_or_else(|| panic!("not a ConfigMap volume: {volume}"));
                    let data = &object(rendered, "ConfigMap", cm_name)["data"];
                    let files: BTreeMap<String, String> = data
                        .as_object()
                        .expect("ConfigMap data")
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().expect("data value").to_owned()))
                        .collect();
                    Volume {
                        mount_path: m["mountPath"].as_str().expect("mountPath").to_owned(),
                        files,
                    }
                })
                .collect()
        });
    Container {
        name: name.to_owned(),
        command: strings(&container["command"]),
        args: strings(&container["args"]),
        env,
        volumes,
    }
}

pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("charmarr-data-path-")
        .tempdir()
        .expect("temp dir")
}

pub fn show(exited: &pod_net::Exited) -> String {
    format!(
        "exit {:?} after {:?} (timed out: {})\n--- stdout\n{}\n--- stderr\n{}",
        exited.code, exited.elapsed, exited.timed_out, exited.stdout, exited.stderr
    )
}

/// Runs the gateway pod as the kubelet would: `init` (gateway-init) to completion, then
/// gluetun's tunnel (the stand-in) and `sidecar` (gateway-sidecar), waiting for its DHCP
/// server. Returns the tunnel.
pub fn start_gateway(
    cluster: &Cluster,
    gateway: &Pod,
    image: &Image,
    init: &Container,
    sidecar: &Container,
    internet: InternetSpec,
) -> Internet {
    let exited = gateway
        .run(image, init, Duration::from_mins(1))
        .expect("gateway-init runs");
    assert!(exited.success(), "gateway-init: {}", show(&exited));
    // gluetun starts with the pod's containers, after the init containers.
    let tunnel = Internet::attach(cluster, gateway, internet).expect("tunnel");
    gateway
        .start(image, sidecar)
        .expect("gateway-sidecar starts");
    if let Err(e) = gateway.wait_listening("udp", 67, Duration::from_secs(20)) {
        panic!(
            "gateway-sidecar's DHCP server: {e}: {:?}",
            gateway.logs("gateway-sidecar")
        );
    }
    tunnel
}

/// An unrouted peer pod `sonarr-0` in the model, with a whoami listener on [`PORT`].
pub fn peer_pod(cluster: &Cluster) -> (Pod, Whoami) {
    let peer = cluster
        .add_pod(PodSpec::new("sonarr-0", MODEL))
        .expect("peer pod");
    let whoami =
        Whoami::start(peer.netns(), SocketAddrV4::new(peer.ip(), PORT)).expect("peer listener");
    (peer, whoami)
}
