//! Reads everything one hook needs into [`Inputs`]: config, leadership, the `vpn-gateway`,
//! `download-client` and `media-storage` relations (and, for the media managers, the
//! credentials secret's id), our Kubernetes objects, the namespace's labels and the API server's endpoints
//! (leader), this unit's Pod, the workload through Pebble,
//! the credentials secret and the opened ports. Reads only: nothing here changes anything.
//!
//! The one derivation that is not a read is the password hash: the stored
//! `WebUI\Password_PBKDF2` is kept when it still verifies (no new salt every hook), else a
//! fresh one is made. When the leader finds no credentials secret it generates the password
//! here; `apply` creates the secret.

use charmarr_client::managers::{self, ManagerRelation};
use charmarr_client::storage::{self, StorageRelation};
use juju_charm::hook::Hook;
use juju_charm::k8s::{Kube, KubeError, Reads};
use juju_charm::pebble::{Pebble, PebbleError};
use juju_charm::tools::ToolError;
use juju_charm::tools::ports::Port;
use juju_charm::tools::secret::{Revision, SecretContent, SecretRef};
use juju_charm::tools::unit::ApplicationStatus;
use juju_charm::{ContextReadError, Juju, Tools};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::DynamicObject;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value};
use vpn_gateway_iface::client::client_config_map_name;
use vpn_gateway_iface::killswitch::{CILIUM_CRD, cilium_policy_name, network_policy_name};
use vpn_gateway_iface::wire::DATABAG_KEY;
use vpn_gateway_iface::{AppName, juju_names};
use vpn_gateway_iface::{StatefulSetJson, api_server};

use crate::conf;
use crate::config::Config;
use crate::constants::{CONF_PATH, CONTAINER, ENDPOINT, HASH_KEY, SECRET_LABEL, cilium_resource};
use crate::credentials::{self, CredentialsError, DEFAULT_USERNAME, Password, Username};
use crate::inputs::{
    ApiServerObject, Cluster, Credentials, Inputs, Live, PodRouting, PodView, Relation, Workload,
};
use crate::workload::SERVICE;

/// A read failed in a way Juju should retry (403s are not errors: they become statuses).
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    /// Names, leadership, config or the Kubernetes connection.
    #[error(transparent)]
    Context(#[from] ContextReadError),
    /// `relation-ids` / `relation-list`.
    #[error("cannot list the vpn-gateway relation")]
    ListRelation(#[source] ToolError),
    /// `relation-get`.
    #[error("cannot read the vpn-gateway relation data")]
    ReadRelationData(#[source] ToolError),
    /// The download-client or media-storage relation.
    #[error(transparent)]
    ReadCharmarrRelation(#[from] charmarr_client::ReadError),
    /// `secret-info-get` of the credentials secret.
    #[error("cannot read the credentials secret's id")]
    ReadSecretId(#[source] ToolError),
    /// Reading an object (other than a 403).
    #[error("cannot read our Kubernetes objects")]
    ReadCluster(#[source] KubeError),
    /// Reading this unit's Pod (other than a 403).
    #[error("cannot read this unit's Pod")]
    ReadPod(#[source] KubeError),
    /// `secret-get`.
    #[error("cannot read the credentials secret")]
    ReadCredentials(#[source] ToolError),
    /// Generating a password or salt.
    #[error("cannot generate credentials")]
    GenerateCredentials(#[source] CredentialsError),
    /// Pebble answered with an error (unreachable Pebble is a status, not an error).
    #[error("cannot read the qbittorrent container through Pebble")]
    ReadWorkload(#[source] PebbleError),
    /// `opened-ports`.
    #[error("cannot list opened ports")]
    ReadPorts(#[source] ToolError),
}

/// Reads the hook's inputs.
///
/// The reads overlap (ADR 0025): as soon as `is-leader` answers, two chains of hook tools run
/// in the background (config, credentials secret, opened ports, on the leader the statuses;
/// and the relation) while this unit's Pod, then on the leader our other Kubernetes objects,
/// are read, and Pebble beside them.
pub async fn gather(juju: &mut Juju, hook: &Hook) -> Result<Inputs, GatherError> {
    let (app, model) = juju_names(juju.context().app_name(), &juju.context().model_name)
        .map_err(ContextReadError::names)?;
    let connected = juju.kube().map_err(ContextReadError::Connect)?;
    // Planning reads come from the API server's cache; the writes re-read the latest state
    // (docs/adr/0027).
    let kube = &connected.with_reads(Reads::Cached);
    let pebble = &juju.pebble(CONTAINER);
    let rng = &SystemRandom::new();
    let unit_number = juju.context().unit_number().unwrap_or_default();
    let broken = hook.broken_relation_id(ENDPOINT, juju.context());
    let broken_managers = hook.broken_relation_id(managers::ENDPOINT, juju.context());
    let broken_storage = hook.broken_relation_id(storage::ENDPOINT, juju.context());
    let tools = juju.tools().clone();
    // Two sides meet at is-leader: the hook tools (is-leader, then the two chains at once) and
    // Kubernetes (this unit's Pod, opening the connection; then, on the leader, our objects),
    // with Pebble beside them. The tool side tells the Kubernetes side the leadership.
    let (leadership, leader_known) = tokio::sync::oneshot::channel();
    let ours = app.to_string();
    let tool_side = async move {
        let leader = tools
            .background(Tools::is_leader)
            .await
            .map_err(ContextReadError::Leader)?;
        // The receiver lives until the Kubernetes side has read it (both run in the join).
        let _ = leadership.send(leader);
        let own = tools.background(move |tools| read_own(tools, leader));
        let relation = tools.background(move |tools| {
            let broken = Broken {
                vpn: broken,
                managers: broken_managers,
                storage: broken_storage,
            };
            read_relations(tools, &broken, &ours, leader)
        });
        Ok::<_, GatherError>((leader, own.await?, relation.await?))
    };
    let kube_side = async {
        let pod = read_pod(kube, app.as_str(), unit_number).await;
        // A failed is-leader drops the sender: nothing more is read (the tool side's error
        // ends the hook).
        let cluster = match leader_known.await {
            Ok(true) => read_cluster(kube, &app).await,
            Ok(false) | Err(_) => Ok(Cluster::NotRead),
        };
        (pod, cluster)
    };
    let (tools_read, (pod, cluster), workload) =
        tokio::join!(tool_side, kube_side, read_workload(pebble));
    let (leader, own, relations) = tools_read?;
    juju.leader_read(leader);
    if let Some(statuses) = own.statuses {
        juju.statuses_read(statuses);
    }
    let (cluster, mut pod, workload) = (cluster?, pod?, workload?);
    // Whether this Pod carries the routing decides whether qBittorrent may start, and no
    // later GET re-checks that: while it is not running, the Pod is read again, latest state
    // (ADR 0027). While it runs, the cache can only show this Pod (its containers cannot
    // change without a new Pod, in which qBittorrent starts stopped) or an older one.
    if !matches!(workload, Workload::Reachable { running: true, .. }) {
        pod = read_pod(&kube.with_reads(Reads::Latest), app.as_str(), unit_number).await?;
    }
    let stored_hash = match &workload {
        Workload::Reachable {
            conf: Some(text), ..
        } => conf::get(text, "WebUI\\Password_PBKDF2").map(str::to_owned),
        _ => None,
    };
    let credentials = credentials_view(own.credentials, leader, stored_hash.as_deref(), rng)?;
    Ok(Inputs {
        app,
        model,
        model_uuid: juju.context().model_uuid.clone(),
        unit_number,
        leader,
        config: Config::parse(&own.config),
        relation: relations.vpn,
        managers: relations.managers,
        storage: relations.storage,
        secret_id: relations.secret_id,
        cluster,
        pod,
        workload,
        credentials,
        opened_ports: own.opened_ports,
    })
}

/// This unit's hook-tool inputs other than the relation.
struct Own {
    config: Map<String, Value>,
    credentials: Option<SecretContent>,
    opened_ports: Vec<Port>,
    statuses: Option<Result<ApplicationStatus, ToolError>>,
}

/// `config-get`, the credentials secret (`None`: there is none yet), `opened-ports`, and on
/// the leader the statuses `set_status` compares with.
fn read_own(tools: &Tools, leader: bool) -> Result<Own, GatherError> {
    Ok(Own {
        config: tools.config().map_err(ContextReadError::Config)?,
        credentials: read_credentials_secret(tools)?,
        opened_ports: tools.opened_ports().map_err(GatherError::ReadPorts)?,
        statuses: leader.then(|| tools.status_get_application()),
    })
}

/// This unit's Pod, as much of it as [`crate::plan::pod_routed`] compares.
async fn read_pod(kube: &Kube, app: &str, unit_number: u32) -> Result<PodView, GatherError> {
    match kube
        .api::<Pod>()
        .view::<PodRouting>()
        .get(&format!("{app}-{unit_number}"))
        .await
    {
        Ok(pod) => Ok(PodView::Read(pod.map(Box::new))),
        Err(e) => match e.blocked_message() {
            Some(message) => Ok(PodView::Forbidden(message)),
            None => Err(GatherError::ReadPod(e)),
        },
    }
}

/// The relation being broken in this hook, per endpoint (Juju still lists it then).
struct Broken {
    vpn: Option<u64>,
    managers: Option<u64>,
    storage: Option<u64>,
}

/// The three relations, and the credentials secret's id for the media managers.
struct Relations {
    vpn: Relation,
    managers: Vec<ManagerRelation>,
    storage: Option<StorageRelation>,
    secret_id: Option<String>,
}

fn read_relations(
    tools: &Tools,
    broken: &Broken,
    app: &str,
    leader: bool,
) -> Result<Relations, GatherError> {
    let vpn = read_relation(tools, broken.vpn, app, leader)?;
    let managers = managers::read(tools, broken.managers, app, leader)?;
    let storage = storage::read(tools, broken.storage)?;
    // Only the leader publishes, and only where a manager is related.
    let secret_id = if leader && !managers.is_empty() {
        match tools.secret_info_get(SecretRef::Label(SECRET_LABEL)) {
            Ok(info) => Some(info.id),
            Err(ToolError::SecretNotFound { .. }) => None,
            Err(e) => return Err(GatherError::ReadSecretId(e)),
        }
    } else {
        None
    };
    Ok(Relations {
        vpn,
        managers,
        storage,
        secret_id,
    })
}

fn read_relation(
    tools: &Tools,
    broken: Option<u64>,
    app: &str,
    leader: bool,
) -> Result<Relation, GatherError> {
    // Juju still lists the relation during its relation-broken hook (ops hides it too).
    let Some(id) = tools
        .relation_ids(ENDPOINT)
        .map_err(GatherError::ListRelation)?
        .into_iter()
        .find(|id| Some(*id) != broken)
    else {
        return Ok(Relation::Absent);
    };
    let remote_app = tools
        .relation_remote_app(id)
        .map_err(GatherError::ListRelation)?;
    let provider_config = match &remote_app {
        Some(remote) => tools
            .relation_get_app(id, remote)
            .map_err(GatherError::ReadRelationData)?
            .remove(DATABAG_KEY),
        None => None,
    };
    let our_config = if leader {
        tools
            .relation_get_app(id, app)
            .map_err(GatherError::ReadRelationData)?
            .remove(DATABAG_KEY)
    } else {
        None
    };
    Ok(Relation::Joined {
        id,
        remote_app,
        provider_config,
        our_config,
    })
}

/// A read whose 403 becomes the Blocked message instead of an error.
enum Read<T> {
    Ok(T),
    Forbidden(String),
}

fn classify<T>(result: Result<T, KubeError>) -> Result<Read<T>, GatherError> {
    match result {
        Ok(v) => Ok(Read::Ok(v)),
        Err(e) => match e.blocked_message() {
            Some(message) => Ok(Read::Forbidden(message)),
            None => Err(GatherError::ReadCluster(e)),
        },
    }
}

macro_rules! read_or_forbidden {
    ($e:expr) => {
        match classify($e.await)? {
            Read::Ok(v) => v,
            Read::Forbidden(message) => return Ok(Cluster::Forbidden(message)),
        }
    };
}

async fn read_cluster(kube: &Kube, name: &AppName) -> Result<Cluster, GatherError> {
    let statefulset = read_or_forbidden!(
        kube.api::<StatefulSet>()
            .view::<StatefulSetJson>()
            .get(name.as_str())
    );
    let network_policy =
        read_or_forbidden!(kube.api::<NetworkPolicy>().get(&network_policy_name(name)));
    let config_map = read_or_forbidden!(kube.api::<ConfigMap>().get(&client_config_map_name(name)));
    let cilium_crd = read_or_forbidden!(
        kube.api::<CustomResourceDefinition>()
            .cluster_scoped()
            .exists(CILIUM_CRD)
    );
    let cilium_policy = if cilium_crd {
        let object: Option<DynamicObject> = read_or_forbidden!(
            kube.dynamic(&cilium_resource())
                .get(&cilium_policy_name(name))
        );
        object.and_then(|o| serde_json::to_value(o).ok())
    } else {
        None
    };
    let namespace_labels = read_or_forbidden!(kube.namespace_labels(kube.namespace()));
    let slice: Option<Value> = read_or_forbidden!(
        kube.api::<EndpointSlice>()
            .in_namespace(api_server::NAMESPACE)
            .view::<Value>()
            .get(api_server::NAME)
    );
    let api_server = if let Some(slice) = slice {
        ApiServerObject::Slice(slice)
    } else {
        let endpoints: Option<Value> = read_or_forbidden!(
            kube.api::<Endpoints>()
                .in_namespace(api_server::NAMESPACE)
                .view::<Value>()
                .get(api_server::NAME)
        );
        endpoints.map_or(ApiServerObject::Absent, ApiServerObject::Endpoints)
    };
    Ok(Cluster::Live(Box::new(Live {
        statefulset,
        network_policy,
        cilium_crd,
        cilium_policy,
        config_map,
        namespace_labels,
        api_server,
    })))
}

/// Largest `qBittorrent.conf` read: 1 MiB. The file holds qBittorrent's settings, a few KiB
/// (the operator's own settings included; qBittorrent keeps RSS rules, categories and torrents
/// in other files). A larger one is not a settings file we can safely rewrite: the hook fails
/// naming the file and the bound (docs/adr/0031), and the operator's settings stay untouched.
pub(crate) const MAX_CONF_BYTES: usize = 1024 * 1024;

async fn read_workload(pebble: &Pebble) -> Result<Workload, GatherError> {
    // The plan is the first read: an unreachable Pebble shows there (no system-info probe).
    let unreachable_or = |e: PebbleError| {
        if e.is_unreachable() {
            Ok(Workload::Unreachable)
        } else {
            Err(GatherError::ReadWorkload(e))
        }
    };
    let plan = match pebble.plan().await {
        Ok(plan) => plan,
        Err(e) => return unreachable_or(e),
    };
    let running = match pebble.services(&[SERVICE]).await {
        Ok(services) => services.iter().any(|s| s.name == SERVICE && s.is_running()),
        Err(e) => return unreachable_or(e),
    };
    // Larger than MAX_CONF_BYTES: `PebbleError::TooLarge`, the hook fails (docs/adr/0031).
    let conf = match pebble.pull(CONF_PATH, MAX_CONF_BYTES).await {
        // A file that is not UTF-8 is treated as absent: we write a fresh one.
        Ok(bytes) => String::from_utf8(bytes).ok(),
        Err(e) if e.is_path_not_found() => None,
        Err(e) => return unreachable_or(e),
    };
    // Not UTF-8: kept as text that is no JSON object, so the plan refuses to merge into it
    // rather than replacing the operator's categories.
    let categories = match pebble.pull(crate::categories::PATH, MAX_CONF_BYTES).await {
        Ok(bytes) => Some(String::from_utf8(bytes).unwrap_or_else(|_| "\u{0}".to_owned())),
        Err(e) if e.is_path_not_found() => None,
        Err(e) => return unreachable_or(e),
    };
    Ok(Workload::Reachable {
        plan,
        running,
        conf,
        categories,
    })
}

/// The credentials secret's content; `None` when there is none yet.
fn read_credentials_secret(tools: &Tools) -> Result<Option<SecretContent>, GatherError> {
    credentials_secret(tools).map_err(GatherError::ReadCredentials)
}

/// The credentials secret's content; `None` when there is none yet (hooks and actions).
pub fn credentials_secret(tools: &Tools) -> Result<Option<SecretContent>, ToolError> {
    match tools.secret_get(SecretRef::Label(SECRET_LABEL), Revision::Tracked) {
        Ok(content) => Ok(Some(content)),
        Err(ToolError::SecretNotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The credentials from the secret's `content`, or (leader, no secret yet) freshly generated
/// ones.
pub fn credentials_view(
    content: Option<SecretContent>,
    leader: bool,
    stored_hash: Option<&str>,
    rng: &dyn SecureRandom,
) -> Result<Credentials, GatherError> {
    let mut kept_hash: Option<String> = None;
    let (username, password, create) = match content {
        Some(content) => {
            kept_hash = content
                .get(HASH_KEY)
                .and_then(|h| credentials::well_formed_hash(h.expose()).map(str::to_owned));
            let Some((username, password)) = credentials::from_secret(&content) else {
                return Ok(Credentials::Invalid);
            };
            (username, password, false)
        }
        None if leader => {
            let password = Password::generate(rng).map_err(GatherError::GenerateCredentials)?;
            // DEFAULT_USERNAME is a constant that passes the username rule.
            let username =
                Username::parse(DEFAULT_USERNAME).map_err(GatherError::GenerateCredentials)?;
            (username, password, true)
        }
        None => return Ok(Credentials::Missing),
    };
    let password_hash = match kept_hash {
        Some(hash) => hash,
        None => hash_for(&password, stored_hash, rng)?,
    };
    Ok(Credentials::Known {
        username,
        password_hash,
        create: create.then_some(password),
    })
}

/// The stored hash when it verifies, else a fresh one.
pub fn hash_for(
    password: &Password,
    stored: Option<&str>,
    rng: &dyn SecureRandom,
) -> Result<String, GatherError> {
    match stored {
        Some(stored) if credentials::verify(password, stored) => {
            Ok(stored.trim().trim_matches('"').to_owned())
        }
        _ => credentials::hash_password(password, rng).map_err(GatherError::GenerateCredentials),
    }
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;

    use super::*;

    #[test]
    fn stored_hash_is_kept_while_it_verifies() {
        let rng = SystemRandom::new();
        let password = Password::parse("correct horse").unwrap();
        let fresh = hash_for(&password, None, &rng).unwrap();
        assert!(credentials::verify(&password, &fresh));
        let quoted = format!("\"{fresh}\"");
        assert_eq!(hash_for(&password, Some(&quoted), &rng).unwrap(), fresh);
        let other = Password::parse("other").unwrap();
        let replaced = hash_for(&other, Some(&quoted), &rng).unwrap();
        assert_ne!(replaced, fresh);
        assert!(credentials::verify(&other, &replaced));
        assert_ne!(hash_for(&password, Some("junk"), &rng).unwrap(), "junk");
    }

    #[tokio::test]
    async fn no_pebble_socket_is_unreachable_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let pebble = Pebble::at_socket(dir.path().join("pebble.socket"));
        let workload = read_workload(&pebble).await.unwrap();
        assert!(matches!(workload, Workload::Unreachable));
    }
}
