//! Kubeconfig files: one cluster, one token user, one context, usable by kube-rs and kubectl.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Who a kubeconfig authenticates as, and against which server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The Kubernetes user name, e.g. `system:serviceaccount:demo:app` or `admin`.
    pub username: String,
    /// The namespace of the identity (the context's default namespace).
    pub namespace: String,
    /// The bearer token.
    pub token: String,
    /// The kubeconfig file that uses this identity against the API server.
    pub kubeconfig: PathBuf,
}

impl Identity {
    /// Writes a kubeconfig for this identity that talks to `server` (e.g. a
    /// [`crate::ProxyControl::url`]) instead of the API server, next to [`Self::kubeconfig`]
    /// with `suffix` added to its file stem, and returns its path. `ca` is needed for https
    /// servers only.
    pub fn kubeconfig_for_server(
        &self,
        server: &str,
        ca: Option<&Path>,
        suffix: &str,
    ) -> Result<PathBuf> {
        let stem = self
            .kubeconfig
            .file_stem()
            .map_or_else(|| "identity".into(), |s| s.to_string_lossy().into_owned());
        let path = self
            .kubeconfig
            .with_file_name(format!("{stem}.{suffix}.kubeconfig"));
        write(
            &path,
            server,
            ca,
            &self.username,
            &self.token,
            &self.namespace,
        )?;
        Ok(path)
    }
}

/// Writes a kubeconfig file. Strings are written as JSON strings, which YAML reads verbatim.
pub(crate) fn write(
    path: &Path,
    server: &str,
    ca: Option<&Path>,
    user: &str,
    token: &str,
    namespace: &str,
) -> Result<()> {
    let q = |s: &str| serde_json::Value::from(s).to_string();
    let ca_line = ca.map_or_else(String::new, |ca| {
        format!("    certificate-authority: {}\n", q(&ca.to_string_lossy()))
    });
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: testbed\n  cluster:\n    server: {server}\n{ca_line}\
         users:\n- name: {user}\n  user:\n    token: {token}\n\
         contexts:\n- name: testbed\n  context:\n    cluster: testbed\n    user: {user}\n    namespace: {namespace}\n\
         current-context: testbed\n",
        server = q(server),
        user = q(user),
        token = q(token),
        namespace = q(namespace),
    );
    std::fs::write(path, text).map_err(Error::dir(path))
}

/// Makes a kube client from a kubeconfig file. Must run inside the tokio runtime that will use
/// the client (kube clients keep connections and a task on the runtime that made them).
pub async fn client_for(kubeconfig: &Path) -> Result<kube::Client> {
    let err = |e: Box<dyn std::error::Error + Send + Sync>| Error::Client {
        path: kubeconfig.to_path_buf(),
        source: e,
    };
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| err(Box::new(e)))?;
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| err(Box::new(e)))?;
    kube::Client::try_from(config).map_err(|e| err(Box::new(e)))
}
