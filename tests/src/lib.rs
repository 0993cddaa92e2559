//! Shared machinery for the cross-crate tests in `tests/tests/`.
//!
//! [`python_tool`] gives a command from PyPI installed into a cached virtualenv (created once,
//! under a file lock so parallel test binaries do not race), used for `kubernetes-validate`,
//! the schema check of docs/interface.md §7: the test API server is 1.20 and silently drops
//! fields it does not know, so every object we write is also validated against current
//! schemas.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why a Python tool could not be provided.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// Creating the cache directory or its lock file failed.
    #[error("preparing {path}")]
    Prepare {
        /// The path being prepared.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `python3 -m venv` or `pip install` could not run or failed.
    #[error("running {what} (exit {code:?}): {stderr}")]
    Install {
        /// The step.
        what: String,
        /// Its exit code.
        code: Option<i32>,
        /// What it printed on stderr.
        stderr: String,
    },
}

/// `${XDG_CACHE_HOME:-$HOME/.cache}/charmarr-rs`: the cache shared with the test cluster build.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"))
        .join("charmarr-rs")
}

/// The path of `bin` from the PyPI package `package` (`package==version` is fine), installed
/// into the cached virtualenv `venv-tools` if it is not there yet.
pub fn python_tool(package: &str, bin: &str) -> Result<PathBuf, ToolError> {
    let cache = cache_dir();
    let venv = cache.join("venv-tools");
    let prepare = |path: &Path, source| ToolError::Prepare {
        path: path.to_owned(),
        source,
    };
    fs::create_dir_all(&cache).map_err(|e| prepare(&cache, e))?;
    let lock_path = cache.join("venv-tools.lock");
    let lock = File::create(&lock_path).map_err(|e| prepare(&lock_path, e))?;
    lock.lock().map_err(|e| prepare(&lock_path, e))?;
    let tool = venv.join("bin").join(bin);
    if !tool.exists() {
        if !venv.join("bin/pip").exists() {
            run(
                Command::new("python3").args(["-m", "venv"]).arg(&venv),
                "python3 -m venv",
            )?;
        }
        run(
            Command::new(venv.join("bin/pip")).args(["install", "--quiet", package]),
            &format!("pip install {package}"),
        )?;
    }
    // The lock is released when `lock` is dropped.
    Ok(tool)
}

fn run(cmd: &mut Command, what: &str) -> Result<(), ToolError> {
    let out = cmd.output().map_err(|e| ToolError::Install {
        what: what.to_owned(),
        code: None,
        stderr: e.to_string(),
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ToolError::Install {
            what: what.to_owned(),
            code: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// Validates each JSON object with `kubernetes-validate --strict` for every Kubernetes version
/// in `versions`; returns the failures as `(version, object name, output)`.
pub fn kubernetes_validate(
    objects: &[serde_json::Value],
    versions: &[&str],
    dir: &Path,
) -> Result<Vec<(String, String, String)>, ToolError> {
    let tool = python_tool("kubernetes-validate", "kubernetes-validate")?;
    let mut files = Vec::new();
    for (i, obj) in objects.iter().enumerate() {
        let name = format!(
            "{i:02}-{}-{}.json",
            obj["kind"].as_str().unwrap_or("unknown"),
            obj["metadata"]["name"].as_str().unwrap_or("unnamed")
        );
        let path = dir.join(&name);
        let text = serde_json::to_string_pretty(obj).unwrap_or_default();
        fs::write(&path, text).map_err(|e| ToolError::Prepare {
            path: path.clone(),
            source: e,
        })?;
        files.push((name, path));
    }
    let mut failures = Vec::new();
    for version in versions {
        // One process per version; on failure, name each file it reported (its lines
        // start with the file's path).
        let out = Command::new(&tool)
            .args(["--strict", "--no-warn", "-k", version])
            .args(files.iter().map(|(_, path)| path))
            .output()
            .map_err(|e| ToolError::Install {
                what: "kubernetes-validate".into(),
                code: None,
                stderr: e.to_string(),
            })?;
        if !out.status.success() {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let mut named = false;
            for (name, path) in &files {
                let lines: Vec<&str> = text
                    .lines()
                    .filter(|l| l.contains(&*path.to_string_lossy()) && !l.contains(" passed "))
                    .collect();
                if !lines.is_empty() {
                    named = true;
                    failures.push(((*version).to_owned(), name.clone(), lines.join("\n")));
                }
            }
            if !named {
                failures.push(((*version).to_owned(), "(unattributed)".into(), text));
            }
        }
    }
    Ok(failures)
}
