//! Actions (`juju run UNIT ACTION [K=V]...`): the parameters typed by the action's schema over
//! its defaults, the action run as a hook of that unit, and its outcome ([`ActionOutcome`]).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::runner::HookContext;
use crate::state::ActionRun;

use super::error::{ModelError, Result};
use super::running::Model;

/// The outcome of `run UNIT ACTION`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionOutcome {
    /// `completed` or `failed`.
    pub status: String,
    /// Results set with `action-set`.
    pub results: serde_json::Map<String, Value>,
    /// The `action-fail` message.
    pub message: Option<String>,
    /// `action-log` lines.
    pub log: Vec<String>,
}

impl Model {
    /// `juju run UNIT ACTION [K=V]...`.
    pub fn run_action(
        &mut self,
        unit: &str,
        action: &str,
        params: &[(String, String)],
    ) -> Result<ActionOutcome> {
        let app = unit.split('/').next().unwrap_or_default().to_owned();
        let meta = self
            .app_spec_parts(&app)
            .map(|p| p.1)
            .ok_or_else(|| ModelError::Invalid(format!("application \"{app}\" not found")))?;
        if !self.st.app_units(&app).iter().any(|u| u == unit) {
            return Err(ModelError::Invalid(format!("unit \"{unit}\" not found")));
        }
        let Some(spec) = meta.actions.get(action) else {
            return Err(ModelError::Invalid(format!(
                "action \"{action}\" not defined on unit \"{unit}\""
            )));
        };
        let mut p = serde_json::Map::new();
        for (k, schema) in &spec.params {
            if let Some(d) = schema.get("default") {
                p.insert(k.clone(), d.clone());
            }
        }
        for (k, v) in params {
            let kind = spec
                .params
                .get(k)
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str)
                .unwrap_or("string");
            let value = match kind {
                "integer" => v.parse::<i64>().map_or_else(|_| json!(v), Value::from),
                "number" => v.parse::<f64>().map_or_else(|_| json!(v), Value::from),
                "boolean" => v.parse::<bool>().map_or_else(|_| json!(v), Value::from),
                _ => json!(v),
            };
            p.insert(k.clone(), value);
        }
        let ctx = HookContext {
            hook: action.to_owned(),
            is_action: true,
            action: Some(ActionRun {
                name: action.to_owned(),
                params: p,
                ..ActionRun::default()
            }),
            ..HookContext::default()
        };
        self.last_action = None;
        let ok = self.run_one(unit, &ctx, None)?;
        let run = self.last_action.take().unwrap_or_default();
        self.settle()?;
        let failed = !ok || run.failed.is_some();
        Ok(ActionOutcome {
            status: if failed { "failed" } else { "completed" }.to_owned(),
            results: run.results,
            message: run.failed,
            log: run.log,
        })
    }
}
