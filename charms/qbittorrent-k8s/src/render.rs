//! `qbittorrent-k8s render`: the Kubernetes objects the charm would leave in the cluster for
//! given inputs, without touching anything. Prints ONE JSON object `{"objects": [...]}`:
//! with `--gateway-data` the kill-switch NetworkPolicy (and the CiliumNetworkPolicy with
//! `--cilium`), the client ConfigMap and the patched StatefulSet; without it, the StatefulSet
//! with our routing removed. Invalid gateway data prints nothing on stdout, names the field
//! on stderr and exits non-zero.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use vpn_gateway_iface::client::{client_additions, client_config_map, client_owned_names};
use vpn_gateway_iface::killswitch::{cilium_policy, network_policy};
use vpn_gateway_iface::{
    AppName, EmulateError, InvalidField, Namespace, Owner, Problem, ProviderData, StatefulSetJson,
};

use crate::plan::FIELD_MANAGER;

/// Largest input file read (a StatefulSet or a databag is far smaller).
pub const MAX_INPUT_BYTES: u64 = 4 * 1024 * 1024;

/// The CLI's commands.
#[derive(Debug, argh::FromArgs)]
#[argh(subcommand)]
pub enum Command {
    /// `render`.
    Render(RenderArgs),
}

/// Print the Kubernetes objects the charm would leave in the cluster, as one JSON object.
#[derive(Debug, Clone, argh::FromArgs)]
#[argh(subcommand, name = "render")]
pub struct RenderArgs {
    /// the application name (also the StatefulSet's)
    #[argh(option)]
    pub app: String,
    /// the model name (the namespace)
    #[argh(option)]
    pub model: String,
    /// the application's StatefulSet as the API server holds it, as JSON
    /// (`kubectl get statefulset NAME -o json`)
    #[argh(option)]
    pub statefulset: PathBuf,
    /// the gateway's `config` databag value (a JSON object)
    #[argh(option)]
    pub gateway_data: Option<PathBuf>,
    /// render as if Cilium's CRD existed (adds the CiliumNetworkPolicy)
    #[argh(switch)]
    pub cilium: bool,
}

/// Why `render` printed nothing.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// An input file could not be read.
    #[error("cannot read {path}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An input file is larger than [`MAX_INPUT_BYTES`].
    #[error("{path} is larger than {MAX_INPUT_BYTES} bytes")]
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
    /// `--app` or `--model` is not a valid name.
    #[error("invalid --{option}")]
    InvalidName {
        /// `app` or `model`.
        option: &'static str,
        /// Why.
        #[source]
        source: InvalidField,
    },
    /// The gateway data is invalid (names the field).
    #[error("invalid gateway data")]
    InvalidGatewayData(#[source] InvalidField),
    /// The patched StatefulSet could not be computed.
    #[error("cannot compute the patched StatefulSet")]
    Emulate(#[source] EmulateError),
    /// Printing failed.
    #[error("cannot print the objects")]
    Print(#[source] serde_json::Error),
}

/// Runs a CLI command: prints the objects on success, nothing otherwise.
pub fn run(command: Command) -> Result<(), RenderError> {
    match command {
        Command::Render(args) => {
            let objects = render(&args)?;
            let text = serde_json::to_string_pretty(&objects).map_err(RenderError::Print)?;
            println!("{text}");
            Ok(())
        }
    }
}

fn read(path: &Path) -> Result<String, RenderError> {
    let err = |source| RenderError::ReadFile {
        path: path.to_owned(),
        source,
    };
    let size = std::fs::metadata(path).map_err(err)?.len();
    if size > MAX_INPUT_BYTES {
        return Err(RenderError::TooLarge {
            path: path.to_owned(),
        });
    }
    std::fs::read_to_string(path).map_err(err)
}

/// The objects, as `{"objects": [...]}`.
pub fn render(args: &RenderArgs) -> Result<Value, RenderError> {
    let app = AppName::parse(&args.app).map_err(|p| RenderError::InvalidName {
        option: "app",
        source: invalid("app", p),
    })?;
    let namespace = Namespace::parse(&args.model).map_err(|p| RenderError::InvalidName {
        option: "model",
        source: invalid("model", p),
    })?;
    // Validate the gateway data before anything else is parsed: invalid data must name its
    // field whatever else is wrong.
    let data = match &args.gateway_data {
        Some(path) => Some(
            ProviderData::from_databag(&read(path)?).map_err(RenderError::InvalidGatewayData)?,
        ),
        None => None,
    };
    let text = read(&args.statefulset)?;
    let statefulset: StatefulSetJson =
        juju_charm::k8s::parse_manifest(&text).map_err(|source| RenderError::ParseStatefulSet {
            path: args.statefulset.clone(),
            source,
        })?;
    let owner = Owner {
        app: app.clone(),
        namespace,
        field_manager: FIELD_MANAGER,
    };
    let mut objects = Vec::new();
    if let Some(data) = data {
        objects.push(json_of(&network_policy(&owner, &data.cluster_cidrs))?);
        if args.cilium {
            objects.push(cilium_policy(&owner));
        }
        objects.push(json_of(&client_config_map(&owner, &data))?);
        let patched = client_additions(&app, &data)
            .emulate_add(&statefulset)
            .map_err(RenderError::Emulate)?;
        objects.push(json_of(&patched)?);
    } else {
        let cleaned = client_owned_names()
            .emulate_remove(&statefulset)
            .map_err(RenderError::Emulate)?;
        objects.push(json_of(&cleaned)?);
    }
    Ok(json!({ "objects": objects }))
}

fn invalid(field: &'static str, problem: Problem) -> InvalidField {
    InvalidField { field, problem }
}

fn json_of<T: serde::Serialize>(value: &T) -> Result<Value, RenderError> {
    serde_json::to_value(value).map_err(RenderError::Print)
}
