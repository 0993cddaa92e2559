//! Action hook tools: `action-get`, `action-set`, `action-fail`, `action-log`
//! (ops `ops/hookcmds/_action.py`).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use super::{ToolError, Tools, argv};

impl Tools {
    /// The action's parameters parsed into the caller's type: `action-get --format=json`.
    pub fn action_get<T: DeserializeOwned>(&self) -> Result<T, ToolError> {
        self.run_json("action-get", &argv(["--format=json"]))
    }

    /// Sets action results: `action-set key=value…`. Juju's `action-set` only takes values as
    /// arguments (there is no file form), so results are visible in the process table while
    /// the tool runs; results are meant to be shown to the operator anyway. Keys must match
    /// ops' rule (`^[a-z0-9](([a-z0-9-.]+)?[a-z0-9])?$`; dots nest).
    pub fn action_set(&self, results: &BTreeMap<String, String>) -> Result<(), ToolError> {
        const TOOL: &str = "action-set";
        let mut args = Vec::with_capacity(results.len());
        for (key, value) in results {
            if !valid_result_key(key) {
                return Err(ToolError::InvalidArgument {
                    tool: TOOL.to_owned(),
                    reason: format!("invalid result key {key:?}"),
                });
            }
            args.push(format!("{key}={value}"));
        }
        self.run(TOOL, &args).map(drop)
    }

    /// Marks the action failed: `action-fail -- <message>`.
    pub fn action_fail(&self, message: &str) -> Result<(), ToolError> {
        self.run("action-fail", &argv(["--", message])).map(drop)
    }

    /// Reports progress to the operator: `action-log -- <message>`.
    pub fn action_log(&self, message: &str) -> Result<(), ToolError> {
        self.run("action-log", &argv(["--", message])).map(drop)
    }
}

fn valid_result_key(key: &str) -> bool {
    let ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = key.as_bytes();
    match bytes {
        [] => false,
        [only] => ok(*only),
        [first, middle @ .., last] => {
            ok(*first) && ok(*last) && middle.iter().all(|&b| ok(b) || b == b'-' || b == b'.')
        }
    }
}
