//! Request classification: what a request to the API server is (verb, API group, resource,
//! subresource, namespace, name), decided as the API server's RequestInfoFactory does.
//!
//! The verb comes from the method, the path and `?watch` (or the old `/watch/` prefix); the
//! rest from the path; for `create`, the name from the body's `metadata.name`. Discovery and
//! non-resource paths (`/api`, `/readyz`, …) classify as nothing.

use hyper::Method;
use serde::{Deserialize, Serialize};

/// A Kubernetes API verb, as RBAC and audit logs name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    /// GET of one object.
    Get,
    /// GET of a collection.
    List,
    /// GET with `?watch=true` (or the old `/watch/` path prefix).
    Watch,
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH (strategic-merge, merge, JSON or server-side apply).
    Patch,
    /// DELETE of one object.
    Delete,
    /// DELETE of a collection.
    Deletecollection,
}

/// A request classified as the API server's RequestInfoFactory does.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct RequestInfo {
    pub(super) verb: Option<Verb>,
    pub(super) group: String,
    pub(super) resource: Option<String>,
    pub(super) subresource: Option<String>,
    pub(super) namespace: Option<String>,
    pub(super) name: Option<String>,
}

impl RequestInfo {
    pub(super) fn parse(method: &Method, path: &str, query: Option<&str>, body: &[u8]) -> Self {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let (group, mut rest) = match parts.as_slice() {
            ["api", _version, rest @ ..] => (String::new(), rest),
            ["apis", group, _version, rest @ ..] => ((*group).to_owned(), rest),
            _ => return Self::default(),
        };
        if rest.is_empty() {
            return Self::default(); // discovery
        }
        let mut watch = false;
        if rest[0] == "watch" {
            watch = true;
            rest = &rest[1..];
        }
        let mut info = Self {
            group,
            ..Self::default()
        };
        if rest.first() == Some(&"namespaces") && rest.len() > 1 {
            info.namespace = Some(rest[1].to_owned());
            if rest.len() > 2 && !matches!(rest[2], "status" | "finalize") {
                rest = &rest[2..];
            }
        }
        info.resource = rest.first().map(|s| (*s).to_owned());
        info.name = rest.get(1).map(|s| (*s).to_owned());
        info.subresource = rest.get(2).map(|s| (*s).to_owned());
        let watch_query = query.is_some_and(|q| {
            q.split('&')
                .any(|kv| kv == "watch=true" || kv == "watch=1" || kv == "watch")
        });
        info.verb = Some(match *method {
            Method::GET if watch || watch_query => Verb::Watch,
            Method::GET if info.name.is_some() => Verb::Get,
            Method::GET => Verb::List,
            Method::POST => Verb::Create,
            Method::PUT => Verb::Update,
            Method::PATCH => Verb::Patch,
            Method::DELETE if info.name.is_some() => Verb::Delete,
            Method::DELETE => Verb::Deletecollection,
            _ => return Self::default(),
        });
        if info.verb == Some(Verb::Create) && info.name.is_none() {
            info.name = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| {
                    v.pointer("/metadata/name")
                        .and_then(|n| n.as_str())
                        .map(str::to_owned)
                });
        }
        info
    }

    /// `resource` or `resource/subresource`; `None` for non-resource requests.
    pub(super) fn resource_path(&self) -> Option<String> {
        let r = self.resource.as_ref()?;
        Some(match &self.subresource {
            Some(s) => format!("{r}/{s}"),
            None => r.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(method: &Method, path: &str, query: Option<&str>) -> RequestInfo {
        RequestInfo::parse(method, path, query, b"")
    }

    #[test]
    fn classifies_requests_as_kubernetes_does() {
        let i = info(
            &Method::PATCH,
            "/apis/apps/v1/namespaces/a/statefulsets/app",
            None,
        );
        assert_eq!(
            (
                i.verb,
                i.group.as_str(),
                i.resource_path().as_deref(),
                i.namespace.as_deref(),
                i.name.as_deref()
            ),
            (
                Some(Verb::Patch),
                "apps",
                Some("statefulsets"),
                Some("a"),
                Some("app")
            )
        );
        let i = info(
            &Method::GET,
            "/api/v1/namespaces/a/pods",
            Some("watch=true&resourceVersion=1"),
        );
        assert_eq!(
            (i.verb, i.resource.as_deref()),
            (Some(Verb::Watch), Some("pods"))
        );
        assert_eq!(
            info(&Method::GET, "/api/v1/watch/namespaces/a/pods", None).verb,
            Some(Verb::Watch)
        );
        assert_eq!(
            info(&Method::GET, "/api/v1/pods", None).verb,
            Some(Verb::List)
        );
        let i = info(&Method::GET, "/api/v1/namespaces/a", None);
        assert_eq!(
            (i.verb, i.resource.as_deref(), i.name.as_deref()),
            (Some(Verb::Get), Some("namespaces"), Some("a"))
        );
        let i = info(&Method::PUT, "/api/v1/namespaces/a/finalize", None);
        assert_eq!(i.resource_path().as_deref(), Some("namespaces/finalize"));
        let i = info(&Method::POST, "/api/v1/namespaces/a/pods/p/exec", None);
        assert_eq!(
            (i.verb, i.resource_path().as_deref()),
            (Some(Verb::Create), Some("pods/exec"))
        );
        assert_eq!(
            info(&Method::DELETE, "/api/v1/namespaces/a/pods", None).verb,
            Some(Verb::Deletecollection)
        );
        assert_eq!(info(&Method::GET, "/apis", None), RequestInfo::default());
        assert_eq!(info(&Method::GET, "/readyz", None), RequestInfo::default());
        let i = RequestInfo::parse(
            &Method::POST,
            "/api/v1/namespaces/a/configmaps",
            None,
            br#"{"metadata":{"name":"cm"}}"#,
        );
        assert_eq!(i.name.as_deref(), Some("cm"));
    }
}
