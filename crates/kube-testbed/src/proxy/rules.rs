//! Fault rules: what to fault ([`Rule`]'s filters), what to do ([`Action`]), how often
//! (`times`), and how an armed rule matches a classified request and counts its hits.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::request::{RequestInfo, Verb};

/// What a matching rule does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Answer with this HTTP status and the `Status` body the real server would send
    /// (409 Conflict or AlreadyExists for create, 429 with `Retry-After: 1`, 500 InternalError,
    /// 403 Forbidden, 404 NotFound, 422 Invalid, 503, 504, …). The request is not forwarded.
    Status {
        /// The HTTP status code.
        code: u16,
    },
    /// Wait, then forward the request.
    Delay {
        /// How long to wait, in milliseconds.
        millis: u64,
    },
    /// Close the connection without answering. The request is not forwarded.
    Drop,
}

impl Action {
    /// [`Action::Status`] with `code`.
    pub fn status(code: u16) -> Self {
        Self::Status { code }
    }

    /// [`Action::Delay`] of `d`.
    pub fn delay(d: Duration) -> Self {
        Self::Delay {
            millis: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// Which requests to fault, what to do, and how often. Unset filters match anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// The verb, e.g. [`Verb::Patch`].
    #[serde(default)]
    pub verb: Option<Verb>,
    /// The resource's plural name (`statefulsets`), or `resource/subresource` (`pods/exec`).
    #[serde(default)]
    pub resource: Option<String>,
    /// The namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The object's name.
    #[serde(default)]
    pub name: Option<String>,
    /// What to do.
    pub action: Action,
    /// For how many matching requests; `None` = all of them.
    #[serde(default)]
    pub times: Option<u32>,
}

impl Rule {
    /// A rule that applies `action` to every request (narrow it with the builder methods).
    pub fn new(action: Action) -> Self {
        Self {
            verb: None,
            resource: None,
            namespace: None,
            name: None,
            action,
            times: None,
        }
    }

    /// Only requests with this verb.
    #[must_use]
    pub fn verb(mut self, verb: Verb) -> Self {
        self.verb = Some(verb);
        self
    }

    /// Only requests for this resource (plural, or `resource/subresource`).
    #[must_use]
    pub fn resource(mut self, resource: &str) -> Self {
        self.resource = Some(resource.to_owned());
        self
    }

    /// Only requests in this namespace.
    #[must_use]
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_owned());
        self
    }

    /// Only requests for the object with this name.
    #[must_use]
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// Only for the next `n` matching requests.
    #[must_use]
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    pub(super) fn matches(&self, info: &RequestInfo) -> bool {
        let Some(resource) = info.resource_path() else {
            return false; // discovery, /readyz, ...: never faulted
        };
        self.verb.is_none_or(|v| Some(v) == info.verb)
            && self.resource.as_deref().is_none_or(|r| r == resource)
            && self
                .namespace
                .as_deref()
                .is_none_or(|n| Some(n) == info.namespace.as_deref())
            && self
                .name
                .as_deref()
                .is_none_or(|n| Some(n) == info.name.as_deref())
    }
}

/// The id of an armed rule, for [`ProxyControl::hits`](super::ProxyControl::hits) and
/// [`ProxyControl::disarm`](super::ProxyControl::disarm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RuleId(pub u64);

#[derive(Debug)]
pub(super) struct Armed {
    pub(super) id: RuleId,
    pub(super) rule: Rule,
    pub(super) hits: u64,
}

impl Armed {
    pub(super) fn active(&self) -> bool {
        self.rule.times.is_none_or(|t| self.hits < u64::from(t))
    }
}

#[cfg(test)]
mod tests {
    use hyper::Method;

    use super::*;

    fn info(method: &Method, path: &str, query: Option<&str>) -> RequestInfo {
        RequestInfo::parse(method, path, query, b"")
    }

    #[test]
    fn rule_filters_and_times() {
        let i = info(
            &Method::PATCH,
            "/apis/apps/v1/namespaces/a/statefulsets/app",
            None,
        );
        let rule = Rule::new(Action::Drop)
            .verb(Verb::Patch)
            .resource("statefulsets");
        assert!(rule.matches(&i));
        assert!(!rule.clone().name("other").matches(&i));
        assert!(!rule.clone().namespace("b").matches(&i));
        assert!(!Rule::new(Action::Drop).verb(Verb::Get).matches(&i));
        assert!(!Rule::new(Action::Drop).matches(&info(&Method::GET, "/readyz", None)));
        let json = serde_json::to_string(&rule.times(1)).unwrap_or_default();
        assert_eq!(
            serde_json::from_str::<Rule>(
                r#"{"verb":"patch","resource":"statefulsets","action":"drop","times":1}"#
            )
            .ok(),
            serde_json::from_str::<Rule>(&json).ok()
        );
    }
}
