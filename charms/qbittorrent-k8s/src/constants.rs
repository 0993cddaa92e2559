//! The charm's names and numbers: what it writes under which name, its statuses' wording,
//! and its time budgets. Every other room imports them from here.

use std::time::Duration;

use kube::core::ApiResource;
use vpn_gateway_iface::killswitch::{CILIUM_API_VERSION, CILIUM_KIND};

/// Field manager of every write (and the `managed-by` label).
pub const FIELD_MANAGER: &str = "qbittorrent-k8s";
/// Time all Kubernetes requests of one hook may take, retries included.
pub const KUBE_BUDGET: Duration = Duration::from_mins(1);
/// How long a service start/stop/restart may take.
pub const SERVICE_WAIT: Duration = Duration::from_secs(30);

/// The relation endpoint.
pub const ENDPOINT: &str = "vpn-gateway";
/// The workload container.
pub const CONTAINER: &str = "qbittorrent";
/// Where qBittorrent (with `--profile=/config`) keeps its settings.
pub const CONF_PATH: &str = "/config/qBittorrent/config/qBittorrent.conf";
/// Label of the application-owned credentials secret.
pub const SECRET_LABEL: &str = "credentials";
/// Key of the username in the credentials secret.
pub const USERNAME_KEY: &str = "username";
/// Key of the password in the credentials secret.
pub const PASSWORD_KEY: &str = "password";
/// Key of the PBKDF2 hash of the password in the credentials secret, written with the
/// password so that a hook compares strings instead of running 100 000 PBKDF2 iterations
/// (docs/benchmarks.md). Secrets without it (the reference charm's) take the verify path.
pub const HASH_KEY: &str = "password-hash";

/// No relation, `unsafe-mode=false`.
pub const MSG_NO_RELATION: &str = "Waiting for vpn-gateway relation (or set unsafe-mode=true)";
/// The relation went away and the kill switch stays.
pub const MSG_RELATION_REMOVED: &str = "VPN relation removed: egress blocked by kill switch";
/// The gateway reports `vpn_connected=false`.
pub const MSG_VPN_DISCONNECTED: &str = "Waiting for VPN connection";
/// qBittorrent's default save path without a media-storage relation: its own default
/// (`$HOME/Downloads`), on the config storage (docs/adr/0042).
pub const STANDALONE_SAVE_PATH: &str = "/config/Downloads";
/// Running without a media-storage relation (docs/adr/0042).
pub const MSG_STANDALONE: &str = "no media-storage relation: downloads stay in /config";
/// Valid data, but this pod does not carry the routing yet.
pub const MSG_POD_NOT_ROUTED: &str = "Waiting for the pod to restart with VPN routing";
/// The pod carries the routing; vpn-route-init has not reported its outcome yet.
pub const MSG_ROUTE_PENDING: &str = "Waiting for vpn-route-init to report the VPN route";
/// vpn-route-init gave up: the gateway was unreachable (followed by the fix).
pub const MSG_ROUTE_UNREACHABLE: &str = "VPN route not up: gateway unreachable";
/// vpn-route-init ended without reporting a route (followed by where to look).
pub const MSG_ROUTE_FAILED: &str = "VPN route not up: vpn-route-init did not report routed";

/// The CiliumNetworkPolicy resource.
pub fn cilium_resource() -> ApiResource {
    ApiResource {
        group: "cilium.io".to_owned(),
        version: "v2".to_owned(),
        api_version: CILIUM_API_VERSION.to_owned(),
        kind: CILIUM_KIND.to_owned(),
        plural: "ciliumnetworkpolicies".to_owned(),
    }
}
