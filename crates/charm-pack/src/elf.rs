//! Checking that a charm binary runs on its base: the right machine, shared libraries only
//! from glibc and libgcc (both in every Ubuntu image, Juju's charm container included), and no
//! `GLIBC_x.y` symbol version newer than the base's glibc (read from the ELF's
//! `.gnu.version_r`, `SHT_GNU_VERNEED`, with the `object` crate).

use object::read::elf::{Dyn, FileHeader, SectionTable};

/// Shared libraries a charm binary may need: glibc's and libgcc's, present on every Ubuntu
/// base (`libc6`, `libgcc-s1` are essential packages). Anything else (libssl, ...) may be
/// missing from Juju's charm container.
pub const ALLOWED_LIBRARIES: &[&str] = &[
    "libc.so.6",
    "libm.so.6",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "libutil.so.1",
    "libgcc_s.so.1",
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
];

/// Errors while checking a binary.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    /// The file is not a 64-bit ELF object.
    #[error("not a 64-bit ELF executable")]
    ParseHeader(#[source] object::read::Error),
    /// The section headers or the version-needs section are malformed.
    #[error("reading the ELF version needs (.gnu.version_r)")]
    ReadVersionNeeds(#[source] object::read::Error),
    /// Built for another machine than the platform's.
    #[error("ELF machine {found} does not match platform {arch} (expected machine {expected})")]
    WrongMachine {
        /// The platform.
        arch: String,
        /// `e_machine` expected.
        expected: u16,
        /// `e_machine` found.
        found: u16,
    },
    /// Links a shared library the base may not have.
    #[error(
        "the binary needs shared library {0}, which Ubuntu does not guarantee (allowed: glibc, libgcc_s)"
    )]
    UnexpectedLibrary(String),
    /// Needs a glibc newer than the base has.
    #[error(
        "the binary needs GLIBC_{}.{} but {base} has glibc {}.{}: build it on an older \
         glibc (this workspace builds on Debian 12, glibc 2.36)",
        needed.0, needed.1, base_glibc.0, base_glibc.1
    )]
    GlibcTooNew {
        /// The newest version the binary needs.
        needed: (u32, u32),
        /// The base.
        base: String,
        /// The base's glibc.
        base_glibc: (u32, u32),
    },
}

/// Parses `GLIBC_2.34` → `(2, 34)` (also `GLIBC_2.2.5` → `(2, 2)`); other names → `None`.
pub fn parse_glibc_version(name: &str) -> Option<(u32, u32)> {
    let rest = name.strip_prefix("GLIBC_")?;
    let mut parts = rest.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// What an ELF needs from the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needs {
    /// `e_machine`.
    pub machine: u16,
    /// Shared libraries (`DT_NEEDED`), e.g. `libc.so.6`.
    pub libraries: Vec<String>,
    /// Symbol version names (`GLIBC_2.34`, `GCC_3.0`, ...).
    pub versions: Vec<String>,
}

/// Reads the ELF's machine, shared libraries and symbol versions needed.
pub fn needs(data: &[u8]) -> Result<Needs, ElfError> {
    let header = object::elf::FileHeader64::<object::Endianness>::parse(data)
        .map_err(ElfError::ParseHeader)?;
    let endian = header.endian().map_err(ElfError::ParseHeader)?;
    let machine = header.e_machine(endian);
    let sections: SectionTable<'_, object::elf::FileHeader64<object::Endianness>> = header
        .sections(endian, data)
        .map_err(ElfError::ReadVersionNeeds)?;
    let mut libraries = Vec::new();
    if let Some((dyns, link)) = sections
        .dynamic(endian, data)
        .map_err(ElfError::ReadVersionNeeds)?
    {
        let strings = sections
            .strings(endian, data, link)
            .map_err(ElfError::ReadVersionNeeds)?;
        for d in dyns
            .iter()
            .filter(|d| d.tag(endian) == object::elf::DT_NEEDED)
        {
            let name = d
                .string(endian, strings)
                .map_err(ElfError::ReadVersionNeeds)?;
            libraries.push(String::from_utf8_lossy(name).into_owned());
        }
    }
    let mut names = Vec::new();
    if let Some((mut needs, link)) = sections
        .gnu_verneed(endian, data)
        .map_err(ElfError::ReadVersionNeeds)?
    {
        let strings = sections
            .strings(endian, data, link)
            .map_err(ElfError::ReadVersionNeeds)?;
        while let Some((_file, mut auxes)) = needs.next().map_err(ElfError::ReadVersionNeeds)? {
            while let Some(aux) = auxes.next().map_err(ElfError::ReadVersionNeeds)? {
                let name = aux
                    .name(endian, strings)
                    .map_err(ElfError::ReadVersionNeeds)?;
                names.push(String::from_utf8_lossy(name).into_owned());
            }
        }
    }
    Ok(Needs {
        machine,
        libraries,
        versions: names,
    })
}

/// The newest `GLIBC_x.y` among `names`, if any.
pub fn newest_glibc<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<(u32, u32)> {
    names.into_iter().filter_map(parse_glibc_version).max()
}

/// Refuses a binary for the wrong machine or needing a glibc newer than `base_glibc`.
/// Returns the newest glibc version it needs (`None` for a static binary).
pub fn check_binary(
    data: &[u8],
    arch: &str,
    expected_machine: u16,
    base: &str,
    base_glibc: (u32, u32),
) -> Result<Option<(u32, u32)>, ElfError> {
    let Needs {
        machine,
        libraries,
        versions,
    } = needs(data)?;
    if machine != expected_machine {
        return Err(ElfError::WrongMachine {
            arch: arch.to_owned(),
            expected: expected_machine,
            found: machine,
        });
    }
    if let Some(lib) = libraries
        .iter()
        .find(|l| !ALLOWED_LIBRARIES.contains(&l.as_str()))
    {
        return Err(ElfError::UnexpectedLibrary(lib.clone()));
    }
    let needed = newest_glibc(versions.iter().map(String::as_str));
    match needed {
        Some(needed) if needed > base_glibc => Err(ElfError::GlibcTooNew {
            needed,
            base: base.to_owned(),
            base_glibc,
        }),
        _ => Ok(needed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_glibc_names() {
        assert_eq!(parse_glibc_version("GLIBC_2.34"), Some((2, 34)));
        assert_eq!(parse_glibc_version("GLIBC_2.2.5"), Some((2, 2)));
        assert_eq!(parse_glibc_version("GLIBC_PRIVATE"), None);
        assert_eq!(parse_glibc_version("GCC_3.0"), None);
        assert_eq!(
            newest_glibc(["GLIBC_2.2.5", "GLIBC_2.39", "GLIBC_2.4", "GCC_4.2.0"]),
            Some((2, 39))
        );
    }

    #[test]
    fn compares_versions_numerically() {
        // 2.4 < 2.39 although "2.4" > "2.39" as strings.
        assert_eq!(newest_glibc(["GLIBC_2.4", "GLIBC_2.10"]), Some((2, 10)));
    }

    #[test]
    fn rejects_non_elf() {
        assert!(matches!(
            needs(b"#!/bin/sh\n"),
            Err(ElfError::ParseHeader(_))
        ));
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn this_test_binary_needs_a_glibc_ubuntu_24_04_has() {
        // Built here (Debian 12, glibc 2.36): a real dynamically linked x86-64 ELF.
        let exe = std::env::current_exe().unwrap_or_default();
        let Ok(data) = std::fs::read(&exe) else {
            panic!("reading {}", exe.display());
        };
        let found = needs(&data).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(
            found.libraries.iter().any(|l| l == "libc.so.6"),
            "{found:?}"
        );
        let needed = check_binary(
            &data,
            "amd64",
            object::elf::EM_X86_64,
            "ubuntu@24.04",
            (2, 39),
        );
        assert!(matches!(needed, Ok(Some(v)) if v <= (2, 36)), "{needed:?}");
        let too_old_base = check_binary(&data, "amd64", object::elf::EM_X86_64, "old", (2, 1));
        assert!(
            matches!(too_old_base, Err(ElfError::GlibcTooNew { .. })),
            "{too_old_base:?}"
        );
        let wrong = check_binary(
            &data,
            "arm64",
            object::elf::EM_AARCH64,
            "ubuntu@24.04",
            (2, 39),
        );
        assert!(
            matches!(wrong, Err(ElfError::WrongMachine { .. })),
            "{wrong:?}"
        );
    }
}
