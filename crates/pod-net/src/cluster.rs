//! The node (a namespace with the bridge) and pods (namespaces with `eth0` on it).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipnet::Ipv4Net;

use crate::container::Running;
use crate::exec::{self, delete_netns, ip_in, netns_command, run};
use crate::{Error, Result};

/// The cluster's address plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    /// The pods' subnet, on the bridge. Its first host address is the node's (the pods'
    /// default gateway); pods get the following ones in order.
    pub pod_cidr: Ipv4Net,
    /// The ClusterIP range. Its first address goes into `KUBERNETES_SERVICE_HOST`, as the
    /// `kubernetes` Service's does.
    pub service_cidr: Ipv4Net,
    /// The cluster DNS ClusterIP, written into each pod's `/etc/resolv.conf`.
    pub dns_ip: Ipv4Addr,
    /// The cluster domain (`cluster.local`).
    pub domain: String,
}

impl Default for ClusterSpec {
    /// MicroK8s' defaults. Every cluster lives in namespaces of its own, so two clusters with
    /// the same plan do not collide.
    fn default() -> Self {
        Self {
            pod_cidr: Ipv4Net::new(Ipv4Addr::new(10, 1, 0, 0), 24).unwrap_or_default(),
            service_cidr: Ipv4Net::new(Ipv4Addr::new(10, 152, 183, 0), 24).unwrap_or_default(),
            dns_ip: Ipv4Addr::new(10, 152, 183, 10),
            domain: "cluster.local".into(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) prefix: String,
    pub(crate) node_ns: String,
    pub(crate) bridge: String,
    pub(crate) node_ip: Ipv4Addr,
    pub(crate) spec: ClusterSpec,
    next_host: Mutex<u32>,
}

/// A cluster: the node network namespace `charmarr-<pid>-<n>-node` with bridge `cr-<n>` and
/// the node's address on it. Dropping it deletes the node namespace (and with it the bridge
/// and the pods' veth ends); pods are separate handles and delete their own namespaces.
#[derive(Debug)]
pub struct Cluster {
    shared: Arc<Shared>,
}

impl Cluster {
    /// Creates the node namespace, its bridge and forwarding.
    pub fn new(spec: ClusterSpec) -> Result<Self> {
        let prefix = exec::unique_prefix();
        let node_ns = format!("{prefix}-node");
        let suffix = prefix.rsplit('-').next().unwrap_or_default();
        let bridge = format!("cr-{suffix}");
        let node_ip = spec
            .pod_cidr
            .hosts()
            .next()
            .ok_or(Error::AddressPoolExhausted {
                cidr: spec.pod_cidr,
            })?;
        run("ip", &["netns", "add", &node_ns]).map_err(|source| Error::CreateNamespace {
            name: node_ns.clone(),
            source,
        })?;
        // From here on, the drop deletes the namespace whatever fails next.
        let cluster = Self {
            shared: Arc::new(Shared {
                prefix,
                node_ns: node_ns.clone(),
                bridge: bridge.clone(),
                node_ip,
                spec,
                next_host: Mutex::new(1),
            }),
        };
        let addr = format!("{node_ip}/{}", cluster.shared.spec.pod_cidr.prefix_len());
        let steps: [&[&str]; 4] = [
            &["link", "set", "lo", "up"],
            &["link", "add", &bridge, "type", "bridge"],
            &["addr", "add", &addr, "dev", &bridge],
            &["link", "set", &bridge, "up"],
        ];
        for step in steps {
            ip_in(&node_ns, step).map_err(|source| Error::ConfigureNode {
                name: node_ns.clone(),
                source,
            })?;
        }
        exec::output(sysctl(&node_ns, "net.ipv4.ip_forward=1")).map_err(|source| {
            Error::ConfigureNode {
                name: node_ns.clone(),
                source,
            }
        })?;
        Ok(cluster)
    }

    /// The address plan.
    pub fn spec(&self) -> &ClusterSpec {
        &self.shared.spec
    }

    /// The node's address on the bridge: every pod's default gateway.
    pub fn node_ip(&self) -> Ipv4Addr {
        self.shared.node_ip
    }

    /// The node namespace's name (for `ip -n`, `nsenter --net=/run/netns/<name>`).
    pub fn node_netns(&self) -> &str {
        &self.shared.node_ns
    }

    /// The bridge's name in the node namespace.
    pub fn bridge(&self) -> &str {
        &self.shared.bridge
    }

    /// `charmarr-<pid>-<n>`: the prefix of every namespace of this cluster.
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }

    /// A new pod: namespace `<prefix>-<name>`, `eth0` on the bridge with the next address of
    /// the pod CIDR, loopback up, default route via the node, and the kubelet's files.
    pub fn add_pod(&self, spec: PodSpec) -> Result<Pod> {
        Pod::new(Arc::clone(&self.shared), spec)
    }

    /// Makes `ip` a ClusterIP served by `pod`, without kube-proxy: the address on the pod's
    /// loopback, so its replies come from it, and a node route to it via the pod.
    pub fn add_service_ip(&self, ip: Ipv4Addr, pod: &Pod) -> Result<()> {
        let map = |source| Error::AssignServiceIp {
            ip,
            pod: pod.name().to_owned(),
            source,
        };
        ip_in(
            pod.netns(),
            &["addr", "add", &format!("{ip}/32"), "dev", "lo"],
        )
        .map_err(map)?;
        ip_in(
            &self.shared.node_ns,
            &[
                "route",
                "replace",
                &format!("{ip}/32"),
                "via",
                &pod.ip().to_string(),
            ],
        )
        .map_err(map)?;
        Ok(())
    }
}

impl Cluster {
    /// Makes `ip` an address of the node itself, as a ClusterIP whose endpoints are on the
    /// host network (the `kubernetes` Service): pods reach it by their default route, and a
    /// listener bound to it in [`Cluster::node_netns`] serves it.
    pub fn add_node_service_ip(&self, ip: Ipv4Addr) -> Result<()> {
        ip_in(
            &self.shared.node_ns,
            &["addr", "add", &format!("{ip}/32"), "dev", "lo"],
        )
        .map(drop)
        .map_err(|source| Error::ConfigureNode {
            name: self.shared.node_ns.clone(),
            source,
        })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        delete_netns(&self.shared.node_ns);
    }
}

/// `sysctl -qw <setting>` in `netns` (sysctls under net. are per network namespace).
fn sysctl(netns: &str, setting: &str) -> Command {
    let mut cmd = netns_command(netns, "sysctl");
    cmd.args(["-qw", setting]);
    cmd
}

/// What a pod is called and where it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSpec {
    /// The pod's name, also its hostname (`qbittorrent-0`).
    pub name: String,
    /// Its Kubernetes namespace (the Juju model), for the resolv.conf search list.
    pub namespace: String,
    /// `dnsPolicy: None` with this `dnsConfig`; `None` is `ClusterFirst` (the cluster DNS).
    pub dns: Option<PodDns>,
}

/// A pod's own DNS settings, as `dnsConfig` gives them with `dnsPolicy: None`: the kubelet
/// writes exactly these into the pod's `resolv.conf`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodDns {
    /// `nameservers`.
    pub nameservers: Vec<String>,
    /// `searches`.
    pub searches: Vec<String>,
    /// `options`, as `name` or `name:value`.
    pub options: Vec<String>,
}

impl PodSpec {
    /// A pod named `name` in Kubernetes namespace `namespace`.
    pub fn new(name: impl Into<String>, namespace: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            namespace: namespace.into(),
            dns: None,
        }
    }

    /// The same pod with `dnsPolicy: None` and `dns`.
    #[must_use]
    pub fn with_dns(self, dns: PodDns) -> Self {
        Self {
            dns: Some(dns),
            ..self
        }
    }
}

/// A pod: a network namespace on the cluster's bridge, and the containers started in it.
/// Dropping it kills those containers and deletes the namespace.
#[derive(Debug)]
pub struct Pod {
    pub(crate) cluster: Arc<Shared>,
    pub(crate) spec: PodSpec,
    pub(crate) netns: String,
    pub(crate) ip: Ipv4Addr,
    /// resolv.conf, hosts and hostname (shared by the pod's containers), logs, volumes,
    /// mount points.
    pub(crate) dir: tempfile::TempDir,
    pub(crate) running: Mutex<BTreeMap<String, Running>>,
}

fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

impl Pod {
    fn new(cluster: Arc<Shared>, spec: PodSpec) -> Result<Self> {
        if !is_dns_label(&spec.name) {
            return Err(Error::InvalidPodName(spec.name));
        }
        let ip = {
            // A poisoned lock only means another thread panicked between reading and writing
            // a counter: the value is still a valid counter.
            let mut next = cluster
                .next_host
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *next += 1;
            let index = usize::try_from(*next).unwrap_or(usize::MAX);
            cluster
                .spec
                .pod_cidr
                .hosts()
                .nth(index - 1)
                .ok_or(Error::AddressPoolExhausted {
                    cidr: cluster.spec.pod_cidr,
                })?
        };
        let netns = format!("{}-{}", cluster.prefix, spec.name);
        let dir = tempfile::Builder::new()
            .prefix("pod-net-")
            .tempdir()
            .map_err(|source| Error::WriteFile {
                path: std::env::temp_dir(),
                source,
            })?;
        run("ip", &["netns", "add", &netns]).map_err(|source| Error::CreateNamespace {
            name: netns.clone(),
            source,
        })?;
        let pod = Self {
            cluster,
            spec,
            netns,
            ip,
            dir,
            running: Mutex::new(BTreeMap::new()),
        };
        pod.attach()?;
        pod.write_kubelet_files()?;
        Ok(pod)
    }

    fn attach(&self) -> Result<()> {
        let map = |source| Error::AttachPod {
            pod: self.spec.name.clone(),
            source,
        };
        let node = &self.cluster.node_ns;
        let host_end = format!("v{}", exec::next_id());
        ip_in(
            node,
            &[
                "link",
                "add",
                &host_end,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                &self.netns,
            ],
        )
        .map_err(map)?;
        ip_in(
            node,
            &[
                "link",
                "set",
                &host_end,
                "master",
                &self.cluster.bridge,
                "up",
            ],
        )
        .map_err(map)?;
        let addr = format!("{}/{}", self.ip, self.cluster.spec.pod_cidr.prefix_len());
        let gateway = self.cluster.node_ip.to_string();
        let steps: [&[&str]; 4] = [
            &["link", "set", "lo", "up"],
            &["addr", "add", &addr, "dev", "eth0"],
            &["link", "set", "eth0", "up"],
            &["route", "add", "default", "via", &gateway, "dev", "eth0"],
        ];
        for step in steps {
            ip_in(&self.netns, step).map_err(map)?;
        }
        Ok(())
    }

    /// What the kubelet writes for every pod (`ClusterFirst`, or the pod's own `dnsConfig`).
    fn write_kubelet_files(&self) -> Result<()> {
        let spec = &self.cluster.spec;
        let ns = &self.spec.namespace;
        let domain = &spec.domain;
        let resolv = match &self.spec.dns {
            None => format!(
                "search {ns}.svc.{domain} svc.{domain} {domain}\nnameserver {}\noptions ndots:5\n",
                spec.dns_ip
            ),
            Some(dns) => {
                let mut lines = Vec::new();
                if !dns.searches.is_empty() {
                    lines.push(format!("search {}", dns.searches.join(" ")));
                }
                lines.extend(dns.nameservers.iter().map(|s| format!("nameserver {s}")));
                if !dns.options.is_empty() {
                    lines.push(format!("options {}", dns.options.join(" ")));
                }
                lines.push(String::new());
                lines.join("\n")
            }
        };
        let files = [
            ("resolv.conf", resolv),
            (
                "hosts",
                format!(
                    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{}\t{}\n",
                    self.ip, self.spec.name
                ),
            ),
            ("hostname", format!("{}\n", self.spec.name)),
        ];
        for (name, contents) in files {
            let path = self.dir.path().join(name);
            std::fs::write(&path, contents).map_err(|source| Error::WriteFile { path, source })?;
        }
        Ok(())
    }

    /// The pod's name (and hostname).
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Its Kubernetes namespace.
    pub fn namespace(&self) -> &str {
        &self.spec.namespace
    }

    /// Its network namespace's name.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// Its address on `eth0`.
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// The node's address: the pod's default gateway.
    pub fn node_ip(&self) -> Ipv4Addr {
        self.cluster.node_ip
    }

    /// The pod's `/etc/resolv.conf` as its containers share it (udhcpc rewrites it, for one).
    pub fn resolv_conf(&self) -> Result<String> {
        let path = self.dir.path().join("resolv.conf");
        std::fs::read_to_string(&path).map_err(|source| Error::ReadFile { path, source })
    }

    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn cluster_spec(&self) -> &ClusterSpec {
        &self.cluster.spec
    }

    /// A host command that runs `program` in the pod's network namespace only (no container
    /// filesystem): the equivalent of `ip netns exec`. The caller owns the process.
    pub fn netns_command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        netns_command(&self.netns, program)
    }

    /// Runs `program args...` in the pod's network namespace; its stdout.
    pub fn netns_output<S: AsRef<std::ffi::OsStr>>(
        &self,
        program: &str,
        args: &[S],
    ) -> Result<String> {
        let mut cmd = self.netns_command(program);
        cmd.args(args);
        exec::output(cmd).map_err(|source| Error::NetnsCommand {
            netns: self.netns.clone(),
            source,
        })
    }

    /// Waits until something in the pod listens on `port` (`"udp"` or `"tcp"`), per `ss`.
    pub fn wait_listening(&self, protocol: &str, port: u16, timeout: Duration) -> Result<()> {
        let flag = if protocol == "udp" { "-Hlun" } else { "-Hltn" };
        let filter = format!("sport = :{port}");
        let ok = exec::poll_until(timeout, || {
            self.netns_output("ss", &[flag, &filter])
                .is_ok_and(|out| !out.trim().is_empty())
        });
        if ok {
            Ok(())
        } else {
            Err(Error::Timeout {
                what: format!(
                    "a {protocol} listener on port {port} in pod {}",
                    self.name()
                ),
                timeout,
            })
        }
    }

    pub(crate) fn host_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        let running = std::mem::take(
            self.running
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        // Each one kills its processes and reaps them in its own drop.
        drop(running);
        delete_netns(&self.netns);
    }
}
