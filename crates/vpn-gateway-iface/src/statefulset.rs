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

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Container, Volume};
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
}

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

    /// The StatefulSet the API server holds after [`Self::add_patch`] on `current`.
    pub fn emulate_add(&self, current: &StatefulSet) -> Result<StatefulSet, EmulateError> {
        emulate(current, &self.template_fields())
    }

    /// True iff `live` already holds every field we set (server defaults, Juju's and other
    /// managers' fields and foreign containers are ignored).
    pub fn is_held_by(&self, live: &StatefulSet) -> bool {
        is_subset(&self.template_fields(), &to_json(live), Lists::PodTemplate)
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
    pub fn emulate_remove(&self, current: &StatefulSet) -> Result<StatefulSet, EmulateError> {
        emulate(current, &self.removal_fields())
    }

    /// True iff `live` holds none of our items and none of our annotations.
    pub fn is_absent_from(&self, live: &StatefulSet) -> bool {
        let Some(template) = live.spec.as_ref().map(|s| &s.template) else {
            return true;
        };
        let annotated = template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .is_some_and(|a| self.annotations.iter().any(|k| a.contains_key(k)));
        let pod = template.spec.as_ref();
        let init = pod
            .and_then(|p| p.init_containers.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| self.init_containers.contains(&c.name)));
        let containers = pod.is_some_and(|p| {
            p.containers
                .iter()
                .any(|c| self.containers.contains(&c.name))
        });
        let volumes = pod
            .and_then(|p| p.volumes.as_ref())
            .is_some_and(|vs| vs.iter().any(|v| self.volumes.contains(&v.name)));
        !(annotated || init || containers || volumes)
    }
}

/// The StatefulSet the API server holds after any strategic-merge `patch` on `current`
/// (e.g. Juju re-applying its own template). Emulation limits: see [`crate::smp`]'s rules
/// (pod-template merge keys, `$patch: delete`, `null`); `$retainKeys`, `$setElementOrder`
/// and `$patch: replace` are not emulated.
pub fn emulate_strategic_merge(
    current: &StatefulSet,
    patch: &Value,
) -> Result<StatefulSet, EmulateError> {
    emulate(current, patch)
}

fn emulate(current: &StatefulSet, fields: &Value) -> Result<StatefulSet, EmulateError> {
    let mut merged = to_json(current);
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
    // `from_slice`, and a second deserializer would compile the StatefulSet type tree into
    // their binaries once more (hundreds of KiB).
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
