//! Carries out a [`Plan`]: writes only what the plan lists, in its order, and records the
//! statuses. Every Kubernetes write re-checks the live object first (the runtime's
//! `Api::apply_if_changed` / `Api::patch`), so a concurrent change never makes us write blindly.
//!
//! A Kubernetes write that fails stops the remaining Kubernetes steps: the routing patch is
//! never sent after a failed kill-switch write. A 403 becomes Blocked (`--trust`), a 404 on
//! our StatefulSet Waiting; anything else fails the hook so that Juju retries it.

use std::collections::BTreeMap;

use juju_charm::k8s::{Kube, KubeError};
use juju_charm::pebble::{Pebble, PebbleError};
use juju_charm::tools::ToolError;
use juju_charm::tools::secret::{SecretContent, SecretMeta, SecretOwner};
use juju_charm::{Juju, SecretString, Status};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::core::DynamicObject;
use vpn_gateway_iface::StatefulSetJson;
use vpn_gateway_iface::holds::{cilium_policy_holds, config_map_holds, network_policy_holds};
use vpn_gateway_iface::wire::DATABAG_KEY;

use crate::constants::{
    CONF_PATH, CONTAINER, HASH_KEY, PASSWORD_KEY, SECRET_LABEL, SERVICE_WAIT, USERNAME_KEY,
    cilium_resource,
};
use crate::plan::{KubeStep, NewSecret, Plan, PortStep, WorkloadStep};
use crate::workload::{self, SERVICE};

/// A write failed in a way Juju should retry.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// No Kubernetes client.
    #[error("cannot connect to Kubernetes")]
    Connect(#[source] KubeError),
    /// `secret-add`.
    #[error("cannot create the credentials secret")]
    CreateSecret(#[source] ToolError),
    /// `relation-set`.
    #[error("cannot publish our vpn-gateway data")]
    Publish(#[source] ToolError),
    /// `secret-grant` / `relation-set` on a download-client relation.
    #[error(transparent)]
    DownloadClient(#[from] charmarr_client::managers::PublishError),
    /// A Kubernetes write.
    #[error("Kubernetes write failed: {step}")]
    Kube {
        /// The step.
        step: String,
        /// Why.
        #[source]
        source: KubeError,
    },
    /// A Pebble call.
    #[error("cannot {step} in the qbittorrent container")]
    Workload {
        /// The step.
        step: &'static str,
        /// Why.
        #[source]
        source: PebbleError,
    },
    /// `open-port` / `close-port`.
    #[error("cannot change the opened ports")]
    Ports(#[source] ToolError),
}

/// Applies `plan`; returns the status a refused Kubernetes write calls for (the remaining
/// Kubernetes steps are skipped).
pub async fn apply(juju: &mut Juju, plan: &Plan) -> Result<Vec<Status>, ApplyError> {
    let mut found = Vec::new();
    let created = match &plan.create_secret {
        Some(secret) => Some(create_secret(juju, secret).map_err(ApplyError::CreateSecret)?),
        None => None,
    };
    // The secret is granted to each manager before our data names it (docs/adr/0043).
    if let Some(publish) = &plan.download_client {
        charmarr_client::managers::grant_then_publish(juju.tools(), publish, created.as_deref())?;
    }
    if let Some((id, config)) = &plan.publish {
        let data = BTreeMap::from([(DATABAG_KEY.to_owned(), config.clone())]);
        juju.tools()
            .relation_set_app(*id, &data)
            .map_err(ApplyError::Publish)?;
    }
    write_workload(&juju.pebble(CONTAINER), &plan.workload).await?;
    if !plan.kube.is_empty() {
        let kube = juju.kube().map_err(ApplyError::Connect)?;
        found.extend(write_kube(&kube, &plan.kube).await?);
    }
    for step in &plan.ports {
        match step {
            PortStep::Open(port) => juju.tools().open_port(*port),
            PortStep::Close(port) => juju.tools().close_port(*port),
        }
        .map_err(ApplyError::Ports)?;
    }
    Ok(found)
}

/// The Kubernetes steps in order, stopping at the first refused one (its status returned):
/// the routing patch is never sent after a failed kill-switch write.
async fn write_kube(kube: &Kube, steps: &[KubeStep]) -> Result<Option<Status>, ApplyError> {
    for step in steps {
        tracing::info!("{step}");
        if let Err(e) = kube_step(kube, step).await {
            let statefulset = match step {
                KubeStep::PatchStatefulSet(name, _)
                | KubeStep::RemoveRouting(name, _)
                | KubeStep::SharedStorage(name, _) => Some(name.as_str()),
                _ => None,
            };
            return match e.refusal_status(statefulset) {
                Some(status) => Ok(Some(status)),
                None => Err(ApplyError::Kube {
                    step: step.to_string(),
                    source: e,
                }),
            };
        }
    }
    Ok(None)
}

/// `secret-add --owner application --label credentials username#file=… password#file=…`.
pub fn create_secret(juju: &Juju, secret: &NewSecret) -> Result<String, ToolError> {
    juju.tools()
        .secret_add(&secret_content(secret), &SECRET_META)
}

/// The credentials secret's metadata: application-owned, under the reference's label.
pub const SECRET_META: SecretMeta<'static> = SecretMeta {
    label: Some(SECRET_LABEL),
    description: Some("qBittorrent WebUI credentials"),
    owner: SecretOwner::Application,
};

/// The credentials secret's content: the reference's `username` and `password`, and our
/// `password-hash` beside them. The one builder of it (hooks and `rotate-credentials`).
pub fn secret_content(secret: &NewSecret) -> SecretContent {
    BTreeMap::from([
        (
            USERNAME_KEY.to_owned(),
            SecretString::new(secret.username.as_str()),
        ),
        (
            PASSWORD_KEY.to_owned(),
            SecretString::new(secret.password.expose()),
        ),
        (
            HASH_KEY.to_owned(),
            SecretString::new(&secret.password_hash),
        ),
    ])
}

/// The workload steps, in order.
pub async fn write_workload(pebble: &Pebble, steps: &[WorkloadStep]) -> Result<(), ApplyError> {
    for step in steps {
        workload_step(pebble, step).await?;
    }
    Ok(())
}

async fn workload_step(pebble: &Pebble, step: &WorkloadStep) -> Result<(), ApplyError> {
    let err = |step| move |source| ApplyError::Workload { step, source };
    match step {
        WorkloadStep::Stop => pebble
            .stop(&[SERVICE], SERVICE_WAIT)
            .await
            .map(drop)
            .map_err(err("stop qbittorrent")),
        WorkloadStep::PushConf(content) => pebble
            .push(
                CONF_PATH,
                content.as_bytes(),
                &workload::conf_file_options(),
            )
            .await
            .map_err(err("write qBittorrent.conf")),
        WorkloadStep::PushCategories(content) => pebble
            .push(
                crate::categories::PATH,
                content.as_bytes(),
                &workload::conf_file_options(),
            )
            .await
            .map_err(err("write categories.json")),
        WorkloadStep::AddLayer(layer) => pebble
            .add_layer(SERVICE, layer, true)
            .await
            .map_err(err("add the Pebble layer")),
        WorkloadStep::Restart => pebble
            .restart(&[SERVICE], SERVICE_WAIT)
            .await
            .map(drop)
            .map_err(err("start qbittorrent")),
    }
}

async fn kube_step(kube: &Kube, step: &KubeStep) -> Result<(), KubeError> {
    match step {
        KubeStep::ApplyNetworkPolicy(np) => kube
            .api::<NetworkPolicy>()
            .apply_if_changed(np, |live, desired| network_policy_holds(desired, live))
            .await
            .map(drop),
        KubeStep::ApplyCiliumPolicy(value) => {
            let desired: DynamicObject =
                juju_charm::k8s::from_json_value(value).map_err(|e| KubeError::ApplyObject {
                    resource: "ciliumnetworkpolicies.cilium.io".to_owned(),
                    name: String::new(),
                    source: juju_charm::k8s::Failure::Decode(e),
                })?;
            kube.dynamic(&cilium_resource())
                .apply_if_changed(&desired, |live, _| {
                    serde_json::to_value(live).is_ok_and(|live| cilium_policy_holds(value, &live))
                })
                .await
                .map(drop)
        }
        KubeStep::ApplyConfigMap(cm) => kube
            .api::<ConfigMap>()
            .apply_if_changed(cm, |live, desired| config_map_holds(desired, live))
            .await
            .map(drop),
        KubeStep::PatchStatefulSet(name, additions) => kube
            .api::<StatefulSet>()
            .view::<StatefulSetJson>()
            .patch(name, |live| {
                (!additions.is_held_by(live)).then(|| additions.add_patch(resource_version(live)))
            })
            .await
            .map(drop),
        KubeStep::RemoveRouting(name, names) => kube
            .api::<StatefulSet>()
            .view::<StatefulSetJson>()
            .patch(name, |live| {
                (!names.is_absent_from(live)).then(|| names.remove_patch(resource_version(live)))
            })
            .await
            .map(drop),
        KubeStep::SharedStorage(name, step) => kube
            .api::<StatefulSet>()
            .view::<StatefulSetJson>()
            .patch(name, |live| step.patch(live))
            .await
            .map(drop),
        KubeStep::DeleteConfigMap(name) => kube.api::<ConfigMap>().delete(name).await.map(drop),
        KubeStep::DeleteCiliumPolicy(name) => kube
            .dynamic(&cilium_resource())
            .delete(name)
            .await
            .map(drop),
        KubeStep::DeleteNetworkPolicy(name) => {
            kube.api::<NetworkPolicy>().delete(name).await.map(drop)
        }
    }
}

fn resource_version(live: &StatefulSetJson) -> &str {
    live.resource_version().unwrap_or_default()
}
