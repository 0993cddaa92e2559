//! `kube-testbed`: a test cluster by hand, for the demo and for trying things with kubectl.
//!
//! ```text
//! kube-testbed up --dir DIR       start etcd + kube-apiserver, detached; PIDs in DIR
//! eval "$(kube-testbed env --dir DIR)"   export KUBECONFIG=DIR/admin.kubeconfig
//! kube-testbed status --dir DIR   what runs (exit 0 only if both run)
//! kube-testbed down --dir DIR     stop by the recorded PIDs (API server first)
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kube_testbed::{Cluster, ClusterOptions, Lifetime, running_in_dir, stop_dir};

/// Start, inspect and stop a real kube-apiserver + etcd test cluster.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
    /// Log start-up and stop timings.
    #[arg(long, short, global = true)]
    verbose: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start a cluster in DIR that keeps running after this command exits.
    Up {
        /// The cluster directory (state, logs, PID files, kubeconfigs).
        #[arg(long)]
        dir: PathBuf,
    },
    /// Stop the cluster recorded in DIR.
    Down {
        /// The cluster directory.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Say what runs in DIR.
    Status {
        /// The cluster directory.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Print `export KUBECONFIG=DIR/admin.kubeconfig` for the shell.
    Env {
        /// The cluster directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = if cli.verbose {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Cmd::Up { dir } => {
            let options = ClusterOptions {
                dir: Some(dir),
                lifetime: Lifetime::Detached,
                ..ClusterOptions::default()
            };
            match Cluster::start_with(&options) {
                Ok(cluster) => {
                    let (apiserver, etcd) = cluster.pids();
                    eprintln!(
                        "kube-testbed: up at {} (kube-apiserver pid {}, etcd pid {}); stop with `kube-testbed down --dir {}`",
                        cluster.server(),
                        apiserver.unwrap_or_default(),
                        etcd.unwrap_or_default(),
                        cluster.dir().display()
                    );
                    println!("export KUBECONFIG={}", cluster.admin_kubeconfig().display());
                    cluster.detach();
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Cmd::Down { dir } => {
            let stopped = stop_dir(&dir);
            eprintln!(
                "kube-testbed: stopped {}",
                if stopped.is_empty() {
                    "nothing".into()
                } else {
                    stopped.join(", ")
                }
            );
            ExitCode::SUCCESS
        }
        Cmd::Status { dir } => {
            let running = running_in_dir(&dir);
            for (name, pid) in &running {
                println!("{name}: running (pid {pid})");
            }
            if running.len() == 2 {
                ExitCode::SUCCESS
            } else {
                println!("kube-testbed: not up in {}", dir.display());
                ExitCode::FAILURE
            }
        }
        Cmd::Env { dir } => {
            let kubeconfig = std::fs::canonicalize(&dir)
                .unwrap_or(dir)
                .join("admin.kubeconfig");
            if kubeconfig.is_file() {
                println!("export KUBECONFIG={}", kubeconfig.display());
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "kube-testbed: no {}: run `kube-testbed up` first",
                    kubeconfig.display()
                );
                ExitCode::FAILURE
            }
        }
    }
}

fn fail(e: &dyn std::error::Error) -> ExitCode {
    eprintln!("kube-testbed: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        eprintln!("  caused by: {s}");
        source = s.source();
    }
    ExitCode::FAILURE
}
