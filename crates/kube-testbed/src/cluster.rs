//! [`Cluster`]: start etcd + kube-apiserver on free loopback ports, set the cluster up as Juju
//! sees it, and stop everything (API server first, then etcd) when dropped.

use std::env;
use std::fs;
use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::error::{Error, Result};
use crate::kubeconfig::{self, Identity};
use crate::process::{self, Lifetime, TERM_GRACE};
use crate::rbac::AppRbac;

/// The kube-apiserver version this crate builds and runs.
pub const APISERVER_VERSION: &str = "v1.20.2";
/// The cache directory name: version plus the source patch applied (see build-apiserver.sh).
pub const APISERVER_CACHE_KEY: &str = "kube-apiserver-v1.20.2-stsvalidate";
/// Environment variable naming the kube-apiserver binary, overriding the cache.
pub const APISERVER_ENV: &str = "KUBE_TESTBED_APISERVER";
/// The address Endpoints `default/kubernetes` gives the API server, as a node's address on a
/// real cluster (TEST-NET-1: nothing connects to it; the API server refuses loopback there).
pub const API_SERVER_NODE_ADDRESS: &str = "192.0.2.10";
/// The ClusterIP of Service `kube-system/kube-dns` (service range `10.0.0.0/24`).
pub const KUBE_DNS_IP: &str = "10.0.0.10";
/// The service ClusterIP range passed to the API server.
pub const SERVICE_CIDR: &str = "10.0.0.0/24";
/// The label every namespace gets, as clusters since 1.21 do automatically.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// The name of the CiliumNetworkPolicy CRD [`Cluster::install_cilium_crd`] creates.
pub const CILIUM_CRD: &str = "ciliumnetworkpolicies.cilium.io";

const FIELD_MANAGER: &str = "kube-testbed";
const POLL: Duration = Duration::from_millis(50);
const PORT_RETRIES: usize = 3;

/// The kube-apiserver binary: `$KUBE_TESTBED_APISERVER`, else the build script's cache entry
/// `${XDG_CACHE_HOME:-$HOME/.cache}/charmarr-rs/kube-apiserver-v1.20.2-stsvalidate/kube-apiserver`.
pub fn apiserver_binary() -> PathBuf {
    if let Some(p) = env::var_os(APISERVER_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let cache = env::var_os("XDG_CACHE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache
        .join("charmarr-rs")
        .join(APISERVER_CACHE_KEY)
        .join("kube-apiserver")
}

/// `program` on PATH.
fn which(program: &'static str) -> Result<PathBuf> {
    env::var_os("PATH")
        .into_iter()
        .flat_map(|p| env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .ok_or(Error::FindProgram { program })
}

/// How to start a [`Cluster`].
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Run in this directory instead of a fresh temporary one. Leftover processes recorded in
    /// it are stopped and its previous state (etcd data, certificates, kubeconfigs) removed.
    pub dir: Option<PathBuf>,
    /// The kube-apiserver binary; default [`apiserver_binary`].
    pub apiserver: Option<PathBuf>,
    /// How long etcd and the API server may take to become ready (each).
    pub ready_timeout: Duration,
    /// Whether the processes die with this process (tests) or outlive it (the CLI's `up`).
    pub lifetime: Lifetime,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            dir: None,
            apiserver: None,
            ready_timeout: Duration::from_mins(1),
            lifetime: Lifetime::Owned,
        }
    }
}

enum Dir {
    Temp(tempfile::TempDir),
    Given(PathBuf),
}

impl Dir {
    fn path(&self) -> &Path {
        match self {
            Self::Temp(t) => t.path(),
            Self::Given(p) => p,
        }
    }
}

/// A running etcd + kube-apiserver. Dropping it stops both (API server first), also while a
/// panic unwinds; a temporary directory is then deleted.
pub struct Cluster {
    // Field order matters for drop: the processes are stopped in `Drop::drop`, then `dir` goes.
    apiserver: Option<Child>,
    etcd: Option<Child>,
    dir: Dir,
    server: String,
    admin: Identity,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("dir", &self.dir())
            .field("server", &self.server)
            .field("apiserver_pid", &self.apiserver.as_ref().map(Child::id))
            .field("etcd_pid", &self.etcd.as_ref().map(Child::id))
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Starts a cluster in a temporary directory with default options.
    pub fn start() -> Result<Self> {
        Self::start_with(&ClusterOptions::default())
    }

    /// Starts a cluster. Blocks until the API server answers `/readyz` with `ok` and the
    /// cluster is set up (namespaces labelled, `kube-system/kube-dns` created).
    ///
    /// Callable from sync code and from inside a tokio runtime (it uses its own thread).
    pub fn start_with(options: &ClusterOptions) -> Result<Self> {
        let started = Instant::now();
        let apiserver_bin = options.apiserver.clone().unwrap_or_else(apiserver_binary);
        if !apiserver_bin.is_file() {
            return Err(Error::FindApiserver {
                path: apiserver_bin,
            });
        }
        let etcd_bin = which("etcd")?;
        let dir = match &options.dir {
            Some(d) => {
                fs::create_dir_all(d).map_err(Error::dir(d))?;
                let d = fs::canonicalize(d).map_err(Error::dir(d))?;
                stop_dir(&d);
                for sub in ["etcd-data", "certs", "identities", "logs"] {
                    remove_path(&d.join(sub))?;
                }
                Dir::Given(d)
            }
            None => Dir::Temp(
                tempfile::Builder::new()
                    .prefix("kube-testbed.")
                    .tempdir()
                    .map_err(Error::dir(env::temp_dir()))?,
            ),
        };
        let path = dir.path().to_path_buf();
        for sub in ["certs", "logs", "identities"] {
            fs::create_dir_all(path.join(sub)).map_err(Error::dir(path.join(sub)))?;
        }
        generate_key(&path.join("sa.key"))?;
        let token = random_token()?;
        let tokens = path.join("tokens.csv");
        fs::write(
            &tokens,
            format!("{token},admin,uid-admin,\"system:masters\"\n"),
        )
        .map_err(Error::dir(&tokens))?;

        let admin = Identity {
            username: "admin".into(),
            namespace: "default".into(),
            token,
            kubeconfig: path.join("admin.kubeconfig"),
        };
        let mut cluster = Self {
            apiserver: None,
            etcd: None,
            dir,
            server: String::new(),
            admin,
        };
        let mut attempt = 1;
        loop {
            match cluster.launch(&etcd_bin, &apiserver_bin, options) {
                Ok(()) => break,
                Err(e) if attempt < PORT_RETRIES && is_port_clash(&e) => {
                    tracing::debug!("port clash, retrying with other ports: {e}");
                    cluster.stop_processes();
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
        tracing::debug!(elapsed = ?started.elapsed(), dir = %cluster.dir().display(), "kube-testbed cluster ready");
        Ok(cluster)
    }

    /// Starts etcd and the API server on fresh free ports and waits for both.
    fn launch(
        &mut self,
        etcd_bin: &Path,
        apiserver_bin: &Path,
        options: &ClusterOptions,
    ) -> Result<()> {
        let started = Instant::now();
        let dir = self.dir().to_path_buf();
        let d = |s: &str| dir.join(s).to_string_lossy().into_owned();
        remove_path(&dir.join("etcd-data"))?;
        let [client, peer, secure] = free_ports()?;
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let etcd_log = dir.join("logs/etcd.log");
        let etcd_args: Vec<String> = vec![
            "--name".into(),
            "testbed".into(),
            "--data-dir".into(),
            d("etcd-data"),
            "--listen-client-urls".into(),
            client_url.clone(),
            "--advertise-client-urls".into(),
            client_url.clone(),
            "--listen-peer-urls".into(),
            peer_url.clone(),
            "--initial-advertise-peer-urls".into(),
            peer_url.clone(),
            "--initial-cluster".into(),
            format!("testbed={peer_url}"),
        ];
        let etcd = process::spawn(etcd_bin, &etcd_args, &etcd_log, options.lifetime).map_err(
            |source| Error::Spawn {
                program: "etcd",
                source,
            },
        )?;
        process::write_pid(&dir.join("etcd.pid"), etcd.id())
            .map_err(Error::dir(dir.join("etcd.pid")))?;
        self.etcd = Some(etcd);
        wait_etcd(client, self.etcd.as_mut(), &etcd_log, options.ready_timeout)?;
        tracing::debug!(elapsed = ?started.elapsed(), "etcd healthy");

        let apiserver_args: Vec<String> = [
            format!("--etcd-servers={client_url}"),
            "--bind-address=127.0.0.1".into(),
            format!("--secure-port={secure}"),
            "--advertise-address=127.0.0.1".into(),
            "--insecure-port=0".into(),
            format!("--service-cluster-ip-range={SERVICE_CIDR}"),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            format!("--service-account-key-file={}", d("sa.key")),
            format!("--service-account-signing-key-file={}", d("sa.key")),
            format!("--token-auth-file={}", d("tokens.csv")),
            "--authorization-mode=RBAC".into(),
            format!("--cert-dir={}", d("certs")),
            "--endpoint-reconciler-type=none".into(),
            // Real clusters (kubeadm, microk8s, Charmed Kubernetes) allow privileged pods; the
            // gateway's gluetun container needs it (docs/interface.md §3).
            "--allow-privileged=true".into(),
            "--disable-admission-plugins=ServiceAccount".into(),
        ]
        .into();
        let apiserver_log = dir.join("logs/apiserver.log");
        let apiserver = process::spawn(
            apiserver_bin,
            &apiserver_args,
            &apiserver_log,
            options.lifetime,
        )
        .map_err(|source| Error::Spawn {
            program: "kube-apiserver",
            source,
        })?;
        process::write_pid(&dir.join("apiserver.pid"), apiserver.id())
            .map_err(Error::dir(dir.join("apiserver.pid")))?;
        self.apiserver = Some(apiserver);
        self.server = format!("https://127.0.0.1:{secure}");
        kubeconfig::write(
            &self.admin.kubeconfig,
            &self.server,
            Some(&self.ca_file()),
            &self.admin.username,
            &self.admin.token,
            &self.admin.namespace,
        )?;
        let timeout = options.ready_timeout;
        let kc = self.admin.kubeconfig.clone();
        let log = apiserver_log.clone();
        let ca = self.ca_file();
        let child = self.apiserver.as_mut();
        run_sync(|| async move {
            let client = wait_readyz(&kc, &ca, child, &log, timeout).await?;
            tracing::debug!(elapsed = ?started.elapsed(), "kube-apiserver ready");
            bootstrap(&client, secure).await
        })
    }

    /// The directory holding the state, logs, PID files and kubeconfigs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The API server's URL, `https://127.0.0.1:<port>`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The CA file clients must trust: the API server's self-signed serving certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir().join("certs/apiserver.crt")
    }

    /// The admin identity (group `system:masters`); its kubeconfig is `<dir>/admin.kubeconfig`.
    pub fn admin(&self) -> &Identity {
        &self.admin
    }

    /// The admin kubeconfig path.
    pub fn admin_kubeconfig(&self) -> &Path {
        &self.admin.kubeconfig
    }

    /// The PIDs of the API server and etcd, while they run.
    pub fn pids(&self) -> (Option<u32>, Option<u32>) {
        (
            self.apiserver.as_ref().map(Child::id),
            self.etcd.as_ref().map(Child::id),
        )
    }

    /// An admin client. Call it inside the tokio runtime that will use it.
    pub async fn admin_client(&self) -> Result<kube::Client> {
        kubeconfig::client_for(&self.admin.kubeconfig).await
    }

    /// Runs `f` with an admin client on an internal current-thread runtime, on its own thread:
    /// usable from sync code and from inside another runtime (it blocks the caller).
    pub fn with_admin<F, Fut, T>(&self, f: F) -> Result<T>
    where
        F: FnOnce(kube::Client) -> Fut + Send,
        Fut: Future<Output = Result<T>>,
        T: Send,
    {
        let kc = self.admin.kubeconfig.clone();
        run_sync(|| async move { f(kubeconfig::client_for(&kc).await?).await })
    }

    /// Creates namespace `name` (idempotent), labelled `kubernetes.io/metadata.name=<name>`.
    pub fn create_namespace(&self, name: &str) -> Result<()> {
        self.with_admin(|c| async move { ensure_namespace(&c, name).await })
    }

    /// Installs the CiliumNetworkPolicy CRD (`cilium.io/v2`, Namespaced, any content) and waits
    /// until it is Established.
    pub fn install_cilium_crd(&self) -> Result<()> {
        self.with_admin(|c| async move { install_cilium_crd(&c).await })
    }

    /// Adds the identity Juju gives application `app` in namespace `ns` (model), untrusted,
    /// under Juju's names ([`AppRbac`]): ServiceAccount `<app>`, Role `<app>` allowing
    /// get/list/patch on pods and services and create on pods/exec, RoleBinding `<app>`, and a
    /// TokenRequest token. The user is then `system:serviceaccount:<ns>:<app>`. Writes
    /// `<dir>/identities/<ns>.<app>.kubeconfig`. Creates the namespace if needed. Works while
    /// the server runs (no restart).
    pub fn add_app(&self, ns: &str, app: &str) -> Result<Identity> {
        let kubeconfig = self
            .dir()
            .join("identities")
            .join(format!("{ns}.{app}.kubeconfig"));
        let token = self.with_admin(|c| async move { add_app(&c, ns, app).await })?;
        let identity = Identity {
            username: AppRbac::new(ns, app).username(),
            namespace: ns.to_owned(),
            token,
            kubeconfig,
        };
        kubeconfig::write(
            &identity.kubeconfig,
            &self.server,
            Some(&self.ca_file()),
            &identity.username,
            &identity.token,
            ns,
        )?;
        Ok(identity)
    }

    /// What `juju trust APP --scope=cluster` grants: ClusterRoleBinding `<ns>-<app>` (Juju's
    /// name, [`AppRbac::cluster_role_binding`]) to `cluster-admin`. Takes effect at once.
    pub fn trust(&self, ns: &str, app: &str) -> Result<()> {
        let rbac = AppRbac::new(ns, app);
        self.with_admin(|c| async move {
            let name = rbac.cluster_role_binding();
            let crb: ClusterRoleBinding = from_json(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [{"kind": "ServiceAccount", "name": rbac.service_account(), "namespace": ns}],
            }))?;
            apply(&Api::<ClusterRoleBinding>::all(c), &name, &crb).await
        })
    }

    /// Takes [`Self::trust`] away again (idempotent).
    pub fn untrust(&self, ns: &str, app: &str) -> Result<()> {
        self.with_admin(|c| async move {
            let name = AppRbac::new(ns, app).cluster_role_binding();
            match Api::<ClusterRoleBinding>::all(c)
                .delete(&name, &DeleteParams::default())
                .await
            {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                Err(e) => Err(Error::api(format!("delete ClusterRoleBinding {name}"))(e)),
            }
        })
    }

    /// Stops the API server, then etcd (SIGTERM, bounded wait, SIGKILL), and removes the PID
    /// files. Idempotent; also done on drop.
    pub fn stop(&mut self) {
        self.stop_processes();
    }

    /// Leaves the processes running (for the CLI's `up`): they are no longer stopped on drop.
    /// Only meaningful with [`Lifetime::Detached`] and a given directory.
    pub fn detach(mut self) {
        self.apiserver = None;
        self.etcd = None;
    }

    fn stop_processes(&mut self) {
        let dir = self.dir().to_path_buf();
        for (child, (name, pid_file)) in [self.apiserver.take(), self.etcd.take()]
            .into_iter()
            .zip(process::pid_files(&dir))
        {
            if let Some(mut child) = child {
                let started = Instant::now();
                if let Err(e) = process::stop_child(&mut child, TERM_GRACE) {
                    tracing::warn!("stopping {name} (pid {}): {e}", child.id());
                }
                tracing::debug!(elapsed = ?started.elapsed(), "{name} stopped");
                let _ = fs::remove_file(pid_file);
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_processes();
    }
}

/// Stops the processes recorded in `dir`'s PID files (API server first, then etcd), only if
/// they still run and belong to `dir`. Returns the names of the ones that were running.
pub fn stop_dir(dir: &Path) -> Vec<&'static str> {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let marker = format!("{}/", dir.display());
    let mut stopped = Vec::new();
    for (name, file) in process::pid_files(&dir) {
        if let Some(pid) = process::read_pid(&file)
            && process::stop_recorded(pid, &marker, TERM_GRACE)
        {
            tracing::debug!(pid, "stopped leftover {name}");
            stopped.push(name);
        }
        let _ = fs::remove_file(file);
    }
    stopped
}

/// The processes recorded in `dir` that still run: `(name, pid)`, API server first.
pub fn running_in_dir(dir: &Path) -> Vec<(&'static str, u32)> {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let marker = format!("{}/", dir.display());
    process::pid_files(&dir)
        .into_iter()
        .filter_map(|(name, file)| process::read_pid(&file).map(|pid| (name, pid)))
        .filter(|&(_, pid)| process::is_ours(pid, &marker))
        .collect()
}

/// Whether a process with this PID still runs (not exited, not a zombie): for tests that
/// check nothing is left behind.
pub fn pid_alive(pid: u32) -> bool {
    process::alive(pid)
}

fn remove_path(p: &Path) -> Result<()> {
    match fs::remove_dir_all(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::dir(p)(e)),
        _ => Ok(()),
    }
}

fn is_port_clash(e: &Error) -> bool {
    matches!(e, Error::Exited { tail, .. } | Error::NotReady { tail, .. } if tail.contains("address already in use"))
}

/// Runs an async block on a fresh current-thread runtime on a scoped thread, so it works
/// both from sync code and from inside another runtime.
fn run_sync<F, Fut, T>(f: F) -> Result<T>
where
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = Result<T>>,
    T: Send,
{
    thread::scope(|s| {
        let handle = s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(Error::Runtime)?;
            rt.block_on(f())
        });
        handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Three distinct free loopback ports (held open together, so they differ).
fn free_ports() -> Result<[u16; 3]> {
    let listeners = [(); 3].map(|()| TcpListener::bind("127.0.0.1:0"));
    let mut ports = [0; 3];
    for (slot, l) in ports.iter_mut().zip(listeners) {
        *slot = l
            .and_then(|l| l.local_addr())
            .map_err(Error::FreePort)?
            .port();
    }
    Ok(ports)
}

fn random_token() -> Result<String> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).map_err(|_| {
        Error::GenerateKey {
            detail: "no system randomness for the admin token".into(),
        }
    })?;
    Ok(bytes
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])
        .map(char::from)
        .collect())
}

fn generate_key(path: &Path) -> Result<()> {
    let openssl = which("openssl")?;
    let out = Command::new(openssl)
        .args(["genrsa", "-out"])
        .arg(path)
        .arg("2048")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::GenerateKey {
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(Error::GenerateKey {
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(())
}

fn log_tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

fn exited(program: &'static str, child: Option<&mut Child>, log: &Path) -> Option<Error> {
    let status = child.and_then(|c| c.try_wait().ok().flatten())?;
    Some(Error::Exited {
        program,
        status: status.to_string(),
        log: log.to_path_buf(),
        tail: log_tail(log),
    })
}

/// Polls etcd's `/health` over plain HTTP until it says `"health":"true"`.
fn wait_etcd(
    port: u16,
    mut child: Option<&mut Child>,
    log: &Path,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(e) = exited("etcd", child.as_deref_mut(), log) {
            return Err(e);
        }
        if etcd_healthy(port) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::NotReady {
                program: "etcd",
                timeout,
                log: log.to_path_buf(),
                tail: log_tail(log),
            });
        }
        thread::sleep(POLL);
    }
}

fn etcd_healthy(port: u16) -> bool {
    let ask = || -> io::Result<String> {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)?;
        Ok(answer)
    };
    ask().is_ok_and(|a| a.contains("\"health\":\"true\""))
}

/// Polls `/readyz` until it answers `ok`; the client can only be made once the API server
/// has written its self-signed certificate (our CA file).
async fn wait_readyz(
    kubeconfig: &Path,
    ca: &Path,
    mut child: Option<&mut Child>,
    log: &Path,
    timeout: Duration,
) -> Result<kube::Client> {
    let deadline = Instant::now() + timeout;
    let mut client = None;
    loop {
        if let Some(e) = exited("kube-apiserver", child.as_deref_mut(), log) {
            return Err(e);
        }
        if client.is_none() && ca.is_file() {
            // A half-written certificate fails to parse: simply try again next round.
            client = kubeconfig::client_for(kubeconfig).await.ok();
        }
        if let Some(c) = &client
            && let Ok(req) = hyper::Request::get("/readyz").body(Vec::new())
            && c.request_text(req).await.is_ok_and(|t| t == "ok")
        {
            return Ok(c.clone());
        }
        if Instant::now() >= deadline {
            return Err(Error::NotReady {
                program: "kube-apiserver",
                timeout,
                log: log.to_path_buf(),
                tail: log_tail(log),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// What every cluster has: the system namespaces labelled, `kube-system/kube-dns`, and the
/// API server's endpoint in Endpoints `default/kubernetes` (a real API server's endpoint
/// reconciler writes it; ours runs with `--endpoint-reconciler-type=none`, so it is written
/// once here: [`API_SERVER_NODE_ADDRESS`] and the secure port).
async fn bootstrap(client: &kube::Client, secure_port: u16) -> Result<()> {
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        ensure_namespace(client, ns).await?;
    }
    let svc: Service = from_json(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
        "spec": {
            "clusterIP": KUBE_DNS_IP,
            "selector": {"k8s-app": "kube-dns"},
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
            ],
        },
    }))?;
    apply(
        &Api::<Service>::namespaced(client.clone(), "kube-system"),
        "kube-dns",
        &svc,
    )
    .await?;
    let endpoints: Endpoints = from_json(json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default"},
        "subsets": [{
            "addresses": [{"ip": API_SERVER_NODE_ADDRESS}],
            "ports": [{"name": "https", "port": secure_port, "protocol": "TCP"}],
        }],
    }))?;
    apply(
        &Api::<Endpoints>::namespaced(client.clone(), "default"),
        "kubernetes",
        &endpoints,
    )
    .await
}

async fn ensure_namespace(client: &kube::Client, name: &str) -> Result<()> {
    let ns: Namespace = from_json(json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": {NAMESPACE_NAME_LABEL: name}},
    }))?;
    apply(&Api::<Namespace>::all(client.clone()), name, &ns).await
}

async fn install_cilium_crd(client: &kube::Client) -> Result<()> {
    let crd: CustomResourceDefinition = from_json(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": CILIUM_CRD},
        "spec": {
            "group": "cilium.io",
            "scope": "Namespaced",
            "names": {
                "plural": "ciliumnetworkpolicies", "singular": "ciliumnetworkpolicy",
                "kind": "CiliumNetworkPolicy", "listKind": "CiliumNetworkPolicyList",
                "shortNames": ["cnp", "ciliumnp"],
            },
            "versions": [{
                "name": "v2", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
            }],
        },
    }))?;
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    apply(&api, CILIUM_CRD, &crd).await?;
    let timeout = Duration::from_secs(30);
    let deadline = Instant::now() + timeout;
    loop {
        let crd = api
            .get(CILIUM_CRD)
            .await
            .map_err(Error::api(format!("get CRD {CILIUM_CRD}")))?;
        let established = crd
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        if established {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::CrdNotEstablished {
                name: CILIUM_CRD.into(),
                timeout,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The untrusted identity of a Juju application; returns its token.
async fn add_app(client: &kube::Client, ns: &str, app: &str) -> Result<String> {
    ensure_namespace(client, ns).await?;
    let rbac = AppRbac::new(ns, app);
    let sa_name = rbac.service_account();
    let sa: ServiceAccount = from_json(json!({
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa_name, "namespace": ns},
    }))?;
    let sas = Api::<ServiceAccount>::namespaced(client.clone(), ns);
    apply(&sas, sa_name, &sa).await?;
    let role_name = rbac.role();
    let role: Role = from_json(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": role_name, "namespace": ns},
        "rules": [
            {"apiGroups": [""], "resources": ["pods", "services"], "verbs": ["get", "list", "patch"]},
            {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
        ],
    }))?;
    apply(
        &Api::<Role>::namespaced(client.clone(), ns),
        role_name,
        &role,
    )
    .await?;
    let binding_name = rbac.role_binding();
    let binding: RoleBinding = from_json(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": binding_name, "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
        "subjects": [{"kind": "ServiceAccount", "name": sa_name, "namespace": ns}],
    }))?;
    apply(
        &Api::<RoleBinding>::namespaced(client.clone(), ns),
        binding_name,
        &binding,
    )
    .await?;
    let request = TokenRequest {
        spec: TokenRequestSpec {
            // A year: long-lived demo clusters must not see their identities expire.
            expiration_seconds: Some(365 * 24 * 3600),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    let answer = sas
        .create_token_request(sa_name, &PostParams::default(), &request)
        .await
        .map_err(Error::api(format!(
            "TokenRequest for serviceaccount {ns}/{app}"
        )))?;
    answer
        .status
        .map(|s| s.token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::NoToken {
            namespace: ns.into(),
            app: app.into(),
        })
}

/// Server-side apply with our field manager (idempotent create-or-update).
async fn apply<K>(api: &Api<K>, name: &str, object: &K) -> Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
    K::DynamicType: Default,
{
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(object),
    )
    .await
    .map(|_| ())
    .map_err(Error::api(format!(
        "apply {} {name}",
        K::kind(&K::DynamicType::default())
    )))
}

/// Builds a typed object from literal JSON written in this file.
fn from_json<K: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<K> {
    serde_json::from_value(value).map_err(|source| Error::BuildObject {
        kind: std::any::type_name::<K>(),
        source,
    })
}
