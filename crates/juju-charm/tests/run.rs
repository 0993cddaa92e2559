//! The run loop: exit-code mapping, status set once at the end (unit, and app on the leader),
//! error chains logged, and the CLI switch.

use std::sync::Arc;

use juju_charm::cli::{CliInfo, CliRequest, parse_cli};
use juju_charm::log::JujuLogLayer;
use juju_charm::run::{Outcome, run_hook};
use juju_charm::tools::fake::RecordingRunner;
use juju_charm::{Context, Hook, Status, Tools};
use tracing_subscriber::prelude::*;

#[derive(Debug, thiserror::Error)]
#[error("apply failed")]
struct ApplyError(#[source] std::io::Error);

fn ctx(path: &str) -> Context {
    Context::from_vars([
        ("JUJU_DISPATCH_PATH", path),
        ("JUJU_UNIT_NAME", "gluetun/0"),
        ("JUJU_RELATION", "vpn-gateway"),
    ])
}

fn setup() -> (Arc<RecordingRunner>, Tools) {
    let fake = Arc::new(RecordingRunner::new());
    (fake.clone(), Tools::new(fake))
}

fn tools_called(fake: &RecordingRunner) -> Vec<String> {
    fake.calls().into_iter().map(|c| c.tool).collect()
}

#[test]
fn status_is_set_once_for_unit_and_app_on_the_leader() {
    let (fake, tools) = setup();
    fake.reply("is-leader", "true");
    let mut seen = None;
    let outcome = run_hook(
        ctx("hooks/vpn-gateway-relation-changed"),
        tools,
        |juju, hook| {
            seen = Some(hook.clone());
            assert_eq!(juju.context().app_name(), "gluetun");
            juju.add_status(Status::waiting("for gateway"));
            juju.add_status(Status::blocked("vpn-provider is required"));
            juju.add_status(Status::blocked("second blocked"));
            // Leadership asked by the charm is cached for the end of the hook.
            assert!(juju.is_leader()?);
            Ok::<(), juju_charm::ToolError>(())
        },
    );
    assert_eq!(outcome, Outcome::Done);
    assert_eq!(
        seen,
        Some(Hook::Relation {
            endpoint: "vpn-gateway".into(),
            kind: juju_charm::hook::RelationHook::Changed
        })
    );
    let argvs = fake.argvs();
    // No status-get answer (the fake prints nothing): both are set.
    assert_eq!(
        tools_called(&fake),
        ["is-leader", "status-get", "status-set", "status-set"]
    );
    assert_eq!(
        argvs[2],
        [
            "status-set",
            "--application=False",
            "blocked",
            "--",
            "vpn-provider is required"
        ]
    );
    assert_eq!(
        argvs[3],
        [
            "status-set",
            "--application=True",
            "blocked",
            "--",
            "vpn-provider is required"
        ]
    );
}

#[test]
fn non_leader_sets_only_unit_status() {
    let (fake, tools) = setup();
    fake.reply("is-leader", "false");
    let outcome = run_hook(ctx("hooks/update-status"), tools, |juju, _| {
        juju.add_status(Status::active(""));
        Ok::<(), ApplyError>(())
    });
    assert_eq!(outcome, Outcome::Done);
    assert_eq!(tools_called(&fake), ["is-leader", "status-set"]);
}

/// `status-get --application` as Juju 3.6 prints it.
fn status_get_answer(app: (&str, &str), unit: (&str, &str)) -> String {
    serde_json::json!({"application-status": {
        "status": app.0, "message": app.1, "status-data": {},
        "units": {"gluetun/0": {"status": unit.0, "message": unit.1, "status-data": {}}}
    }})
    .to_string()
}

/// A leader's `update-status` that collects "active: VPN connected", `status-get` answering
/// `answer` (`Err`: failing with that stderr). With `read_ahead` the charm reads the statuses
/// itself and hands them to `set_status`. Returns the fake that recorded the tool calls.
fn leader_update_status(answer: Result<&str, &str>, read_ahead: bool) -> Arc<RecordingRunner> {
    let (fake, tools) = setup();
    fake.reply("is-leader", "true");
    match answer {
        Ok(stdout) => fake.reply("status-get", stdout),
        Err(stderr) => fake.fail("status-get", 1, stderr),
    };
    let outcome = run_hook(ctx("hooks/update-status"), tools, |juju, _| {
        if read_ahead {
            // As a charm does it: read with its other reads (in the background).
            let read = juju.tools().status_get_application();
            juju.statuses_read(read);
        }
        juju.add_status(Status::active("VPN connected"));
        Ok::<(), ApplyError>(())
    });
    assert_eq!(outcome, Outcome::Done);
    fake
}

#[test]
fn leader_sets_only_the_statuses_that_differ() {
    let run = |answer: String| leader_update_status(Ok(&answer), false).argvs();
    let steady = run(status_get_answer(
        ("active", "VPN connected"),
        ("active", "VPN connected"),
    ));
    assert_eq!(
        steady[1],
        [
            "status-get",
            "--application=True",
            "--include-data",
            "--format=json"
        ]
    );
    assert_eq!(steady.len(), 2, "nothing set when both hold: {steady:?}");

    let unit_differs = run(status_get_answer(
        ("active", "VPN connected"),
        ("waiting", "VPN connecting"),
    ));
    assert_eq!(unit_differs.len(), 3, "{unit_differs:?}");
    assert_eq!(unit_differs[2][1], "--application=False");

    let app_unknown = run(status_get_answer(
        ("unknown", ""),
        ("active", "VPN connected"),
    ));
    assert_eq!(app_unknown.len(), 3, "{app_unknown:?}");
    assert_eq!(app_unknown[2][1], "--application=True");
}

#[test]
fn statuses_read_ahead_replace_status_get() {
    let run = |answer: String| tools_called(&leader_update_status(Ok(&answer), true));
    let steady = run(status_get_answer(
        ("active", "VPN connected"),
        ("active", "VPN connected"),
    ));
    assert_eq!(
        steady,
        ["status-get", "is-leader"],
        "read once, nothing set"
    );
    let differs = run(status_get_answer(
        ("active", "VPN connected"),
        ("waiting", "VPN connecting"),
    ));
    assert_eq!(differs, ["status-get", "is-leader", "status-set"]);
    // A failed read counts as "unknown": both are set.
    let failed = tools_called(&leader_update_status(Err("ERROR connection refused"), true));
    assert_eq!(
        failed,
        ["status-get", "is-leader", "status-set", "status-set"]
    );
}

#[test]
fn leadership_read_by_the_charm_is_not_asked_again() {
    let (fake, tools) = setup();
    fake.reply(
        "status-get",
        &status_get_answer(("active", "ok"), ("active", "ok")),
    );
    let outcome = run_hook(ctx("hooks/update-status"), tools, |juju, _| {
        juju.leader_read(true);
        assert!(juju.is_leader()?);
        juju.add_status(Status::active("ok"));
        Ok::<(), juju_charm::ToolError>(())
    });
    assert_eq!(outcome, Outcome::Done);
    assert_eq!(tools_called(&fake), ["status-get"], "no is-leader call");
}

#[test]
fn nothing_collected_sets_nothing() {
    let (fake, tools) = setup();
    let outcome = run_hook(ctx("actions/show-credentials"), tools, |_, hook| {
        assert_eq!(hook, &Hook::Action("show-credentials".into()));
        Ok::<(), ApplyError>(())
    });
    assert_eq!(outcome, Outcome::Done);
    assert!(fake.calls().is_empty());
}

#[test]
fn charm_error_retries_sets_no_status_and_logs_the_chain() {
    let (fake, tools) = setup();
    let logs = Arc::new(RecordingRunner::new());
    let subscriber =
        tracing_subscriber::registry().with(JujuLogLayer::new(Tools::new(logs.clone())));
    let outcome = tracing::subscriber::with_default(subscriber, || {
        run_hook(ctx("hooks/config-changed"), tools, |juju, _| {
            juju.add_status(Status::active(""));
            Err(ApplyError(std::io::Error::other("connection refused")))
        })
    });
    assert_eq!(outcome, Outcome::Retry);
    assert!(fake.calls().is_empty(), "no status-set on failure");
    let errors: Vec<Vec<String>> = logs
        .argvs()
        .into_iter()
        .filter(|a| a[2] == "ERROR")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0][4].ends_with("failed: apply failed: connection refused"),
        "{errors:?}"
    );
}

#[test]
fn error_status_retries_without_status_set() {
    let (fake, tools) = setup();
    let outcome = run_hook(ctx("hooks/start"), tools, |juju, _| {
        juju.add_status(Status::blocked("b"));
        juju.add_status(Status::error("transient"));
        Ok::<(), ApplyError>(())
    });
    assert_eq!(outcome, Outcome::Retry);
    assert!(fake.calls().is_empty());
}

#[test]
fn failing_status_set_or_leader_check_retries() {
    let (fake, tools) = setup();
    fake.fail("status-set", 1, "ERROR connection reset");
    let outcome = run_hook(ctx("hooks/start"), tools, |juju, _| {
        juju.add_status(Status::active(""));
        Ok::<(), ApplyError>(())
    });
    assert_eq!(outcome, Outcome::Retry);

    let (fake, tools) = setup();
    fake.fail("is-leader", 1, "ERROR connection reset");
    let outcome = run_hook(ctx("hooks/start"), tools, |juju, _| {
        juju.add_status(Status::active(""));
        Ok::<(), ApplyError>(())
    });
    assert_eq!(outcome, Outcome::Retry);
    assert_eq!(tools_called(&fake), ["is-leader"]);
}

#[test]
fn outcome_maps_to_exit_code() {
    assert_eq!(
        std::process::ExitCode::from(Outcome::Done),
        std::process::ExitCode::SUCCESS
    );
    assert_eq!(
        std::process::ExitCode::from(Outcome::Retry),
        std::process::ExitCode::FAILURE
    );
}

#[test]
fn juju_handle_finds_workloads_where_juju_puts_them() {
    let (_, tools) = setup();
    let ctx = Context::from_vars([("JUJU_DISPATCH_PATH", "hooks/start")]);
    let juju = juju_charm::Juju::new(ctx, tools);
    assert_eq!(
        juju.pebble_socket("gluetun"),
        std::path::Path::new("/charm/containers/gluetun/pebble.socket")
    );
    assert_eq!(juju.workload_addr("gluetun", 8000), "127.0.0.1:8000");
    assert_eq!(
        juju.pebble("gluetun").socket(),
        std::path::Path::new("/charm/containers/gluetun/pebble.socket")
    );
}

#[derive(Debug, argh::FromArgs, PartialEq)]
#[argh(subcommand)]
enum Cmd {
    Render(RenderCmd),
}

/// Print what the charm would write.
#[derive(Debug, argh::FromArgs, PartialEq)]
#[argh(subcommand, name = "render")]
struct RenderCmd {
    /// a config file
    #[argh(option)]
    config: String,
}

const INFO: CliInfo = CliInfo {
    name: "gluetun-k8s",
    version: "1.2.3",
    about: "test charm",
};

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|&a| a.to_owned()).collect()
}

fn exit(request: CliRequest<Cmd>) -> (String, bool) {
    match request {
        CliRequest::Exit { output, success } => (output, success),
        CliRequest::Run(cmd) => panic!("expected an exit, parsed {cmd:?}"),
    }
}

#[test]
fn cli_parses_subcommands_help_and_version() {
    let cmd = parse_cli::<Cmd>(
        &INFO,
        &args(&["gluetun-k8s", "render", "--config", "c.json"]),
    );
    assert_eq!(
        cmd,
        CliRequest::Run(Cmd::Render(RenderCmd {
            config: "c.json".into()
        }))
    );

    for flag in ["--help", "-h", "help"] {
        let (help, success) = exit(parse_cli(&INFO, &args(&["gluetun-k8s", flag])));
        assert!(success, "{flag}");
        assert!(help.contains("render") && help.contains("Print what the charm would write"));
        assert!(help.contains("--version") && help.contains("test charm"));
    }
    let (command_help, success) = exit(parse_cli(
        &INFO,
        &args(&["gluetun-k8s", "render", "--help"]),
    ));
    assert!(
        success && command_help.contains("--config"),
        "{command_help}"
    );

    let (version, success) = exit(parse_cli(&INFO, &args(&["gluetun-k8s", "--version"])));
    assert!(success);
    assert_eq!(version, "gluetun-k8s 1.2.3");

    // Usage errors: unknown command, missing or unknown option, no command at all.
    for bad in [
        &["gluetun-k8s", "frobnicate"][..],
        &["gluetun-k8s", "render"],
        &["gluetun-k8s", "render", "--config", "c", "--nope"],
        &["gluetun-k8s"],
    ] {
        let (output, success) = exit(parse_cli(&INFO, &args(bad)));
        assert!(!success, "{bad:?}");
        assert!(!output.is_empty(), "{bad:?}");
    }
}
