//! What Juju 3.6 checks before `juju refresh APP --path CHARM` (or `--switch CHARM`, which
//! for a local charm takes the same path) swaps an application's charm, in Juju's order, with
//! Juju's texts (docs/adr/0047):
//!
//! 1. the client's local refresher: the new charm has the application's charm name
//!    (`cannot refresh "<old>" to "<new>"`; `--switch` to another name is Charmhub only);
//! 2. the API server, on Kubernetes models: the `storage:` block is unchanged, compared key by
//!    key as `reflect.DeepEqual` compares `charm.Storage` (a changed description is enough);
//!    Juju's `errors.NotSupportedf` appends ` not supported` to the three-line message;
//! 3. `state.Application.SetCharm` (`checkRelationsOps`): every established relation's
//!    endpoint is implemented by the new charm (same name, role and interface), peer relations
//!    exempt, annotated `cannot upgrade application "<app>" to charm "<url>"`. The relation is
//!    named by its key: the requirer's `app:endpoint` first, then the provider's.
//!
//! Pure: metadata and relations in, the refusal out, so every rule is a plain test.

use crate::meta::{CharmMeta, Role};
use crate::state::Relation;

/// Juju's `storageUpgradeMessage` (apiserver/facades/client/application/application.go), as
/// `errors.NotSupportedf` formats it.
pub const STORAGE_UPGRADE_MESSAGE: &str = "Juju on containers does not support updating storage \
on a statefulset.\nThe new charm's metadata contains updated storage declarations.\nYou'll need \
to deploy a new charm rather than upgrading if you need this change.\n not supported";

/// Why Juju refuses a refresh.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshRefused {
    /// The new local charm has another name.
    #[error("cannot refresh \"{from}\" to \"{to}\"")]
    NameDiffers {
        /// The application's charm name.
        from: String,
        /// The new charm's name.
        to: String,
    },
    /// The `storage:` block differs (Kubernetes models).
    #[error("{STORAGE_UPGRADE_MESSAGE}")]
    StorageChanged,
    /// An established relation's endpoint is missing from the new charm, or has another role
    /// or interface there.
    #[error(
        "cannot upgrade application \"{app}\" to charm \"{charm_url}\": would break relation \"{relation}\""
    )]
    WouldBreakRelation {
        /// The application.
        app: String,
        /// The new charm's URL (`local:<name>-<revision>`).
        charm_url: String,
        /// The relation's key.
        relation: String,
    },
}

/// The local charm URL Juju gives the `revision`th upload of charm `name` to the model.
pub fn local_charm_url(name: &str, revision: u32) -> String {
    format!("local:{name}-{revision}")
}

/// Juju's checks, in Juju's order, for refreshing `app` (running `old`, in `relations`) to
/// `new`, uploaded as revision `revision`.
pub fn check(
    app: &str,
    old: &CharmMeta,
    new: &CharmMeta,
    revision: u32,
    relations: &[Relation],
) -> Result<(), RefreshRefused> {
    if old.name != new.name {
        return Err(RefreshRefused::NameDiffers {
            from: old.name.clone(),
            to: new.name.clone(),
        });
    }
    if old.storage != new.storage {
        return Err(RefreshRefused::StorageChanged);
    }
    for rel in relations.iter().filter(|r| !r.is_peer()) {
        let (Some(ours), Some(other)) = (rel.end_of(app), rel.remote_app(app)) else {
            continue;
        };
        let other_end = rel.end_of(other).map_or("", |e| e.endpoint.as_str());
        let Some((role, endpoint)) = old.endpoint(&ours.endpoint) else {
            continue;
        };
        let implemented = new
            .endpoint(&ours.endpoint)
            .is_some_and(|(r, e)| r == role && e.interface == endpoint.interface);
        if !implemented {
            let ours = format!("{app}:{}", ours.endpoint);
            let theirs = format!("{other}:{other_end}");
            let relation = if role == Role::Requirer {
                format!("{ours} {theirs}")
            } else {
                format!("{theirs} {ours}")
            };
            return Err(RefreshRefused::WouldBreakRelation {
                app: app.to_owned(),
                charm_url: local_charm_url(&new.name, revision),
                relation,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::state::RelationEnd;

    const BASE: &str = "name: c\nstorage:\n  config:\n    type: filesystem\n    location: /config\n\
provides:\n  out:\n    interface: x\nrequires:\n  in:\n    interface: y\npeers:\n  p:\n    interface: z\n";

    fn meta(text: &str) -> CharmMeta {
        let parsed = CharmMeta::parse(text, "test");
        assert!(parsed.is_ok(), "{text}: {parsed:?}");
        parsed.unwrap_or_default()
    }

    fn rel(a: (&str, &str), b: (&str, &str)) -> Relation {
        let end = |(app, endpoint): (&str, &str)| RelationEnd {
            app: app.into(),
            endpoint: endpoint.into(),
        };
        Relation {
            id: 1,
            endpoints: [end(a), end(b)],
            app_data: BTreeMap::new(),
            unit_data: BTreeMap::new(),
            units_joined: BTreeMap::new(),
            dying: false,
            broken_for: BTreeSet::new(),
        }
    }

    #[test]
    fn the_same_charm_is_accepted() {
        let rels = [
            rel(("app", "out"), ("o", "y")),
            rel(("app", "p"), ("app", "p")),
        ];
        assert_eq!(check("app", &meta(BASE), &meta(BASE), 1, &rels), Ok(()));
    }

    #[test]
    fn another_name_is_refused_first() {
        let new = meta(&BASE.replace("name: c", "name: d").replace("location", "x"));
        assert_eq!(
            check("app", &meta(BASE), &new, 1, &[]).map_err(|e| e.to_string()),
            Err("cannot refresh \"c\" to \"d\"".into())
        );
    }

    #[test]
    fn any_storage_difference_is_refused() {
        for changed in [
            BASE.replace("/config\n", "/config\n    description: d\n"),
            BASE.replace("/config\n", "/config\n    minimum-size: 1G\n"),
            BASE.replace("storage:\n", "storage:\n  more:\n    type: filesystem\n"),
            BASE.replace("location: /config", "location: /data"),
        ] {
            assert_eq!(
                check("app", &meta(BASE), &meta(&changed), 1, &[]),
                Err(RefreshRefused::StorageChanged),
                "{changed}"
            );
        }
        assert!(STORAGE_UPGRADE_MESSAGE.starts_with(
            "Juju on containers does not support updating storage on a statefulset.\n"
        ));
    }

    #[test]
    fn an_established_endpoint_must_keep_its_role_and_interface() {
        let rels = [rel(("o", "y"), ("app", "in"))];
        for changed in [
            BASE.replace("requires:\n  in:\n    interface: y\n", "requires: {}\n"),
            BASE.replace("interface: y", "interface: w"),
            BASE.replace("requires:\n  in:", "requires:\n  in2:")
                .replace("provides:\n", "provides:\n  in:\n    interface: y\n"),
        ] {
            assert_eq!(
                check("app", &meta(BASE), &meta(&changed), 3, &rels).map_err(|e| e.to_string()),
                Err(
                    "cannot upgrade application \"app\" to charm \"local:c-3\": would break \
                     relation \"app:in o:y\""
                        .into()
                ),
                "{changed}"
            );
        }
        // The provider's end is named second.
        let rels = [rel(("app", "out"), ("o", "x"))];
        let changed =
            meta(&BASE.replace("provides:\n  out:\n    interface: x\n", "provides: {}\n"));
        assert_eq!(
            check("app", &meta(BASE), &changed, 1, &rels).map_err(|e| e.to_string()),
            Err(
                "cannot upgrade application \"app\" to charm \"local:c-1\": would break \
                 relation \"o:x app:out\""
                    .into()
            )
        );
    }

    #[test]
    fn peers_and_unrelated_endpoints_may_go() {
        let rels = [rel(("app", "p"), ("app", "p"))];
        let changed = BASE
            .replace("peers:\n  p:\n    interface: z\n", "")
            .replace("provides:\n  out:\n    interface: x\n", "provides: {}\n");
        assert_eq!(check("app", &meta(BASE), &meta(&changed), 1, &rels), Ok(()));
    }
}
