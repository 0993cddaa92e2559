//! What we add to a StatefulSet that Juju owns, and how it is written, undone, emulated and
//! checked.
//!
//! Write mechanism: a strategic-merge patch (SMP) computed here and sent only when
//! [`PodAdditions::is_held_by`] says the live object lacks our additions. SMP merges list
//! items by `name`, so items the reference charm made under the same names are adopted, and
//! Juju's own GET + SMP re-apply of its template leaves them in place. The add patch carries
//! `metadata.resourceVersion` as an optimistic-concurrency precondition (a stale read gets
//! 409 and the caller re-reads). The remove patch deletes our named items with
//! `$patch: delete` and sets our annotation to `null`; nothing else is touched.
//!
//! [`PodAdditions::emulate_add`] and [`OwnedNames::emulate_remove`] return the StatefulSet the
//! API server would hold after the patch (see [`crate::smp`]), except for the server's
//! defaulting of the new items (`imagePullPolicy`, `terminationMessagePath`, `resources: {}`,
//! `defaultMode`, ...), which is not emulated; the charms' offline `render` command and the
//! property tests use them. Cross-checked against kube-apiserver 1.20.2 (docs/adr/0016 §9).

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Container, PodDNSConfig, Volume};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};

use crate::holds::{Lists, is_subset, json as to_json};
use crate::smp::merge_map;

/// Everything we add to the pod template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PodAdditions {
    /// Init containers we own, in the order they run.
    pub init_containers: Vec<Container>,
    /// Containers we own.
    pub containers: Vec<Container>,
    /// Volumes we own.
    pub volumes: Vec<Volume>,
    /// Template annotations we own.
    pub annotations: BTreeMap<String, String>,
    /// Partial entries merged (by name) into containers we do NOT own, e.g. gluetun's
    /// `securityContext.privileged`. Never removed: the container is not ours to delete.
    pub container_overrides: Vec<Container>,
    /// The pod's DNS, when we set it: `dnsPolicy: None` with this `dnsConfig` (a client
    /// resolving through the gateway, [`crate::client`]).
    pub dns_config: Option<PodDNSConfig>,
}

/// The `dnsPolicy` that goes with [`PodAdditions::dns_config`].
pub const DNS_POLICY_NONE: &str = "None";
/// The `dnsPolicy` Juju's template has, restored when ours goes.
pub const DNS_POLICY_CLUSTER_FIRST: &str = "ClusterFirst";

/// The names of what we own in the pod template, enough to remove it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnedNames {
    /// Init container names.
    pub init_containers: Vec<String>,
    /// Container names.
    pub containers: Vec<String>,
    /// Volume names.
    pub volumes: Vec<String>,
    /// Template annotation keys.
    pub annotations: Vec<String>,
    /// Whether we own the pod's DNS (`dnsPolicy`/`dnsConfig`): removal restores Juju's
    /// `ClusterFirst` and deletes `dnsConfig`.
    pub dns: bool,
}

/// The emulated merge produced JSON that is not a StatefulSet (only possible for input the
/// API server would refuse).
#[derive(Debug, thiserror::Error)]
#[error("the patched StatefulSet does not deserialise")]
pub struct EmulateError(#[source] serde_json::Error);

impl PodAdditions {
    /// The names of what these additions own.
    pub fn names(&self) -> OwnedNames {
        let names = |cs: &[Container]| cs.iter().map(|c| c.name.clone()).collect();
        OwnedNames {
            init_containers: names(&self.init_containers),
            containers: names(&self.containers),
            volumes: self.volumes.iter().map(|v| v.name.clone()).collect(),
            annotations: self.annotations.keys().cloned().collect(),
            dns: self.dns_config.is_some(),
        }
    }

    /// The StatefulSet fields we set: `spec.template.metadata.annotations` and
    /// `spec.template.spec.{initContainers,containers,volumes}`.
    fn template_fields(&self) -> Value {
        let mut spec = Map::new();
        let mut put = |field: &str, items: Vec<Value>| {
            if !items.is_empty() {
                spec.insert(field.to_owned(), Value::Array(items));
            }
        };
        put(
            "initContainers",
            self.init_containers.iter().map(to_json).collect(),
        );
        put(
            "containers",
            self.containers
                .iter()
                .chain(&self.container_overrides)
                .map(to_json)
                .collect(),
        );
        put("volumes", self.volumes.iter().map(to_json).collect());
        if let Some(dns) = &self.dns_config {
            spec.insert("dnsPolicy".to_owned(), json!(DNS_POLICY_NONE));
            spec.insert("dnsConfig".to_owned(), to_json(dns));
        }
        let mut template = Map::new();
        if !self.annotations.is_empty() {
            template.insert(
                "metadata".to_owned(),
                json!({ "annotations": self.annotations }),
            );
        }
        template.insert("spec".to_owned(), Value::Object(spec));
        json!({ "spec": { "template": template } })
    }

    /// The strategic-merge patch body adding or updating our items, with
    /// `metadata.resourceVersion` as a precondition.
    pub fn add_patch(&self, resource_version: &str) -> Value {
        let mut patch = self.template_fields();
        patch["metadata"] = json!({ "resourceVersion": resource_version });
        patch
    }

    /// The StatefulSet the API server holds after [`Self::add_patch`] on `current` (a
    /// [`StatefulSet`] or a [`StatefulSetJson`], see [`LiveStatefulSet`]).
    pub fn emulate_add<S: LiveStatefulSet>(&self, current: &S) -> Result<S, EmulateError> {
        emulate(current, &self.template_fields())
    }

    /// True iff `live` already holds every field we set (server defaults, Juju's and other
    /// managers' fields and foreign containers are ignored).
    pub fn is_held_by<S: LiveStatefulSet>(&self, live: &S) -> bool {
        is_subset(&self.template_fields(), &live.json(), Lists::PodTemplate)
    }
}

impl OwnedNames {
    /// The template fields that remove our items.
    fn removal_fields(&self) -> Value {
        let delete = |names: &[String]| -> Vec<Value> {
            names
                .iter()
                .map(|n| json!({ "$patch": "delete", "name": n }))
                .collect()
        };
        let mut spec = Map::new();
        for (field, names) in [
            ("initContainers", &self.init_containers),
            ("containers", &self.containers),
            ("volumes", &self.volumes),
        ] {
            if !names.is_empty() {
                spec.insert(field.to_owned(), Value::Array(delete(names)));
            }
        }
        if self.dns {
            spec.insert("dnsPolicy".to_owned(), json!(DNS_POLICY_CLUSTER_FIRST));
            spec.insert("dnsConfig".to_owned(), Value::Null);
        }
        let annotations: Map<String, Value> = self
            .annotations
            .iter()
            .map(|k| (k.clone(), Value::Null))
            .collect();
        json!({ "spec": { "template": {
            "metadata": { "annotations": annotations },
            "spec": spec,
        } } })
    }

    /// The strategic-merge patch body removing our items (matched by name, so the
    /// reference charm's items under the same names go too) and annotation, with
    /// `metadata.resourceVersion` as a precondition.
    pub fn remove_patch(&self, resource_version: &str) -> Value {
        let mut patch = self.removal_fields();
        patch["metadata"] = json!({ "resourceVersion": resource_version });
        patch
    }

    /// The StatefulSet the API server holds after [`Self::remove_patch`] on `current`.
    pub fn emulate_remove<S: LiveStatefulSet>(&self, current: &S) -> Result<S, EmulateError> {
        emulate(current, &self.removal_fields())
    }

    /// True iff `live` holds none of our items and none of our annotations.
    pub fn is_absent_from<S: LiveStatefulSet>(&self, live: &S) -> bool {
        let live = live.json();
        let template = &live["spec"]["template"];
        let annotated = template["metadata"]["annotations"]
            .as_object()
            .is_some_and(|a| self.annotations.iter().any(|k| a.contains_key(k)));
        let pod = &template["spec"];
        let named = |field: &str, ours: &[String]| {
            pod[field].as_array().is_some_and(|items| {
                items
                    .iter()
                    .filter_map(|item| item["name"].as_str())
                    .any(|name| ours.iter().any(|o| o == name))
            })
        };
        let dns = self.dns && (pod["dnsPolicy"] == DNS_POLICY_NONE || !pod["dnsConfig"].is_null());
        !(annotated
            || dns
            || named("initContainers", &self.init_containers)
            || named("containers", &self.containers)
            || named("volumes", &self.volumes))
    }
}

/// The StatefulSet the API server holds after any strategic-merge `patch` on `current`
/// (e.g. Juju re-applying its own template). Emulation limits: see [`crate::smp`]'s rules
/// (pod-template merge keys, `$patch: delete`, `null`); `$retainKeys`, `$setElementOrder`
/// and `$patch: replace` are not emulated.
pub fn emulate_strategic_merge<S: LiveStatefulSet>(
    current: &S,
    patch: &Value,
) -> Result<S, EmulateError> {
    emulate(current, patch)
}

/// A live StatefulSet as the charms and tests hold it: the typed [`StatefulSet`] (tests), or
/// [`StatefulSetJson`], which is what the charm binaries read. Everything here works on the
/// JSON either way.
pub trait LiveStatefulSet: Serialize + DeserializeOwned {
    /// The object's JSON.
    fn json(&self) -> Cow<'_, Value>;
}

impl LiveStatefulSet for StatefulSet {
    fn json(&self) -> Cow<'_, Value> {
        Cow::Owned(to_json(self))
    }
}

impl LiveStatefulSet for StatefulSetJson {
    fn json(&self) -> Cow<'_, Value> {
        Cow::Borrowed(&self.0)
    }
}

/// A StatefulSet kept as its JSON, checked on arrival for every field the charms read (ADR
/// 0026): `kind` (when present) is `StatefulSet`; `metadata.name` and
/// `metadata.resourceVersion` are strings when present; a `spec` has a `template` whose
/// annotations map strings to strings and whose pod spec lists `containers` (and
/// `initContainers`, `volumes`) of objects named by strings. Decoding the typed StatefulSet
/// instead would compile the whole pod type tree's deserializers (~0.2 MB of code, with a
/// date-time library for fields nobody reads) into each charm binary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct StatefulSetJson(Value);

impl StatefulSetJson {
    /// The typed object's JSON (tests and tools; the charms decode API answers).
    pub fn of(statefulset: &StatefulSet) -> Self {
        Self(to_json(statefulset))
    }

    /// The JSON.
    pub fn as_json(&self) -> &Value {
        &self.0
    }

    /// `metadata.name`.
    pub fn name(&self) -> Option<&str> {
        self.0["metadata"]["name"].as_str()
    }

    /// `metadata.resourceVersion`.
    pub fn resource_version(&self) -> Option<&str> {
        self.0["metadata"]["resourceVersion"].as_str()
    }

    /// Whether the pod template has a container named `name`.
    pub fn has_container(&self, name: &str) -> bool {
        self.0["spec"]["template"]["spec"]["containers"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["name"] == name))
    }
}

impl<'de> Deserialize<'de> for StatefulSetJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        // Checked first: serde would also read a struct from a JSON array of its fields.
        if !value.is_object() {
            return Err(D::Error::custom("a StatefulSet is a JSON object"));
        }
        let shape = Shape::deserialize(&value).map_err(D::Error::custom)?;
        if let Some(kind) = shape.kind
            && kind != "StatefulSet"
        {
            return Err(D::Error::custom(format!(
                "kind is {kind:?}, not \"StatefulSet\""
            )));
        }
        Ok(Self(value))
    }
}

/// The fields of a StatefulSet the charms read, with the types Kubernetes gives them.
#[derive(Deserialize)]
struct Shape {
    kind: Option<String>,
    #[serde(rename = "metadata")]
    _metadata: Option<ShapeMeta>,
    #[serde(rename = "spec")]
    _spec: Option<ShapeSpec>,
}

#[derive(Deserialize)]
struct ShapeMeta {
    #[serde(rename = "name")]
    _name: Option<String>,
    #[serde(rename = "resourceVersion")]
    _resource_version: Option<String>,
    #[serde(rename = "annotations")]
    _annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct ShapeSpec {
    #[serde(rename = "template")]
    _template: ShapeTemplate,
}

#[derive(Deserialize)]
struct ShapeTemplate {
    #[serde(rename = "metadata")]
    _metadata: Option<ShapeMeta>,
    #[serde(rename = "spec")]
    _spec: Option<ShapePod>,
}

#[derive(Deserialize)]
struct ShapePod {
    #[serde(rename = "containers")]
    _containers: Vec<ShapeNamed>,
    #[serde(rename = "initContainers")]
    _init_containers: Option<Vec<ShapeNamed>>,
    #[serde(rename = "volumes")]
    _volumes: Option<Vec<ShapeNamed>>,
}

#[derive(Deserialize)]
struct ShapeNamed {
    #[serde(rename = "name")]
    _name: String,
}

fn emulate<S: LiveStatefulSet>(current: &S, fields: &Value) -> Result<S, EmulateError> {
    let mut merged = current.json().into_owned();
    if let (Value::Object(target), Value::Object(patch)) = (&mut merged, fields) {
        merge_map(target, patch);
    }
    drop_empty(
        &mut merged,
        &["spec", "template", "metadata"],
        "annotations",
    );
    for field in ["initContainers", "containers", "volumes"] {
        drop_empty(&mut merged, &["spec", "template", "spec"], field);
    }
    // Through bytes rather than `from_value`: the charms decode API responses with
    // `from_slice`, and a second deserializer would compile `S`'s decoding into their
    // binaries once more.
    serde_json::to_vec(&merged)
        .and_then(|bytes| serde_json::from_slice(&bytes))
        .map_err(EmulateError)
}

/// The API server omits empty lists and maps (Go `omitempty`): so must we.
fn drop_empty(value: &mut Value, path: &[&str], field: &str) {
    let mut at = value;
    for step in path {
        match at.get_mut(*step) {
            Some(next) => at = next,
            None => return,
        }
    }
    if let Value::Object(map) = at {
        let empty = match map.get(field) {
            Some(Value::Array(items)) => items.is_empty(),
            Some(Value::Object(entries)) => entries.is_empty(),
            _ => false,
        };
        if empty {
            map.remove(field);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn decode(value: &Value) -> Result<StatefulSetJson, serde_json::Error> {
        serde_json::from_slice(&serde_json::to_vec(value).unwrap())
    }

    #[test]
    fn statefulset_json_reads_what_the_charms_use_and_refuses_other_shapes() {
        let good = json!({
            "kind": "StatefulSet",
            "metadata": {"name": "vpnarr", "resourceVersion": "42", "uid": "x"},
            "spec": {"template": {
                "metadata": {"annotations": {"a": "b"}},
                "spec": {"containers": [{"name": "gluetun", "image": "i"}],
                         "volumes": [{"name": "v", "emptyDir": {}}]}
            }, "replicas": 1}
        });
        let live = decode(&good).unwrap();
        assert_eq!(live.name(), Some("vpnarr"));
        assert_eq!(live.resource_version(), Some("42"));
        assert!(live.has_container("gluetun"));
        assert!(!live.has_container("charm"));
        assert_eq!(live.as_json(), &good, "kept whole, unknown fields included");
        assert_eq!(serde_json::to_value(&live).unwrap(), good);
        // Absent optional parts are fine: a bare object is an (empty) StatefulSet.
        assert_eq!(decode(&json!({})).unwrap().name(), None);

        for (bad, why) in [
            (json!([]), "JSON object"),
            (json!([null, null, null]), "JSON object"),
            (json!({"kind": "Deployment"}), "Deployment"),
            (json!({"metadata": {"name": 7}}), "invalid type"),
            (
                json!({"metadata": {"resourceVersion": ["1"]}}),
                "invalid type",
            ),
            (json!({"spec": {}}), "template"),
            (json!({"spec": {"template": {"spec": {}}}}), "containers"),
            (
                json!({"spec": {"template": {"spec": {"containers": [{}]}}}}),
                "name",
            ),
            (
                json!({"spec": {"template": {"spec": {"containers": [], "volumes": [{"name": 1}]}}}}),
                "invalid type",
            ),
            (
                json!({"spec": {"template": {"metadata": {"annotations": {"a": 1}}}}}),
                "invalid type",
            ),
        ] {
            let error = decode(&bad).unwrap_err().to_string();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }

    #[test]
    fn typed_and_json_statefulsets_agree() {
        let typed: StatefulSet = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "app", "resourceVersion": "3"},
            "spec": {"selector": {}, "serviceName": "app", "template": {
                "metadata": {"annotations": {"ours": "1"}},
                "spec": {"containers": [{"name": "app"}, {"name": "sidecar"}]}
            }}
        }))
        .unwrap();
        let live = StatefulSetJson::of(&typed);
        let names = OwnedNames {
            containers: vec!["sidecar".into()],
            ..OwnedNames::default()
        };
        assert!(!names.is_absent_from(&typed));
        assert!(!names.is_absent_from(&live));
        let annotated = OwnedNames {
            annotations: vec!["ours".into()],
            ..OwnedNames::default()
        };
        assert!(!annotated.is_absent_from(&live));
        let removed = names.emulate_remove(&live).unwrap();
        assert!(names.is_absent_from(&removed));
        assert_eq!(
            removed.as_json(),
            &to_json(&names.emulate_remove(&typed).unwrap())
        );
        assert!(OwnedNames::default().is_absent_from(&live));
    }
}
