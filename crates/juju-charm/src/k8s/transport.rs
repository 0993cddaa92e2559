//! The connection: [`Kube`], the client bound to the hook's namespace, field manager and
//! budget, configured from what Juju gives a pod (a CA and a service-account token), hyper over
//! rustls; where its reads are served from ([`Reads`]); sending a request (addressed to the API
//! server, authorised, then through [`send_with_retries`]).

use std::fmt::Debug;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::http;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use kube::Config;
use kube::core::params::GetParams;
use secrecy::{ExposeSecret as _, SecretString};

use super::error::{Failure, KubeError};
use super::retry::{
    Answer, AttemptError, Budget, RetryPolicy, SendError, Step, Target, send_with_retries,
};
use crate::http::{BodyError, read_body};
use crate::log::error_chain;

/// Largest answer body read from the API server: 8 MiB. The charms read single objects, never
/// lists: a StatefulSet or Pod (a few KiB to tens of KiB), a ConfigMap or NetworkPolicy of
/// ours, a CustomResourceDefinition's metadata only ([`Api::exists`](super::Api::exists)).
/// No stored object can be much larger than etcd's request limit (1.5 MiB by default,
/// `--max-request-bytes`), and its JSON is at most a few times its stored form; 8 MiB is
/// above any of them and still bounds what a hook holds when a proxy or a broken server
/// streams without end (docs/adr/0031).
pub const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// Where the reads of [`Api::get`](super::Api::get) and
/// [`Api::exists`](super::Api::exists) are served from. The GETs that decide a write
/// ([`Api::patch`](super::Api::patch), [`Api::apply_if_changed`](super::Api::apply_if_changed))
/// always read [`Reads::Latest`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reads {
    /// From etcd (no `resourceVersion`): the latest state.
    #[default]
    Latest,
    /// From the API server's watch cache (`resourceVersion=0`): as of the cache's last
    /// update from etcd, usually milliseconds behind; about half the API server's work and
    /// none of etcd's. For the reads a hook plans with.
    Cached,
}

impl Reads {
    pub(super) fn params(self) -> GetParams {
        match self {
            Self::Latest => GetParams::default(),
            Self::Cached => GetParams::any(),
        }
    }
}

/// hyper's pooled client over rustls, sending whole bodies.
type Http = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A Kubernetes client bound to the charm's namespace, field manager and hook budget. Its
/// requests are made through the handles of [`Kube::api`] and [`Kube::dynamic`].
#[derive(Clone)]
pub struct Kube {
    http: Http,
    /// The API server's URL (`https://host:port`, possibly with a path prefix).
    base: http::Uri,
    /// `Bearer <token>`, marked sensitive (never logged or printed).
    authorization: Option<http::HeaderValue>,
    namespace: String,
    field_manager: String,
    policy: RetryPolicy,
    budget: Budget,
    reads: Reads,
}

impl Debug for Kube {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kube")
            .field("base", &self.base)
            .field("namespace", &self.namespace)
            .field("field_manager", &self.field_manager)
            .field("policy", &self.policy)
            .field("reads", &self.reads)
            .finish_non_exhaustive()
    }
}

impl Kube {
    /// Connects with the pod's in-cluster configuration, what Juju gives a charm (and the
    /// simulator too): `KUBERNETES_SERVICE_HOST`/`PORT` and the service account's token, CA
    /// and namespace. A kubeconfig is not read: its parser would be a tenth of the charm
    /// binary, never used under Juju (docs/adr/0023). `budget` is the total time all requests
    /// of this hook may take, retries included.
    pub fn connect(
        namespace: &str,
        field_manager: &str,
        budget: Duration,
    ) -> Result<Self, KubeError> {
        Self::connect_with(namespace, field_manager, budget, RetryPolicy::default())
    }

    /// [`Kube::connect`] with explicit retry bounds.
    pub fn connect_with(
        namespace: &str,
        field_manager: &str,
        budget: Duration,
        policy: RetryPolicy,
    ) -> Result<Self, KubeError> {
        let started = Budget::new(budget);
        let config = Config::incluster().map_err(KubeError::Configure)?;
        let mut kube = Self::from_config(&config, namespace, field_manager, budget, policy)?;
        kube.budget = started;
        Ok(kube)
    }

    /// Builds the client from an explicit configuration (e.g. a kubeconfig file read by a
    /// test).
    ///
    /// The client is hyper over rustls trusting exactly the configuration's CA, with the
    /// bearer token on every request: Juju gives a charm a CA and a service-account token
    /// and nothing else. kube's own client (general authentication: exec plugins, OIDC, auth
    /// providers; trust-store fallback; tracing, retry and timeout layers) is not linked
    /// (docs/adr/0023, 0024): requests are retried within the hook's budget
    /// (`retry::send_with_retries`) and every request has its own timeout.
    pub fn from_config(
        config: &Config,
        namespace: &str,
        field_manager: &str,
        budget: Duration,
        policy: RetryPolicy,
    ) -> Result<Self, KubeError> {
        let authorization = bearer_token(&config.auth_info)?
            .map(|token| {
                let mut value =
                    http::HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
                        .map_err(|_| {
                            KubeError::Credentials("a token that is not a header value".into())
                        })?;
                value.set_sensitive(true);
                Ok::<_, KubeError>(value)
            })
            .transpose()?;
        Ok(Self {
            http: https_client(config)?,
            base: config.cluster_url.clone(),
            authorization,
            namespace: namespace.to_owned(),
            field_manager: field_manager.to_owned(),
            policy,
            budget: Budget::new(budget),
            reads: Reads::Latest,
        })
    }

    /// This client (same connection pool and budget) with its reads served as `reads` says.
    #[must_use]
    pub fn with_reads(&self, reads: Reads) -> Self {
        Self {
            reads,
            ..self.clone()
        }
    }

    /// The namespace (the Juju model).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The field manager our writes use.
    pub fn field_manager(&self) -> &str {
        &self.field_manager
    }

    /// Time left in the hook's budget.
    pub fn remaining(&self) -> Duration {
        self.budget.remaining()
    }

    /// Where this client's reads are served from.
    pub(super) fn reads(&self) -> Reads {
        self.reads
    }

    /// This client's retry bounds.
    pub(super) fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Sends `request` for `step` on `target`, retrying within the budget. Returns the body of
    /// a 2xx answer.
    pub(super) async fn execute(
        &self,
        step: Step,
        target: &Target<'_>,
        request: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
    ) -> Result<Vec<u8>, AttemptError> {
        let build =
            |detail: String| AttemptError::Final(target.error(step, Failure::Build(detail)));
        // Addressed to the API server and authorised once; every attempt sends a copy.
        let (mut head, body) = request.map_err(|e| build(e.to_string()))?.into_parts();
        head.uri =
            on_server(&self.base, &head.uri).map_err(|e| build(format!("request URL: {e}")))?;
        if let Some(authorization) = &self.authorization {
            head.headers
                .insert(http::header::AUTHORIZATION, authorization.clone());
        }
        let request = http::Request::from_parts(head, body);
        send_with_retries(&self.policy, self.budget, step, target, &request, |copy| {
            self.exchange(copy)
        })
        .await
    }

    /// One request and its whole answer, read up to [`MAX_ANSWER_BYTES`]; a transport failure
    /// (connection refused or dropped, TLS, a broken body) as its description.
    async fn exchange(&self, request: http::Request<Vec<u8>>) -> Result<Answer, SendError> {
        let request = request.map(|body| Full::new(Bytes::from(body)));
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| SendError::Transport(error_chain(&e)))?;
        let (parts, body) = response.into_parts();
        let body = read_body(body, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge => SendError::TooLarge {
                    limit: MAX_ANSWER_BYTES,
                },
                BodyError::Read(e) => SendError::Transport(error_chain(&e)),
            })?;
        Ok((parts, body))
    }
}

/// `request`'s path and query on the API server `base` (keeping a path prefix of `base`).
fn on_server(base: &http::Uri, request: &http::Uri) -> Result<http::Uri, http::Error> {
    let prefix = base.path().trim_end_matches('/');
    let path = request
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    let mut parts = base.clone().into_parts();
    parts.path_and_query = Some(format!("{prefix}{path}").parse()?);
    Ok(http::Uri::from_parts(parts)?)
}

/// hyper over rustls with [`tls_config`], TCP_NODELAY on.
fn https_client(config: &Config) -> Result<Http, KubeError> {
    // TCP_NODELAY, as Go's client and server set it: a request written in pieces (headers,
    // body, TLS records) must not wait ~40 ms for the server's delayed ACK.
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config(config)?)
        .https_or_http();
    let https = match &config.tls_server_name {
        Some(name) => {
            let name = rustls::pki_types::ServerName::try_from(name.clone()).map_err(|e| {
                KubeError::Credentials(format!("invalid tls-server-name {name:?}: {e}"))
            })?;
            https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
        }
        None => https,
    };
    Ok(Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(https.enable_http1().wrap_connector(tcp)))
}

/// TLS that trusts exactly the configuration's CA (in-cluster: the service account's
/// `ca.crt`, read once per hook). kube's own connector would also resolve exec-plugin client
/// certificates, which links its whole authentication module; a charm presents a token.
fn tls_config(config: &Config) -> Result<rustls::ClientConfig, KubeError> {
    let auth = &config.auth_info;
    if config.accept_invalid_certs {
        return Err(KubeError::Credentials(
            "insecure-skip-tls-verify (the API server is always verified)".to_owned(),
        ));
    }
    if auth.client_certificate.is_some() || auth.client_certificate_data.is_some() {
        return Err(KubeError::Credentials(
            "client certificate (a charm is given a service-account token)".to_owned(),
        ));
    }
    let mut roots = rustls::RootCertStore::empty();
    for der in config.root_cert.iter().flatten() {
        roots
            .add(rustls::pki_types::CertificateDer::from(der.clone()))
            .map_err(KubeError::Tls)?;
    }
    // TLS 1.3 only, in tests as in the charm build (where rustls is compiled without TLS 1.2;
    // Go, and so every supported Kubernetes API server, speaks 1.3).
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(KubeError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The bearer token of `auth`: inline or read once from its file (a hook is short; the
/// kubelet rotates the projected token long before it expires). No credentials at all is
/// allowed (the API server then answers 401/403); anything else is refused, named.
fn bearer_token(auth: &kube::config::AuthInfo) -> Result<Option<SecretString>, KubeError> {
    let unsupported = [
        (auth.exec.is_some(), "exec plugin"),
        (auth.auth_provider.is_some(), "auth provider"),
        (auth.password.is_some(), "username and password"),
        (auth.impersonate.is_some(), "impersonation"),
    ];
    if let Some((_, what)) = unsupported.iter().find(|(set, _)| *set) {
        return Err(KubeError::Credentials(format!(
            "{what} (a charm is given a service-account token)"
        )));
    }
    if let Some(token) = &auth.token {
        return Ok(Some(token.clone()));
    }
    match &auth.token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| KubeError::TokenFile {
                path: path.clone(),
                source,
            })?;
            Ok(Some(SecretString::from(text.trim().to_owned())))
        }
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_is_inline_or_read_once_from_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n").unwrap();
        let inline = kube::config::AuthInfo {
            token: Some(SecretString::from("inline")),
            ..Default::default()
        };
        let token = bearer_token(&inline).unwrap().unwrap();
        assert_eq!(token.expose_secret(), "inline");
        let from_file = kube::config::AuthInfo {
            token_file: Some(file.display().to_string()),
            ..Default::default()
        };
        let token = bearer_token(&from_file).unwrap().unwrap();
        assert_eq!(token.expose_secret(), "from-file");
        assert!(
            bearer_token(&kube::config::AuthInfo::default())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn requests_go_to_the_server_under_its_path_prefix_with_their_query() {
        let on = |base: &str, request: &str| {
            on_server(&base.parse().unwrap(), &request.parse().unwrap())
                .unwrap()
                .to_string()
        };
        assert_eq!(
            on("https://10.0.0.1:443", "/api/v1/namespaces/m/pods/p?x=1"),
            "https://10.0.0.1:443/api/v1/namespaces/m/pods/p?x=1"
        );
        assert_eq!(
            on("https://proxy:8443/k8s/", "/apis/apps/v1/statefulsets"),
            "https://proxy:8443/k8s/apis/apps/v1/statefulsets"
        );
    }

    #[test]
    fn tls_is_verified_against_the_configured_ca_only() {
        let url: http::Uri = "https://127.0.0.1:6443".parse().unwrap();
        let mut insecure = Config::new(url.clone());
        insecure.accept_invalid_certs = true;
        let error = tls_config(&insecure).unwrap_err();
        assert!(
            error.to_string().contains("insecure-skip-tls-verify"),
            "{error}"
        );
        let mut cert = Config::new(url.clone());
        cert.auth_info.client_certificate_data = Some("LS0t".into());
        let error = tls_config(&cert).unwrap_err();
        assert!(error.to_string().contains("client certificate"), "{error}");
        let mut garbage_ca = Config::new(url);
        garbage_ca.root_cert = Some(vec![b"not DER".to_vec()]);
        assert!(matches!(tls_config(&garbage_ca), Err(KubeError::Tls(_))));
    }

    #[test]
    fn credentials_a_charm_is_never_given_are_refused_by_name() {
        let missing = kube::config::AuthInfo {
            token_file: Some("/nonexistent/token".into()),
            ..Default::default()
        };
        assert!(matches!(
            bearer_token(&missing),
            Err(KubeError::TokenFile { path, .. }) if path == "/nonexistent/token"
        ));
        let exec = kube::config::AuthInfo {
            token: Some(SecretString::from("t")),
            exec: Some(
                serde_json::from_value(serde_json::json!({
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "command": "gke-gcloud-auth-plugin"
                }))
                .unwrap(),
            ),
            ..Default::default()
        };
        let error = bearer_token(&exec).unwrap_err();
        assert!(error.to_string().contains("exec plugin"), "{error}");
        let basic = kube::config::AuthInfo {
            username: Some("admin".into()),
            password: Some(SecretString::from("pw")),
            ..Default::default()
        };
        let error = bearer_token(&basic).unwrap_err();
        assert!(
            error.to_string().contains("username and password"),
            "{error}"
        );
    }
}
