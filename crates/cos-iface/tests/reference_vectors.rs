//! Test vectors from the real charm libraries, unmodified (prometheus_k8s v0 LIBPATCH 58,
//! grafana_k8s v0 LIBPATCH 49, loki_k8s v1 LIBPATCH 25, tempo_coordinator_k8s v0 LIBPATCH 11),
//! with the versions the reference charms' `uv.lock` pins (ops 3.6.0, cosl 1.9.1,
//! pydantic 2.12.5) under CPython 3.12.1. The `REF_*` constants are what a test charm using
//! the libraries wrote, run by ops' Scenario (`ops[testing]` 3.6.0) with
//! app `gluetun`, unit `gluetun/0`, charm `gluetun-k8s`, model `charmarr` /
//! `4f1a7c2e-9b3d-4e8a-a6c1-2d5e7f9b0c3a`, leader:
//!
//! ```python
//! MetricsEndpointProvider(self, jobs=[
//!     {"static_configs": [{"targets": ["*:8001"]}]},
//!     {"static_configs": [{"targets": ["*:9099"]}]}],
//!     alert_rules_path="src/prometheus_alert_rules")      # ctx.on.relation_joined
//! GrafanaDashboardProvider(self)                         # ctx.on.relation_created
//! LogForwarder(self, relation_name="logging")            # ctx.on.relation_changed, loki/0
//! TracingEndpointRequirer(self, "charm-tracing", protocols=["otlp_http"])
//! ```
//!
//! with `src/prometheus_alert_rules/vpn.rules.yaml` holding the groups of [`our_groups`] and
//! `src/grafana_dashboards/vpn.json` = `tests/fixtures/vpn.json`. The tracing provider's
//! value is `TracingProviderAppData(receivers=[...]).dump({})["receivers"]`.
//!
//! The other direction, recorded during development (no Python is needed to run these
//! tests): the library's `LZMABase64.decompress` read our `content` ([`OURS_CONTENT`]) back to
//! [`REF_DASHBOARD_DECODED`] exactly; `TracingRequirerAppData.load({"receivers":
//! '["otlp_http"]'})` gave `receivers=['otlp_http']`.

use cos_iface::grafana::{self, EnvelopeUuid};
use cos_iface::topology::{ModelUuid, Topology, UnitName};
use cos_iface::tracing::{self, ProviderData, ReceiverProtocol, ReceiverUrl, Transport};
use cos_iface::{AppName, ConsumerEvent, InvalidField, Namespace, Problem, loki, prometheus};
use prometheus::{AlertGroup, AlertRule, ScrapeJob};
use serde_json::Value;

const REF_SCRAPE_METADATA: &str = r#"{"model": "charmarr", "model_uuid": "4f1a7c2e-9b3d-4e8a-a6c1-2d5e7f9b0c3a", "application": "gluetun", "unit": "gluetun/0", "charm_name": "gluetun-k8s"}"#;
const REF_SCRAPE_JOBS: &str = r#"[{"metrics_path": "/metrics", "static_configs": [{"targets": ["*:8001"]}]}, {"metrics_path": "/metrics", "static_configs": [{"targets": ["*:9099"]}]}]"#;
const REF_ALERT_RULES: &str = r#"{"groups": [{"name": "charmarr_4f1a7c2e_gluetun_vpn_health_rules", "rules": [{"alert": "ExporterDown", "expr": "up{juju_charm=\"gluetun-k8s\"} == 0", "for": "5m", "labels": {"severity": "critical", "component": "gluetun", "juju_model": "charmarr", "juju_model_uuid": "4f1a7c2e-9b3d-4e8a-a6c1-2d5e7f9b0c3a", "juju_application": "gluetun", "juju_charm": "gluetun-k8s"}, "annotations": {"summary": "exporter down on {{ $labels.juju_unit }}", "description": "Two lines,\n\"quoted\" and <b>.\n"}}, {"alert": "NoTopo", "expr": "sum(rate(x_total{ a=\"b\"}[5m])) > 0", "labels": {"juju_model": "charmarr", "juju_model_uuid": "4f1a7c2e-9b3d-4e8a-a6c1-2d5e7f9b0c3a", "juju_application": "gluetun", "juju_charm": "gluetun-k8s"}}]}, {"name": "charmarr_4f1a7c2e_gluetun_HostHealth_rules", "rules": [{"alert": "HostDown", "expr": "up < 1", "for": "5m", "labels": {"severity": "critical", "juju_model": "charmarr", "juju_model_uuid": "4f1a7c2e-9b3d-4e8a-a6c1-2d5e7f9b0c3a", "juju_application": "gluetun", "juju_charm": "gluetun-k8s"}, "annotations": {"summary": "Host '{{ $labels.instance }}' is down.", "description": "Juju application '{{ $labels.juju_application }}' in model '{{ $labels.juju_model }}' is down. Prometheus has been unable to scrape it during at least the past five minutes."}}, {"alert": "HostMetricsMissing", "expr": "absent(up)", "for": "5m", "labels": {"severity": "warning", "juju_model": "charmarr", "juju_model_uuid": "4f1a7c2e-9b3d-4e8a-a6c1-2d5e7f9b0c3a", "juju_application": "gluetun", "juju_charm": "gluetun-k8s"}, "annotations": {"summary": "Unit '{{ $labels.juju_unit }}' of application '{{ $labels.juju_application }}' is down or failing to remote write.", "description": "`Up` missing for unit '{{ $labels.juju_unit }}' of application {{ $labels.juju_application }} in model {{ $labels.juju_model }}. Please ensure the unit or the collector scraping it is up and is able to successfully reach the metrics backend."}}]}]}"#;
const REF_DASHBOARDS: &str = r#"{"templates": {"file:vpn": {"charm": "gluetun-k8s", "content": "/Td6WFoAAATm1rRGAgAhARYAAAB0L+Wj4AD2ALxdAD2IiobUVOndN3jT8g3phOlfxCCfv3C4x9MiAsA15m5al9hbdoz47OaMqy8ENahVG89BJzfszh41YbK5A2wsEvKTmogZFJt96rD4IWjwbHkF+zjVsDIdyPDZHfggdVnLhqGiabV83EmA2GtXVeg0vLub1nF/MhaQIICW4xAFTJRKA0m3YWU8hZ8AydzBXc7/snYfefdh0dT3TbdzhSLPFiE+ZAikuzImR7e7dz+ATbrFUbJHsPosDJ0pA5RYAFHqH2Sh4cxgAAHYAfcBAAAGJysascRn+wIAAAAABFla", "juju_topology": {"model": "charmarr", "model_uuid": "4f1a7c2e-9b3d-4e8a-a6c1-2d5e7f9b0c3a", "application": "gluetun", "unit": "gluetun/0"}, "inject_dropdowns": true, "dashboard_alt_uid": "72f507806179afd2"}}, "uuid": "d32c2c39-4c12-4b4a-b0d5-a512564c4b04"}"#;
const REF_DASHBOARD_DECODED: &str = r#"{"title": "VPN", "uid": "b8168c27786537d70a1cd32e81141c59d6641c14", "tags": ["vpn", "charm: gluetun-k8s"], "panels": [{"type": "stat", "title": "Tunnel \u00e9", "targets": [{"expr": "up{juju_model=\"$juju_model\"}"}]}], "templating": {"list": []}}"#;
const REF_LOKI_METADATA: &str = r#"{"model": "charmarr", "model_uuid": "4f1a7c2e-9b3d-4e8a-a6c1-2d5e7f9b0c3a", "application": "gluetun", "unit": "gluetun/0", "charm_name": "gluetun-k8s"}"#;
const REF_LOKI_LAYER: &str = r#"{"log-targets": {"loki/0": {"override": "replace", "type": "loki", "location": "http://loki-0.loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push", "services": ["all"], "labels": {"product": "Juju", "charm": "gluetun-k8s", "juju_model": "charmarr", "juju_model_uuid": "4f1a7c2e-9b3d-4e8a-a6c1-2d5e7f9b0c3a", "juju_application": "gluetun", "juju_unit": "gluetun/0"}}}}"#;
const REF_PROM_UNIT_ADDRESS: &str = "10.1.157.72";
const REF_TRACING_REQUIRER: &str = r#"["otlp_http"]"#;
const REF_TRACING_PROVIDER: &str = r#"[{"protocol": {"name": "otlp_grpc", "type": "grpc"}, "url": "tempo-0.tempo-endpoints.cos.svc.cluster.local:4317"}, {"protocol": {"name": "otlp_http", "type": "http"}, "url": "http://tempo-0.tempo-endpoints.cos.svc.cluster.local:4318"}]"#;
const REF_LOKI_URL: &str =
    "http://loki-0.loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push";
const DASHBOARD_FILE: &str = include_str!("fixtures/vpn.json");

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn topology() -> Topology {
    let app = ok(AppName::parse("gluetun"));
    Topology {
        model: ok(Namespace::parse("charmarr")),
        model_uuid: ok(ModelUuid::parse("4f1a7c2e-9b3d-4e8a-a6c1-2d5e7f9b0c3a")),
        unit: UnitName::of(&app, 0),
        application: app,
        charm_name: ok(AppName::parse("gluetun-k8s")),
    }
}

fn s(k: &str, v: &str) -> (String, String) {
    (k.to_owned(), v.to_owned())
}

/// The rules file the reference run read, as our types.
fn our_groups() -> Vec<AlertGroup> {
    vec![AlertGroup {
        name: "vpn.health".into(),
        rules: vec![
            AlertRule {
                alert: "ExporterDown".into(),
                expr: r#"up{juju_charm="gluetun-k8s"} == 0"#.into(),
                for_: Some("5m".into()),
                labels: vec![s("severity", "critical"), s("component", "gluetun")],
                annotations: vec![
                    s("summary", "exporter down on {{ $labels.juju_unit }}"),
                    s("description", "Two lines,\n\"quoted\" and <b>.\n"),
                ],
            },
            AlertRule {
                alert: "NoTopo".into(),
                expr: r#"sum(rate(x_total{%%juju_topology%%, a="b"}[5m])) > 0"#.into(),
                for_: None,
                labels: vec![],
                annotations: vec![],
            },
        ],
    }]
}

// ---- prometheus_scrape ----

#[test]
fn prometheus_app_databag_is_byte_identical() {
    let t = topology();
    let jobs = [ScrapeJob::metrics(8001), ScrapeJob::metrics(9099)];
    let bag = prometheus::app_databag(&t, &jobs, &our_groups());
    assert_eq!(bag[0], ("scrape_metadata", REF_SCRAPE_METADATA.to_owned()));
    assert_eq!(bag[1], ("scrape_jobs", REF_SCRAPE_JOBS.to_owned()));
    assert_eq!(bag[2], ("alert_rules", REF_ALERT_RULES.to_owned()));
}

#[test]
fn prometheus_unit_databag_and_defaults() {
    let t = topology();
    let fqdn = "gluetun-0.gluetun-endpoints.charmarr.svc.cluster.local";
    let bag = prometheus::unit_databag(ok(REF_PROM_UNIT_ADDRESS.parse()), &t.unit, fqdn);
    assert_eq!(
        bag,
        [
            (
                "prometheus_scrape_unit_address",
                REF_PROM_UNIT_ADDRESS.to_owned()
            ),
            ("prometheus_scrape_unit_name", "gluetun/0".to_owned()),
            ("prometheus_scrape_unit_fqdn", fqdn.to_owned()),
        ]
    );
    // The library's DEFAULT_JOB when given no jobs; only the generic group without rules.
    assert_eq!(
        prometheus::scrape_jobs_json(&[]),
        r#"[{"metrics_path": "/metrics", "static_configs": [{"targets": ["*:80"]}]}]"#
    );
    assert_eq!(prometheus::alert_rules_json(&[], &t, false), "{}");
    let generic = prometheus::alert_rules_json(&[], &t, true);
    assert!(REF_ALERT_RULES.ends_with(&generic["{\"groups\": [".len()..]));
    assert_eq!(
        prometheus::group_name(&t, "a b/c"),
        "charmarr_4f1a7c2e_gluetun_a_b_c_rules"
    );
    assert_eq!(
        prometheus::group_name(&t, "x_rules"),
        "charmarr_4f1a7c2e_gluetun_x_rules"
    );
}

#[test]
fn consumer_event_is_read_without_its_text() {
    let e = ok(ConsumerEvent::from_databag(
        r#"{"valid": false, "errors": "bad <rule>"}"#,
    ));
    assert_eq!(
        (e.valid, e.has_errors, e.is_ok()),
        (Some(false), true, false)
    );
    let e = ok(ConsumerEvent::from_databag(r#"{"scrape_job_errors": "x"}"#));
    assert!(e.has_scrape_job_errors && !e.is_ok());
    let e = ok(ConsumerEvent::from_databag(
        r#"{"errors": [{"dashboard_id": "file:x", "error": "y"}]}"#,
    ));
    assert!(e.has_errors);
    assert!(ok(ConsumerEvent::from_databag("{}")).is_ok());
    let too_big = format!(
        r#"{{"errors": "{}"}}"#,
        "x".repeat(cos_iface::MAX_VALUE_BYTES)
    );
    for (text, field) in [
        ("", "event"),
        ("[]", "event"),
        (r#"{"valid": "yes"}"#, "event.valid"),
        (r#"{"errors": 1}"#, "event.errors"),
        (r#"{"scrape_job_errors": {}}"#, "event.scrape_job_errors"),
        (too_big.as_str(), "event"),
    ] {
        assert_eq!(
            ConsumerEvent::from_databag(text).map_err(|e| e.field),
            Err(field),
            "{text:.40}"
        );
    }
}

// ---- grafana_dashboard ----

/// Our `content` for `tests/fixtures/vpn.json`; the library's `LZMABase64.decompress` decoded
/// it to [`REF_DASHBOARD_DECODED`]. For this small file it is even the library's own bytes;
/// for larger ones the LZMA2 stream differs (same size for the reference qBittorrent
/// dashboard, 2480 bytes, first difference at byte 28), so only decoding is asserted.
const OURS_CONTENT: &str = "/Td6WFoAAATm1rRGAgAhARYAAAB0L+Wj4AD2ALxdAD2IiobUVOndN3jT8g3phOlfxCCfv3C4x9MiAsA15m5al9hbdoz47OaMqy8ENahVG89BJzfszh41YbK5A2wsEvKTmogZFJt96rD4IWjwbHkF+zjVsDIdyPDZHfggdVnLhqGiabV83EmA2GtXVeg0vLub1nF/MhaQIICW4xAFTJRKA0m3YWU8hZ8AydzBXc7/snYfefdh0dT3TbdzhSLPFiE+ZAikuzImR7e7dz+ATbrFUbJHsPosDJ0pA5RYAFHqH2Sh4cxgAAHYAfcBAAAGJysascRn+wIAAAAABFla";

#[test]
fn grafana_dashboard_is_prepared_as_the_library_does() {
    let d = ok(grafana::prepare(
        "gluetun-k8s",
        "src/grafana_dashboards/vpn.json",
        DASHBOARD_FILE,
    ));
    assert_eq!(d.id, "file:vpn");
    assert_eq!(d.alt_uid, "72f507806179afd2");
    assert_eq!(
        ok(grafana::decode_content(&d.content)),
        REF_DASHBOARD_DECODED
    );
    assert_eq!(d.content, OURS_CONTENT);
    // The library's own content decodes to the same text with our decoder.
    let envelope: Value = ok(serde_json::from_str(REF_DASHBOARDS));
    let theirs = envelope["templates"]["file:vpn"]["content"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(ok(grafana::decode_content(theirs)), REF_DASHBOARD_DECODED);
}

#[test]
fn grafana_envelope_matches_but_for_the_compressed_bytes() {
    let t = topology();
    let d = ok(grafana::prepare(
        "gluetun-k8s",
        "src/grafana_dashboards/vpn.json",
        DASHBOARD_FILE,
    ));
    let envelope: Value = ok(serde_json::from_str(REF_DASHBOARDS));
    let theirs = envelope["templates"]["file:vpn"]["content"]
        .as_str()
        .unwrap_or_default();
    let uuid = envelope["uuid"].as_str().unwrap_or_default();
    let ours = grafana::dashboards_json(
        &t.charm_name,
        &t,
        std::slice::from_ref(&d),
        true,
        &uuid_from(uuid),
    );
    assert_eq!(ours.replace(&d.content, theirs), REF_DASHBOARDS);
}

/// The envelope uuid from its text (a test helper: the charm draws random bytes).
fn uuid_from(text: &str) -> EnvelopeUuid {
    let hex: Vec<u8> = text
        .bytes()
        .filter(|b| *b != b'-')
        .collect::<Vec<_>>()
        .chunks(2)
        .map(|c| ok(u8::from_str_radix(ok(std::str::from_utf8(c)), 16)))
        .collect();
    let bytes = <[u8; 16]>::try_from(hex).unwrap_or_else(|_| panic!("not 16 bytes"));
    let u = EnvelopeUuid::from_random(bytes);
    assert_eq!(u.as_str(), text);
    u
}

#[test]
fn grafana_uid_tags_and_envelope_variants() {
    // A 40-hex uid and an existing charm tag are kept; uid and tags are appended when absent.
    let keep = r#"{"uid": "B8168C27786537D70A1CD32E81141C59D6641C14", "tags": ["charm: other"]}"#;
    let d = ok(grafana::prepare(
        "c",
        "src/grafana_dashboards/a.json.tmpl",
        keep,
    ));
    assert_eq!(d.id, "file:a.json");
    assert_eq!(ok(grafana::decode_content(&d.content)), keep);
    let d = ok(grafana::prepare(
        "gluetun-k8s",
        "src/grafana_dashboards/vpn.json",
        r#"{"x": 1.5e-7}"#,
    ));
    assert_eq!(
        ok(grafana::decode_content(&d.content)),
        r#"{"x": 1.5e-07, "uid": "b8168c27786537d70a1cd32e81141c59d6641c14", "tags": ["charm: gluetun-k8s"]}"#
    );
    for bad in [
        "[]",
        "{",
        r#"{"uid": 1}"#,
        r#"{"tags": "x"}"#,
        r#"{"tags": [1]}"#,
    ] {
        assert!(grafana::prepare("c", "d.json", bad).is_err(), "{bad}");
    }
    assert!(grafana::decode_content("not base64!").is_err());
    assert!(grafana::decode_content("AAAA").is_err());
    // Without dropdowns the topology is `{}`.
    let t = topology();
    let u = EnvelopeUuid::from_random([0xff; 16]);
    assert_eq!(u.as_str(), "ffffffff-ffff-4fff-bfff-ffffffffffff");
    let p = grafana::PreparedDashboard {
        id: "file:a".into(),
        content: "Q".into(),
        alt_uid: "0".into(),
    };
    assert_eq!(
        grafana::dashboards_json(&t.charm_name, &t, &[p], false, &u),
        r#"{"templates": {"file:a": {"charm": "gluetun-k8s", "content": "Q", "juju_topology": {}, "inject_dropdowns": false, "dashboard_alt_uid": "0"}}, "uuid": "ffffffff-ffff-4fff-bfff-ffffffffffff"}"#
    );
}

// ---- loki_push_api ----

#[test]
fn loki_layer_and_app_databag_match_the_library() {
    let t = topology();
    let url = ok(loki::endpoint_from_databag(&format!(
        r#"{{"url": "{REF_LOKI_URL}"}}"#
    )));
    let layer = loki::log_forwarding_layer(&[(ok(UnitName::parse("loki/0")), url)], &t);
    // ops' Layer.to_dict() reorders the keys; Pebble reads a map either way.
    let ours: Value = ok(serde_json::from_str(&layer));
    let theirs: Value = ok(serde_json::from_str(REF_LOKI_LAYER));
    assert_eq!(ours, theirs);
    assert!(layer.starts_with(
        r#"{"log-targets": {"loki/0": {"override": "replace", "services": ["all"], "type": "loki""#
    ));
    assert_eq!(
        loki::layer_label("gluetun-exporter"),
        "gluetun-exporter-log-forwarding"
    );
    assert_eq!(
        loki::app_databag(&t),
        [
            ("metadata", REF_LOKI_METADATA.to_owned()),
            ("alert_rules", "{}".to_owned())
        ]
    );
    assert_eq!(
        loki::disabled_targets_layer(&[ok(UnitName::parse("loki/1"))]),
        r#"{"log-targets": {"loki/1": {"override": "replace", "services": ["-all"], "type": "loki", "location": "(removed)"}}}"#
    );
}

#[test]
fn loki_endpoint_readers_take_ingress_urls() {
    for url in [
        "https://10.1.2.3/cos-loki-0/loki/api/v1/push",
        "http://otelcol-0.otelcol-endpoints.charmarr.svc.cluster.local:3500/loki/api/v1/push",
        "http://[fd00::5]:3100/loki/api/v1/push",
    ] {
        let got = ok(loki::endpoint_from_databag(&format!(
            r#"{{"url": "{url}", "extra": 1}}"#
        )));
        assert_eq!(got.as_str(), url);
    }
}

fn refused(r: Result<impl std::fmt::Debug, InvalidField>) -> InvalidField {
    match r {
        Ok(v) => panic!("accepted: {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn loki_hostile_endpoints_are_refused_naming_the_field() {
    let long = format!(
        r#"{{"url": "http://loki/{}/loki/api/v1/push"}}"#,
        "a".repeat(5000)
    );
    let table: &[(&str, &str)] = &[
        ("", "endpoint"),
        ("not json", "endpoint"),
        (r#""http://loki:3100/loki/api/v1/push""#, "endpoint"),
        ("[]", "endpoint"),
        ("{}", "endpoint.url"),
        (r#"{"url": null}"#, "endpoint.url"),
        (r#"{"url": 3100}"#, "endpoint.url"),
        (
            r#"{"url": ["http://loki:3100/loki/api/v1/push"]}"#,
            "endpoint.url",
        ),
        (
            r#"{"url": "javascript:alert(1)//loki/api/v1/push"}"#,
            "endpoint.url",
        ),
        (r#"{"url": "file:///loki/api/v1/push"}"#, "endpoint.url"),
        (
            r#"{"url": "http://user:pw@loki:3100/loki/api/v1/push"}"#,
            "endpoint.url",
        ),
        (
            r#"{"url": "http://loki:3100@evil.example/loki/api/v1/push"}"#,
            "endpoint.url",
        ),
        (r#"{"url": "http:///loki/api/v1/push"}"#, "endpoint.url"),
        (
            r#"{"url": "http://:3100/loki/api/v1/push"}"#,
            "endpoint.url",
        ),
        (
            r#"{"url": "http://loki:/loki/api/v1/push"}"#,
            "endpoint.url",
        ),
        (
            r#"{"url": "http://loki:0/loki/api/v1/push"}"#,
            "endpoint.url",
        ),
        (
            r#"{"url": "http://loki:99999/loki/api/v1/push"}"#,
            "endpoint.url",
        ),
        (
            r#"{"url": "http://010.001.002.003:3100/loki/api/v1/push"}"#,
            "endpoint.url",
        ),
        (
            r#"{"url": "http://2130706433:3100/loki/api/v1/push"}"#,
            "endpoint.url",
        ),
        (r#"{"url": "http://loki:3100/"}"#, "endpoint.url"),
        (
            r#"{"url": "http://loki:3100/loki/api/v1/push?x=1"}"#,
            "endpoint.url",
        ),
        (
            r#"{"url": "http://loki:3100/../loki/api/v1/push"}"#,
            "endpoint.url",
        ),
        (
            r#"{"url": "http://loki:3100/%6coki/api/v1/push"}"#,
            "endpoint.url",
        ),
        (
            r#"{"url": "http://loki:3100/loki/api/v1/push\n"}"#,
            "endpoint.url",
        ),
        (
            r#"{"url": "http://loki\u0000:3100/loki/api/v1/push"}"#,
            "endpoint.url",
        ),
        (
            r#"{"url": "http://LOKI:3100/loki/api/v1/push"}"#,
            "endpoint.url",
        ),
        (
            r#"{"url": "http://loki.cos.svc.cluster.local.:3100/loki/api/v1/push"}"#,
            "endpoint.url",
        ),
        (long.as_str(), "endpoint"),
    ];
    for (text, field) in table {
        let e = refused(loki::endpoint_from_databag(text));
        assert_eq!(e.field, *field, "{text:.60}");
        // The error never repeats the input.
        assert!(!e.to_string().contains("evil") && !e.to_string().contains("pw"));
    }
}

// ---- tracing ----

#[test]
fn tracing_requirer_writes_what_ops_tracing_writes() {
    assert_eq!(
        tracing::requirer_databag(&[ReceiverProtocol::OtlpHttp]),
        REF_TRACING_REQUIRER
    );
    assert_eq!(
        tracing::requirer_databag(&[ReceiverProtocol::OtlpGrpc, ReceiverProtocol::Zipkin]),
        r#"["otlp_grpc", "zipkin"]"#
    );
    assert_eq!(
        ReceiverProtocol::JaegerThriftHttp.transport(),
        Transport::Http
    );
}

#[test]
fn tracing_provider_is_read() {
    let p = ok(ProviderData::from_databag(REF_TRACING_PROVIDER));
    assert_eq!(p.receivers.len(), 2);
    assert!(matches!(p.receivers[0].url, ReceiverUrl::Grpc(_)));
    assert_eq!(
        p.otlp_http_traces_url().as_deref(),
        Some("http://tempo-0.tempo-endpoints.cos.svc.cluster.local:4318/v1/traces")
    );
    let p = ok(ProviderData::from_databag(
        r#"[{"protocol": {"name": "otlp_http", "type": "http"}, "url": "https://10.0.0.9/cos-tempo/"}, {"protocol": {"name": "otlp_http", "type": "http"}, "url": "http://second:4318"}]"#,
    ));
    assert_eq!(
        p.otlp_http_traces_url().as_deref(),
        Some("https://10.0.0.9/cos-tempo/v1/traces")
    );
    assert_eq!(
        ok(ProviderData::from_databag("[]")).otlp_http_traces_url(),
        None
    );
}

#[test]
fn tracing_hostile_receivers_are_refused_naming_the_field() {
    let many = format!(
        "[{}]",
        vec![r#"{"protocol": {"name": "x", "type": "http"}, "url": "http://t:1"}"#; 33].join(",")
    );
    let r = |name: &str, ty: &str, url: &str| {
        format!(r#"[{{"protocol": {{"name": {name}, "type": {ty}}}, "url": {url}}}]"#)
    };
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "receivers"),
        ("{}".into(), "receivers"),
        (r#""otlp_http""#.into(), "receivers"),
        ("[1]".into(), "receivers"),
        (many, "receivers"),
        (r#"[{"url": "http://t:1"}]"#.into(), "receivers.protocol"),
        (
            r#"[{"protocol": "otlp_http", "url": "http://t:1"}]"#.into(),
            "receivers.protocol",
        ),
        (
            r#"[{"protocol": {"type": "http"}, "url": "http://t:1"}]"#.into(),
            "receivers.protocol.name",
        ),
        (
            r#"[{"protocol": {"name": "otlp_http"}, "url": "http://t:1"}]"#.into(),
            "receivers.protocol.type",
        ),
        (
            r#"[{"protocol": {"name": "otlp_http", "type": "http"}}]"#.into(),
            "receivers.url",
        ),
        (
            r(r#""""#, r#""http""#, r#""http://t:1""#),
            "receivers.protocol.name",
        ),
        (
            r(r#""otlp http""#, r#""http""#, r#""http://t:1""#),
            "receivers.protocol.name",
        ),
        (
            r(r#""OTLP_HTTP""#, r#""http""#, r#""http://t:1""#),
            "receivers.protocol.name",
        ),
        (
            r("1", r#""http""#, r#""http://t:1""#),
            "receivers.protocol.name",
        ),
        (
            r(r#""otlp_http""#, r#""https""#, r#""http://t:1""#),
            "receivers.protocol.type",
        ),
        (
            r(r#""otlp_http""#, "null", r#""http://t:1""#),
            "receivers.protocol.type",
        ),
        (r(r#""otlp_http""#, r#""http""#, "4318"), "receivers.url"),
        (
            r(r#""otlp_http""#, r#""http""#, r#""javascript:alert(1)""#),
            "receivers.url",
        ),
        (
            r(r#""otlp_http""#, r#""http""#, r#""t:4318""#),
            "receivers.url",
        ),
        (
            r(r#""otlp_http""#, r#""http""#, r#""http://u:p@t:4318""#),
            "receivers.url",
        ),
        (
            r(r#""otlp_http""#, r#""http""#, r#""http://t:4318/v1?x""#),
            "receivers.url",
        ),
        (
            r(r#""otlp_http""#, r#""http""#, r#""http://0177.0.0.1:4318""#),
            "receivers.url",
        ),
        (
            r(r#""otlp_grpc""#, r#""grpc""#, r#""http://t:4317""#),
            "receivers.url",
        ),
        (r(r#""otlp_grpc""#, r#""grpc""#, r#""t""#), "receivers.url"),
        (
            r(r#""otlp_grpc""#, r#""grpc""#, r#""t:04317""#),
            "receivers.url",
        ),
    ];
    for (text, field) in &cases {
        let e = refused(ProviderData::from_databag(text));
        assert_eq!(e.field, *field, "{text:.80}");
    }
    assert_eq!(
        refused(ProviderData::from_databag("[1]")).problem,
        Problem::WrongType {
            expected: "a JSON object"
        }
    );
}
