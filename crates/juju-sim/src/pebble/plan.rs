//! Pebble layers and the plan they combine into (Pebble's `internals/plan`).
//!
//! Layers are kept as parsed YAML (JSON values), in order. The plan is every layer combined in
//! order: a service (or check, or log target) with `override: replace` replaces what earlier
//! layers said, `override: merge` merges into it: maps (`environment`, `on-check-failure`,
//! `http`, `headers`, ...) merge key by key, lists (`after`, `before`, `requires`, a log
//! target's `services`) append, scalars replace. Every service, check and log target in a
//! layer must name its `override` (`layer "L" must define "override" for service "S"`).
//! Adding a layer under an existing label fails unless `combine` is set, in which case the new
//! layer is combined into the existing one. The combined plan must give every service a
//! `command`; checks get Pebble's defaults (`period: 10s`, `timeout: 3s`, `threshold: 3`).
//!
//! Simplification: fields are not type-checked beyond that (Pebble rejects e.g. a
//! non-duration `period`); dependency ordering (`after`/`before`/`requires`) is not resolved.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A layer as added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// Position (1-based, as Pebble numbers layers).
    pub order: u32,
    /// Label.
    pub label: String,
    /// The parsed layer.
    pub body: Map<String, Value>,
}

/// Why a layer or plan was rejected (Pebble's `FormatError`; the server answers 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The YAML did not parse or is not a layer.
    #[error("cannot parse layer YAML: {0}")]
    ParseLayer(String),
    /// A rule of Pebble's plan format was broken.
    #[error("{0}")]
    Format(String),
    /// A layer with the label exists and `combine` was false.
    #[error("layer {0:?} already exists")]
    LabelExists(String),
}

/// The sections of a layer whose entries carry `override`, with their singular noun.
const SECTIONS: &[(&str, &str)] = &[
    ("services", "service"),
    ("checks", "check"),
    ("log-targets", "log target"),
];

/// Parses and validates one layer's YAML.
pub fn parse_layer(label: &str, yaml: &str) -> Result<Map<String, Value>, PlanError> {
    let value: Value = if yaml.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_saphyr::from_str(yaml).map_err(|e| PlanError::ParseLayer(e.to_string()))?
    };
    let body = match value {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        _ => return Err(PlanError::ParseLayer("layer is not a mapping".into())),
    };
    for key in body.keys() {
        if !matches!(
            key.as_str(),
            "summary" | "description" | "services" | "checks" | "log-targets"
        ) {
            return Err(PlanError::ParseLayer(format!(
                "field {key} not found in type plan.Layer"
            )));
        }
    }
    for (section, noun) in SECTIONS {
        let Some(entries) = body.get(*section) else {
            continue;
        };
        let Some(entries) = entries.as_object() else {
            if entries.is_null() {
                continue;
            }
            return Err(PlanError::ParseLayer(format!(
                "{section} must be a mapping"
            )));
        };
        for (name, entry) in entries {
            let Some(entry) = entry.as_object() else {
                if entry.is_null() {
                    return Err(PlanError::Format(format!(
                        "layer {label:?} must define \"override\" for {noun} {name:?}"
                    )));
                }
                return Err(PlanError::ParseLayer(format!(
                    "{noun} {name:?} must be a mapping"
                )));
            };
            match entry.get("override").and_then(Value::as_str) {
                Some("merge" | "replace") => {}
                None | Some("") => {
                    return Err(PlanError::Format(format!(
                        "layer {label:?} must define \"override\" for {noun} {name:?}"
                    )));
                }
                Some(_) => {
                    return Err(PlanError::Format(format!(
                        "layer {label:?} has invalid \"override\" value for {noun} {name:?}"
                    )));
                }
            }
        }
    }
    Ok(body)
}

/// Deep merge: maps merge, arrays append, scalars replace.
fn merge_value(base: &mut Value, new: &Value) {
    match (base, new) {
        (Value::Object(b), Value::Object(n)) => {
            for (k, v) in n {
                match b.get_mut(k) {
                    Some(existing) if !v.is_null() => merge_value(existing, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(n)) => b.extend(n.iter().cloned()),
        (b, n) => *b = n.clone(),
    }
}

/// Combines layer `new` into `base` (both layer bodies), entry by entry per `override`.
pub fn combine_into(base: &mut Map<String, Value>, new: &Map<String, Value>) {
    for key in ["summary", "description"] {
        if let Some(v) = new
            .get(key)
            .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        {
            base.insert(key.into(), v.clone());
        }
    }
    for (section, _) in SECTIONS {
        let Some(entries) = new.get(*section).and_then(Value::as_object) else {
            continue;
        };
        let target = base
            .entry((*section).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !target.is_object() {
            *target = Value::Object(Map::new());
        }
        let Value::Object(target) = target else {
            continue;
        };
        for (name, entry) in entries {
            let replace = entry.get("override").and_then(Value::as_str) == Some("replace");
            match target.get_mut(name) {
                Some(existing) if !replace => merge_value(existing, entry),
                _ => {
                    target.insert(name.clone(), entry.clone());
                }
            }
        }
    }
}

/// Combines `layers` in order into the plan, validated, with check defaults filled in.
pub fn combine(layers: &[Layer]) -> Result<Map<String, Value>, PlanError> {
    let mut plan = Map::new();
    for layer in layers {
        combine_into(&mut plan, &layer.body);
    }
    plan.remove("summary");
    plan.remove("description");
    if let Some(Value::Object(services)) = plan.get("services") {
        for (name, svc) in services {
            let has_command = svc
                .get("command")
                .and_then(Value::as_str)
                .is_some_and(|c| !c.trim().is_empty());
            if !has_command {
                return Err(PlanError::Format(format!(
                    "plan must define \"command\" for service {name:?}"
                )));
            }
            if let Some(startup) = svc.get("startup").and_then(Value::as_str)
                && !matches!(startup, "" | "enabled" | "disabled")
            {
                return Err(PlanError::Format(format!(
                    "invalid \"startup\" value {startup:?} for service {name:?}"
                )));
            }
        }
    }
    if let Some(Value::Object(checks)) = plan.get_mut("checks") {
        for (name, check) in checks.iter_mut() {
            let Value::Object(check) = check else {
                continue;
            };
            let kinds = ["http", "tcp", "exec"]
                .iter()
                .filter(|k| check.get(**k).is_some_and(|v| !v.is_null()))
                .count();
            if kinds != 1 {
                return Err(PlanError::Format(format!(
                    "plan must specify one of \"http\", \"tcp\" or \"exec\" for check {name:?}"
                )));
            }
            if let Some(level) = check.get("level").and_then(Value::as_str)
                && !matches!(level, "" | "alive" | "ready")
            {
                return Err(PlanError::Format(format!(
                    "plan check {name:?} level must be \"alive\" or \"ready\""
                )));
            }
            check
                .entry("period")
                .or_insert_with(|| Value::String("10s".into()));
            check
                .entry("timeout")
                .or_insert_with(|| Value::String("3s".into()));
            check.entry("threshold").or_insert_with(|| Value::from(3));
        }
    }
    for (section, _) in SECTIONS {
        if plan
            .get(*section)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
        {
            plan.remove(*section);
        }
    }
    Ok(plan)
}

/// Adds a layer: appended under a new label, combined into the existing one with `combine`.
pub fn add_layer(
    layers: &mut Vec<Layer>,
    label: &str,
    body: Map<String, Value>,
    combine_flag: bool,
) -> Result<(), PlanError> {
    let mut next = layers.clone();
    if let Some(existing) = next.iter_mut().find(|l| l.label == label) {
        if !combine_flag {
            return Err(PlanError::LabelExists(label.to_owned()));
        }
        combine_into(&mut existing.body, &body);
    } else {
        let order = next.iter().map(|l| l.order).max().unwrap_or(0) + 1;
        next.push(Layer {
            order,
            label: label.to_owned(),
            body,
        });
    }
    combine(&next)?;
    *layers = next;
    Ok(())
}
