//! qBittorrent runs as uid/gid 1000 (docs/adr/0032-qbittorrent-non-root.md), seen through the
//! simulator's Pebble as the charm sees it: the layer names the ids, the pushed conf and the
//! profile directories the push creates are owned by 1000, and directories a root-running
//! revision created keep their owner (Pebble chowns only what it creates).

mod sim_common;

use juju_charm::pebble::{FileInfo, FileOptions, Pebble};
use qbittorrent_k8s::constants::CONF_PATH;
use sim_common::{TestResult, UNIT, failures_since, model};

const PROFILE: &str = "/config/qBittorrent";
const CONF_DIR: &str = "/config/qBittorrent/config";

/// `(user-id, group-id, permissions)` of `path` itself.
fn owner(rt: &tokio::runtime::Runtime, pebble: &Pebble, path: &str) -> (u32, u32, String) {
    let info: Vec<FileInfo> = rt
        .block_on(pebble.list_files(path, None, true))
        .unwrap_or_else(|e| panic!("list {path}: {e}"));
    let [info] = info.as_slice() else {
        panic!("{path}: {info:?}");
    };
    (
        info.user_id.unwrap_or(u32::MAX),
        info.group_id.unwrap_or(u32::MAX),
        info.permissions.clone(),
    )
}

#[test]
fn qbittorrent_runs_and_owns_its_profile_as_1000() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let mut model = model(tmp.path())?;
    model.deploy("qbittorrent-k8s", Some("qbittorrent"), true, &[])?;
    assert_eq!(failures_since(&model, 0), Vec::<String>::new());

    let described = model.pebble(UNIT, "qbittorrent").ok_or("no Pebble")?;
    let service = &described["plan"]["services"]["qbittorrent"];
    assert_eq!(
        (&service["user-id"], &service["group-id"]),
        (&1000.into(), &1000.into()),
        "{service}"
    );
    assert!(
        service.get("user").is_none() && service.get("group").is_none(),
        "{service}"
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let pebble = Pebble::new(
        model.dir().join("units/qbittorrent-0/containers"),
        "qbittorrent",
    );
    // A fresh profile: the conf and the directories the push created belong to 1000.
    assert_eq!(owner(&rt, &pebble, CONF_PATH), (1000, 1000, "600".into()));
    assert_eq!(owner(&rt, &pebble, CONF_DIR), (1000, 1000, "755".into()));
    assert_eq!(owner(&rt, &pebble, PROFILE), (1000, 1000, "755".into()));

    // A profile written by a revision that ran qBittorrent as root: root-owned directories and
    // conf, here with another WebUI port so that the charm rewrites the conf.
    let host_conf = sim_common::find_conf(model.dir()).ok_or("no qBittorrent.conf")?;
    let conf = std::fs::read_to_string(&host_conf)?;
    let old = conf.replace("WebUI\\Port=8080", "WebUI\\Port=9090");
    assert_ne!(old, conf, "{conf}");
    rt.block_on(pebble.remove_path(PROFILE, true))?;
    let as_root = FileOptions {
        make_parents: true,
        permissions: Some(0o600),
        ..FileOptions::default()
    };
    rt.block_on(pebble.push(CONF_PATH, old.as_bytes(), &as_root))?;
    assert_eq!(owner(&rt, &pebble, CONF_PATH), (0, 0, "600".into()));

    let from = model.history().len();
    model.update_status()?;
    assert_eq!(failures_since(&model, from), Vec::<String>::new());
    assert_eq!(std::fs::read_to_string(&host_conf)?, conf);
    // The rewritten conf is 1000's; the directories stay root's (the ADR's one-off chown).
    assert_eq!(owner(&rt, &pebble, CONF_PATH), (1000, 1000, "600".into()));
    assert_eq!(owner(&rt, &pebble, CONF_DIR).0, 0);
    assert_eq!(owner(&rt, &pebble, PROFILE).0, 0);
    Ok(())
}
