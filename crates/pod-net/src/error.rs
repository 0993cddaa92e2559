//! Errors, one variant per step that can fail, each carrying its source.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// A host command (`ip`, `nsenter`, `ss`, ...) that could not run or exited non-zero.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The program could not be started (missing, not executable).
    #[error("could not start `{command}`")]
    Spawn {
        /// The command line.
        command: String,
        /// Why it could not start.
        #[source]
        source: io::Error,
    },
    /// The program ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: ExitStatus,
        /// What it wrote to stderr, trimmed.
        stderr: String,
    },
}

/// What went wrong, named after the step that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Creating a network namespace.
    #[error("creating network namespace {name}")]
    CreateNamespace {
        /// The namespace's name.
        name: String,
        /// The failed command.
        #[source]
        source: CommandError,
    },
    /// Setting up the node namespace: bridge, address, forwarding.
    #[error("configuring the node namespace {name}")]
    ConfigureNode {
        /// The node namespace's name.
        name: String,
        /// The failed command.
        #[source]
        source: CommandError,
    },
    /// Connecting a pod to the bridge and giving it its address and routes.
    #[error("attaching pod {pod} to the cluster")]
    AttachPod {
        /// The pod's name.
        pod: String,
        /// The failed command.
        #[source]
        source: CommandError,
    },
    /// The pod CIDR has no address left.
    #[error("no address left in pod CIDR {cidr}")]
    AddressPoolExhausted {
        /// The cluster's pod CIDR.
        cidr: ipnet::Ipv4Net,
    },
    /// A pod name that is not a DNS label.
    #[error("pod name {0:?} is not a lowercase DNS label")]
    InvalidPodName(String),
    /// Routing a ClusterIP to the pod that serves it.
    #[error("routing service IP {ip} to pod {pod}")]
    AssignServiceIp {
        /// The ClusterIP.
        ip: std::net::Ipv4Addr,
        /// The serving pod.
        pod: String,
        /// The failed command.
        #[source]
        source: CommandError,
    },
    /// Writing a file on the host (pod files, image layer, volumes, logs).
    #[error("writing {path}")]
    WriteFile {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Reading a file on the host (image sources, logs).
    #[error("reading {path}")]
    ReadFile {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A container whose command or volumes cannot be passed to the launcher.
    #[error("container {container}: {reason}")]
    InvalidContainer {
        /// The container's name.
        container: String,
        /// What is wrong.
        reason: String,
    },
    /// Starting a container's processes.
    #[error("starting container {container} in pod {pod}")]
    StartContainer {
        /// The pod's name.
        pod: String,
        /// The container's name.
        container: String,
        /// The spawn error.
        #[source]
        source: io::Error,
    },
    /// Waiting for a container's processes.
    #[error("waiting for container {container} in pod {pod}")]
    WaitContainer {
        /// The pod's name.
        pod: String,
        /// The container's name.
        container: String,
        /// The wait error.
        #[source]
        source: io::Error,
    },
    /// A container name already running in the pod.
    #[error("container {container} is already running in pod {pod}")]
    ContainerRunning {
        /// The pod's name.
        pod: String,
        /// The container's name.
        container: String,
    },
    /// A command run in a pod's network namespace.
    #[error("running a command in network namespace {netns}")]
    NetnsCommand {
        /// The namespace.
        netns: String,
        /// The failed command.
        #[source]
        source: CommandError,
    },
    /// A condition polled for did not hold before its deadline.
    #[error("{what} did not happen within {timeout:?}")]
    Timeout {
        /// The awaited condition.
        what: String,
        /// How long it was awaited.
        timeout: Duration,
    },
    /// Entering a network namespace from a thread (setns).
    #[error("entering network namespace {netns}")]
    EnterNamespace {
        /// The namespace.
        netns: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A closure run in a network namespace panicked.
    #[error("the thread running in network namespace {netns} panicked")]
    ThreadPanicked {
        /// The namespace.
        netns: String,
    },
    /// Binding a listener in a network namespace.
    #[error("listening on {addr} in network namespace {netns}")]
    Listen {
        /// The namespace.
        netns: String,
        /// The address.
        addr: std::net::SocketAddrV4,
        /// The bind error.
        #[source]
        source: io::Error,
    },
    /// Building or changing the tunnel stand-in.
    #[error("tunnel stand-in in {netns}: {step}")]
    Tunnel {
        /// The gateway pod's or the internet's namespace.
        netns: String,
        /// What was being done.
        step: &'static str,
        /// The failed command.
        #[source]
        source: CommandError,
    },
    /// Starting tcpdump.
    #[error("starting a capture on {iface} in {netns}")]
    StartCapture {
        /// The namespace.
        netns: String,
        /// The interface.
        iface: String,
        /// The spawn error.
        #[source]
        source: io::Error,
    },
    /// A required program is not on PATH.
    #[error("{0} is not installed (not found on PATH)")]
    MissingTool(&'static str),
}
