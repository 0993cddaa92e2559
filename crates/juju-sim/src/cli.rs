//! The `juju-sim` command line: `juju-sim [--state DIR] VERB ...`, mirroring the `juju`
//! commands a scenario needs. State lives in DIR (default `./.juju-sim`); the test cluster is
//! started (detached, in `DIR/cluster`) by the first command that needs it and keeps running
//! until `down`. `status` and `debug-log` only read the state file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::model::{ClusterMode, Model, ModelError, SimState};
use crate::workload::Answer;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "juju-sim",
    version,
    about = "A simulated Juju model on a real kube-apiserver"
)]
pub struct Cli {
    /// State directory.
    #[arg(long, global = true, default_value = ".juju-sim")]
    pub state: PathBuf,
    /// Model (namespace) name, used when the state directory is new.
    #[arg(long, global = true, default_value = "juju-sim")]
    pub model: String,
    /// What to do.
    #[command(subcommand)]
    pub verb: Verb,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Deploy a charm (workspace charm name, .charm file or charm directory).
    Deploy {
        /// The charm.
        charm: String,
        /// The application name.
        app: Option<String>,
        /// Grant cluster-admin (`--trust`).
        #[arg(long)]
        trust: bool,
        /// Config `KEY=VALUE` (repeatable).
        #[arg(long = "config")]
        config: Vec<String>,
    },
    /// Set config values.
    Config {
        /// The application.
        app: String,
        /// `KEY=VALUE`... (an empty value resets to the default).
        values: Vec<String>,
    },
    /// Grant the application cluster-admin.
    Trust {
        /// The application.
        app: String,
    },
    /// Add a user secret; prints its URI.
    AddSecret {
        /// The secret's name.
        name: String,
        /// `KEY=VALUE`...
        values: Vec<String>,
    },
    /// Update a user secret (new revision).
    UpdateSecret {
        /// The secret's name.
        name: String,
        /// `KEY=VALUE`...
        values: Vec<String>,
    },
    /// Grant a user secret to an application.
    GrantSecret {
        /// The secret's name.
        name: String,
        /// The application.
        app: String,
    },
    /// Relate two applications.
    #[command(alias = "integrate")]
    Relate {
        /// `APP[:ENDPOINT]`.
        a: String,
        /// `APP[:ENDPOINT]`.
        b: String,
    },
    /// Remove a relation.
    RemoveRelation {
        /// `APP[:ENDPOINT]`.
        a: String,
        /// `APP[:ENDPOINT]`.
        b: String,
    },
    /// Scale an application.
    ScaleApplication {
        /// The application.
        app: String,
        /// Units.
        n: u32,
    },
    /// Refresh the charm (Juju's checks, then the charm is swapped, Juju re-applies its
    /// template and the pods roll); without `--path`/`--switch` the charm is read again.
    Refresh {
        /// The application.
        app: String,
        /// The new charm (workspace charm name, .charm file or charm directory).
        #[arg(long)]
        path: Option<String>,
        /// Same as `--path` for a local charm (Juju's local refresher; the name must match).
        #[arg(long)]
        switch: Option<String>,
    },
    /// Run an action.
    Run {
        /// The unit (`app/0`).
        unit: String,
        /// The action.
        action: String,
        /// `KEY=VALUE` parameters.
        params: Vec<String>,
    },
    /// Run update-status on every unit.
    UpdateStatus,
    /// Show the model.
    Status {
        /// Show relations.
        #[arg(long)]
        relations: bool,
        /// `json` or `tabular`.
        #[arg(long, default_value = "tabular")]
        format: String,
    },
    /// kubectl against the test cluster as admin (namespace: the model).
    Kubectl {
        /// kubectl's arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Arm (or clear) a fault on an application's API traffic.
    Fault {
        /// The application.
        app: String,
        /// Verb to match (get, list, create, update, patch, delete).
        #[arg(long)]
        verb: Option<String>,
        /// Resource to match (`statefulsets`, `configmaps`, ...).
        #[arg(long)]
        resource: Option<String>,
        /// Object name to match.
        #[arg(long)]
        name: Option<String>,
        /// Answer with this HTTP status.
        #[arg(long)]
        status: Option<u16>,
        /// Delay the request by this many milliseconds.
        #[arg(long)]
        delay_ms: Option<u64>,
        /// Drop the connection.
        #[arg(long)]
        drop: bool,
        /// For this many matching requests (default: all).
        #[arg(long)]
        count: Option<u32>,
        /// Remove the application's faults.
        #[arg(long)]
        clear: bool,
    },
    /// Set a workload endpoint's answer.
    WorkloadHttp {
        /// The application.
        app: String,
        /// The container.
        container: String,
        /// The path (`/v1/publicip/ip`).
        path: String,
        /// The port inside the pod.
        #[arg(long, default_value_t = 8000)]
        port: u16,
        /// HTTP status.
        #[arg(long, default_value_t = 200)]
        status: u16,
        /// Body.
        #[arg(long, default_value = "")]
        body: String,
        /// Close connections without answering.
        #[arg(long)]
        down: bool,
    },
    /// Show a unit container's Pebble (plan, services) as JSON.
    Pebble {
        /// The unit (`app/0`).
        unit: String,
        /// The container.
        container: String,
    },
    /// Set a Pebble check of a unit's container up or down.
    PebbleCheck {
        /// The unit (`app/0`).
        unit: String,
        /// The container.
        container: String,
        /// The check.
        check: String,
        /// `up` or `down`.
        #[arg(value_name = "STATE")]
        health: String,
    },
    /// Every hook run: exit code, duration, tool calls, API requests.
    DebugLog,
    /// Run commands from a file, one per line (`#` comments).
    Script {
        /// The file.
        file: PathBuf,
    },
    /// Run the pods' pod-gateway containers from now on (docs/adr/0045), with pod-gateway's
    /// image built from its source tree DIR (its `bin/` and `config/`); kept in the state.
    RunContainers {
        /// pod-gateway's source tree.
        dir: PathBuf,
    },
    /// Connect from a unit's pod to the stand-in internet behind the gateway's tunnel and
    /// say what the internet saw and what left the pod's eth0 (needs run-containers).
    Probe {
        /// The unit (`app/0`).
        unit: String,
        /// The internet host's port.
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Stop the test cluster and everything else; keep nothing running.
    Down,
}

/// Errors of the CLI.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A model operation failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// Reading a file failed.
    #[error("reading {path}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

fn kv(items: &[String]) -> Result<Vec<(String, String)>, CliError> {
    items
        .iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| CliError::Usage(format!("expected KEY=VALUE, got {s:?}")))
        })
        .collect()
}

fn read_state(dir: &Path) -> Result<SimState, CliError> {
    let path = dir.join("state.json");
    let text = std::fs::read_to_string(&path).map_err(|source| CliError::Read {
        path: path.display().to_string(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| CliError::Usage(format!("bad state file: {e}")))
}

/// Splits a script line like a shell would for simple quoting ('...' and "...").
pub fn split_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut has = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => {
                quote = Some(c);
                has = true;
            }
            (None, c) if c.is_whitespace() => {
                if has || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            (_, c) => cur.push(c),
        }
    }
    if has || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Runs the command line; prints results and errors; returns the exit code.
pub fn main_with(cli: Cli) -> ExitCode {
    let mut model = None;
    match run(&cli.state, &cli.model, cli.verb, &mut model) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = format!("ERROR {e}");
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(": ");
                msg.push_str(&s.to_string());
                src = s.source();
            }
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}

fn open<'m>(
    dir: &Path,
    name: &str,
    model: &'m mut Option<Model>,
) -> Result<&'m mut Model, CliError> {
    if model.is_none() {
        *model = Some(Model::open(dir, name, ClusterMode::Persistent)?);
    }
    model
        .as_mut()
        .ok_or_else(|| CliError::Usage("model could not be opened".into()))
}

#[allow(clippy::too_many_lines)]
fn run(dir: &Path, name: &str, verb: Verb, model: &mut Option<Model>) -> Result<(), CliError> {
    let mut stdout = std::io::stdout();
    match verb {
        Verb::Deploy {
            charm,
            app,
            trust,
            config,
        } => open(dir, name, model)?.deploy(&charm, app.as_deref(), trust, &kv(&config)?)?,
        Verb::Config { app, values } => open(dir, name, model)?.config(&app, &kv(&values)?)?,
        Verb::Trust { app } => open(dir, name, model)?.trust(&app)?,
        Verb::AddSecret { name: n, values } => {
            let uri = open(dir, name, model)?.add_secret(&n, &kv(&values)?)?;
            let _ = writeln!(stdout, "{uri}");
        }
        Verb::UpdateSecret { name: n, values } => {
            open(dir, name, model)?.update_secret(&n, &kv(&values)?)?;
        }
        Verb::GrantSecret { name: n, app } => open(dir, name, model)?.grant_secret(&n, &app)?,
        Verb::Relate { a, b } => open(dir, name, model)?.relate(&a, &b)?,
        Verb::RemoveRelation { a, b } => open(dir, name, model)?.remove_relation(&a, &b)?,
        Verb::ScaleApplication { app, n } => open(dir, name, model)?.scale(&app, n)?,
        Verb::Refresh { app, path, switch } => match (path, switch) {
            (Some(_), Some(_)) => {
                return Err(CliError::Usage(
                    "--switch and --path are mutually exclusive".into(),
                ));
            }
            (Some(charm), None) | (None, Some(charm)) => {
                open(dir, name, model)?.refresh_path(&app, &charm)?;
            }
            (None, None) => open(dir, name, model)?.refresh(&app)?,
        },
        Verb::Run {
            unit,
            action,
            params,
        } => {
            let out = open(dir, name, model)?.run_action(&unit, &action, &kv(&params)?)?;
            let mut text = String::new();
            for line in &out.log {
                text.push_str(line);
                text.push('\n');
            }
            if !out.results.is_empty() {
                text.push_str(&crate::status::yamlish(&serde_json::Value::Object(
                    out.results.clone(),
                )));
            }
            let _ = write!(stdout, "{text}");
            if out.status != "completed" {
                return Err(CliError::Usage(format!(
                    "action failed: {}",
                    out.message.unwrap_or_default()
                )));
            }
        }
        Verb::UpdateStatus => open(dir, name, model)?.update_status()?,
        Verb::Status { relations, format } => {
            let st = match model.as_ref() {
                Some(m) => m.state().clone(),
                None => read_state(dir)?,
            };
            if format == "json" {
                let _ = writeln!(stdout, "{}", crate::status::json(&st));
            } else {
                let _ = write!(stdout, "{}", crate::status::table(&st, relations));
            }
        }
        Verb::Kubectl { args } => {
            let m = open(dir, name, model)?;
            let mut cmd = std::process::Command::new("kubectl");
            cmd.arg("--kubeconfig").arg(m.admin_kubeconfig());
            let has_ns = args.iter().any(|a| {
                a == "-n" || a.starts_with("--namespace") || a == "-A" || a == "--all-namespaces"
            });
            if !has_ns {
                cmd.args(["-n", m.name()]);
            }
            let status = cmd.args(&args).status().map_err(|source| CliError::Read {
                path: "kubectl".into(),
                source,
            })?;
            if !status.success() {
                return Err(CliError::Usage(format!("kubectl exited with {status}")));
            }
        }
        Verb::Fault {
            app,
            verb,
            resource,
            name: obj,
            status,
            delay_ms,
            drop,
            count,
            clear,
        } => {
            let m = open(dir, name, model)?;
            if clear {
                m.clear_faults(&app)?;
                return Ok(());
            }
            let action = match (status, delay_ms, drop) {
                (Some(code), None, false) => kube_testbed::Action::Status { code },
                (None, Some(millis), false) => kube_testbed::Action::Delay { millis },
                (None, None, true) => kube_testbed::Action::Drop,
                _ => {
                    return Err(CliError::Usage(
                        "give exactly one of --status, --delay-ms, --drop".into(),
                    ));
                }
            };
            let mut rule = kube_testbed::Rule::new(action);
            if let Some(v) = verb {
                let v: kube_testbed::Verb = serde_json::from_value(serde_json::json!(v))
                    .map_err(|e| CliError::Usage(format!("bad --verb: {e}")))?;
                rule = rule.verb(v);
            }
            if let Some(r) = resource {
                rule = rule.resource(&r);
            }
            if let Some(n) = obj {
                rule = rule.name(&n);
            }
            rule = rule.namespace(m.name());
            if let Some(c) = count {
                rule = rule.times(c);
            }
            m.fault(&app, rule)?;
        }
        Verb::WorkloadHttp {
            app,
            container,
            path,
            port,
            status,
            body,
            down,
        } => {
            let answer = if down {
                Answer::Down
            } else {
                Answer::Http { status, body }
            };
            open(dir, name, model)?.workload_http(&app, &container, port, &path, answer)?;
        }
        Verb::Pebble { unit, container } => {
            let m = open(dir, name, model)?;
            let p = m.pebble(&unit, &container).ok_or_else(|| {
                CliError::Usage(format!("no Pebble for {unit} container {container}"))
            })?;
            let _ = writeln!(stdout, "{p:#}");
        }
        Verb::PebbleCheck {
            unit,
            container,
            check,
            health,
        } => {
            let up = match health.as_str() {
                "up" => true,
                "down" => false,
                _ => return Err(CliError::Usage("state must be up or down".into())),
            };
            if !open(dir, name, model)?.set_pebble_check(&unit, &container, &check, up) {
                return Err(CliError::Usage(format!(
                    "no Pebble for {unit} container {container}"
                )));
            }
        }
        Verb::DebugLog => {
            let st = match model.as_ref() {
                Some(m) => m.state().clone(),
                None => read_state(dir)?,
            };
            let _ = write!(stdout, "{}", crate::status::debug_log(&st));
        }
        Verb::Script { file } => {
            let text = std::fs::read_to_string(&file).map_err(|source| CliError::Read {
                path: file.display().to_string(),
                source,
            })?;
            for line in text.lines() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let _ = writeln!(stdout, "$ {line}");
                let mut argv = vec!["juju-sim".to_owned()];
                argv.extend(split_line(line));
                let sub = Cli::try_parse_from(&argv)
                    .map_err(|e| CliError::Usage(format!("{line}: {e}")))?;
                if matches!(sub.verb, Verb::Script { .. }) {
                    return Err(CliError::Usage("scripts cannot nest".into()));
                }
                run(dir, name, sub.verb, model)?;
            }
        }
        Verb::RunContainers { dir: src } => open(dir, name, model)?.run_containers(&src)?,
        Verb::Probe { unit, port } => {
            let probe = open(dir, name, model)?.probe(&unit, port)?;
            let _ = writeln!(stdout, "{unit}: {probe}");
        }
        Verb::Down => {
            if let Some(m) = model.take() {
                let stopped = m.down()?;
                let _ = writeln!(stdout, "stopped: {}", stopped.join(", "));
            } else {
                let stopped = kube_testbed::stop_dir(&dir.join("cluster"));
                let _ = writeln!(stdout, "stopped: {}", stopped.join(", "));
            }
        }
    }
    Ok(())
}
