//! [`FaultProxy`]: a loopback HTTP proxy in front of the API server that injects faults.
//!
//! It listens on plain HTTP at `http://127.0.0.1:<free port>` (point a kubeconfig's `server`
//! at [`FaultProxy::url`]; bearer tokens over loopback are fine) and forwards every request
//! to the API server over TLS, streaming answers (watches work; exec/port-forward upgrades do
//! not). Each request is classified as Kubernetes does (verb from method, path and `?watch`;
//! resource, subresource, namespace, name from the path; for `create` the name from the body)
//! and checked against the armed [`Rule`]s in arming order: the first active match applies its
//! [`Action`] (a Kubernetes-shaped `Status` answer, a delay then forward, or a dropped
//! connection) and counts one hit. Every request is logged ([`LoggedRequest`]) in arrival order.
//!
//! It runs on its own thread with its own current-thread runtime, so it can be embedded in any
//! process; its controls are `&self` and thread-safe ([`ProxyControl`] is a cloneable handle).
//! Other processes control it over HTTP on its ports (both sides; loopback only):
//! - `POST /_testbed/faultproxy/rules` with a [`Rule`] as JSON → `{"id": N}`
//! - `GET /_testbed/faultproxy/rules` → `[{"id", "rule", "hits", "remaining"}]`
//! - `DELETE /_testbed/faultproxy/rules` → clears the rules
//! - `GET /_testbed/faultproxy/log`, `DELETE /_testbed/faultproxy/log` → the request log
//!
//! Rule JSON example: `{"verb":"patch","resource":"statefulsets","name":"app",
//! "action":{"status":{"code":409}},"times":1}`; other actions: `{"delay":{"millis":500}}`,
//! `"drop"`.

mod control;
mod forward;
mod request;
mod rules;

pub use control::{LoggedRequest, ProxyControl};
pub use forward::FaultProxy;
pub use request::Verb;
pub use rules::{Action, Rule, RuleId};
