//! Charm metadata: what the simulator reads from `charmcraft.yaml` (or the older split
//! `metadata.yaml` + `config.yaml` + `actions.yaml` of a packed charm).
//!
//! Only the keys the model needs are parsed: containers and their storage mounts, resources
//! (the OCI image a container runs), storage, `provides`/`requires`/`peers` endpoints, config
//! options with their types and defaults, and actions with their parameter defaults. Unknown
//! keys are ignored, as Juju ignores keys it does not use.
//!
//! Simplification (docs/adr/0019): `block` storage and `multiple` storage counts are not
//! modelled; every storage is one filesystem instance (index 0).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Errors while reading charm metadata.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// A metadata file could not be read.
    #[error("reading charm metadata {path}")]
    ReadFile {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A metadata file is not the YAML we expect.
    #[error("parsing charm metadata {path}")]
    ParseYaml {
        /// The file.
        path: String,
        /// The parser's error.
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    /// Neither `charmcraft.yaml` nor `metadata.yaml` names the charm.
    #[error("charm metadata in {dir} has no `name`")]
    MissingName {
        /// The charm directory.
        dir: String,
    },
}

/// A workload container of a sidecar charm.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Container {
    /// The OCI image resource it runs.
    #[serde(default)]
    pub resource: Option<String>,
    /// Storage mounted into the container.
    #[serde(default)]
    pub mounts: Vec<Mount>,
}

/// A storage mount of a workload container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mount {
    /// The storage name.
    pub storage: String,
    /// The mount point inside the container.
    pub location: String,
}

/// A charm resource.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Resource {
    /// `oci-image` or `file`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The image Juju deploys when no resource is attached.
    #[serde(rename = "upstream-source", default)]
    pub upstream_source: Option<String>,
}

/// A storage declaration: every key of Juju's `charm.Storage`, so that two blocks compare as
/// Juju compares them on refresh (`reflect.DeepEqual`, docs/adr/0047). Only `type` and
/// `location` change what the simulator does.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Storage {
    /// `filesystem` (the only kind simulated).
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The default mount point in the charm container.
    #[serde(default)]
    pub location: Option<String>,
    /// `description` (absent and empty are the same, as in Go).
    #[serde(default)]
    pub description: String,
    /// `shared`.
    #[serde(default)]
    pub shared: bool,
    /// `read-only`.
    #[serde(default)]
    pub read_only: bool,
    /// `multiple` (compared as written; not modelled).
    #[serde(default)]
    pub multiple: Option<serde_json::Value>,
    /// `minimum-size` (compared as written: `1G` and `1024M` differ here, not in Juju).
    #[serde(default)]
    pub minimum_size: Option<serde_json::Value>,
    /// `properties` (e.g. `transient`).
    #[serde(default)]
    pub properties: Vec<String>,
}

/// A relation endpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Endpoint {
    /// The interface name.
    pub interface: String,
    /// At most this many relations (`limit: 1` on the vpn-gateway requirer).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// A config option.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ConfigOption {
    /// `string`, `int`, `float`, `boolean` or `secret`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The default value, if any.
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    /// The description.
    #[serde(default)]
    pub description: Option<String>,
}

/// An action.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Action {
    /// The description.
    #[serde(default)]
    pub description: Option<String>,
    /// JSON-schema parameters (`properties` in the older format).
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
}

/// `config: {options: ...}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct ConfigSection {
    #[serde(default)]
    options: BTreeMap<String, ConfigOption>,
}

/// Everything the model needs from a charm's metadata.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CharmMeta {
    /// The charm name.
    #[serde(default)]
    pub name: String,
    /// Workload containers by name.
    #[serde(default)]
    pub containers: BTreeMap<String, Container>,
    /// Resources by name.
    #[serde(default)]
    pub resources: BTreeMap<String, Resource>,
    /// Storage by name.
    #[serde(default)]
    pub storage: BTreeMap<String, Storage>,
    /// Provided endpoints.
    #[serde(default)]
    pub provides: BTreeMap<String, Endpoint>,
    /// Required endpoints.
    #[serde(default)]
    pub requires: BTreeMap<String, Endpoint>,
    /// Peer endpoints.
    #[serde(default)]
    pub peers: BTreeMap<String, Endpoint>,
    /// Config options.
    #[serde(default, skip_serializing)]
    config: Option<ConfigSection>,
    /// Config options by name (filled from `config.options` or `config.yaml`).
    #[serde(default, rename = "config-options")]
    pub options: BTreeMap<String, ConfigOption>,
    /// Actions by name.
    #[serde(default)]
    pub actions: BTreeMap<String, Action>,
}

/// Which side of a relation an endpoint is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// `provides`.
    Provider,
    /// `requires`.
    Requirer,
    /// `peers`.
    Peer,
}

impl CharmMeta {
    /// Parses one YAML document (charmcraft.yaml or metadata.yaml).
    pub fn parse(text: &str, path: &str) -> Result<Self, MetaError> {
        let mut meta: CharmMeta =
            serde_saphyr::from_str(text).map_err(|source| MetaError::ParseYaml {
                path: path.to_owned(),
                source: Box::new(source),
            })?;
        if let Some(config) = meta.config.take() {
            meta.options.extend(config.options);
        }
        Ok(meta)
    }

    /// Reads a charm directory: `charmcraft.yaml`, else `metadata.yaml` plus the optional
    /// `config.yaml` and `actions.yaml` beside it.
    pub fn read_dir(dir: &Path) -> Result<Self, MetaError> {
        let read = |name: &str| -> Result<Option<(String, String)>, MetaError> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(Some((text, path.display().to_string()))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(MetaError::ReadFile {
                    path: path.display().to_string(),
                    source,
                }),
            }
        };
        let mut meta = match (read("metadata.yaml")?, read("charmcraft.yaml")?) {
            (Some((text, path)), craft) => {
                let mut meta = Self::parse(&text, &path)?;
                // A packed charm carries metadata.yaml; charmcraft.yaml may add config/actions.
                if let Some((ctext, cpath)) = craft {
                    let craft = Self::parse(&ctext, &cpath)?;
                    if meta.options.is_empty() {
                        meta.options = craft.options;
                    }
                    if meta.actions.is_empty() {
                        meta.actions = craft.actions;
                    }
                }
                meta
            }
            (None, Some((text, path))) => Self::parse(&text, &path)?,
            (None, None) => {
                return Err(MetaError::ReadFile {
                    path: dir.join("charmcraft.yaml").display().to_string(),
                    source: std::io::Error::from(std::io::ErrorKind::NotFound),
                });
            }
        };
        if let Some((text, path)) = read("config.yaml")? {
            let config: ConfigSection =
                serde_saphyr::from_str(&text).map_err(|source| MetaError::ParseYaml {
                    path: path.clone(),
                    source: Box::new(source),
                })?;
            meta.options.extend(config.options);
        }
        if let Some((text, path)) = read("actions.yaml")? {
            let actions: BTreeMap<String, Action> =
                serde_saphyr::from_str(&text).map_err(|source| MetaError::ParseYaml {
                    path: path.clone(),
                    source: Box::new(source),
                })?;
            meta.actions.extend(actions);
        }
        if meta.name.is_empty() {
            return Err(MetaError::MissingName {
                dir: dir.display().to_string(),
            });
        }
        Ok(meta)
    }

    /// The endpoint `name` with its role, if the charm declares it.
    pub fn endpoint(&self, name: &str) -> Option<(Role, &Endpoint)> {
        if let Some(e) = self.provides.get(name) {
            return Some((Role::Provider, e));
        }
        if let Some(e) = self.requires.get(name) {
            return Some((Role::Requirer, e));
        }
        self.peers.get(name).map(|e| (Role::Peer, e))
    }

    /// All endpoints with their roles, in name order within `provides`, `requires`, `peers`.
    pub fn endpoints(&self) -> Vec<(String, Role, &Endpoint)> {
        let mut out = Vec::new();
        for (n, e) in &self.provides {
            out.push((n.clone(), Role::Provider, e));
        }
        for (n, e) in &self.requires {
            out.push((n.clone(), Role::Requirer, e));
        }
        for (n, e) in &self.peers {
            out.push((n.clone(), Role::Peer, e));
        }
        out
    }

    /// The image a workload container runs: the resource's `upstream-source`, else a
    /// placeholder naming the resource (nothing pulls images on the testbed).
    pub fn container_image(&self, container: &str) -> String {
        let resource = self
            .containers
            .get(container)
            .and_then(|c| c.resource.clone())
            .unwrap_or_default();
        self.resources
            .get(&resource)
            .and_then(|r| r.upstream_source.clone())
            .unwrap_or_else(|| format!("registry.invalid/{}/{resource}:latest", self.name))
    }

    /// The default config: every option that has a default, as Juju's `config-get` shows it.
    pub fn default_config(&self) -> BTreeMap<String, serde_json::Value> {
        self.options
            .iter()
            .filter_map(|(k, o)| o.default.clone().map(|d| (k.clone(), d)))
            .filter(|(_, v)| !v.is_null())
            .collect()
    }

    /// Converts an operator-given `KEY=VALUE` string to the option's type, as `juju config`
    /// does. Unknown keys and unparsable values are errors with Juju's wording.
    pub fn typed_config_value(&self, key: &str, value: &str) -> Result<serde_json::Value, String> {
        let Some(opt) = self.options.get(key) else {
            return Err(format!("unknown option \"{key}\""));
        };
        match opt.kind.as_str() {
            "int" => value
                .trim()
                .parse::<i64>()
                .map(serde_json::Value::from)
                .map_err(|_| format!("option \"{key}\" expected int, got \"{value}\"")),
            "float" => value
                .trim()
                .parse::<f64>()
                .map(serde_json::Value::from)
                .map_err(|_| format!("option \"{key}\" expected float, got \"{value}\"")),
            "boolean" => match value.trim() {
                "true" | "True" | "TRUE" | "yes" | "y" | "on" => Ok(serde_json::Value::Bool(true)),
                "false" | "False" | "FALSE" | "no" | "n" | "off" => {
                    Ok(serde_json::Value::Bool(false))
                }
                _ => Err(format!(
                    "option \"{key}\" expected boolean, got \"{value}\""
                )),
            },
            _ => Ok(serde_json::Value::String(value.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRAFT: &str = r"
name: demo
type: charm
containers:
  web:
    resource: web-image
    mounts:
      - storage: data
        location: /data
resources:
  web-image:
    type: oci-image
    upstream-source: nginx:1.27
storage:
  data:
    type: filesystem
    location: /srv/data
provides:
  website:
    interface: http
requires:
  gw:
    interface: vpn-gateway
    limit: 1
peers:
  cluster:
    interface: demo-peers
config:
  options:
    port:
      type: int
      default: 8080
    name:
      type: string
    debug:
      type: boolean
      default: false
actions:
  show:
    description: Show things.
    params:
      verbose:
        type: boolean
        default: false
";

    #[test]
    fn parses_charmcraft() -> Result<(), MetaError> {
        let meta = CharmMeta::parse(CRAFT, "charmcraft.yaml")?;
        assert_eq!(meta.name, "demo");
        assert_eq!(meta.container_image("web"), "nginx:1.27");
        assert_eq!(meta.containers["web"].mounts[0].location, "/data");
        assert_eq!(meta.requires["gw"].limit, Some(1));
        assert_eq!(meta.endpoint("cluster").map(|e| e.0), Some(Role::Peer));
        assert_eq!(meta.default_config()["port"], serde_json::json!(8080));
        assert!(!meta.default_config().contains_key("name"));
        assert_eq!(
            meta.typed_config_value("debug", "true"),
            Ok(serde_json::Value::Bool(true))
        );
        assert!(meta.typed_config_value("port", "x").is_err());
        assert!(meta.actions.contains_key("show"));
        Ok(())
    }

    #[test]
    fn parses_the_workspace_charms() -> Result<(), MetaError> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../metadata");
        for (charm, container, endpoint) in [
            ("gluetun-k8s", "gluetun", "vpn-gateway"),
            ("qbittorrent-k8s", "qbittorrent", "vpn-gateway"),
        ] {
            let dir = root.join(charm);
            if !dir.is_dir() {
                continue;
            }
            let meta = CharmMeta::read_dir(&dir)?;
            assert_eq!(meta.name, charm);
            assert!(meta.containers.contains_key(container), "{charm}");
            assert!(meta.endpoint(endpoint).is_some(), "{charm}");
            assert!(!meta.options.is_empty(), "{charm}");
        }
        Ok(())
    }
}
