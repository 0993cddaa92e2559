//! Reading `charmcraft.yaml`: the few fields the packer interprets (name, base, platform) and
//! the generic values it moves, unchanged, into `metadata.yaml`, `config.yaml` and
//! `actions.yaml`.

use serde_json::{Map, Value};

/// Errors while reading a `charmcraft.yaml`.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The YAML did not parse.
    #[error("parsing charmcraft.yaml")]
    ParseYaml(#[source] Box<serde_saphyr::Error>),
    /// The document is not a mapping.
    #[error("charmcraft.yaml is not a mapping")]
    NotAMapping,
    /// A required string field is missing or not a string.
    #[error("charmcraft.yaml: `{field}` must be a string")]
    MissingString {
        /// The field.
        field: &'static str,
    },
    /// `type` is not `charm`.
    #[error("charmcraft.yaml: `type` must be `charm`")]
    NotACharm,
    /// A top-level key charmcraft does not know (a typo would otherwise vanish silently).
    #[error("charmcraft.yaml: unknown top-level key `{0}`")]
    UnknownKey(String),
    /// The base is not one we know the glibc of, or the legacy `bases` form is used.
    #[error(
        "charmcraft.yaml: base {0:?} is not supported (expected `base: ubuntu@24.04` or `ubuntu@22.04`)"
    )]
    UnsupportedBase(String),
    /// `platforms` is not a single shorthand architecture.
    #[error(
        "charmcraft.yaml: `platforms` must hold exactly one architecture in shorthand form \
         (`platforms: {{amd64: }}`); found {0}"
    )]
    UnsupportedPlatforms(String),
}

/// Top-level keys of a charmcraft 3 `base`/`platforms` charm project.
const KNOWN_KEYS: &[&str] = &[
    "type",
    "name",
    "title",
    "summary",
    "description",
    "links",
    "base",
    "build-base",
    "platforms",
    "parts",
    "analysis",
    "charmhub",
    "charm-libs",
    "config",
    "actions",
    // Keys that charmcraft moves into metadata.yaml unchanged.
    "assumes",
    "charm-user",
    "containers",
    "devices",
    "extra-bindings",
    "peers",
    "provides",
    "requires",
    "resources",
    "storage",
    "subordinate",
    "terms",
];

/// Keys charmcraft copies verbatim from charmcraft.yaml into metadata.yaml (its
/// `CharmMetadata` model, apart from the renamed `title` and the flattened `links`).
pub const METADATA_PASSTHROUGH_KEYS: &[&str] = &[
    "name",
    "summary",
    "description",
    "assumes",
    "charm-user",
    "containers",
    "devices",
    "extra-bindings",
    "peers",
    "provides",
    "requires",
    "resources",
    "storage",
    "subordinate",
    "terms",
];

/// A run-on base the packer knows: its name, channel and the newest glibc it ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Base {
    /// Distribution, `ubuntu`.
    pub name: &'static str,
    /// Series, e.g. `24.04`.
    pub channel: &'static str,
    /// The glibc version of that release (major, minor): the newest symbol version a
    /// dynamically linked binary may need.
    pub glibc: (u32, u32),
}

/// Bases the packer supports, with their glibc (Ubuntu's `libc6` package version).
const BASES: &[(&str, Base)] = &[
    (
        "ubuntu@22.04",
        Base {
            name: "ubuntu",
            channel: "22.04",
            glibc: (2, 35),
        },
    ),
    (
        "ubuntu@24.04",
        Base {
            name: "ubuntu",
            channel: "24.04",
            glibc: (2, 39),
        },
    ),
];

/// A parsed `charmcraft.yaml`.
#[derive(Debug, Clone)]
pub struct Project {
    /// The charm's name (`name`), also the binary's name.
    pub name: String,
    /// The run-on base.
    pub base: Base,
    /// The single platform's architecture, e.g. `amd64`.
    pub arch: String,
    /// The whole document, for the generated files.
    pub doc: Map<String, Value>,
}

impl Project {
    /// Parses and checks a `charmcraft.yaml` document.
    pub fn parse(yaml: &str) -> Result<Self, ProjectError> {
        let value: Value =
            serde_saphyr::from_str(yaml).map_err(|e| ProjectError::ParseYaml(Box::new(e)))?;
        let Value::Object(doc) = value else {
            return Err(ProjectError::NotAMapping);
        };
        if let Some(key) = doc.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
            return Err(ProjectError::UnknownKey(key.clone()));
        }
        if doc.get("type").and_then(Value::as_str) != Some("charm") {
            return Err(ProjectError::NotACharm);
        }
        for field in ["name", "summary", "description"] {
            if !doc.get(field).is_some_and(Value::is_string) {
                return Err(ProjectError::MissingString { field });
            }
        }
        let name = doc
            .get("name")
            .and_then(Value::as_str)
            .ok_or(ProjectError::MissingString { field: "name" })?
            .to_owned();
        let base_str = doc.get("base").and_then(Value::as_str).unwrap_or_default();
        let base = BASES
            .iter()
            .find(|(s, _)| *s == base_str)
            .map(|(_, b)| *b)
            .ok_or_else(|| ProjectError::UnsupportedBase(base_str.to_owned()))?;
        let arch = match doc.get("platforms") {
            Some(Value::Object(platforms)) if platforms.len() == 1 => {
                match platforms.iter().next() {
                    Some((arch, Value::Null)) if arch_machine(arch).is_some() => arch.clone(),
                    _ => {
                        return Err(ProjectError::UnsupportedPlatforms(
                            Value::Object(platforms.clone()).to_string(),
                        ));
                    }
                }
            }
            other => {
                return Err(ProjectError::UnsupportedPlatforms(
                    other.map_or_else(|| "nothing".to_owned(), Value::to_string),
                ));
            }
        };
        Ok(Self {
            name,
            base,
            arch,
            doc,
        })
    }

    /// The archive's file name as charmcraft names it: `<name>_<platform>.charm`.
    pub fn charm_file_name(&self) -> String {
        format!("{}_{}.charm", self.name, self.arch)
    }
}

/// The ELF `e_machine` a charm architecture runs (amd64 and arm64, the Kubernetes ones).
pub fn arch_machine(arch: &str) -> Option<u16> {
    match arch {
        "amd64" => Some(object::elf::EM_X86_64),
        "arm64" => Some(object::elf::EM_AARCH64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "name: c\ntype: charm\nsummary: s\ndescription: d\nbase: ubuntu@24.04\nplatforms:\n  amd64:\n";

    #[test]
    fn parses_a_minimal_platform_charm() {
        let p = Project::parse(MINIMAL).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            (p.name.as_str(), p.arch.as_str(), p.base.glibc),
            ("c", "amd64", (2, 39))
        );
        assert_eq!(p.charm_file_name(), "c_amd64.charm");
    }

    #[test]
    fn refuses_what_it_cannot_pack_faithfully() {
        let cases = [
            (MINIMAL.replace("type: charm", "type: bundle"), "NotACharm"),
            (MINIMAL.replace("summary: s\n", ""), "MissingString"),
            (format!("{MINIMAL}requries: {{}}\n"), "UnknownKey"),
            (
                MINIMAL.replace("ubuntu@24.04", "ubuntu@20.04"),
                "UnsupportedBase",
            ),
            (
                MINIMAL.replace("  amd64:\n", "  amd64:\n  arm64:\n"),
                "UnsupportedPlatforms",
            ),
            (
                MINIMAL.replace("  amd64:\n", "  s390x:\n"),
                "UnsupportedPlatforms",
            ),
            (
                MINIMAL.replace(
                    "  amd64:\n",
                    "  amd64:\n    build-on: [amd64]\n    build-for: [amd64]\n",
                ),
                "UnsupportedPlatforms",
            ),
            ("- a list".to_owned(), "NotAMapping"),
            ("name: [".to_owned(), "ParseYaml"),
        ];
        for (yaml, want) in cases {
            let got = Project::parse(&yaml)
                .map(|_| ())
                .map_err(|e| format!("{e:?}"));
            assert!(
                matches!(&got, Err(e) if e.starts_with(want)),
                "{yaml:?}: want {want}, got {got:?}"
            );
        }
    }
}
