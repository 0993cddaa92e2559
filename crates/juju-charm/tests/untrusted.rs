//! Tool output is untrusted: whatever a hook tool prints, every parsing wrapper returns a
//! value or a typed error, never a panic.

use std::sync::Arc;

use juju_charm::Tools;
use juju_charm::tools::fake::RecordingRunner;
use juju_charm::tools::ports::Port;
use juju_charm::tools::secret::{Revision, SecretRef};
use proptest::prelude::*;

fn json_like() -> impl Strategy<Value = String> {
    prop_oneof![
        ".*",
        r#"\[("[a-z0-9:/ -]{0,12}"(, )?){0,4}\]"#,
        r#"\{("[a-z-]{0,8}": ("[^"\\]{0,8}"|[0-9-]{1,4}|null|true|\{\}|\[\])(, )?){0,4}\}"#,
        Just("null".to_owned()),
        Just(r#"{"x": {"revision": -1}}"#.to_owned()),
    ]
}

proptest! {
    #[test]
    fn any_output_is_ok_or_typed_error(out in json_like()) {
        let fake = Arc::new(RecordingRunner::new());
        let tools = Tools::new(fake.clone());
        for tool in [
            "relation-ids", "relation-list", "relation-get", "config-get", "is-leader",
            "goal-state", "secret-get", "secret-add", "secret-info-get", "secret-ids",
            "opened-ports", "action-get", "storage-get", "storage-list", "network-get",
        ] {
            fake.reply(tool, &out);
        }
        fake.reply("relation-list", &out);
        let _ = tools.relation_ids("e");
        let _ = tools.relation_list(1);
        let _ = tools.relation_remote_app(1);
        let _ = tools.relation_get(1, "a/0");
        let _ = tools.config::<serde_json::Value>();
        let _ = tools.is_leader();
        let _ = tools.goal_state();
        let _ = tools.secret_get(SecretRef::Label("l"), Revision::Peek);
        let _ = tools.secret_info_get(SecretRef::Id("x"));
        let _ = tools.secret_ids();
        let _ = tools.opened_ports();
        let _ = tools.action_get::<serde_json::Value>();
        let _ = tools.storage_get(None);
        let _ = tools.storage_list(None);
        let _ = tools.network_get("b", None);
    }

    #[test]
    fn port_parse_never_panics_and_round_trips(raw in ".*", n in 1u16.., m in 1u16..) {
        let _ = Port::parse(&raw);
        for port in [Port::tcp(n), Port::udp(m), Port::icmp()] {
            prop_assert_eq!(Port::parse(&port.to_string()), Some(port));
        }
    }
}
