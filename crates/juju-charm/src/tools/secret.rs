//! Secret hook tools: `secret-get`, `secret-add`, `secret-set`, `secret-grant`,
//! `secret-revoke`, `secret-ids`, `secret-info-get`, `secret-remove`.
//!
//! Secret content never appears on a command line: as ops does (`ops/hookcmds/_secret.py`),
//! each value is written to a file in a fresh private temporary directory and passed as
//! `key#file=PATH`; the directory (mode 0700) and files (mode 0600) are removed when the tool
//! returns. Values read back are [`SecretString`]s.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;

use serde::Deserialize;

use super::{OutputError, SecretString, ToolError, Tools, argv};

/// Secret content: keys to values.
pub type SecretContent = BTreeMap<String, SecretString>;

/// How a secret is named in a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretRef<'a> {
    /// By id, e.g. `secret:cn9…` (or the bare id).
    Id(&'a str),
    /// By the label this unit or application gave it.
    Label(&'a str),
}

/// Which revision `secret-get` returns to an observer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Revision {
    /// The revision this unit tracks.
    #[default]
    Tracked,
    /// The latest revision, tracked from now on (`--refresh`).
    Refresh,
    /// The latest revision, this once (`--peek`).
    Peek,
}

/// Who owns a new secret (`--owner`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecretOwner {
    /// The application (shared by its units, managed by the leader). ops' default.
    #[default]
    Application,
    /// This unit.
    Unit,
}

impl SecretOwner {
    fn as_str(self) -> &'static str {
        match self {
            Self::Application => "application",
            Self::Unit => "unit",
        }
    }
}

/// Metadata for `secret-add`/`secret-set`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretMeta<'a> {
    /// `--label`.
    pub label: Option<&'a str>,
    /// `--description`.
    pub description: Option<&'a str>,
    /// `--owner`.
    pub owner: SecretOwner,
}

/// `secret-info-get --format=json`: metadata of a secret this charm owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    /// The id (Juju prints a map keyed by it).
    pub id: String,
    /// The label, if any.
    pub label: Option<String>,
    /// The description, if any.
    pub description: Option<String>,
    /// The current revision.
    pub revision: u64,
    /// When it expires, as Juju prints it.
    pub expiry: Option<String>,
    /// Rotation policy (`never`, `hourly`, …).
    pub rotation: Option<String>,
    /// When it next rotates, as Juju prints it.
    pub rotates: Option<String>,
}

#[derive(Deserialize)]
struct RawSecretInfo {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    description: Option<String>,
    revision: u64,
    #[serde(default)]
    expiry: Option<String>,
    #[serde(default)]
    rotation: Option<String>,
    #[serde(default)]
    rotates: Option<String>,
}

impl Tools {
    /// A secret's content: `secret-get --format=json <id>|--label <label> [--refresh|--peek]`.
    pub fn secret_get(
        &self,
        secret: SecretRef<'_>,
        revision: Revision,
    ) -> Result<SecretContent, ToolError> {
        let mut args = argv(["--format=json"]);
        push_ref(&mut args, secret);
        match revision {
            Revision::Tracked => {}
            Revision::Refresh => args.push("--refresh".to_owned()),
            Revision::Peek => args.push("--peek".to_owned()),
        }
        self.run_json("secret-get", &args)
    }

    /// Creates a secret and returns its id: `secret-add [--label L] [--description D]
    /// --owner <owner> key#file=PATH…`.
    pub fn secret_add(
        &self,
        content: &SecretContent,
        meta: &SecretMeta<'_>,
    ) -> Result<String, ToolError> {
        const TOOL: &str = "secret-add";
        if content.is_empty() {
            return Err(ToolError::InvalidArgument {
                tool: TOOL.to_owned(),
                reason: "secret content must not be empty".to_owned(),
            });
        }
        let args = meta_args(meta);
        let stdout = self.run_with_content(TOOL, args, content)?;
        let id = stdout.trim();
        if id.is_empty() {
            return Err(ToolError::BadOutput {
                tool: TOOL.to_owned(),
                source: OutputError::Unexpected("no secret id".to_owned()),
            });
        }
        Ok(id.to_owned())
    }

    /// Updates a secret's metadata and, when `content` is given, creates a new revision:
    /// `secret-set [--label L] [--description D] --owner <owner> <id> [key#file=PATH…]`.
    pub fn secret_set(
        &self,
        id: &str,
        content: Option<&SecretContent>,
        meta: &SecretMeta<'_>,
    ) -> Result<(), ToolError> {
        let mut args = meta_args(meta);
        args.push(id.to_owned());
        let empty = SecretContent::new();
        self.run_with_content("secret-set", args, content.unwrap_or(&empty))
            .map(drop)
    }

    /// Grants the other side of relation `relation_id` (or one unit of it) read access:
    /// `secret-grant --relation <id> [--unit <unit>] <secret-id>`.
    pub fn secret_grant(
        &self,
        id: &str,
        relation_id: u64,
        unit: Option<&str>,
    ) -> Result<(), ToolError> {
        let mut args = argv(["--relation".to_owned(), relation_id.to_string()]);
        if let Some(unit) = unit {
            args.extend(argv(["--unit", unit]));
        }
        args.push(id.to_owned());
        self.run("secret-grant", &args).map(drop)
    }

    /// Revokes a grant made to relation `relation_id` (or one unit of it):
    /// `secret-revoke --relation <id> [--unit <unit>] <secret-id>`.
    pub fn secret_revoke(
        &self,
        id: &str,
        relation_id: u64,
        unit: Option<&str>,
    ) -> Result<(), ToolError> {
        let mut args = argv(["--relation".to_owned(), relation_id.to_string()]);
        if let Some(unit) = unit {
            args.extend(argv(["--unit", unit]));
        }
        args.push(id.to_owned());
        self.run("secret-revoke", &args).map(drop)
    }

    /// The ids of the secrets this unit (and, on the leader, its application) owns:
    /// `secret-ids --format=json`.
    pub fn secret_ids(&self) -> Result<Vec<String>, ToolError> {
        let ids: Option<Vec<String>> = self.run_json("secret-ids", &argv(["--format=json"]))?;
        Ok(ids.unwrap_or_default())
    }

    /// Metadata of an owned secret: `secret-info-get --format=json <id>|--label <label>`.
    /// Juju prints `{"<id>": {...}}`; ops takes the first entry.
    pub fn secret_info_get(&self, secret: SecretRef<'_>) -> Result<SecretInfo, ToolError> {
        const TOOL: &str = "secret-info-get";
        let mut args = argv(["--format=json"]);
        push_ref(&mut args, secret);
        let map: BTreeMap<String, RawSecretInfo> = self.run_json(TOOL, &args)?;
        let (id, raw) = map.into_iter().next().ok_or_else(|| ToolError::BadOutput {
            tool: TOOL.to_owned(),
            source: OutputError::Unexpected("no secret in output".to_owned()),
        })?;
        Ok(SecretInfo {
            id,
            label: raw.label,
            description: raw.description,
            revision: raw.revision,
            expiry: raw.expiry,
            rotation: raw.rotation,
            rotates: raw.rotates,
        })
    }

    /// Removes a secret, or one revision of it: `secret-remove <id> [--revision N]`.
    pub fn secret_remove(&self, id: &str, revision: Option<u64>) -> Result<(), ToolError> {
        let mut args = argv([id]);
        if let Some(revision) = revision {
            args.extend(argv(["--revision".to_owned(), revision.to_string()]));
        }
        self.run("secret-remove", &args).map(drop)
    }

    /// Runs `tool` with `args` plus one `key#file=PATH` per content entry, the files living in a
    /// private directory that is removed afterwards.
    fn run_with_content(
        &self,
        tool: &str,
        mut args: Vec<String>,
        content: &SecretContent,
    ) -> Result<String, ToolError> {
        let file_error = |source| ToolError::ContentFile {
            tool: tool.to_owned(),
            source,
        };
        for key in content.keys() {
            validate_key(tool, key)?;
        }
        // tempfile creates the directory with mode 0700 and a random name.
        let dir = tempfile::Builder::new()
            .prefix("juju-secret-")
            .tempdir()
            .map_err(file_error)?;
        for (key, value) in content {
            // The key is validated above (lowercase letters, digits, '-'): a plain file name.
            let path = dir.path().join(key);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(file_error)?;
            file.write_all(value.expose().as_bytes())
                .map_err(file_error)?;
            args.push(format!("{key}#file={}", path.display()));
        }
        let result = self.run(tool, &args);
        // Remove the files whatever happened; the tool's own error matters more than ours.
        let removed = dir.close().map_err(file_error);
        let stdout = result?;
        removed?;
        Ok(stdout)
    }
}

fn push_ref(args: &mut Vec<String>, secret: SecretRef<'_>) {
    match secret {
        SecretRef::Id(id) => args.push(id.to_owned()),
        SecretRef::Label(label) => args.extend(argv(["--label", label])),
    }
}

fn meta_args(meta: &SecretMeta<'_>) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(label) = meta.label {
        args.extend(argv(["--label", label]));
    }
    if let Some(description) = meta.description {
        args.extend(argv(["--description", description]));
    }
    args.extend(argv(["--owner", meta.owner.as_str()]));
    args
}

/// Juju's secret key rule (ops `Secret._key_re`, `^([a-z](?:-?[a-z0-9]){2,})$`): lowercase
/// letters and digits (at least 3 of them), starting with a letter, single inner hyphens.
/// It also makes every key a safe file name.
fn validate_key(tool: &str, key: &str) -> Result<(), ToolError> {
    let bytes = key.as_bytes();
    let valid = bytes.first().is_some_and(u8::is_ascii_lowercase)
        && bytes.iter().filter(|&&b| b != b'-').count() >= 3
        && bytes.last().is_some_and(|&b| b != b'-')
        && !key.contains("--")
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(ToolError::InvalidArgument {
            tool: tool.to_owned(),
            reason: format!("invalid secret key {key:?}"),
        })
    }
}
