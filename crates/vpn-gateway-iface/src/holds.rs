//! "Does the live object already hold what we want?" — a semantic comparison.
//!
//! StatefulSet and ConfigMap: a subset check, below. NetworkPolicy and
//! CiliumNetworkPolicy: our labels as a subset, and the `spec` exactly (see
//! [`network_policy_holds`]).
//!
//! Our desired fields, serialised to JSON, must all be present in the live object's JSON
//! with equal scalar values. Anything else in the live object is ignored: server defaults
//! (`imagePullPolicy`, `terminationMessagePath`, `terminationMessagePolicy`, port
//! `protocol: TCP`, ConfigMap volume `defaultMode: 420`, pod-level defaults, ...), Juju's
//! fields, other managers' fields and foreign containers.
//!
//! Lists:
//! - Pod templates: lists with a merge key (see [`crate::smp`]) match items by key:
//!   `name` for containers, init containers, volumes and env; `mountPath` for volume mounts;
//!   `containerPort` + `protocol` (absent = `TCP`) for container ports. Every other list is
//!   atomic: `command`, `args`, `capabilities.add`, ...
//! - ConfigMap (and the labels of every owned object): every list is atomic.
//!
//! An atomic list holds when it has the same length and each of our items is a subset of
//! the live item at the same position (so defaults filled inside items do not matter).
//! A `null` in ours means "absent": the live field must be absent or null.

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde::Serialize;
use serde_json::Value;

use crate::smp::merge_key;

/// True iff the live ConfigMap carries our labels and every `data` entry of ours (extra
/// entries another manager added are ignored: server-side apply would not remove them).
pub fn config_map_holds(desired: &ConfigMap, live: &ConfigMap) -> bool {
    owned_holds(&json(desired), &json(live), Compare::Subset)
}

/// True iff the live NetworkPolicy carries our labels and EXACTLY our `spec`. Exact, because
/// any extra selector term, rule or `except` could unselect the pod or change what egress
/// is allowed, and our apply replaces the whole spec (its lists and selectors are atomic).
/// Every field the API server would default inside it (port `protocol`, `policyTypes`) we
/// set ourselves.
pub fn network_policy_holds(desired: &NetworkPolicy, live: &NetworkPolicy) -> bool {
    owned_holds(&json(desired), &json(live), Compare::Exact)
}

/// True iff the live CiliumNetworkPolicy (as JSON) carries our labels and exactly our `spec`.
pub fn cilium_policy_holds(desired: &Value, live: &Value) -> bool {
    owned_holds(desired, live, Compare::Exact)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Compare {
    Subset,
    Exact,
}

/// Our labels must be among the live labels; every top-level field other than
/// `apiVersion`, `kind` and `metadata` (i.e. `data` or `spec`) must be in the live object,
/// as a subset (all lists atomic) or exactly.
fn owned_holds(desired: &Value, live: &Value, compare: Compare) -> bool {
    let Value::Object(fields) = desired else {
        return false;
    };
    let labels_hold = match desired.pointer("/metadata/labels") {
        None => true,
        Some(labels) => live
            .pointer("/metadata/labels")
            .is_some_and(|l| is_subset(labels, l, Lists::Atomic)),
    };
    labels_hold
        && fields
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
            .all(|(k, v)| {
                live.get(k).is_some_and(|l| match compare {
                    Compare::Subset => is_subset(v, l, Lists::Atomic),
                    Compare::Exact => v == l,
                })
            })
}

/// Serialises a k8s-openapi object. Cannot fail: their `Serialize` impls only produce
/// structs, strings, numbers, bools and string-keyed maps, and never return custom errors.
pub(crate) fn json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("k8s-openapi objects serialise to JSON")
}

/// How lists are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lists {
    /// Pod template: keyed lists match by merge key.
    PodTemplate,
    /// Every list is atomic.
    Atomic,
}

/// True iff a StatefulSet's JSON `live` holds every field of `ours` (a fragment of a
/// StatefulSet), with the pod-template list rules above: for additions that are not a
/// [`crate::PodAdditions`], such as the charmarr clients' shared-claim mount and its `fsGroup`.
pub fn pod_template_holds(ours: &Value, live: &Value) -> bool {
    is_subset(ours, live, Lists::PodTemplate)
}

/// True iff every field of `ours` is in `live` with our value.
pub(crate) fn is_subset(ours: &Value, live: &Value, lists: Lists) -> bool {
    subset(ours, live, None, lists)
}

fn subset(ours: &Value, live: &Value, field: Option<&str>, lists: Lists) -> bool {
    match (ours, live) {
        (Value::Object(ours), Value::Object(live)) => ours.iter().all(|(k, v)| match live.get(k) {
            None => v.is_null(),
            Some(l) => subset(v, l, Some(k), lists),
        }),
        (Value::Array(ours), Value::Array(live)) => {
            let key = if lists == Lists::PodTemplate {
                field.and_then(merge_key)
            } else {
                None
            };
            match key {
                Some(key) => ours.iter().all(|item| {
                    live.iter()
                        .any(|l| same_key(item, l, key) && subset(item, l, None, lists))
                }),
                None => {
                    ours.len() == live.len()
                        && ours
                            .iter()
                            .zip(live)
                            .all(|(o, l)| subset(o, l, None, lists))
                }
            }
        }
        (ours, live) => ours == live,
    }
}

fn same_key(ours: &Value, live: &Value, key: &str) -> bool {
    let Some(k) = ours.get(key) else { return false };
    if live.get(key) != Some(k) {
        return false;
    }
    if key == "containerPort" {
        let protocol = |v: &Value| {
            v.get("protocol")
                .and_then(Value::as_str)
                .unwrap_or("TCP")
                .to_owned()
        };
        return protocol(ours) == protocol(live);
    }
    true
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults_and_foreign_items_are_ignored() {
        let ours = json!({"containers": [{"name": "s", "ports": [{"containerPort": 53, "protocol": "UDP"}],
            "command": ["x"]}]});
        let live = json!({"containers": [
            {"name": "charm", "image": "juju"},
            {"name": "s", "imagePullPolicy": "IfNotPresent", "command": ["x"],
             "ports": [{"containerPort": 53, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}]}
        ]});
        assert!(is_subset(&ours, &live, Lists::PodTemplate));
    }

    #[test]
    fn changed_missing_and_atomic_differences_fail() {
        let ours = json!({"containers": [{"name": "s", "command": ["x"]}], "a": null});
        for live in [
            json!({"containers": [{"name": "s", "command": ["y"]}]}),
            json!({"containers": [{"name": "s", "command": ["x", "y"]}]}),
            json!({"containers": [{"name": "t", "command": ["x"]}]}),
            json!({"containers": [{"name": "s"}]}),
            json!({"containers": [{"name": "s", "command": ["x"]}], "a": 1}),
        ] {
            assert!(!is_subset(&ours, &live, Lists::PodTemplate), "{live}");
        }
        // A TCP port default does not satisfy our UDP port.
        let ours = json!({"ports": [{"containerPort": 53, "protocol": "UDP"}]});
        let live = json!({"ports": [{"containerPort": 53}]});
        assert!(!is_subset(&ours, &live, Lists::PodTemplate));
        // Atomic mode: same list, positionally.
        let ours = json!({"egress": [{"ports": [{"port": 53}]}]});
        assert!(is_subset(
            &ours,
            &json!({"egress": [{"ports": [{"port": 53, "protocol": "TCP"}]}]}),
            Lists::Atomic
        ));
        assert!(!is_subset(
            &ours,
            &json!({"egress": [{"ports": [{"port": 53}]}, {}]}),
            Lists::Atomic
        ));
    }
}
