//! `charm-pack [--bin-dir DIR] [--out-dir DIR] CHARM_DIR...`: one `.charm` per charm directory
//! (a directory holding `charmcraft.yaml`, e.g. `metadata/gluetun-k8s`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Packs charm binaries into .charm archives laid out as charmcraft 3 does.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Where the charm binaries are (named like the charms). Default: the directory of this
    /// executable, i.e. the cargo profile directory (`target/release` under `cargo run --release`).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Where to write `<name>_<arch>.charm`.
    #[arg(long, default_value = "build")]
    out_dir: PathBuf,
    /// Directories holding a charmcraft.yaml.
    #[arg(required = true)]
    charm_dirs: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let bin_dir = args.bin_dir.or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(std::path::Path::to_path_buf))
    });
    let Some(bin_dir) = bin_dir else {
        eprintln!("charm-pack: cannot locate the binaries: pass --bin-dir");
        return ExitCode::FAILURE;
    };
    let time = charm_pack::time::archive_time(std::env::var("SOURCE_DATE_EPOCH").ok().as_deref());
    for dir in &args.charm_dirs {
        match charm_pack::pack_dir(dir, &bin_dir, &args.out_dir, time) {
            Ok((path, packed)) => {
                let glibc = packed.glibc.map_or_else(
                    || "static".to_owned(),
                    |(a, b)| format!("needs glibc {a}.{b}"),
                );
                println!("{}: {} bytes ({glibc})", path.display(), packed.bytes.len());
            }
            Err(err) => {
                eprint!("charm-pack: {}: {err}", dir.display());
                let mut source = std::error::Error::source(&err);
                while let Some(s) = source {
                    eprint!(": {s}");
                    source = s.source();
                }
                eprintln!();
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
