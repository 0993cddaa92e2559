//! The model's side of Pebble: one [`crate::pebble::Server`] per (unit, container), on
//! `<unit>/containers/<container>/pebble.socket`, started with the unit's pod and reset (state
//! and container filesystem lost, storage mounts kept) when the pod restarts, as a real pod's
//! Pebble is. The states are saved as JSON under `<state>/pebble/` so the CLI's next command
//! finds them (a real Pebble keeps running between `juju` commands).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::pebble::{PebbleState, Server, ServerHandle};

type Key = (String, String);

/// The running Pebble servers of a model.
#[derive(Debug, Default)]
pub struct Pebbles {
    servers: BTreeMap<Key, (Arc<Mutex<PebbleState>>, ServerHandle)>,
}

fn file_name(unit: &str, container: &str) -> String {
    format!("{}.{container}.json", unit.replace('/', "-"))
}

impl Pebbles {
    /// Starts the Pebble of `unit`'s `container` (socket in
    /// `<containers_dir>/<container>/pebble.socket`, filesystem under
    /// `<state_dir>/<unit>/<container>/root`), loading a saved state unless `reset` (a pod
    /// (re)start: empty state, root wiped). `mounts` are the storage mounts (host directory,
    /// path in the container), which survive a reset. A running server is kept unless `reset`.
    pub fn start(
        &mut self,
        state_dir: &Path,
        unit: &str,
        container: &str,
        containers_dir: &Path,
        mounts: Vec<(PathBuf, String)>,
        reset: bool,
    ) -> std::io::Result<()> {
        let key = (unit.to_owned(), container.to_owned());
        if !reset && self.servers.contains_key(&key) {
            return Ok(());
        }
        self.servers.remove(&key);
        let root = state_dir
            .join(unit.replace('/', "-"))
            .join(container)
            .join("root");
        let mounts: Vec<(String, PathBuf)> = mounts.into_iter().map(|(h, l)| (l, h)).collect();
        let saved = state_dir.join(file_name(unit, container));
        let state = if reset {
            let mut s = PebbleState::new(root, mounts)?;
            s.reset()?;
            s
        } else {
            match std::fs::read_to_string(&saved)
                .ok()
                .and_then(|t| serde_json::from_str::<PebbleState>(&t).ok())
            {
                Some(s) => s,
                None => PebbleState::new(root, mounts)?,
            }
        };
        let state = Arc::new(Mutex::new(state));
        let socket = containers_dir.join(container).join("pebble.socket");
        let handle = Server::start(&socket, state.clone()).map_err(std::io::Error::other)?;
        self.servers.insert(key, (state, handle));
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

    /// Saves the states under `dir` (best effort: a state that cannot be written is simply
    /// not carried to the next CLI command, as if the pod had restarted).
    pub fn save(&self, dir: &Path) {
        let _ = std::fs::create_dir_all(dir);
        for ((unit, container), (state, _)) in &self.servers {
            let s = state.lock().unwrap_or_else(PoisonError::into_inner);
            if let Ok(text) = serde_json::to_string(&*s) {
                let _ = std::fs::write(dir.join(file_name(unit, container)), text);
            }
        }
    }

    /// A container's Pebble as JSON: `{"plan": ..., "services": {name: current}, "boot-id"}`.
    pub fn describe(&self, unit: &str, container: &str) -> Option<serde_json::Value> {
        let (state, _) = self.servers.get(&(unit.to_owned(), container.to_owned()))?;
        let s = state.lock().unwrap_or_else(PoisonError::into_inner);
        let services: serde_json::Map<String, serde_json::Value> = s
            .services
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::json!(v.current)))
            .collect();
        Some(serde_json::json!({
            "plan": s.plan(),
            "services": services,
            "boot-id": s.boot_id,
            "root": s.root,
        }))
    }

    /// Runs `f` on a container's Pebble state (tests: set a check down, look at files).
    pub fn with_state<T>(
        &self,
        unit: &str,
        container: &str,
        f: impl FnOnce(&mut PebbleState) -> T,
    ) -> Option<T> {
        let (state, _) = self.servers.get(&(unit.to_owned(), container.to_owned()))?;
        let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
        Some(f(&mut s))
    }
}
