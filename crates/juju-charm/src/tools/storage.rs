//! Storage hook tools: `storage-get`, `storage-list` (ops `ops/hookcmds/_storage.py`).

use std::path::PathBuf;

use serde::Deserialize;

use super::{ToolError, Tools, argv};

/// `storage-get --format=json`: one storage instance.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StorageInfo {
    /// `filesystem` or `block`.
    pub kind: String,
    /// Where it is mounted (or the block device).
    pub location: PathBuf,
}

impl Tools {
    /// A storage instance (`config/0`), or the hook's own with `None`:
    /// `storage-get --format=json [-s <id>]`.
    pub fn storage_get(&self, id: Option<&str>) -> Result<StorageInfo, ToolError> {
        let mut args = argv(["--format=json"]);
        if let Some(id) = id {
            args.extend(argv(["-s", id]));
        }
        self.run_json("storage-get", &args)
    }

    /// Attached storage ids (`["config/0"]`), optionally only those named `name`:
    /// `storage-list --format=json [<name>]`.
    pub fn storage_list(&self, name: Option<&str>) -> Result<Vec<String>, ToolError> {
        let mut args = argv(["--format=json"]);
        if let Some(name) = name {
            args.push(name.to_owned());
        }
        let ids: Option<Vec<String>> = self.run_json("storage-list", &args)?;
        Ok(ids.unwrap_or_default())
    }
}
