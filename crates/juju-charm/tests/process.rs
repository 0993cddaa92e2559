//! The real process runner against tiny shell-script tools in a temporary directory:
//! spawned processes, stdout, stdin, exit codes, stderr kept and classified, missing tools,
//! and the bounds on stdout and stderr (a tool writing without end is stopped, not read out).
//!
//! One test function on purpose: writing an executable while another test thread forks can
//! make its exec fail with "text file busy", so all scripts are written before any runs.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use juju_charm::tools::{MAX_STDERR_BYTES, MAX_STDOUT_BYTES, OutputError, ProcessRunner, Stream};
use juju_charm::{ToolError, ToolRunner, Tools};

fn script(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn process_runner_against_script_tools() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Echoes its argv, one per line, so we see exactly what was passed.
    script(d, "relation-ids", r#"printf '["%s:%s"]' "$1" 7"#);
    script(
        d,
        "echo-args",
        r#"for a in "$@"; do printf '%s\n' "$a"; done"#,
    );
    // Reads stdin and prints it back (what relation-set would parse).
    script(
        d,
        "relation-set",
        r#"cat > "$(dirname "$0")/stdin.txt"; printf '%s ' "$@""#,
    );
    script(
        d,
        "relation-get",
        r#"echo 'ERROR invalid value "9" for option -r: relation not found' >&2; exit 1"#,
    );
    script(
        d,
        "secret-get",
        r#"echo 'ERROR secret "x" not found' >&2; exit 1"#,
    );
    script(
        d,
        "status-set",
        r#"echo "ERROR something broke" >&2; echo partial; exit 3"#,
    );
    script(d, "is-leader", r"printf '\377\376'");
    script(d, "goal-state", "kill -9 $$");
    script(
        d,
        "juju-log",
        r#"printf '%s|' "$@" >> "$(dirname "$0")/log.txt""#,
    );

    // The bounds: exactly at the bound is read; one byte over, or output without end (on
    // stdout or stderr, also while the tool still waits for its stdin), is refused.
    script(
        d,
        "stdout-at-bound",
        &format!("head -c {MAX_STDOUT_BYTES} /dev/zero"),
    );
    script(
        d,
        "stdout-over-bound",
        &format!("head -c {} /dev/zero", MAX_STDOUT_BYTES + 1),
    );
    script(
        d,
        "stderr-at-bound",
        &format!("head -c {MAX_STDERR_BYTES} /dev/zero >&2; exit 1"),
    );
    script(d, "stdout-endless", "exec yes");
    script(d, "stderr-endless", "exec yes >&2");
    script(d, "stdout-endless-unread-stdin", "exec yes");

    let runner = ProcessRunner::in_dir(d);
    successes(d, &runner);
    failures(d, &runner);
    bounds(&runner);
}

/// Runs `f` on its own thread; fails the test (instead of hanging it) when `f` has not
/// returned within `limit`.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(f());
    });
    result
        .recv_timeout(limit)
        .unwrap_or_else(|e| panic!("no result within {limit:?}: {e}"))
}

fn bounds(runner: &ProcessRunner) {
    let run = |tool: &'static str, stdin: Option<String>| {
        let runner = runner.clone();
        within(Duration::from_mins(1), move || {
            runner.run(tool, &[], stdin.as_deref())
        })
    };
    let too_large = |result: Result<String, ToolError>, name: &str, which: Stream, bound| {
        let err = result.unwrap_err();
        assert!(
            matches!(&err, ToolError::OutputTooLarge { tool, stream, limit }
                if tool == name && *stream == which && *limit == bound),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("{name} wrote more than {bound} bytes to {which}")
        );
    };

    assert_eq!(
        run("stdout-at-bound", None).unwrap().len(),
        MAX_STDOUT_BYTES
    );
    too_large(
        run("stdout-over-bound", None),
        "stdout-over-bound",
        Stream::Stdout,
        MAX_STDOUT_BYTES,
    );
    // At the bound, stderr is still kept for the failure.
    let err = run("stderr-at-bound", None).unwrap_err();
    assert!(
        matches!(&err, ToolError::Failed { code: Some(1), stderr, .. } if stderr.len() == MAX_STDERR_BYTES),
        "{err:?}"
    );
    // Without end: read only to the bound, then the tool is killed (else these never return).
    too_large(
        run("stdout-endless", None),
        "stdout-endless",
        Stream::Stdout,
        MAX_STDOUT_BYTES,
    );
    too_large(
        run("stderr-endless", None),
        "stderr-endless",
        Stream::Stderr,
        MAX_STDERR_BYTES,
    );
    // The tool never reads its stdin, larger than a pipe holds: the writer is not left blocked.
    too_large(
        run("stdout-endless-unread-stdin", Some("x".repeat(1024 * 1024))),
        "stdout-endless-unread-stdin",
        Stream::Stdout,
        MAX_STDOUT_BYTES,
    );
}

fn successes(d: &Path, runner: &ProcessRunner) {
    // Success: stdout returned, argv passed untouched (spaces, dashes, quotes).
    let args: Vec<String> = ["--", "a b", "-x", "it's"].map(String::from).to_vec();
    assert_eq!(
        runner.run("echo-args", &args, None).unwrap(),
        "--\na b\n-x\nit's\n"
    );

    let tools = Tools::new(Arc::new(runner.clone()));
    assert_eq!(tools.relation_ids("vpn-gateway").unwrap(), vec![7]);

    // stdin reaches the tool; the data is not on the command line.
    let data = [("config".to_owned(), "{\"a\": 1}".to_owned())].into();
    tools.relation_set_app(3, &data).unwrap();
    assert_eq!(
        std::fs::read_to_string(d.join("stdin.txt")).unwrap(),
        r#"{"config":"{\"a\": 1}"}"#
    );

    // juju-log gets level and message as separate arguments.
    tools
        .juju_log(juju_charm::tools::unit::LogLevel::Error, "hook failed: x")
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(d.join("log.txt")).unwrap(),
        "--log-level|ERROR|--|hook failed: x|"
    );
}

fn failures(d: &Path, runner: &ProcessRunner) {
    let tools = Tools::new(Arc::new(runner.clone()));

    // Non-zero exits keep stderr and are classified.
    let err = tools.relation_get(9, "a/0").unwrap_err();
    assert!(
        matches!(&err, ToolError::RelationNotFound { tool, stderr } if tool == "relation-get"
            && stderr == r#"ERROR invalid value "9" for option -r: relation not found"#),
        "{err:?}"
    );
    let err = tools
        .secret_get(
            juju_charm::tools::secret::SecretRef::Id("x"),
            juju_charm::tools::secret::Revision::Tracked,
        )
        .unwrap_err();
    assert!(matches!(err, ToolError::SecretNotFound { .. }), "{err:?}");
    let err = tools
        .status_set(&juju_charm::Status::active(""), false)
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::Failed { code: Some(3), stderr, .. } if stderr == "ERROR something broke"),
        "{err:?}"
    );

    // Output that is not UTF-8 is a typed error.
    let err = tools.is_leader().unwrap_err();
    assert!(
        matches!(
            err,
            ToolError::BadOutput {
                source: OutputError::NotUtf8(_),
                ..
            }
        ),
        "{err:?}"
    );

    // Killed by a signal: no exit code.
    let err = tools.goal_state().unwrap_err();
    assert!(
        matches!(err, ToolError::Failed { code: None, .. }),
        "{err:?}"
    );

    // A tool that does not exist.
    let err = tools
        .open_port(juju_charm::tools::ports::Port::tcp(1))
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::ToolMissing { tool } if tool == "open-port"),
        "{err:?}"
    );

    // PATH lookup on a given PATH (the process environment is untouched).
    let dirs = std::env::join_paths([d, Path::new("/usr/bin"), Path::new("/bin")]).unwrap();
    let on_path = ProcessRunner::with_path(dirs);
    assert_eq!(
        on_path.run("echo-args", &["x".to_owned()], None).unwrap(),
        "x\n"
    );
    let err = on_path.run("open-port", &[], None).unwrap_err();
    assert!(matches!(err, ToolError::ToolMissing { .. }), "{err:?}");

    // PATH lookup: a tool name that is on no PATH is missing, not a panic.
    let err = ProcessRunner::new()
        .run("charmarr-no-such-hook-tool", &[], None)
        .unwrap_err();
    assert!(matches!(err, ToolError::ToolMissing { .. }), "{err:?}");
}
