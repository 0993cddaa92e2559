//! The YAML files charmcraft 3 writes into a packed charm, from a parsed `charmcraft.yaml`.
//!
//! Facts taken from charmcraft 3.5/4.x (`services/package.py`, `models/metadata.py`,
//! `models/manifest.py` and its `sample_projects` test fixtures):
//! - `metadata.yaml`: `CharmMetadata.from_charm`: the metadata keys copied unchanged, `title`
//!   renamed `display-name`, `links` flattened (`documentation` → `docs`, `contact` →
//!   `maintainers` as a list, `issues`/`source`/`website` as they are); null top-level values
//!   dropped; keys sorted (PyYAML's `safe_dump`).
//! - `config.yaml`: the `config` mapping (`options: ...`), only when present and non-empty.
//! - `actions.yaml`: the `actions` mapping, only when present and non-empty.
//! - `manifest.yaml`: `charmcraft-version`, `charmcraft-started-at`, `bases` (for a
//!   `base`/`platforms` charm one entry `{name, channel, architectures: [<build-for>]}`, no
//!   `build-on`/`run-on`, those are the legacy `bases:` syntax) and `analysis.attributes`
//!   (the `language` and `framework` linters, both `unknown` for a non-Python charm), in that
//!   order.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::project::{METADATA_PASSTHROUGH_KEYS, Project};

/// Errors while rendering a file.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// serde-saphyr refused a value.
    #[error("serializing {file}")]
    Serialize {
        /// The file being written.
        file: &'static str,
        /// The serializer's error.
        #[source]
        source: serde_saphyr::ser_error::Error,
    },
}

/// One generated file: its name in the archive and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Path inside the archive.
    pub name: &'static str,
    /// File content.
    pub content: String,
}

/// Longest single-line string kept a plain scalar. serde-saphyr folds longer ones (`>-`) at
/// 80 columns by default; PyYAML keeps them plain, and a one-line `summary:` greps better.
const FOLD_ABOVE_CHARS: usize = 4096;

fn to_yaml<T: Serialize>(file: &'static str, value: &T) -> Result<Rendered, RenderError> {
    let options = serde_saphyr::ser_options! { folded_wrap_chars: FOLD_ABOVE_CHARS };
    let content = serde_saphyr::to_string_with_options(value, options)
        .map_err(|source| RenderError::Serialize { file, source })?;
    Ok(Rendered {
        name: file,
        content,
    })
}

/// Recursively sorts mapping keys, as PyYAML's `safe_dump` does (no-op unless serde_json's
/// `preserve_order` is unified in).
fn sorted(mut value: Value) -> Value {
    value.sort_all_objects();
    value
}

/// The `metadata.yaml` mapping.
pub fn metadata_value(project: &Project) -> Value {
    let doc = &project.doc;
    let mut out = Map::new();
    for key in METADATA_PASSTHROUGH_KEYS {
        match doc.get(*key) {
            None | Some(Value::Null) => {}
            Some(v) => {
                out.insert((*key).to_owned(), v.clone());
            }
        }
    }
    if let Some(title) = doc.get("title").filter(|v| !v.is_null()) {
        out.insert("display-name".to_owned(), title.clone());
    }
    if let Some(Value::Object(links)) = doc.get("links") {
        for (key, v) in links {
            if v.is_null() {
                continue;
            }
            match key.as_str() {
                "documentation" => {
                    out.insert("docs".to_owned(), v.clone());
                }
                "contact" => {
                    let list = if v.is_string() {
                        Value::Array(vec![v.clone()])
                    } else {
                        v.clone()
                    };
                    out.insert("maintainers".to_owned(), list);
                }
                other => {
                    out.insert(other.to_owned(), v.clone());
                }
            }
        }
    }
    sorted(Value::Object(out))
}

/// A non-empty top-level mapping of the project (`config`, `actions`), sorted.
fn section(project: &Project, key: &str) -> Option<Value> {
    match project.doc.get(key) {
        Some(Value::Object(m)) if !m.is_empty() => Some(sorted(Value::Object(m.clone()))),
        _ => None,
    }
}

/// What goes into `manifest.yaml`, in charmcraft's key order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Manifest {
    /// The packing tool; charmcraft puts its own version here. Juju reads only `bases`.
    pub charmcraft_version: String,
    /// When packing started (ISO 8601); fixed for reproducible archives.
    pub charmcraft_started_at: String,
    /// Run-on bases.
    pub bases: Vec<ManifestBase>,
    /// Linter attributes.
    pub analysis: Analysis,
}

/// One run-on base.
#[derive(Debug, Serialize)]
pub struct ManifestBase {
    /// `ubuntu`.
    pub name: String,
    /// `24.04`.
    pub channel: String,
    /// `[amd64]`.
    pub architectures: Vec<String>,
}

/// `analysis:` of the manifest.
#[derive(Debug, Serialize)]
pub struct Analysis {
    /// Linter attributes (`language`, `framework`).
    pub attributes: Vec<Attribute>,
}

/// A linter attribute result.
#[derive(Debug, Serialize)]
pub struct Attribute {
    /// Linter name.
    pub name: String,
    /// Its result.
    pub result: String,
}

/// The manifest for `project`, stamped `started_at` (ISO 8601).
pub fn manifest(project: &Project, started_at: &str) -> Manifest {
    let unknown = |name: &str| Attribute {
        name: name.to_owned(),
        result: "unknown".to_owned(),
    };
    Manifest {
        charmcraft_version: format!("charm-pack {}", env!("CARGO_PKG_VERSION")),
        charmcraft_started_at: started_at.to_owned(),
        bases: vec![ManifestBase {
            name: project.base.name.to_owned(),
            channel: project.base.channel.to_owned(),
            architectures: vec![project.arch.clone()],
        }],
        analysis: Analysis {
            attributes: vec![unknown("language"), unknown("framework")],
        },
    }
}

/// Every YAML file of the archive, in archive order: `manifest.yaml`, `metadata.yaml`, then
/// `config.yaml` and `actions.yaml` when the project has them.
pub fn render_all(project: &Project, started_at: &str) -> Result<Vec<Rendered>, RenderError> {
    let mut files = vec![
        to_yaml("manifest.yaml", &manifest(project, started_at))?,
        to_yaml("metadata.yaml", &metadata_value(project))?,
    ];
    if let Some(config) = section(project, "config") {
        files.push(to_yaml("config.yaml", &config)?);
    }
    if let Some(actions) = section(project, "actions") {
        files.push(to_yaml("actions.yaml", &actions)?);
    }
    Ok(files)
}
