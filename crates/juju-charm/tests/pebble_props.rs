//! Properties of the pure Pebble layer code: a plan made of exactly a layer holds it; changing
//! any value we set makes it not hold; the plan parser never panics on outside input.

use std::collections::BTreeMap;

use juju_charm::pebble::{
    Check, CheckLevel, HttpCheck, Layer, Override, Plan, Service, ServiceAction, Startup, TcpCheck,
};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,12}"
}

fn text() -> impl Strategy<Value = String> {
    // Printable text including YAML-significant characters and number-like strings.
    prop_oneof![
        "[ -~]{0,24}",
        "[0-9]{1,6}",
        Just("true".to_owned()),
        Just("null".to_owned()),
        Just("- x: y".to_owned()),
        Just("#not a comment".to_owned()),
    ]
}

fn service() -> impl Strategy<Value = Service> {
    (
        prop::option::of(text()),
        prop::option::of(prop_oneof![Just(Startup::Enabled), Just(Startup::Disabled)]),
        prop::collection::btree_map("[A-Z][A-Z0-9_]{0,10}", text(), 0..5),
        prop::option::of(0u32..70000),
        prop::option::of(prop_oneof![
            Just(ServiceAction::Restart),
            Just(ServiceAction::Shutdown),
            Just(ServiceAction::Ignore)
        ]),
        prop::collection::vec(name(), 0..3),
        prop::option::of(prop_oneof![Just("500ms"), Just("1m"), Just("1h2m3s")]),
    )
        .prop_map(
            |(command, startup, environment, user_id, on_failure, after, kill_delay)| Service {
                r#override: Some(Override::Replace),
                command,
                startup,
                environment,
                user_id,
                on_failure,
                after,
                kill_delay: kill_delay.map(str::to_owned),
                ..Service::default()
            },
        )
}

fn check() -> impl Strategy<Value = Check> {
    (
        prop::option::of(prop_oneof![
            Just(CheckLevel::Alive),
            Just(CheckLevel::Ready)
        ]),
        prop::option::of(1u32..10),
        prop::option::of(prop_oneof![Just("10s"), Just("1m"), Just("250ms")]),
        prop_oneof![
            (1u16..65535).prop_map(|port| (None, Some(TcpCheck { port, host: None }))),
            "http://localhost:[0-9]{2,5}/[a-z/]{0,10}".prop_map(|url| (
                Some(HttpCheck {
                    url,
                    headers: BTreeMap::new()
                }),
                None
            )),
        ],
    )
        .prop_map(|(level, threshold, period, (http, tcp))| Check {
            r#override: Some(Override::Replace),
            level,
            threshold,
            period: period.map(str::to_owned),
            http,
            tcp,
            ..Check::default()
        })
}

fn layer() -> impl Strategy<Value = Layer> {
    (
        prop::collection::btree_map(name(), service(), 0..4),
        prop::collection::btree_map(name(), check(), 0..3),
    )
        .prop_map(|(services, checks)| Layer {
            services,
            checks,
            ..Layer::default()
        })
}

proptest! {
    #[test]
    fn a_plan_of_exactly_the_layer_holds_it(layer in layer()) {
        let text = layer.to_text().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let plan = Plan::from_yaml(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert!(plan.holds(&layer), "{}", text);
        // And the text, read as YAML (as Pebble reads it), is the same layer.
        let back: Layer = serde_saphyr::from_str(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, layer);
    }

    #[test]
    fn a_changed_command_does_not_hold(layer in layer(), extra in "[a-z]{1,8}") {
        let text = layer.to_text().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let plan = Plan::from_yaml(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut changed = layer.clone();
        if let Some(service) = changed.services.values_mut().next() {
            service.command = Some(format!("{} {extra}", service.command.clone().unwrap_or_default()));
            prop_assert!(!plan.holds(&changed));
        }
    }

    #[test]
    fn the_plan_parser_never_panics(input in "\\PC{0,200}") {
        let _ = Plan::from_yaml(&input);
    }
}
