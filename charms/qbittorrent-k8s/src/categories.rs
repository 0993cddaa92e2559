//! qBittorrent's categories file (`categories.json` in its config directory): one category
//! per media manager, as the reference creates them through the WebUI API (docs/adr/0043).
//!
//! The file is a JSON object `{"<name>": {"save_path": "<path>", ...}, ...}`. qBittorrent
//! reads it at start and writes it when categories change in the WebUI, so the charm writes it
//! only while the service is stopped, as it does `qBittorrent.conf`. Like the reference (whose
//! `createCategory` call answers 409 for an existing name), only missing categories are
//! added: an existing category, ours or the operator's, is never changed or removed.

use charmarr_iface::download_client::RequirerData;
use charmarr_iface::media_storage::ProviderData;
use serde_json::{Map, Value, json};

/// Where qBittorrent (with `--profile=/config`) keeps its categories.
pub const PATH: &str = "/config/qBittorrent/config/categories.json";

/// The file cannot be merged into: it is not a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{PATH} is not a JSON object: categories for the media managers are not written")]
pub struct NotAnObject;

/// The download root under the shared volume, as the reference's `/data/torrents`.
pub fn torrents_dir(storage: &ProviderData) -> String {
    format!("{}/torrents", storage.mount_path.as_str())
}

/// The file with a category for every manager that has none yet, or `None` when none is
/// missing (nothing to write). `existing` is the file as read (untrusted; `None`: absent).
pub fn reconcile(
    existing: Option<&str>,
    managers: &[RequirerData],
    storage: &ProviderData,
) -> Result<Option<String>, NotAnObject> {
    let mut categories = match existing.map(str::trim) {
        None | Some("") => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            _ => return Err(NotAnObject),
        },
    };
    let root = torrents_dir(storage);
    let mut added = false;
    for manager in managers {
        let name = manager.instance_name.as_str();
        if !categories.contains_key(name) {
            let path = format!("{root}/{}", manager.manager.download_folder());
            categories.insert(name.to_owned(), json!({ "save_path": path }));
            added = true;
        }
    }
    // Cannot fail: a map of strings and JSON values.
    Ok(added.then(|| {
        serde_json::to_string_pretty(&Value::Object(categories)).expect("JSON serialises")
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage() -> ProviderData {
        ProviderData::from_databag(r#"{"pvc_name":"m","mount_path":"/data"}"#).unwrap()
    }

    fn managers() -> Vec<RequirerData> {
        [
            r#"{"manager":"radarr","instance_name":"radarr"}"#,
            r#"{"manager":"sonarr","instance_name":"sonarr-4k"}"#,
        ]
        .iter()
        .map(|t| RequirerData::from_databag(t).unwrap())
        .collect()
    }

    #[test]
    fn missing_categories_are_added_and_existing_ones_kept() {
        let existing = r#"{"radarr": {"save_path": "/mine"}, "linux-isos": {"save_path": ""}}"#;
        let text = reconcile(Some(existing), &managers(), &storage())
            .unwrap()
            .expect("sonarr-4k is missing");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["radarr"]["save_path"], "/mine", "never changed");
        assert_eq!(v["linux-isos"]["save_path"], "");
        assert_eq!(v["sonarr-4k"]["save_path"], "/data/torrents/tv");
        assert_eq!(reconcile(Some(&text), &managers(), &storage()), Ok(None));
    }

    #[test]
    fn a_fresh_file_and_a_broken_one() {
        let text = reconcile(None, &managers(), &storage()).unwrap().unwrap();
        assert!(text.contains("/data/torrents/movies"));
        assert_eq!(reconcile(None, &[], &storage()), Ok(None));
        assert_eq!(
            reconcile(Some("[1,2]"), &managers(), &storage()),
            Err(NotAnObject)
        );
        assert_eq!(
            reconcile(Some("{broken"), &managers(), &storage()),
            Err(NotAnObject)
        );
    }
}
