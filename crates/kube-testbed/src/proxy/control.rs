//! The control API: how tests arm, list and clear [`Rule`]s and read hits and the request log,
//! in process through [`ProxyControl`] (a cloneable, thread-safe handle) and from other
//! processes through the HTTP control endpoint under `/_testbed/faultproxy/`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hyper::{Method, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::forward::{ProxyBody, json_response};
use super::request::{RequestInfo, Verb};
use super::rules::{Action, Armed, Rule, RuleId};
use crate::error::Result;
use crate::kubeconfig::Identity;

pub(super) const CONTROL_PREFIX: &str = "/_testbed/faultproxy/";

/// One request the proxy saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// The HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The Kubernetes verb (`None` for non-resource paths such as `/api` or `/readyz`).
    pub verb: Option<Verb>,
    /// The resource (plural), with `/subresource` if any.
    pub resource: Option<String>,
    /// The namespace.
    pub namespace: Option<String>,
    /// The object's name.
    pub name: Option<String>,
    /// The status answered; `None` while in flight or when the connection was dropped.
    pub status: Option<u16>,
    /// The rule that acted on it, if any.
    pub rule: Option<RuleId>,
}

impl LoggedRequest {
    /// Whether this request may change state (create, update, patch, delete, deletecollection).
    pub fn is_write(&self) -> bool {
        matches!(
            self.verb,
            Some(Verb::Create | Verb::Update | Verb::Patch | Verb::Delete | Verb::Deletecollection)
        )
    }
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    rules: Vec<Armed>,
    log: Vec<(u64, LoggedRequest)>,
    next_seq: u64,
}

/// A cloneable, thread-safe handle that arms rules and reads counters and the log.
#[derive(Debug, Clone)]
pub struct ProxyControl {
    state: Arc<Mutex<State>>,
    url: String,
    https_url: Option<String>,
    ca: Option<std::path::PathBuf>,
}

impl ProxyControl {
    /// A handle with no rules and an empty log, for a proxy at `url` (and `https_url`, whose
    /// certificate `ca` verifies).
    pub(super) fn new(
        url: String,
        https_url: Option<String>,
        ca: Option<std::path::PathBuf>,
    ) -> Self {
        Self {
            state: Arc::default(),
            url,
            https_url,
            ca,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State inconsistent (plain pushes/updates).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The proxy's URL, `http://127.0.0.1:<port>`, for a kubeconfig's `server`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The TLS side's URL, `https://127.0.0.1:<port>` (same CA as the API server), when the
    /// proxy was started with [`FaultProxy::start`](super::FaultProxy::start).
    pub fn https_url(&self) -> Option<String> {
        self.https_url.clone()
    }

    /// The CA file that verifies the TLS side, when there is one.
    pub fn ca(&self) -> Option<&std::path::Path> {
        self.ca.as_deref()
    }

    /// Writes a kubeconfig for `identity` that goes through this proxy (TLS side when there
    /// is one, so kubectl works too), next to the identity's own as
    /// `<name>.proxy-<port>.kubeconfig`, and returns its path.
    pub fn kubeconfig_for(&self, identity: &Identity) -> Result<std::path::PathBuf> {
        // Named after the port, so two proxies never overwrite each other's files.
        let suffix = |url: &str| format!("proxy-{}", url.rsplit(':').next().unwrap_or_default());
        match (&self.https_url, &self.ca) {
            (Some(url), Some(ca)) => identity.kubeconfig_for_server(url, Some(ca), &suffix(url)),
            _ => identity.kubeconfig_for_server(&self.url, None, &suffix(&self.url)),
        }
    }

    /// Arms a rule; it acts on the next matching requests.
    pub fn arm(&self, rule: Rule) -> RuleId {
        let mut s = self.lock();
        s.next_id += 1;
        let id = RuleId(s.next_id);
        s.rules.push(Armed { id, rule, hits: 0 });
        id
    }

    /// Removes a rule (its hits are forgotten).
    pub fn disarm(&self, id: RuleId) {
        self.lock().rules.retain(|a| a.id != id);
    }

    /// Removes every rule.
    pub fn clear_rules(&self) {
        self.lock().rules.clear();
    }

    /// How many requests rule `id` has acted on (0 if unknown).
    pub fn hits(&self, id: RuleId) -> u64 {
        self.lock()
            .rules
            .iter()
            .find(|a| a.id == id)
            .map_or(0, |a| a.hits)
    }

    /// How many requests any rule has acted on.
    pub fn injected(&self) -> u64 {
        self.lock().rules.iter().map(|a| a.hits).sum()
    }

    /// Every request seen since the last [`Self::clear_log`], in arrival order.
    pub fn log(&self) -> Vec<LoggedRequest> {
        self.lock().log.iter().map(|(_, r)| r.clone()).collect()
    }

    /// The logged requests that may change state (see [`LoggedRequest::is_write`]).
    pub fn writes(&self) -> Vec<LoggedRequest> {
        self.log()
            .into_iter()
            .filter(LoggedRequest::is_write)
            .collect()
    }

    /// Forgets the request log.
    pub fn clear_log(&self) {
        self.lock().log.clear();
    }

    /// Logs a request and picks the action of the first active matching rule.
    pub(super) fn admit(
        &self,
        logged: LoggedRequest,
        info: &RequestInfo,
    ) -> (u64, Option<(RuleId, Action)>) {
        let mut s = self.lock();
        let seq = s.next_seq;
        s.next_seq += 1;
        let hit = s
            .rules
            .iter_mut()
            .find(|a| a.active() && a.rule.matches(info))
            .map(|a| {
                a.hits += 1;
                (a.id, a.rule.action.clone())
            });
        let mut logged = logged;
        logged.rule = hit.as_ref().map(|(id, _)| *id);
        s.log.push((seq, logged));
        (seq, hit)
    }

    pub(super) fn finish(&self, seq: u64, status: Option<u16>) {
        let mut s = self.lock();
        if let Some((_, r)) = s.log.iter_mut().rev().find(|(n, _)| *n == seq) {
            r.status = status;
        }
    }

    fn rules_json(&self) -> serde_json::Value {
        let s = self.lock();
        s.rules
            .iter()
            .map(|a| {
                let remaining = a.rule.times.map(|t| u64::from(t).saturating_sub(a.hits));
                json!({"id": a.id.0, "rule": a.rule, "hits": a.hits, "remaining": remaining})
            })
            .collect()
    }
}

pub(super) fn control_endpoint(
    method: &Method,
    path: &str,
    body: &[u8],
    control: &ProxyControl,
) -> Response<ProxyBody> {
    let what = &path[CONTROL_PREFIX.len()..];
    match (method.as_str(), what) {
        ("GET", "rules") => json_response(StatusCode::OK, &control.rules_json()),
        ("POST", "rules") => match serde_json::from_slice::<Rule>(body) {
            Ok(rule) => json_response(StatusCode::CREATED, &json!({"id": control.arm(rule).0})),
            Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({"error": e.to_string()})),
        },
        ("DELETE", "rules") => {
            control.clear_rules();
            json_response(StatusCode::OK, &json!({}))
        }
        ("GET", "log") => json_response(StatusCode::OK, &json!(control.log())),
        ("DELETE", "log") => {
            control.clear_log();
            json_response(StatusCode::OK, &json!({}))
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": format!("no control endpoint {method} {path}")}),
        ),
    }
}
