//! `refresh --path`: Juju's refusals (an established relation's endpoint missing, any storage
//! difference, another charm name) change nothing, and an accepted refresh swaps the charm and
//! rolls the pods once, with Juju's hooks, on the objects Juju already made (no duplicate).
//!
//! One cluster for the file, stopped when the model drops (also while a failed assertion
//! unwinds).

use std::path::Path;

use juju_sim::model::{Model, ModelError, STORAGE_UPGRADE_MESSAGE};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use kube::api::ListParams;

#[path = "support/history.rs"]
mod history;
use history::hooks_since;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A copy of tests/charms/shell in `dir/name` whose metadata is `edit`ed.
fn variant(
    dir: &Path,
    name: &str,
    edit: impl Fn(String) -> String,
) -> Result<String, Box<dyn std::error::Error>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charms/shell");
    let out = juju_sim::charm::edited_copy(&src, &dir.join(name), edit)?;
    Ok(out.display().to_string())
}

fn restarts(model: &Model, app: &str) -> u32 {
    model.state().apps.get(app).map_or(0, |a| a.restarts)
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario: four refusals, then the accepted refresh
fn refresh_path_checks_then_swaps() -> TestResult {
    if juju_sim::runner::tool_binary().is_none() {
        return Err("build juju-sim-tool first (cargo build -p juju-sim --bins)".into());
    }
    let tmp = tempfile::tempdir()?;
    let charms = tmp.path().join("charms");
    let base = variant(&charms, "base", |m| m.replace("summary:", "summary: base"))?;
    let mut model = Model::new(&tmp.path().join("model"), "refresh")?;
    model.deploy(&base, Some("a"), true, &[])?;
    model.deploy(&base, Some("b"), true, &[])?;
    model.relate("a:src", "b:dst")?;
    let dir_before = model.state().model.applications["a"].charm_dir.clone();
    let from = model.history().len();
    let rolled = restarts(&model, "a");

    // --- refused: the provider end of an established relation is gone.
    let no_src = variant(&charms, "no-src", |m| {
        m.replace("provides:\n  src:\n    interface: shell-test\n", "")
    })?;
    let err = model.refresh_path("a", &no_src).err().ok_or("accepted")?;
    assert!(matches!(err, ModelError::RefreshRefused(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "cannot upgrade application \"a\" to charm \"local:shell-test-1\": would break \
         relation \"b:dst a:src\""
    );
    // --- refused: the interface changed.
    let other_iface = variant(&charms, "iface", |m| {
        m.replacen("interface: shell-test", "interface: other", 1)
    })?;
    let err = model
        .refresh_path("a", &other_iface)
        .err()
        .ok_or("accepted")?;
    assert!(
        err.to_string()
            .ends_with("would break relation \"b:dst a:src\""),
        "{err}"
    );
    // --- refused: any storage difference, a description is enough.
    let storage = variant(&charms, "storage", |m| {
        m.replace(
            "    type: filesystem\n",
            "    type: filesystem\n    description: new\n",
        )
    })?;
    let err = model.refresh_path("a", &storage).err().ok_or("accepted")?;
    assert_eq!(err.to_string(), STORAGE_UPGRADE_MESSAGE);
    // --- refused: another charm name (Juju's local refresher, also with --switch).
    let renamed = variant(&charms, "renamed", |m| {
        m.replace("name: shell-test", "name: other")
    })?;
    let err = model.refresh_path("a", &renamed).err().ok_or("accepted")?;
    assert_eq!(
        err.to_string(),
        "cannot refresh \"shell-test\" to \"other\""
    );
    // Nothing changed: same charm, no hook, no rollout.
    assert_eq!(model.state().model.applications["a"].charm_dir, dir_before);
    assert_eq!(hooks_since(&model, "a/0", from), Vec::<String>::new());
    assert_eq!(restarts(&model, "a"), rolled);

    // --- accepted: `dst` is not related on `a`, so it may go; a new endpoint comes.
    let next = variant(&charms, "next", |m| {
        m.replace(
            "requires:\n  dst:\n    interface: shell-test\n    limit: 1\n",
            "requires:\n  extra:\n    interface: more\n",
        )
    })?;
    model.refresh_path("a", &next)?;
    let hooks = hooks_since(&model, "a/0", from);
    assert_eq!(
        hooks.get(..4),
        Some(
            &[
                "upgrade-charm",
                "config-changed",
                "start",
                "work-pebble-ready"
            ]
            .map(String::from)[..]
        ),
        "{hooks:?}"
    );
    assert_eq!(restarts(&model, "a"), rolled + 1, "one rollout");
    let app = &model.state().model.applications["a"];
    assert_eq!(app.charm_dir, std::fs::canonicalize(&next)?);
    assert!(app.metadata.endpoints.contains_key("extra"));
    assert!(!app.metadata.endpoints.contains_key("dst"));
    assert_eq!(model.state().apps["a"].charm_revision, 1);
    // Juju's objects were re-applied, not made again.
    let (sts, svc) = model.with_admin(|c| async move {
        let sts = Api::<StatefulSet>::namespaced(c.clone(), "refresh")
            .list(&ListParams::default())
            .await?;
        let svc = Api::<Service>::namespaced(c, "refresh")
            .list(&ListParams::default())
            .await?;
        Ok::<_, kube::Error>((sts, svc))
    })?;
    let names = |l: Vec<Option<String>>| l.into_iter().flatten().collect::<Vec<_>>();
    assert_eq!(
        names(sts.items.iter().map(|s| s.metadata.name.clone()).collect()),
        ["a", "b"]
    );
    let services = names(svc.items.iter().map(|s| s.metadata.name.clone()).collect());
    assert_eq!(
        services.iter().filter(|n| n.as_str() == "a").count(),
        1,
        "{services:?}"
    );
    Ok(())
}
