//! Every decision of a hook, pure: from what [`crate::gather`] read ([`Inputs`]) to what
//! [`crate::apply`] writes ([`Plan`]): the Kubernetes objects, the API-key secret, the Pebble
//! files and layer, the service action, the relation data, and the statuses.
//!
//! The stages run in the order of docs/interface.md §1 and §3 and ADR 0020 (leadership →
//! scale guard → config → WireGuard key → API key → Kubernetes (Pod Security first) → Pebble → health → relation
//! data); the first stage that cannot proceed gives the status and nothing after it is
//! planned. That order is stated here once: [`needs`] tells `gather` which input the plan
//! stopped at for lack of it, so nothing is read past a stop (ADR 0025).
//!
//! "Only when it differs" is decided here for every write, from the live state `gather` read:
//! the ConfigMap ([`config_map_holds`]), the StatefulSet ([`PodAdditions::is_held_by`]), each
//! file (pulled content), the layer ([`PebblePlan::holds`]) and each relation's `config`
//! (parsed and compared semantically).

use std::collections::BTreeMap;
use std::net::IpAddr;

use juju_charm::pebble::Layer;
use juju_charm::{Planned, SecretString, Status};
use k8s_openapi::api::core::v1::ConfigMap;
use vpn_gateway_iface::gateway::{gateway_additions, gateway_config_map};
use vpn_gateway_iface::holds::config_map_holds;
use vpn_gateway_iface::pod_security;
use vpn_gateway_iface::settings::GatewaySettings;
use vpn_gateway_iface::{
    AppName, GatewayInputs, Namespace, Owner, PodAdditions, ProviderData, StatefulSetJson,
    VxlanSettings,
};

use crate::config::Config;
use crate::constants::{
    FIELD_MANAGER, NO_CLUSTER_DNS, SCALE_TO_ONE, STANDBY, VPN_NOT_CONNECTED, WAITING_FOR_PEBBLE,
};
use crate::inputs::{ApiKey, Cluster, Content, Inputs, Workload};
use crate::workload::{self, Health};

/// An input the plan stopped at because it was not read yet: what `gather` reads next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// goal-state (planned units).
    GoalState,
    /// The config.
    Config,
    /// The WireGuard key secret.
    WireguardKey,
    /// The control-server API key secret.
    ApiKey,
    /// Our StatefulSet and ConfigMap, and the cluster DNS Service.
    Cluster,
    /// Pebble's state, then the health check and our relations.
    Workload,
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

/// Everything the hook writes, in the order `apply` writes it, and the statuses.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The statuses (folded by the runtime, after any a refused write adds).
    pub statuses: Vec<Status>,
    /// The input the plan stopped at for lack of it ([`needs`]).
    pub need: Option<Need>,
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
            statuses: vec![status],
            need: None,
            api_key: None,
            kube: None,
            pebble: None,
            relation_sets: Vec::new(),
        }
    }

    /// Stops for lack of an input `gather` has not read yet.
    fn wait(status: Status, need: Need) -> Self {
        Self {
            need: Some(need),
            ..Self::stop(status)
        }
    }

    /// The status the runtime sets for this plan alone (its statuses folded).
    pub fn status(&self) -> Status {
        juju_charm::status::fold(&self.statuses)
    }
}

impl Planned for Plan {
    fn statuses(&self) -> &[Status] {
        &self.statuses
    }

    /// True when the hook writes nothing (statuses aside).
    fn writes_nothing(&self) -> bool {
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
pub fn vxlan(config: &Config) -> VxlanSettings {
    VxlanSettings {
        id: config.vxlan_id,
        ..VxlanSettings::default()
    }
}

/// The gateway's pod-gateway settings from config: the overlay, and `cluster-cidrs` as the
/// only addresses that bypass the tunnel (ADR 0038).
pub fn gateway_settings(config: &Config) -> GatewaySettings {
    GatewaySettings::new(vxlan(config), &config.cluster_cidrs)
}

/// The files pushed into the gluetun container, with their modes.
pub fn files(config: &Config, wireguard_key: &SecretString, api_key: &SecretString) -> Vec<Push> {
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
    config: &Config,
    dns_ip: IpAddr,
    health: &Health,
) -> Result<ProviderData, vpn_gateway_iface::InvalidField> {
    let (vpn_connected, external_ip) = match health {
        Health::Connected(ip) => (true, *ip),
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

/// The input the plan stops at for lack of it, `None` when it needs nothing more (it
/// reached its end, or stopped on what it has).
pub fn needs(inputs: &Inputs) -> Option<Need> {
    plan(inputs).need
}

/// The hook's decisions.
pub fn plan(inputs: &Inputs) -> Plan {
    if !inputs.leader {
        return Plan::stop(Status::waiting(STANDBY));
    }
    match inputs.planned_units {
        Some(n) if n <= 1 => {}
        Some(_) => return Plan::stop(Status::blocked(SCALE_TO_ONE)),
        None => return Plan::wait(Status::waiting("Waiting for goal-state"), Need::GoalState),
    }
    let config = match &inputs.config {
        Some(Ok(config)) => config,
        Some(Err(e)) => return Plan::stop(Status::blocked(e.to_string())),
        None => return Plan::wait(Status::waiting("Waiting for config"), Need::Config),
    };
    let wireguard_key = match &inputs.wireguard_key {
        Some(Ok(key)) => key,
        Some(Err(problem)) => return Plan::stop(Status::blocked(problem.message(&inputs.app))),
        None => {
            return Plan::wait(
                Status::waiting("Waiting for the WireGuard key secret"),
                Need::WireguardKey,
            );
        }
    };
    let Some(api_key) = &inputs.api_key else {
        return Plan::wait(
            Status::waiting("Waiting for the control-server API key"),
            Need::ApiKey,
        );
    };

    // Kubernetes.
    let (statefulset, live_config_map, dns_ip, namespace_labels) = match &inputs.cluster {
        Some(Cluster::Read {
            statefulset,
            config_map,
            dns_ip,
            namespace_labels,
        }) => (statefulset, config_map, dns_ip, namespace_labels),
        Some(Cluster::StatefulSetMissing) => {
            return Plan::stop(juju_charm::k8s::waiting_for_statefulset(
                inputs.app.as_str(),
            ));
        }
        Some(Cluster::Forbidden(message)) => return Plan::stop(Status::blocked(message.clone())),
        None => return Plan::wait(Status::waiting("Waiting for the cluster"), Need::Cluster),
    };
    let kube = match kube_writes(
        inputs,
        config,
        statefulset,
        live_config_map.as_deref(),
        namespace_labels,
    ) {
        Ok(kube) => kube,
        Err(status) => return Plan::stop(status),
    };
    let Some(dns_ip) = *dns_ip else {
        return Plan {
            kube: Some(kube),
            ..Plan::stop(Status::blocked(NO_CLUSTER_DNS))
        };
    };

    // Pebble.
    let api_key_write = match api_key {
        ApiKey::Existing(_) => None,
        ApiKey::Missing(key) => Some(ApiKeyWrite::Create(key.clone())),
        ApiKey::Invalid { id, fresh } => Some(ApiKeyWrite::Replace {
            id: id.clone(),
            key: fresh.clone(),
        }),
    };
    let Some(workload) = &inputs.workload else {
        return Plan {
            kube: Some(kube),
            api_key: api_key_write,
            ..Plan::wait(Status::waiting(WAITING_FOR_PEBBLE), Need::Workload)
        };
    };
    let (pebble, health) = plan_workload(workload, &inputs.health, config, wireguard_key, api_key);

    // Relation data: published even while the VPN is down (with vpn_connected false), so
    // clients learn the gateway's settings and see the disconnection.
    let mut statuses = vec![match (&pebble, &health) {
        (None, _) => Status::waiting(WAITING_FOR_PEBBLE),
        (Some(_), Health::Connected(Some(ip))) => Status::active(format!("VPN connected ({ip})")),
        (Some(_), Health::Connected(None)) => Status::active("VPN connected"),
        (Some(_), Health::NotConnected(_)) => Status::waiting(VPN_NOT_CONNECTED),
    }];
    let relation_sets = match provider_data(&inputs.app, &inputs.model, config, dns_ip, &health) {
        Ok(data) => changed_relations(inputs, &data),
        // Only reachable with an application or model name that makes an invalid DNS name.
        Err(e) => {
            statuses.push(Status::blocked(format!("cannot publish gateway data: {e}")));
            Vec::new()
        }
    };
    Plan {
        statuses,
        need: None,
        api_key: api_key_write,
        kube: Some(kube),
        pebble,
        relation_sets,
    }
}

/// The Kubernetes stage: the ConfigMap and the StatefulSet patch, each only when the live
/// object lacks it; Blocked, writing nothing, when the namespace's Pod Security level would
/// refuse the patched pods (ADR 0034).
fn kube_writes(
    inputs: &Inputs,
    config: &Config,
    statefulset: &StatefulSetJson,
    live_config_map: Option<&ConfigMap>,
    namespace_labels: &BTreeMap<String, String>,
) -> Result<KubeWrites, Status> {
    let owner = owner(&inputs.app, &inputs.model);
    let settings = gateway_settings(config);
    let desired_config_map = gateway_config_map(&owner, &settings);
    let additions = gateway_additions(&inputs.app, &settings);
    let kube = KubeWrites {
        statefulset_name: inputs.app.to_string(),
        config_map: live_config_map
            .is_none_or(|live| !config_map_holds(&desired_config_map, live))
            .then_some(desired_config_map),
        statefulset: (!additions.is_held_by(statefulset)).then_some(additions),
    };
    // A patch whose pods the namespace's Pod Security level refuses would leave no pod at
    // all, ours included: nothing is written until the operator relabels it.
    match pod_security::refusal(inputs.model.as_str(), namespace_labels) {
        Some(message) if kube.statefulset.is_some() => Err(Status::blocked(message)),
        _ => Ok(kube),
    }
}

/// `(relation id, config)` for each relation whose published data differs from `data`
/// (compared parsed: key order and spacing do not count).
fn changed_relations(inputs: &Inputs, data: &ProviderData) -> Vec<(u64, String)> {
    inputs
        .relations
        .iter()
        .filter(|relation| {
            let current = relation
                .published
                .as_deref()
                .and_then(|text| ProviderData::from_databag(text).ok());
            current.as_ref() != Some(data)
        })
        .map(|relation| (relation.id, data.to_databag()))
        .collect()
}

/// The Pebble stage: files that differ, the layer when the plan lacks it, the service action,
/// and the health as it will be after them.
fn plan_workload(
    workload: &Workload,
    health: &Health,
    config: &Config,
    wireguard_key: &SecretString,
    api_key: &ApiKey,
) -> (Option<PebbleWrites>, Health) {
    let Workload::Reachable {
        plan: live_plan,
        files: live_files,
        running,
    } = workload
    else {
        return (None, Health::NotConnected("Pebble not reachable".into()));
    };
    let pushes: Vec<Push> = files(config, wireguard_key, api_key.value())
        .into_iter()
        .filter(|p| live_files.get(p.path).and_then(Option::as_ref) != Some(&p.content))
        .collect();
    let desired = workload::layer(config);
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
        health.clone()
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
