//! `qbittorrent-k8s render`: the Kubernetes objects the charm would leave in the cluster for
//! given inputs, without touching anything. It builds the hook's [`Inputs`] from its files
//! (as the leader, with the given StatefulSet and nothing else of ours in the cluster) and
//! prints what [`crate::plan::plan`] writes, as ONE JSON object `{"objects": [...]}`: with
//! `--gateway-data` the kill-switch NetworkPolicy (and the CiliumNetworkPolicy with
//! `--cilium`), the client ConfigMap and the patched StatefulSet; without it, the StatefulSet
//! with our routing removed. With `--storage-data` the StatefulSet also carries the shared
//! claim (without it, the claim removed). Invalid gateway or storage data prints nothing on stdout, names the field
//! on stderr and exits non-zero.

use std::path::PathBuf;

use charmarr_client::storage::StorageRelation;
use juju_charm::render::{InputError, read_file, read_json};
use serde_json::{Value, json};
use vpn_gateway_iface::statefulset::emulate_strategic_merge;
use vpn_gateway_iface::{
    EmulateError, InvalidField, ProviderData, RequirerData, StatefulSetJson, juju_names,
};

use crate::config::Config;
use crate::inputs::{Cluster, Credentials, Inputs, Live, PodView, Relation, Workload};
use crate::plan::{KubeStep, Plan};

juju_charm::render_args! {
    /// Print the Kubernetes objects the charm would leave in the cluster, as one JSON object.
    pub struct RenderArgs {
        /// the gateway's `config` databag value (a JSON object)
        #[argh(option)]
        pub gateway_data: Option<PathBuf>,
        /// render as if Cilium's CRD existed (adds the CiliumNetworkPolicy)
        #[argh(switch)]
        pub cilium: bool,
        /// the storage provider's `config` databag value (a JSON object): adds the shared
        /// claim's volume, mount and fsGroup
        #[argh(option)]
        pub storage_data: Option<PathBuf>,
    }
}

/// Why `render` printed nothing.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// An input file cannot be used.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The gateway data is invalid (names the field).
    #[error("invalid gateway data")]
    InvalidGatewayData(#[source] InvalidField),
    /// The storage data is invalid (names the field).
    #[error("invalid media-storage data")]
    InvalidStorageData(#[source] charmarr_iface::InvalidField),
    /// The patched StatefulSet could not be computed.
    #[error("cannot compute the patched StatefulSet")]
    Emulate(#[source] EmulateError),
    /// An object could not be encoded.
    #[error("cannot encode the objects")]
    Encode(#[source] serde_json::Error),
}

/// The hook's inputs for these files: the leader, related to a gateway that published
/// `--gateway-data` (or not related), the StatefulSet and no other object of ours yet.
pub fn inputs(args: &RenderArgs) -> Result<Inputs, RenderError> {
    let (app, model) = juju_names(&args.app, &args.model).map_err(InputError::names)?;
    // The gateway data is checked before anything else is parsed: invalid data must name its
    // field whatever else is wrong.
    let relation = match &args.gateway_data {
        Some(path) => {
            let text = read_file(path)?;
            ProviderData::from_databag(&text).map_err(RenderError::InvalidGatewayData)?;
            let ours = RequirerData {
                instance_name: app.clone(),
            }
            .to_databag();
            Relation::Joined {
                id: 0,
                remote_app: None,
                provider_config: Some(text),
                our_config: Some(ours),
            }
        }
        None => Relation::Absent,
    };
    let storage = match &args.storage_data {
        Some(path) => {
            let text = read_file(path)?;
            charmarr_iface::media_storage::ProviderData::from_databag(&text)
                .map_err(RenderError::InvalidStorageData)?;
            Some(StorageRelation {
                id: 1,
                remote_app: None,
                provider_config: Some(text),
            })
        }
        None => None,
    };
    let statefulset: StatefulSetJson = read_json(&args.statefulset, "a StatefulSet")?;
    Ok(Inputs {
        app,
        model,
        model_uuid: String::new(),
        unit_number: 0,
        leader: true,
        config: Ok(Config::default()),
        relation,
        managers: Vec::new(),
        storage,
        secret_id: None,
        cluster: Cluster::Live(Box::new(Live {
            statefulset: Some(statefulset),
            cilium_crd: args.cilium,
            ..Live::default()
        })),
        pod: PodView::Read(None),
        workload: Workload::Unreachable,
        credentials: Credentials::Missing,
        opened_ports: Vec::new(),
    })
}

/// The objects the plan applies, in its order, and last the StatefulSet as its patches
/// leave it.
pub fn output(inputs: &Inputs, plan: &Plan) -> Result<Value, RenderError> {
    let Cluster::Live(live) = &inputs.cluster else {
        return Ok(json!({ "objects": [] }));
    };
    let mut statefulset = live.statefulset.clone();
    let mut objects = Vec::new();
    for step in &plan.kube {
        match step {
            KubeStep::ApplyNetworkPolicy(np) => objects.push(json_of(np)?),
            KubeStep::ApplyCiliumPolicy(cnp) => objects.push(cnp.clone()),
            KubeStep::ApplyConfigMap(cm) => objects.push(json_of(cm)?),
            KubeStep::PatchStatefulSet(_, additions) => {
                statefulset = statefulset
                    .map(|s| additions.emulate_add(&s))
                    .transpose()
                    .map_err(RenderError::Emulate)?;
            }
            KubeStep::RemoveRouting(_, names) => {
                statefulset = statefulset
                    .map(|s| names.emulate_remove(&s))
                    .transpose()
                    .map_err(RenderError::Emulate)?;
            }
            KubeStep::SharedStorage(_, step) => {
                statefulset = statefulset
                    .map(|s| match step.patch(&s) {
                        Some(mut patch) => {
                            if let Some(body) = patch.as_object_mut() {
                                body.remove("metadata");
                            }
                            emulate_strategic_merge(&s, &patch)
                        }
                        None => Ok(s),
                    })
                    .transpose()
                    .map_err(RenderError::Emulate)?;
            }
            KubeStep::DeleteConfigMap(_)
            | KubeStep::DeleteCiliumPolicy(_)
            | KubeStep::DeleteNetworkPolicy(_) => {}
        }
    }
    if let Some(statefulset) = statefulset {
        objects.push(json_of(&statefulset)?);
    }
    Ok(json!({ "objects": objects }))
}

fn json_of<T: serde::Serialize>(value: &T) -> Result<Value, RenderError> {
    serde_json::to_value(value).map_err(RenderError::Encode)
}
