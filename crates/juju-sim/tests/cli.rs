//! The `juju-sim` command line, command by command against one state directory: the cluster
//! started by the first command keeps running between commands, the state persists, and
//! `down` stops everything by PID (checked: no process of the cluster is left).
//!
//! A guard runs `down` also when an assertion fails, so nothing outlives the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Sim {
    state: PathBuf,
}

impl Sim {
    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_juju-sim"))
            .arg("--state")
            .arg(&self.state)
            .arg("--model")
            .arg("cli")
            .args(args)
            .env("JUJU_SIM_TOOL", env!("CARGO_BIN_EXE_juju-sim-tool"))
            .output();
        match out {
            Ok(o) => o,
            Err(e) => panic!("running juju-sim {args:?}: {e}"),
        }
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "juju-sim {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn unit_file(&self, unit: &str, file: &str) -> String {
        std::fs::read_to_string(
            self.state
                .join("units")
                .join(unit.replace('/', "-"))
                .join("charm/.state")
                .join(file),
        )
        .unwrap_or_default()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        // Stop the cluster whatever happened; a second `down` is harmless.
        let _ = self.run(&["down"]);
    }
}

fn pids(dir: &Path) -> Vec<u32> {
    ["apiserver.pid", "etcd.pid"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

#[test]
#[allow(clippy::too_many_lines)]
fn cli_drives_a_scenario_step_by_step() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let sim = Sim {
        state: tmp.path().join("state"),
    };
    let shell = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/charms/shell")
        .display()
        .to_string();

    sim.ok(&["deploy", &shell, "a", "--config", "greeting=hey"]);
    let cluster_pids = pids(&sim.state.join("cluster"));
    assert_eq!(cluster_pids.len(), 2, "cluster PID files");
    sim.ok(&["deploy", &shell, "b"]);
    // A packed .charm (zip) deploys too.
    let packed = tmp.path().join("shell-test.charm");
    let zipped = Command::new("zip")
        .current_dir(&shell)
        .arg("-qr")
        .arg(&packed)
        .arg(".")
        .status()?;
    assert!(zipped.success());
    sim.ok(&["deploy", &packed.display().to_string(), "c"]);
    sim.ok(&["relate", "a:src", "b:dst"]);

    let status: serde_json::Value = serde_json::from_str(&sim.ok(&["status", "--format=json"]))?;
    assert_eq!(
        status["applications"]["b"]["units"]["b/0"]["workload-status"]["message"],
        "got hey"
    );
    assert_eq!(
        status["applications"]["a"]["units"]["a/0"]["workload-status"]["current"],
        "active"
    );
    assert_eq!(
        status["applications"]["a"]["relations"]["src"][0]["related-application"],
        "b"
    );
    let table = sim.ok(&["status", "--relations"]);
    assert!(
        table.contains("a:src") && table.contains("b:dst"),
        "{table}"
    );
    assert!(table.contains("a/0*"), "{table}");
    assert_eq!(
        status["applications"]["c"]["units"]["c/0"]["workload-status"]["message"],
        "ready"
    );

    // A fault on b's API traffic (one 429), then the real 403 of the untrusted identity.
    sim.ok(&[
        "fault",
        "b",
        "--verb",
        "get",
        "--resource",
        "statefulsets",
        "--status",
        "429",
        "--count",
        "1",
    ]);
    sim.ok(&["config", "b", "probe-k8s=true"]);
    assert_eq!(sim.unit_file("b/0", "k8s-result").trim(), "429");
    sim.ok(&["config", "b", "greeting=again"]);
    assert_eq!(sim.unit_file("b/0", "k8s-result").trim(), "403");
    sim.ok(&["trust", "b"]);
    assert_eq!(sim.unit_file("b/0", "k8s-result").trim(), "200");

    // Workload endpoint: answer set from the CLI, request (with its Authorization) recorded.
    sim.ok(&[
        "workload-http",
        "a",
        "work",
        "/v1/publicip/ip",
        "--body",
        r#"{"public_ip":"1.2.3.4"}"#,
    ]);
    sim.ok(&["update-status"]);
    assert_eq!(
        sim.unit_file("a/0", "workload"),
        r#"{"public_ip":"1.2.3.4"}"#
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sim.state.join("state.json"))?)?;
    assert_eq!(
        state["workload_requests"][0]["headers"]["authorization"],
        "Bearer test-key"
    );
    sim.ok(&["workload-http", "a", "work", "/v1/publicip/ip", "--down"]);
    sim.ok(&["update-status"]);
    assert_eq!(sim.unit_file("a/0", "workload").trim(), "down");

    // Pebble, from the CLI.
    let pebble: serde_json::Value = serde_json::from_str(&sim.ok(&["pebble", "a/0", "work"]))?;
    assert!(pebble["boot-id"].is_string(), "{pebble}");
    sim.ok(&["pebble-check", "a/0", "work", "ready", "down"]);

    // Actions print results like `juju run`.
    let out = sim.ok(&["run", "b/0", "echo", "msg=yo"]);
    assert!(out.contains("echoed: yo"), "{out}");

    // Secrets.
    let uri = sim.ok(&["add-secret", "tok", "token=x"]);
    assert!(uri.trim().starts_with("secret:"), "{uri}");
    sim.ok(&["grant-secret", "tok", "b"]);

    // A script, kubectl as admin, debug-log.
    let script = tmp.path().join("scenario.txt");
    std::fs::write(
        &script,
        "# scale and back\nscale-application a 2\nconfig a greeting='hello there'\n",
    )?;
    sim.ok(&["script", &script.display().to_string()]);
    assert_eq!(sim.unit_file("a/1", "app-write").trim(), "denied");
    let status: serde_json::Value = serde_json::from_str(&sim.ok(&["status", "--format=json"]))?;
    assert_eq!(
        status["applications"]["b"]["units"]["b/0"]["workload-status"]["message"],
        "got hello there"
    );
    let sts = sim.ok(&["kubectl", "get", "statefulsets", "-o", "name"]);
    assert!(
        sts.contains("statefulset.apps/a") && sts.contains("statefulset.apps/b"),
        "{sts}"
    );
    let log = sim.ok(&["debug-log"]);
    assert!(log.contains("b/0 install exit 0"), "{log}");
    assert!(
        log.contains("api: GET /apis/apps/v1/namespaces/cli/statefulsets/b -> 403"),
        "{log}"
    );

    // Bad input fails like juju.
    let bad = sim.run(&["relate", "a", "nosuch"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("application \"nosuch\" not found"));

    // down: nothing left running.
    let out = sim.ok(&["down"]);
    assert!(out.contains("stopped"), "{out}");
    for pid in cluster_pids {
        assert!(!kube_testbed::pid_alive(pid), "pid {pid} still running");
    }
    Ok(())
}
