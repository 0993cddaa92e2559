//! Runs the `vpn-route-init` wrapper under a real POSIX shell (`/bin/sh`; busybox ash in the
//! pod-gateway image) with stubbed `ip`, `timeout`, `sleep` and `client_init.sh`, to prove it
//! is bounded, restores a missing default route and never fails the init container.
#![allow(clippy::disallowed_methods)] // Test machinery: these tests run the wrapper under real shells.
#![cfg(unix)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use vpn_gateway_iface::wrapper::{VPN_ROUTE_INIT_SCRIPT, VPN_ROUTE_SIDECAR_SCRIPT};

const IP: &str = r#"#!/bin/sh
case "$*" in
  "route show default") grep '^default' "$STATE/routes" ;;
  "route show") cat "$STATE/routes" ;;
  "route add default via "*) echo "default via $5" >> "$STATE/routes" ;;
  *) echo "ip $*" >> "$STATE/log"; exit 1 ;;
esac
exit 0
"#;

/// Like upstream: deletes the default route, then fails until attempt `$SUCCEED_AT`.
const CLIENT_INIT: &str = r#"#!/bin/sh
echo attempt >> "$STATE/log"
n=$(grep -c attempt "$STATE/log")
grep -v '^default' "$STATE/routes" > "$STATE/routes.new"
mv "$STATE/routes.new" "$STATE/routes"
if [ "$n" -ge "$SUCCEED_AT" ]; then
  echo "default via 172.16.0.1 dev vxlan0" >> "$STATE/routes"
  exit 0
fi
exit 1
"#;

const TIMEOUT: &str = r#"#!/bin/sh
echo "timeout $1 $2 $3" >> "$STATE/log"
shift 3
exec "$@"
"#;

const SLEEP: &str = "#!/bin/sh\necho \"sleep $1\" >> \"$STATE/log\"\n";

struct Run {
    code: Option<i32>,
    log: String,
    routes: String,
    stderr: String,
}

fn write_exec(path: &Path, body: &str) {
    fs::write(path, body).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

fn run_in(shell: &[&str], succeed_at: u32, with_timeout: bool) -> Run {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap_or_else(|e| panic!("{e}"));
    write_exec(&bin.join("ip"), IP);
    write_exec(&bin.join("sleep"), SLEEP);
    if with_timeout {
        write_exec(&bin.join("timeout"), TIMEOUT);
    }
    for tool in ["grep", "awk", "cat", "mv"] {
        let found = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists());
        let target = found.unwrap_or_else(|| panic!("{tool} not installed"));
        std::os::unix::fs::symlink(target, bin.join(tool)).unwrap_or_else(|e| panic!("{e}"));
    }
    let init = dir.path().join("client_init.sh");
    write_exec(&init, CLIENT_INIT);
    let state = dir.path().join("state");
    fs::create_dir(&state).unwrap_or_else(|e| panic!("{e}"));
    // A failed earlier attempt left the cluster route but no default route.
    fs::write(state.join("routes"), "10.1.0.0/16 via 10.0.0.1 dev eth0\n")
        .unwrap_or_else(|e| panic!("{e}"));
    fs::write(state.join("log"), "").unwrap_or_else(|e| panic!("{e}"));
    let script = VPN_ROUTE_INIT_SCRIPT.replace("/bin/client_init.sh", &init.display().to_string());
    let out = Command::new(shell[0])
        .args(&shell[1..])
        .arg("-c")
        .arg(&script)
        .env_clear()
        .env("PATH", &bin)
        .env("STATE", &state)
        .env("SUCCEED_AT", succeed_at.to_string())
        .output()
        .unwrap_or_else(|e| panic!("/bin/sh: {e}"));
    let read = |f: &str| fs::read_to_string(state.join(f)).unwrap_or_default();
    Run {
        code: out.status.code(),
        log: read("log"),
        routes: read("routes"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(succeed_at: u32, with_timeout: bool) -> Vec<Run> {
    vec![run_in(&["/bin/sh"], succeed_at, with_timeout)]
}

/// busybox's ash is the image's `/bin/sh`. Debian's busybox runs its own applets (`sleep`,
/// `timeout`) before PATH, so only a first-attempt success is quick to check there; that
/// still proves the script parses and busybox `timeout` takes our arguments.
#[test]
fn busybox_ash_runs_it() {
    if !Path::new("/usr/bin/busybox").exists() {
        eprintln!("busybox not installed: skipped");
        return;
    }
    let r = run_in(&["/usr/bin/busybox", "sh"], 1, true);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.log.matches("attempt").count(), 1, "{}", r.log);
    assert!(
        r.routes.contains("default via 172.16.0.1 dev vxlan0"),
        "{}",
        r.routes
    );
    assert!(
        r.stderr.is_empty() || !r.stderr.contains("unreachable"),
        "{}",
        r.stderr
    );
}

#[test]
fn gives_up_after_three_bounded_attempts_restores_the_route_and_exits_zero() {
    for r in run(99, true) {
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        assert_eq!(r.log.matches("attempt").count(), 3, "{}", r.log);
        assert_eq!(r.log.matches("timeout -s KILL 40").count(), 3, "{}", r.log);
        assert_eq!(r.log.matches("sleep 5").count(), 2, "{}", r.log);
        assert!(r.routes.contains("default via 10.0.0.1"), "{}", r.routes);
        assert!(
            r.stderr.contains("gateway unreachable after 3 attempts"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn stops_at_the_first_success() {
    for r in run(2, true) {
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        assert_eq!(r.log.matches("attempt").count(), 2, "{}", r.log);
        assert_eq!(r.log.matches("sleep 5").count(), 1, "{}", r.log);
        // The tunnel's default route, not a restored one.
        assert!(
            r.routes.contains("default via 172.16.0.1 dev vxlan0"),
            "{}",
            r.routes
        );
        assert!(!r.routes.contains("default via 10.0.0.1"), "{}", r.routes);
        assert!(!r.stderr.contains("unreachable"), "{}", r.stderr);
    }
}

#[test]
fn runs_without_timeout_in_the_image() {
    for r in run(99, false) {
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        assert_eq!(r.log.matches("attempt").count(), 3, "{}", r.log);
        assert!(!r.log.contains("timeout"), "{}", r.log);
    }
}

/// `ping` of the sidecar stub: fails while `$STATE/down` exists.
const PING: &str = "#!/bin/sh\n[ ! -e \"$STATE/down\" ]\n";

/// `client_init.sh` of the sidecar stub: fails until its `$SUCCEED_AT`-th call, which brings
/// the tunnel back.
const RECONNECT: &str = r#"#!/bin/sh
echo reconnect >> "$STATE/log"
n=$(grep -c reconnect "$STATE/log")
if [ "$n" -ge "$SUCCEED_AT" ]; then
  rm -f "$STATE/down"
  exit 0
fi
exit 1
"#;

/// `sleep` of the sidecar stub: logs; once the tunnel is back (and has been watched once),
/// it stops the sidecar as the kubelet would, with SIGTERM.
const WATCH_SLEEP: &str = r#"#!/bin/sh
echo "sleep $1" >> "$STATE/log"
if [ ! -e "$STATE/down" ]; then
  if [ -e "$STATE/watched" ]; then kill -TERM "$PPID"; fi
  : > "$STATE/watched"
fi
"#;

/// Runs the sidecar loop under `shell` with the tunnel down, a reconnect that fails until
/// attempt `succeed_at`, and stops it once the tunnel is back: (exit code, log, stderr).
fn run_sidecar(shell: &[&str], succeed_at: u32) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap_or_else(|e| panic!("{e}"));
    write_exec(&bin.join("ping"), PING);
    write_exec(&bin.join("sleep"), WATCH_SLEEP);
    write_exec(&bin.join("timeout"), TIMEOUT);
    for tool in ["grep", "rm", "kill"] {
        let found = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists());
        if let Some(target) = found {
            std::os::unix::fs::symlink(target, bin.join(tool)).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let init = dir.path().join("client_init.sh");
    write_exec(&init, RECONNECT);
    let defaults = dir.path().join("default_settings.sh");
    fs::write(&defaults, "CONNECTION_RETRY_COUNT=1\n").unwrap_or_else(|e| panic!("{e}"));
    let settings = dir.path().join("settings.sh");
    fs::write(&settings, "VXLAN_IP_NETWORK=\"172.16.0\"\n").unwrap_or_else(|e| panic!("{e}"));
    let state = dir.path().join("state");
    fs::create_dir(&state).unwrap_or_else(|e| panic!("{e}"));
    fs::write(state.join("down"), "").unwrap_or_else(|e| panic!("{e}"));
    fs::write(state.join("log"), "").unwrap_or_else(|e| panic!("{e}"));
    let script = VPN_ROUTE_SIDECAR_SCRIPT
        .replace("/bin/client_init.sh", &init.display().to_string())
        .replace(
            "/default_config/settings.sh",
            &defaults.display().to_string(),
        )
        .replace("/config/settings.sh", &settings.display().to_string());
    let out = Command::new(shell[0])
        .args(&shell[1..])
        .arg("-c")
        .arg(&script)
        .env_clear()
        .env("PATH", &bin)
        .env("STATE", &state)
        .env("SUCCEED_AT", succeed_at.to_string())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", shell[0]));
    (
        out.status.code(),
        fs::read_to_string(state.join("log")).unwrap_or_default(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_sidecar_survives_failed_reconnects_and_stops_on_sigterm() {
    // Debian's busybox runs its own `sleep` and `kill` before PATH, so the stubs that stop
    // the loop only take effect under the host's sh (dash); busybox parses it below.
    let (code, log, stderr) = run_sidecar(&["/bin/sh"], 3);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(log.matches("reconnect").count(), 3, "{log}");
    // A pause after each failed reconnect, then one while watching the tunnel again.
    assert_eq!(stderr.matches("reconnect failed").count(), 2, "{stderr}");
    assert!(log.matches("sleep 10").count() >= 3, "{log}");
}

#[test]
fn busybox_ash_parses_the_sidecar() {
    if !Path::new("/usr/bin/busybox").exists() {
        eprintln!("busybox not installed: skipped");
        return;
    }
    let out = Command::new("/usr/bin/busybox")
        .args(["sh", "-n", "-c", VPN_ROUTE_SIDECAR_SCRIPT])
        .output()
        .unwrap_or_else(|e| panic!("busybox: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
