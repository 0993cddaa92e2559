//! Retries inside the hook's budget: the bounds ([`RetryPolicy`]), the deadline all requests
//! share ([`Budget`]), what an answer calls for (final, stale, retry after a wait) and the
//! loop that sends a request until it succeeds, fails for good or runs out of attempts or
//! time. It knows nothing of the connection: the client hands it a function sending one copy.

use std::time::{Duration, Instant};

use hyper::http;
use kube::core::Status;

use super::error::{Failure, KubeError, forbidden, not_found};

/// Timeouts and retry bounds. The hook's total budget is given to
/// [`Kube::connect`](super::Kube::connect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Deadline of one HTTP request (connect, send, full answer).
    pub request_timeout: Duration,
    /// First backoff after a transient failure; doubles on each further one.
    pub first_backoff: Duration,
    /// Upper bound of one backoff.
    pub max_backoff: Duration,
    /// Upper bound on a server's `Retry-After`.
    pub max_retry_after: Duration,
    /// Attempts per request before giving up on transient failures.
    pub max_attempts: u32,
    /// Re-reads after 409 Conflict (someone else wrote in between) before giving up.
    pub max_conflicts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(5),
            max_attempts: 6,
            max_conflicts: 5,
        }
    }
}

/// The hook's time budget: the deadline all its requests, retries included, share.
#[derive(Debug, Clone, Copy)]
pub(super) struct Budget {
    deadline: Instant,
}

impl Budget {
    /// `total` from now.
    pub(super) fn new(total: Duration) -> Self {
        Self {
            deadline: Instant::now() + total,
        }
    }

    /// Time left.
    pub(super) fn remaining(self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// The step being executed, for errors and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    Get,
    Patch,
    Apply,
    Delete,
}

impl Step {
    pub(super) fn verb(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Patch | Self::Apply => "patch",
            Self::Delete => "delete",
        }
    }

    /// The error of this step on `resource` `name`, failed for `source`.
    pub(super) fn error(self, resource: &str, name: &str, source: Failure) -> KubeError {
        let (resource, name) = (resource.to_owned(), name.to_owned());
        match self {
            Self::Get => KubeError::GetObject {
                resource,
                name,
                source,
            },
            Self::Patch => KubeError::PatchObject {
                resource,
                name,
                source,
            },
            Self::Apply => KubeError::ApplyObject {
                resource,
                name,
                source,
            },
            Self::Delete => KubeError::DeleteObject {
                resource,
                name,
                source,
            },
        }
    }
}

/// Where an object lives: its collection URL and names for errors.
pub(super) struct Target<'a> {
    pub(super) url_path: String,
    pub(super) resource: String,
    pub(super) name: &'a str,
}

impl Target<'_> {
    /// `step`'s error on this object, failed for `source`.
    pub(super) fn error(&self, step: Step, source: Failure) -> KubeError {
        step.error(&self.resource, self.name, source)
    }
}

/// Why one attempt failed.
pub(super) enum AttemptError {
    /// Retry after (at least) this long.
    Transient {
        wait: Option<Duration>,
        what: String,
    },
    /// The write was stale (409, or 422 about resourceVersion): re-read and re-plan.
    Stale(String),
    /// Final.
    Final(KubeError),
}

impl AttemptError {
    /// The error `step` on `target` ends with. Only the StatefulSet patch re-plans on a stale
    /// write; elsewhere it is a plain conflict.
    pub(super) fn finish(self, step: Step, target: &Target<'_>) -> KubeError {
        match self {
            Self::Final(e) => e,
            Self::Stale(what) => target.error(
                step,
                Failure::Rejected {
                    code: 409,
                    reason: "Conflict".into(),
                    message: what,
                },
            ),
            Self::Transient { what, .. } => target.error(
                step,
                Failure::GaveUp {
                    attempts: 0,
                    elapsed: Duration::ZERO,
                    last: what,
                },
            ),
        }
    }
}

/// A whole answer: status and headers, body.
pub(super) type Answer = (http::response::Parts, Vec<u8>);

/// Why one exchange produced no [`Answer`].
#[derive(Debug)]
pub(super) enum SendError {
    /// Connection refused or dropped, TLS, a broken body (its description): retried.
    Transport(String),
    /// The answer's body passed `limit` bytes and was not read further: final (the same
    /// request would be answered the same way).
    TooLarge {
        /// The bound, in bytes.
        limit: usize,
    },
}

/// Sends `request` with `send` (one copy per attempt), retrying transient failures with
/// backoff within `budget`. Returns the body of a 2xx answer. `send` fails with a
/// [`SendError`]: every transport failure is retried, and the last one is named when we give
/// up; an answer too large to read is [`Failure::TooLarge`] at once.
pub(super) async fn send_with_retries<F, Fut>(
    policy: &RetryPolicy,
    budget: Budget,
    step: Step,
    target: &Target<'_>,
    request: &http::Request<Vec<u8>>,
    mut send: F,
) -> Result<Vec<u8>, AttemptError>
where
    F: FnMut(http::Request<Vec<u8>>) -> Fut,
    Fut: Future<Output = Result<Answer, SendError>>,
{
    let started = Instant::now();
    let mut backoff = policy.first_backoff;
    let mut attempts = 0;
    loop {
        let remaining = budget.remaining();
        if remaining.is_zero() {
            return Err(AttemptError::Final(
                target.error(step, Failure::BudgetExhausted),
            ));
        }
        attempts += 1;
        tracing::debug!(method = %request.method(), uri = %request.uri(), attempt = attempts,
            "Kubernetes request");
        let timeout = policy.request_timeout.min(remaining);
        let failure = match tokio::time::timeout(timeout, send(clone_request(request))).await {
            Err(_) => (None, format!("no answer within {timeout:?}")),
            Ok(Err(SendError::Transport(what))) => (None, what),
            Ok(Err(SendError::TooLarge { limit })) => {
                return Err(AttemptError::Final(
                    target.error(step, Failure::TooLarge { limit }),
                ));
            }
            Ok(Ok((parts, body))) => match classify(step, target, &parts, body) {
                Ok(body) => return Ok(body),
                Err(AttemptError::Transient { wait, what }) => (wait, what),
                Err(other) => return Err(other),
            },
        };
        let (server_wait, what) = failure;
        let wait = server_wait.map_or(backoff, |w| w.min(policy.max_retry_after));
        backoff = (backoff * 2).min(policy.max_backoff);
        tracing::debug!(%what, attempt = attempts, ?wait, "transient Kubernetes failure");
        if attempts >= policy.max_attempts || wait >= budget.remaining() {
            return Err(AttemptError::Final(target.error(
                step,
                Failure::GaveUp {
                    attempts,
                    elapsed: started.elapsed(),
                    last: what,
                },
            )));
        }
        tokio::time::sleep(wait).await;
    }
}

/// What an answer calls for: its body (2xx); 403 Forbidden and 404 Not Found, final; a stale
/// patch (409, or 422 about resourceVersion), re-planned; 429 and 5xx, retried (after the
/// server's `Retry-After`, if any); any other refusal, final with the server's message.
fn classify(
    step: Step,
    target: &Target<'_>,
    parts: &http::response::Parts,
    body: Vec<u8>,
) -> Result<Vec<u8>, AttemptError> {
    let code = parts.status.as_u16();
    if parts.status.is_success() {
        return Ok(body);
    }
    let status: Option<Status> = serde_json::from_slice(&body).ok();
    let message = status.as_ref().map_or_else(
        || String::from_utf8_lossy(&body).trim().to_owned(),
        |s| s.message.clone(),
    );
    let reason = status
        .as_ref()
        .map(|s| s.reason.clone())
        .unwrap_or_default();
    tracing::debug!(code, %reason, %message, "Kubernetes error answer");
    Err(match code {
        403 => AttemptError::Final(forbidden(
            step.verb(),
            &target.resource,
            target.name,
            message,
        )),
        404 => AttemptError::Final(not_found(step.verb(), &target.resource, target.name)),
        409 if step == Step::Patch => AttemptError::Stale(message),
        422 if step == Step::Patch && message.contains("resourceVersion") => {
            AttemptError::Stale(message)
        }
        429 => AttemptError::Transient {
            wait: retry_after(&parts.headers, status.as_ref()),
            what: format!("HTTP 429 {message}"),
        },
        500..=599 => AttemptError::Transient {
            wait: retry_after(&parts.headers, status.as_ref()),
            what: format!("HTTP {code} {message}"),
        },
        _ => AttemptError::Final(target.error(
            step,
            Failure::Rejected {
                code,
                reason,
                message,
            },
        )),
    })
}

fn clone_request(request: &http::Request<Vec<u8>>) -> http::Request<Vec<u8>> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    copy
}

fn retry_after(headers: &http::HeaderMap, status: Option<&Status>) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or_else(|| {
            status
                .and_then(|s| s.details.as_ref())
                .map(|d| u64::from(d.retry_after_seconds))
                .filter(|&s| s > 0)
        })
        .map(Duration::from_secs)
}
