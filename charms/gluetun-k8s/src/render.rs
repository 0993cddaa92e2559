//! `gluetun-k8s render`: what the charm would leave in the cluster and publish, for given
//! inputs, without touching anything. Prints ONE JSON object
//! `{"objects": [ConfigMap, StatefulSet], "relation_data": {"config": "<json>"}}`; on invalid
//! input prints nothing on stdout and the reason on stderr (non-zero exit).
//!
//! The StatefulSet is the given one after our strategic-merge patch, emulated
//! ([`PodAdditions::emulate_add`]); unchanged when it already holds our additions. The
//! WireGuard key secret is not needed: when `wireguard-private-key-secret` is absent from the
//! config file a placeholder reference stands in for it (it affects nothing rendered).

use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use vpn_gateway_iface::gateway::{GLUETUN_CONTAINER, gateway_additions, gateway_config_map};
use vpn_gateway_iface::{AppName, EmulateError, InvalidField, Namespace, Problem, StatefulSetJson};

use crate::config::{ConfigError, GluetunConfig};
use crate::plan::{KEY_OPTION, owner, provider_data, vxlan};
use crate::workload::Health;

/// Largest input file read.
const MAX_INPUT: u64 = 4 * 1024 * 1024;
/// Stands in for the secret reference when the config file has none.
const PLACEHOLDER_SECRET: &str = "secret:render-placeholder";

/// The CLI's commands.
#[derive(Debug, argh::FromArgs)]
#[argh(subcommand)]
pub enum Command {
    /// `render`.
    Render(RenderArgs),
}

/// Print the Kubernetes objects and relation data the charm would write (no I/O besides
/// reading the given files).
#[derive(Debug, Clone, argh::FromArgs)]
#[argh(subcommand, name = "render")]
pub struct RenderArgs {
    /// the application name
    #[argh(option)]
    pub app: String,
    /// the model (namespace) name
    #[argh(option)]
    pub model: String,
    /// the current StatefulSet as JSON (`kubectl get statefulset NAME -o json`)
    #[argh(option)]
    pub statefulset: PathBuf,
    /// the charm config as a JSON object keyed by option name
    #[argh(option)]
    pub config: PathBuf,
    /// clusterIP of the cluster DNS Service
    #[argh(option)]
    pub cluster_dns_ip: IpAddr,
    /// render as if the health check found the VPN connected
    #[argh(switch)]
    pub vpn_connected: bool,
    /// the VPN exit IP (requires --vpn-connected)
    #[argh(option)]
    pub external_ip: Option<IpAddr>,
}

/// Why `render` refused its input.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// `--external-ip` without `--vpn-connected`.
    #[error("--external-ip requires --vpn-connected")]
    ExternalIpWithoutConnected,
    /// `--app` is not a Juju application name.
    #[error("--app {name:?}")]
    App {
        /// The name.
        name: String,
        /// Why.
        #[source]
        source: Problem,
    },
    /// `--model` is not a namespace name.
    #[error("--model {name:?}")]
    Model {
        /// The name.
        name: String,
        /// Why.
        #[source]
        source: Problem,
    },
    /// A file could not be read.
    #[error("cannot read {path}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file is larger than we read.
    #[error("{path} is larger than {MAX_INPUT} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The StatefulSet file is not the JSON of a StatefulSet.
    #[error("{path} is not a StatefulSet in JSON")]
    ParseStatefulSet {
        /// The file.
        path: PathBuf,
        /// Why it is not one.
        #[source]
        source: serde_json::Error,
    },
    /// The StatefulSet is not ours.
    #[error("the StatefulSet is named {found:?}, not after the application {app:?}")]
    StatefulSetName {
        /// Its name.
        found: String,
        /// `--app`.
        app: String,
    },
    /// The StatefulSet has no pod template or no `gluetun` container.
    #[error("the StatefulSet has no {GLUETUN_CONTAINER:?} container in its pod template")]
    NoGluetunContainer,
    /// The config file is not JSON.
    #[error("{path} is not JSON")]
    ParseConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The config file is not a JSON object.
    #[error("{path} must hold a JSON object keyed by option name")]
    ConfigNotObject {
        /// The file.
        path: PathBuf,
    },
    /// An option is invalid.
    #[error("invalid config")]
    Config(#[source] ConfigError),
    /// The patch could not be emulated.
    #[error("cannot compute the patched StatefulSet")]
    Emulate(#[source] EmulateError),
    /// The provider data cannot be built from these inputs.
    #[error("cannot build the relation data")]
    ProviderData(#[source] InvalidField),
    /// Writing to stdout failed.
    #[error("cannot write to stdout")]
    Stdout(#[source] std::io::Error),
}

/// Runs a CLI command.
pub fn run(command: Command) -> Result<(), RenderError> {
    match command {
        Command::Render(args) => {
            // Rendered completely before anything is printed: an error prints nothing.
            let mut text = render(&args)?.to_string();
            text.push('\n');
            std::io::stdout()
                .lock()
                .write_all(text.as_bytes())
                .map_err(RenderError::Stdout)
        }
    }
}

/// The JSON object `render` prints.
pub fn render(args: &RenderArgs) -> Result<Value, RenderError> {
    if args.external_ip.is_some() && !args.vpn_connected {
        return Err(RenderError::ExternalIpWithoutConnected);
    }
    let app = AppName::parse(&args.app).map_err(|source| RenderError::App {
        name: args.app.clone(),
        source,
    })?;
    let model = Namespace::parse(&args.model).map_err(|source| RenderError::Model {
        name: args.model.clone(),
        source,
    })?;
    let statefulset = read_statefulset(&args.statefulset, &app)?;
    let config = read_config(&args.config)?;

    let vxlan = vxlan(&config);
    let config_map = gateway_config_map(&owner(&app, &model), &vxlan);
    let additions = gateway_additions(&app, &vxlan);
    let patched = if additions.is_held_by(&statefulset) {
        statefulset
    } else {
        additions
            .emulate_add(&statefulset)
            .map_err(RenderError::Emulate)?
    };
    let health = match (args.vpn_connected, args.external_ip) {
        (true, Some(ip)) => Health::Connected(ip),
        _ => Health::NotConnected(String::new()),
    };
    let mut data = provider_data(&app, &model, &config, args.cluster_dns_ip, &health)
        .map_err(RenderError::ProviderData)?;
    // Connected without a known exit IP: the flag wins, the IP stays null.
    data.vpn_connected = args.vpn_connected;
    Ok(json!({
        "objects": [config_map, patched],
        "relation_data": { "config": data.to_databag() },
    }))
}

fn read_bounded(path: &Path) -> Result<String, RenderError> {
    let read_err = |source| RenderError::ReadFile {
        path: path.to_owned(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read_err)?.len();
    if len > MAX_INPUT {
        return Err(RenderError::TooLarge {
            path: path.to_owned(),
        });
    }
    std::fs::read_to_string(path).map_err(read_err)
}

fn read_statefulset(path: &Path, app: &AppName) -> Result<StatefulSetJson, RenderError> {
    let text = read_bounded(path)?;
    let statefulset: StatefulSetJson =
        juju_charm::k8s::parse_manifest(&text).map_err(|source| RenderError::ParseStatefulSet {
            path: path.to_owned(),
            source,
        })?;
    if let Some(name) = statefulset.name()
        && name != app.as_str()
    {
        return Err(RenderError::StatefulSetName {
            found: name.to_owned(),
            app: app.to_string(),
        });
    }
    if !statefulset.has_container(GLUETUN_CONTAINER) {
        return Err(RenderError::NoGluetunContainer);
    }
    Ok(statefulset)
}

fn read_config(path: &Path) -> Result<GluetunConfig, RenderError> {
    let text = read_bounded(path)?;
    let value: Value = serde_json::from_str(&text).map_err(|source| RenderError::ParseConfig {
        path: path.to_owned(),
        source,
    })?;
    let Value::Object(mut raw) = value else {
        return Err(RenderError::ConfigNotObject {
            path: path.to_owned(),
        });
    };
    let unset = |raw: &Map<String, Value>| match raw.get(KEY_OPTION) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    };
    if unset(&raw) {
        raw.insert(
            KEY_OPTION.to_owned(),
            Value::String(PLACEHOLDER_SECRET.into()),
        );
    }
    GluetunConfig::parse(&raw).map_err(RenderError::Config)
}
