//! Reads only: leadership, goal-state, config, secrets, our StatefulSet and ConfigMap, the
//! cluster DNS Service, the model namespace's labels, Pebble's plan, services and our files, the health check, and our
//! application's data on each `vpn-gateway` relation. A non-leader reads nothing more. The
//! leader's reads overlap (ADR 0025) and are taken in the order the plan states
//! ([`crate::plan::needs`]): where it stops (planned units > 1, a bad config or secret, the
//! cluster not ready), what was read after that point is dropped unused and cannot fail the
//! hook.

use std::collections::BTreeMap;
use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use juju_charm::http::{self, Limits};
use juju_charm::k8s::{Kube, KubeError, Reads};
use juju_charm::pebble::{Pebble, PebbleError};
use juju_charm::tools::secret::{Revision, SecretRef};
use juju_charm::{ContextReadError, Hook, Juju, SecretString, ToolError, Tools};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use ring::rand::{SecureRandom as _, SystemRandom};
use serde_json::{Map, Value};
use vpn_gateway_iface::gateway::gateway_config_map_name;
use vpn_gateway_iface::wire::DATABAG_KEY;
use vpn_gateway_iface::{AppName, StatefulSetJson, juju_names};

use crate::config::Config;
use crate::constants::{
    API_KEY_ATTRIBUTE, API_KEY_LABEL, DNS_NAMESPACE, DNS_SERVICES, ENDPOINT, PEBBLE_TIMEOUT,
};
use crate::inputs::{
    ApiKey, Cluster, Content, Inputs, KeyProblem, RelationState, Workload, check_private_key,
    is_api_key,
};
use crate::plan::{Need, needs};
use crate::workload::{self, API_KEY_HEADER, CONTROL_PORT, Health, PUBLIC_IP_ROUTE};

/// A read failed in a way the charm cannot turn into a status: the hook fails (Juju retries).
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    /// Names, leadership, config or the Kubernetes connection.
    #[error(transparent)]
    Context(#[from] ContextReadError),
    /// `goal-state` failed.
    #[error("cannot read goal-state")]
    GoalState(#[source] ToolError),
    /// `secret-get` of the WireGuard key failed other than "not found / not granted".
    #[error("cannot read the WireGuard key secret")]
    WireguardKey(#[source] ToolError),
    /// Reading our API-key secret failed.
    #[error("cannot read the control-server API key secret")]
    ApiKey(#[source] ToolError),
    /// The system random generator failed.
    #[error("cannot generate a random API key")]
    Random,
    /// Reading our StatefulSet failed.
    #[error("cannot read our StatefulSet")]
    ReadStatefulSet(#[source] KubeError),
    /// Reading our ConfigMap failed.
    #[error("cannot read our gateway ConfigMap")]
    ReadConfigMap(#[source] KubeError),
    /// Reading the DNS Service failed.
    #[error("cannot read the cluster DNS Service")]
    ReadDnsService(#[source] KubeError),
    /// Reading the model's Namespace failed.
    #[error("cannot read the model's namespace labels")]
    ReadNamespace(#[source] KubeError),
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

/// Reads everything the plan needs, as far as it needs it ([`needs`]): nothing read past
/// the point where the plan stops is used, and its failures do not fail the hook.
pub async fn gather(juju: &mut Juju, hook: &Hook) -> Result<Inputs, GatherError> {
    let (app, model) = juju_names(juju.context().app_name(), &juju.context().model_name)
        .map_err(ContextReadError::names)?;
    let leader = juju.is_leader().map_err(ContextReadError::Leader)?;
    let mut inputs = Inputs::new(app, model, leader);
    if needs(&inputs).is_none() {
        return Ok(inputs);
    }
    // The leader's reads overlap (ADR 0025): two chains of hook tools in the background (the
    // plan's stages up to the cluster; and the statuses and the relations), and Kubernetes
    // and Pebble on this runtime meanwhile. When the first chain ends where the plan stops,
    // the Kubernetes and Pebble reads are dropped unfinished and their outcome never looked
    // at.
    let tools = juju.tools().clone();
    let leading = tools.background({
        let inputs = inputs.clone();
        move |tools| read_tool_stages(tools, inputs)
    });
    // In relation-broken the relation is going away: Juju refuses writes to it.
    let broken = hook.broken_relation_id(ENDPOINT, juju.context());
    let app = inputs.app.clone();
    let others = tools.background(move |tools| {
        let statuses = tools.status_get_application();
        (statuses, read_relations(tools, &app, broken))
    });
    let pebble = juju.pebble(workload::SERVICE).with_timeout(PEBBLE_TIMEOUT);
    let reads = read_cluster_and_workload(juju.kube(), inputs.app.clone(), pebble);
    let gate = async {
        inputs = leading.await?;
        if needs(&inputs) == Some(Need::Cluster) {
            Ok(())
        } else {
            Err(Halt::Plan)
        }
    };
    let read = match tokio::try_join!(gate, async { Ok(reads.await) }) {
        Ok(((), read)) => read,
        Err(Halt::Plan) => {
            juju.statuses_read(others.await.0);
            return Ok(inputs);
        }
        Err(Halt::Failed(e)) => return Err(e),
    };
    let (statuses, relations) = others.await;
    juju.statuses_read(statuses);
    let (cluster, workload) = read?;
    inputs.cluster = Some(cluster);
    // Pebble was read at once; it counts only when the cluster lets the plan go on.
    if needs(&inputs) != Some(Need::Workload) {
        return Ok(inputs);
    }
    let workload = workload?;
    // The control server answers only a running gluetun, and only with our key.
    if let (Workload::Reachable { running: true, .. }, Some(ApiKey::Existing(api_key))) =
        (&workload, &inputs.api_key)
    {
        let addr = juju.workload_addr(workload::SERVICE, CONTROL_PORT);
        inputs.health = check_health(&addr, api_key).await;
    }
    inputs.workload = Some(workload);
    inputs.relations = relations?;
    Ok(inputs)
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

/// The plan's hook-tool stages, each read when the plan stops for lack of it: goal-state,
/// the config, the WireGuard key, the API key.
fn read_tool_stages(tools: &Tools, mut inputs: Inputs) -> Result<Inputs, GatherError> {
    loop {
        match needs(&inputs) {
            Some(Need::GoalState) => {
                inputs.planned_units = Some(tools.planned_units().map_err(GatherError::GoalState)?);
            }
            Some(Need::Config) => {
                let raw: Map<String, Value> = tools.config().map_err(ContextReadError::Config)?;
                inputs.config = Some(Config::parse(&raw));
            }
            Some(Need::WireguardKey) => {
                let Some(Ok(config)) = &inputs.config else {
                    // The plan asks for the key only with a valid config.
                    return Ok(inputs);
                };
                let key = read_wireguard_key(tools, &config.private_key_secret)?;
                inputs.wireguard_key = Some(key);
            }
            Some(Need::ApiKey) => inputs.api_key = Some(read_api_key(tools)?),
            Some(Need::Cluster | Need::Workload) | None => return Ok(inputs),
        }
    }
}

/// Reads our objects, and meanwhile the gluetun container (kept apart: only the caller
/// knows whether the plan gets that far).
async fn read_cluster_and_workload(
    kube: Result<Kube, KubeError>,
    app: AppName,
    pebble: Pebble,
) -> Result<(Cluster, Result<Workload, GatherError>), GatherError> {
    let cluster = async {
        let kube = kube.map_err(ContextReadError::Connect)?;
        // Planning reads come from the API server's cache; apply's writes re-read the
        // latest state (docs/adr/0027).
        read_cluster(&kube.with_reads(Reads::Cached), &app).await
    };
    let (cluster, workload) = tokio::join!(cluster, read_workload(&pebble));
    Ok((cluster?, workload))
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
        .api::<StatefulSet>()
        .view::<StatefulSetJson>()
        .get(app.as_str())
        .await
    {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(Cluster::StatefulSetMissing),
        Err(e) => return forbidden(&e).ok_or(GatherError::ReadStatefulSet(e)),
    };
    let config_map = match kube
        .api::<ConfigMap>()
        .get(&gateway_config_map_name(app))
        .await
    {
        Ok(c) => c,
        Err(e) => return forbidden(&e).ok_or(GatherError::ReadConfigMap(e)),
    };
    let mut dns_ip = None;
    for name in DNS_SERVICES {
        match kube
            .api::<Service>()
            .in_namespace(DNS_NAMESPACE)
            .view::<ServiceIp>()
            .get(name)
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
    let namespace_labels = match kube.namespace_labels(kube.namespace()).await {
        Ok(labels) => labels,
        Err(e) => return forbidden(&e).ok_or(GatherError::ReadNamespace(e)),
    };
    Ok(Cluster::Read {
        statefulset,
        config_map: config_map.map(Box::new),
        dns_ip,
        namespace_labels,
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

/// Largest of our files read back from the gluetun container: 64 KiB. They are only what this
/// charm writes: the WireGuard key (44 bytes), the control server's auth config (under 1 KiB)
/// and the iptables rules (one line per cluster CIDR, at most 64 of them: under 4 KiB). A file
/// larger than this is not ours, so it is treated like an absent one: the plan pushes ours over
/// it. (This holds only while every file we write stays under the bound, or the plan would
/// push it every hook.)
const MAX_OWN_FILE_BYTES: usize = 64 * 1024;

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
        let content = match pebble.pull(path, MAX_OWN_FILE_BYTES).await {
            Ok(bytes) => Some(Content(bytes)),
            Err(e) if e.is_path_not_found() => None,
            Err(e @ PebbleError::TooLarge { .. }) => {
                tracing::warn!(error = %e, "not a file this charm wrote; replacing it");
                None
            }
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
