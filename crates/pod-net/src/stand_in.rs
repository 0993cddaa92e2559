//! Stand-ins for what a data-path test needs around the pods: the cluster DNS and a VPN
//! tunnel with "the internet" behind it.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use crate::exec::{self, delete_netns, ip_in, run};
use crate::{Cluster, Container, Error, Image, Pod, PodSpec, Result, Whoami};

/// The cluster DNS: dnsmasq in pod `kube-dns` of `kube-system`, serving the cluster's DNS
/// ClusterIP ([`crate::ClusterSpec::dns_ip`]), answering the given A records and NXDOMAIN for
/// any other name under the cluster domain. It plays CoreDNS's answers for a headless
/// Service (`<app>-endpoints.<model>.svc.cluster.local` → the pod's address), nothing more.
#[derive(Debug)]
pub struct ClusterDns {
    pod: Pod,
    domain: String,
}

/// The DNS server container's name.
const DNSMASQ: &str = "dnsmasq";

impl ClusterDns {
    /// Starts it and waits until it listens.
    pub fn start(cluster: &Cluster, records: &[(&str, Ipv4Addr)]) -> Result<Self> {
        let pod = cluster.add_pod(PodSpec::new("kube-dns", "kube-system"))?;
        cluster.add_service_ip(cluster.spec().dns_ip, &pod)?;
        let dns = Self {
            pod,
            domain: cluster.spec().domain.clone(),
        };
        dns.serve(records)?;
        Ok(dns)
    }

    /// Answers `records` from now on instead of the previous ones (dnsmasq is restarted in
    /// the same pod, as CoreDNS reloads; queries in the gap go unanswered and are retried).
    pub fn set_records(&self, records: &[(&str, Ipv4Addr)]) -> Result<()> {
        self.pod.stop(DNSMASQ);
        self.serve(records)
    }

    fn serve(&self, records: &[(&str, Ipv4Addr)]) -> Result<()> {
        let mut command: Vec<String> = [
            "dnsmasq",
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--log-queries",
            "--log-facility=-",
            "--pid-file=/tmp/dnsmasq.pid",
            "--user=root",
            "--group=root",
        ]
        .map(str::to_owned)
        .to_vec();
        command.push(format!("--local=/{}/", self.domain));
        for (name, ip) in records {
            command.push(format!("--host-record={name},{ip}"));
        }
        let container = Container {
            name: DNSMASQ.into(),
            command,
            ..Container::default()
        };
        self.pod.start(&Image::host()?, &container)?;
        self.pod.wait_listening("udp", 53, Duration::from_secs(10))
    }

    /// The pod it runs in (its logs are the container `dnsmasq`'s).
    pub fn pod(&self) -> &Pod {
        &self.pod
    }
}

/// Addresses of the tunnel stand-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternetSpec {
    /// `tun0`'s address in the gateway pod (what the internet sees after MASQUERADE).
    pub tunnel_addr: Ipv4Addr,
    /// The far end's address (point-to-point).
    pub peer_addr: Ipv4Addr,
    /// Addresses of hosts on "the internet" (on the internet namespace's loopback).
    pub hosts: Vec<Ipv4Addr>,
    /// The routing table holding the default route via `tun0` (gluetun's WireGuard: 51820).
    pub table: u32,
    /// The firewall mark that bypasses that table (gluetun's WireGuard: 51820 = 0xca6c).
    pub fwmark: u32,
    /// The priority of the rule `not fwmark <fwmark> lookup <table>` (gluetun: 101).
    pub rule_priority: u32,
}

impl Default for InternetSpec {
    fn default() -> Self {
        Self {
            tunnel_addr: Ipv4Addr::new(100, 64, 0, 2),
            peer_addr: Ipv4Addr::new(100, 64, 0, 1),
            hosts: vec![Ipv4Addr::new(203, 0, 113, 10)],
            table: 51820,
            fwmark: 0xca6c,
            rule_priority: 101,
        }
    }
}

/// A VPN tunnel and the internet behind it: `tun0` in the gateway pod is a veth whose peer
/// `wan0` lives in a namespace of its own (`<prefix>-internet-<n>`), reachable only through
/// it; routing in the gateway pod is gluetun's WireGuard policy routing (a default route via
/// `tun0` in its own table, selected by a rule for unmarked packets). gluetun's process, its
/// encryption and its firewall are not modelled. Dropping it deletes the internet namespace,
/// and with it `tun0`.
#[derive(Debug)]
pub struct Internet {
    netns: String,
    gateway_netns: String,
    spec: InternetSpec,
}

impl Internet {
    /// Builds the tunnel from `gateway` and brings it up ([`Internet::up`]).
    pub fn attach(cluster: &Cluster, gateway: &Pod, spec: InternetSpec) -> Result<Self> {
        let netns = format!("{}-internet-{}", cluster.prefix(), exec::next_id());
        run("ip", &["netns", "add", &netns]).map_err(|source| Error::CreateNamespace {
            name: netns.clone(),
            source,
        })?;
        let internet = Self {
            netns,
            gateway_netns: gateway.netns().to_owned(),
            spec,
        };
        internet.build()?;
        internet.up()?;
        Ok(internet)
    }

    fn build(&self) -> Result<()> {
        let (gw, inet) = (&self.gateway_netns, &self.netns);
        let (local, peer) = (
            self.spec.tunnel_addr.to_string(),
            self.spec.peer_addr.to_string(),
        );
        let on = |netns: &str, step: &'static str, args: &[&str]| {
            ip_in(netns, args).map_err(|source| Error::Tunnel {
                netns: netns.to_owned(),
                step,
                source,
            })
        };
        on(inet, "loopback up", &["link", "set", "lo", "up"])?;
        on(
            gw,
            "creating tun0",
            &[
                "link", "add", "tun0", "type", "veth", "peer", "name", "wan0", "netns", inet,
            ],
        )?;
        on(
            gw,
            "tun0 address",
            &["addr", "add", &local, "peer", &peer, "dev", "tun0"],
        )?;
        on(
            inet,
            "wan0 address",
            &["addr", "add", &peer, "peer", &local, "dev", "wan0"],
        )?;
        on(inet, "wan0 up", &["link", "set", "wan0", "up"])?;
        for host in &self.spec.hosts {
            on(
                inet,
                "host address",
                &["addr", "add", &format!("{host}/32"), "dev", "lo"],
            )?;
        }
        Ok(())
    }

    /// Tunnel up, as gluetun leaves it when connected: `tun0` up, the default route via it in
    /// its table, the rule selecting that table.
    pub fn up(&self) -> Result<()> {
        let gw = &self.gateway_netns;
        let table = self.spec.table.to_string();
        let priority = self.spec.rule_priority.to_string();
        let map = |step: &'static str| {
            move |source| Error::Tunnel {
                netns: gw.clone(),
                step,
                source,
            }
        };
        ip_in(gw, &["link", "set", "tun0", "up"]).map_err(map("tun0 up"))?;
        ip_in(
            gw,
            &[
                "route", "replace", "default", "dev", "tun0", "table", &table,
            ],
        )
        .map_err(map("default route via tun0"))?;
        let rules =
            ip_in(gw, &["rule", "show", "priority", &priority]).map_err(map("reading rules"))?;
        if rules.trim().is_empty() {
            ip_in(
                gw,
                &[
                    "rule",
                    "add",
                    "not",
                    "fwmark",
                    &format!("{:#x}", self.spec.fwmark),
                    "table",
                    &table,
                    "priority",
                    &priority,
                ],
            )
            .map_err(map("tunnel rule"))?;
        }
        Ok(())
    }

    /// Tunnel down: `tun0` down, which also removes the routes through it (the kernel's
    /// doing), as when gluetun loses its connection and tears the interface down.
    pub fn down(&self) -> Result<()> {
        ip_in(&self.gateway_netns, &["link", "set", "tun0", "down"]).map_err(|source| {
            Error::Tunnel {
                netns: self.gateway_netns.clone(),
                step: "tun0 down",
                source,
            }
        })?;
        Ok(())
    }

    /// A [`Whoami`] on `port` of every internet host.
    pub fn whoami(&self, port: u16) -> Result<Whoami> {
        Whoami::start(&self.netns, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
    }

    /// The internet namespace's name.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// The addresses.
    pub fn spec(&self) -> &InternetSpec {
        &self.spec
    }
}

impl Drop for Internet {
    fn drop(&mut self) {
        delete_netns(&self.netns);
    }
}
