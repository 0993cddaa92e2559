//! The charm's names and numbers: what it writes under which name, its statuses' wording,
//! and its time budgets. Every other room imports them from here.

use std::time::Duration;

/// Field manager of every write, and the `managed-by` label.
pub const FIELD_MANAGER: &str = "gluetun-k8s";
/// The hook's total time for Kubernetes requests, retries included.
pub const KUBE_BUDGET: Duration = Duration::from_secs(30);
/// Pebble's per-request deadline.
pub const PEBBLE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a replan or restart may wait for Pebble's change.
pub const SERVICE_WAIT: Duration = Duration::from_secs(20);

/// The relation endpoint we provide.
pub const ENDPOINT: &str = "vpn-gateway";
/// The config option naming the WireGuard key secret.
pub const KEY_OPTION: &str = "wireguard-private-key-secret";
/// The attribute of that secret holding the key.
pub const KEY_ATTRIBUTE: &str = "private-key";
/// Label of the application-owned secret holding the control server's API key.
pub const API_KEY_LABEL: &str = "gluetun-control-api-key";
/// Attribute of that secret.
pub const API_KEY_ATTRIBUTE: &str = "api-key";
/// The Pebble layer label.
pub const LAYER_LABEL: &str = "gluetun";
/// Namespace of the cluster DNS Service.
pub const DNS_NAMESPACE: &str = "kube-system";
/// Names of the cluster DNS Service, in order.
pub const DNS_SERVICES: [&str; 2] = ["kube-dns", "coredns"];

/// Status of a non-leader unit.
pub const STANDBY: &str = "Standby (non-leader unit)";
/// Status when more than one unit is planned.
pub const SCALE_TO_ONE: &str = "Scale to 1 unit (multiple gateways cause VXLAN conflicts)";
/// Status while Pebble is not reachable.
pub const WAITING_FOR_PEBBLE: &str = "Waiting for Pebble";
/// Status when the health check finds no exit IP.
pub const VPN_NOT_CONNECTED: &str = "VPN not connected";
/// Status when the cluster has no DNS Service to publish.
pub const NO_CLUSTER_DNS: &str =
    "cluster DNS not found: no ClusterIP on kube-system/kube-dns or coredns";
