//! `gluetun-k8s render`: what the charm would leave in the cluster and publish, for given
//! inputs, without touching anything. It builds the hook's [`Inputs`] from its files and
//! prints what [`crate::plan::plan`] writes, as ONE JSON object
//! `{"objects": [ConfigMap, StatefulSet], "relation_data": {"config": "<json>"},
//! "pebble_layer": <the gluetun layer>}`; on invalid input it prints nothing on stdout and the
//! reason on stderr (non-zero exit). The layer shows the service's environment, which holds
//! no secret (the keys are files).
//!
//! The StatefulSet is the given one after the plan's strategic-merge patch, emulated
//! ([`vpn_gateway_iface::PodAdditions::emulate_add`]); unchanged when it already holds our
//! additions. The workload is taken as already holding what the charm gives it, and the
//! secrets are placeholders: they affect nothing rendered. When
//! `wireguard-private-key-secret` is absent from the config file a placeholder reference
//! stands in for it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use juju_charm::SecretString;
use juju_charm::pebble::Plan as PebblePlan;
use juju_charm::render::{InputError, read_file, read_json};
use serde_json::{Map, Value, json};
use vpn_gateway_iface::gateway::GLUETUN_CONTAINER;
use vpn_gateway_iface::{AppName, EmulateError, StatefulSetJson, juju_names};

use crate::config::{Config, ConfigError};
use crate::constants::KEY_OPTION;
use crate::inputs::{ApiKey, Cluster, Content, Inputs, RelationState, Workload};
use crate::plan::{Plan, files};
use crate::workload::{self, Health};

/// Stands in for the secret reference when the config file has none.
const PLACEHOLDER_SECRET: &str = "secret:render-placeholder";
/// Stands in for the WireGuard key and the API key (never printed: only files hold them).
const PLACEHOLDER_KEY: &str = "render-placeholder";

juju_charm::render_args! {
    /// Print the Kubernetes objects and relation data the charm would write (no I/O besides
    /// reading the given files).
    pub struct RenderArgs {
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
}

/// Why `render` refused its input.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// `--external-ip` without `--vpn-connected`.
    #[error("--external-ip requires --vpn-connected")]
    ExternalIpWithoutConnected,
    /// An input file cannot be used.
    #[error(transparent)]
    Input(#[from] InputError),
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
    /// The layer cannot be encoded (to stand for the workload's plan, or to print it).
    #[error("cannot encode the gluetun layer")]
    Layer(#[source] serde_json::Error),
    /// The plan stops before it writes everything (its status says why).
    #[error("the charm would stop: {0}")]
    Stopped(String),
    /// The patch could not be emulated.
    #[error("cannot compute the patched StatefulSet")]
    Emulate(#[source] EmulateError),
}

/// The hook's inputs for these files and flags.
pub fn inputs(args: &RenderArgs) -> Result<Inputs, RenderError> {
    if args.external_ip.is_some() && !args.vpn_connected {
        return Err(RenderError::ExternalIpWithoutConnected);
    }
    let (app, model) = juju_names(&args.app, &args.model).map_err(InputError::names)?;
    let statefulset = read_statefulset(args, &app)?;
    let config = read_config(args)?;
    let key = SecretString::new(PLACEHOLDER_KEY);
    let files = files(&config, &key, &key)
        .into_iter()
        .map(|push| (push.path.to_owned(), Some(push.content)))
        .collect::<BTreeMap<String, Option<Content>>>();
    let workload = Workload::Reachable {
        plan: PebblePlan::of_layer(&workload::layer(&config)).map_err(RenderError::Layer)?,
        files,
        running: true,
    };
    let health = match (args.vpn_connected, args.external_ip) {
        (true, ip) => Health::Connected(ip),
        (false, _) => Health::NotConnected("render".into()),
    };
    Ok(Inputs {
        planned_units: Some(1),
        config: Some(Ok(config)),
        wireguard_key: Some(Ok(key.clone())),
        api_key: Some(ApiKey::Existing(key)),
        cluster: Some(Cluster::Read {
            statefulset,
            config_map: None,
            dns_ip: Some(args.cluster_dns_ip),
            namespace_labels: BTreeMap::new(),
        }),
        workload: Some(workload),
        health,
        relations: vec![RelationState {
            id: 0,
            published: None,
        }],
        ..Inputs::new(app, model, true)
    })
}

/// What the plan writes: the ConfigMap, the StatefulSet as patched, the relation data, and
/// the gluetun layer (the plan's when it writes one; else the one the workload is taken to
/// hold already).
pub fn output(inputs: &Inputs, plan: &Plan) -> Result<Value, RenderError> {
    let stopped = || RenderError::Stopped(plan.status().message);
    let (Some(kube), Some(Cluster::Read { statefulset, .. })) = (&plan.kube, &inputs.cluster)
    else {
        return Err(stopped());
    };
    let config_map = kube.config_map.as_ref().ok_or_else(stopped)?;
    let patched = match &kube.statefulset {
        Some(additions) => additions
            .emulate_add(statefulset)
            .map_err(RenderError::Emulate)?,
        None => statefulset.clone(),
    };
    let (_, data) = plan.relation_sets.first().ok_or_else(stopped)?;
    let layer = match (
        plan.pebble.as_ref().and_then(|p| p.layer.as_ref()),
        &inputs.config,
    ) {
        (Some(layer), _) => layer.clone(),
        (None, Some(Ok(config))) => workload::layer(config),
        (None, _) => return Err(stopped()),
    };
    let layer = serde_json::to_value(&layer).map_err(RenderError::Layer)?;
    Ok(json!({
        "objects": [config_map, patched],
        "relation_data": { "config": data },
        "pebble_layer": layer,
    }))
}

fn read_statefulset(args: &RenderArgs, app: &AppName) -> Result<StatefulSetJson, RenderError> {
    let statefulset: StatefulSetJson = read_json(&args.statefulset, "a StatefulSet")?;
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

fn read_config(args: &RenderArgs) -> Result<Config, RenderError> {
    let path = &args.config;
    let text = read_file(path)?;
    let value: Value = serde_json::from_str(&text).map_err(|source| RenderError::ParseConfig {
        path: path.clone(),
        source,
    })?;
    let Value::Object(mut raw) = value else {
        return Err(RenderError::ConfigNotObject { path: path.clone() });
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
    Config::parse(&raw).map_err(RenderError::Config)
}
