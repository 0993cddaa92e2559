//! The kubelet's part for the containers the simulator can run (docs/adr/0045): given a live
//! Pod and its pod network namespace, run its init containers in order, then start its other
//! containers, and say what happened as the kubelet writes it into `Pod.status`.
//!
//! What runs where:
//! - **pod-gateway's image** (`ghcr.io/angelnu/pod-gateway:*`): the container's `command`,
//!   `args`, literal `env` and ConfigMap volumes, exactly as the live Pod has them, in a
//!   [`pod_net`] container whose image is pod-gateway's scripts from `POD_GATEWAY_SRC`
//!   ([`pod_net::pod_gateway::image`]). Init containers run to completion (bounded by
//!   [`INIT_TIMEOUT`]); their exit code and termination message go into
//!   `initContainerStatuses`. Others are started and kept running for the pod's life (one
//!   that exits is not started again: the kubelet's restarts are not played).
//! - **Juju's** `charm-init` and `charm`, and **containers Pebble manages** (the workload):
//!   played by the simulator itself (its agent, its Pebble), so they are reported as
//!   completed / running with the image they name.
//! - **gluetun** (an image named `gluetun`, as `ghcr.io/qdm12/gluetun:*`): its tunnel is played by [`pod_net::Internet`] (a `tun0`
//!   with a stand-in internet behind it), attached when the pod's main containers start; its
//!   control server is the simulator's workload endpoint. Of gluetun's firewall only the
//!   loopback rules are played (`-i lo`/`-o lo` accepted first, as gluetun installs them), so
//!   the pod's `localhost` works under pod-gateway's `OUTPUT DROP` policy as it does beside
//!   the real gluetun; the rest of gluetun's firewall is not. Of its routing, besides the
//!   tunnel's, the rules for `FIREWALL_OUTBOUND_SUBNETS` (`to <subnet> lookup main`, priority
//!   99) are played for the simulator's pod and service ranges, as if the charm had set them
//!   to those (the gateway tests set `cluster-cidrs` so); the charm's real value is not read.
//! - **Scripted** ([`Model::script_containers`](crate::Model::script_containers)): a test
//!   that is not about the data path names the outcome a container reports (exited with a
//!   code and termination message, or running); it is reported so without being run, whatever
//!   its image, also where the host has no pod network namespaces.
//! - **Anything else**: not run, and reported as waiting with reason `NotRunBySimulator`,
//!   never as succeeded; an init container that is not run or fails stops the pod's start, as
//!   the kubelet would (without its restarts).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

/// How long one init container may run (vpn-route-init's worst case is about 130 s).
pub const INIT_TIMEOUT: Duration = Duration::from_secs(200);

/// The image prefix of pod-gateway's containers.
const POD_GATEWAY_IMAGE: &str = "ghcr.io/angelnu/pod-gateway:";
/// Whether `image` is gluetun's (`qmcgaw/gluetun:*`, `ghcr.io/qdm12/gluetun:*`, a mirror's).
pub(crate) fn is_gluetun(image: &str) -> bool {
    image
        .rsplit('/')
        .next()
        .is_some_and(|last| last.starts_with("gluetun:") || last == "gluetun")
}

/// Errors of the kubelet's own steps (a container's failure is a status, not an error).
#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    /// Building the pod-gateway image from its source tree failed.
    #[error("building the pod-gateway image from {src}")]
    Image {
        /// The source tree.
        src: String,
        /// The failure.
        #[source]
        source: pod_net::Error,
    },
    /// Attaching the gluetun stand-in's tunnel failed.
    #[error("attaching the tunnel stand-in to pod {pod}")]
    Tunnel {
        /// The pod.
        pod: String,
        /// The failure.
        #[source]
        source: pod_net::Error,
    },
}

/// What runs a pod's containers.
#[derive(Debug, Default)]
pub struct Kubelet {
    /// pod-gateway's image, when its containers run ([`Kubelet::run_pod_gateway`]).
    image: Option<pod_net::Image>,
    /// Outcomes reported without running, by container name.
    scripted: BTreeMap<String, Scripted>,
}

/// An outcome the kubelet reports for a container without running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scripted {
    /// Ended with this exit code and termination message (for init containers).
    Exited {
        /// The exit code.
        code: i32,
        /// The termination message.
        message: String,
    },
    /// Running.
    Running,
}

impl Scripted {
    fn status(&self, name: &str, image: &str) -> Value {
        match self {
            Self::Exited { code, message } => terminated(name, image, *code, message),
            Self::Running => running(name, image),
        }
    }
}

/// The outcome of starting one pod: its `status` (to PATCH) and the tunnel stand-in, if the
/// pod has a gluetun container.
#[derive(Debug)]
pub struct Started {
    /// `Pod.status`.
    pub status: Value,
    /// gluetun's tunnel and the internet behind it.
    pub tunnel: Option<pod_net::Internet>,
}

/// Why a container cannot be run as the Pod says.
fn runnable(
    spec: &Value,
    c: &Value,
    config_maps: &BTreeMap<String, Value>,
) -> Result<pod_net::Container, String> {
    let strings = crate::pod_network::json_strings;
    let mut env = Vec::new();
    for e in c["env"].as_array().into_iter().flatten() {
        let (Some(name), Some(value)) = (e["name"].as_str(), e["value"].as_str()) else {
            return Err("an env entry has no literal value (valueFrom is not played)".into());
        };
        env.push((name.to_owned(), value.to_owned()));
    }
    let mut volumes = Vec::new();
    for m in c["volumeMounts"].as_array().into_iter().flatten() {
        let volume = spec["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["name"] == m["name"])
            .ok_or("a volume mount names no volume of the pod")?;
        let cm = volume["configMap"]["name"]
            .as_str()
            .ok_or("a volume is not a ConfigMap (only ConfigMaps are projected)")?;
        let data = config_maps
            .get(cm)
            .ok_or_else(|| format!("ConfigMap {cm} does not exist"))?;
        let files = data
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
            .collect();
        volumes.push(pod_net::Volume {
            mount_path: m["mountPath"]
                .as_str()
                .ok_or("a volume mount has no mountPath")?
                .to_owned(),
            files,
        });
    }
    Ok(pod_net::Container {
        name: c["name"].as_str().unwrap_or_default().to_owned(),
        command: strings(&c["command"]),
        args: strings(&c["args"]),
        env,
        volumes,
    })
}

fn waiting(name: &str, image: &str, reason: &str, message: &str) -> Value {
    json!({
        "name": name, "image": image, "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": reason, "message": message}},
    })
}

/// Why a container whose image the simulator lacks is not run.
const NO_IMAGE: &str = "juju-sim does not have this image's content";

/// The status of a container the simulator did not run: waiting, never success.
fn not_run(name: &str, image: &str, why: &str) -> Value {
    waiting(name, image, "NotRunBySimulator", why)
}

fn terminated(name: &str, image: &str, code: i32, message: &str) -> Value {
    let reason = if code == 0 { "Completed" } else { "Error" };
    let mut t = json!({"exitCode": code, "reason": reason});
    if !message.is_empty() {
        t["message"] = json!(message);
    }
    json!({
        "name": name, "image": image, "imageID": "", "ready": false, "restartCount": 0,
        "state": {"terminated": t},
    })
}

fn running(name: &str, image: &str) -> Value {
    json!({
        "name": name, "image": image, "imageID": "", "ready": true, "restartCount": 0,
        "started": true, "state": {"running": {}},
    })
}

/// gluetun's part, as far as it is played (see the module docs): the tunnel stand-in, the
/// outbound-subnet rules and the loopback accepts.
fn play_gluetun(
    cluster: &pod_net::Cluster,
    pod: &pod_net::Pod,
) -> Result<pod_net::Internet, KubeletError> {
    let map = |source| KubeletError::Tunnel {
        pod: pod.name().to_owned(),
        source,
    };
    let internet =
        pod_net::Internet::attach(cluster, pod, pod_net::InternetSpec::default()).map_err(map)?;
    for cidr in [
        crate::pod_network::POD_CIDR,
        crate::pod_network::SERVICE_CIDR,
    ] {
        pod.netns_output(
            "ip",
            &[
                "rule", "add", "to", cidr, "lookup", "main", "priority", "99",
            ],
        )
        .map_err(map)?;
    }
    for (chain, flag) in [("INPUT", "-i"), ("OUTPUT", "-o")] {
        pod.netns_output("iptables", &["-I", chain, "1", flag, "lo", "-j", "ACCEPT"])
            .map_err(map)?;
    }
    Ok(internet)
}

impl Kubelet {
    /// Runs pod-gateway's containers from now on, with the image built from
    /// `pod_gateway_src` (its `bin/` and `config/`).
    pub fn run_pod_gateway(
        &mut self,
        pod_gateway_src: &std::path::Path,
    ) -> Result<(), KubeletError> {
        let image =
            pod_net::pod_gateway::image(pod_gateway_src).map_err(|source| KubeletError::Image {
                src: pod_gateway_src.display().to_string(),
                source,
            })?;
        self.image = Some(image);
        Ok(())
    }

    /// Reports these outcomes from now on, by container name, without running them.
    pub fn script(&mut self, outcomes: BTreeMap<String, Scripted>) {
        self.scripted = outcomes;
    }

    /// pod-gateway's image and the pod to run it in, when `image` is pod-gateway's and both
    /// exist.
    fn pod_gateway<'a>(
        &'a self,
        image: &str,
        net: Option<(&'a pod_net::Cluster, &'a pod_net::Pod)>,
    ) -> Option<(&'a pod_net::Image, &'a pod_net::Pod)> {
        let (image_files, (_, pod)) = self.image.as_ref().zip(net)?;
        image
            .starts_with(POD_GATEWAY_IMAGE)
            .then_some((image_files, pod))
    }

    /// Runs the init containers of `pod_json` (the live Pod) in `net` (its cluster and pod
    /// network namespace, when the host has them), then starts its other containers;
    /// `config_maps` are the namespace's ConfigMaps' `data` by name.
    pub fn start(
        &self,
        net: Option<(&pod_net::Cluster, &pod_net::Pod)>,
        pod_json: &Value,
        config_maps: &BTreeMap<String, Value>,
        pebble_containers: &[String],
    ) -> Result<Started, KubeletError> {
        let spec = &pod_json["spec"];
        let mut init_statuses = Vec::new();
        let mut blocked = false;
        for c in spec["initContainers"].as_array().into_iter().flatten() {
            let name = c["name"].as_str().unwrap_or_default();
            let image = c["image"].as_str().unwrap_or_default();
            if blocked {
                init_statuses.push(waiting(name, image, "PodInitializing", ""));
                continue;
            }
            let pod_gateway = self.pod_gateway(image, net);
            let status = if name == crate::k8s::INIT_CONTAINER {
                terminated(name, image, 0, "")
            } else if let Some(outcome) = self.scripted.get(name) {
                outcome.status(name, image)
            } else if let Some((pg_image, pod)) = pod_gateway {
                match runnable(spec, c, config_maps) {
                    Err(why) => not_run(name, image, &why),
                    Ok(container) => match pod.run(pg_image, &container, INIT_TIMEOUT) {
                        Err(e) => not_run(name, image, &e.to_string()),
                        Ok(exited) => {
                            let code = match (exited.code, exited.timed_out) {
                                (Some(code), false) => code,
                                _ => 137,
                            };
                            terminated(name, image, code, exited.termination_message.trim_end())
                        }
                    },
                }
            } else {
                not_run(name, image, NO_IMAGE)
            };
            blocked = status["state"]["terminated"]["exitCode"] != json!(0);
            init_statuses.push(status);
        }
        let mut statuses = Vec::new();
        let mut tunnel = None;
        for c in spec["containers"].as_array().into_iter().flatten() {
            let name = c["name"].as_str().unwrap_or_default();
            let image = c["image"].as_str().unwrap_or_default();
            if blocked {
                statuses.push(waiting(name, image, "PodInitializing", ""));
                continue;
            }
            let pod_gateway = self.pod_gateway(image, net);
            let status = if let Some(outcome) = self.scripted.get(name) {
                outcome.status(name, image)
            } else if let (true, Some((cluster, pod))) = (is_gluetun(image), net) {
                tunnel = Some(play_gluetun(cluster, pod)?);
                running(name, image)
            } else if name == crate::k8s::CHARM_CONTAINER
                || pebble_containers.iter().any(|p| p == name)
            {
                running(name, image)
            } else if let Some((pg_image, pod)) = pod_gateway {
                match runnable(spec, c, config_maps).and_then(|container| {
                    pod.start(pg_image, &container).map_err(|e| e.to_string())
                }) {
                    Ok(()) => running(name, image),
                    Err(why) => not_run(name, image, &why),
                }
            } else {
                not_run(name, image, NO_IMAGE)
            };
            statuses.push(status);
        }
        let phase = if blocked { "Pending" } else { "Running" };
        let mut status = json!({
            "phase": phase,
            "initContainerStatuses": init_statuses,
            "containerStatuses": statuses,
        });
        if let Some((_, pod)) = net {
            status["podIP"] = json!(pod.ip().to_string());
            status["podIPs"] = json!([{"ip": pod.ip().to_string()}]);
        }
        Ok(Started { status, tunnel })
    }
}
