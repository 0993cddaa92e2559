//! The cluster network as a unit's pod sees it (docs/adr/0044-simulator-pods.md): each pod a
//! network namespace of [`pod_net`] on one node bridge, the API server at the `kubernetes`
//! Service's ClusterIP, and a cluster DNS answering for the model's Services.
//!
//! - **Pods.** [`PodNetwork::add_pod`] makes `<prefix>-<pod>` with the next address of
//!   [`POD_CIDR`]; a pod created again (a restart) gets a new namespace and a new address, as
//!   a restarted pod gets a new IP. Hooks run in the pod's namespace, and the simulator's
//!   workload endpoints listen on its `127.0.0.1`.
//! - **API server.** kube-proxy is played by a TCP relay in the node namespace on
//!   [`API_SERVICE_IP`]`:443` (the first address of the test cluster's service range, which
//!   the API server's own certificate covers), forwarding each connection, by the pod address
//!   it comes from, to that pod's application's fault proxy on the host. Bytes are relayed
//!   unchanged: TLS is end to end between the charm and the proxy.
//! - **DNS.** dnsmasq in pod `kube-dns` on [`kube_testbed::KUBE_DNS_IP`] answers the records
//!   [`PodNetwork::set_records`] was given last and NXDOMAIN for the rest of the cluster domain.
//!
//! Everything lives as long as the [`PodNetwork`]: dropping it stops the relay and dnsmasq
//! and deletes every namespace it made, by name (pod-net's handles). The CLI makes a new one
//! for each command (the pods' addresses may then differ from the last command's).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// The pods' subnet (MicroK8s' default); the node is its first address.
pub const POD_CIDR: &str = "10.1.0.0/16";
/// The service range of the test cluster ([`kube_testbed::SERVICE_CIDR`]).
pub const SERVICE_CIDR: &str = kube_testbed::SERVICE_CIDR;
/// The `kubernetes` Service's ClusterIP: `KUBERNETES_SERVICE_HOST` in every pod.
pub const API_SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// `KUBERNETES_SERVICE_PORT`.
pub const API_SERVICE_PORT: u16 = 443;
/// The cluster domain.
pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// Errors of the pod network.
#[derive(Debug, thiserror::Error)]
pub enum PodNetworkError {
    /// A pod-net step (namespace, link, address, dnsmasq) failed.
    #[error("{step}")]
    Net {
        /// What was being done.
        step: String,
        /// The failure.
        #[source]
        source: pod_net::Error,
    },
    /// The API relay could not listen or start.
    #[error("starting the API server relay on {API_SERVICE_IP}:{API_SERVICE_PORT}")]
    Relay(#[source] std::io::Error),
}

type Result<T> = std::result::Result<T, PodNetworkError>;

pub(crate) fn net(step: impl Into<String>) -> impl FnOnce(pod_net::Error) -> PodNetworkError {
    let step = step.into();
    move |source| PodNetworkError::Net { step, source }
}

/// Whether pods can be network namespaces here: root, and iproute2, util-linux's `nsenter`
/// and dnsmasq on PATH.
pub fn available() -> bool {
    crate::runner::namespaces_available() && ["ip", "nsenter", "dnsmasq"].iter().all(|p| on_path(p))
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// The node, its pods, the API relay and the cluster DNS.
pub struct PodNetwork {
    // Field order is drop order: pods and DNS before the node namespace they hang off.
    pods: BTreeMap<String, pod_net::Pod>,
    dns: pod_net::ClusterDns,
    relay: ApiRelay,
    cluster: pod_net::Cluster,
}

impl std::fmt::Debug for PodNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodNetwork")
            .field("node", &self.cluster.node_netns())
            .field("pods", &self.pods.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl PodNetwork {
    /// Creates the node, the API relay and the cluster DNS (with no records yet).
    pub fn start() -> Result<Self> {
        // The three constants parse (a unit test checks): the defaults are never used.
        let cluster = pod_net::Cluster::new(pod_net::ClusterSpec {
            pod_cidr: POD_CIDR.parse().unwrap_or_default(),
            service_cidr: SERVICE_CIDR.parse().unwrap_or_default(),
            dns_ip: kube_testbed::KUBE_DNS_IP
                .parse()
                .unwrap_or(Ipv4Addr::UNSPECIFIED),
            domain: CLUSTER_DOMAIN.into(),
        })
        .map_err(net("creating the node network namespace"))?;
        cluster
            .add_node_service_ip(API_SERVICE_IP)
            .map_err(net("giving the node the kubernetes Service address"))?;
        let relay = ApiRelay::start(cluster.node_netns())?;
        let dns =
            pod_net::ClusterDns::start(&cluster, &[]).map_err(net("starting the cluster DNS"))?;
        Ok(Self {
            pods: BTreeMap::new(),
            dns,
            relay,
            cluster,
        })
    }

    /// Creates pod `name` (replacing one of that name: its containers stop, its namespace
    /// goes) whose API connections go to `api` (its application's fault proxy).
    /// `dns` is the pod's own resolver configuration (`dnsPolicy: None`), if it has one.
    pub fn add_pod(
        &mut self,
        name: &str,
        namespace: &str,
        dns: Option<pod_net::PodDns>,
        api: SocketAddr,
    ) -> Result<&pod_net::Pod> {
        if let Some(old) = self.pods.remove(name) {
            self.relay.forget(old.ip());
        }
        let spec = pod_net::PodSpec::new(name, namespace);
        let spec = match dns {
            Some(dns) => spec.with_dns(dns),
            None => spec,
        };
        let pod = self
            .cluster
            .add_pod(spec)
            .map_err(net(format!("creating pod {name}")))?;
        self.relay.route(pod.ip(), api);
        Ok(self.pods.entry(name.to_owned()).or_insert(pod))
    }

    /// Deletes pod `name`, if there is one.
    pub fn remove_pod(&mut self, name: &str) {
        if let Some(old) = self.pods.remove(name) {
            self.relay.forget(old.ip());
        }
    }

    /// Pod `name`.
    pub fn pod(&self, name: &str) -> Option<&pod_net::Pod> {
        self.pods.get(name)
    }

    /// The cluster DNS answers exactly `records` (name → address; a name given more than once
    /// gets every address, as a headless Service's) from now on.
    pub fn set_records(&self, records: &[(String, Ipv4Addr)]) -> Result<()> {
        let borrowed: Vec<(&str, Ipv4Addr)> =
            records.iter().map(|(n, ip)| (n.as_str(), *ip)).collect();
        self.dns
            .set_records(&borrowed)
            .map_err(net("updating the cluster DNS records"))
    }

    /// The node namespace's name.
    pub fn node_netns(&self) -> &str {
        self.cluster.node_netns()
    }

    /// The node and its bridge (for stand-ins attached to a pod).
    pub fn cluster(&self) -> &pod_net::Cluster {
        &self.cluster
    }
}

/// The strings of a JSON array (other items skipped; not an array: none).
pub(crate) fn json_strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The pod's own resolver configuration, from its spec: `dnsConfig` when `dnsPolicy` is
/// `None`, as the kubelet writes `resolv.conf`; `None` (the cluster DNS) otherwise.
pub fn pod_dns(pod: &serde_json::Value) -> Option<pod_net::PodDns> {
    let spec = &pod["spec"];
    if spec["dnsPolicy"] != "None" {
        return None;
    }
    let strings = json_strings;
    let config = &spec["dnsConfig"];
    let options = config["options"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| {
            let name = o["name"].as_str()?;
            Some(match o["value"].as_str() {
                Some(v) => format!("{name}:{v}"),
                None => name.to_owned(),
            })
        })
        .collect();
    Some(pod_net::PodDns {
        nameservers: strings(&config["nameservers"]),
        searches: strings(&config["searches"]),
        options,
    })
}

/// kube-proxy for one Service: accepts on `API_SERVICE_IP:443` in the node namespace and
/// relays each connection to the backend its source address is routed to.
struct ApiRelay {
    node_netns: String,
    routes: Arc<Mutex<BTreeMap<Ipv4Addr, SocketAddr>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ApiRelay {
    fn start(node_netns: &str) -> Result<Self> {
        let addr = SocketAddrV4::new(API_SERVICE_IP, API_SERVICE_PORT);
        // The socket belongs to the namespace it was made in, whichever thread uses it later.
        let listener = pod_net::in_netns(node_netns, || TcpListener::bind(addr))
            .map_err(net("entering the node network namespace"))?
            .map_err(PodNetworkError::Relay)?;
        let routes: Arc<Mutex<BTreeMap<Ipv4Addr, SocketAddr>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (routes.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("api-relay".into())
            .spawn(move || accept_loop(&listener, &r, &s))
            .map_err(PodNetworkError::Relay)?;
        Ok(Self {
            node_netns: node_netns.to_owned(),
            routes,
            stop,
            thread: Some(thread),
        })
    }

    fn route(&self, pod_ip: Ipv4Addr, backend: SocketAddr) {
        self.routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(pod_ip, backend);
    }

    fn forget(&self, pod_ip: Ipv4Addr) {
        self.routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&pod_ip);
    }
}

impl Drop for ApiRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop from inside the node namespace; if that fails, the namespace
        // is gone and the accept loop with it.
        let _ = pod_net::in_netns(&self.node_netns, || {
            TcpStream::connect(SocketAddrV4::new(API_SERVICE_IP, API_SERVICE_PORT))
        });
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    routes: &Mutex<BTreeMap<Ipv4Addr, SocketAddr>>,
    stop: &AtomicBool,
) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(client) = conn else { continue };
        let backend = match client.peer_addr() {
            Ok(SocketAddr::V4(peer)) => routes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(peer.ip())
                .copied(),
            _ => None,
        };
        // A connection from an address no pod has (or a pod already gone) is refused, as a
        // Service without endpoints for it would.
        let Some(backend) = backend else { continue };
        let Ok(server) = TcpStream::connect(backend) else {
            continue;
        };
        let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
            continue;
        };
        // Each direction ends when its sender closes (the hook's process exits, or the
        // proxy answers and closes), so no relay thread outlives both peers.
        let _ = std::thread::Builder::new()
            .name("api-relay-up".into())
            .spawn(move || pump(c2, s2));
        let _ = std::thread::Builder::new()
            .name("api-relay-down".into())
            .spawn(move || pump(server, client));
    }
}

/// Copies `from` to `to` until `from` ends, then ends `to`'s sending side.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

/// The records of a model's Services and pods: `<app>-endpoints.<ns>.svc.<domain>` (Juju's
/// headless Service) → each unit's pod, `<pod>.<app>-endpoints.<ns>.svc.<domain>` → that pod
/// (the pods' `hostname` and `subdomain`), and `kubernetes.default.svc.<domain>`.
pub fn model_records(
    namespace: &str,
    pods: &[(String, String, Ipv4Addr)],
) -> Vec<(String, Ipv4Addr)> {
    let mut out = vec![(
        format!("kubernetes.default.svc.{CLUSTER_DOMAIN}"),
        API_SERVICE_IP,
    )];
    for (app, pod, ip) in pods {
        out.push((
            format!("{app}-endpoints.{namespace}.svc.{CLUSTER_DOMAIN}"),
            *ip,
        ));
        out.push((
            format!("{pod}.{app}-endpoints.{namespace}.svc.{CLUSTER_DOMAIN}"),
            *ip,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_plan_parses_and_holds_the_api_and_dns_addresses() {
        let pods: ipnet::Ipv4Net = POD_CIDR.parse().expect("pod CIDR");
        let services: ipnet::Ipv4Net = SERVICE_CIDR.parse().expect("service CIDR");
        let dns: Ipv4Addr = kube_testbed::KUBE_DNS_IP.parse().expect("DNS address");
        assert!(services.contains(&API_SERVICE_IP) && services.contains(&dns));
        assert!(!pods.contains(&API_SERVICE_IP));
        assert_eq!(services.hosts().next(), Some(API_SERVICE_IP));
    }

    #[test]
    fn records_name_the_headless_service_and_each_pod() {
        let r = model_records(
            "m",
            &[("gw".into(), "gw-0".into(), Ipv4Addr::new(10, 1, 0, 2))],
        );
        let names: Vec<&str> = r.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "kubernetes.default.svc.cluster.local",
                "gw-endpoints.m.svc.cluster.local",
                "gw-0.gw-endpoints.m.svc.cluster.local"
            ]
        );
    }
}
