//! Start and stop: nothing outlives a cluster (drop, panic, SIGKILL of the owner), two
//! clusters at once, and leftovers recorded in a given directory are ended.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::Api;
use kube_testbed::{Cluster, ClusterOptions, NAMESPACE_NAME_LABEL, pid_alive};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Shows this crate's debug logs (start-up and stop times) with `--nocapture`.
fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_test_writer())
        .with(
            tracing_subscriber::filter::Targets::new()
                .with_target("kube_testbed", tracing::Level::DEBUG),
        )
        .try_init();
}

/// Polls `cond` until it holds or `timeout` passes.
fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

fn pids(c: &Cluster) -> [u32; 2] {
    let (a, e) = c.pids();
    [a.unwrap_or(0), e.unwrap_or(0)]
}

#[test]
fn drop_during_a_panic_stops_both_processes_and_removes_the_dir() -> TestResult {
    init_tracing();
    let mut seen = None;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> TestResult {
        let cluster = Cluster::start()?;
        seen = Some((pids(&cluster), cluster.dir().to_path_buf()));
        assert!(pids(&cluster).iter().all(|&p| pid_alive(p)));
        assert!(cluster.dir().join("apiserver.pid").is_file());
        // What every test cluster has: labelled system namespaces and kube-dns at its fixed IP.
        let (labels, dns_ip) = cluster.with_admin(|c| async move {
            let ns = Api::<Namespace>::all(c.clone()).get("kube-system").await;
            let svc = Api::<Service>::namespaced(c, "kube-system")
                .get("kube-dns")
                .await;
            Ok((
                ns.ok().and_then(|n| n.metadata.labels),
                svc.ok().and_then(|s| s.spec).and_then(|s| s.cluster_ip),
            ))
        })?;
        assert_eq!(
            labels
                .and_then(|l| l.get(NAMESPACE_NAME_LABEL).cloned())
                .as_deref(),
            Some("kube-system")
        );
        assert_eq!(dns_ip.as_deref(), Some(kube_testbed::KUBE_DNS_IP));
        panic!("deliberate panic while the cluster runs");
    }));
    assert!(outcome.is_err(), "the closure panics");
    let (pids, dir) = seen.ok_or("the cluster never started")?;
    for pid in pids {
        assert!(!pid_alive(pid), "pid {pid} outlived its cluster");
    }
    assert!(!dir.exists(), "temp dir {} left behind", dir.display());
    Ok(())
}

#[test]
fn two_clusters_at_once_and_leftovers_in_a_given_dir_are_ended() -> TestResult {
    init_tracing();
    let given = tempfile::tempdir()?;
    let options = ClusterOptions {
        dir: Some(given.path().join("cluster")),
        ..ClusterOptions::default()
    };
    let a = Cluster::start_with(&options)?;
    let b = Cluster::start()?;
    assert_ne!(a.server(), b.server());
    a.create_namespace("only-in-a")?;
    let in_b = b.with_admin(|c| async move {
        Ok(Api::<Namespace>::all(c)
            .get_opt("only-in-a")
            .await
            .ok()
            .flatten()
            .is_some())
    })?;
    assert!(!in_b, "clusters share state");

    // Leave `a`'s processes running, as a crashed test run would; a new start there ends them.
    let old = pids(&a);
    a.detach();
    assert!(old.iter().all(|&p| pid_alive(p)));
    let a2 = Cluster::start_with(&options)?;
    for pid in old {
        assert!(!pid_alive(pid), "leftover pid {pid} still runs");
    }
    let all = [pids(&a2), pids(&b)].concat();
    assert!(all.iter().all(|&p| pid_alive(p)));
    drop(a2);
    drop(b);
    for pid in all {
        assert!(!pid_alive(pid), "pid {pid} outlived its cluster");
    }
    assert!(!given.path().join("cluster/apiserver.pid").exists());
    Ok(())
}

/// Not a test on its own: the process `sigkill_of_the_owner_stops_the_cluster` starts and
/// kills. Starts a cluster, writes its PIDs to `$KUBE_TESTBED_HOLDER_FILE`, then waits.
#[test]
#[ignore = "helper process for sigkill_of_the_owner_stops_the_cluster"]
fn holder() -> TestResult {
    let Some(file) = std::env::var_os("KUBE_TESTBED_HOLDER_FILE") else {
        return Ok(());
    };
    let cluster = Cluster::start()?;
    let [a, e] = pids(&cluster);
    let tmp = PathBuf::from(&file).with_extension("tmp");
    std::fs::write(&tmp, format!("{a} {e}"))?;
    std::fs::rename(tmp, file)?;
    loop {
        std::thread::park(); // until SIGKILLed
    }
}

#[test]
fn sigkill_of_the_owner_stops_the_cluster() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("pids");
    let mut holder = Command::new(std::env::current_exe()?)
        .args(["--exact", "holder", "--ignored", "--nocapture"])
        .env("KUBE_TESTBED_HOLDER_FILE", &file)
        .stdout(Stdio::null())
        .spawn()?;
    let started = eventually(Duration::from_mins(2), || {
        file.exists() || holder.try_wait().ok().flatten().is_some()
    });
    let text = std::fs::read_to_string(&file);
    holder.kill()?; // SIGKILL: no destructor runs in the holder
    holder.wait()?;
    assert!(started, "holder did not start a cluster in time");
    let pids: Vec<u32> = text?
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    assert_eq!(pids.len(), 2);
    let gone = eventually(Duration::from_secs(30), || {
        pids.iter().all(|&p| !pid_alive(p))
    });
    assert!(gone, "processes {pids:?} outlived their SIGKILLed owner");
    Ok(())
}
