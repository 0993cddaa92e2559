//! Untrusted input never panics: hook-tool arguments and stdin, Pebble request bodies, layer
//! YAML and multipart bodies (property tests standing in for fuzz targets).

use std::collections::BTreeMap;

use juju_sim::pebble::{self, PebbleState};
use juju_sim::state::{Application, HookScope, ModelState, Relation, RelationEnd, Unit};
use juju_sim::tools::{TOOL_NAMES, ToolRequest, dispatch};
use proptest::prelude::*;

fn model() -> ModelState {
    let unit = Unit {
        name: "a/0".into(),
        ..Unit::default()
    };
    let a = Application {
        name: "a".into(),
        units: BTreeMap::from([("a/0".into(), unit)]),
        leader: Some("a/0".into()),
        planned_units: 1,
        ..Application::default()
    };
    let end = RelationEnd {
        app: "a".into(),
        endpoint: "peers".into(),
    };
    ModelState {
        name: "m".into(),
        uuid: "u".into(),
        applications: BTreeMap::from([("a".into(), a)]),
        relations: vec![Relation {
            id: 0,
            endpoints: [end.clone(), end],
            app_data: BTreeMap::new(),
            unit_data: BTreeMap::new(),
            units_joined: BTreeMap::new(),
            dying: false,
            broken_for: std::collections::BTreeSet::new(),
        }],
        ..ModelState::default()
    }
}

/// Arguments drawn from flag-like, key=value-like, URI-like and arbitrary strings.
fn arg() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("-".to_owned()),
        Just("--".to_owned()),
        Just("--app".to_owned()),
        Just("-r".to_owned()),
        Just("--format=json".to_owned()),
        Just("--file".to_owned()),
        Just("--label".to_owned()),
        "[-a-z#=./:0-9]{0,12}",
        ".{0,16}",
    ]
}

proptest! {
    #[test]
    fn tools_never_panic(
        tool in prop::sample::select(TOOL_NAMES),
        args in prop::collection::vec(arg(), 0..6),
        stdin in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut state = model();
        let mut scope = HookScope::new(&mut state, "a/0", "x");
        scope.relation_id = Some(0);
        let mut argv = vec![tool.to_owned()];
        argv.extend(args);
        let resp = dispatch(&mut scope, &ToolRequest { argv, stdin, context_id: String::new() });
        prop_assert!(resp.code == 0 || !resp.stderr.is_empty());
        scope.commit();
    }

    #[test]
    fn pebble_handler_never_panics(
        method in prop::sample::select(vec!["GET", "POST", "PUT"]),
        path in prop::sample::select(vec![
            "/v1/layers", "/v1/plan", "/v1/services", "/v1/files", "/v1/checks",
            "/v1/changes/1/wait", "/v1/system-info", "/x",
        ]),
        query in prop::collection::vec(("[a-z]{1,8}", ".{0,12}"), 0..4),
        content_type in prop::sample::select(vec![
            "application/json", "multipart/form-data; boundary=b", "multipart/form-data", "text/plain",
        ]),
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut state = PebbleState::new(dir.path().join("root"), Vec::new())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let req = pebble::Request {
            method: method.into(),
            path: path.into(),
            query,
            content_type: content_type.into(),
            body,
        };
        let reply = pebble::handle(&mut state, &req);
        prop_assert!((200..600).contains(&reply.status));
    }

    #[test]
    fn layer_parser_never_panics(yaml in ".{0,200}") {
        let _ = pebble::plan::parse_layer("l", &yaml);
    }

    #[test]
    fn multipart_parser_never_panics(
        body in prop::collection::vec(
            prop_oneof![Just(b"--b".to_vec()), Just(b"\r\n".to_vec()), prop::collection::vec(any::<u8>(), 0..8)],
            0..24,
        ),
    ) {
        let body: Vec<u8> = body.concat();
        let _ = pebble::files::parse_multipart(&body, "b");
    }

    #[test]
    fn glob_never_panics(pattern in "[\\[\\]*?\\\\a-c^!-]{0,10}", name in "[a-c\\[\\]]{0,8}") {
        let _ = pebble::files::glob_match(pattern.as_bytes(), name.as_bytes());
    }
}

#[test]
fn glob_matches_like_go_path_match_and_stays_linear() {
    let m = |p: &str, n: &str| pebble::files::glob_match(p.as_bytes(), n.as_bytes());
    assert!(m("*.txt", "a.txt"));
    assert!(!m("*.txt", "a.json"));
    assert!(m("a?c", "abc"));
    assert!(m("[a-c]x", "bx"));
    assert!(!m("[^a]x", "ax"));
    assert!(m("[!a]x", "bx"));
    assert!(m("\\*", "*"));
    assert!(m("*", ""));
    assert!(m("a*b*c", "aXbYbZc"));
    assert!(!m("[unclosed", "u"));
    let hostile = "*".repeat(200) + "b";
    let name = "a".repeat(255);
    assert!(!m(&hostile, &name));
}
