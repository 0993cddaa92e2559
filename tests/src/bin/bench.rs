//! `make bench`: whole-process benchmarks of the release charm binaries under the simulator on
//! the real test API server, with the Python reference's import cost as the baseline.
//!
//! Usage: `bench --gateway CHARM --client CHARM [--runs N] [--patch-runs M] [--state DIR]
//! [--record FILE]`, CHARM being a `.charm` file (what `make charms` builds).
//!
//! Method (see `docs/benchmarks.md`): each `.charm` is unpacked and its binary moved aside; the
//! charm's `dispatch` becomes a link to this very program, which, started under that name, runs
//! the real binary through `/usr/bin/time -f %M` (peak RSS of that one child, from `wait4`)
//! and times it with a monotonic clock, appending one line per hook to a log in the charm
//! directory. The Python baseline (`import ops, lightkube, pydantic, charmarr_lib.vpn` in a
//! cached virtualenv) is measured by the same code, one import after each steady round, so
//! that both see the same machine (a shared VM's speed drifts). The simulator's own hook records give the
//! hook wall time as Juju would see it and the API requests the hook sent.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use juju_sim::model::Model;
use juju_sim::runner::HookRecord;
use juju_sim::workload::Answer;

/// The driver's result type.
type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// A throwaway WireGuard key (32 bytes, base64); not a real credential.
const KEY: &str = "oK56DE9Ue9zK76rAc8pBl6opph+1v36lm7cXXsQKrQM=";
/// The moved-aside charm binary inside a benchmark charm directory.
const REAL: &str = "charm.bin";
/// A file in a benchmark charm directory naming the measurement log (the simulator copies the
/// charm directory per unit, and again when a pod restarts).
const LOG_NAME: &str = "bench-log";
/// What the Python reference charms import before doing anything.
const PY_IMPORT: &str = "import ops, lightkube, pydantic, charmarr_lib.vpn";
const PY_PACKAGES: [&str; 4] = ["ops", "lightkube", "pydantic", "charmarr-lib-vpn"];
/// The runtime dependencies each reference charm declares (its `pyproject.toml`, which
/// charmcraft's uv plugin installs into the `.charm`'s `venv/`): what its archive carries
/// besides its own code. Resolved from PyPI like the import venv.
const PY_CHARM_DEPS: [(&str, &[&str]); 2] = [
    (
        "gluetun-k8s",
        &[
            "ops[tracing]>=2.17",
            "charmarr-lib-core>=0.18.0",
            "charmarr-lib-vpn",
            "pydantic>=2.0",
            "lightkube>=0.15",
            "httpx>=0.27",
            "tenacity>=8.0",
            "cosl",
        ],
    ),
    (
        "qbittorrent-k8s",
        &[
            "ops[tracing]>=2.17",
            "charmarr-lib-core>=0.18.0",
            "charmarr-lib-vpn",
            "pydantic>=2.0",
            "lightkube>=0.15",
            "lightkube-extensions",
            "httpx>=0.27",
            "charmed-service-mesh-helpers",
            "cosl",
        ],
    ),
];
/// GNU time (Debian package `time`).
const TIME: &str = "/usr/bin/time";
/// The simulated model's name (and namespace).
const MODEL: &str = "bench";

/// One measured process: wall time (µs) and peak RSS (KiB).
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall_us: u64,
    rss_kb: u64,
}

/// Runs `program args` through `/usr/bin/time -f %M`: exit code and the child's figures.
/// stdio is inherited (under the simulator: the hook's pipes).
/// With `quiet`, the child's stdout goes to /dev/null.
fn timed(
    program: &Path,
    args: &[&OsStr],
    scratch: &Path,
    quiet: bool,
) -> std::io::Result<(i32, Sample)> {
    let started = Instant::now();
    let status = Command::new(TIME)
        .stdout(if quiet {
            Stdio::null()
        } else {
            Stdio::inherit()
        })
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(scratch)
        .arg(program)
        .args(args)
        .status()?;
    let wall_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    // time(1) writes "Command exited with non-zero status N" before the figures on failure.
    let text = std::fs::read_to_string(scratch)?;
    let _ = std::fs::remove_file(scratch);
    let rss_kb = text
        .lines()
        .rev()
        .find_map(|l| l.trim().parse().ok())
        .unwrap_or(0);
    Ok((status.code().unwrap_or(-1), Sample { wall_us, rss_kb }))
}

/// Started as a charm's `dispatch`: runs the real binary measured, logs one line, passes the
/// exit code on.
fn wrap() -> ExitCode {
    let dir = std::env::var_os("JUJU_CHARM_DIR").map_or_else(|| PathBuf::from("."), PathBuf::from);
    let scratch = dir.join(format!("bench-time.{}", std::process::id()));
    let (code, s) = match timed(&dir.join(REAL), &[], &scratch, false) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench wrapper: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Ok(log) = std::fs::read_to_string(dir.join(LOG_NAME)) else {
        eprintln!("bench wrapper: no {LOG_NAME} in the charm directory");
        return ExitCode::FAILURE;
    };
    let unit = std::env::var("JUJU_UNIT_NAME").unwrap_or_default();
    let hook = std::env::var("JUJU_DISPATCH_PATH").unwrap_or_default();
    let hook = hook.strip_prefix("hooks/").unwrap_or(&hook);
    let line = format!("{unit}\t{hook}\t{}\t{}\n", s.wall_us, s.rss_kb);
    let logged = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log.trim())
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = logged {
        eprintln!("bench wrapper: {e}");
    }
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Unpacks `charm` into `dir` with its binary moved aside and `dispatch` → this program,
/// logging to `log`.
fn wrapped_charm(charm: &Path, dir: &Path, log: &Path) -> Res<PathBuf> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    let ok = Command::new("unzip")
        .arg("-q")
        .arg(charm)
        .arg("-d")
        .arg(dir)
        .status()?
        .success();
    if !ok {
        return Err(format!("unzip {} failed", charm.display()).into());
    }
    std::fs::rename(dir.join("dispatch"), dir.join(REAL))?;
    std::os::unix::fs::symlink(std::env::current_exe()?, dir.join("dispatch"))?;
    std::fs::write(dir.join(LOG_NAME), log.display().to_string())?;
    Ok(std::fs::canonicalize(dir)?)
}

/// The wrapper's log lines for `unit`, in order: (hook, sample).
fn measured(log: &Path, unit: &str) -> Vec<(String, Sample)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            match fields.as_slice() {
                [who, hook, wall, rss] if *who == unit => Some((
                    (*hook).to_owned(),
                    Sample {
                        wall_us: wall.parse().ok()?,
                        rss_kb: rss.parse().ok()?,
                    },
                )),
                _ => None,
            }
        })
        .collect()
}

/// One hook run: the simulator's record and the wrapper's figures for the charm process.
#[derive(Debug, Clone)]
struct Run {
    record: HookRecord,
    sample: Sample,
}

/// Every hook `unit` ran so far, paired with its measurement (k-th record ↔ k-th log line).
fn runs(model: &Model, log: &Path, unit: &str) -> Vec<Run> {
    let records = model.history().iter().filter(|r| r.unit == unit);
    records
        .zip(measured(log, unit))
        .filter(|(r, (h, _))| r.hook == *h)
        .map(|(r, (_, sample))| Run {
            record: r.clone(),
            sample,
        })
        .collect()
}

/// `(key, value)` pairs as the Model API takes them.
fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// API requests of `r` that write (anything but GET).
fn writes(r: &HookRecord) -> usize {
    r.api_requests
        .iter()
        .filter(|q| !q.starts_with("GET"))
        .count()
}

/// Whether `r` patched a StatefulSet.
fn patches_statefulset(r: &HookRecord) -> bool {
    r.api_requests
        .iter()
        .any(|q| q.starts_with("PATCH") && q.contains("/statefulsets/"))
}

/// What the scenario measured, per row label.
#[derive(Default)]
struct Results {
    rows: Vec<(String, Vec<Run>)>,
}

impl Results {
    fn push(&mut self, label: &str, run: Run) {
        if let Some((_, v)) = self.rows.iter_mut().find(|(l, _)| l == label) {
            v.push(run);
        } else {
            self.rows.push((label.to_owned(), vec![run]));
        }
    }
}

/// `current: message` of a unit's workload status.
fn workload_status(model: &Model, unit: &str) -> String {
    let app = unit.split('/').next().unwrap_or_default();
    let s = model.status();
    let w = &s["applications"][app]["units"][unit]["workload-status"];
    format!(
        "{}: {}",
        w["current"].as_str().unwrap_or_default(),
        w["message"].as_str().unwrap_or_default()
    )
}

/// Deploys gateway and client pair `i`, relates them; records the patching hooks.
fn pair(
    model: &mut Model,
    dirs: (&Path, &Path, &Path),
    i: u32,
    uri: &str,
    out: &mut Results,
) -> Res<(String, String)> {
    let (gw, cl) = if i == 0 {
        ("vpnarr".to_owned(), "qbittorrent".to_owned())
    } else {
        (format!("vpnarr{i}"), format!("qbittorrent{i}"))
    };
    let (gw_unit, cl_unit) = (format!("{gw}/0"), format!("{cl}/0"));
    model.workload_http(
        &gw,
        "gluetun",
        8000,
        "/v1/publicip/ip",
        Answer::Http {
            status: 200,
            body: r#"{"public_ip":"198.51.100.4","country":"Netherlands"}"#.to_owned(),
        },
    )?;
    let gw_mark = runs(model, dirs.2, &gw_unit).len();
    model.deploy(
        &dirs.0.display().to_string(),
        Some(&gw),
        true,
        &kv(&[
            ("vpn-provider", "mullvad"),
            ("wireguard-addresses", "10.64.222.21/32"),
            ("cluster-cidrs", "10.1.0.0/16,10.152.183.0/24"),
        ]),
    )?;
    model.grant_secret("vpn-key", &gw)?;
    model.config(&gw, &kv(&[("wireguard-private-key-secret", uri)]))?;
    for r in runs(model, dirs.2, &gw_unit).into_iter().skip(gw_mark) {
        if patches_statefulset(&r.record) {
            let label = format!("gluetun-k8s {} (first configuration)", r.record.hook);
            out.push(&label, r);
        }
    }
    model.deploy(&dirs.1.display().to_string(), Some(&cl), true, &[])?;
    let (gw_mark, cl_mark) = (
        runs(model, dirs.2, &gw_unit).len(),
        runs(model, dirs.2, &cl_unit).len(),
    );
    model.relate(&cl, &gw)?;
    // The first client hook after `relate` that writes the kill switch, ConfigMap and
    // StatefulSet patch: which hook that is depends on when the gateway's data arrives.
    let mut client = runs(model, dirs.2, &cl_unit).into_iter().skip(cl_mark);
    if let Some(r) = client.find(|r| patches_statefulset(&r.record)) {
        let label = format!(
            "qbittorrent-k8s {} (first after relate, patching)",
            r.record.hook
        );
        out.push(&label, r);
    }
    for r in runs(model, dirs.2, &gw_unit).into_iter().skip(gw_mark) {
        if r.record.hook == "vpn-gateway-relation-changed" {
            out.push("gluetun-k8s vpn-gateway-relation-changed", r);
        }
    }
    Ok((gw_unit, cl_unit))
}

/// The charm scenario: pair 0, the steady state, then more pairs for the patching hooks.
/// `between` runs after each steady round (one Python import sample: both are measured under
/// the same machine conditions, which drift on a shared VM).
fn charm_scenario(
    state: &Path,
    charms: (&Path, &Path),
    steady: u32,
    patch_runs: u32,
    between: &mut dyn FnMut() -> Res<()>,
) -> Res<Results> {
    let log = state.join("measure.log");
    let gw_dir = wrapped_charm(charms.0, &state.join("gluetun-k8s"), &log)?;
    let cl_dir = wrapped_charm(charms.1, &state.join("qbittorrent-k8s"), &log)?;
    // The two charm directories to deploy, and the log their wrappers append to.
    let dirs = (gw_dir.as_path(), cl_dir.as_path(), log.as_path());
    eprintln!("bench: starting the test cluster and the model");
    let mut model = Model::new(&state.join("model"), MODEL)?;
    let uri = model.add_secret("vpn-key", &kv(&[("private-key", KEY)]))?;
    let mut out = Results::default();
    let (gw_unit, cl_unit) = pair(&mut model, dirs, 0, &uri, &mut out)?;
    for unit in [&gw_unit, &cl_unit] {
        eprintln!("bench: {unit} is {}", workload_status(&model, unit));
    }
    // Settle: whatever the first update-status still has to do is not the steady state.
    for _ in 0..2 {
        model.update_status()?;
    }
    let (gw_mark, cl_mark) = (
        runs(&model, dirs.2, &gw_unit).len(),
        runs(&model, dirs.2, &cl_unit).len(),
    );
    eprintln!("bench: {steady} steady-state update-status runs");
    for _ in 0..steady {
        model.update_status()?;
        between()?;
    }
    for (unit, mark, label) in [
        (&gw_unit, gw_mark, "gluetun-k8s update-status (steady)"),
        (&cl_unit, cl_mark, "qbittorrent-k8s update-status (steady)"),
    ] {
        for r in runs(&model, dirs.2, unit).into_iter().skip(mark) {
            if r.record.hook == "update-status" {
                out.push(label, r);
            }
        }
    }
    eprintln!("bench: {patch_runs} fresh gateway/client pairs for the patching hooks");
    for i in 1..patch_runs {
        pair(&mut model, dirs, i, &uri, &mut out)?;
    }
    let failed: Vec<String> = model
        .history()
        .iter()
        .filter(|r| r.code != 0)
        .map(|r| format!("{} {} (exit {})", r.unit, r.hook, r.code))
        .collect();
    if !failed.is_empty() {
        eprintln!("bench: WARNING: failed hooks: {}", failed.join(", "));
    }
    drop(model);
    Ok(out)
}

/// A Python interpreter of at least 3.12 (charmarr-lib-vpn requires it): `$BENCH_PYTHON`,
/// then `python3.13`, `python3.12`, `python3` on the PATH, then pyenv's versions.
fn find_python() -> Option<PathBuf> {
    let recent = |p: &Path| {
        Command::new(p)
            .args(["-c", "import sys; sys.exit(sys.version_info < (3, 12))"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut candidates: Vec<PathBuf> = std::env::var_os("BENCH_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    candidates.extend(["python3.13", "python3.12", "python3"].map(PathBuf::from));
    if let Some(home) = std::env::var_os("HOME") {
        let versions = Path::new(&home).join(".pyenv/versions");
        let mut found: Vec<PathBuf> = std::fs::read_dir(versions)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin/python3"))
            .collect();
        found.sort();
        candidates.extend(found.into_iter().rev());
    }
    candidates.into_iter().find(|p| recent(p))
}

/// The cached virtualenv `name` with `packages`: created (pip, PyPI) unless it exists with
/// exactly that package list (recorded in it) and can `import ops`.
fn python_venv(name: &str, packages: &[&str]) -> Res<PathBuf> {
    let venv = charmarr_tests::cache_dir().join(name);
    let python = venv.join("bin/python");
    let wanted = packages.join("\n");
    let stamp = venv.join("bench-packages");
    let imports = |p: &Path| {
        Command::new(p)
            .args(["-c", PY_IMPORT])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let current = std::fs::read_to_string(&stamp).ok();
    if imports(&python) && current.as_deref() == Some(wanted.as_str()) {
        return Ok(venv);
    }
    let base = find_python().ok_or("no Python >= 3.12 found (set BENCH_PYTHON)")?;
    eprintln!(
        "bench: creating {} with {} and pip",
        venv.display(),
        base.display()
    );
    if venv.exists() {
        std::fs::remove_dir_all(&venv)?;
    }
    let ok = Command::new(&base)
        .args(["-m", "venv"])
        .arg(&venv)
        .status()?
        .success()
        && Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(packages)
            .status()?
            .success();
    if !ok || !imports(&python) {
        return Err(format!("could not build the Python virtualenv {}", venv.display()).into());
    }
    std::fs::write(&stamp, wanted)?;
    Ok(venv)
}

/// `program args` once, measured; a non-zero exit is an error.
fn run_once(program: &Path, args: &[&str], scratch: &Path) -> Res<Sample> {
    let os_args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    let (rc, s) = timed(program, &os_args, scratch, true)?;
    if rc != 0 {
        return Err(format!("`{} {args:?}` exited {rc}", program.display()).into());
    }
    Ok(s)
}

/// `program args`, `n` times after one warm-up run.
fn repeat(program: &Path, args: &[&str], n: u32, scratch: &Path) -> Res<Vec<Sample>> {
    run_once(program, args, scratch)?;
    (0..n).map(|_| run_once(program, args, scratch)).collect()
}

/// A Python charm's size, estimated: its virtualenv's site-packages (less pip, setuptools and
/// bytecode caches) as a deflated zip, the way charmcraft packs a charm's `venv/`.
fn python_charm_estimate(venv: &Path, scratch: &Path) -> Res<u64> {
    let lib = venv.join("lib");
    let site = std::fs::read_dir(&lib)?
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir())
        .ok_or("no site-packages in the virtualenv")?;
    let _ = std::fs::remove_file(scratch);
    let ok = Command::new("zip")
        .args(["-q", "-r"])
        .arg(scratch)
        .args([
            ".",
            "-x",
            "pip/*",
            "pip-*",
            "setuptools/*",
            "setuptools-*",
            "_distutils_hack/*",
            "distutils-precedence.pth",
            "*__pycache__*",
        ])
        .current_dir(&site)
        .status()?
        .success();
    if !ok {
        return Err("zip failed".into());
    }
    let packed = std::fs::metadata(scratch)?.len();
    let _ = std::fs::remove_file(scratch);
    Ok(packed)
}

/// Median, min, max, p10, p90 (nearest rank) of `v`.
fn stats(mut v: Vec<u64>) -> [u64; 5] {
    if v.is_empty() {
        return [0; 5];
    }
    v.sort_unstable();
    let rank = |p: usize| v[(p * (v.len() - 1) + 50) / 100];
    [rank(50), v[0], v[v.len() - 1], rank(10), rank(90)]
}

/// Microseconds as milliseconds.
#[allow(clippy::cast_precision_loss)] // figures far below 2^52
fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// KiB as MiB.
#[allow(clippy::cast_precision_loss)]
fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// `a / b` (0 when `b` is 0).
#[allow(clippy::cast_precision_loss)]
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// `median (min–max)`, or the value alone when all are equal.
fn spread(v: Vec<u64>) -> String {
    let [med, lo, hi, ..] = stats(v);
    if lo == hi {
        format!("{med}")
    } else {
        format!("{med} ({lo}–{hi})")
    }
}

/// A row of the main table: label, n, process wall, sim hook wall, RSS, requests/writes.
fn row(t: &mut String, label: &str, samples: &[Sample], records: &[&HookRecord]) {
    let [w, wlo, whi, w10, w90] = stats(samples.iter().map(|s| s.wall_us).collect());
    let [r, rlo, rhi, ..] = stats(samples.iter().map(|s| s.rss_kb).collect());
    let hook = if records.is_empty() {
        "–".to_owned()
    } else {
        let [h, hlo, hhi, ..] = stats(records.iter().map(|r| r.duration_ms).collect());
        format!("{h} ({hlo}–{hhi})")
    };
    let (reqs, wr, tools) = if records.is_empty() {
        ("–".to_owned(), "–".to_owned(), "–".to_owned())
    } else {
        let count = |f: &dyn Fn(&HookRecord) -> usize| {
            spread(records.iter().map(|r| f(r) as u64).collect())
        };
        let logs = count(&|r| {
            r.tool_calls
                .iter()
                .filter(|c| c.argv.first().is_some_and(|a| a == "juju-log"))
                .count()
        });
        (
            count(&|r| r.api_requests.len()),
            count(&writes),
            format!("{} ({logs})", count(&|r| r.tool_calls.len())),
        )
    };
    let _ = writeln!(
        t,
        "| {label} | {} | {:.2} ({:.2}–{:.2}; p10 {:.2}, p90 {:.2}) | {hook} | {:.1} ({:.1}–{:.1}) | {reqs} | {wr} | {tools} |",
        samples.len(),
        ms(w),
        ms(wlo),
        ms(whi),
        ms(w10),
        ms(w90),
        mib(r),
        mib(rlo),
        mib(rhi),
    );
}

/// What the run ran on, as Markdown.
fn machine() -> String {
    let cmd = |c: &str, a: &[&str]| {
        Command::new(c)
            .args(a)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    let nproc = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    // Other work on the machine shows here: the figures are only as quiet as the machine.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "- date: {}\n- CPU: {cpu}, nproc {nproc}\n- kernel: {}\n- load average at the end (1, 5, 15 min): {load}\n- memory (`free -h`):\n\n```\n{}\n```\n",
        cmd("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        cmd("uname", &["-srm"]),
        cmd("free", &["-h"]),
    )
}

/// Everything the report shows.
struct Inputs {
    results: Results,
    startup: Vec<(&'static str, Vec<Sample>)>,
    py_import: Vec<Sample>,
    py_bare: Vec<Sample>,
    py_version: String,
    sizes: [(String, u64); 2],
    /// Per charm: the estimated size of the reference's Python charm.
    py_charm: [u64; 2],
    steady: u32,
    patch_runs: u32,
}

/// The median of `f` over the row `label`.
fn median_of(results: &Results, label: &str, f: fn(&Sample) -> u64) -> u64 {
    results
        .rows
        .iter()
        .find(|(l, _)| l == label)
        .map_or(0, |(_, v)| {
            stats(v.iter().map(|r| f(&r.sample)).collect())[0]
        })
}

#[allow(clippy::too_many_lines)] // one report, top to bottom
fn report(i: &Inputs) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Runs: {} steady-state `update-status` per charm (after 2 settling runs), each round \
         followed by one measured Python import; {} fresh gateway/client pairs for the patching \
         hooks. Times in ms, RSS in MiB: median (min–max).\n",
        i.steady, i.patch_runs
    );
    let _ = writeln!(
        t,
        "| process | n | process wall, ms | sim hook wall, ms | peak RSS, MiB | API requests | \
         API writes | tool calls (of which juju-log) |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|---|---|");
    for (label, runs) in &i.results.rows {
        let samples: Vec<Sample> = runs.iter().map(|r| r.sample).collect();
        let records: Vec<&HookRecord> = runs.iter().map(|r| &r.record).collect();
        row(&mut t, label, &samples, &records);
    }
    for (name, samples) in &i.startup {
        row(
            &mut t,
            &format!("{name} binary start-up only (`--version`, no hook)"),
            samples,
            &[],
        );
    }
    row(
        &mut t,
        &format!("Python {}: `{PY_IMPORT}`", i.py_version),
        &i.py_import,
        &[],
    );
    row(
        &mut t,
        &format!("Python {}: interpreter alone (`pass`)", i.py_version),
        &i.py_bare,
        &[],
    );
    let _ = writeln!(t, "\n| artifact | size, MiB |\n|---|---|");
    for (name, size) in &i.sizes {
        let _ = writeln!(t, "| {name} | {:.2} |", mib(size / 1024));
    }
    for ((charm, _), size) in PY_CHARM_DEPS.iter().zip(i.py_charm) {
        let _ = writeln!(
            t,
            "| Python {charm} estimate: deflated zip of a virtualenv with the reference charm's \
             declared dependencies (no pip, no bytecode; its own code, charm libraries and \
             bundled binaries not counted) | {:.2} |",
            mib(size / 1024)
        );
    }
    let py_wall = stats(i.py_import.iter().map(|s| s.wall_us).collect())[0];
    let py_rss = stats(i.py_import.iter().map(|s| s.rss_kb).collect())[0];
    let _ = writeln!(
        t,
        "\n| target | charm | measured (Python ÷ Rust) | met |\n|---|---|---|---|"
    );
    let yes = |ok: bool| if ok { "yes" } else { "**no**" };
    for (charm, size, py_charm) in [
        ("gluetun-k8s", i.sizes[0].1, i.py_charm[0]),
        ("qbittorrent-k8s", i.sizes[1].1, i.py_charm[1]),
    ] {
        let label = format!("{charm} update-status (steady)");
        let w = median_of(&i.results, &label, |s| s.wall_us);
        let r = median_of(&i.results, &label, |s| s.rss_kb);
        let (fw, fr, fs) = (ratio(py_wall, w), ratio(py_rss, r), ratio(py_charm, size));
        let _ = writeln!(
            t,
            "| steady hook ≥ 30× faster than the Python import | {charm} | {fw:.1}× | {} |",
            yes(fw >= 30.0)
        );
        let _ = writeln!(
            t,
            "| peak RSS ≤ 1/10 of the Python import's | {charm} | {fr:.1}× | {} |",
            yes(fr >= 10.0)
        );
        let _ = writeln!(
            t,
            "| `.charm` ≤ 1/5 of a Python charm (estimate) | {charm} | {fs:.2}× | {} |",
            yes(fs >= 5.0)
        );
    }
    t
}

/// Replaces what lies between the markers in `file` with `body`.
fn record(file: &Path, body: &str) -> Res<()> {
    const BEGIN: &str = "<!-- bench:begin -->";
    const END: &str = "<!-- bench:end -->";
    let text = std::fs::read_to_string(file)?;
    let (Some(a), Some(b)) = (text.find(BEGIN), text.find(END)) else {
        return Err(format!("{}: no {BEGIN} … {END} markers", file.display()).into());
    };
    let new = format!("{}{BEGIN}\n{body}\n{}", &text[..a], &text[b..]);
    std::fs::write(file, new)?;
    Ok(())
}

/// The command line.
struct Args {
    gateway: PathBuf,
    client: PathBuf,
    steady: u32,
    patch_runs: u32,
    state: PathBuf,
    record: Option<PathBuf>,
}

/// The usage line.
const USAGE: &str = "usage: bench --gateway CHARM --client CHARM [--runs N] [--patch-runs M] \
                     [--state DIR] [--record FILE]";

/// Parses the command line.
fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut gateway, mut client, mut record) = (None, None, None);
    let (mut steady, mut patch_runs) = (20, 5);
    let mut state = PathBuf::from("build/bench-state");
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(USAGE)?;
        let number = |v: &str| v.parse::<u32>().ok().filter(|n| *n > 0).ok_or(USAGE);
        match flag.as_str() {
            "--gateway" => gateway = Some(PathBuf::from(value)),
            "--client" => client = Some(PathBuf::from(value)),
            "--runs" => steady = number(&value)?,
            "--patch-runs" => patch_runs = number(&value)?,
            "--state" => state = PathBuf::from(value),
            "--record" => record = Some(PathBuf::from(value)),
            _ => return Err(USAGE.to_owned()),
        }
    }
    Ok(Args {
        gateway: gateway.ok_or(USAGE)?,
        client: client.ok_or(USAGE)?,
        steady,
        patch_runs,
        state,
        record,
    })
}

/// The whole benchmark: Python baseline, charm scenario, start-up floor, report.
fn bench(a: &Args) -> Res<()> {
    if !Path::new(TIME).is_file() {
        return Err(format!("{TIME} is missing: apt-get install time").into());
    }
    let sizes = [
        (
            "gluetun-k8s_amd64.charm".to_owned(),
            std::fs::metadata(&a.gateway)?.len(),
        ),
        (
            "qbittorrent-k8s_amd64.charm".to_owned(),
            std::fs::metadata(&a.client)?.len(),
        ),
    ];
    if a.state.exists() {
        std::fs::remove_dir_all(&a.state)?;
    }
    std::fs::create_dir_all(&a.state)?;
    let state = std::fs::canonicalize(&a.state)?;
    let gateway = std::fs::canonicalize(&a.gateway)?;
    let client = std::fs::canonicalize(&a.client)?;
    let venv = python_venv("bench-py-venv", &PY_PACKAGES)?;
    let python = venv.join("bin/python");
    let py_version = Command::new(&python)
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .trim_start_matches("Python ")
                .to_owned()
        })
        .unwrap_or_default();
    let scratch = state.join("time.out");
    eprintln!("bench: Python baseline, {} runs each", a.steady);
    // One warm-up import now; the measured ones alternate with the steady hooks below.
    run_once(&python, &["-c", PY_IMPORT], &scratch)?;
    let py_bare = repeat(&python, &["-c", "pass"], a.steady, &scratch)?;
    let mut py_charm = [0; 2];
    for (size, (charm, deps)) in py_charm.iter_mut().zip(PY_CHARM_DEPS) {
        let venv = python_venv(&format!("bench-py-{charm}"), deps)?;
        *size = python_charm_estimate(&venv, &state.join("py-charm.zip"))?;
    }
    let mut py_import = Vec::new();
    let mut import_once = || -> Res<()> {
        py_import.push(run_once(&python, &["-c", PY_IMPORT], &scratch)?);
        Ok(())
    };
    let results = charm_scenario(
        &state,
        (&gateway, &client),
        a.steady,
        a.patch_runs,
        &mut import_once,
    )?;
    // The floor: each binary started outside Juju (`--version`), nothing else.
    let mut startup = Vec::new();
    for name in ["gluetun-k8s", "qbittorrent-k8s"] {
        let bin = state.join(name).join(REAL);
        startup.push((name, repeat(&bin, &["--version"], a.steady, &scratch)?));
    }
    let inputs = Inputs {
        results,
        startup,
        py_import,
        py_bare,
        py_version,
        sizes,
        py_charm,
        steady: a.steady,
        patch_runs: a.patch_runs,
    };
    let table = report(&inputs);
    println!("{table}");
    if let Some(file) = &a.record {
        let body = format!("### Latest run\n\n{}\n{table}", machine());
        record(file, &body)?;
        eprintln!("bench: recorded in {}", file.display());
    }
    Ok(())
}

/// Wrapper mode when started as `dispatch`, else the driver.
fn main() -> ExitCode {
    let me = std::env::args_os().next().unwrap_or_default();
    if Path::new(&me).file_name() == Some(OsStr::new("dispatch")) {
        return wrap();
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    match bench(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}
