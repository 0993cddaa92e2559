//! Unit plumbing, what the simulator hosts for each unit: its directory
//! (`<state>/units/<unit>/`: the charm copy, the agent directory, storage, Pebble sockets), one
//! Pebble per container with its storage mounts, its pod's network namespace (with the cluster
//! DNS records following the pods), the workload endpoints with their answers on the pod's
//! `localhost`, and the environment ([`UnitEnv`]) its hooks run with (identity, service account
//! and kubeconfig reaching the application's fault proxy as a pod reaches the API server).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

use crate::runner::UnitEnv;
use crate::workload::{self, Answer, WorkloadRequest};

use super::error::{ModelError, Result, cluster_err, io_err, kube_err};
use super::running::Model;
use crate::k8s;

impl Model {
    /// `<state>/units/<app>-<n>`.
    pub(super) fn unit_dir(&self, unit: &str) -> PathBuf {
        self.dir.join("units").join(unit.replace('/', "-"))
    }

    /// Starts the Pebbles and workload endpoints of every unit (a new process: the CLI).
    pub(super) fn start_unit_services(&mut self) -> Result<()> {
        let units: Vec<(String, String)> = self
            .st
            .model
            .applications
            .values()
            .flat_map(|a| a.units.keys().map(move |u| (a.name.clone(), u.clone())))
            .collect();
        // Pods start one after another here (a kubelet starts them at once, and a client's
        // route-init retries until its gateway answers): gateways first, so that a client's
        // vpn-route-init finds its gateway up, as it would within its attempts.
        let mut ordered = Vec::with_capacity(units.len());
        for (app, unit) in units {
            let gateway = self.kubelet.is_some() && self.runs_gluetun(&app)?;
            ordered.push((!gateway, app, unit));
        }
        ordered.sort();
        for (_, app, unit) in ordered {
            self.start_pebble(&app, &unit, false)?;
            self.pod_up(&app, &unit)?;
        }
        Ok(())
    }

    /// Whether `app`'s pod template has a gluetun container.
    fn runs_gluetun(&self, app: &str) -> Result<bool> {
        let template = self
            .rt
            .block_on(k8s::template_of(&self.admin, &self.st.model.name, app))
            .map_err(kube_err)?;
        Ok(template.is_some_and(|(t, _)| {
            t["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["image"].as_str().is_some_and(crate::kubelet::is_gluetun))
        }))
    }

    /// `<app>-<n>`: the unit's pod.
    fn pod_name(unit: &str) -> String {
        unit.replace('/', "-")
    }

    /// (Re)creates the unit's pod network namespace (a new address), its workload endpoints
    /// on the pod's `localhost`, and the cluster DNS records.
    pub(super) fn pod_up(&mut self, app: &str, unit: &str) -> Result<()> {
        let pod_name = Self::pod_name(unit);
        self.endpoints.retain(|(u, _, _), _| u != unit);
        self.tunnels.remove(&pod_name);
        let namespace = self.st.model.name.clone();
        if self.pods.is_none() {
            self.start_endpoints(app, unit)?;
            if self.kubelet.is_none() {
                return Ok(());
            }
        }
        let pod_json = self
            .rt
            .block_on(k8s::pod_json(&self.admin, &namespace, &pod_name))
            .map_err(kube_err)?;
        if self.pods.is_none() {
            return match pod_json {
                Some(pod_json) => self.start_containers(app, &pod_name, &pod_json),
                None => Ok(()),
            };
        }
        let (url, _) = self.proxy_for(app)?;
        let api = url
            .strip_prefix("https://")
            .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
            .ok_or_else(|| {
                ModelError::Invalid(format!(
                    "the fault proxy's URL {url:?} is not https://<ip>:<port>"
                ))
            })?;
        let dns = pod_json.as_ref().and_then(crate::pod_network::pod_dns);
        let ip = match self.pods.as_mut() {
            Some(pods) => Some(pods.add_pod(&pod_name, &namespace, dns, api)?.ip()),
            None => None,
        };
        // `network-get` answers the pod's address, as Juju gives a unit its pod's IP.
        if let Some(u) = self
            .st
            .model
            .applications
            .get_mut(app)
            .and_then(|a| a.units.get_mut(unit))
        {
            u.address = ip.map(|ip| ip.to_string());
        }
        self.start_endpoints(app, unit)?;
        self.sync_dns()?;
        match pod_json {
            Some(pod_json) => self.start_containers(app, &pod_name, &pod_json),
            None => Ok(()),
        }
    }

    /// The kubelet's part ([`crate::kubelet`]), when containers run: the Pod's init
    /// containers and sidecars in its namespace, and its status written as the kubelet would.
    fn start_containers(&mut self, app: &str, pod_name: &str, pod_json: &Value) -> Result<()> {
        let Some(kubelet) = &self.kubelet else {
            return Ok(());
        };
        let net = match &self.pods {
            Some(pods) => match pods.pod(pod_name) {
                Some(pod) => Some((pods.cluster(), pod)),
                None => return Ok(()),
            },
            None => None,
        };
        let namespace = &self.st.model.name;
        let config_maps = self
            .rt
            .block_on(k8s::config_map_data(&self.admin, namespace))
            .map_err(kube_err)?;
        let pebble_containers = self.container_names(app);
        let started = kubelet.start(net, pod_json, &config_maps, &pebble_containers)?;
        self.rt
            .block_on(k8s::patch_pod_status(
                &self.admin,
                namespace,
                pod_name,
                &started.status,
            ))
            .map_err(kube_err)?;
        if let Some(tunnel) = started.tunnel {
            self.tunnels.insert(pod_name.to_owned(), tunnel);
        }
        Ok(())
    }

    /// Runs the pods' containers from now on: init containers and sidecars of pod-gateway's
    /// image from `pod_gateway_src` (its `bin/` and `config/`), gluetun's tunnel as a
    /// stand-in (crate::kubelet). Needs pod network namespaces.
    pub fn run_containers(&mut self, pod_gateway_src: &Path) -> Result<()> {
        if self.pods.is_none() {
            return Err(ModelError::Invalid(
                "containers need pod network namespaces (root, iproute2, nsenter, dnsmasq)".into(),
            ));
        }
        self.kubelet
            .get_or_insert_default()
            .run_pod_gateway(pod_gateway_src)?;
        if self.st.pod_gateway_src.as_deref() != Some(pod_gateway_src) {
            self.st.pod_gateway_src = Some(pod_gateway_src.to_owned());
            self.save()?;
        }
        Ok(())
    }

    /// Connects from `unit`'s pod to a [`pod_net::Whoami`] on `port` in the stand-in internet
    /// (behind the first gateway pod's tunnel) while tcpdump watches the pod's `eth0` for
    /// packets to that host: what a packet from the pod really does.
    pub fn probe(&self, unit: &str, port: u16) -> Result<Probe> {
        let netns = self.pod_netns(unit).ok_or_else(|| {
            ModelError::Invalid(format!("unit \"{unit}\" has no pod network namespace"))
        })?;
        let (gateway, internet) = self.tunnels.iter().next().ok_or_else(|| {
            ModelError::Invalid(
                "no gateway pod has a tunnel (containers run after `juju-sim run-containers DIR`)"
                    .into(),
            )
        })?;
        let net = crate::pod_network::net;
        let host = std::net::SocketAddrV4::new(internet.spec().hosts[0], port);
        let whoami = internet
            .whoami(port)
            .map_err(net("starting the internet's listener"))?;
        let capture = pod_net::Capture::start(&netns, "eth0", &format!("host {}", host.ip()))
            .map_err(net("capturing on the pod's eth0"))?;
        let answer = pod_net::tcp_whoami(&netns, host, std::time::Duration::from_secs(5))
            .map_err(net("connecting from the pod"))?;
        let eth0 = capture.finish();
        drop(whoami);
        Ok(Probe {
            gateway: gateway.clone(),
            target: host,
            tunnel_addr: internet.spec().tunnel_addr,
            seen: answer.map_err(|e| e.to_string()),
            eth0_packets: eth0.packets.len(),
        })
    }

    /// Reports these outcomes for the containers of every pod started from now on, by
    /// container name, without running them ([`crate::kubelet`]): for tests that are not
    /// about the data path, e.g. `vpn-route-init` exited 0 with `routed`. Works with or
    /// without pod network namespaces.
    pub fn script_containers(
        &mut self,
        outcomes: impl IntoIterator<Item = (String, crate::kubelet::Scripted)>,
    ) {
        self.kubelet
            .get_or_insert_default()
            .script(outcomes.into_iter().collect());
    }

    /// The network namespace of `unit`'s pod (for probes), when pods have one.
    pub fn unit_netns(&self, unit: &str) -> Option<String> {
        self.pod_netns(unit)
    }

    /// Takes the tunnel of `unit`'s gluetun stand-in down (`up == false`) or up again;
    /// whether the unit's pod has one.
    pub fn set_tunnel(&mut self, unit: &str, up: bool) -> Result<bool> {
        let Some(tunnel) = self.tunnels.get(&Self::pod_name(unit)) else {
            return Ok(false);
        };
        let done = if up { tunnel.up() } else { tunnel.down() };
        done.map_err(|source| crate::pod_network::PodNetworkError::Net {
            step: format!(
                "taking the tunnel of {unit} {}",
                if up { "up" } else { "down" }
            ),
            source,
        })?;
        Ok(true)
    }

    /// The stand-in internet behind `unit`'s tunnel, if its pod has one.
    pub fn internet(&self, unit: &str) -> Option<&pod_net::Internet> {
        self.tunnels.get(&Self::pod_name(unit))
    }

    /// Deletes the unit's pod network namespace and endpoints.
    pub(super) fn pod_down(&mut self, unit: &str) -> Result<()> {
        self.endpoints.retain(|(u, _, _), _| u != unit);
        if let Some(pods) = self.pods.as_mut() {
            pods.remove_pod(&Self::pod_name(unit));
        }
        self.sync_dns()
    }

    /// The cluster DNS answers for every unit's pod, under its application's headless Service.
    fn sync_dns(&self) -> Result<()> {
        let Some(pods) = &self.pods else {
            return Ok(());
        };
        let entries: Vec<(String, String, std::net::Ipv4Addr)> = self
            .st
            .model
            .applications
            .values()
            .flat_map(|a| {
                a.units
                    .keys()
                    .map(move |u| (a.name.clone(), Self::pod_name(u)))
            })
            .filter_map(|(app, pod)| pods.pod(&pod).map(|p| (app, pod.clone(), p.ip())))
            .collect();
        let records = crate::pod_network::model_records(&self.st.model.name, &entries);
        pods.set_records(&records)?;
        Ok(())
    }

    /// The network namespace of the unit's pod, when pods have one.
    pub(super) fn pod_netns(&self, unit: &str) -> Option<String> {
        self.pods
            .as_ref()
            .and_then(|p| p.pod(&Self::pod_name(unit)))
            .map(|p| p.netns().to_owned())
    }

    /// The application's workload containers (its metadata's `containers`).
    pub(super) fn container_names(&self, app: &str) -> Vec<String> {
        self.st
            .model
            .applications
            .get(app)
            .map(|a| a.metadata.containers.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Starts (or, with `reset`, resets) a Pebble per container of the unit.
    pub(super) fn start_pebble(&mut self, app: &str, unit: &str, reset: bool) -> Result<()> {
        let containers = self.container_names(app);
        let unit_dir = self.unit_dir(unit);
        let mounts = self.storage_mounts(app, unit);
        for c in containers {
            self.pebbles
                .start(
                    &self.dir.join("pebble"),
                    unit,
                    &c,
                    &unit_dir.join("containers"),
                    mounts.get(&c).cloned().unwrap_or_default(),
                    reset,
                )
                .map_err(|source| ModelError::Start {
                    what: format!("pebble for {unit} container {c}"),
                    source,
                })?;
        }
        Ok(())
    }

    /// Container → [(storage host dir, location in the container)].
    fn storage_mounts(&self, app: &str, unit: &str) -> BTreeMap<String, Vec<(PathBuf, String)>> {
        let mut out: BTreeMap<String, Vec<(PathBuf, String)>> = BTreeMap::new();
        let Some(a) = self.st.model.applications.get(app) else {
            return out;
        };
        for (cname, c) in &a.metadata.containers {
            for m in &c.mounts {
                out.entry(cname.clone()).or_default().push((
                    self.unit_dir(unit).join("storage").join(&m.storage),
                    m.location.clone(),
                ));
            }
        }
        out
    }

    /// Starts the unit's workload endpoints that have answers and are not running yet.
    pub(super) fn start_endpoints(&mut self, app: &str, unit: &str) -> Result<()> {
        let keys: Vec<String> = self
            .st
            .workload
            .keys()
            .filter(|k| k.split('/').next() == Some(app))
            .cloned()
            .collect();
        for key in keys {
            let mut parts = key.splitn(3, '/');
            let (_, container, port) = (parts.next(), parts.next(), parts.next());
            let (Some(container), Some(port)) = (container, port.and_then(|p| p.parse().ok()))
            else {
                continue;
            };
            let id = (unit.to_owned(), container.to_owned(), port);
            if self.endpoints.contains_key(&id) {
                continue;
            }
            let shared = self
                .shared
                .entry(key.clone())
                .or_insert_with(|| Arc::new(Mutex::new(workload::Shared::default())))
                .clone();
            if let Some(answers) = self.st.workload.get(&key) {
                shared
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .answers
                    .clone_from(answers);
            }
            let netns = self.pod_netns(unit);
            let ep = workload::Endpoint::start(unit, container, port, shared, netns.as_deref())
                .map_err(|source| ModelError::Start {
                    what: format!("workload endpoint {key} of {unit}"),
                    source,
                })?;
            self.endpoints.insert(id, ep);
        }
        Ok(())
    }

    /// The application's service-account directory (`token`, `ca.crt`, `namespace`) and the
    /// API server's host and port (`url`'s), as Kubernetes gives a pod.
    fn service_account(
        &self,
        app: &str,
        identity: &kube_testbed::Identity,
        url: &str,
        ca: Option<&Path>,
    ) -> Result<Option<crate::runner::ServiceAccount>> {
        let (Some(ca), Some((host, port))) = (
            ca,
            url.strip_prefix("https://")
                .and_then(|a| a.rsplit_once(':')),
        ) else {
            return Ok(None);
        };
        let Ok(port) = port.parse::<u16>() else {
            return Ok(None);
        };
        let dir = self
            .dir
            .join("identities")
            .join(format!("{app}.serviceaccount"));
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let ca_pem = std::fs::read(ca).map_err(io_err(ca))?;
        for (name, content) in [
            ("token", identity.token.as_bytes()),
            ("ca.crt", ca_pem.as_slice()),
            ("namespace", identity.namespace.as_bytes()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, content).map_err(io_err(&path))?;
        }
        Ok(Some(crate::runner::ServiceAccount {
            dir,
            host: host.to_owned(),
            port,
        }))
    }

    /// The environment a hook of `unit` runs with.
    pub(super) fn unit_env(&mut self, unit: &str) -> Result<UnitEnv> {
        let app = unit.split('/').next().unwrap_or(unit).to_owned();
        let (proxy_url, ca) = self.proxy_for(&app)?;
        let netns = self.pod_netns(unit);
        // In a pod, the API server is the `kubernetes` Service (relayed to the proxy).
        let url = if netns.is_some() {
            format!(
                "https://{}:{}",
                crate::pod_network::API_SERVICE_IP,
                crate::pod_network::API_SERVICE_PORT
            )
        } else {
            proxy_url
        };
        let token = self
            .st
            .apps
            .get(&app)
            .map(|a| a.token.clone())
            .unwrap_or_default();
        let identity = kube_testbed::Identity {
            username: format!("system:serviceaccount:{}:{app}", self.st.model.name),
            namespace: self.st.model.name.clone(),
            token,
            kubeconfig: self
                .dir
                .join("identities")
                .join(format!("{app}.kubeconfig")),
        };
        std::fs::create_dir_all(self.dir.join("identities"))
            .map_err(io_err(&self.dir.join("identities")))?;
        let kubeconfig = identity
            .kubeconfig_for_server(&url, ca.as_deref(), "proxy")
            .map_err(cluster_err)?;
        let service_account = self.service_account(&app, &identity, &url, ca.as_deref())?;
        let unit_dir = self.unit_dir(unit);
        Ok(UnitEnv {
            unit: unit.to_owned(),
            model_name: self.st.model.name.clone(),
            model_uuid: self.st.model.uuid.clone(),
            charm_dir: unit_dir.join("charm"),
            tools_dir: self.tools_dir.clone(),
            agent_dir: unit_dir.join("agent"),
            pebble_dir: unit_dir.join("containers"),
            kubeconfig: Some(kubeconfig),
            service_account,
            netns,
        })
    }

    /// A fresh copy of the application's charm directory for the unit (`cp -a`).
    pub(super) fn copy_charm(&self, app: &str, unit: &str) -> Result<()> {
        let Some(a) = self.st.model.applications.get(app) else {
            return Ok(());
        };
        let dest = self.unit_dir(unit).join("charm");
        let _ = std::fs::remove_dir_all(&dest);
        std::fs::create_dir_all(&dest).map_err(io_err(&dest))?;
        let status = std::process::Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", a.charm_dir.display()))
            .arg(&dest)
            .status()
            .map_err(io_err(&dest))?;
        if !status.success() {
            return Err(ModelError::Invalid(format!(
                "copying the charm into {}",
                dest.display()
            )));
        }
        Ok(())
    }

    /// `workload-http APP CONTAINER PATH --status N --body TEXT` (or `--down`), on `port`.
    pub fn workload_http(
        &mut self,
        app: &str,
        container: &str,
        port: u16,
        path: &str,
        answer: Answer,
    ) -> Result<()> {
        let key = format!("{app}/{container}/{port}");
        self.st
            .workload
            .entry(key.clone())
            .or_default()
            .insert(path.to_owned(), answer.clone());
        if let Some(shared) = self.shared.get(&key) {
            shared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .answers
                .insert(path.to_owned(), answer);
        }
        for unit in self.st.app_units(app) {
            self.start_endpoints(app, &unit)?;
        }
        self.save()
    }

    /// Requests the workload endpoints received so far.
    pub fn workload_requests(&mut self) -> Vec<WorkloadRequest> {
        self.collect_proxy_state();
        self.st.workload_requests.clone()
    }

    /// Sets a Pebble check of a unit's container up or down (what the workload's health would
    /// be; checks are not performed by the simulated Pebble). Returns false if no such Pebble.
    pub fn set_pebble_check(&mut self, unit: &str, container: &str, check: &str, up: bool) -> bool {
        let done = self
            .pebbles
            .with_state(unit, container, |s| s.set_check_status(check, up))
            .is_some();
        if done {
            self.pebbles.save(&self.dir.join("pebble"));
        }
        done
    }

    /// Pebble's state for a unit's container (plan, services, files), if running.
    pub fn pebble(&self, unit: &str, container: &str) -> Option<Value> {
        self.pebbles.describe(unit, container)
    }
}

/// What [`Model::probe`] saw.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The gateway pod whose tunnel leads to the internet.
    pub gateway: String,
    /// The internet host and port connected to.
    pub target: std::net::SocketAddrV4,
    /// The tunnel's own address (what the internet sees of traffic through the VPN).
    pub tunnel_addr: std::net::Ipv4Addr,
    /// The source address the internet saw, or why the connection failed.
    pub seen: std::result::Result<std::net::IpAddr, String>,
    /// Packets toward the host on the pod's `eth0` (outside the tunnel).
    pub eth0_packets: usize,
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.seen {
            Ok(ip) if *ip == std::net::IpAddr::V4(self.tunnel_addr) => write!(
                f,
                "reached {} (the stand-in internet); it saw {ip}, {}'s tunnel address",
                self.target, self.gateway
            )?,
            Ok(ip) => write!(
                f,
                "reached {}; it saw {ip}, NOT the tunnel's address",
                self.target
            )?,
            Err(e) => write!(f, "did not reach {}: {e}", self.target)?,
        }
        write!(
            f,
            "; packets toward it on the pod's eth0 (outside the tunnel): {}",
            self.eth0_packets
        )
    }
}
