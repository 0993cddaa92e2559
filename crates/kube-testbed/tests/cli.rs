//! The `kube-testbed` CLI: `up` leaves a cluster running after it exits, `status` and `env`
//! describe it, kubectl uses it, `down` stops it by the recorded PIDs.

use std::path::Path;
use std::process::{Command, Output};

use kube_testbed::{pid_alive, running_in_dir, stop_dir};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn cli(args: &[&str], dir: &Path) -> Result<Output, std::io::Error> {
    Command::new(env!("CARGO_BIN_EXE_kube-testbed"))
        .args(args)
        .arg("--dir")
        .arg(dir)
        .output()
}

/// Stops whatever the test left running in the directory, even when an assertion failed.
struct Down<'a>(&'a Path);
impl Drop for Down<'_> {
    fn drop(&mut self) {
        stop_dir(self.0);
    }
}

#[test]
fn up_status_env_down() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("demo");
    let _down = Down(&dir);

    assert!(
        !cli(&["status"], &dir)?.status.success(),
        "nothing runs yet"
    );
    let up = cli(&["up"], &dir)?;
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let running = running_in_dir(&dir);
    assert_eq!(
        running.iter().map(|r| r.0).collect::<Vec<_>>(),
        ["kube-apiserver", "etcd"]
    );

    let status = cli(&["status"], &dir)?;
    assert!(status.status.success());
    assert!(String::from_utf8_lossy(&status.stdout).contains("kube-apiserver: running"));

    let env = String::from_utf8(cli(&["env"], &dir)?.stdout)?;
    let kubeconfig = env
        .trim()
        .strip_prefix("export KUBECONFIG=")
        .ok_or(env.clone())?;
    assert!(Path::new(kubeconfig).is_file());
    assert_eq!(
        String::from_utf8(up.stdout)?,
        env,
        "up prints the same export line"
    );
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok()
    {
        let out = Command::new("kubectl")
            .env("KUBECONFIG", kubeconfig)
            .args(["get", "namespaces"])
            .output()?;
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("kube-system"),
            "{out:?}"
        );
    } else {
        eprintln!("SKIPPED kubectl check: no kubectl on PATH");
    }

    let down = cli(&["down"], &dir)?;
    assert!(
        String::from_utf8_lossy(&down.stderr).contains("stopped kube-apiserver, etcd"),
        "{down:?}"
    );
    for (name, pid) in running {
        assert!(!pid_alive(pid), "{name} (pid {pid}) still runs after down");
    }
    assert!(!cli(&["status"], &dir)?.status.success());
    Ok(())
}
