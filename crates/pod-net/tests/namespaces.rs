//! pod-net on the real kernel (needs root; skipped otherwise): pods reach each other over the
//! bridge, a container sees what a Kubernetes container sees, and every handle's drop removes
//! exactly the namespaces it made, also while a panic unwinds.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use pod_net::{Cluster, ClusterSpec, Container, Image, Internet, InternetSpec, PodSpec, Volume};

/// Why these tests cannot run here, if they cannot.
fn unavailable() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("not root".into());
    }
    for tool in ["ip", "nsenter", "unshare", "ss", "chroot"] {
        if !std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

macro_rules! require_root {
    () => {
        if let Some(reason) = unavailable() {
            eprintln!("skipping: {reason}");
            return;
        }
    };
}

fn netns_list() -> String {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn listed(name: &str) -> bool {
    netns_list()
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

#[test]
fn pods_reach_each_other_through_the_node_and_containers_see_kubernetes_files() {
    require_root!();
    let cluster = Cluster::new(ClusterSpec::default()).expect("cluster");
    let a = cluster
        .add_pod(PodSpec::new("alpha-0", "model"))
        .expect("pod a");
    let b = cluster
        .add_pod(PodSpec::new("beta-0", "model"))
        .expect("pod b");
    assert_eq!(a.ip(), Ipv4Addr::new(10, 1, 0, 2));
    assert_eq!(b.ip(), Ipv4Addr::new(10, 1, 0, 3));
    assert_eq!(a.node_ip(), cluster.node_ip());

    let whoami =
        pod_net::Whoami::start(b.netns(), SocketAddrV4::new(b.ip(), 7000)).expect("listen");
    let seen = pod_net::tcp_whoami(a.netns(), whoami.addr(), Duration::from_secs(5))
        .expect("probe runs")
        .expect("b answers a");
    assert_eq!(seen, a.ip());
    let route = a
        .netns_output("ip", &["route", "show", "default"])
        .expect("ip route");
    assert!(
        route.contains(&format!("via {}", cluster.node_ip())),
        "{route}"
    );

    let container = Container {
        name: "probe".into(),
        command: vec!["/bin/sh".into(), "-c".into()],
        args: vec![
            "echo pid=$$; hostname; cat /config/key; env | sort; cat /etc/resolv.conf; \
             echo scratch > /etc/pod-net-scratch; cat /sys/class/net/eth0/address; exit 3"
                .into(),
        ],
        env: vec![("FOO".into(), "bar".into())],
        volumes: vec![Volume {
            mount_path: "/config".into(),
            files: [("key".to_owned(), "value\n".to_owned())].into(),
        }],
    };
    let exited = a
        .run(
            &Image::host().expect("image"),
            &container,
            Duration::from_secs(20),
        )
        .expect("container runs");
    let out = &exited.stdout;
    assert_eq!(exited.code, Some(3), "{exited:#?}");
    assert!(out.contains("pid=1\n"), "{out}");
    assert!(out.contains("alpha-0\n"), "{out}");
    assert!(out.contains("value\n"), "{out}");
    assert!(out.contains("FOO=bar\n"), "{out}");
    assert!(out.contains("HOSTNAME=alpha-0\n"), "{out}");
    assert!(
        out.contains("KUBERNETES_SERVICE_HOST=10.152.183.1\n"),
        "{out}"
    );
    assert!(out.contains("search model.svc.cluster.local"), "{out}");
    assert!(out.contains("nameserver 10.152.183.10"), "{out}");
    // The container's writes stay in the container; the host's hostname is untouched.
    assert!(!std::path::Path::new("/etc/pod-net-scratch").exists());
    assert_ne!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname"),
        "alpha-0\n"
    );

    // A started container keeps running until stopped; what it started dies with it.
    let sleeper = Container {
        name: "sleeper".into(),
        command: vec![
            "/bin/sh".into(),
            "-c".into(),
            "sleep 300 & sleep 300".into(),
        ],
        ..Container::default()
    };
    b.start(&Image::host().expect("image"), &sleeper)
        .expect("start");
    assert!(b.is_running("sleeper"));
    assert!(b.stop("sleeper"));
    assert!(!b.is_running("sleeper"));
}

#[test]
fn drop_removes_exactly_the_namespaces_made_also_on_panic() {
    require_root!();
    let mut names = Vec::new();
    {
        let cluster = Cluster::new(ClusterSpec::default()).expect("cluster");
        let gw = cluster.add_pod(PodSpec::new("gw-0", "m")).expect("pod");
        let internet = Internet::attach(&cluster, &gw, InternetSpec::default()).expect("internet");
        names.extend([
            cluster.node_netns().to_owned(),
            gw.netns().to_owned(),
            internet.netns().to_owned(),
        ]);
        for name in &names {
            assert!(listed(name), "{name} not in {}", netns_list());
        }
    }
    for name in &names {
        assert!(!listed(name), "{name} left behind: {}", netns_list());
    }

    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::panic::catch_unwind(move || {
        let cluster = Cluster::new(ClusterSpec::default()).expect("cluster");
        let pod = cluster.add_pod(PodSpec::new("doomed-0", "m")).expect("pod");
        let sleeper = Container {
            name: "sleeper".into(),
            command: vec!["/bin/sleep".into(), "300".into()],
            ..Container::default()
        };
        pod.start(&Image::host().expect("image"), &sleeper)
            .expect("start");
        tx.send(vec![
            cluster.node_netns().to_owned(),
            pod.netns().to_owned(),
        ])
        .expect("send");
        panic!("a test failing mid-way");
    });
    assert!(result.is_err());
    let names = rx.recv().expect("names");
    for name in &names {
        assert!(
            !listed(name),
            "{name} left behind after a panic: {}",
            netns_list()
        );
    }
}
