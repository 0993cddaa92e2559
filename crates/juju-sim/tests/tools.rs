//! Hook tools against a small model: arguments, output formats, errors and exit codes as in
//! Juju, and the commit/discard rules of a hook.

// Tables and scenario tests read best in one piece.
#![allow(clippy::too_many_lines)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use juju_sim::state::{
    ActionRun, Application, CharmMeta, ConfigOption, EndpointMeta, HookScope, ModelState, Relation,
    RelationEnd, Role, StatusKind, StorageMeta, Unit,
};
use juju_sim::tools::{ToolRequest, ToolResponse, dispatch};
use serde_json::json;

fn meta(endpoints: &[(&str, Role, &str)]) -> CharmMeta {
    let mut m = CharmMeta::default();
    for (name, role, iface) in endpoints {
        m.endpoints.insert(
            (*name).into(),
            EndpointMeta {
                role: *role,
                interface: (*iface).into(),
                limit: None,
                optional: false,
            },
        );
    }
    m
}

fn app(name: &str, units: u32, metadata: CharmMeta) -> Application {
    let mut a = Application {
        name: name.into(),
        metadata,
        planned_units: units,
        leader: Some(format!("{name}/0")),
        ..Application::default()
    };
    for i in 0..units {
        let n = format!("{name}/{i}");
        a.units.insert(
            n.clone(),
            Unit {
                name: n,
                ..Unit::default()
            },
        );
    }
    a
}

/// `db` (2 units, leader db/0) provides `database` to `web` (1 unit); `db` has peers.
fn model() -> ModelState {
    let mut db_meta = meta(&[
        ("database", Role::Provides, "pg"),
        ("peers", Role::Peers, "db-peers"),
    ]);
    db_meta.config.insert(
        "port".into(),
        ConfigOption {
            kind: "int".into(),
            default: Some(json!(5432)),
            description: String::new(),
        },
    );
    db_meta.config.insert(
        "name".into(),
        ConfigOption {
            kind: "string".into(),
            default: None,
            description: String::new(),
        },
    );
    db_meta.config.insert(
        "debug".into(),
        ConfigOption {
            kind: "boolean".into(),
            default: Some(json!(false)),
            description: String::new(),
        },
    );
    db_meta.storage.insert(
        "data".into(),
        StorageMeta {
            kind: "filesystem".into(),
            location: Some("/var/lib/db".into()),
        },
    );
    let mut db = app("db", 2, db_meta);
    db.config.insert("debug".into(), json!(true));
    if let Some(u) = db.units.get_mut("db/0") {
        u.storage
            .insert("data".into(), PathBuf::from("/tmp/sim/db-0/data"));
    }
    let web = app("web", 1, meta(&[("db", Role::Requires, "pg")]));
    let mut rel = Relation {
        id: 1,
        endpoints: [
            RelationEnd {
                app: "db".into(),
                endpoint: "database".into(),
            },
            RelationEnd {
                app: "web".into(),
                endpoint: "db".into(),
            },
        ],
        app_data: BTreeMap::new(),
        unit_data: BTreeMap::new(),
        units_joined: BTreeMap::new(),
        dying: false,
        broken_for: std::collections::BTreeSet::new(),
    };
    rel.app_data.insert(
        "db".into(),
        BTreeMap::from([("host".into(), "db.svc".into())]),
    );
    rel.app_data.insert(
        "web".into(),
        BTreeMap::from([("want".into(), "users".into())]),
    );
    rel.unit_data.insert(
        "web/0".into(),
        BTreeMap::from([("ip".into(), "10.0.0.9".into())]),
    );
    rel.units_joined
        .insert("db/0".into(), BTreeSet::from(["web/0".to_owned()]));
    rel.units_joined.insert(
        "web/0".into(),
        BTreeSet::from(["db/0".to_owned(), "db/1".to_owned()]),
    );
    let peer = Relation {
        id: 2,
        endpoints: [
            RelationEnd {
                app: "db".into(),
                endpoint: "peers".into(),
            },
            RelationEnd {
                app: "db".into(),
                endpoint: "peers".into(),
            },
        ],
        app_data: BTreeMap::from([(
            "db".to_owned(),
            BTreeMap::from([("secret-id".to_owned(), "x".to_owned())]),
        )]),
        unit_data: BTreeMap::new(),
        units_joined: BTreeMap::new(),
        dying: false,
        broken_for: std::collections::BTreeSet::new(),
    };
    ModelState {
        name: "m".into(),
        uuid: "5b1f2c3d-0000-4000-8000-000000000001".into(),
        applications: BTreeMap::from([("db".into(), db), ("web".into(), web)]),
        relations: vec![rel, peer],
        next_relation_id: 3,
        ..ModelState::default()
    }
}

fn req(argv: &[&str], stdin: &str) -> ToolRequest {
    ToolRequest {
        argv: argv.iter().map(|s| (*s).to_owned()).collect(),
        stdin: stdin.as_bytes().to_vec(),
        context_id: "ctx".into(),
    }
}

fn call(scope: &mut HookScope<'_>, argv: &[&str]) -> ToolResponse {
    dispatch(scope, &req(argv, ""))
}

fn out(r: &ToolResponse) -> String {
    String::from_utf8_lossy(&r.stdout).into_owned()
}

fn err(r: &ToolResponse) -> String {
    String::from_utf8_lossy(&r.stderr).into_owned()
}

/// Runs one tool in a fresh hook of `unit` and commits.
fn run1(state: &mut ModelState, unit: &str, argv: &[&str]) -> ToolResponse {
    let mut scope = HookScope::new(state, unit, "update-status");
    let r = call(&mut scope, argv);
    scope.commit();
    r
}

/// (unit, argv, exit code, stdout, stderr) table over the read-only tools.
#[test]
fn table() {
    let cases: &[(&str, &[&str], i32, &str, &str)] = &[
        ("db/0", &["relation-ids", "database"], 0, "database:1\n", ""),
        (
            "db/0",
            &["relation-ids", "--format=json", "database"],
            0,
            "[\"database:1\"]\n",
            "",
        ),
        (
            "db/0",
            &["relation-ids", "nope", "--format", "json"],
            0,
            "[]\n",
            "",
        ),
        (
            "db/0",
            &["relation-ids"],
            2,
            "",
            "ERROR no endpoint name specified\n",
        ),
        (
            "web/0",
            &["relation-list", "-r", "1", "--format=json"],
            0,
            "[\"db/0\",\"db/1\"]\n",
            "",
        ),
        (
            "web/0",
            &["relation-list", "-r", "db:1"],
            0,
            "db/0\ndb/1\n",
            "",
        ),
        (
            "web/0",
            &["relation-list", "-r", "1", "--app"],
            0,
            "db\n",
            "",
        ),
        (
            "web/0",
            &["relation-list"],
            2,
            "",
            "ERROR no relation id specified\n",
        ),
        (
            "web/0",
            &["relation-list", "-r", "9"],
            2,
            "",
            "ERROR invalid value \"9\" for option -r: relation not found\n",
        ),
        (
            "web/0",
            &["relation-list", "-r", "x"],
            2,
            "",
            "ERROR invalid value \"x\" for option -r: invalid relation id\n",
        ),
        // Remote application data is readable by every unit.
        (
            "web/0",
            &[
                "relation-get",
                "-r",
                "1",
                "--app",
                "-",
                "db",
                "--format=json",
            ],
            0,
            "{\"host\":\"db.svc\"}\n",
            "",
        ),
        (
            "db/1",
            &["relation-get", "-r", "1", "--app", "want", "web"],
            0,
            "users\n",
            "",
        ),
        (
            "db/1",
            &["relation-get", "-r", "1", "-", "web/0", "--format=json"],
            0,
            "{\"ip\":\"10.0.0.9\"}\n",
            "",
        ),
        (
            "db/1",
            &[
                "relation-get",
                "-r",
                "1",
                "missing",
                "web/0",
                "--format=json",
            ],
            0,
            "null\n",
            "",
        ),
        (
            "db/1",
            &["relation-get", "-r", "1", "missing", "web/0"],
            0,
            "",
            "",
        ),
        (
            "db/1",
            &["relation-get", "-r", "1", "-", "web/0", "--format=yaml"],
            0,
            "ip: \"10.0.0.9\"\n",
            "",
        ),
        // Own application data: leader only, except on a peer relation.
        (
            "db/0",
            &[
                "relation-get",
                "-r",
                "1",
                "--app",
                "-",
                "db",
                "--format=json",
            ],
            0,
            "{\"host\":\"db.svc\"}\n",
            "",
        ),
        (
            "db/1",
            &["relation-get", "-r", "1", "--app", "-", "db"],
            1,
            "",
            "ERROR permission denied\n",
        ),
        (
            "db/1",
            &["relation-get", "-r", "2", "--app", "secret-id", "db"],
            0,
            "x\n",
            "",
        ),
        (
            "db/1",
            &["relation-get", "-r", "1", "-", "web/7"],
            1,
            "",
            "ERROR cannot read settings for unit \"web/7\" in relation \"db:database web:db\": unit \"web/7\": settings not found\n",
        ),
        (
            "db/1",
            &["relation-get", "-r", "1", "-", "web"],
            2,
            "",
            "ERROR expected unit name, got application name \"web\"\n",
        ),
        (
            "db/1",
            &["relation-get", "-r", "1", "-"],
            2,
            "",
            "ERROR no unit or application specified\n",
        ),
        (
            "web/0",
            &["relation-model-get", "-r", "1", "--format=json"],
            0,
            "{\"uuid\":\"5b1f2c3d-0000-4000-8000-000000000001\"}\n",
            "",
        ),
        // Config: defaults merged with operator values; unset options without default omitted.
        (
            "db/1",
            &["config-get", "--format=json"],
            0,
            "{\"debug\":true,\"port\":5432}\n",
            "",
        ),
        (
            "db/1",
            &["config-get", "--all", "--format=json"],
            0,
            "{\"debug\":true,\"name\":null,\"port\":5432}\n",
            "",
        ),
        ("db/1", &["config-get", "port"], 0, "5432\n", ""),
        ("db/1", &["config-get", "debug"], 0, "True\n", ""),
        (
            "db/1",
            &["config-get", "name", "--format=json"],
            0,
            "null\n",
            "",
        ),
        (
            "db/1",
            &["config-get", "--format=xml"],
            2,
            "",
            "ERROR invalid value \"xml\" for option --format: unknown format \"xml\"\n",
        ),
        ("db/0", &["is-leader"], 0, "True\n", ""),
        ("db/1", &["is-leader", "--format=json"], 0, "false\n", ""),
        (
            "db/1",
            &["is-leader", "--bogus"],
            2,
            "",
            "ERROR option provided but not defined: --bogus\n",
        ),
        (
            "db/1",
            &["is-leader", "extra"],
            2,
            "",
            "ERROR unrecognized args: [\"extra\"]\n",
        ),
        ("db/0", &["status-get"], 0, "unknown\n", ""),
        (
            "db/0",
            &["status-get", "--include-data", "--format=json"],
            0,
            "{\"message\":\"\",\"status\":\"unknown\",\"status-data\":{}}\n",
            "",
        ),
        (
            "db/1",
            &["status-get", "--application=True", "--format=json"],
            1,
            "",
            "ERROR finding application status: this unit is not the leader\n",
        ),
        (
            "db/1",
            &["status-set", "active", "--application"],
            1,
            "",
            "ERROR this unit is not the leader\n",
        ),
        (
            "db/1",
            &["status-set", "happy"],
            2,
            "",
            "ERROR invalid status \"happy\", expected one of [maintenance blocked waiting active]\n",
        ),
        (
            "db/0",
            &["storage-list", "--format=json"],
            0,
            "[\"data/0\"]\n",
            "",
        ),
        (
            "db/0",
            &["storage-get", "-s", "data/0", "location"],
            0,
            "/tmp/sim/db-0/data\n",
            "",
        ),
        (
            "db/0",
            &["storage-get", "-s", "data/0", "--format=json"],
            0,
            "{\"kind\":\"filesystem\",\"location\":\"/tmp/sim/db-0/data\"}\n",
            "",
        ),
        (
            "db/0",
            &["storage-get", "-s", "logs/0"],
            2,
            "",
            "ERROR invalid value \"logs/0\" for option -s: storage instance \"logs/0\" not found\n",
        ),
        (
            "db/0",
            &["network-get", "database", "--ingress-address"],
            0,
            "127.0.0.1\n",
            "",
        ),
        (
            "db/0",
            &["network-get", "nope"],
            1,
            "",
            "ERROR no network config found for binding \"nope\"\n",
        ),
        (
            "db/0",
            &["credential-get"],
            1,
            "",
            "ERROR cannot access cloud credentials: permission denied\n",
        ),
        (
            "db/0",
            &["action-get"],
            1,
            "",
            "ERROR not running an action\n",
        ),
        ("db/0", &["opened-ports"], 0, "", ""),
        (
            "db/0",
            &["secret-get", "secret:cvh7dpvmp25c77ohv1ag"],
            1,
            "",
            "ERROR secret \"cvh7dpvmp25c77ohv1ag\" not found\n",
        ),
        (
            "db/0",
            &["secret-get", "not-a-uri"],
            2,
            "",
            "ERROR secret URI \"not-a-uri\" not valid\n",
        ),
        (
            "db/0",
            &["secret-get", "--label", "nope"],
            1,
            "",
            "ERROR secret \"nope\" not found\n",
        ),
        ("db/0", &["juju-log"], 2, "", "ERROR no message specified\n"),
        (
            "db/0",
            &["leader-elected-nonsense"],
            127,
            "",
            "juju-sim-tool: leader-elected-nonsense: hook tool not supported by juju-sim\n",
        ),
        (
            "db/0",
            &["pod-spec-set"],
            1,
            "",
            "ERROR pod-spec-set is not supported for sidecar charms (juju-sim: podspec charms are not simulated)\n",
        ),
    ];
    let mut failures = Vec::new();
    for (unit, argv, code, stdout, stderr) in cases {
        let mut state = model();
        let r = run1(&mut state, unit, argv);
        if r.code != *code || out(&r) != *stdout || err(&r) != *stderr {
            failures.push(format!(
                "{unit} {argv:?}: got ({}, {:?}, {:?}), want ({code}, {stdout:?}, {stderr:?})",
                r.code,
                out(&r),
                err(&r)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn relation_set_is_queued_seen_by_the_writer_and_applied_on_commit() {
    let mut state = model();
    let mut scope = HookScope::new(&mut state, "db/0", "database-relation-changed");
    scope.relation_id = Some(1);
    scope.remote_unit = Some("web/0".into());
    scope.remote_app = Some("web".into());
    // Default relation and remote unit come from the hook context.
    assert_eq!(
        out(&call(&mut scope, &["relation-get", "ip"])),
        "10.0.0.9\n"
    );
    assert_eq!(call(&mut scope, &["relation-set", "a=1", "b=2"]).code, 0);
    let r = dispatch(
        &mut scope,
        &req(
            &["relation-set", "--app", "--file", "-"],
            "{\"user\": \"u\", \"n\": 3}",
        ),
    );
    assert_eq!((r.code, err(&r)), (0, String::new()));
    assert_eq!(call(&mut scope, &["relation-set", "b="]).code, 0);
    // The writer sees its own writes...
    assert_eq!(
        out(&call(
            &mut scope,
            &["relation-get", "--format=json", "-", "db/0"]
        )),
        "{\"a\":\"1\"}\n"
    );
    assert_eq!(
        out(&call(
            &mut scope,
            &["relation-get", "--app", "--format=json", "-", "db"]
        )),
        "{\"host\":\"db.svc\",\"n\":\"3\",\"user\":\"u\"}\n"
    );
    // ...the model does not, until commit.
    assert!(!scope.state.relations[0].unit_data.contains_key("db/0"));
    let (effects, calls, _) = scope.commit();
    assert!(effects.relations_changed.contains(&1));
    assert_eq!(calls.len(), 6);
    assert_eq!(calls[2].stdin_len, 21);
    let rel = &state.relations[0];
    assert_eq!(
        rel.unit_data["db/0"],
        BTreeMap::from([("a".into(), "1".into())])
    );
    assert_eq!(rel.app_data["db"]["user"], "u");

    // A YAML file with a non-string scalar, and duplicates rejected.
    let mut scope = HookScope::new(&mut state, "db/0", "update-status");
    let r = dispatch(
        &mut scope,
        &req(
            &["relation-set", "-r", "1", "--file", "-", "k=v"],
            "port: 80\nk: from-file\n",
        ),
    );
    assert_eq!(r.code, 0);
    let r = call(&mut scope, &["relation-set", "-r", "1", "x=1", "x=2"]);
    assert_eq!(
        (r.code, err(&r).as_str()),
        (2, "ERROR key \"x\" specified more than once\n")
    );
    let r = call(&mut scope, &["relation-set", "-r", "1", "novalue"]);
    assert_eq!(r.code, 2);
    scope.commit();
    assert_eq!(state.relations[0].unit_data["db/0"]["port"], "80");
    assert_eq!(state.relations[0].unit_data["db/0"]["k"], "v");
}

#[test]
fn non_leader_app_databag_write_fails_as_in_juju() {
    let mut state = model();
    let mut scope = HookScope::new(&mut state, "db/1", "update-status");
    let r = call(&mut scope, &["relation-set", "-r", "1", "--app", "k=v"]);
    assert_eq!(r.code, 1);
    assert_eq!(err(&r), "ERROR cannot write relation settings\n");
    let r = call(&mut scope, &["relation-set", "-r", "2", "--app", "k=v"]);
    assert_eq!(err(&r), "ERROR cannot write relation settings\n");
    // Unit data is fine; a deprecated --format is accepted with a warning.
    let r = call(
        &mut scope,
        &["relation-set", "-r", "1", "--format=json", "k=v"],
    );
    assert_eq!(r.code, 0);
    assert!(err(&r).contains("deprecated"));
    scope.commit();
    assert!(!state.relations[0].app_data["db"].contains_key("k"));
    assert_eq!(state.relations[0].unit_data["db/1"]["k"], "v");
}

#[test]
fn failed_hook_discards_queued_changes_but_keeps_status_and_logs() {
    let mut state = model();
    let mut scope = HookScope::new(&mut state, "db/0", "config-changed");
    for argv in [
        &["relation-set", "-r", "1", "--app", "k=v"][..],
        &["open-port", "8080/tcp"],
        &["secret-add", "password=hunter2"],
        &["status-set", "blocked", "need a relation"],
        &["status-set", "--application", "waiting", "app msg"],
        &["juju-log", "--log-level", "WARNING", "something", "odd"],
        &["application-version-set", "1.2.3"],
    ] {
        let r = call(&mut scope, argv);
        assert_eq!(r.code, 0, "{argv:?}: {}", err(&r));
    }
    // The hook sees its own pending port.
    assert_eq!(out(&call(&mut scope, &["opened-ports"])), "8080/tcp\n");
    let (calls, _) = scope.discard();
    assert_eq!(calls[2].argv, vec!["secret-add", "password=***"]);
    let db = &state.applications["db"];
    assert!(db.opened_ports.is_empty());
    assert!(state.secrets.is_empty());
    assert!(!state.relations[0].app_data["db"].contains_key("k"));
    assert_eq!(db.units["db/0"].status.current, StatusKind::Blocked);
    assert_eq!(db.units["db/0"].status.message, "need a relation");
    assert_eq!(db.status.current, StatusKind::Waiting);
    assert_eq!(db.workload_version, "1.2.3");
    assert_eq!(state.log.len(), 1);
    assert_eq!(state.log[0].level, "WARNING");
    assert_eq!(state.log[0].message, "something odd");
    assert_eq!(state.log[0].hook, "config-changed");

    // The same writes, committed.
    let mut scope = HookScope::new(&mut state, "db/0", "config-changed");
    call(&mut scope, &["open-port", "8080"]);
    call(&mut scope, &["open-port", "9000-9010/udp"]);
    call(&mut scope, &["open-port", "icmp"]);
    let r = call(&mut scope, &["open-port", "http"]);
    assert_eq!(r.code, 2);
    let (effects, _, _) = scope.commit();
    assert!(effects.ports_changed);
    assert_eq!(
        out(&run1(
            &mut state,
            "db/1",
            &["opened-ports", "--format=json"]
        )),
        "[\"icmp\",\"8080/tcp\",\"9000-9010/udp\"]\n"
    );
    assert_eq!(
        out(&run1(&mut state, "db/1", &["opened-ports", "--endpoints"])),
        "icmp (*)\n8080/tcp (*)\n9000-9010/udp (*)\n"
    );
}

#[test]
fn status_get_reports_application_and_units_for_the_leader() {
    let mut state = model();
    run1(
        &mut state,
        "db/1",
        &["status-set", "maintenance", "installing"],
    );
    run1(
        &mut state,
        "db/0",
        &["status-set", "--application=True", "active", "ready"],
    );
    let r = run1(
        &mut state,
        "db/0",
        &[
            "status-get",
            "--include-data",
            "--format=json",
            "--application=true",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap_or_default();
    assert_eq!(v["application-status"]["status"], "active");
    assert_eq!(v["application-status"]["message"], "ready");
    assert_eq!(
        v["application-status"]["units"]["db/1"]["status"],
        "maintenance"
    );
    assert_eq!(
        v["application-status"]["units"]["db/1"]["message"],
        "installing"
    );
}

#[test]
fn goal_state_reports_planned_units() {
    let mut state = model();
    let goal = |state: &mut ModelState| -> serde_json::Value {
        let r = run1(state, "db/0", &["goal-state", "--format=json"]);
        serde_json::from_slice(&r.stdout).unwrap_or_default()
    };
    let v = goal(&mut state);
    assert_eq!(v["units"]["db/0"]["status"], "active");
    assert_eq!(v["units"]["db/1"]["status"], "active");
    assert!(v["units"]["db/0"]["since"].is_string());
    assert_eq!(v["relations"]["database"]["web"]["status"], "joined");
    assert_eq!(v["relations"]["database"]["web/0"]["status"], "active");
    // Scaling up: a planned unit that does not exist yet is waiting.
    if let Some(a) = state.applications.get_mut("db") {
        a.planned_units = 3;
    }
    let v = goal(&mut state);
    assert_eq!(v["units"]["db/2"]["status"], "waiting");
    // Scaling down: the highest unit is dying; ops counts the others.
    if let Some(a) = state.applications.get_mut("db") {
        a.planned_units = 1;
    }
    let v = goal(&mut state);
    assert_eq!(v["units"]["db/0"]["status"], "active");
    assert_eq!(v["units"]["db/1"]["status"], "dying");
    // Default format is YAML.
    let r = run1(&mut state, "db/0", &["goal-state"]);
    assert!(
        out(&r).starts_with("relations:") || out(&r).starts_with("units:"),
        "{}",
        out(&r)
    );
}

#[test]
fn secrets_follow_owner_and_grant_rules() {
    let mut state = model();
    // Only the leader adds application-owned secrets; a unit may own its own.
    let r = run1(&mut state, "db/1", &["secret-add", "password=x1x"]);
    assert_eq!(
        (r.code, err(&r).as_str()),
        (1, "ERROR this unit is not the leader\n")
    );
    let r = run1(
        &mut state,
        "db/1",
        &["secret-add", "--owner", "unit", "token=abc"],
    );
    assert_eq!(r.code, 0);
    let r = run1(&mut state, "db/0", &["secret-add", "pw=bad"]);
    assert_eq!(
        (r.code, err(&r).as_str()),
        (2, "ERROR key \"pw\" not valid\n")
    );
    let r = run1(&mut state, "db/0", &["secret-add"]);
    assert_eq!(
        (r.code, err(&r).as_str()),
        (2, "ERROR missing secret value or filename\n")
    );

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let file = dir.path().join("cert");
    std::fs::write(&file, "PEM").unwrap_or_else(|e| panic!("write: {e}"));
    let file_arg = format!("cert#file={}", file.display());
    let r = run1(
        &mut state,
        "db/0",
        &[
            "secret-add",
            "--label",
            "creds",
            "--description",
            "db creds",
            "password=s3cret",
            "user#base64=YWRtaW4=",
            &file_arg,
        ],
    );
    assert_eq!(r.code, 0, "{}", err(&r));
    let uri = out(&r).trim().to_owned();
    assert!(uri.starts_with("secret:") && uri.len() == 27, "{uri}");

    // Every unit of the owner reads it, by id or label; JSON and YAML.
    let r = run1(&mut state, "db/1", &["secret-get", &uri, "--format=json"]);
    assert_eq!(
        out(&r),
        "{\"cert\":\"PEM\",\"password\":\"s3cret\",\"user\":\"admin\"}\n"
    );
    let r = run1(
        &mut state,
        "db/0",
        &["secret-get", "--label", "creds", "password"],
    );
    assert_eq!(r.code, 2, "a second positional is rejected: {}", err(&r));
    let r = run1(&mut state, "db/0", &["secret-get", "--label", "creds"]);
    assert_eq!(out(&r), "cert: PEM\npassword: s3cret\nuser: admin\n");
    // One key, or one key base64-encoded; a missing key.
    let r = run1(&mut state, "db/1", &["secret-get", &uri, "user"]);
    assert_eq!(out(&r), "admin\n");
    let r = run1(
        &mut state,
        "db/1",
        &["secret-get", &uri, "user#base64", "--format=json"],
    );
    assert_eq!(out(&r), "\"YWRtaW4=\"\n");
    let r = run1(&mut state, "db/1", &["secret-get", &uri, "nokey"]);
    assert_eq!(err(&r), "ERROR secret key value \"nokey\" not found\n");
    let r = run1(&mut state, "db/1", &["secret-get", &uri, "a", "b"]);
    assert_eq!(err(&r), "ERROR unrecognized args: [\"b\"]\n");
    // Nothing to update is not an error; a grant to a unit of another application is.
    assert_eq!(run1(&mut state, "db/0", &["secret-set", &uri]).code, 0);
    let r = run1(
        &mut state,
        "db/0",
        &["secret-grant", &uri, "-r", "1", "--unit", "db/1"],
    );
    assert_eq!(
        err(&r),
        "ERROR cannot specify unit \"db/1\" in relation to application \"web\"\n"
    );
    let r = run1(&mut state, "db/0", &["secret-ids", "--format=json"]);
    assert_eq!(out(&r), format!("[\"{uri}\"]\n"));
    let r = run1(
        &mut state,
        "db/0",
        &["secret-info-get", &uri, "--format=json"],
    );
    let info: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap_or_default();
    let id = uri.trim_start_matches("secret:");
    assert_eq!(info[id]["revision"], 1);
    assert_eq!(info[id]["label"], "creds");
    assert_eq!(info[id]["description"], "db creds");

    // A consumer without a grant is refused; metadata is not shown to it.
    let r = run1(&mut state, "web/0", &["secret-get", &uri]);
    assert_eq!((r.code, err(&r).as_str()), (1, "ERROR permission denied\n"));
    let r = run1(&mut state, "web/0", &["secret-info-get", &uri]);
    assert_eq!(err(&r), format!("ERROR secret \"{uri}\" not found\n"));
    // Only the leader of the owner manages it.
    let r = run1(&mut state, "db/1", &["secret-grant", &uri, "-r", "1"]);
    assert_eq!((r.code, err(&r).as_str()), (1, "ERROR permission denied\n"));
    let r = run1(&mut state, "web/0", &["secret-grant", &uri, "-r", "1"]);
    assert_eq!(err(&r), format!("ERROR secret \"{id}\" not found\n"));
    let r = run1(&mut state, "db/0", &["secret-grant", &uri, "-r", "1"]);
    assert_eq!(r.code, 0, "{}", err(&r));

    // Granted: the consumer tracks revision 1, labels it, and sees 2 only on --refresh.
    let r = run1(
        &mut state,
        "web/0",
        &["secret-get", &uri, "--label", "db-creds", "--format=json"],
    );
    assert_eq!(
        out(&r),
        "{\"cert\":\"PEM\",\"password\":\"s3cret\",\"user\":\"admin\"}\n"
    );
    let r = run1(
        &mut state,
        "db/0",
        &["secret-set", &uri, "password=n3w", "user=admin", "cert=PEM"],
    );
    assert_eq!(r.code, 0, "{}", err(&r));
    let mut scope = HookScope::new(&mut state, "db/0", "update-status");
    call(
        &mut scope,
        &[
            "secret-set",
            &uri,
            "password=n3w2",
            "user=admin",
            "cert=PEM",
        ],
    );
    let (effects, _, _) = scope.commit();
    assert!(effects.secrets_changed.contains(id));
    assert_eq!(state.secrets[id].revisions.len(), 3);
    let get = |state: &mut ModelState, args: &[&str]| {
        let mut argv = vec!["secret-get", "--format=json"];
        argv.extend_from_slice(args);
        let r = run1(state, "web/0", &argv);
        let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap_or_default();
        v["password"].as_str().unwrap_or_default().to_owned()
    };
    assert_eq!(get(&mut state, &["--label", "db-creds"]), "s3cret");
    assert_eq!(get(&mut state, &["--label", "db-creds", "--peek"]), "n3w2");
    assert_eq!(get(&mut state, &["--label", "db-creds"]), "s3cret");
    assert_eq!(
        get(&mut state, &["--label", "db-creds", "--refresh"]),
        "n3w2"
    );
    assert_eq!(get(&mut state, &[&uri]), "n3w2");
    let r = run1(
        &mut state,
        "web/0",
        &["secret-get", &uri, "--peek", "--refresh"],
    );
    assert_eq!(r.code, 2);

    // Revoke, then remove.
    let r = run1(&mut state, "db/0", &["secret-revoke", &uri, "--app", "web"]);
    assert_eq!(r.code, 0, "{}", err(&r));
    let r = run1(&mut state, "web/0", &["secret-get", &uri]);
    assert_eq!(err(&r), "ERROR permission denied\n");
    let r = run1(&mut state, "db/0", &["secret-remove", &uri]);
    assert_eq!(r.code, 0);
    let r = run1(&mut state, "db/1", &["secret-get", &uri]);
    assert_eq!(err(&r), format!("ERROR secret \"{id}\" not found\n"));
}

#[test]
fn secret_created_and_updated_in_one_hook_stays_at_revision_one() {
    let mut state = model();
    let mut scope = HookScope::new(&mut state, "db/0", "install");
    let r = call(&mut scope, &["secret-add", "--label", "l1", "key=one"]);
    let uri = out(&r).trim().to_owned();
    assert_eq!(call(&mut scope, &["secret-set", &uri, "key=two"]).code, 0);
    assert_eq!(out(&call(&mut scope, &["secret-get", &uri])), "key: two\n");
    let r = call(&mut scope, &["secret-add", "--label", "l1", "key=three"]);
    assert_eq!(err(&r), "ERROR secret with label \"l1\" already exists\n");
    // Content from a YAML file on stdin (`#base64` keys decoded); padding never splits.
    let r = dispatch(
        &mut scope,
        &req(
            &[
                "secret-add",
                "--owner=unit",
                "--file",
                "-",
                "tls-key#base64=YWI=",
            ],
            "api-key: k1\ncert#base64: UEVN\n",
        ),
    );
    assert_eq!(r.code, 0, "{}", err(&r));
    let uri2 = out(&r).trim().to_owned();
    assert_eq!(
        out(&call(&mut scope, &["secret-get", &uri2, "--format=json"])),
        "{\"api-key\":\"k1\",\"cert\":\"PEM\",\"tls-key\":\"ab\"}\n"
    );
    let r = call(&mut scope, &["secret-add", "novalue"]);
    assert_eq!(err(&r), "ERROR key value \"novalue\" not valid\n");
    let r = call(&mut scope, &["secret-add", "--file", "-"]);
    assert_eq!(err(&r), "ERROR empty secret value not valid\n");
    let (effects, _, _) = scope.commit();
    assert!(effects.secrets_changed.is_empty());
    assert_eq!(state.secrets.len(), 2);
    let s = state
        .secrets
        .values()
        .find(|s| s.label.as_deref() == Some("l1"))
        .cloned()
        .unwrap_or_else(|| panic!("no secret"));
    assert_eq!(s.revisions.len(), 1);
    assert_eq!(s.revisions[0].content["key"], "two");
}

#[test]
fn writes_coalesce_within_a_hook() {
    let mut state = model();
    let uri = out(&run1(&mut state, "db/0", &["secret-add", "key=one"]))
        .trim()
        .to_owned();
    let mut scope = HookScope::new(&mut state, "db/0", "config-changed");
    call(&mut scope, &["secret-set", &uri, "key=two"]);
    call(&mut scope, &["secret-set", &uri, "--label", "lbl"]);
    call(&mut scope, &["secret-set", &uri, "key=three"]);
    // A value set and unset again is no change for the other side.
    call(&mut scope, &["relation-set", "-r", "1", "tmp=x"]);
    call(&mut scope, &["relation-set", "-r", "1", "tmp="]);
    let (effects, _, _) = scope.commit();
    let id = uri.trim_start_matches("secret:");
    assert_eq!(state.secrets[id].revisions.len(), 2);
    assert_eq!(state.secrets[id].revisions[1].content["key"], "three");
    assert_eq!(state.secrets[id].label.as_deref(), Some("lbl"));
    assert!(effects.secrets_changed.contains(id));
    assert!(effects.relations_changed.is_empty());
    assert!(!state.relations[0].unit_data.contains_key("db/0"));
}

#[test]
fn charm_state_is_queued_like_other_writes() {
    let mut state = model();
    let mut scope = HookScope::new(&mut state, "db/1", "install");
    let r = dispatch(
        &mut scope,
        &req(
            &["state-set", "--file", "-", "b=2"],
            "{\"a\": \"1\", \"b\": \"x\"}",
        ),
    );
    assert_eq!(r.code, 0, "{}", err(&r));
    assert_eq!(call(&mut scope, &["state-set", "c=3"]).code, 0);
    assert_eq!(call(&mut scope, &["state-delete", "c"]).code, 0);
    assert_eq!(
        out(&call(&mut scope, &["state-get", "--format=json"])),
        "{\"a\":\"1\",\"b\":\"2\"}\n"
    );
    assert_eq!(out(&call(&mut scope, &["state-get", "a"])), "1\n");
    assert_eq!(
        out(&call(&mut scope, &["state-get", "zz", "--format=json"])),
        "\"\"\n"
    );
    let r = call(&mut scope, &["state-get", "zz", "--strict"]);
    assert_eq!((r.code, err(&r).as_str()), (1, "ERROR \"zz\" not found\n"));
    assert_eq!(call(&mut scope, &["state-delete"]).code, 2);
    scope.discard();
    assert!(
        state.applications["db"].units["db/1"]
            .charm_state
            .is_empty()
    );
    run1(&mut state, "db/1", &["state-set", "k=v"]);
    assert_eq!(state.applications["db"].units["db/1"].charm_state["k"], "v");
}

#[test]
fn user_secret_needs_a_grant() {
    let mut state = model();
    let id = juju_sim::state::new_secret_id(&mut state);
    state.secrets.insert(
        id.clone(),
        juju_sim::state::Secret {
            id: id.clone(),
            owner: juju_sim::state::SecretOwner::Model,
            label: None,
            consumer_labels: BTreeMap::new(),
            description: None,
            revisions: vec![juju_sim::state::SecretRevision {
                revision: 1,
                content: BTreeMap::from([("token".into(), "t".into())]),
            }],
            grants: BTreeMap::new(),
            tracked: BTreeMap::new(),
            rotate: None,
            expire: None,
        },
    );
    let uri = format!("secret://{}/{id}", state.uuid);
    assert_eq!(run1(&mut state, "web/0", &["secret-get", &uri]).code, 1);
    if let Some(s) = state.secrets.get_mut(&id) {
        s.grants.insert(
            "web".into(),
            juju_sim::state::SecretGrant {
                relation_id: None,
                unit: None,
            },
        );
    }
    assert_eq!(
        out(&run1(&mut state, "web/0", &["secret-get", &uri])),
        "token: t\n"
    );
}

#[test]
fn actions() {
    let mut state = model();
    let mut scope = HookScope::new(&mut state, "db/0", "rotate");
    scope.action = Some(ActionRun {
        name: "rotate".into(),
        params: json!({ "user": "bob", "opts": { "force": true } })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        ..ActionRun::default()
    });
    assert_eq!(
        out(&call(&mut scope, &["action-get", "--format=json"])),
        "{\"opts\":{\"force\":true},\"user\":\"bob\"}\n"
    );
    assert_eq!(
        out(&call(&mut scope, &["action-get", "opts.force"])),
        "True\n"
    );
    assert_eq!(
        call(&mut scope, &["action-set", "a.b=1", "a.c=2", "top=x"]).code,
        0
    );
    let r = call(&mut scope, &["action-set", "Bad=1"]);
    assert_eq!(r.code, 2);
    let r = call(&mut scope, &["action-set", "stdout=1"]);
    assert_eq!(err(&r), "ERROR cannot set reserved action key \"stdout\"\n");
    assert_eq!(call(&mut scope, &["action-log", "working"]).code, 0);
    assert_eq!(call(&mut scope, &["action-fail", "no luck"]).code, 0);
    let (_, action) = scope.discard();
    let action = action.unwrap_or_default();
    assert_eq!(
        serde_json::Value::Object(action.results),
        json!({ "a": { "b": "1", "c": "2" }, "top": "x" })
    );
    assert_eq!(action.failed.as_deref(), Some("no luck"));
    assert_eq!(action.log, vec!["working"]);
}

#[test]
fn storage_get_defaults_to_the_hooks_storage() {
    let mut state = model();
    let mut scope = HookScope::new(&mut state, "db/0", "data-storage-attached");
    let r = call(&mut scope, &["storage-get", "location"]);
    assert_eq!(out(&r), "/tmp/sim/db-0/data\n");
    scope.discard();
    let mut scope = HookScope::new(&mut state, "db/0", "install");
    scope.storage_id = Some("data/0".into());
    let r = call(&mut scope, &["storage-get", "--format=json"]);
    assert_eq!(
        out(&r),
        "{\"kind\":\"filesystem\",\"location\":\"/tmp/sim/db-0/data\"}\n"
    );
    scope.discard();
}

#[test]
fn network_get_is_shaped_like_juju() {
    let mut state = model();
    let r = run1(
        &mut state,
        "db/0",
        &["network-get", "database", "--format=json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap_or_default();
    assert_eq!(v["bind-addresses"][0]["addresses"][0]["value"], "127.0.0.1");
    assert_eq!(
        v["bind-addresses"][0]["addresses"][0]["cidr"],
        "127.0.0.1/32"
    );
    assert_eq!(v["ingress-addresses"][0], "127.0.0.1");
    assert_eq!(v["egress-subnets"][0], "127.0.0.1/32");
}

#[test]
fn untrusted_input_never_panics() {
    let mut state = model();
    let weird: &[&[&str]] = &[
        &[],
        &[""],
        &["relation-get", "--", "-r"],
        &["relation-get", "-r"],
        &["relation-set", "-r", "1", "--file", "-"],
        &["relation-set", "-r", "1", "--file", "/nonexistent/file"],
        &["secret-get", "secret://"],
        &["secret-add", "=x"],
        &["secret-add", "abc#base64=!!!"],
        &["open-port", "0/tcp"],
        &["open-port", "70000"],
        &["open-port", "10-5"],
        &["action-set", "a..b=1"],
        &["storage-get", "-s", ""],
        &["status-set", "--application=maybe", "active"],
    ];
    for argv in weird {
        let mut scope = HookScope::new(&mut state, "db/0", "x");
        let r = dispatch(&mut scope, &req(argv, "[1, {unbalanced"));
        assert_ne!(r.code, 0, "{argv:?}");
        scope.discard();
    }
}

#[test]
fn a_relation_is_gone_for_a_unit_after_its_broken_hook() {
    // Juju lists a relation during its relation-broken hook but not in the unit's later hooks
    // (e.g. those after a pod restart), even while the other side has not run broken yet.
    let mut state = model();
    assert_eq!(
        out(&run1(
            &mut state,
            "web/0",
            &["relation-ids", "db", "--format=json"]
        ))
        .trim(),
        r#"["db:1"]"#
    );
    if let Some(rel) = state.relations.iter_mut().find(|r| r.id == 1) {
        rel.broken_for.insert("web/0".into());
    }
    assert_eq!(
        out(&run1(
            &mut state,
            "web/0",
            &["relation-ids", "db", "--format=json"]
        ))
        .trim(),
        "[]"
    );
    let gone = run1(
        &mut state,
        "web/0",
        &[
            "relation-get",
            "-r",
            "1",
            "--app",
            "-",
            "db",
            "--format=json",
        ],
    );
    assert_ne!(gone.code, 0, "relation 1 must not be readable after broken");
    assert!(err(&gone).contains("relation not found"), "{}", err(&gone));
    // The other side still sees it until its own broken hook has run.
    assert_eq!(
        out(&run1(
            &mut state,
            "db/0",
            &["relation-ids", "database", "--format=json"]
        ))
        .trim(),
        r#"["database:1"]"#
    );
}
