//! The pure heart of the charm: from everything a hook read ([`Inputs`]) to everything it
//! must change ([`Plan`]), in order. No I/O, no handles: most tests are plain `#[test]`s here.
//!
//! Fail-closed rules (ADR 0010):
//! - Kubernetes (leader only): with valid gateway data the kill switch (NetworkPolicy, plus the
//!   CiliumNetworkPolicy where Cilium's CRD exists) comes FIRST, then the client ConfigMap,
//!   then the StatefulSet patch; each only when the live object does not hold it already.
//!   Without a relation the routing goes (patch, then ConfigMap) and the kill switch stays,
//!   unless `unsafe-mode=true`, in which case it is removed LAST. Invalid gateway data or a
//!   relation without data yet change nothing.
//! - Workload (every unit): with `unsafe-mode=false` qBittorrent runs only when valid gateway
//!   data exists AND the running Pod carries the routing for exactly that data; otherwise it
//!   is stopped (first, before anything else changes).
//! - Shared storage (docs/adr/0042): the claim of the `media-storage` relation is mounted
//!   after the routing steps, and removed when the relation goes; qBittorrent runs only once
//!   its Pod carries the mount (downloads never land in the container's own filesystem).
//! - Media managers (docs/adr/0043, leader): grant-then-publish on every `download-client`
//!   relation whose databag does not hold our data yet; an invalid manager is skipped and
//!   named in a Blocked status.

use std::fmt;

use charmarr_client::managers::{self, Offer, OfferedSecret, Publish};
use charmarr_client::storage::{self, MountStep, Storage};
use charmarr_iface::ApiUrl;
use charmarr_iface::download_client::DownloadClient;
use juju_charm::pebble::{Layer, Startup};
use juju_charm::tools::ports::{Port, Protocol};
use juju_charm::{Planned, Status};
use k8s_openapi::api::core::v1::{ConfigMap, Container};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::Value;
use vpn_gateway_iface::api_server::{self, ApiServerEndpoints};
use vpn_gateway_iface::client::{
    self, client_additions, client_config_map, client_config_map_name, client_owned_names,
    killswitch_owned_names,
};
use vpn_gateway_iface::holds::{cilium_policy_holds, config_map_holds, network_policy_holds};
use vpn_gateway_iface::killswitch::{
    cilium_policy, cilium_policy_name, network_policy, network_policy_name,
};
use vpn_gateway_iface::pod_security;
use vpn_gateway_iface::statefulset::DNS_POLICY_NONE;
use vpn_gateway_iface::wrapper::RouteOutcome;
use vpn_gateway_iface::{
    InvalidField, OwnedNames, Owner, PodAdditions, Problem, ProviderData, RequirerData,
};

use crate::conf::{self, Managed};
use crate::constants::{
    CONTAINER, FIELD_MANAGER, MSG_NO_RELATION, MSG_POD_NOT_ROUTED, MSG_RELATION_REMOVED,
    MSG_ROUTE_FAILED, MSG_ROUTE_PENDING, MSG_ROUTE_UNREACHABLE, MSG_STANDALONE,
    MSG_VPN_DISCONNECTED, STANDALONE_SAVE_PATH,
};
use crate::credentials::{Password, Username};
use crate::inputs::{
    ApiServerObject, Cluster, Credentials, Inputs, PodRouting, PodView, Relation, RoutedContainer,
    Workload,
};
use crate::workload;

/// One Kubernetes write, in the order of [`Plan::kube`].
#[derive(Debug, Clone, PartialEq)]
pub enum KubeStep {
    /// Server-side apply the kill-switch NetworkPolicy.
    ApplyNetworkPolicy(Box<NetworkPolicy>),
    /// Server-side apply the CiliumNetworkPolicy.
    ApplyCiliumPolicy(Value),
    /// Server-side apply the client ConfigMap.
    ApplyConfigMap(Box<ConfigMap>),
    /// Strategic-merge patch our routing into the StatefulSet (named first).
    PatchStatefulSet(String, Box<PodAdditions>),
    /// Strategic-merge patch our routing out of the StatefulSet (named first).
    RemoveRouting(String, OwnedNames),
    /// Delete the client ConfigMap.
    DeleteConfigMap(String),
    /// Delete the CiliumNetworkPolicy.
    DeleteCiliumPolicy(String),
    /// Delete the kill-switch NetworkPolicy.
    DeleteNetworkPolicy(String),
    /// Strategic-merge patch the shared claim's volume, mount and `fsGroup` in or out of the
    /// StatefulSet (named first).
    SharedStorage(String, MountStep),
}

impl fmt::Display for KubeStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            m.name.clone().unwrap_or_default()
        };
        match self {
            Self::ApplyNetworkPolicy(np) => write!(f, "apply networkpolicy {}", name(&np.metadata)),
            Self::ApplyCiliumPolicy(v) => write!(
                f,
                "apply ciliumnetworkpolicy {}",
                v.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            ),
            Self::ApplyConfigMap(cm) => write!(f, "apply configmap {}", name(&cm.metadata)),
            Self::PatchStatefulSet(n, _) => write!(f, "patch statefulset {n}: add routing"),
            Self::RemoveRouting(n, _) => write!(f, "patch statefulset {n}: remove routing"),
            Self::DeleteConfigMap(n) => write!(f, "delete configmap {n}"),
            Self::DeleteCiliumPolicy(n) => write!(f, "delete ciliumnetworkpolicy {n}"),
            Self::DeleteNetworkPolicy(n) => write!(f, "delete networkpolicy {n}"),
            Self::SharedStorage(n, MountStep::Mount(m)) => write!(
                f,
                "patch statefulset {n}: mount claim {} at {}",
                m.data.pvc_name.as_str(),
                m.data.mount_path.as_str()
            ),
            Self::SharedStorage(n, MountStep::Unmount(_)) => {
                write!(f, "patch statefulset {n}: remove the shared claim")
            }
        }
    }
}

/// One change to the workload container, in the order of [`Plan::workload`].
#[derive(Clone, PartialEq)]
pub enum WorkloadStep {
    /// Stop the service.
    Stop,
    /// Write `qBittorrent.conf` (only while the service is stopped: qBittorrent writes its
    /// settings back on exit and would overwrite ours).
    PushConf(String),
    /// Write `categories.json` (only while the service is stopped, as the conf).
    PushCategories(String),
    /// Add (combine) the layer.
    AddLayer(Box<Layer>),
    /// Restart the service (starts it when stopped).
    Restart,
}

impl fmt::Debug for WorkloadStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stop => f.write_str("Stop"),
            // The file holds a password hash: never printed.
            Self::PushConf(c) => write!(f, "PushConf({} bytes)", c.len()),
            Self::PushCategories(c) => write!(f, "PushCategories({} bytes)", c.len()),
            Self::AddLayer(_) => f.write_str("AddLayer"),
            Self::Restart => f.write_str("Restart"),
        }
    }
}

/// A port change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortStep {
    /// `open-port`.
    Open(Port),
    /// `close-port`.
    Close(Port),
}

/// Credentials the leader creates in this hook. `Debug` shows neither password nor hash.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSecret {
    /// The username.
    pub username: Username,
    /// The generated password (its `Debug` is redacted).
    pub password: Password,
    /// Its PBKDF2 hash, kept in the secret beside it.
    pub password_hash: String,
}

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSecret")
            .field("username", &self.username)
            .field("password", &self.password)
            .field("password_hash", &"<redacted>")
            .finish()
    }
}

/// Everything the hook changes, in order: secret, databag, workload, cluster, ports; then
/// the statuses (folded, most severe first, by the runtime).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The credentials secret to create (leader, first hook).
    pub create_secret: Option<NewSecret>,
    /// `(relation id, config)` to publish in our application databag.
    pub publish: Option<(u64, String)>,
    /// Grant-then-publish on these download-client relations (after `create_secret`).
    pub download_client: Option<Publish>,
    /// Workload changes.
    pub workload: Vec<WorkloadStep>,
    /// Kubernetes writes.
    pub kube: Vec<KubeStep>,
    /// Port changes.
    pub ports: Vec<PortStep>,
    /// Statuses to report.
    pub statuses: Vec<Status>,
}

impl Planned for Plan {
    fn statuses(&self) -> &[Status] {
        &self.statuses
    }

    /// True when the plan changes nothing (steady state).
    fn writes_nothing(&self) -> bool {
        self.create_secret.is_none()
            && self.publish.is_none()
            && self.download_client.is_none()
            && self.workload.is_empty()
            && self.kube.is_empty()
            && self.ports.is_empty()
    }
}

/// What the gateway's databag says, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    /// No relation.
    Absent,
    /// Related; the gateway has not published yet.
    Pending(Option<String>),
    /// Published, invalid.
    Invalid(InvalidField),
    /// Published, valid.
    Valid(Box<ProviderData>),
}

impl Provider {
    /// Reads the relation.
    pub fn from_relation(relation: &Relation) -> Self {
        match relation {
            Relation::Absent => Self::Absent,
            Relation::Joined {
                provider_config: None,
                remote_app,
                ..
            } => Self::Pending(remote_app.clone()),
            Relation::Joined {
                provider_config: Some(text),
                ..
            } => match ProviderData::from_databag(text) {
                Ok(data) => Self::Valid(Box::new(data)),
                Err(e) => Self::Invalid(e),
            },
        }
    }
}

/// The Blocked message for invalid gateway data: names the field.
pub fn invalid_data_message(e: &InvalidField) -> String {
    if e.problem == Problem::UnsupportedRoutingMethod {
        "vpn-gateway: unsupported routing method (only pod-gateway is supported)".to_owned()
    } else {
        format!("invalid vpn-gateway data: {e}")
    }
}

/// The plan for one hook.
pub fn plan(inputs: &Inputs) -> Plan {
    let mut plan = Plan::default();
    let owner = Owner {
        app: inputs.app.clone(),
        namespace: inputs.model.clone(),
        field_manager: FIELD_MANAGER,
    };
    let provider = Provider::from_relation(&inputs.relation);
    let storage = Storage::from_relation(inputs.storage.as_ref());
    let unsafe_mode = inputs.config.as_ref().is_ok_and(|c| c.unsafe_mode);

    if inputs.leader {
        if let Relation::Joined { id, our_config, .. } = &inputs.relation {
            let ours = RequirerData {
                instance_name: owner.app.clone(),
            }
            .to_databag();
            if our_config.as_deref() != Some(ours.as_str()) {
                plan.publish = Some((*id, ours));
            }
        }
        routing(&mut plan, inputs, &owner, &provider, unsafe_mode);
        shared_storage(&mut plan, inputs, &owner, &storage);
        media_managers(&mut plan, inputs);
    }
    plan_workload(&mut plan, inputs, &owner, &provider, &storage, unsafe_mode);
    ports(&mut plan, inputs);
    plan
}

/// The leader's Kubernetes writes.
fn routing(
    plan: &mut Plan,
    inputs: &Inputs,
    owner: &Owner,
    provider: &Provider,
    unsafe_mode: bool,
) {
    let live = match &inputs.cluster {
        Cluster::NotRead => return,
        Cluster::Forbidden(message) => {
            plan.statuses.push(Status::blocked(message.clone()));
            return;
        }
        Cluster::Live(live) => live,
    };
    let Some(statefulset) = &live.statefulset else {
        plan.statuses
            .push(juju_charm::k8s::waiting_for_statefulset(owner.app.as_str()));
        return;
    };
    match provider {
        // Nothing changes until the gateway says something valid.
        Provider::Pending(_) | Provider::Invalid(_) => {}
        Provider::Valid(data) => {
            let additions = client_additions(&owner.app, owner.namespace.as_str(), data);
            let patch = !additions.is_held_by(statefulset);
            // Pods the namespace's Pod Security level refuses would leave no pod at all, ours
            // included: nothing is written until the operator relabels it (the workload stays
            // stopped: its pod is not routed).
            if patch
                && let Some(message) =
                    pod_security::refusal(owner.namespace.as_str(), &live.namespace_labels)
            {
                plan.statuses.push(Status::blocked(message));
                return;
            }
            let api_server = match api_server_endpoints(&live.api_server) {
                Ok(endpoints) => endpoints,
                Err(message) => {
                    plan.statuses.push(Status::blocked(message));
                    return;
                }
            };
            let np = network_policy(owner, &data.cluster_cidrs, &api_server);
            if !live
                .network_policy
                .as_ref()
                .is_some_and(|l| network_policy_holds(&np, l))
            {
                plan.kube.push(KubeStep::ApplyNetworkPolicy(Box::new(np)));
            }
            if live.cilium_crd {
                let cnp = cilium_policy(owner);
                if !live
                    .cilium_policy
                    .as_ref()
                    .is_some_and(|l| cilium_policy_holds(&cnp, l))
                {
                    plan.kube.push(KubeStep::ApplyCiliumPolicy(cnp));
                }
            }
            let cm = client_config_map(owner, data);
            if !live
                .config_map
                .as_ref()
                .is_some_and(|l| config_map_holds(&cm, l))
            {
                plan.kube.push(KubeStep::ApplyConfigMap(Box::new(cm)));
            }
            if patch {
                plan.kube.push(KubeStep::PatchStatefulSet(
                    owner.app.to_string(),
                    Box::new(additions),
                ));
            }
        }
        Provider::Absent => {
            // The in-pod filter stays with the kill switch; unsafe-mode removes it in the same
            // patch as the routing (one rollout), before the NetworkPolicy goes.
            let mut names = client_owned_names();
            if unsafe_mode {
                names
                    .init_containers
                    .extend(killswitch_owned_names().init_containers);
            }
            if !names.is_absent_from(statefulset) {
                plan.kube
                    .push(KubeStep::RemoveRouting(owner.app.to_string(), names));
            }
            if live.config_map.is_some() {
                plan.kube
                    .push(KubeStep::DeleteConfigMap(client_config_map_name(
                        &owner.app,
                    )));
            }
            if unsafe_mode {
                if live.cilium_policy.is_some() {
                    plan.kube
                        .push(KubeStep::DeleteCiliumPolicy(cilium_policy_name(&owner.app)));
                }
                if live.network_policy.is_some() {
                    plan.kube
                        .push(KubeStep::DeleteNetworkPolicy(network_policy_name(
                            &owner.app,
                        )));
                }
            } else if live.network_policy.is_some() {
                plan.statuses.push(Status::blocked(MSG_RELATION_REMOVED));
            }
        }
    }
}

/// The shared claim's StatefulSet step (leader), after the routing's: mounted while the
/// storage data is valid, removed when the relation goes, unchanged while it is pending or
/// invalid.
fn shared_storage(plan: &mut Plan, inputs: &Inputs, owner: &Owner, storage: &Storage) {
    let Cluster::Live(live) = &inputs.cluster else {
        return;
    };
    let Some(statefulset) = &live.statefulset else {
        return;
    };
    if let Some(step) = storage.step(CONTAINER, statefulset) {
        plan.kube
            .push(KubeStep::SharedStorage(owner.app.to_string(), step));
    }
}

/// The media managers (leader): grant-then-publish where our data is not held yet.
fn media_managers(plan: &mut Plan, inputs: &Inputs) {
    if inputs.managers.is_empty() {
        return;
    }
    // Without a valid config there is no port to publish; without usable credentials nothing
    // a manager could log in with (both have their own status).
    let Ok(config) = &inputs.config else {
        return;
    };
    let secret = match (&inputs.credentials, &inputs.secret_id) {
        (
            Credentials::Known {
                create: Some(_), ..
            },
            _,
        ) => OfferedSecret::CreatedInThisHook,
        (Credentials::Known { create: None, .. }, Some(id)) => {
            match managers::canonical_secret_id(id, &inputs.model_uuid) {
                Ok(id) => OfferedSecret::Existing(id),
                Err(e) => {
                    plan.statuses.push(Status::blocked(format!(
                    "the credentials secret's id from Juju is not a secret id ({e}): nothing published to the media managers"
                )));
                    return;
                }
            }
        }
        _ => return,
    };
    let Ok(api_url) = ApiUrl::in_cluster(&inputs.app, &inputs.model, config.webui_port) else {
        plan.statuses.push(Status::blocked(
            "cannot form the in-cluster API URL to publish to the media managers",
        ));
        return;
    };
    let offer = Offer {
        api_url,
        client: DownloadClient::Qbittorrent,
        instance_name: inputs.app.clone(),
        // qBittorrent serves its API at the root (the reference publishes none either).
        base_path: None,
    };
    let (publish, statuses) = managers::plan(&inputs.managers, &offer, &secret, &inputs.model_uuid);
    plan.download_client = publish;
    plan.statuses.extend(statuses);
}

/// The API server's endpoints the kill switch lets out (ADR 0036), or the Blocked message
/// naming the bad field of `default/kubernetes`.
fn api_server_endpoints(object: &ApiServerObject) -> Result<ApiServerEndpoints, String> {
    let (parsed, kind) = match object {
        ApiServerObject::Absent => return Ok(ApiServerEndpoints::none()),
        ApiServerObject::Slice(v) => (ApiServerEndpoints::from_endpoint_slice(v), "EndpointSlice"),
        ApiServerObject::Endpoints(v) => (ApiServerEndpoints::from_endpoints(v), "Endpoints"),
    };
    parsed.map_err(|e| {
        format!(
            "{kind} {}/{}: {e}; the kill switch cannot let the API server through",
            api_server::NAMESPACE,
            api_server::NAME
        )
    })
}

/// Whether this unit's pod is routed through the gateway (and with which image), and if
/// not, why.
fn routed(
    inputs: &Inputs,
    owner: &Owner,
    provider: &Provider,
) -> Result<Option<OtherImage>, Status> {
    match provider {
        Provider::Absent => Err(Status::blocked(MSG_NO_RELATION)),
        Provider::Pending(remote) => Err(Status::waiting(match remote {
            Some(app) => format!("Waiting for vpn-gateway data from {app}"),
            None => "Waiting for vpn-gateway data".to_owned(),
        })),
        Provider::Invalid(e) => Err(Status::blocked(invalid_data_message(e))),
        Provider::Valid(data) => match &inputs.pod {
            PodView::Forbidden(message) => Err(Status::blocked(message.clone())),
            PodView::Read(None) => Err(Status::waiting(MSG_POD_NOT_ROUTED)),
            PodView::Read(Some(pod)) => {
                match pod_routed(
                    pod,
                    &client_additions(&owner.app, owner.namespace.as_str(), data),
                ) {
                    PodRouted::Yes { other_image } => {
                        route_up(pod, owner, inputs.unit_number).map(|()| other_image)
                    }
                    PodRouted::No => Err(Status::waiting(MSG_POD_NOT_ROUTED)),
                }
            }
        },
    }
}

/// Whether the routing the Pod carries came up: vpn-route-init's termination message says
/// so (docs/adr/0021). A pod whose init gave up runs with layer 0 and the NetworkPolicy as
/// its only egress (nothing leaves the cluster), but qBittorrent is not started in it: its
/// sidecar may bring the tunnel up later, and a restart of the pod retries the init.
fn route_up(pod: &PodRouting, owner: &Owner, unit_number: u32) -> Result<(), Status> {
    let pod_name = format!("{}-{unit_number}", owner.app);
    let ns = owner.namespace.as_str();
    match pod.route_outcome(client::VPN_ROUTE_INIT) {
        RouteOutcome::Routed => Ok(()),
        RouteOutcome::Pending => Err(Status::waiting(MSG_ROUTE_PENDING)),
        RouteOutcome::GatewayUnreachable => Err(Status::waiting(format!(
            "{MSG_ROUTE_UNREACHABLE}; when the gateway is up: kubectl -n {ns} delete pod {pod_name}"
        ))),
        RouteOutcome::Failed => Err(Status::waiting(format!(
            "{MSG_ROUTE_FAILED}; see kubectl -n {ns} logs {pod_name} -c {}",
            client::VPN_ROUTE_INIT
        ))),
    }
}

/// What [`pod_routed`] found in the running Pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodRouted {
    /// Something the routing needs is missing or differs: wait for the restart.
    No,
    /// The Pod carries our routing.
    Yes {
        /// Set when one of our containers runs another image than ours (a registry mirror's
        /// admission webhook, a hand edit): reported in the status, not waited on.
        other_image: Option<OtherImage>,
    },
}

impl PodRouted {
    /// Whether the Pod carries our routing (whatever its image).
    pub fn is_routed(&self) -> bool {
        matches!(self, Self::Yes { .. })
    }
}

/// A pod-gateway image other than ours, as the status may show it: the image itself only
/// when it is 1 to [`OtherImage::MAX_SHOWN`] printable ASCII characters (it comes from the
/// cluster, not from us).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherImage(Option<String>);

impl OtherImage {
    /// The longest image string shown.
    pub const MAX_SHOWN: usize = 100;

    fn of(image: Option<&str>) -> Self {
        Self(image.and_then(|i| {
            (!i.is_empty() && i.len() <= Self::MAX_SHOWN && i.bytes().all(|b| b.is_ascii_graphic()))
                .then(|| i.to_owned())
        }))
    }
}

impl fmt::Display for OtherImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(image) => write!(f, "pod-gateway image rewritten to {image}"),
            None => f.write_str("pod-gateway image rewritten"),
        }
    }
}

/// Whether the running Pod carries our routing for this data: our init container and sidecar
/// by name, each with our command and every env entry of ours (the one the container sees:
/// the last of that name), and the client hash annotation with the desired hash. What an
/// admission webhook may add is tolerated: other containers, env entries and annotations; an
/// image other than ours is reported, not waited on (ADR 0030).
pub fn pod_routed(pod: &PodRouting, additions: &PodAdditions) -> PodRouted {
    let annotations = pod.metadata.as_ref().and_then(|m| m.annotations.as_ref());
    let annotated = additions
        .annotations
        .iter()
        .all(|(k, v)| annotations.and_then(|a| a.get(k)) == Some(v));
    let (true, Some(spec)) = (annotated, &pod.spec) else {
        return PodRouted::No;
    };
    // The pod resolves through the gateway, and only there (ADR 0040): an admission that
    // changes the nameservers is not tolerated.
    if let Some(ours) = &additions.dns_config {
        let live = spec.dns_config.as_ref();
        if spec.dns_policy.as_deref() != Some(DNS_POLICY_NONE)
            || live.and_then(|d| d.nameservers.as_ref()) != ours.nameservers.as_ref()
        {
            return PodRouted::No;
        }
    }
    let carries = |ours: &Container, live: &RoutedContainer| {
        let env = live.env.as_deref().unwrap_or_default();
        ours.name == live.name
            && ours.command == live.command
            && ours.env.iter().flatten().all(|e| {
                // Kubernetes lets a later entry of the same name win.
                env.iter().rev().find(|l| l.name == e.name) == Some(e)
            })
    };
    let inits = spec.init_containers.as_deref().unwrap_or_default();
    let mut other_image = None;
    let in_inits = additions.init_containers.iter().map(|c| (c, inits));
    let in_containers = additions
        .containers
        .iter()
        .map(|c| (c, spec.containers.as_slice()));
    for (ours, live) in in_inits.chain(in_containers) {
        let Some(found) = live.iter().find(|l| carries(ours, l)) else {
            return PodRouted::No;
        };
        if found.image != ours.image && other_image.is_none() {
            other_image = Some(OtherImage::of(found.image.as_deref()));
        }
    }
    PodRouted::Yes { other_image }
}

/// Every unit's workload changes and statuses.
fn plan_workload(
    plan: &mut Plan,
    inputs: &Inputs,
    owner: &Owner,
    provider: &Provider,
    storage: &Storage,
    unsafe_mode: bool,
) {
    let routed = routed(inputs, owner, provider);
    let mounted = mounted(inputs, storage);
    // unsafe-mode opens the gate; the gateway's data problems are still reported.
    let gate_open = routed.is_ok() || unsafe_mode;
    if let Err(status) = &routed
        && (!unsafe_mode || matches!(provider, Provider::Invalid(_) | Provider::Pending(_)))
    {
        plan.statuses.push(status.clone());
    }
    // After the VPN's: while both wait, the VPN is named first.
    if let Err(status) = &mounted {
        plan.statuses.push(status.clone());
    }
    if let Provider::Valid(data) = provider
        && !data.vpn_connected
    {
        plan.statuses.push(Status::waiting(MSG_VPN_DISCONNECTED));
    }
    let config = match &inputs.config {
        Ok(config) => Some(config),
        Err(e) => {
            plan.statuses.push(Status::blocked(e.to_string()));
            None
        }
    };
    let credentials = credentials(plan, &inputs.credentials);
    let Workload::Reachable {
        plan: pebble_plan,
        running,
        conf,
        categories,
    } = &inputs.workload
    else {
        plan.statuses.push(Status::waiting(
            "Waiting for Pebble in the qbittorrent container",
        ));
        return;
    };
    let mut running = *running;
    let allowed = gate_open && mounted.is_ok() && config.is_some() && credentials.is_some();
    if !allowed && running {
        plan.workload.push(WorkloadStep::Stop);
        running = false;
    }
    let Some(config) = config else {
        return;
    };
    if let Some((username, password_hash)) = credentials {
        let desired = conf::reconcile(
            conf.as_deref(),
            &Managed {
                username: username.as_str().to_owned(),
                password_hash: password_hash.clone(),
                port: config.webui_port,
            },
        );
        let desired = with_save_path(desired, storage);
        if conf.as_deref() != Some(desired.as_str()) {
            plan.workload.extend(conf_rewrite(running, desired));
            running = false;
        }
    }
    running = write_categories(plan, inputs, storage, categories.as_deref(), running);
    let startup = if allowed {
        Startup::Enabled
    } else {
        Startup::Disabled
    };
    // Pebble runs qBittorrent as the stack's PUID/PGID (the defaults until storage is known).
    let ids = storage
        .valid()
        .map_or((workload::USER_ID, workload::GROUP_ID), |d| {
            (d.puid.get(), d.pgid.get())
        });
    let layer = workload::layer(config, startup, ids);
    let layer_changed = !pebble_plan.holds(&layer);
    if layer_changed {
        plan.workload.push(WorkloadStep::AddLayer(Box::new(layer)));
    }
    if allowed && (!running || layer_changed) {
        plan.workload.push(WorkloadStep::Restart);
    }
    if allowed {
        let message = match (provider, &routed) {
            (Provider::Valid(data), Ok(other_image)) => match (data.external_ip, other_image) {
                (Some(ip), Some(image)) => format!("VPN exit {ip} ({image})"),
                (Some(ip), None) => format!("VPN exit {ip}"),
                (None, Some(image)) => image.to_string(),
                (None, None) => String::new(),
            },
            _ => "unsafe-mode: traffic is NOT routed through a VPN".to_owned(),
        };
        let message = match (storage, message.is_empty()) {
            (Storage::Absent, true) => MSG_STANDALONE.to_owned(),
            (Storage::Absent, false) => format!("{message}; {MSG_STANDALONE}"),
            _ => message,
        };
        plan.statuses.push(Status::active(message));
    }
}

/// Whether qBittorrent may run as far as the shared claim goes, and if not, why: without a
/// media-storage relation it runs standalone (downloads stay on the `config` storage, ADR
/// 0042); with one, only once the published data is valid and this unit's Pod carries the
/// mount.
fn mounted(inputs: &Inputs, storage: &Storage) -> Result<(), Status> {
    let data = match storage {
        Storage::Absent => return Ok(()),
        Storage::Valid(data) => data,
        Storage::Pending(_) | Storage::Invalid(_) => {
            return Err(storage
                .status()
                .unwrap_or_else(|| Status::waiting("Waiting for media-storage data")));
        }
    };
    let waiting = || Status::waiting("Waiting for the pod to restart with the shared volume");
    let PodView::Read(Some(pod)) = &inputs.pod else {
        return Err(waiting());
    };
    let Some(spec) = &pod.spec else {
        return Err(waiting());
    };
    let view = serde_json::json!({ "spec": {
        "volumes": spec.volumes,
        "containers": spec.containers.iter().map(|c| serde_json::json!({
            "name": c.name,
            "volumeMounts": c.volume_mounts,
        })).collect::<Vec<_>>(),
    } });
    if storage::pod_carries(&view, CONTAINER, data) {
        Ok(())
    } else {
        Err(waiting())
    }
}

/// The conf with the default save path (and automatic torrent management) set: under the
/// shared volume, or the config storage when running standalone; unchanged while storage is
/// pending or invalid.
fn with_save_path(desired: String, storage: &Storage) -> String {
    match storage {
        Storage::Valid(data) => conf::session(&desired, &crate::categories::torrents_dir(data)),
        Storage::Absent => conf::session(&desired, STANDALONE_SAVE_PATH),
        Storage::Pending(_) | Storage::Invalid(_) => desired,
    }
}

/// A category per valid media manager under the shared volume (docs/adr/0043): the file is
/// written only while qBittorrent is stopped. Returns whether it still runs.
fn write_categories(
    plan: &mut Plan,
    inputs: &Inputs,
    storage: &Storage,
    categories: Option<&str>,
    mut running: bool,
) -> bool {
    let Storage::Valid(data) = storage else {
        return running;
    };
    let managers = managers::valid_managers(&inputs.managers);
    match crate::categories::reconcile(categories, &managers, data) {
        Ok(Some(text)) => {
            if running {
                plan.workload.push(WorkloadStep::Stop);
                running = false;
            }
            plan.workload.push(WorkloadStep::PushCategories(text));
        }
        Ok(None) => {}
        Err(e) => plan.statuses.push(Status::blocked(e.to_string())),
    }
    running
}

/// The steps that write `qBittorrent.conf`: the service stops first when it runs, since
/// qBittorrent writes its settings back on exit and would overwrite ours. The hook and the
/// `rotate-credentials` action both write it so.
pub fn conf_rewrite(running: bool, desired: String) -> Vec<WorkloadStep> {
    let mut steps = Vec::with_capacity(2);
    if running {
        steps.push(WorkloadStep::Stop);
    }
    steps.push(WorkloadStep::PushConf(desired));
    steps
}

/// The credentials to write, recording the secret to create and the statuses.
fn credentials<'a>(plan: &mut Plan, view: &'a Credentials) -> Option<(&'a Username, &'a String)> {
    match view {
        Credentials::Known {
            username,
            password_hash,
            create,
        } => {
            if let Some(password) = create {
                plan.create_secret = Some(NewSecret {
                    username: username.clone(),
                    password: password.clone(),
                    password_hash: password_hash.clone(),
                });
            }
            Some((username, password_hash))
        }
        Credentials::Missing => {
            plan.statuses.push(Status::waiting(
                "Waiting for the leader to create the WebUI credentials",
            ));
            None
        }
        Credentials::Invalid => {
            plan.statuses.push(Status::blocked(
                "the credentials secret is invalid: run the rotate-credentials action",
            ));
            None
        }
    }
}

/// Open the WebUI port; close any other TCP port this unit opened (a changed `webui-port`).
fn ports(plan: &mut Plan, inputs: &Inputs) {
    let Ok(config) = &inputs.config else {
        return;
    };
    let webui = Port::tcp(config.webui_port);
    if !inputs.opened_ports.contains(&webui) {
        plan.ports.push(PortStep::Open(webui));
    }
    for port in &inputs.opened_ports {
        if port.protocol == Protocol::Tcp && *port != webui {
            plan.ports.push(PortStep::Close(*port));
        }
    }
}

#[cfg(test)]
mod tests;
