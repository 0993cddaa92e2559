//! Writes only what [`crate::plan`] decided, in the order of docs/adr/0020-gluetun-k8s.md §8
//! (for docs/interface.md §3): the gateway ConfigMap (server-side apply) BEFORE the one
//! strategic-merge patch of our StatefulSet, then the API-key secret, the Pebble files, the
//! layer and the replan/restart, then the relation data.
//!
//! The Kubernetes writes re-check "already holds" against the object they GET (the runtime's
//! `Api::apply_if_changed` / `Api::patch`), so a concurrent change (409) is re-read and re-planned
//! and nothing is sent when the live object already holds our additions. A refused write
//! (403) becomes the Blocked status naming `--trust`; our StatefulSet gone (404) becomes
//! Waiting; both stop the hook before Pebble. Every other failure fails the hook (Juju
//! retries it; the queued relation-set and secret changes are discarded with it).

use juju_charm::k8s::{Kube, KubeError};
use juju_charm::pebble::{FileOptions, Pebble, PebbleError};
use juju_charm::tools::relation::Databag;
use juju_charm::tools::secret::{SecretContent, SecretMeta, SecretOwner};
use juju_charm::{Juju, Status, ToolError};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::ConfigMap;
use vpn_gateway_iface::StatefulSetJson;
use vpn_gateway_iface::holds::config_map_holds;
use vpn_gateway_iface::wire::DATABAG_KEY;

use crate::constants::{
    API_KEY_ATTRIBUTE, API_KEY_LABEL, LAYER_LABEL, PEBBLE_TIMEOUT, SERVICE_WAIT, WAITING_FOR_PEBBLE,
};
use crate::plan::{ApiKeyWrite, KubeWrites, PebbleWrites, Plan, ServiceAction};
use crate::workload;

/// A write failed in a way the charm cannot turn into a status: the hook fails.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// No Kubernetes client.
    #[error("cannot connect to Kubernetes")]
    Connect(#[source] KubeError),
    /// Server-side apply of the gateway ConfigMap failed.
    #[error("cannot apply the gateway ConfigMap")]
    ApplyConfigMap(#[source] KubeError),
    /// The strategic-merge patch of our StatefulSet failed.
    #[error("cannot patch our StatefulSet")]
    PatchStatefulSet(#[source] KubeError),
    /// `secret-add` of the API key failed.
    #[error("cannot create the control-server API key secret")]
    CreateApiKey(#[source] ToolError),
    /// `secret-set` of the API key failed.
    #[error("cannot replace the control-server API key")]
    ReplaceApiKey(#[source] ToolError),
    /// A push failed.
    #[error("cannot push {path} into the gluetun container")]
    PushFile {
        /// The path.
        path: &'static str,
        /// Why.
        #[source]
        source: PebbleError,
    },
    /// Adding the layer failed.
    #[error("cannot add the gluetun layer")]
    AddLayer(#[source] PebbleError),
    /// Replan or restart failed.
    #[error("cannot {action} the gluetun service")]
    Service {
        /// `replan` or `restart`.
        action: &'static str,
        /// Why.
        #[source]
        source: PebbleError,
    },
    /// `relation-set` failed.
    #[error("cannot publish the gateway data on relation {id}")]
    Publish {
        /// The relation.
        id: u64,
        /// Why.
        #[source]
        source: ToolError,
    },
}

/// Writes the plan; returns the status a refused write or a vanished Pebble calls for (the
/// hook stops there).
pub async fn apply(juju: &mut Juju, plan: &Plan) -> Result<Vec<Status>, ApplyError> {
    if let Some(writes) = &plan.kube {
        let needed = writes.config_map.is_some() || writes.statefulset.is_some();
        if needed {
            let kube = juju.kube().map_err(ApplyError::Connect)?;
            if let Some(status) = write_kube(&kube, writes).await? {
                return Ok(vec![status]);
            }
        }
    }
    if let Some(write) = &plan.api_key {
        write_api_key(juju, write)?;
    }
    if let Some(writes) = &plan.pebble {
        let pebble = juju.pebble(workload::SERVICE).with_timeout(PEBBLE_TIMEOUT);
        if let Some(status) = write_pebble(&pebble, writes).await? {
            return Ok(vec![status]);
        }
    }
    for (id, config) in &plan.relation_sets {
        let data = Databag::from([(DATABAG_KEY.to_owned(), config.clone())]);
        juju.tools()
            .relation_set_app(*id, &data)
            .map_err(|source| ApplyError::Publish { id: *id, source })?;
        tracing::info!(relation = id, "published gateway data");
    }
    Ok(Vec::new())
}

/// `Some(status)` when a refused write stops the hook.
async fn write_kube(kube: &Kube, writes: &KubeWrites) -> Result<Option<Status>, ApplyError> {
    let refused = |e: &KubeError| e.refusal_status(Some(&writes.statefulset_name));
    if let Some(config_map) = &writes.config_map {
        match kube
            .api::<ConfigMap>()
            .apply_if_changed(config_map, |live, desired| config_map_holds(desired, live))
            .await
        {
            Ok(outcome) => {
                if outcome.written() {
                    tracing::info!("applied the gateway ConfigMap");
                }
            }
            Err(e) => return refused(&e).map(Some).ok_or(ApplyError::ApplyConfigMap(e)),
        }
    }
    if let Some(additions) = &writes.statefulset {
        let outcome = kube
            .api::<StatefulSet>()
            .view::<StatefulSetJson>()
            .patch(&writes.statefulset_name, |live| {
                let version = live.resource_version()?;
                (!additions.is_held_by(live)).then(|| additions.add_patch(version))
            })
            .await;
        match outcome {
            Ok(outcome) => {
                if outcome.written() {
                    tracing::info!(
                        "patched our StatefulSet (gateway containers, volume, hash, privileged)"
                    );
                }
            }
            Err(e) => return refused(&e).map(Some).ok_or(ApplyError::PatchStatefulSet(e)),
        }
    }
    Ok(None)
}

fn write_api_key(juju: &Juju, write: &ApiKeyWrite) -> Result<(), ApplyError> {
    let meta = SecretMeta {
        label: Some(API_KEY_LABEL),
        description: Some("gluetun control-server API key (managed by the charm)"),
        owner: SecretOwner::Application,
    };
    match write {
        ApiKeyWrite::Create(key) => {
            let content = SecretContent::from([(API_KEY_ATTRIBUTE.to_owned(), key.clone())]);
            juju.tools()
                .secret_add(&content, &meta)
                .map_err(ApplyError::CreateApiKey)?;
            tracing::info!("created the control-server API key secret");
        }
        ApiKeyWrite::Replace { id, key } => {
            let content = SecretContent::from([(API_KEY_ATTRIBUTE.to_owned(), key.clone())]);
            juju.tools()
                .secret_set(id, Some(&content), &meta)
                .map_err(ApplyError::ReplaceApiKey)?;
            tracing::info!("replaced an invalid control-server API key");
        }
    }
    Ok(())
}

/// `Some(status)` when Pebble went away in the middle.
async fn write_pebble(
    pebble: &Pebble,
    writes: &PebbleWrites,
) -> Result<Option<Status>, ApplyError> {
    let gone = |e: &PebbleError| {
        e.is_unreachable()
            .then(|| Status::waiting(WAITING_FOR_PEBBLE))
    };
    for push in &writes.pushes {
        let options = FileOptions {
            make_parents: true,
            permissions: Some(push.mode),
            ..FileOptions::default()
        };
        if let Err(source) = pebble.push(push.path, &push.content.0, &options).await {
            return gone(&source).map(Some).ok_or(ApplyError::PushFile {
                path: push.path,
                source,
            });
        }
        tracing::info!(path = push.path, "pushed");
    }
    if let Some(layer) = &writes.layer {
        if let Err(e) = pebble.add_layer(LAYER_LABEL, layer, true).await {
            return gone(&e).map(Some).ok_or(ApplyError::AddLayer(e));
        }
        tracing::info!("added the gluetun layer");
    }
    let result = match writes.service {
        ServiceAction::None => return Ok(None),
        ServiceAction::Replan => ("replan", pebble.replan(SERVICE_WAIT).await),
        ServiceAction::Restart => (
            "restart",
            pebble.restart(&[workload::SERVICE], SERVICE_WAIT).await,
        ),
    };
    match result {
        (action, Ok(_)) => {
            tracing::info!(action, "gluetun service");
            Ok(None)
        }
        (action, Err(source)) => gone(&source)
            .map(Some)
            .ok_or(ApplyError::Service { action, source }),
    }
}
