//! Locating a charm: what `deploy CHARM` accepts.
//!
//! - a charm of this workspace, by name (`gluetun-k8s`): the binary `target/<profile>/<name>`
//!   (profile from `JUJU_SIM_PROFILE`, default `debug`) becomes `dispatch`, next to the files
//!   of `metadata/<name>/` (charmcraft.yaml, ...), in a charm directory the simulator assembles
//!   under its state directory;
//! - a `.charm` file (a zip): unpacked into the state directory with Debian's `unzip`
//!   (simplification: no zip crate; `unzip` is part of the test machine's base image);
//! - an unpacked charm directory holding `dispatch` and its metadata: used in place.
//!
//! The workspace root is found from `JUJU_SIM_WORKSPACE`, else by walking up from the current
//! directory to the `Cargo.toml` that declares `[workspace]`, else from this crate's build-time
//! location.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::meta::{CharmMeta, MetaError};

/// Errors while locating or preparing a charm.
#[derive(Debug, thiserror::Error)]
pub enum CharmError {
    /// No charm by that name or path.
    #[error(
        "charm {0:?} not found: not a directory with `dispatch`, not a .charm file, and not a \
         workspace charm (target/<profile>/<name> + metadata/<name>/)"
    )]
    NotFound(String),
    /// Preparing the charm directory failed.
    #[error("preparing charm directory {path}")]
    Prepare {
        /// The directory.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `unzip` failed.
    #[error("unpacking {path} with unzip: {detail}")]
    Unzip {
        /// The .charm file.
        path: String,
        /// What unzip said.
        detail: String,
    },
    /// The metadata could not be read.
    #[error("reading the charm's metadata")]
    Meta(#[source] Box<MetaError>),
}

/// A charm ready to run: its directory (`JUJU_CHARM_DIR`), its `dispatch` and its metadata.
#[derive(Debug, Clone)]
pub struct Charm {
    /// The charm directory.
    pub dir: PathBuf,
    /// The executable run for every hook.
    pub dispatch: PathBuf,
    /// The parsed metadata.
    pub meta: CharmMeta,
}

/// The workspace root (see the module docs).
pub fn workspace_root() -> PathBuf {
    if let Some(p) = std::env::var_os("JUJU_SIM_WORKSPACE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Ok(mut dir) = std::env::current_dir() {
        loop {
            let toml = dir.join("Cargo.toml");
            if std::fs::read_to_string(&toml).is_ok_and(|t| t.contains("[workspace]")) {
                return dir;
            }
            if !dir.pop() {
                break;
            }
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn prep(path: &Path) -> impl FnOnce(std::io::Error) -> CharmError + '_ {
    move |source| CharmError::Prepare {
        path: path.display().to_string(),
        source,
    }
}

impl Charm {
    /// Locates `spec` and, where needed, assembles its charm directory under `work`
    /// (a directory owned by the simulator, e.g. `<state>/charms/<app>`).
    pub fn locate(spec: &str, work: &Path) -> Result<Self, CharmError> {
        let path = Path::new(spec);
        if path.is_dir() && path.join("dispatch").is_file() {
            let dir = std::fs::canonicalize(path).map_err(prep(path))?;
            return Self::from_dir(dir);
        }
        if path.is_file()
            && path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("charm"))
        {
            if work.exists() {
                std::fs::remove_dir_all(work).map_err(prep(work))?;
            }
            std::fs::create_dir_all(work).map_err(prep(work))?;
            let out = Command::new("unzip")
                .arg("-q")
                .arg("-o")
                .arg(path)
                .arg("-d")
                .arg(work)
                .output()
                .map_err(prep(work))?;
            if !out.status.success() {
                return Err(CharmError::Unzip {
                    path: spec.to_owned(),
                    detail: String::from_utf8_lossy(&out.stderr).into_owned(),
                });
            }
            let dir = std::fs::canonicalize(work).map_err(prep(work))?;
            return Self::from_dir(dir);
        }
        let root = workspace_root();
        let profile = std::env::var("JUJU_SIM_PROFILE").unwrap_or_else(|_| "debug".to_owned());
        let target =
            std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
        let binary = target.join(&profile).join(spec);
        let metadata = root.join("metadata").join(spec);
        if !binary.is_file() || !metadata.is_dir() {
            return Err(CharmError::NotFound(spec.to_owned()));
        }
        if work.exists() {
            std::fs::remove_dir_all(work).map_err(prep(work))?;
        }
        std::fs::create_dir_all(work).map_err(prep(work))?;
        for entry in std::fs::read_dir(&metadata).map_err(prep(&metadata))? {
            let entry = entry.map_err(prep(&metadata))?;
            if entry.path().is_file() {
                std::fs::copy(entry.path(), work.join(entry.file_name())).map_err(prep(work))?;
            }
        }
        let dispatch = work.join("dispatch");
        let binary = std::fs::canonicalize(&binary).map_err(prep(&binary))?;
        std::os::unix::fs::symlink(&binary, &dispatch).map_err(prep(work))?;
        let dir = std::fs::canonicalize(work).map_err(prep(work))?;
        Self::from_dir(dir)
    }

    /// A charm directory that already holds `dispatch` and metadata.
    pub fn from_dir(dir: PathBuf) -> Result<Self, CharmError> {
        let meta = CharmMeta::read_dir(&dir).map_err(|e| CharmError::Meta(Box::new(e)))?;
        Ok(Self {
            dispatch: dir.join("dispatch"),
            dir,
            meta,
        })
    }
}

/// A variant of the charm directory `src` in `dst` (a test's refresh target): every file of
/// `src` copied, `metadata.yaml` (else `charmcraft.yaml`) passed through `edit`. Fails when
/// the edit changes nothing, so a test cannot refresh to the same charm by mistake.
pub fn edited_copy(
    src: &Path,
    dst: &Path,
    edit: impl Fn(String) -> String,
) -> Result<PathBuf, CharmError> {
    std::fs::create_dir_all(dst).map_err(prep(dst))?;
    for entry in std::fs::read_dir(src).map_err(prep(src))? {
        let entry = entry.map_err(prep(src))?;
        if entry.path().is_file() {
            std::fs::copy(entry.path(), dst.join(entry.file_name())).map_err(prep(dst))?;
        }
    }
    let meta = ["metadata.yaml", "charmcraft.yaml"]
        .into_iter()
        .map(|f| dst.join(f))
        .find(|p| p.is_file())
        .ok_or_else(|| CharmError::NotFound(src.display().to_string()))?;
    let text = std::fs::read_to_string(&meta).map_err(prep(&meta))?;
    let edited = edit(text.clone());
    if edited == text {
        return Err(CharmError::Prepare {
            path: meta.display().to_string(),
            source: std::io::Error::other("the edit changed nothing"),
        });
    }
    std::fs::write(&meta, edited).map_err(prep(&meta))?;
    Ok(dst.to_path_buf())
}
