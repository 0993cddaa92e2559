//! An emulation of the API server's strategic-merge patch, for pod templates only.
//!
//! It follows apimachinery's `strategicpatch` closely enough for the patches this crate
//! sends (and for Juju's own re-apply): maps merge recursively, `null` deletes a key, lists
//! with a merge key merge item by item, `{"$patch": "delete", <key>: ...}` list items delete
//! every item with that key, and everything else replaces. Merged list order is the
//! server's: patch items (in patch order) and server-only items (in server order) are
//! interleaved by `mergeSortedSlice`, which puts NEW items first.
//!
//! Merge keys by field name (a pod template has no name clash among these):
//! `containers`, `initContainers`, `ephemeralContainers`, `volumes`, `env`,
//! `imagePullSecrets` → `name`; `volumeMounts` → `mountPath`; `volumeDevices` →
//! `devicePath`; `ports` → `containerPort`. Every other list is atomic.

use serde_json::{Map, Value};

const DIRECTIVE: &str = "$patch";

/// The merge key of the list held under `field`, or `None` for an atomic list.
pub(crate) fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "ports" => Some("containerPort"),
        _ => None,
    }
}

/// Applies `patch` to `original` in place.
pub(crate) fn merge_map(original: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (field, value) in patch {
        if field.starts_with('$') {
            continue;
        }
        match value {
            Value::Null => {
                original.remove(field);
            }
            Value::Object(patch_map) => {
                if let Some(Value::Object(original_map)) = original.get_mut(field) {
                    merge_map(original_map, patch_map);
                } else {
                    let mut fresh = Map::new();
                    merge_map(&mut fresh, patch_map);
                    original.insert(field.clone(), Value::Object(fresh));
                }
            }
            Value::Array(patch_items) => {
                let merged = match (merge_key(field), original.get(field)) {
                    (Some(key), Some(Value::Array(original_items))) => {
                        merge_list(original_items, patch_items, key)
                    }
                    (Some(key), _) => merge_list(&[], patch_items, key),
                    (None, _) => patch_items.clone(),
                };
                original.insert(field.clone(), Value::Array(merged));
            }
            scalar => {
                original.insert(field.clone(), scalar.clone());
            }
        }
    }
}

fn key_of<'v>(item: &'v Value, key: &str) -> Option<&'v Value> {
    item.get(key)
}

fn is_delete(item: &Value) -> bool {
    item.get(DIRECTIVE).and_then(Value::as_str) == Some("delete")
}

/// `mergeSlice` for a list of maps with merge key `key`.
fn merge_list(original: &[Value], patch: &[Value], key: &str) -> Vec<Value> {
    // mergeSliceWithSpecialElements: `$patch: delete` items remove every match.
    let deleted: Vec<&Value> = patch
        .iter()
        .filter(|p| is_delete(p))
        .filter_map(|p| key_of(p, key))
        .collect();
    let server_order: Vec<Value> = original
        .iter()
        .filter(|item| key_of(item, key).is_none_or(|k| !deleted.contains(&k)))
        .cloned()
        .collect();
    let patch_items: Vec<&Value> = patch.iter().filter(|p| !is_delete(p)).collect();

    // mergeSliceWithoutSpecialElements: merge into a matching item or append.
    let mut merged = server_order.clone();
    for item in &patch_items {
        let found =
            key_of(item, key).and_then(|k| merged.iter().position(|m| key_of(m, key) == Some(k)));
        match (found, item) {
            (Some(i), Value::Object(patch_map)) => {
                if let Value::Object(target) = &mut merged[i] {
                    merge_map(target, patch_map);
                } else {
                    merged[i] = (*item).clone();
                }
            }
            (Some(i), _) => merged[i] = (*item).clone(),
            (None, _) => merged.push((*item).clone()),
        }
    }

    // partitionMapsByPresentInList + normalizeElementOrder.
    let patch_keys: Vec<&Value> = patch_items.iter().filter_map(|p| key_of(p, key)).collect();
    let in_patch = |m: &Value| key_of(m, key).is_some_and(|k| patch_keys.contains(&k));
    let mut from_patch: Vec<Value> = merged.iter().filter(|m| in_patch(m)).cloned().collect();
    let server_only: Vec<Value> = merged.iter().filter(|m| !in_patch(m)).cloned().collect();
    let patch_index =
        |m: &Value| key_of(m, key).and_then(|k| patch_keys.iter().position(|p| *p == k));
    from_patch.sort_by_key(|m| patch_index(m).unwrap_or(usize::MAX));
    merge_sorted(server_only, from_patch, &server_order, key)
}

/// `mergeSortedSlice`: inserts server-only items (`left`) into patch items (`right`),
/// keeping both relative orders; a left item goes first only when both it and the right
/// item exist on the server and it comes earlier there.
fn merge_sorted(left: Vec<Value>, right: Vec<Value>, server: &[Value], key: &str) -> Vec<Value> {
    let index = |v: &Value| {
        key_of(v, key).and_then(|k| server.iter().position(|s| key_of(s, key) == Some(k)))
    };
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!((index(l), index(r)), (Some(li), Some(ri)) if li < ri),
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn apply(original: Value, patch: &Value) -> Value {
        let (Value::Object(mut o), Value::Object(p)) = (original, patch) else {
            panic!("objects only");
        };
        merge_map(&mut o, p);
        Value::Object(o)
    }

    #[test]
    fn new_items_go_first_and_existing_ones_merge_in_place() {
        let original =
            json!({"containers": [{"name": "charm"}, {"name": "gluetun", "image": "g"}]});
        let patch = json!({"containers": [
            {"name": "gateway-sidecar"},
            {"name": "gluetun", "securityContext": {"privileged": true}}
        ]});
        assert_eq!(
            apply(original, &patch),
            json!({"containers": [
                {"name": "gateway-sidecar"},
                {"name": "charm"},
                {"name": "gluetun", "image": "g", "securityContext": {"privileged": true}}
            ]})
        );
    }

    #[test]
    fn delete_directive_null_and_atomic_lists() {
        let original = json!({
            "a": {"x": 1, "y": 2},
            "initContainers": [{"name": "ours"}, {"name": "charm-init"}],
            "command": ["a", "b"]
        });
        let patch = json!({
            "a": {"x": null},
            "initContainers": [{"$patch": "delete", "name": "ours"}, {"$patch": "delete", "name": "absent"}],
            "command": ["c"]
        });
        assert_eq!(
            apply(original, &patch),
            json!({"a": {"y": 2}, "initContainers": [{"name": "charm-init"}], "command": ["c"]})
        );
    }

    #[test]
    fn nested_lists_merge_by_their_keys() {
        let original = json!({"containers": [{"name": "c", "env": [{"name": "A", "value": "1"}],
            "ports": [{"containerPort": 80, "protocol": "TCP"}]}]});
        let patch = json!({"containers": [{"name": "c", "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "3"}],
            "ports": [{"containerPort": 80, "name": "http"}]}]});
        assert_eq!(
            apply(original, &patch),
            json!({"containers": [{"name": "c",
                "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "3"}],
                "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}]}]})
        );
    }
}
