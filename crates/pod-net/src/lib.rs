//! Pods as Linux network namespaces: the data path of a cluster, with real packets, on one
//! machine and without touching the host's network (docs/adr/0033).
//!
//! - [`Cluster`]: a "node" network namespace holding a bridge, the pods' default gateway, and
//!   routes for ClusterIPs ([`Cluster::add_service_ip`]).
//! - [`Pod`]: a network namespace with `eth0` on the bridge, an address from the cluster's pod
//!   CIDR, a default route via the node, and the kubelet's `/etc/resolv.conf`, `/etc/hosts`
//!   and `/etc/hostname`.
//! - [`Container`] run in a pod from an [`Image`]: the pod's network namespace plus private
//!   mount, UTS, IPC and PID namespaces, a root filesystem that is the image's layer over the
//!   host's root (overlayfs, writes kept in memory), ConfigMap-like volumes and exactly the
//!   container's environment plus what the kubelet and the image add.
//!   [`Pod::run`] runs one to completion (an init container); [`Pod::start`] keeps one running
//!   (a sidecar) until [`Pod::stop`] or the pod's drop.
//! - [`pod_gateway::image`]: the pod-gateway image (its scripts, config and the Alpine tools
//!   they call) laid over the host's Debian userland.
//! - Stand-ins: [`ClusterDns`] (dnsmasq answering for a ClusterIP) and [`Internet`] (a
//!   namespace behind a `tun0` in one pod, modelling a VPN tunnel and what lies beyond it).
//! - Probes: [`in_netns`], [`Whoami`], [`tcp_whoami`] and [`Capture`] (tcpdump).
//!
//! Every handle removes what it made when dropped (also while a test unwinds): the processes
//! it started, by the [`std::process::Child`] it holds, and the namespaces it created, by their
//! exact names. Nothing is ever removed by pattern. A process killed with SIGKILL cannot run
//! its drops; its namespaces (`charmarr-<pid>-…` in `ip netns list`) are then left behind.
//!
//! Needs root, `ip` (iproute2), `nsenter`, `unshare` (util-linux), `mount`, `chroot`, `ss`, and
//! for the stand-ins and probes `dnsmasq` and `tcpdump`.

mod cluster;
mod container;
mod error;
mod exec;
pub mod pod_gateway;
mod probe;
mod stand_in;

pub use cluster::{Cluster, ClusterSpec, Pod, PodDns, PodSpec};
pub use container::{Container, Exited, Image, ImageBuilder, Volume};
pub use error::{CommandError, Error};
pub use probe::{Capture, Captured, Whoami, in_netns, tcp_whoami};
pub use stand_in::{ClusterDns, Internet, InternetSpec};

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
