//! The reconcile's decisions, pure: from what [`crate::gather`] read ([`Inputs`]) to what
//! [`crate::apply`] must write ([`Plan`]): the Kubernetes objects, the Pebble files and layer,
//! the service action, the relation data and the status.
//!
//! The stages run in the order of docs/interface.md §1 and §3 and ADR 0020 (scale guard →
//! config → secret → Kubernetes → Pebble → health → relation data); the first stage that
//! cannot proceed sets the status and nothing after it is planned. `gather` stops reading at the same point, so a later stage's
//! input is `None` exactly when an earlier stage stopped.
//!
//! "Only when it differs" is decided here for every write, from the live state `gather` read:
//! the ConfigMap ([`config_map_holds`]), the StatefulSet ([`PodAdditions::is_held_by`]), each
//! file (pulled content), the layer ([`PebblePlan::holds`]) and each relation's `config`
//! (parsed and compared semantically).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use juju_charm::pebble::{Layer, Override, Plan as PebblePlan, Service, Startup};
use juju_charm::{SecretString, Status};
use k8s_openapi::api::core::v1::ConfigMap;
use vpn_gateway_iface::gateway::{gateway_additions, gateway_config_map};
use vpn_gateway_iface::holds::config_map_holds;
use vpn_gateway_iface::{
    AppName, GatewayInputs, Namespace, Owner, PodAdditions, ProviderData, StatefulSetJson,
    VxlanSettings,
};

use crate::config::{ConfigError, GluetunConfig, is_wireguard_key};
use crate::workload::{self, Health};

/// Field manager of every write, and the `managed-by` label.
pub const FIELD_MANAGER: &str = "gluetun-k8s";
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
/// The relation endpoint we provide.
pub const ENDPOINT: &str = "vpn-gateway";
/// Status of a non-leader unit.
pub const STANDBY: &str = "Standby (non-leader unit)";
/// Status when more than one unit is planned.
pub const SCALE_TO_ONE: &str = "Scale to 1 unit (multiple gateways cause VXLAN conflicts)";
/// Status while Pebble is not reachable.
pub const WAITING_FOR_PEBBLE: &str = "Waiting for Pebble";
/// Status when the health check finds no exit IP.
pub const VPN_NOT_CONNECTED: &str = "VPN not connected";

/// Why the WireGuard key cannot be used. Never carries the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyProblem {
    /// The secret does not exist or this application was not granted access.
    NotFound,
    /// The secret has no `private-key` attribute.
    NoPrivateKey,
    /// `private-key` is not a WireGuard key (base64 of 32 bytes).
    NotAKey,
}

impl KeyProblem {
    fn message(self, app: &AppName) -> String {
        match self {
            Self::NotFound => format!(
                "{KEY_OPTION}: secret not found or not granted (juju grant-secret <secret> {app})"
            ),
            Self::NoPrivateKey => {
                format!("{KEY_OPTION}: the secret has no {KEY_ATTRIBUTE} attribute")
            }
            Self::NotAKey => format!(
                "{KEY_OPTION}: {KEY_ATTRIBUTE} is not a WireGuard key (44 characters of base64)"
            ),
        }
    }
}

/// Checks the content of the key secret (untrusted: anyone who can add a secret wrote it).
pub fn check_private_key(
    content: &BTreeMap<String, SecretString>,
) -> Result<SecretString, KeyProblem> {
    let key = content.get(KEY_ATTRIBUTE).ok_or(KeyProblem::NoPrivateKey)?;
    let trimmed = key.expose().trim();
    if is_wireguard_key(trimmed) {
        Ok(SecretString::new(trimmed))
    } else {
        Err(KeyProblem::NotAKey)
    }
}

/// The control server's API key: URL-safe base64 without padding of 32 random bytes.
pub fn is_api_key(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The control-server API key as `gather` found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKey {
    /// Our secret holds this valid key.
    Existing(SecretString),
    /// No secret yet: create it with this freshly generated key.
    Missing(SecretString),
    /// Our secret (id) holds something that is not a key: replace it with this one.
    Invalid {
        /// The secret's id.
        id: String,
        /// The replacement.
        fresh: SecretString,
    },
}

impl ApiKey {
    /// The key the workload must be configured with.
    pub fn value(&self) -> &SecretString {
        match self {
            Self::Existing(k) | Self::Missing(k) | Self::Invalid { fresh: k, .. } => k,
        }
    }
}

/// What the cluster holds, or why it could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum Cluster {
    /// Everything we need was read.
    Read {
        /// Our StatefulSet (named after the application).
        statefulset: StatefulSetJson,
        /// Our gateway ConfigMap, when it exists.
        config_map: Option<Box<ConfigMap>>,
        /// ClusterIP of `kube-dns` (else `coredns`) in `kube-system`.
        dns_ip: Option<IpAddr>,
    },
    /// Our StatefulSet does not exist (yet).
    StatefulSetMissing,
    /// A read was refused: the Blocked message naming `--trust`.
    Forbidden(String),
}

/// A file content that may be secret: `Debug` shows only its size.
#[derive(Clone, PartialEq, Eq)]
pub struct Content(pub Vec<u8>);

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

/// What Pebble holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Workload {
    /// Pebble did not answer.
    Unreachable,
    /// Pebble's state.
    Reachable {
        /// The combined plan.
        plan: PebblePlan,
        /// Content of each of our files (`None` = absent).
        files: BTreeMap<String, Option<Content>>,
        /// Whether the gluetun service is running.
        running: bool,
    },
}

/// One `vpn-gateway` relation: its id and our application's current `config` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationState {
    /// Relation id.
    pub id: u64,
    /// Our app databag's `config`, when set.
    pub published: Option<String>,
}

/// Everything `gather` read. Later stages are `None` when an earlier one stopped the hook.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    /// The application.
    pub app: AppName,
    /// The model (namespace).
    pub model: Namespace,
    /// `is-leader`.
    pub leader: bool,
    /// Units in goal-state that are not dying.
    pub planned_units: Option<usize>,
    /// The config, validated.
    pub config: Option<Result<GluetunConfig, ConfigError>>,
    /// The WireGuard private key, checked.
    pub wireguard_key: Option<Result<SecretString, KeyProblem>>,
    /// The control server's API key.
    pub api_key: Option<ApiKey>,
    /// The cluster's objects.
    pub cluster: Option<Cluster>,
    /// Pebble.
    pub workload: Option<Workload>,
    /// The health check's verdict (not connected when it was not run).
    pub health: Health,
    /// Our `vpn-gateway` relations.
    pub relations: Vec<RelationState>,
}

/// A file to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// Path in the gluetun container.
    pub path: &'static str,
    /// Content.
    pub content: Content,
    /// Unix mode.
    pub mode: u32,
}

/// What to do to the gluetun service after the files and the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceAction {
    /// Nothing changed and it runs.
    None,
    /// The layer changed, or the service is not running: replan.
    Replan,
    /// Only files changed: restart gluetun so it reads them.
    Restart,
}

/// The API-key secret write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKeyWrite {
    /// `secret-add --label gluetun-control-api-key`.
    Create(SecretString),
    /// `secret-set <id>` with a fresh key.
    Replace {
        /// The secret's id.
        id: String,
        /// The new key.
        key: SecretString,
    },
}

/// The Kubernetes writes (each only when the live object lacks it), in order.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeWrites {
    /// Our StatefulSet's name (the application's).
    pub statefulset_name: String,
    /// Server-side apply of the gateway ConfigMap (before the StatefulSet).
    pub config_map: Option<ConfigMap>,
    /// One strategic-merge patch of our StatefulSet with every addition.
    pub statefulset: Option<PodAdditions>,
}

/// The Pebble writes.
#[derive(Debug, Clone, PartialEq)]
pub struct PebbleWrites {
    /// Files whose content differs.
    pub pushes: Vec<Push>,
    /// The layer, when the plan does not hold it.
    pub layer: Option<Layer>,
    /// Replan or restart.
    pub service: ServiceAction,
}

/// Everything the hook writes, in the order `apply` writes it, and the status.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The status, set once at the end (`apply` may replace it when a write is refused).
    pub status: Status,
    /// The API-key secret, created or replaced.
    pub api_key: Option<ApiKeyWrite>,
    /// Kubernetes writes (`None` when the hook stopped before them).
    pub kube: Option<KubeWrites>,
    /// Pebble writes (`None` when the hook stopped before them).
    pub pebble: Option<PebbleWrites>,
    /// `relation-set --app config=<value>` per relation id, only where it changed.
    pub relation_sets: Vec<(u64, String)>,
}

impl Plan {
    fn stop(status: Status) -> Self {
        Self {
            status,
            api_key: None,
            kube: None,
            pebble: None,
            relation_sets: Vec::new(),
        }
    }

    /// True when the hook writes nothing (status aside).
    pub fn writes_nothing(&self) -> bool {
        self.api_key.is_none()
            && self
                .kube
                .as_ref()
                .is_none_or(|k| k.config_map.is_none() && k.statefulset.is_none())
            && self.pebble.as_ref().is_none_or(|p| {
                p.pushes.is_empty() && p.layer.is_none() && p.service == ServiceAction::None
            })
            && self.relation_sets.is_empty()
    }
}

/// The owner of our objects.
pub fn owner(app: &AppName, model: &Namespace) -> Owner {
    Owner {
        app: app.clone(),
        namespace: model.clone(),
        field_manager: FIELD_MANAGER,
    }
}

/// The VXLAN settings from config (network and port are the defaults: not configurable).
pub fn vxlan(config: &GluetunConfig) -> VxlanSettings {
    VxlanSettings {
        id: config.vxlan_id,
        ..VxlanSettings::default()
    }
}

/// The gluetun layer: no secret in it (the key is a file, see [`workload`]).
pub fn layer(config: &GluetunConfig) -> Layer {
    let service = Service {
        r#override: Some(Override::Replace),
        summary: Some("gluetun VPN client".into()),
        command: Some(workload::COMMAND.into()),
        startup: Some(Startup::Enabled),
        environment: workload::environment(config),
        ..Service::default()
    };
    Layer {
        summary: Some("gluetun VPN gateway".into()),
        services: BTreeMap::from([(workload::SERVICE.to_owned(), service)]),
        ..Layer::default()
    }
}

/// The files pushed into the gluetun container, with their modes.
pub fn files(
    config: &GluetunConfig,
    wireguard_key: &SecretString,
    api_key: &SecretString,
) -> Vec<Push> {
    vec![
        Push {
            path: workload::KEY_FILE,
            content: Content(wireguard_key.expose().as_bytes().to_vec()),
            mode: 0o600,
        },
        Push {
            path: workload::AUTH_FILE,
            content: Content(workload::auth_config(api_key.expose()).into_bytes()),
            mode: 0o600,
        },
        Push {
            path: workload::POST_RULES_FILE,
            content: Content(workload::post_rules(config).into_bytes()),
            mode: 0o644,
        },
    ]
}

/// The provider data we publish.
pub fn provider_data(
    app: &AppName,
    model: &Namespace,
    config: &GluetunConfig,
    dns_ip: IpAddr,
    health: &Health,
) -> Result<ProviderData, vpn_gateway_iface::InvalidField> {
    let (vpn_connected, external_ip) = match health {
        Health::Connected(ip) => (true, Some(*ip)),
        Health::NotConnected(_) => (false, None),
    };
    ProviderData::for_gateway(&GatewayInputs {
        app,
        model,
        vxlan_id: config.vxlan_id,
        cluster_cidrs: &config.cluster_cidrs,
        cluster_dns_ip: dns_ip,
        vpn_connected,
        external_ip,
    })
}

/// The reconcile's decisions.
pub fn plan(inputs: &Inputs) -> Plan {
    if !inputs.leader {
        return Plan::stop(Status::waiting(STANDBY));
    }
    match inputs.planned_units {
        Some(n) if n <= 1 => {}
        Some(_) => return Plan::stop(Status::blocked(SCALE_TO_ONE)),
        None => return Plan::stop(Status::waiting("Waiting for goal-state")),
    }
    let config = match &inputs.config {
        Some(Ok(config)) => config,
        Some(Err(e)) => return Plan::stop(Status::blocked(e.to_string())),
        None => return Plan::stop(Status::waiting("Waiting for config")),
    };
    let wireguard_key = match &inputs.wireguard_key {
        Some(Ok(key)) => key,
        Some(Err(problem)) => return Plan::stop(Status::blocked(problem.message(&inputs.app))),
        None => return Plan::stop(Status::waiting("Waiting for the WireGuard key secret")),
    };

    // Kubernetes.
    let (statefulset, live_config_map, dns_ip) = match &inputs.cluster {
        Some(Cluster::Read {
            statefulset,
            config_map,
            dns_ip,
        }) => (statefulset, config_map, dns_ip),
        Some(Cluster::StatefulSetMissing) => {
            return Plan::stop(juju_charm::k8s::waiting_for_statefulset(
                inputs.app.as_str(),
            ));
        }
        Some(Cluster::Forbidden(message)) => return Plan::stop(Status::blocked(message.clone())),
        None => return Plan::stop(Status::waiting("Waiting for the cluster")),
    };
    let owner = owner(&inputs.app, &inputs.model);
    let vxlan = vxlan(config);
    let desired_config_map = gateway_config_map(&owner, &vxlan);
    let additions = gateway_additions(&inputs.app, &vxlan);
    let kube = KubeWrites {
        statefulset_name: inputs.app.to_string(),
        config_map: live_config_map
            .as_ref()
            .is_none_or(|live| !config_map_holds(&desired_config_map, live))
            .then_some(desired_config_map),
        statefulset: (!additions.is_held_by(statefulset)).then_some(additions),
    };
    let Some(dns_ip) = *dns_ip else {
        return Plan {
            kube: Some(kube),
            ..Plan::stop(Status::blocked(
                "cluster DNS not found: no ClusterIP on kube-system/kube-dns or coredns",
            ))
        };
    };

    // Pebble.
    let api_key_write = match &inputs.api_key {
        Some(ApiKey::Existing(_)) | None => None,
        Some(ApiKey::Missing(key)) => Some(ApiKeyWrite::Create(key.clone())),
        Some(ApiKey::Invalid { id, fresh }) => Some(ApiKeyWrite::Replace {
            id: id.clone(),
            key: fresh.clone(),
        }),
    };
    let (pebble, health) = plan_workload(inputs, config, wireguard_key);

    // Relation data: published even while the VPN is down (with vpn_connected false), so
    // clients learn the gateway's settings and see the disconnection.
    let mut relation_sets = Vec::new();
    let mut status = match (&pebble, &health) {
        (None, _) => Status::waiting(WAITING_FOR_PEBBLE),
        (Some(_), Health::Connected(ip)) => Status::active(format!("VPN connected ({ip})")),
        (Some(_), Health::NotConnected(_)) => Status::waiting(VPN_NOT_CONNECTED),
    };
    match provider_data(&inputs.app, &inputs.model, config, dns_ip, &health) {
        Ok(data) => {
            for relation in &inputs.relations {
                let current = relation
                    .published
                    .as_deref()
                    .and_then(|text| ProviderData::from_databag(text).ok());
                if current.as_ref() != Some(&data) {
                    relation_sets.push((relation.id, data.to_databag()));
                }
            }
        }
        // Only reachable with an application or model name that makes an invalid DNS name.
        Err(e) => status = Status::blocked(format!("cannot publish gateway data: {e}")),
    }
    Plan {
        status,
        api_key: api_key_write,
        kube: Some(kube),
        pebble,
        relation_sets,
    }
}

/// The Pebble stage: files that differ, the layer when the plan lacks it, the service action,
/// and the health as it will be after them.
fn plan_workload(
    inputs: &Inputs,
    config: &GluetunConfig,
    wireguard_key: &SecretString,
) -> (Option<PebbleWrites>, Health) {
    match (&inputs.workload, &inputs.api_key) {
        (
            Some(Workload::Reachable {
                plan: live_plan,
                files: live_files,
                running,
            }),
            Some(api_key),
        ) => {
            let pushes: Vec<Push> = files(config, wireguard_key, api_key.value())
                .into_iter()
                .filter(|p| live_files.get(p.path).and_then(Option::as_ref) != Some(&p.content))
                .collect();
            let desired = layer(config);
            let layer = (!live_plan.holds(&desired)).then_some(desired);
            let service = if layer.is_some() || !running {
                ServiceAction::Replan
            } else if pushes.is_empty() {
                ServiceAction::None
            } else {
                ServiceAction::Restart
            };
            // A (re)start takes the tunnel down: what we saw before it is stale.
            let health = if service == ServiceAction::None {
                inputs.health.clone()
            } else {
                Health::NotConnected("gluetun is (re)starting".into())
            };
            (
                Some(PebbleWrites {
                    pushes,
                    layer,
                    service,
                }),
                health,
            )
        }
        _ => (None, Health::NotConnected("Pebble not reachable".into())),
    }
}
