//! Writing the `.charm` zip: a fixed file order, fixed timestamps and Unix modes (0755 for
//! `dispatch`, 0644 otherwise), deflate at the best level. The same inputs give the same bytes.

use std::io::{Seek, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// Errors while writing the archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Starting an entry failed.
    #[error("adding {name} to the archive")]
    StartEntry {
        /// Entry name.
        name: String,
        /// The zip error.
        #[source]
        source: zip::result::ZipError,
    },
    /// Writing an entry's bytes failed.
    #[error("writing {name} into the archive")]
    WriteEntry {
        /// Entry name.
        name: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing the central directory failed.
    #[error("finishing the archive")]
    Finish(#[source] zip::result::ZipError),
}

/// One archive member.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// Path inside the archive.
    pub name: &'a str,
    /// Unix permission bits.
    pub mode: u32,
    /// Content.
    pub data: &'a [u8],
}

/// Writes `entries`, in the given order, all stamped `mtime`, into `out`.
pub fn write_zip<W: Write + Seek>(
    out: W,
    entries: &[Entry<'_>],
    mtime: DateTime,
) -> Result<W, ArchiveError> {
    let mut zip = ZipWriter::new(out);
    for entry in entries {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            // Above 9 the zip crate deflates with zopfli (level - 9 iterations): still plain
            // deflate for Juju and charmcraft, 2.5 % smaller than zlib's 9 for our binaries;
            // more iterations gained nothing measurable (docs/adr/0024).
            .compression_level(Some(10))
            .last_modified_time(mtime)
            .unix_permissions(entry.mode);
        zip.start_file(entry.name, options)
            .map_err(|source| ArchiveError::StartEntry {
                name: entry.name.to_owned(),
                source,
            })?;
        zip.write_all(entry.data)
            .map_err(|source| ArchiveError::WriteEntry {
                name: entry.name.to_owned(),
                source,
            })?;
    }
    zip.finish().map_err(ArchiveError::Finish)
}
