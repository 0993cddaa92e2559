//! What one hook reads, typed: the inputs [`crate::gather`] fills (or `render` builds from
//! files) and [`crate::plan`] decides from. Untrusted data stays as read (the gateway's
//! databag is validated by the plan, which names the field).

use std::collections::BTreeMap;

use charmarr_client::managers::ManagerRelation;
use charmarr_client::storage::StorageRelation;
use juju_charm::pebble::Plan as PebblePlan;
use juju_charm::tools::ports::Port;
use k8s_openapi::api::core::v1::{ConfigMap, EnvVar, PodDNSConfig};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::Value;
use vpn_gateway_iface::wrapper::RouteOutcome;
use vpn_gateway_iface::{AppName, Namespace, StatefulSetJson};

use crate::config::{Config, ConfigError};
use crate::credentials::{Password, Username};

/// Everything one hook read. Built by `gather` (or by hand in tests).
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Our application (also the StatefulSet's name).
    pub app: AppName,
    /// The model (the namespace).
    pub model: Namespace,
    /// The model's UUID (`JUJU_MODEL_UUID`; empty when unknown), for secret ids.
    pub model_uuid: String,
    /// This unit's number (the pod is `<app>-<number>`).
    pub unit_number: u32,
    /// Whether this unit leads.
    pub leader: bool,
    /// The config, validated.
    pub config: Result<Config, ConfigError>,
    /// The `vpn-gateway` relation.
    pub relation: Relation,
    /// The `download-client` relations (media managers), in id order.
    pub managers: Vec<ManagerRelation>,
    /// The `media-storage` relation.
    pub storage: Option<StorageRelation>,
    /// The credentials secret's id as `secret-info-get` printed it (the bare id; untrusted, the leader
    /// reads it while a download-client relation exists and the secret does).
    pub secret_id: Option<String>,
    /// What the leader read from the cluster.
    pub cluster: Cluster,
    /// This unit's Pod object.
    pub pod: PodView,
    /// The workload container.
    pub workload: Workload,
    /// The WebUI credentials.
    pub credentials: Credentials,
    /// Ports this unit opened.
    pub opened_ports: Vec<Port>,
}

/// The `vpn-gateway` relation as this hook sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relation {
    /// No relation (or it is being broken).
    Absent,
    /// Related.
    Joined {
        /// The relation id.
        id: u64,
        /// The gateway application, when Juju knows it yet.
        remote_app: Option<String>,
        /// The gateway's `config` value (untrusted), if published yet.
        provider_config: Option<String>,
        /// Our own `config` value (read by the leader only).
        our_config: Option<String>,
    },
}

/// The leader's view of our Kubernetes objects.
#[derive(Debug, Clone)]
pub enum Cluster {
    /// Not read (non-leader units do not touch the cluster).
    NotRead,
    /// A read answered 403: the Blocked message naming the permission (`--trust`).
    Forbidden(String),
    /// The live objects.
    Live(Box<Live>),
}

/// Our objects as the API server holds them (`None` = absent).
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// The application's StatefulSet (Juju's).
    pub statefulset: Option<StatefulSetJson>,
    /// The kill-switch NetworkPolicy.
    pub network_policy: Option<NetworkPolicy>,
    /// Whether `ciliumnetworkpolicies.cilium.io` exists.
    pub cilium_crd: bool,
    /// The CiliumNetworkPolicy, as JSON.
    pub cilium_policy: Option<Value>,
    /// The client ConfigMap.
    pub config_map: Option<ConfigMap>,
    /// The model namespace's labels (its Pod Security level).
    pub namespace_labels: BTreeMap<String, String>,
    /// The API server's endpoints, as read.
    pub api_server: ApiServerObject,
}

/// `default/kubernetes` as read (untrusted JSON, checked by the plan): its EndpointSlice, else
/// its Endpoints (vpn_gateway_iface::api_server).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ApiServerObject {
    /// Neither exists.
    #[default]
    Absent,
    /// The EndpointSlice (`discovery.k8s.io/v1`).
    Slice(Value),
    /// The Endpoints (`v1`), read when there is no EndpointSlice.
    Endpoints(Value),
}

/// This unit's Pod.
#[derive(Debug, Clone)]
pub enum PodView {
    /// Read (`None`: absent).
    Read(Option<Box<PodRouting>>),
    /// 403: the Blocked message.
    Forbidden(String),
}

/// The workload container as seen through Pebble.
#[derive(Debug, Clone)]
pub enum Workload {
    /// Pebble does not answer yet.
    Unreachable,
    /// Pebble answers.
    Reachable {
        /// The combined plan.
        plan: PebblePlan,
        /// Whether the `qbittorrent` service runs.
        running: bool,
        /// `qBittorrent.conf`, if present (and UTF-8).
        conf: Option<String>,
        /// `categories.json`, if present (not UTF-8: read as text that is not JSON).
        categories: Option<String>,
    },
}

/// The WebUI credentials.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// No secret yet and this unit cannot create it (not the leader).
    Missing,
    /// The secret holds an invalid username or password.
    Invalid,
    /// Known credentials.
    Known {
        /// The username.
        username: Username,
        /// The hash to write: the stored one when it still verifies, else a fresh one.
        password_hash: String,
        /// Set when the leader generated these credentials in this hook: the secret to create.
        create: Option<Password>,
    },
}

/// What [`pod_routed`] compares of this unit's Pod: its annotations and its (init)
/// containers' name, image, command and env, decoded straight from the API's answer; a
/// whole Pod or PodTemplateSpec would compile the pod type tree's deserializers into the
/// binary (ADR 0026). Optional fields are `Option`s as in k8s-openapi (a `null` is absent).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct PodRouting {
    /// `metadata`.
    pub metadata: Option<PodRoutingMeta>,
    /// `spec`.
    pub spec: Option<PodRoutingSpec>,
    /// `status` (the kubelet's report: whether vpn-route-init routed the pod).
    pub status: Option<PodRoutingStatus>,
}

/// See [`PodRouting`].
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct PodRoutingStatus {
    /// `status.initContainerStatuses`.
    #[serde(rename = "initContainerStatuses")]
    pub init_container_statuses: Option<Vec<ContainerStatusView>>,
}

/// A container's `name` and `state.terminated` (the rest of its status is not read).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct ContainerStatusView {
    /// `name`.
    pub name: String,
    /// `state`.
    pub state: Option<ContainerStateView>,
}

/// See [`ContainerStatusView`].
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct ContainerStateView {
    /// `terminated`.
    pub terminated: Option<TerminatedView>,
}

/// See [`ContainerStatusView`].
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct TerminatedView {
    /// `exitCode`.
    #[serde(rename = "exitCode")]
    pub exit_code: i32,
    /// `message` (the termination message).
    pub message: Option<String>,
}

impl PodRouting {
    /// What the status says of init container `name`'s route (docs/adr/0021).
    pub fn route_outcome(&self, name: &str) -> RouteOutcome {
        let terminated = self
            .status
            .as_ref()
            .and_then(|s| s.init_container_statuses.as_deref())
            .and_then(|all| all.iter().find(|c| c.name == name))
            .and_then(|c| c.state.as_ref()?.terminated.as_ref())
            .map(|t| (t.exit_code, t.message.as_deref()));
        RouteOutcome::of(terminated)
    }
}

/// See [`PodRouting`].
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct PodRoutingMeta {
    /// `metadata.annotations`.
    pub annotations: Option<BTreeMap<String, String>>,
}

/// See [`PodRouting`].
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct PodRoutingSpec {
    /// `spec.containers`.
    pub containers: Vec<RoutedContainer>,
    /// `spec.initContainers`.
    #[serde(rename = "initContainers")]
    pub init_containers: Option<Vec<RoutedContainer>>,
    /// `spec.dnsPolicy`.
    #[serde(rename = "dnsPolicy")]
    pub dns_policy: Option<String>,
    /// `spec.dnsConfig`.
    #[serde(rename = "dnsConfig")]
    pub dns_config: Option<PodDNSConfig>,
    /// `spec.volumes`, as JSON (only the shared claim's is compared).
    pub volumes: Option<Vec<Value>>,
}

/// See [`PodRouting`].
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct RoutedContainer {
    /// `name`.
    pub name: String,
    /// `image`.
    pub image: Option<String>,
    /// `command`.
    pub command: Option<Vec<String>>,
    /// `env`.
    pub env: Option<Vec<EnvVar>>,
    /// `volumeMounts`, as JSON (only the shared claim's is compared).
    #[serde(rename = "volumeMounts")]
    pub volume_mounts: Option<Vec<Value>>,
}
