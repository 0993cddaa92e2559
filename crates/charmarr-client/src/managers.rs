//! The `download-client` provider (docs/charmarr-relations.md §2): every media manager
//! related to us gets our API URL and a grant on our secret, and tells us its kind and name.
//!
//! - [`read`]: every relation's remote `config` (untrusted, kept as read) and, on the leader,
//!   our own `config`.
//! - [`Manager::from_relation`]: one relation's manager data, validated field by field.
//! - [`plan`]: which relations need grant-then-publish, and the statuses: a manager whose data
//!   is invalid is skipped (nothing granted or published to it) and named in a Blocked status
//!   with the field; one that has not written yet is not served either: nothing is granted to
//!   an application before its data was validated (the reference publishes to every relation;
//!   its managers write their data without waiting for ours, docs/adr/0043).
//! - [`grant_then_publish`]: `secret-grant` to the relation, then `relation-set` of `config`,
//!   relation by relation.
//!
//! Idempotence: Juju shows a charm no list of its grants (`secret-info-get` has none), but we
//! only ever publish after a successful grant, so a relation whose databag already holds our
//! exact `config` (secret id included) was granted that secret: it gets no write at all.

use std::collections::BTreeMap;

use charmarr_iface::download_client::{DownloadClient, ProviderData, RequirerData};
use charmarr_iface::{ApiUrl, AppName, BasePath, DATABAG_KEY, InvalidField, Problem, SecretId};
use juju_charm::tools::ToolError;
use juju_charm::{Status, Tools};

use crate::ReadError;

/// The endpoint.
pub const ENDPOINT: &str = "download-client";

/// One `download-client` relation as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerRelation {
    /// The relation id.
    pub id: u64,
    /// The manager application, when Juju knows it yet.
    pub remote_app: Option<String>,
    /// The manager's `config` value (untrusted), if written.
    pub remote_config: Option<String>,
    /// Our own `config` value (read by the leader only).
    pub our_config: Option<String>,
}

/// Every `download-client` relation but the one being broken, in id order. Our own databag
/// is read on the leader only (only the leader may, and only it writes).
pub fn read(
    tools: &Tools,
    broken: Option<u64>,
    our_app: &str,
    leader: bool,
) -> Result<Vec<ManagerRelation>, ReadError> {
    let err = |source| ReadError {
        endpoint: ENDPOINT,
        source,
    };
    let mut relations = Vec::new();
    for id in tools.relation_ids(ENDPOINT).map_err(err)? {
        if Some(id) == broken {
            continue;
        }
        let remote_app = tools.relation_remote_app(id).map_err(err)?;
        let remote_config = match &remote_app {
            Some(remote) => tools
                .relation_get_app(id, remote)
                .map_err(err)?
                .remove(DATABAG_KEY),
            None => None,
        };
        let our_config = if leader {
            tools
                .relation_get_app(id, our_app)
                .map_err(err)?
                .remove(DATABAG_KEY)
        } else {
            None
        };
        relations.push(ManagerRelation {
            id,
            remote_app,
            remote_config,
            our_config,
        });
    }
    relations.sort_by_key(|r| r.id);
    Ok(relations)
}

/// One relation's manager, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manager {
    /// Nothing written yet.
    Pending,
    /// Written, invalid: skipped.
    Invalid(InvalidField),
    /// Written, valid.
    Valid(RequirerData),
}

impl Manager {
    /// Validates one relation's remote `config`.
    pub fn from_relation(relation: &ManagerRelation) -> Self {
        match &relation.remote_config {
            None => Self::Pending,
            Some(text) => match RequirerData::from_databag(text) {
                Ok(data) => Self::Valid(data),
                Err(e) => Self::Invalid(e),
            },
        }
    }
}

/// The valid managers, each once by instance name (the category name), in relation order.
pub fn valid_managers(relations: &[ManagerRelation]) -> Vec<RequirerData> {
    let mut seen = BTreeMap::new();
    for relation in relations {
        if let Manager::Valid(data) = Manager::from_relation(relation) {
            seen.entry(data.instance_name.to_string()).or_insert(data);
        }
    }
    let mut out: Vec<RequirerData> = seen.into_values().collect();
    out.sort_by(|a, b| a.instance_name.as_str().cmp(b.instance_name.as_str()));
    out
}

/// What we publish, but the secret id (which may be created in the same hook).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Our API, `http://<app>.<model>.svc.cluster.local:<port>`.
    pub api_url: ApiUrl,
    /// Which client we are.
    pub client: DownloadClient,
    /// Our application name.
    pub instance_name: AppName,
    /// The API's path prefix (`None`: served at the root).
    pub base_path: Option<BasePath>,
}

impl Offer {
    /// The full provider data with `secret_id`.
    pub fn with_secret(&self, secret_id: SecretId) -> ProviderData {
        ProviderData {
            api_url: self.api_url.clone(),
            secret_id,
            client: self.client,
            instance_name: self.instance_name.clone(),
            base_path: self.base_path.clone(),
        }
    }
}

/// The secret the offer names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferedSecret {
    /// It exists; its id as Juju reported it.
    Existing(SecretId),
    /// The leader creates it in this hook: its id is the one `secret-add` prints.
    CreatedInThisHook,
}

/// A secret id as Juju prints it (`secret-add`; `secret-info-get` keys its answer by the bare
/// id) in the form ops hands the reference charms, which is what they publish:
/// `secret://<model-uuid>/<id>` when the model's UUID is known (the form a consumer in
/// another model can resolve), else `secret:<id>`; an id that already has a scheme is kept.
/// Validated: Juju's output and the UUID from the environment are untrusted too.
pub fn canonical_secret_id(raw: &str, model_uuid: &str) -> Result<SecretId, Problem> {
    let raw = raw.trim();
    if raw.starts_with("secret:") {
        SecretId::parse(raw)
    } else if model_uuid.is_empty() {
        SecretId::parse(&format!("secret:{raw}"))
    } else {
        SecretId::parse(&format!("secret://{model_uuid}/{raw}"))
    }
}

/// Grant-then-publish on these relations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// Relation ids, ascending.
    pub relations: Vec<u64>,
    /// What to publish.
    pub offer: Offer,
    /// The secret to grant and name.
    pub secret: OfferedSecret,
    /// The model's UUID, for the id of a secret created in this hook.
    pub model_uuid: String,
}

/// The leader's provider decisions: the relations to serve (`None`: nothing to write) and
/// the statuses (one Blocked per invalid manager, naming its field).
pub fn plan(
    relations: &[ManagerRelation],
    offer: &Offer,
    secret: &OfferedSecret,
    model_uuid: &str,
) -> (Option<Publish>, Vec<Status>) {
    let mut statuses = Vec::new();
    let desired = match secret {
        OfferedSecret::Existing(id) => Some(offer.with_secret(id.clone()).to_databag()),
        OfferedSecret::CreatedInThisHook => None,
    };
    let mut serve = Vec::new();
    for relation in relations {
        // Juju names the remote application from relation-created on; until then there is
        // nobody to grant to.
        let Some(app) = &relation.remote_app else {
            continue;
        };
        match Manager::from_relation(relation) {
            Manager::Invalid(e) => {
                statuses.push(Status::blocked(invalid_manager_message(app, &e)));
                continue;
            }
            Manager::Pending => continue,
            Manager::Valid(_) => {}
        }
        let held = desired
            .as_deref()
            .is_some_and(|d| relation.our_config.as_deref() == Some(d));
        if !held {
            serve.push(relation.id);
        }
    }
    let publish = (!serve.is_empty()).then(|| Publish {
        relations: serve,
        offer: offer.clone(),
        secret: secret.clone(),
        model_uuid: model_uuid.to_owned(),
    });
    (publish, statuses)
}

/// The Blocked message for a manager's invalid data: names the application (Juju's, not the
/// databag's) and the field; the value is never echoed.
pub fn invalid_manager_message(app: &str, e: &InvalidField) -> String {
    format!("invalid download-client data from {app}: {e} (nothing published to it)")
}

/// Grant-then-publish failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The secret id `secret-add` or `secret-info-get` printed is not a secret id.
    #[error("the credentials secret's id from Juju is not a secret id: {0}")]
    SecretId(Problem),
    /// The offer names a secret created in this hook, and none was.
    #[error("no secret was created in this hook to publish")]
    NoSecret,
    /// `secret-grant`.
    #[error("cannot grant the secret to download-client relation {relation}")]
    Grant {
        /// The relation.
        relation: u64,
        /// Why.
        #[source]
        source: ToolError,
    },
    /// `relation-set`.
    #[error("cannot publish our download-client data on relation {relation}")]
    Publish {
        /// The relation.
        relation: u64,
        /// Why.
        #[source]
        source: ToolError,
    },
}

/// Carries out `publish`: for each relation, `secret-grant` then `relation-set --app
/// config=…`; `created` is the id `secret-add` printed in this hook, if it ran. Stops at the
/// first failure (no relation is ever told a secret it was not granted).
pub fn grant_then_publish(
    tools: &Tools,
    publish: &Publish,
    created: Option<&str>,
) -> Result<(), PublishError> {
    let secret_id = match (&publish.secret, created) {
        (OfferedSecret::Existing(id), _) => id.clone(),
        (OfferedSecret::CreatedInThisHook, Some(id)) => {
            canonical_secret_id(id, &publish.model_uuid).map_err(PublishError::SecretId)?
        }
        (OfferedSecret::CreatedInThisHook, None) => return Err(PublishError::NoSecret),
    };
    let config = publish.offer.with_secret(secret_id.clone()).to_databag();
    let data = BTreeMap::from([(DATABAG_KEY.to_owned(), config)]);
    for &relation in &publish.relations {
        tools
            .secret_grant(secret_id.as_str(), relation, None)
            .map_err(|source| PublishError::Grant { relation, source })?;
        tools
            .relation_set_app(relation, &data)
            .map_err(|source| PublishError::Publish { relation, source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use charmarr_iface::Namespace;

    use super::*;

    const SECRET: &str = "secret:d1d2dhg7nlbs73bc9f60";
    const UUID: &str = "0c5ec9b2-4c2a-4f5e-8a3e-1d2b3c4d5e6f";

    fn offer() -> Offer {
        let app = AppName::parse("qbittorrent").unwrap();
        Offer {
            api_url: ApiUrl::in_cluster(&app, &Namespace::parse("media").unwrap(), 8080).unwrap(),
            client: DownloadClient::Qbittorrent,
            instance_name: app,
            base_path: None,
        }
    }

    fn existing() -> OfferedSecret {
        OfferedSecret::Existing(SecretId::parse(SECRET).unwrap())
    }

    fn relation(id: u64, remote: Option<&str>, ours: Option<String>) -> ManagerRelation {
        ManagerRelation {
            id,
            remote_app: Some(format!("radarr{id}")),
            remote_config: remote.map(str::to_owned),
            our_config: ours,
        }
    }

    fn published() -> String {
        offer()
            .with_secret(SecretId::parse(SECRET).unwrap())
            .to_databag()
    }

    #[test]
    fn new_and_changed_relations_are_served_held_ones_are_not() {
        let valid = r#"{"manager":"radarr","instance_name":"radarr"}"#;
        let relations = [
            relation(3, Some(valid), None),
            relation(4, Some(valid), Some("stale".to_owned())),
            relation(5, Some(valid), Some(published())),
            relation(6, None, None),
        ];
        let (publish, statuses) = plan(&relations, &offer(), &existing(), UUID);
        assert_eq!(
            publish.unwrap().relations,
            vec![3, 4],
            "6 has not written yet"
        );
        assert!(statuses.is_empty());
    }

    #[test]
    fn secret_ids_take_the_form_ops_gives_charms() {
        let bare = "d1d2dhg7nlbs73bc9f60";
        assert_eq!(
            canonical_secret_id(bare, UUID).unwrap().as_str(),
            format!("secret://{UUID}/{bare}")
        );
        assert_eq!(canonical_secret_id(bare, "").unwrap().as_str(), SECRET);
        assert_eq!(canonical_secret_id(SECRET, UUID).unwrap().as_str(), SECRET);
        assert!(canonical_secret_id("../etc", UUID).is_err());
        assert!(canonical_secret_id(bare, "not-a-uuid").is_err());
    }

    #[test]
    fn steady_state_writes_nothing() {
        let relations = [relation(
            3,
            Some(r#"{"manager":"sonarr","instance_name":"tv"}"#),
            Some(published()),
        )];
        assert_eq!(
            plan(&relations, &offer(), &existing(), UUID),
            (None, vec![])
        );
    }

    #[test]
    fn a_secret_created_now_serves_every_relation() {
        let valid = r#"{"manager":"lidarr","instance_name":"music"}"#;
        let relations = [relation(3, Some(valid), Some(published()))];
        let (publish, _) = plan(
            &relations,
            &offer(),
            &OfferedSecret::CreatedInThisHook,
            UUID,
        );
        assert_eq!(publish.unwrap().relations, vec![3]);
    }

    #[test]
    fn an_invalid_manager_is_skipped_and_named_with_its_field() {
        let relations = [
            relation(3, Some(r#"{"manager":"plex","instance_name":"x"}"#), None),
            relation(
                4,
                Some(r#"{"manager":"radarr","instance_name":"Bad Name"}"#),
                None,
            ),
            relation(5, Some("[1]"), None),
        ];
        let (publish, statuses) = plan(&relations, &offer(), &existing(), UUID);
        assert_eq!(publish, None);
        let messages: Vec<String> = statuses.iter().map(|s| s.message.clone()).collect();
        assert_eq!(messages.len(), 3);
        assert!(messages[0].contains("radarr3") && messages[0].contains("manager:"));
        assert!(messages[1].contains("instance_name:"));
        assert!(messages[2].contains("config:"));
        assert!(!messages[1].contains("Bad Name"), "the value is not echoed");
    }

    fn fake_tools() -> (
        std::sync::Arc<juju_charm::tools::fake::RecordingRunner>,
        Tools,
    ) {
        let runner = std::sync::Arc::new(juju_charm::tools::fake::RecordingRunner::new());
        let tools = Tools::new(runner.clone());
        (runner, tools)
    }

    fn publish(relations: Vec<u64>, secret: OfferedSecret) -> Publish {
        Publish {
            relations,
            offer: offer(),
            secret,
            model_uuid: UUID.to_owned(),
        }
    }

    #[test]
    fn each_relation_is_granted_before_it_is_told_the_secret() {
        let (runner, tools) = fake_tools();
        grant_then_publish(&tools, &publish(vec![3, 4], existing()), None).unwrap();
        let tools_run: Vec<String> = runner
            .argvs()
            .iter()
            .map(|a| format!("{} -r {}", a[0], a[2]))
            .collect();
        assert_eq!(
            tools_run,
            [
                "secret-grant -r 3",
                "relation-set -r 3",
                "secret-grant -r 4",
                "relation-set -r 4"
            ]
        );
        assert!(runner.argvs()[0].contains(&SECRET.to_owned()));
    }

    #[test]
    fn a_failed_grant_publishes_nothing_after_it() {
        let (runner, tools) = fake_tools();
        runner.fail("secret-grant", 1, "ERROR permission denied");
        let e = grant_then_publish(&tools, &publish(vec![3, 4], existing()), None).unwrap_err();
        assert!(
            matches!(e, PublishError::Grant { relation: 3, .. }),
            "{e:?}"
        );
        assert_eq!(runner.argvs().len(), 1, "{:?}", runner.argvs());
    }

    #[test]
    fn a_secret_created_now_is_named_by_the_id_secret_add_printed() {
        let (runner, tools) = fake_tools();
        let bare = "d1d2dhg7nlbs73bc9f60";
        grant_then_publish(
            &tools,
            &publish(vec![3], OfferedSecret::CreatedInThisHook),
            Some(bare),
        )
        .unwrap();
        let full = format!("secret://{UUID}/{bare}");
        assert!(runner.argvs()[0].contains(&full), "{:?}", runner.argvs());
        let set = &runner.calls()[1];
        assert!(
            set.stdin.as_deref().is_some_and(|d| d.contains(&full)),
            "{set:?}"
        );
        let (runner, tools) = fake_tools();
        let e = grant_then_publish(
            &tools,
            &publish(vec![3], OfferedSecret::CreatedInThisHook),
            Some("not a secret"),
        )
        .unwrap_err();
        assert!(matches!(e, PublishError::SecretId(_)));
        assert!(runner.argvs().is_empty());
    }

    #[test]
    fn no_remote_app_yet_is_not_served() {
        let mut r = relation(3, None, None);
        r.remote_app = None;
        assert_eq!(plan(&[r], &offer(), &existing(), UUID).0, None);
    }

    #[test]
    fn valid_managers_are_unique_by_instance_name() {
        let relations = [
            relation(
                3,
                Some(r#"{"manager":"sonarr","instance_name":"tv"}"#),
                None,
            ),
            relation(
                4,
                Some(r#"{"manager":"radarr","instance_name":"movies"}"#),
                None,
            ),
            relation(
                5,
                Some(r#"{"manager":"radarr","instance_name":"tv"}"#),
                None,
            ),
            relation(6, Some("junk"), None),
        ];
        let names: Vec<String> = valid_managers(&relations)
            .iter()
            .map(|m| format!("{}:{}", m.instance_name, m.manager.as_str()))
            .collect();
        assert_eq!(names, ["movies:radarr", "tv:sonarr"]);
    }
}
