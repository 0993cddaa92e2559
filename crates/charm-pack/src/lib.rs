//! `charm-pack`: packs a charm binary and its `charmcraft.yaml` into a `.charm` archive laid
//! out as charmcraft 3 lays out a `base: ubuntu@24.04` + `platforms: amd64` charm, without
//! charmcraft, LXD or Python.
//!
//! The archive holds, in this order:
//! - `dispatch` (0755): the charm binary itself. Juju executes `dispatch` with
//!   `JUJU_DISPATCH_PATH` set; the binary reads that. No `#!/bin/sh` + `exec` wrapper: it
//!   costs a dash start and a second exec on every hook (measured ~2.7 ms median on the
//!   development machine, against a steady-state hook of a few milliseconds), and gives
//!   nothing the binary does not do itself;
//! - `manifest.yaml`, `metadata.yaml`, and `config.yaml` / `actions.yaml` when the charm has
//!   config options / actions (charmcraft writes them only then), see [`render`].
//!
//! Before packing, the binary is checked against the base: ELF machine of the platform and no
//! `GLIBC_x.y` symbol version newer than the base's glibc (2.39 on Ubuntu 24.04), see [`elf`].

pub mod archive;
pub mod elf;
pub mod project;
pub mod render;
pub mod time;

use std::io::Cursor;
use std::path::{Path, PathBuf};

pub use project::Project;
pub use time::Utc;

/// Errors while packing one charm, named after the step.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Reading `charmcraft.yaml` failed.
    #[error("reading {path}")]
    ReadProject {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `charmcraft.yaml` is invalid or unsupported.
    #[error("in {path}")]
    ParseProject {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: project::ProjectError,
    },
    /// Reading the charm binary failed.
    #[error("reading the charm binary {path} (build it first: make charms)")]
    ReadBinary {
        /// The binary.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The binary does not run on the charm's base.
    #[error("checking the charm binary")]
    CheckBinary(#[source] elf::ElfError),
    /// Rendering a YAML file failed.
    #[error("rendering the charm's YAML files")]
    Render(#[source] render::RenderError),
    /// Writing the zip failed.
    #[error("building the archive")]
    Archive(#[source] archive::ArchiveError),
    /// Creating the output directory or writing the archive failed.
    #[error("writing {path}")]
    WriteArchive {
        /// The target path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A packed charm, in memory.
#[derive(Debug, Clone)]
pub struct Packed {
    /// `<name>_<arch>.charm`.
    pub file_name: String,
    /// The zip.
    pub bytes: Vec<u8>,
    /// The newest glibc the binary needs (`None`: static).
    pub glibc: Option<(u32, u32)>,
}

/// Packs `binary` with the parsed `project`, stamping every entry `time`.
pub fn pack(project: &Project, binary: &[u8], time: Utc) -> Result<Packed, PackError> {
    let machine = project::arch_machine(&project.arch).unwrap_or_default();
    let base = format!("{}@{}", project.base.name, project.base.channel);
    let glibc = elf::check_binary(binary, &project.arch, machine, &base, project.base.glibc)
        .map_err(PackError::CheckBinary)?;
    let files = render::render_all(project, &time.iso8601()).map_err(PackError::Render)?;
    let mut entries = vec![archive::Entry {
        name: "dispatch",
        mode: 0o755,
        data: binary,
    }];
    entries.extend(files.iter().map(|f| archive::Entry {
        name: f.name,
        mode: 0o644,
        data: f.content.as_bytes(),
    }));
    let bytes = archive::write_zip(Cursor::new(Vec::new()), &entries, time.zip())
        .map_err(PackError::Archive)?
        .into_inner();
    Ok(Packed {
        file_name: project.charm_file_name(),
        bytes,
        glibc,
    })
}

/// Packs the charm whose `charmcraft.yaml` is in `charm_dir`, taking the binary named like
/// the charm from `bin_dir`, and writes `out_dir/<name>_<arch>.charm` (through a temporary
/// file and a rename, so a failed run leaves no half-written archive). Returns its path.
pub fn pack_dir(
    charm_dir: &Path,
    bin_dir: &Path,
    out_dir: &Path,
    time: Utc,
) -> Result<(PathBuf, Packed), PackError> {
    let yaml_path = charm_dir.join("charmcraft.yaml");
    let yaml = std::fs::read_to_string(&yaml_path).map_err(|source| PackError::ReadProject {
        path: yaml_path.clone(),
        source,
    })?;
    let project = Project::parse(&yaml).map_err(|source| PackError::ParseProject {
        path: yaml_path.clone(),
        source,
    })?;
    let bin_path = bin_dir.join(&project.name);
    let binary = std::fs::read(&bin_path).map_err(|source| PackError::ReadBinary {
        path: bin_path.clone(),
        source,
    })?;
    let packed = pack(&project, &binary, time)?;
    let out = out_dir.join(&packed.file_name);
    let tmp = out_dir.join(format!(".{}.tmp", packed.file_name));
    let write_err = |source| PackError::WriteArchive {
        path: out.clone(),
        source,
    };
    std::fs::create_dir_all(out_dir).map_err(write_err)?;
    std::fs::write(&tmp, &packed.bytes).map_err(write_err)?;
    std::fs::rename(&tmp, &out).map_err(write_err)?;
    Ok((out, packed))
}
