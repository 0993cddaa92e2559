//! What a failed request reports: [`KubeError`] names the step, [`Failure`] says why; the
//! statuses a refusal calls for ([`KubeError::refusal_status`], [`waiting_for_statefulset`]).

use std::time::Duration;

/// Why a request did not succeed (the source of a step's error).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The server refused the request for good (422 Invalid, 400, ...): not retried.
    #[error("HTTP {code} {reason}: {message}")]
    Rejected {
        /// HTTP status.
        code: u16,
        /// Kubernetes reason (`Invalid`, `BadRequest`, ...).
        reason: String,
        /// The server's message.
        message: String,
    },
    /// Someone else kept changing the object between our read and our write.
    #[error("the object kept changing under us ({attempts} conflicts); Juju will retry the hook")]
    Conflict {
        /// How many writes were refused as stale.
        attempts: u32,
    },
    /// Transient failures (429, 5xx, timeouts, connection errors) lasted past the retry bounds.
    #[error(
        "gave up after {attempts} attempts in {elapsed:?} (last: {last}); Juju will retry the hook"
    )]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed: Duration,
        /// The last failure.
        last: String,
    },
    /// The hook's time budget was already used up before this request.
    #[error("the hook's Kubernetes time budget is used up; Juju will retry the hook")]
    BudgetExhausted,
    /// The answer's body is larger than [`MAX_ANSWER_BYTES`](super::MAX_ANSWER_BYTES); it was
    /// not read further. Not retried: the same request would get the same answer.
    #[error("the server's answer is larger than {limit} bytes")]
    TooLarge {
        /// The bound, in bytes.
        limit: usize,
    },
    /// The answer was not the JSON we expected.
    #[error("cannot decode the server's answer")]
    Decode(#[source] serde_json::Error),
    /// Our request could not be built or encoded.
    #[error("cannot build the request: {0}")]
    Build(String),
}

/// Errors of [`Kube`](super::Kube). The step variants name what we were doing; [`Failure`]
/// says why it failed.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// No in-cluster configuration (`KUBERNETES_SERVICE_HOST`/`PORT` and the pod's
    /// service-account token, CA and namespace), which Juju always gives a charm.
    #[error("cannot configure the Kubernetes client")]
    Configure(#[source] kube::config::InClusterError),
    /// The configuration asks for something a charm is never given: credentials other than a
    /// bearer token (or token file), or skipping TLS verification (see
    /// [`Kube::from_config`](super::Kube::from_config)).
    #[error("unsupported Kubernetes credentials: {0}")]
    Credentials(String),
    /// The configuration's CA could not be used.
    #[error("cannot set up TLS to the Kubernetes API")]
    Tls(#[source] rustls::Error),
    /// The configuration's token file could not be read.
    #[error("cannot read the Kubernetes token file {path}")]
    TokenFile {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The charm lacks a permission: it was deployed without `--trust`.
    #[error(
        "missing Kubernetes permission: cannot {verb} {resource} ({name}); \
         this charm requires --trust: deploy with `juju deploy ... --trust` \
         or run `juju trust {application} --scope=cluster`"
    )]
    Forbidden {
        /// Verb refused (`get`, `patch`, `create`, ...).
        verb: String,
        /// Resource refused, with its API group when not core (`statefulsets.apps`).
        resource: String,
        /// Object name.
        name: String,
        /// The application to trust, from the service account in the server's message
        /// (`<application>` when the message does not name one).
        application: String,
        /// The server's message.
        message: String,
    },
    /// The object does not exist.
    #[error("{resource} {name:?} not found ({step})")]
    NotFound {
        /// What we were doing.
        step: &'static str,
        /// Resource plural.
        resource: String,
        /// Object name.
        name: String,
    },
    /// Reading an object failed.
    #[error("cannot read {resource} {name:?}")]
    GetObject {
        /// Resource plural.
        resource: String,
        /// Object name.
        name: String,
        /// Why.
        #[source]
        source: Failure,
    },
    /// The strategic-merge patch of an object (our StatefulSet) failed.
    #[error("cannot patch {resource} {name:?}")]
    PatchObject {
        /// Resource plural.
        resource: String,
        /// Object name.
        name: String,
        /// Why.
        #[source]
        source: Failure,
    },
    /// The server-side apply of an owned object failed.
    #[error("cannot apply {resource} {name:?}")]
    ApplyObject {
        /// Resource plural.
        resource: String,
        /// Object name.
        name: String,
        /// Why.
        #[source]
        source: Failure,
    },
    /// Deleting an object failed.
    #[error("cannot delete {resource} {name:?}")]
    DeleteObject {
        /// Resource plural.
        resource: String,
        /// Object name.
        name: String,
        /// Why.
        #[source]
        source: Failure,
    },
}

impl KubeError {
    /// True for [`KubeError::Forbidden`] (the charm should go Blocked, not fail the hook).
    pub fn is_forbidden(&self) -> bool {
        matches!(self, Self::Forbidden { .. })
    }

    /// True for [`KubeError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// For [`KubeError::Forbidden`], a short Blocked status message naming the missing
    /// permission (docs/interface.md §6: `... requires --trust`); `None` for every other error.
    pub fn blocked_message(&self) -> Option<String> {
        match self {
            Self::Forbidden {
                verb,
                resource,
                application,
                ..
            } => Some(format!(
                "cannot {verb} {resource}: requires --trust (juju trust {application} --scope=cluster)"
            )),
            _ => None,
        }
    }

    /// The status a refused request calls for, the one mapping every charm uses: a 403 is
    /// Blocked naming the permission ([`Self::blocked_message`]); a 404 of a write to our own
    /// StatefulSet (`statefulset`: its name, when the request was about it) is Waiting for it
    /// ([`waiting_for_statefulset`]). `None` for every other error: the hook fails and Juju
    /// retries it.
    pub fn refusal_status(&self, statefulset: Option<&str>) -> Option<crate::Status> {
        if let Some(message) = self.blocked_message() {
            return Some(crate::Status::blocked(message));
        }
        match statefulset {
            Some(name) if self.is_not_found() => Some(waiting_for_statefulset(name)),
            _ => None,
        }
    }
}

/// Waiting while the application's StatefulSet (Juju's, named after the application) is
/// absent: Juju creates it, and the next hook finds it.
pub fn waiting_for_statefulset(name: &str) -> crate::Status {
    crate::Status::waiting(format!("Waiting for StatefulSet {name}"))
}

/// [`KubeError::NotFound`] for `resource` `name` while doing `step`.
pub(super) fn not_found(step: &'static str, resource: &str, name: &str) -> KubeError {
    KubeError::NotFound {
        step,
        resource: resource.to_owned(),
        name: name.to_owned(),
    }
}

/// Builds [`KubeError::Forbidden`] from the server's message, e.g.
/// `statefulsets.apps "app" is forbidden: User "system:serviceaccount:demo:app" cannot patch
/// resource "statefulsets" in API group "apps" in the namespace "demo"`. `verb` and
/// `resource` (what we asked for) stand in when the message does not name them.
pub(super) fn forbidden(verb: &str, resource: &str, name: &str, message: String) -> KubeError {
    let parsed = parse_forbidden(&message);
    let (verb, resource) = parsed.map_or_else(
        || (verb.to_owned(), resource.to_owned()),
        |(verb, resource, group)| {
            let resource = if group.is_empty() {
                resource
            } else {
                format!("{resource}.{group}")
            };
            (verb, resource)
        },
    );
    let application = quoted_after(&message, "User \"system:serviceaccount:")
        .and_then(|sa| sa.rsplit(':').next().map(str::to_owned))
        .unwrap_or_else(|| "<application>".to_owned());
    KubeError::Forbidden {
        verb,
        resource,
        name: name.to_owned(),
        application,
        message,
    }
}

/// `(verb, resource, group)` from `... cannot <verb> resource "<r>" in API group "<g>" ...`.
fn parse_forbidden(message: &str) -> Option<(String, String, String)> {
    let rest = &message[message.find(" cannot ")? + " cannot ".len()..];
    let (verb, rest) = rest.split_once(" resource \"")?;
    let (resource, rest) = rest.split_once('"')?;
    let group = quoted_after(rest, " in API group \"").unwrap_or_default();
    Some((verb.trim().to_owned(), resource.to_owned(), group))
}

/// The text between `prefix` and the next `"`.
fn quoted_after(text: &str, prefix: &str) -> Option<String> {
    let start = text.find(prefix)? + prefix.len();
    let rest = &text[start..];
    Some(rest[..rest.find('"')?].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_message_names_the_permission_and_app() {
        let message = "statefulsets.apps \"app\" is forbidden: User \"system:serviceaccount:demo:qbt\" cannot patch resource \"statefulsets\" in API group \"apps\" in the namespace \"demo\"";
        let error = forbidden("patch", "statefulsets.apps", "app", message.into());
        let text = error.to_string();
        assert!(text.contains("cannot patch statefulsets.apps"), "{text}");
        assert!(text.contains("--trust"), "{text}");
        assert!(text.contains("juju trust qbt --scope=cluster"), "{text}");
        assert_eq!(
            error.blocked_message().as_deref(),
            Some(
                "cannot patch statefulsets.apps: requires --trust (juju trust qbt --scope=cluster)"
            )
        );
        let core = "configmaps \"x\" is forbidden: User \"u\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"demo\"";
        assert_eq!(
            parse_forbidden(core),
            Some(("create".into(), "configmaps".into(), String::new()))
        );
    }
}
