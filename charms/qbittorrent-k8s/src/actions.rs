//! The two actions: `get-credentials` (the one place the password is shown) and
//! `rotate-credentials [username]` (leader only: new password, secret updated, conf
//! rewritten, qBittorrent restarted if it was running).

use std::collections::BTreeMap;

use juju_charm::Juju;
use juju_charm::pebble::{Pebble, PebbleError};
use juju_charm::tools::ToolError;
use juju_charm::tools::secret::SecretRef;
use ring::rand::SystemRandom;
use serde_json::{Map, Value};

use crate::apply::{self, ApplyError};
use crate::conf::{self, Managed};
use crate::config::Config;
use crate::constants::{CONF_PATH, CONTAINER, SECRET_LABEL};
use crate::credentials::{self, CredentialsError, Password, Username};
use crate::gather::{MAX_CONF_BYTES, credentials_secret};
use crate::plan::{NewSecret, WorkloadStep, conf_rewrite};
use crate::workload::SERVICE;

/// An action could not run (the operator sees `action-fail` messages for expected refusals;
/// these are failures of the machinery).
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// A hook tool failed.
    #[error("hook tool failed")]
    Tool(#[from] ToolError),
    /// Generating the password or hash.
    #[error("cannot generate credentials")]
    Generate(#[from] CredentialsError),
    /// Reading the workload.
    #[error("cannot read the qbittorrent container")]
    Pebble(#[source] PebbleError),
    /// Writing the workload.
    #[error("cannot update the qbittorrent container")]
    Apply(#[source] Box<ApplyError>),
}

/// Runs the action `name`.
pub async fn run(juju: &mut Juju, name: &str) -> Result<(), ActionError> {
    match name {
        "get-credentials" => get_credentials(juju),
        "rotate-credentials" => {
            let pebble = juju.pebble(CONTAINER);
            rotate_credentials(juju, &pebble).await
        }
        other => Ok(juju
            .tools()
            .action_fail(&format!("unknown action {other}"))?),
    }
}

fn read_secret(juju: &Juju) -> Result<Option<(Username, Password)>, ToolError> {
    Ok(credentials_secret(juju.tools())?.and_then(|content| credentials::from_secret(&content)))
}

fn get_credentials(juju: &Juju) -> Result<(), ActionError> {
    let Some((username, password)) = read_secret(juju)? else {
        juju.tools().action_fail(
            "no valid credentials yet: the leader creates them in its next hook (or run rotate-credentials on the leader)",
        )?;
        return Ok(());
    };
    juju.tools().action_set(&BTreeMap::from([
        ("username".to_owned(), username.as_str().to_owned()),
        ("password".to_owned(), password.expose().to_owned()),
    ]))?;
    Ok(())
}

async fn rotate_credentials(juju: &mut Juju, pebble: &Pebble) -> Result<(), ActionError> {
    if !juju.is_leader()? {
        juju.tools().action_fail(
            "rotate-credentials must run on the leader unit: the leader owns the credentials secret",
        )?;
        return Ok(());
    }
    let params: Map<String, Value> = juju.tools().action_get()?;
    let current = read_secret(juju)?;
    let username = match params.get("username") {
        Some(Value::String(s)) if !s.is_empty() => match Username::parse(s) {
            Ok(u) => u,
            Err(e) => {
                juju.tools()
                    .action_fail(&format!("invalid username: {e}"))?;
                return Ok(());
            }
        },
        _ => match &current {
            Some((u, _)) => u.clone(),
            None => Username::parse(credentials::DEFAULT_USERNAME)?,
        },
    };
    let rng = SystemRandom::new();
    let password = Password::generate(&rng)?;
    let hash = credentials::hash_password(&password, &rng)?;
    let secret = NewSecret {
        username: username.clone(),
        password,
        password_hash: hash.clone(),
    };
    match juju.tools().secret_info_get(SecretRef::Label(SECRET_LABEL)) {
        Ok(info) => juju.tools().secret_set(
            &info.id,
            Some(&apply::secret_content(&secret)),
            &apply::SECRET_META,
        )?,
        Err(ToolError::SecretNotFound { .. }) => {
            apply::create_secret(juju, &secret)?;
        }
        Err(e) => return Err(e.into()),
    }
    let restarted = rewrite_conf(juju, pebble, &username, hash).await?;
    juju.tools().action_set(&BTreeMap::from([
        ("username".to_owned(), username.as_str().to_owned()),
        (
            "message".to_owned(),
            if restarted {
                "password rotated and qBittorrent restarted; run get-credentials to see it"
            } else {
                "password rotated; run get-credentials to see it"
            }
            .to_owned(),
        ),
    ]))?;
    Ok(())
}

/// Writes the new credentials into `qBittorrent.conf` (with the service stopped) and starts
/// the service again if it was running. Returns whether it was restarted.
async fn rewrite_conf(
    juju: &Juju,
    pebble: &Pebble,
    username: &Username,
    hash: String,
) -> Result<bool, ActionError> {
    if !pebble.can_connect().await {
        // The next hook writes the file once Pebble answers.
        return Ok(false);
    }
    let config_map: Map<String, Value> = juju.tools().config()?;
    let port =
        Config::parse(&config_map).map_or(crate::config::DEFAULT_WEBUI_PORT, |c| c.webui_port);
    // Too large: `PebbleError::TooLarge`, the action fails and the file is kept (docs/adr/0031).
    let existing = match pebble.pull(CONF_PATH, MAX_CONF_BYTES).await {
        Ok(bytes) => String::from_utf8(bytes).ok(),
        Err(e) if e.is_path_not_found() => None,
        Err(e) => return Err(ActionError::Pebble(e)),
    };
    let desired = conf::reconcile(
        existing.as_deref(),
        &Managed {
            username: username.as_str().to_owned(),
            password_hash: hash,
            port,
        },
    );
    let running = pebble
        .services(&[SERVICE])
        .await
        .map_err(ActionError::Pebble)?
        .iter()
        .any(|s| s.name == SERVICE && s.is_running());
    let mut steps = conf_rewrite(running, desired);
    if running {
        steps.push(WorkloadStep::Restart);
    }
    apply::write_workload(pebble, &steps)
        .await
        .map_err(|e| ActionError::Apply(Box::new(e)))?;
    Ok(running)
}
