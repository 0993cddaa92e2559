//! Reads only: leadership, goal-state, config, secrets, our StatefulSet and ConfigMap, the
//! cluster DNS Service, Pebble's plan, services and our files, the health check, and our
//! application's data on each `vpn-gateway` relation. A non-leader reads nothing more. The
//! leader's reads overlap (ADR 0025) and are taken in [`crate::plan`]'s order: where the plan
//! stops (planned units > 1, a bad config or secret, the cluster not ready), what was read
//! after that point is dropped unused and cannot fail the hook.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use juju_charm::http::{self, Limits};
use juju_charm::k8s::{Kube, KubeError, Reads};
use juju_charm::pebble::{Pebble, PebbleError};
use juju_charm::tools::secret::{Revision, SecretRef};
use juju_charm::{Hook, Juju, SecretString, ToolError, Tools};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use ring::rand::{SecureRandom as _, SystemRandom};
use serde_json::{Map, Value};
use vpn_gateway_iface::gateway::gateway_config_map_name;
use vpn_gateway_iface::wire::DATABAG_KEY;
use vpn_gateway_iface::{AppName, Namespace, Problem, StatefulSetJson};

use crate::config::{ConfigError, GluetunConfig};
use crate::plan::{
    API_KEY_ATTRIBUTE, API_KEY_LABEL, ApiKey, Cluster, Content, ENDPOINT, FIELD_MANAGER, Inputs,
    KeyProblem, RelationState, Workload, check_private_key, is_api_key,
};
use crate::workload::{self, API_KEY_HEADER, CONTROL_PORT, Health, PUBLIC_IP_ROUTE};

/// The hook's total time for Kubernetes requests, retries included.
pub const KUBE_BUDGET: Duration = Duration::from_secs(30);
/// Pebble's per-request deadline.
pub const PEBBLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Namespace of the cluster DNS Service.
const DNS_NAMESPACE: &str = "kube-system";
/// Names of the cluster DNS Service, in order.
const DNS_SERVICES: [&str; 2] = ["kube-dns", "coredns"];

/// A read failed in a way the charm cannot turn into a status: the hook fails (Juju retries).
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    /// The unit's application or model name is not what Juju guarantees.
    #[error("invalid {what} name {name:?} from the hook context")]
    Names {
        /// `application` or `model`.
        what: &'static str,
        /// The name.
        name: String,
        /// Why.
        #[source]
        source: Problem,
    },
    /// `is-leader` failed.
    #[error("cannot check leadership")]
    Leader(#[source] ToolError),
    /// `goal-state` failed.
    #[error("cannot read goal-state")]
    GoalState(#[source] ToolError),
    /// `config-get` failed.
    #[error("cannot read the config")]
    Config(#[source] ToolError),
    /// `secret-get` of the WireGuard key failed other than "not found / not granted".
    #[error("cannot read the WireGuard key secret")]
    WireguardKey(#[source] ToolError),
    /// Reading our API-key secret failed.
    #[error("cannot read the control-server API key secret")]
    ApiKey(#[source] ToolError),
    /// The system random generator failed.
    #[error("cannot generate a random API key")]
    Random,
    /// No Kubernetes client.
    #[error("cannot connect to Kubernetes")]
    Connect(#[source] KubeError),
    /// Reading our StatefulSet failed.
    #[error("cannot read our StatefulSet")]
    ReadStatefulSet(#[source] KubeError),
    /// Reading our ConfigMap failed.
    #[error("cannot read our gateway ConfigMap")]
    ReadConfigMap(#[source] KubeError),
    /// Reading the DNS Service failed.
    #[error("cannot read the cluster DNS Service")]
    ReadDnsService(#[source] KubeError),
    /// Pebble answered, but not what we asked.
    #[error("cannot read the gluetun container's Pebble state")]
    Pebble(#[source] PebbleError),
    /// `relation-ids` failed.
    #[error("cannot list the vpn-gateway relations")]
    RelationIds(#[source] ToolError),
    /// `relation-get` of our own application bag failed.
    #[error("cannot read our data on relation {id}")]
    RelationData {
        /// The relation.
        id: u64,
        /// Why.
        #[source]
        source: ToolError,
    },
}

/// What `gather` read, and the Kubernetes client `apply` writes with.
#[derive(Debug)]
pub struct Gathered {
    /// The pure plan's input.
    pub inputs: Inputs,
    /// The client (connected only when the hook got that far).
    pub kube: Option<Kube>,
}

/// Reads everything the plan needs. The plan's order decides what counts: where it stops,
/// nothing read after that point is used (and its failures do not fail the hook).
pub async fn gather(juju: &mut Juju, hook: &Hook) -> Result<Gathered, GatherError> {
    let app_name = juju.context().app_name().to_owned();
    let app = AppName::parse(&app_name).map_err(|source| GatherError::Names {
        what: "application",
        name: app_name,
        source,
    })?;
    let model_name = juju.context().model_name.clone();
    let model = Namespace::parse(&model_name).map_err(|source| GatherError::Names {
        what: "model",
        name: model_name,
        source,
    })?;
    let leader = juju.is_leader().map_err(GatherError::Leader)?;
    let mut inputs = Inputs {
        app,
        model,
        leader,
        planned_units: None,
        config: None,
        wireguard_key: None,
        api_key: None,
        cluster: None,
        workload: None,
        health: Health::NotConnected("not checked".into()),
        relations: Vec::new(),
    };
    if !leader {
        return Ok(Gathered { inputs, kube: None });
    }
    // The leader's reads overlap (ADR 0025): two chains of hook tools in the background (the
    // plan's own order: goal-state, config, WireGuard key, API key; and the statuses and the
    // relations), and Kubernetes and Pebble on this runtime meanwhile. When the first chain
    // stops the plan, the Kubernetes and Pebble reads are dropped unfinished and their outcome
    // never looked at.
    let tools = juju.tools().clone();
    let leading = tools.background(read_leader_inputs);
    // In relation-broken the relation is going away: Juju refuses writes to it.
    let broken = hook.broken_relation_id(ENDPOINT, juju.context());
    let app = inputs.app.clone();
    let others = tools.background(move |tools| {
        let statuses = tools.status_get_application();
        (statuses, read_relations(tools, &app, broken))
    });
    let pebble = juju.pebble(workload::SERVICE).with_timeout(PEBBLE_TIMEOUT);
    let reads = read_cluster_and_workload(inputs.model.clone(), inputs.app.clone(), pebble);
    let gate = async {
        let leading = leading.await?;
        let proceed = leading.proceeds();
        inputs.planned_units = Some(leading.planned_units);
        inputs.config = leading.config;
        inputs.wireguard_key = leading.wireguard_key;
        inputs.api_key = leading.api_key;
        if proceed { Ok(()) } else { Err(Halt::Plan) }
    };
    let read = match tokio::try_join!(gate, async { Ok(reads.await) }) {
        Ok(((), read)) => read,
        Err(Halt::Plan) => {
            juju.statuses_read(others.await.0);
            return Ok(Gathered { inputs, kube: None });
        }
        Err(Halt::Failed(e)) => return Err(e),
    };
    let (statuses, relations) = others.await;
    juju.statuses_read(statuses);
    let (kube, cluster, workload) = read?;
    // Pebble was read at once; it counts only when the cluster lets the plan go on.
    let proceed = matches!(
        &cluster,
        Cluster::Read {
            dns_ip: Some(_),
            ..
        }
    );
    inputs.cluster = Some(cluster);
    if !proceed {
        return Ok(Gathered {
            inputs,
            kube: Some(kube),
        });
    }
    let workload = workload?;
    if let (Workload::Reachable { running: true, .. }, Some(ApiKey::Existing(api_key))) =
        (&workload, &inputs.api_key)
    {
        let addr = juju.workload_addr(workload::SERVICE, CONTROL_PORT);
        inputs.health = check_health(&addr, api_key).await;
    }
    inputs.workload = Some(workload);
    inputs.relations = relations?;
    Ok(Gathered {
        inputs,
        kube: Some(kube),
    })
}

/// Why the tool reads end before the Kubernetes ones are used.
enum Halt {
    /// The plan stops here: what was read so far is its input.
    Plan,
    /// A read failed.
    Failed(GatherError),
}

impl From<GatherError> for Halt {
    fn from(e: GatherError) -> Self {
        Self::Failed(e)
    }
}

/// The leader's hook-tool inputs, read in the plan's order up to where it stops.
struct LeaderInputs {
    planned_units: usize,
    config: Option<Result<GluetunConfig, ConfigError>>,
    wireguard_key: Option<Result<SecretString, KeyProblem>>,
    api_key: Option<ApiKey>,
}

impl LeaderInputs {
    /// Whether the plan goes on to the cluster.
    fn proceeds(&self) -> bool {
        self.planned_units <= 1
            && matches!(self.wireguard_key, Some(Ok(_)))
            && self.api_key.is_some()
    }
}

/// goal-state; then the config; when valid the WireGuard key; when that is good the API key.
fn read_leader_inputs(tools: &Tools) -> Result<LeaderInputs, GatherError> {
    let mut read = LeaderInputs {
        planned_units: tools.planned_units().map_err(GatherError::GoalState)?,
        config: None,
        wireguard_key: None,
        api_key: None,
    };
    if read.planned_units > 1 {
        return Ok(read);
    }
    let raw: Map<String, Value> = tools.config().map_err(GatherError::Config)?;
    let config = GluetunConfig::parse(&raw);
    if let Ok(valid) = &config {
        read.wireguard_key = Some(read_wireguard_key(tools, &valid.private_key_secret)?);
    }
    read.config = Some(config);
    if matches!(read.wireguard_key, Some(Ok(_))) {
        read.api_key = Some(read_api_key(tools)?);
    }
    Ok(read)
}

/// Connects and reads our objects, and meanwhile the gluetun container (kept apart: only
/// the caller knows whether the plan gets that far).
async fn read_cluster_and_workload(
    model: Namespace,
    app: AppName,
    pebble: Pebble,
) -> Result<(Kube, Cluster, Result<Workload, GatherError>), GatherError> {
    let cluster = async {
        let kube = Kube::connect(model.as_str(), FIELD_MANAGER, KUBE_BUDGET)
            .map_err(GatherError::Connect)?;
        // Planning reads come from the API server's cache; apply's writes re-read the
        // latest state (docs/adr/0027).
        let cluster = read_cluster(&kube.with_reads(Reads::Cached), &app).await?;
        Ok::<_, GatherError>((kube, cluster))
    };
    let (cluster, workload) = tokio::join!(cluster, read_workload(&pebble));
    let (kube, cluster) = cluster?;
    Ok((kube, cluster, workload))
}

fn read_wireguard_key(
    tools: &Tools,
    secret: &str,
) -> Result<Result<SecretString, KeyProblem>, GatherError> {
    // `--refresh`: follow the operator's rotations (a new revision fires secret-changed).
    match tools.secret_get(SecretRef::Id(secret), Revision::Refresh) {
        Ok(content) => Ok(check_private_key(&content)),
        Err(ToolError::SecretNotFound { .. } | ToolError::PermissionDenied { .. }) => {
            Ok(Err(KeyProblem::NotFound))
        }
        Err(e) => Err(GatherError::WireguardKey(e)),
    }
}

fn read_api_key(tools: &Tools) -> Result<ApiKey, GatherError> {
    match tools.secret_get(SecretRef::Label(API_KEY_LABEL), Revision::Tracked) {
        Ok(content) => match content.get(API_KEY_ATTRIBUTE) {
            Some(key) if is_api_key(key.expose()) => Ok(ApiKey::Existing(key.clone())),
            _ => {
                let info = tools
                    .secret_info_get(SecretRef::Label(API_KEY_LABEL))
                    .map_err(GatherError::ApiKey)?;
                Ok(ApiKey::Invalid {
                    id: info.id,
                    fresh: fresh_api_key()?,
                })
            }
        },
        Err(ToolError::SecretNotFound { .. }) => Ok(ApiKey::Missing(fresh_api_key()?)),
        Err(e) => Err(GatherError::ApiKey(e)),
    }
}

/// 32 random bytes, URL-safe base64 without padding (43 characters, TOML-safe).
pub fn fresh_api_key() -> Result<SecretString, GatherError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| GatherError::Random)?;
    Ok(SecretString::new(URL_SAFE_NO_PAD.encode(bytes)))
}

/// The one field of the DNS Service we read: decoding a whole `Service` would compile its
/// type tree into the binary for one string.
#[derive(serde::Deserialize)]
struct ServiceIp {
    spec: Option<ServiceIpSpec>,
}

/// See [`ServiceIp`].
#[derive(serde::Deserialize)]
struct ServiceIpSpec {
    #[serde(rename = "clusterIP")]
    cluster_ip: Option<String>,
}

async fn read_cluster(kube: &Kube, app: &AppName) -> Result<Cluster, GatherError> {
    let forbidden = |e: &KubeError| e.blocked_message().map(Cluster::Forbidden);
    let statefulset = match kube
        .get_as::<StatefulSet, StatefulSetJson>(app.as_str())
        .await
    {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(Cluster::StatefulSetMissing),
        Err(e) => return forbidden(&e).ok_or(GatherError::ReadStatefulSet(e)),
    };
    let config_map = match kube.get::<ConfigMap>(&gateway_config_map_name(app)).await {
        Ok(c) => c,
        Err(e) => return forbidden(&e).ok_or(GatherError::ReadConfigMap(e)),
    };
    let mut dns_ip = None;
    for name in DNS_SERVICES {
        match kube
            .get_in_as::<Service, ServiceIp>(Some(DNS_NAMESPACE), name)
            .await
        {
            Ok(service) => {
                dns_ip = service
                    .and_then(|s| s.spec)
                    .and_then(|s| s.cluster_ip)
                    .and_then(|ip| ip.parse::<IpAddr>().ok());
            }
            Err(e) => return forbidden(&e).ok_or(GatherError::ReadDnsService(e)),
        }
        if dns_ip.is_some() {
            break;
        }
    }
    Ok(Cluster::Read {
        statefulset,
        config_map: config_map.map(Box::new),
        dns_ip,
    })
}

/// `Ok(None)` when Pebble is not reachable.
fn reachable<T>(result: Result<T, PebbleError>) -> Result<Option<T>, GatherError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_unreachable() => Ok(None),
        Err(e) => Err(GatherError::Pebble(e)),
    }
}

async fn read_workload(pebble: &Pebble) -> Result<Workload, GatherError> {
    // The plan is the first read: an unreachable Pebble shows there (no system-info probe).
    let Some(plan) = reachable(pebble.plan().await)? else {
        return Ok(Workload::Unreachable);
    };
    let Some(services) = reachable(pebble.services(&[workload::SERVICE]).await)? else {
        return Ok(Workload::Unreachable);
    };
    // `backoff`: Pebble itself keeps restarting it; a replan would not help.
    let running = services
        .iter()
        .any(|s| s.name == workload::SERVICE && matches!(s.current.as_str(), "active" | "backoff"));
    let mut files = BTreeMap::new();
    for path in [
        workload::KEY_FILE,
        workload::AUTH_FILE,
        workload::POST_RULES_FILE,
    ] {
        let content = match pebble.pull(path).await {
            Ok(bytes) => Some(Content(bytes)),
            Err(e) if e.is_path_not_found() => None,
            Err(e) if e.is_unreachable() => return Ok(Workload::Unreachable),
            Err(e) => return Err(GatherError::Pebble(e)),
        };
        files.insert(path.to_owned(), content);
    }
    Ok(Workload::Reachable {
        plan,
        files,
        running,
    })
}

/// ONE bounded request (≤ 2 s, body ≤ 64 KiB) to gluetun's control server.
async fn check_health(addr: &str, api_key: &SecretString) -> Health {
    match http::get(
        addr,
        PUBLIC_IP_ROUTE,
        &[(API_KEY_HEADER, api_key.expose())],
        Limits::default(),
    )
    .await
    {
        Ok(response) => workload::parse_public_ip(response.status, &response.body),
        Err(e) => Health::NotConnected(e.to_string()),
    }
}

fn read_relations(
    tools: &Tools,
    app: &AppName,
    broken: Option<u64>,
) -> Result<Vec<RelationState>, GatherError> {
    let ids = tools
        .relation_ids(ENDPOINT)
        .map_err(GatherError::RelationIds)?;
    ids.into_iter()
        .filter(|id| Some(*id) != broken)
        .map(|id| {
            let bag = tools
                .relation_get_app(id, app.as_str())
                .map_err(|source| GatherError::RelationData { id, source })?;
            Ok(RelationState {
                id,
                published: bag.get(DATABAG_KEY).cloned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_pebble_socket_is_unreachable_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let pebble = Pebble::at_socket(dir.path().join("pebble.socket"));
        let workload = read_workload(&pebble).await.unwrap();
        assert!(matches!(workload, Workload::Unreachable));
    }
}
