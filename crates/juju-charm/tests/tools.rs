//! Every hook tool wrapper against the recording fake: exact argv and stdin, parsing of real
//! output samples (from ops' `test/test_hookcmds.py` and `test/test_model.py`), error texts.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use juju_charm::tools::fake::RecordingRunner;
use juju_charm::tools::model::Goal;
use juju_charm::tools::ports::{Port, Protocol};
use juju_charm::tools::secret::{Revision, SecretMeta, SecretOwner, SecretRef};
use juju_charm::tools::unit::LogLevel;
use juju_charm::{SecretString, Status, ToolError, Tools};

fn setup() -> (Arc<RecordingRunner>, Tools) {
    let fake = Arc::new(RecordingRunner::new());
    (fake.clone(), Tools::new(fake))
}

fn sv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

fn bag(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn relation_ids_parses_endpoint_prefixed_ids() {
    let (fake, tools) = setup();
    fake.reply("relation-ids", r#"["vpn-gateway:1", "vpn-gateway:17"]"#);
    assert_eq!(tools.relation_ids("vpn-gateway").unwrap(), vec![1, 17]);
    assert_eq!(
        fake.argvs(),
        vec![sv(&["relation-ids", "vpn-gateway", "--format=json"])]
    );
}

#[test]
fn relation_ids_bad_id_is_bad_output() {
    let (fake, tools) = setup();
    fake.reply("relation-ids", r#"["vpn-gateway:x"]"#);
    assert!(matches!(
        tools.relation_ids("vpn-gateway"),
        Err(ToolError::BadOutput { .. })
    ));
}

#[test]
fn relation_list_and_remote_app() {
    let (fake, tools) = setup();
    fake.reply("relation-list", r#"["qbittorrent/0", "qbittorrent/1"]"#)
        .reply("relation-list", r#""qbittorrent""#)
        .reply("relation-list", "null");
    assert_eq!(
        tools.relation_list(5).unwrap(),
        sv(&["qbittorrent/0", "qbittorrent/1"])
    );
    assert_eq!(
        tools.relation_remote_app(5).unwrap().as_deref(),
        Some("qbittorrent")
    );
    assert_eq!(tools.relation_list(5).unwrap(), Vec::<String>::new());
    assert_eq!(
        fake.argvs(),
        vec![
            sv(&["relation-list", "--format=json", "-r", "5"]),
            sv(&["relation-list", "--format=json", "--app", "-r", "5"]),
            sv(&["relation-list", "--format=json", "-r", "5"]),
        ]
    );
}

#[test]
fn relation_get_unit_and_app() {
    let (fake, tools) = setup();
    fake.reply(
        "relation-get",
        r#"{"ingress-address": "10.1.2.3", "private-address": "10.1.2.3"}"#,
    )
    .reply(
        "relation-get",
        r#"{"config": "{\"instance_name\": \"qbittorrent\"}"}"#,
    )
    .reply("relation-get", "null");
    let unit = tools.relation_get(3, "qbittorrent/0").unwrap();
    assert_eq!(unit["ingress-address"], "10.1.2.3");
    let app = tools.relation_get_app(3, "qbittorrent").unwrap();
    assert_eq!(app["config"], r#"{"instance_name": "qbittorrent"}"#);
    assert!(tools.relation_get_app(3, "gluetun").unwrap().is_empty());
    assert_eq!(
        fake.argvs(),
        vec![
            sv(&[
                "relation-get",
                "--format=json",
                "-r",
                "3",
                "-",
                "qbittorrent/0"
            ]),
            sv(&[
                "relation-get",
                "--format=json",
                "-r",
                "3",
                "--app",
                "-",
                "qbittorrent"
            ]),
            sv(&[
                "relation-get",
                "--format=json",
                "-r",
                "3",
                "--app",
                "-",
                "gluetun"
            ]),
        ]
    );
}

#[test]
fn relation_get_non_string_values_are_bad_output() {
    let (fake, tools) = setup();
    fake.reply("relation-get", r#"{"config": 5}"#);
    assert!(matches!(
        tools.relation_get(3, "x/0"),
        Err(ToolError::BadOutput { tool, .. }) if tool == "relation-get"
    ));
}

#[test]
fn relation_get_refuses_a_bag_over_the_bound_before_parsing_it() {
    use juju_charm::tools::Stream;
    use juju_charm::tools::relation::MAX_DATABAG_BYTES;
    let (fake, tools) = setup();
    // A bag exactly at the bound is read; one byte more is refused by its size, even when it
    // is not JSON at all (so it was never parsed).
    let prefix = r#"{"config": ""#;
    let suffix = r#""}"#;
    let at_bound = format!(
        "{prefix}{}{suffix}",
        "x".repeat(MAX_DATABAG_BYTES - prefix.len() - suffix.len())
    );
    assert_eq!(at_bound.len(), MAX_DATABAG_BYTES);
    fake.reply("relation-get", &at_bound)
        .reply("relation-get", &format!("{at_bound} "))
        .reply("relation-get", &"[".repeat(MAX_DATABAG_BYTES + 1));
    let bag = tools.relation_get_app(3, "gluetun").unwrap();
    assert_eq!(
        bag["config"].len(),
        MAX_DATABAG_BYTES - prefix.len() - suffix.len()
    );
    for _ in 0..2 {
        let err = tools.relation_get_app(3, "gluetun").unwrap_err();
        assert!(
            matches!(&err, ToolError::OutputTooLarge { tool, stream: Stream::Stdout, limit }
                if tool == "relation-get" && *limit == MAX_DATABAG_BYTES),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("relation-get wrote more than {MAX_DATABAG_BYTES} bytes to stdout")
        );
        assert!(!err.is_transient());
    }
}

#[test]
fn relation_set_passes_data_on_stdin_only() {
    let (fake, tools) = setup();
    let secretish = "p@ss word: yes\nno";
    let data = bag(&[
        ("config", r#"{"vxlan_id": 42}"#),
        ("other", secretish),
        ("flag", "true"),
    ]);
    tools.relation_set_app(7, &data).unwrap();
    tools.relation_set(7, &bag(&[("k", "")])).unwrap();
    let calls = fake.calls();
    assert_eq!(
        calls[0].argv(),
        sv(&["relation-set", "-r", "7", "--app", "--file", "-"])
    );
    assert_eq!(
        calls[1].argv(),
        sv(&["relation-set", "-r", "7", "--file", "-"])
    );
    // No value on the command line.
    assert!(
        calls[0]
            .args
            .iter()
            .all(|a| !a.contains("vxlan") && !a.contains("p@ss"))
    );
    // stdin is YAML (JSON form): every value reads back as the same string.
    let stdin = calls[0].stdin.as_deref().unwrap();
    let back: BTreeMap<String, String> = serde_saphyr::from_str(stdin).unwrap();
    assert_eq!(back, data);
    assert_eq!(calls[1].stdin.as_deref(), Some(r#"{"k":""}"#));
}

#[test]
fn relation_set_refuses_empty_data_without_running() {
    let (fake, tools) = setup();
    assert!(matches!(
        tools.relation_set(1, &BTreeMap::new()),
        Err(ToolError::InvalidArgument { .. })
    ));
    assert!(fake.calls().is_empty());
}

#[test]
fn relation_errors_are_typed_from_juju_stderr() {
    let (fake, tools) = setup();
    fake.fail(
        "relation-get",
        1,
        "ERROR invalid value \"6\" for option -r: relation not found\n",
    )
    .fail("relation-set", 1, "ERROR permission denied\n")
    .fail("relation-list", 2, "ERROR something else\n");
    let err = tools.relation_get(6, "a/0").unwrap_err();
    assert!(
        matches!(&err, ToolError::RelationNotFound { stderr, .. } if stderr == "ERROR invalid value \"6\" for option -r: relation not found"),
        "{err:?}"
    );
    assert!(matches!(
        tools.relation_set_app(6, &bag(&[("a", "b")])),
        Err(ToolError::PermissionDenied { .. })
    ));
    assert!(matches!(
        tools.relation_list(6),
        Err(ToolError::Failed { code: Some(2), .. })
    ));
}

#[test]
fn config_into_callers_struct() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "kebab-case")]
    struct Config {
        vxlan_id: u32,
        cluster_cidrs: String,
        dns_over_tls: bool,
        #[serde(default)]
        server_countries: Option<String>,
    }
    let (fake, tools) = setup();
    fake.reply(
        "config-get",
        r#"{"vxlan-id": 42, "cluster-cidrs": "10.0.0.0/8", "dns-over-tls": false}"#,
    )
    .reply("config-get", r#"{"vxlan-id": "x"}"#);
    let config: Config = tools.config().unwrap();
    assert_eq!(
        config,
        Config {
            vxlan_id: 42,
            cluster_cidrs: "10.0.0.0/8".into(),
            dns_over_tls: false,
            server_countries: None
        }
    );
    assert!(matches!(
        tools.config::<Config>(),
        Err(ToolError::BadOutput { .. })
    ));
    assert_eq!(fake.argvs()[0], sv(&["config-get", "--format=json"]));
}

#[test]
fn is_leader() {
    let (fake, tools) = setup();
    fake.reply("is-leader", "true\n")
        .reply("is-leader", "false")
        .reply("is-leader", "yes");
    assert!(tools.is_leader().unwrap());
    assert!(!tools.is_leader().unwrap());
    assert!(matches!(
        tools.is_leader(),
        Err(ToolError::BadOutput { .. })
    ));
    assert_eq!(fake.argvs()[0], sv(&["is-leader", "--format=json"]));
}

#[test]
fn status_set_unit_and_application() {
    let (fake, tools) = setup();
    tools
        .status_set(
            &Status::blocked("Scale to 1 unit (multiple gateways cause VXLAN conflicts)"),
            false,
        )
        .unwrap();
    tools.status_set(&Status::active(""), true).unwrap();
    assert!(matches!(
        tools.status_set(&Status::error("x"), false),
        Err(ToolError::InvalidArgument { .. })
    ));
    assert_eq!(
        fake.argvs(),
        vec![
            sv(&[
                "status-set",
                "--application=False",
                "blocked",
                "--",
                "Scale to 1 unit (multiple gateways cause VXLAN conflicts)"
            ]),
            sv(&["status-set", "--application=True", "active", "--", ""]),
        ]
    );
}

#[test]
fn application_version_set_and_juju_log() {
    let (fake, tools) = setup();
    tools.application_version_set("v3.41.1").unwrap();
    tools
        .juju_log(LogLevel::Warning, "-starts with a dash")
        .unwrap();
    assert_eq!(
        fake.argvs(),
        vec![
            sv(&["application-version-set", "--", "v3.41.1"]),
            sv(&[
                "juju-log",
                "--log-level",
                "WARNING",
                "--",
                "-starts with a dash"
            ]),
        ]
    );
}

#[test]
fn juju_log_splits_long_messages_like_ops() {
    let (fake, tools) = setup();
    let max = juju_charm::tools::unit::MAX_LOG_LINE_LEN;
    let message = "é".repeat(max + 5);
    tools.juju_log(LogLevel::Info, &message).unwrap();
    let argvs = fake.argvs();
    assert_eq!(argvs.len(), 3);
    assert!(argvs[0][4].starts_with("Log string greater than 131071."));
    assert_eq!(argvs[1][4].chars().count(), max);
    assert_eq!(argvs[2][4], "é".repeat(5));
}

#[test]
fn goal_state_planned_units_skip_dying() {
    let (fake, tools) = setup();
    // Sample shape from ops test_hookcmds.py / Juju docs.
    fake.reply(
        "goal-state",
        r#"{"units": {"gluetun/0": {"status": "active", "since": "2026-01-04 06:29:46Z"},
                      "gluetun/1": {"status": "waiting", "since": "2026-01-04 06:29:47Z"},
                      "gluetun/2": {"status": "dying", "since": "2026-01-04 06:29:48Z"}},
            "relations": {"vpn-gateway": {"qbittorrent": {"status": "joined", "since": "2026-01-04 06:30:00Z"}}}}"#,
    )
    .reply("goal-state", r#"{"units": {}, "relations": {}}"#);
    let gs = tools.goal_state().unwrap();
    assert_eq!(gs.planned_units(), 2);
    assert_eq!(
        gs.relations["vpn-gateway"]["qbittorrent"],
        Goal {
            status: "joined".into(),
            since: Some("2026-01-04 06:30:00Z".into())
        }
    );
    assert_eq!(tools.planned_units().unwrap(), 0);
    assert_eq!(fake.argvs()[0], sv(&["goal-state", "--format=json"]));
}

#[test]
fn secret_get_by_id_and_label_with_revisions() {
    let (fake, tools) = setup();
    fake.reply("secret-get", r#"{"private-key": "c2VjcmV0"}"#)
        .reply("secret-get", r#"{"password": "hunter2"}"#)
        .reply("secret-get", r#"{"password": "hunter3"}"#);
    let content = tools
        .secret_get(SecretRef::Id("secret:cn9abc"), Revision::Tracked)
        .unwrap();
    assert_eq!(content["private-key"].expose(), "c2VjcmV0");
    let content = tools
        .secret_get(SecretRef::Label("webui"), Revision::Refresh)
        .unwrap();
    // Redacted in Debug output.
    assert!(!format!("{content:?}").contains("hunter2"));
    assert_eq!(content["password"].expose(), "hunter2");
    tools
        .secret_get(SecretRef::Label("webui"), Revision::Peek)
        .unwrap();
    assert_eq!(
        fake.argvs(),
        vec![
            sv(&["secret-get", "--format=json", "secret:cn9abc"]),
            sv(&[
                "secret-get",
                "--format=json",
                "--label",
                "webui",
                "--refresh"
            ]),
            sv(&["secret-get", "--format=json", "--label", "webui", "--peek"]),
        ]
    );
}

#[test]
fn secret_not_found_is_typed() {
    let (fake, tools) = setup();
    fake.fail("secret-get", 1, "ERROR secret \"123\" not found\n");
    assert!(matches!(
        tools.secret_get(SecretRef::Id("123"), Revision::Tracked),
        Err(ToolError::SecretNotFound { .. })
    ));
}

#[test]
fn secret_add_passes_content_through_private_files() {
    let (fake, tools) = setup();
    fake.reply("secret-add", "secret:cn9new\n");
    let content = BTreeMap::from([
        ("password".to_owned(), SecretString::new("hunter2")),
        ("username".to_owned(), SecretString::new("admin")),
    ]);
    let meta = SecretMeta {
        label: Some("webui"),
        description: Some("WebUI credentials"),
        owner: SecretOwner::Application,
    };
    assert_eq!(tools.secret_add(&content, &meta).unwrap(), "secret:cn9new");
    let call = &fake.calls()[0];
    assert_eq!(
        call.args[..6],
        sv(&[
            "--label",
            "webui",
            "--description",
            "WebUI credentials",
            "--owner",
            "application"
        ])
    );
    assert_eq!(call.args.len(), 8);
    // No value on the command line; each key points at a 0600 file holding its value.
    assert!(
        call.args
            .iter()
            .all(|a| !a.contains("hunter2") && !a.contains("admin"))
    );
    assert!(call.args[6].starts_with("password#file="));
    assert!(call.args[7].starts_with("username#file="));
    assert_eq!(call.files["password"].content, "hunter2");
    assert_eq!(call.files["password"].mode, 0o600);
    assert_eq!(call.files["username"].content, "admin");
    // The files and their private directory are gone afterwards.
    let path = PathBuf::from(&call.files["password"].path);
    assert!(!path.exists());
    assert!(!path.parent().unwrap().exists());
}

#[test]
fn secret_add_rejects_bad_keys_and_empty_content_without_running() {
    let (fake, tools) = setup();
    for key in ["../etc", "ab", "a-b", "Abc", "abc-", "a--bc", "1abc", ""] {
        let content = BTreeMap::from([(key.to_owned(), SecretString::new("v"))]);
        assert!(
            matches!(
                tools.secret_add(&content, &SecretMeta::default()),
                Err(ToolError::InvalidArgument { .. })
            ),
            "{key:?}"
        );
    }
    assert!(matches!(
        tools.secret_add(&BTreeMap::new(), &SecretMeta::default()),
        Err(ToolError::InvalidArgument { .. })
    ));
    assert!(fake.calls().is_empty());
    // Valid per ops' `_key_re`.
    for key in ["abc", "a-bc", "private-key", "a1b2"] {
        let content = BTreeMap::from([(key.to_owned(), SecretString::new("v"))]);
        tools
            .secret_add(&content, &SecretMeta::default())
            .unwrap_err();
    }
    // (The fake answered "" so the id is missing: BadOutput, but the tool ran each time.)
    assert_eq!(fake.calls().len(), 4);
}

#[test]
fn secret_set_with_and_without_content() {
    let (fake, tools) = setup();
    let content = BTreeMap::from([("api-key".to_owned(), SecretString::new("k3y"))]);
    tools
        .secret_set(
            "secret:abc",
            Some(&content),
            &SecretMeta {
                owner: SecretOwner::Unit,
                ..SecretMeta::default()
            },
        )
        .unwrap();
    tools
        .secret_set(
            "secret:abc",
            None,
            &SecretMeta {
                label: Some("l"),
                ..SecretMeta::default()
            },
        )
        .unwrap();
    let calls = fake.calls();
    assert_eq!(calls[0].args[..3], sv(&["--owner", "unit", "secret:abc"]));
    assert!(calls[0].args[3].starts_with("api-key#file="));
    assert_eq!(calls[0].files["api-key"].content, "k3y");
    assert_eq!(
        calls[1].argv(),
        sv(&[
            "secret-set",
            "--label",
            "l",
            "--owner",
            "application",
            "secret:abc"
        ])
    );
}

#[test]
fn secret_grant_info_remove() {
    let (fake, tools) = setup();
    fake.reply(
        "secret-info-get",
        r#"{"cn9abc": {"label": "lbl", "description": "desc", "expiry": null, "rotation": null, "rotates": null, "revision": 1}}"#,
    )
    .reply("secret-info-get", "{}");
    tools.secret_grant("secret:abc", 4, None).unwrap();
    tools.secret_grant("secret:abc", 4, Some("q/0")).unwrap();
    let info = tools.secret_info_get(SecretRef::Label("lbl")).unwrap();
    assert_eq!(info.id, "cn9abc");
    assert_eq!(info.label.as_deref(), Some("lbl"));
    assert_eq!(info.revision, 1);
    assert!(matches!(
        tools.secret_info_get(SecretRef::Id("secret:abc")),
        Err(ToolError::BadOutput { .. })
    ));
    tools.secret_revoke("secret:abc", 4, Some("q/0")).unwrap();
    tools.secret_remove("secret:abc", None).unwrap();
    tools.secret_remove("secret:abc", Some(3)).unwrap();
    assert_eq!(
        fake.argvs(),
        vec![
            sv(&["secret-grant", "--relation", "4", "secret:abc"]),
            sv(&[
                "secret-grant",
                "--relation",
                "4",
                "--unit",
                "q/0",
                "secret:abc"
            ]),
            sv(&["secret-info-get", "--format=json", "--label", "lbl"]),
            sv(&["secret-info-get", "--format=json", "secret:abc"]),
            sv(&[
                "secret-revoke",
                "--relation",
                "4",
                "--unit",
                "q/0",
                "secret:abc"
            ]),
            sv(&["secret-remove", "secret:abc"]),
            sv(&["secret-remove", "secret:abc", "--revision", "3"]),
        ]
    );
}

#[test]
fn ports_open_close_and_parse() {
    let (fake, tools) = setup();
    fake.reply(
        "opened-ports",
        r#"["8080/tcp", "icmp", "8081-8090/udp", "80"]"#,
    )
    .reply("opened-ports", r#"["8080/sctp"]"#);
    tools.open_port(Port::tcp(8080)).unwrap();
    tools.close_port(Port::udp(53)).unwrap();
    tools.open_port(Port::icmp()).unwrap();
    let ports = tools.opened_ports().unwrap();
    assert_eq!(
        ports,
        vec![
            Port::tcp(8080),
            Port::icmp(),
            Port {
                protocol: Protocol::Udp,
                from: Some(8081),
                to: Some(8090)
            },
            Port::tcp(80),
        ]
    );
    assert!(matches!(
        tools.opened_ports(),
        Err(ToolError::BadOutput { .. })
    ));
    assert_eq!(
        fake.argvs()[..4],
        vec![
            sv(&["open-port", "8080/tcp"]),
            sv(&["close-port", "53/udp"]),
            sv(&["open-port", "icmp"]),
            sv(&["opened-ports", "--format=json"]),
        ]
    );
}

#[test]
fn actions() {
    #[derive(serde::Deserialize)]
    struct Params {
        length: u32,
    }
    let (fake, tools) = setup();
    fake.reply("action-get", r#"{"length": 24}"#);
    assert_eq!(tools.action_get::<Params>().unwrap().length, 24);
    tools
        .action_set(&bag(&[("username", "admin"), ("a.b", "c")]))
        .unwrap();
    assert!(matches!(
        tools.action_set(&bag(&[("Bad_Key", "x")])),
        Err(ToolError::InvalidArgument { .. })
    ));
    tools.action_fail("no relation").unwrap();
    tools.action_log("-rotating").unwrap();
    assert_eq!(
        fake.argvs(),
        vec![
            sv(&["action-get", "--format=json"]),
            sv(&["action-set", "a.b=c", "username=admin"]),
            sv(&["action-fail", "--", "no relation"]),
            sv(&["action-log", "--", "-rotating"]),
        ]
    );
}

#[test]
fn storage() {
    let (fake, tools) = setup();
    fake.reply(
        "storage-get",
        r#"{"kind": "filesystem", "location": "/config"}"#,
    )
    .reply(
        "storage-get",
        r#"{"kind": "block", "location": "/path/to/storage"}"#,
    )
    .reply("storage-list", r#"["config/0", "downloads/1"]"#)
    .reply("storage-list", r#"["config/0"]"#);
    let info = tools.storage_get(None).unwrap();
    assert_eq!(
        (info.kind.as_str(), info.location),
        ("filesystem", PathBuf::from("/config"))
    );
    tools.storage_get(Some("stor/1")).unwrap();
    assert_eq!(tools.storage_list(None).unwrap().len(), 2);
    assert_eq!(
        tools.storage_list(Some("config")).unwrap(),
        sv(&["config/0"])
    );
    assert_eq!(
        fake.argvs(),
        vec![
            sv(&["storage-get", "--format=json"]),
            sv(&["storage-get", "--format=json", "-s", "stor/1"]),
            sv(&["storage-list", "--format=json"]),
            sv(&["storage-list", "--format=json", "config"]),
        ]
    );
}

#[test]
fn network_get_sample() {
    let (fake, tools) = setup();
    // ops test_hookcmds.py::test_network_get.
    fake.reply(
        "network-get",
        r#"{"bind-addresses": [{"mac-address": "aa:bb", "interface-name": "eth0",
             "addresses": [{"hostname": "host", "value": "127.0.0.1", "cidr": "127.0.0.0/24"}]}],
            "egress-subnets": ["127.0.0.0/24"], "ingress-addresses": ["127.0.0.1"]}"#,
    )
    .reply(
        "network-get",
        r#"{"bind-addresses": [{"interface-name": "eth0", "addresses": null}], "egress-subnets": null}"#,
    )
    .fail("network-get", 1, "ERROR invalid value \"9\" for option -r: relation not found");
    let net = tools.network_get("vpn-gateway", None).unwrap();
    assert_eq!(net.bind_addresses[0].mac_address, "aa:bb");
    assert_eq!(net.bind_addresses[0].addresses[0].value, "127.0.0.1");
    assert_eq!(net.bind_addresses[0].addresses[0].cidr, "127.0.0.0/24");
    assert_eq!(net.ingress_addresses, sv(&["127.0.0.1"]));
    let net = tools.network_get("vpn-gateway", Some(3)).unwrap();
    assert!(net.bind_addresses[0].addresses.is_empty());
    assert!(matches!(
        tools.network_get("vpn-gateway", Some(9)),
        Err(ToolError::RelationNotFound { .. })
    ));
    assert_eq!(
        fake.argvs()[..2],
        vec![
            sv(&["network-get", "--format=json", "vpn-gateway"]),
            sv(&["network-get", "--format=json", "-r", "3", "vpn-gateway"]),
        ]
    );
}

#[test]
fn error_classification_table() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "relation-get",
            "ERROR invalid value \"6\" for option -r: relation not found",
            "RelationNotFound",
        ),
        (
            "network-get",
            "ERROR relation 5 not found",
            "RelationNotFound",
        ),
        (
            "relation-list",
            "ERROR relation \"db:5\" not found",
            "RelationNotFound",
        ),
        (
            "relation-get",
            "ERROR cannot read settings for unit \"x/0\" in relation \"db:5\": settings not found",
            "Failed",
        ),
        (
            "secret-get",
            "ERROR secret \"123\" not found",
            "SecretNotFound",
        ),
        (
            "secret-info-get",
            "ERROR secret \"abc\" Not Found",
            "SecretNotFound",
        ),
        (
            "relation-set",
            "ERROR permission denied",
            "PermissionDenied",
        ),
        ("secret-set", "ERROR: access denied", "PermissionDenied"),
        ("status-set", "ERROR: not the leader", "PermissionDenied"),
        (
            "relation-set",
            "ERROR cannot write relation settings",
            "PermissionDenied",
        ),
        // "not found" only means a missing secret for secret-* tools.
        ("config-get", "ERROR key not found", "Failed"),
        ("relation-get", "ERROR secret not found", "Failed"),
        ("open-port", "ERROR bad protocol", "Failed"),
    ];
    for (tool, stderr, want) in cases {
        let got = match ToolError::from_failure(tool, Some(1), stderr) {
            ToolError::RelationNotFound { .. } => "RelationNotFound",
            ToolError::SecretNotFound { .. } => "SecretNotFound",
            ToolError::PermissionDenied { .. } => "PermissionDenied",
            ToolError::Failed { .. } => "Failed",
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(got, *want, "{tool}: {stderr}");
    }
}

#[test]
fn transient_errors() {
    assert!(
        ToolError::from_failure("status-set", Some(1), "ERROR connection reset").is_transient()
    );
    assert!(
        !ToolError::from_failure("secret-get", Some(1), "ERROR secret \"x\" not found")
            .is_transient()
    );
    assert!(
        !ToolError::from_failure("relation-set", Some(1), "ERROR permission denied").is_transient()
    );
    assert!(!ToolError::ToolMissing { tool: "x".into() }.is_transient());
}

#[test]
fn tool_missing_from_fake() {
    let (fake, tools) = setup();
    fake.missing("is-leader");
    assert!(
        matches!(tools.is_leader(), Err(ToolError::ToolMissing { tool }) if tool == "is-leader")
    );
}

#[test]
fn secret_string_redacts() {
    let s = SecretString::new("hunter2");
    assert_eq!(format!("{s}"), "[REDACTED]");
    assert_eq!(format!("{s:?}"), "[REDACTED]");
    assert_eq!(s.expose(), "hunter2");
}

#[test]
fn secret_ids() {
    let (fake, tools) = setup();
    fake.reply("secret-ids", r#"["secret:id1", "secret:id2"]"#);
    assert_eq!(
        tools.secret_ids().unwrap(),
        sv(&["secret:id1", "secret:id2"])
    );
    assert_eq!(fake.argvs(), vec![sv(&["secret-ids", "--format=json"])]);
}

#[test]
fn background_reads_overlap_and_yield_their_results() {
    let fake = Arc::new(RecordingRunner::new());
    fake.reply("config-get", r#"{"vpn-provider": "mullvad"}"#);
    fake.reply("relation-ids", r#"["vpn-gateway:3"]"#);
    let tools = Tools::new(fake.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (config, ids) = runtime.block_on(async {
        let config = tools.background(Tools::config::<serde_json::Map<String, serde_json::Value>>);
        let ids = tools.background(|t| t.relation_ids("vpn-gateway"));
        (config.await, ids.await)
    });
    assert_eq!(config.unwrap()["vpn-provider"], "mullvad");
    assert_eq!(ids.unwrap(), [3]);
    let mut called: Vec<String> = fake.calls().into_iter().map(|c| c.tool).collect();
    called.sort();
    assert_eq!(called, ["config-get", "relation-ids"]);
}

#[test]
fn background_without_a_runtime_runs_at_once() {
    let fake = Arc::new(RecordingRunner::new());
    fake.reply("is-leader", "true");
    let tools = Tools::new(fake.clone());
    let leader = tools.background(Tools::is_leader);
    // Already run: recorded before anything awaits it.
    assert_eq!(fake.calls().len(), 1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(runtime.block_on(leader).unwrap());
}

#[test]
#[should_panic(expected = "tool closure panicked")]
fn background_panics_reach_the_awaiting_task() {
    let tools = Tools::new(Arc::new(RecordingRunner::new()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let read = tools.background(|_| -> u8 { panic!("tool closure panicked") });
        read.await
    });
}
