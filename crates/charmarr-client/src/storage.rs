//! The `media-storage` requirer (docs/charmarr-relations.md §3, docs/adr/0042): the shared
//! claim charmarr-storage-k8s publishes, mounted into our workload container.
//!
//! What the StatefulSet's pod template gets, as the reference's `reconcile_storage_volume`
//! does it: volume `charmarr-shared-data` on the claim, a mount of it at the published path in
//! the workload container, and the pod's `securityContext.fsGroup` = PGID. Written with the
//! routing's mechanism (ADR 0008): a strategic-merge patch with `metadata.resourceVersion`,
//! sent only when the live template does not hold it ([`Mount::patch`] answers `None` then).
//! Items match by name (volume) and path (mount), so the reference charm's items are adopted,
//! not duplicated. A mount of our volume at another path (the provider moved it) is deleted
//! in the same patch.
//!
//! When the relation goes, [`Unmount`] deletes the volume, every mount of it, and `fsGroup`
//! (the reference never does, and a pod tied to a deleted claim cannot start). Pending or
//! invalid data changes nothing.

use charmarr_iface::media_storage::{ProviderData, VOLUME_NAME};
use charmarr_iface::{DATABAG_KEY, InvalidField};
use juju_charm::{Status, Tools};
use serde_json::{Map, Value, json};
use vpn_gateway_iface::StatefulSetJson;
use vpn_gateway_iface::holds::pod_template_holds;

use crate::ReadError;

/// The endpoint.
pub const ENDPOINT: &str = "media-storage";

/// Why there is no shared volume: no relation (a client may run standalone then, or wait).
pub const MSG_NO_RELATION: &str = "no media-storage relation (the shared downloads volume)";

/// The `media-storage` relation as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageRelation {
    /// The relation id.
    pub id: u64,
    /// The provider application, when Juju knows it yet.
    pub remote_app: Option<String>,
    /// The provider's `config` value (untrusted), if published.
    pub provider_config: Option<String>,
}

/// The relation (limit 1: the lowest id if Juju ever lists more), but not the one being
/// broken.
pub fn read(tools: &Tools, broken: Option<u64>) -> Result<Option<StorageRelation>, ReadError> {
    let err = |source| ReadError {
        endpoint: ENDPOINT,
        source,
    };
    let Some(id) = tools
        .relation_ids(ENDPOINT)
        .map_err(err)?
        .into_iter()
        .filter(|id| Some(*id) != broken)
        .min()
    else {
        return Ok(None);
    };
    let remote_app = tools.relation_remote_app(id).map_err(err)?;
    let provider_config = match &remote_app {
        Some(remote) => tools
            .relation_get_app(id, remote)
            .map_err(err)?
            .remove(DATABAG_KEY),
        None => None,
    };
    Ok(Some(StorageRelation {
        id,
        remote_app,
        provider_config,
    }))
}

/// What the provider says, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// No relation.
    Absent,
    /// Related; nothing published yet (charmarr-storage-k8s publishes once its permission
    /// check passed). Carries the provider's name when known.
    Pending(Option<String>),
    /// Published, invalid.
    Invalid(InvalidField),
    /// Published, valid.
    Valid(ProviderData),
}

impl Storage {
    /// Validates the relation as read.
    pub fn from_relation(relation: Option<&StorageRelation>) -> Self {
        match relation {
            None => Self::Absent,
            Some(StorageRelation {
                provider_config: None,
                remote_app,
                ..
            }) => Self::Pending(remote_app.clone()),
            Some(StorageRelation {
                provider_config: Some(text),
                ..
            }) => match ProviderData::from_databag(text) {
                Ok(data) => Self::Valid(data),
                Err(e) => Self::Invalid(e),
            },
        }
    }

    /// The valid data, if any.
    pub fn valid(&self) -> Option<&ProviderData> {
        match self {
            Self::Valid(data) => Some(data),
            _ => None,
        }
    }

    /// Why the workload cannot use the shared volume yet, if it cannot (a client decides what
    /// it does without the relation, so [`Self::Absent`] is Blocked here only as a default).
    pub fn status(&self) -> Option<Status> {
        match self {
            Self::Absent => Some(Status::blocked(MSG_NO_RELATION)),
            Self::Pending(Some(app)) => Some(Status::waiting(format!(
                "Waiting for media-storage data from {app}"
            ))),
            Self::Pending(None) => Some(Status::waiting("Waiting for media-storage data")),
            Self::Invalid(e) => Some(Status::blocked(format!("invalid media-storage data: {e}"))),
            Self::Valid(_) => None,
        }
    }

    /// The StatefulSet change this calls for, if the live template does not hold it already:
    /// valid data mounts, no relation unmounts, pending or invalid data changes nothing.
    pub fn step(&self, container: &str, live: &StatefulSetJson) -> Option<MountStep> {
        let step = match self {
            Self::Valid(data) => MountStep::Mount(Mount {
                container: container.to_owned(),
                data: data.clone(),
            }),
            Self::Absent => MountStep::Unmount(Unmount),
            Self::Pending(_) | Self::Invalid(_) => return None,
        };
        step.patch(live).is_some().then_some(step)
    }
}

/// One change of the shared mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountStep {
    /// Add (or move) it.
    Mount(Mount),
    /// Remove it.
    Unmount(Unmount),
}

impl MountStep {
    /// The strategic-merge patch for `live`, or `None` when `live` already holds the result
    /// (the check the write re-runs against the latest object).
    pub fn patch(&self, live: &StatefulSetJson) -> Option<Value> {
        match self {
            Self::Mount(m) => m.patch(live),
            Self::Unmount(u) => u.patch(live),
        }
    }
}

/// The shared claim mounted into `container`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The workload container (as the charm's metadata names it).
    pub container: String,
    /// The provider's data.
    pub data: ProviderData,
}

impl Mount {
    fn fields(&self) -> Value {
        json!({ "spec": { "template": { "spec": {
            "securityContext": { "fsGroup": self.data.pgid.get() },
            "volumes": [{
                "name": VOLUME_NAME,
                "persistentVolumeClaim": { "claimName": self.data.pvc_name.as_str() },
            }],
            "containers": [{
                "name": self.container,
                "volumeMounts": [{
                    "name": VOLUME_NAME,
                    "mountPath": self.data.mount_path.as_str(),
                }],
            }],
        } } } })
    }

    /// Mount paths of our volume in our container other than the published one.
    fn stale_paths(&self, live: &StatefulSetJson) -> Vec<String> {
        mounts_of_volume(live.as_json(), Some(&self.container))
            .into_iter()
            .filter(|path| path != self.data.mount_path.as_str())
            .collect()
    }

    /// True iff `live` holds the volume, the mount at the published path (and no other mount
    /// of our volume in our container) and `fsGroup`.
    pub fn is_held_by(&self, live: &StatefulSetJson) -> bool {
        pod_template_holds(&self.fields(), live.as_json()) && self.stale_paths(live).is_empty()
    }

    /// The patch, or `None` when `live` holds it.
    pub fn patch(&self, live: &StatefulSetJson) -> Option<Value> {
        if self.is_held_by(live) {
            return None;
        }
        let mut patch = self.fields();
        let stale = self.stale_paths(live);
        if let Some(mounts) = patch.pointer_mut("/spec/template/spec/containers/0/volumeMounts")
            && let Value::Array(items) = mounts
        {
            items.extend(
                stale
                    .iter()
                    .map(|p| json!({ "$patch": "delete", "mountPath": p })),
            );
        }
        patch["metadata"] = json!({ "resourceVersion": resource_version(live) });
        Some(patch)
    }
}

/// The shared claim removed: the volume, every container's mounts of it, and `fsGroup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unmount;

impl Unmount {
    /// True iff `live` has neither the volume nor a mount of it.
    pub fn is_absent_from(live: &StatefulSetJson) -> bool {
        let json = live.as_json();
        !has_volume(json) && mounts_of_volume(json, None).is_empty()
    }

    /// The patch, or `None` when nothing of ours is left.
    pub fn patch(self, live: &StatefulSetJson) -> Option<Value> {
        if Self::is_absent_from(live) {
            return None;
        }
        let json = live.as_json();
        let mut spec = Map::new();
        if has_volume(json) {
            spec.insert(
                "volumes".to_owned(),
                json!([{ "$patch": "delete", "name": VOLUME_NAME }]),
            );
        }
        let containers: Vec<Value> = containers(json)
            .iter()
            .filter_map(|c| {
                let name = c["name"].as_str()?;
                let paths = mounts_in(c);
                (!paths.is_empty()).then(|| {
                    json!({
                        "name": name,
                        "volumeMounts": paths
                            .iter()
                            .map(|p| json!({ "$patch": "delete", "mountPath": p }))
                            .collect::<Vec<_>>(),
                    })
                })
            })
            .collect();
        if !containers.is_empty() {
            spec.insert("containers".to_owned(), Value::Array(containers));
        }
        spec.insert("securityContext".to_owned(), json!({ "fsGroup": null }));
        Some(json!({
            "metadata": { "resourceVersion": resource_version(live) },
            "spec": { "template": { "spec": spec } },
        }))
    }
}

fn resource_version(live: &StatefulSetJson) -> &str {
    live.resource_version().unwrap_or_default()
}

fn containers(live: &Value) -> &[Value] {
    live.pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn has_volume(live: &Value) -> bool {
    live.pointer("/spec/template/spec/volumes")
        .and_then(Value::as_array)
        .is_some_and(|vs| vs.iter().any(|v| v["name"] == VOLUME_NAME))
}

/// Mount paths of our volume in one container.
fn mounts_in(container: &Value) -> Vec<String> {
    container["volumeMounts"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter(|m| m["name"] == VOLUME_NAME)
                .filter_map(|m| m["mountPath"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Mount paths of our volume in `container` (`None`: in every container).
fn mounts_of_volume(live: &Value, container: Option<&str>) -> Vec<String> {
    containers(live)
        .iter()
        .filter(|c| container.is_none_or(|name| c["name"] == name))
        .flat_map(mounts_in)
        .collect()
}

/// Whether a running pod carries the mount: its container `container` mounts a volume named
/// [`VOLUME_NAME`] at the published path, and that volume is the published claim. `pod` is
/// the Pod's JSON (or the part of it with `spec.volumes` and `spec.containers`).
pub fn pod_carries(pod: &Value, container: &str, data: &ProviderData) -> bool {
    let claimed = pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .is_some_and(|vs| {
            vs.iter().any(|v| {
                v["name"] == VOLUME_NAME
                    && v["persistentVolumeClaim"]["claimName"] == data.pvc_name.as_str()
            })
        });
    let mounted = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .filter(|c| c["name"] == container)
                .any(|c| mounts_in(c).iter().any(|p| p == data.mount_path.as_str()))
        });
    claimed && mounted
}

#[cfg(test)]
mod tests {
    use vpn_gateway_iface::statefulset::emulate_strategic_merge;

    use super::*;

    const DATA: &str =
        r#"{"pvc_name":"charmarr-shared-media","mount_path":"/data","puid":1000,"pgid":1000}"#;

    fn juju_template() -> StatefulSetJson {
        serde_json::from_value(json!({
            "kind": "StatefulSet",
            "metadata": {"name": "qbittorrent", "resourceVersion": "7"},
            "spec": {"template": {"spec": {
                "containers": [
                    {"name": "charm", "volumeMounts": [{"name": "charm-data", "mountPath": "/charm"}]},
                    {"name": "qbittorrent", "volumeMounts": [{"name": "qbittorrent-config", "mountPath": "/config"}]}
                ],
                "volumes": [{"name": "charm-data", "emptyDir": {}}]
            }}}
        }))
        .unwrap()
    }

    fn valid(text: &str) -> Storage {
        Storage::from_relation(Some(&StorageRelation {
            id: 4,
            remote_app: Some("storage".to_owned()),
            provider_config: Some(text.to_owned()),
        }))
    }

    fn apply(live: &StatefulSetJson, patch: &Value) -> StatefulSetJson {
        let mut body = patch.clone();
        body.as_object_mut().unwrap().remove("metadata");
        emulate_strategic_merge(live, &body).unwrap()
    }

    #[test]
    fn mount_then_steady_then_unmount_then_steady() {
        let storage = valid(DATA);
        let live = juju_template();
        let step = storage.step("qbittorrent", &live).expect("mount needed");
        let patch = step.patch(&live).unwrap();
        assert_eq!(patch["metadata"]["resourceVersion"], "7");
        let mounted = apply(&live, &patch);
        let pod = mounted.as_json()["spec"]["template"].clone();
        assert!(pod_carries(&pod, "qbittorrent", storage.valid().unwrap()));
        assert_eq!(pod["spec"]["securityContext"]["fsGroup"], 1000);
        assert_eq!(
            storage.step("qbittorrent", &mounted),
            None,
            "held: no write"
        );

        let gone = Storage::Absent;
        let step = gone.step("qbittorrent", &mounted).expect("unmount needed");
        let unmounted = apply(&mounted, &step.patch(&mounted).unwrap());
        assert!(Unmount::is_absent_from(&unmounted));
        let spec = &unmounted.as_json()["spec"]["template"]["spec"];
        assert!(spec["securityContext"]["fsGroup"].is_null());
        assert_eq!(
            spec["volumes"],
            json!([{"name": "charm-data", "emptyDir": {}}])
        );
        assert_eq!(gone.step("qbittorrent", &unmounted), None);
    }

    #[test]
    fn the_reference_charms_items_are_adopted() {
        // What reconcile_storage_volume leaves (with the server's defaults).
        let live: StatefulSetJson = serde_json::from_value(json!({
            "metadata": {"name": "qbittorrent", "resourceVersion": "9"},
            "spec": {"template": {"spec": {
                "securityContext": {"fsGroup": 1000},
                "containers": [{"name": "qbittorrent", "volumeMounts": [
                    {"name": "qbittorrent-config", "mountPath": "/config"},
                    {"name": "charmarr-shared-data", "mountPath": "/data"}
                ]}],
                "volumes": [{"name": "charmarr-shared-data",
                    "persistentVolumeClaim": {"claimName": "charmarr-shared-media"}}]
            }}}
        }))
        .unwrap();
        assert_eq!(valid(DATA).step("qbittorrent", &live), None);
    }

    #[test]
    fn a_moved_mount_path_replaces_the_old_mount() {
        let live = juju_template();
        let first = valid(DATA).step("qbittorrent", &live).unwrap();
        let mounted = apply(&live, &first.patch(&live).unwrap());
        let moved = valid(
            r#"{"pvc_name":"charmarr-shared-media","mount_path":"/media","puid":1000,"pgid":2000}"#,
        );
        let step = moved.step("qbittorrent", &mounted).unwrap();
        let after = apply(&mounted, &step.patch(&mounted).unwrap());
        let mounts = mounts_of_volume(after.as_json(), Some("qbittorrent"));
        assert_eq!(mounts, ["/media"]);
        assert_eq!(
            after.as_json()["spec"]["template"]["spec"]["securityContext"]["fsGroup"],
            2000
        );
        assert_eq!(moved.step("qbittorrent", &after), None);
    }

    #[test]
    fn pending_or_invalid_data_changes_nothing_and_says_why() {
        let live = juju_template();
        let pending = Storage::from_relation(Some(&StorageRelation {
            id: 4,
            remote_app: Some("storage".to_owned()),
            provider_config: None,
        }));
        assert_eq!(pending.step("qbittorrent", &live), None);
        assert_eq!(
            pending.status().unwrap().message,
            "Waiting for media-storage data from storage"
        );
        for (text, field) in [
            (r#"{"pvc_name":"x","mount_path":"/etc"}"#, "mount_path"),
            (r#"{"pvc_name":"Bad_Name"}"#, "pvc_name"),
            (r#"{"pvc_name":"x","puid":0}"#, "puid"),
            (r#"{"pvc_name":"x","pgid":"1000"}"#, "pgid"),
            ("nope", "config"),
        ] {
            let invalid = valid(text);
            assert_eq!(invalid.step("qbittorrent", &live), None, "{text}");
            let status = invalid.status().unwrap();
            assert_eq!(status.level, juju_charm::StatusLevel::Blocked);
            assert!(
                status
                    .message
                    .starts_with(&format!("invalid media-storage data: {field}:")),
                "{text}: {}",
                status.message
            );
        }
        assert_eq!(Storage::Absent.status().unwrap().message, MSG_NO_RELATION);
    }
}
