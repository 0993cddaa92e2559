//! Shared helpers of the simulator tests: the real `qbittorrent-k8s` binary and a stand-in
//! gateway charm (`tests/charms/gateway`, publishing its `data` option verbatim) in a
//! `juju_sim::model::Model` on a real kube-apiserver.

#![allow(dead_code)]

use std::path::Path;

use juju_sim::kubelet::Scripted;
use juju_sim::model::Model;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;
use serde_json::{Value, json};
use vpn_gateway_iface::client::VPN_ROUTE_INIT;
use vpn_gateway_iface::{filter, wrapper};

/// Test result.
pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The model (namespace) name.
pub const MODEL: &str = "downloads";
/// Our application.
pub const APP: &str = "qbittorrent";
/// Our unit.
pub const UNIT: &str = "qbittorrent/0";

/// The stand-in gateway charm directory.
pub fn gateway_charm() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/charms/gateway")
        .display()
        .to_string()
}

/// A new model; the simulator finds `target/<profile>/qbittorrent-k8s` and
/// `juju-sim-tool` (build it first: `cargo build -p juju-sim --bin juju-sim-tool`).
pub fn model(dir: &Path) -> Result<Model, Box<dyn std::error::Error>> {
    if juju_sim::runner::tool_binary().is_none() {
        return Err(
            "juju-sim-tool not built: run `cargo build -p juju-sim --bin juju-sim-tool`".into(),
        );
    }
    let mut model = Model::new(dir, MODEL)?;
    // The stand-in gateway runs no pod-gateway, so no init container can route the pod: the
    // kubelet reports the in-pod filter as installed and vpn-route-init as our wrapper does
    // for a reachable gateway. The real scripts run in tests/tests/sim_data_path.rs.
    model.script_containers([filter_init(), route_init(0, wrapper::ROUTED)]);
    Ok(model)
}

/// The in-pod filter's init container, exited 0 (as the kubelet reports it).
pub fn filter_init() -> (String, Scripted) {
    (
        filter::KILLSWITCH_INIT.to_owned(),
        Scripted::Exited {
            code: 0,
            message: String::new(),
        },
    )
}

/// vpn-route-init's outcome, as the kubelet reports it.
pub fn route_init(code: i32, message: &str) -> (String, Scripted) {
    (
        VPN_ROUTE_INIT.to_owned(),
        Scripted::Exited {
            code,
            message: message.to_owned(),
        },
    )
}

/// `K=V` pairs.
pub fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Valid gateway data with `overrides` merged in.
pub fn gateway_data(overrides: &Value) -> String {
    let mut v = json!({
        "routing_method": "pod-gateway",
        "gateway_dns_name": "vpnarr-endpoints.downloads.svc.cluster.local",
        "vxlan_id": 42,
        "vxlan_ip_network": "172.16.0",
        "vxlan_port": 4790,
        "cluster_cidrs": "10.42.0.0/16,10.43.0.0/16,169.254.7.127/32",
        "cluster_dns_ip": "10.43.0.10",
        "vpn_connected": true,
        "external_ip": "203.0.113.7",
        "instance_name": "vpnarr"
    });
    if let (Value::Object(base), Value::Object(extra)) = (&mut v, overrides) {
        for (k, val) in extra {
            base.insert(k.clone(), val.clone());
        }
    }
    v.to_string()
}

/// `(current, message)` of a unit's workload status.
pub fn status(model: &Model, unit: &str) -> (String, String) {
    let app = unit.split('/').next().unwrap_or_default();
    let s = model.status();
    let w = &s["applications"][app]["units"][unit]["workload-status"];
    (
        w["current"].as_str().unwrap_or_default().to_owned(),
        w["message"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Pebble's view of the `qbittorrent` service (`active`, `inactive`, ...), if defined.
pub fn service(model: &Model, unit: &str) -> Option<String> {
    model
        .pebble(unit, "qbittorrent")?
        .pointer("/services/qbittorrent")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The host directory standing for the container's root filesystem.
pub fn container_root(model: &Model, unit: &str) -> Option<String> {
    model
        .pebble(unit, "qbittorrent")?
        .get("root")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Where the unit's `qBittorrent.conf` lives on the host (the `config` storage's directory).
pub fn find_conf(dir: &Path) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_conf(&path) {
                return Some(found);
            }
        } else if path.ends_with("qBittorrent/config/qBittorrent.conf") {
            return Some(path);
        }
    }
    None
}

/// API requests `unit` sent since history index `from`, in order.
pub fn requests_since(model: &Model, unit: &str, from: usize) -> Vec<String> {
    model.history()[from..]
        .iter()
        .filter(|r| r.unit == unit)
        .flat_map(|r| r.api_requests.clone())
        .collect()
}

/// Only the writes among `requests`.
pub fn writes(requests: &[String]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| !r.starts_with("GET "))
        .cloned()
        .collect()
}

/// Hooks `unit` ran since `from`.
pub fn hooks_since(model: &Model, unit: &str, from: usize) -> Vec<String> {
    model.history()[from..]
        .iter()
        .filter(|r| r.unit == unit)
        .map(|r| r.hook.clone())
        .collect()
}

/// Failed hooks since `from` with their stderr.
pub fn failures_since(model: &Model, from: usize) -> Vec<String> {
    model.history()[from..]
        .iter()
        .filter(|r| r.code != 0)
        .map(|r| format!("{} {} ({}): {}", r.unit, r.hook, r.code, r.stderr))
        .collect()
}

/// Our objects as the API server holds them.
pub struct Objects {
    /// The StatefulSet.
    pub statefulset: Option<StatefulSet>,
    /// The kill switch.
    pub network_policy: Option<NetworkPolicy>,
    /// The client ConfigMap.
    pub config_map: Option<ConfigMap>,
    /// The unit's pod.
    pub pod: Option<Pod>,
}

impl Objects {
    /// Reads them with the admin client.
    pub fn read(model: &Model) -> Self {
        model.with_admin(|c| async move {
            let ss = Api::<StatefulSet>::namespaced(c.clone(), MODEL)
                .get_opt(APP)
                .await
                .ok()
                .flatten();
            let np = Api::<NetworkPolicy>::namespaced(c.clone(), MODEL)
                .get_opt("qbittorrent-vpn-killswitch")
                .await
                .ok()
                .flatten();
            let cm = Api::<ConfigMap>::namespaced(c.clone(), MODEL)
                .get_opt("qbittorrent-gateway-client-config")
                .await
                .ok()
                .flatten();
            let pod = Api::<Pod>::namespaced(c, MODEL)
                .get_opt("qbittorrent-0")
                .await
                .ok()
                .flatten();
            Self {
                statefulset: ss,
                network_policy: np,
                config_map: cm,
                pod,
            }
        })
    }

    /// Whether the StatefulSet template carries our init container.
    pub fn routed_template(&self) -> bool {
        self.statefulset
            .as_ref()
            .and_then(|s| s.spec.as_ref())
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|p| p.init_containers.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.name == "vpn-route-init"))
    }

    /// Whether the template carries the in-pod filter (kill switch layer 0).
    pub fn filtered_template(&self) -> bool {
        self.statefulset
            .as_ref()
            .and_then(|s| s.spec.as_ref())
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|p| p.init_containers.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.name == "vpn-killswitch"))
    }

    /// Whether the running pod carries our init container.
    pub fn routed_pod(&self) -> bool {
        self.pod
            .as_ref()
            .and_then(|p| p.spec.as_ref())
            .and_then(|p| p.init_containers.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.name == "vpn-route-init"))
    }
}
