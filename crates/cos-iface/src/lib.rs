//! The Canonical Observability Stack relations the charmarr charms take part in, as the
//! charm libraries of the reference charms write and read them: the databag values and the
//! Pebble layer, checked and written byte for byte as the Python libraries do. Pure: no I/O.
//! The contract is docs/observability.md; the decisions docs/adr/0037.
//!
//! - [`prometheus`]: `metrics-endpoint` (`prometheus_scrape`, provided): scrape jobs, topology,
//!   alert rules, the unit's address.
//! - [`grafana`]: `grafana-dashboard` (`grafana_dashboard`, provided): the dashboards envelope;
//!   dashboards are prepared at build time (feature `prepare`).
//! - [`loki`]: `logging` (`loki_push_api`, required): the provider's push URL, the Pebble log
//!   targets.
//! - [`tracing`]: `charm-tracing` (`tracing`, required): the protocols asked for, the receivers
//!   published.
//! - [`topology`], [`url`], [`pyjson`], [`error`]: shared pieces.
//!
//! Every value read from a relation is untrusted: readers are total (a value or an
//! [`InvalidField`] naming the field, never a panic) and stricter than the libraries.
//!
//! ```
//! use cos_iface::{prometheus, loki, topology::{ModelUuid, Topology, UnitName}, AppName, Namespace};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let app = AppName::parse("gluetun")?;
//! let topology = Topology {
//!     model: Namespace::parse("charmarr")?,
//!     model_uuid: ModelUuid::parse("4f1a7c2e-9b3d-4e8a-a6c1-2d5e7f9b0c3a")?,
//!     unit: UnitName::of(&app, 0),
//!     application: app,
//!     charm_name: AppName::parse("gluetun-k8s")?,
//! };
//! assert_eq!(
//!     prometheus::scrape_jobs_json(&[prometheus::ScrapeJob::metrics(8001)]),
//!     r#"[{"metrics_path": "/metrics", "static_configs": [{"targets": ["*:8001"]}]}]"#
//! );
//! let url = loki::endpoint_from_databag(
//!     r#"{"url": "http://loki-0.loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push"}"#,
//! )?;
//! assert_eq!(url.url().port(), Some(3100));
//! assert!(loki::endpoint_from_databag(r#"{"url": "javascript:alert(1)"}"#).is_err());
//! # let _ = topology;
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod grafana;
mod json;
pub mod loki;
pub mod prometheus;
pub mod pyjson;
pub mod topology;
pub mod tracing;
pub mod url;

pub use error::{InvalidField, Problem};
pub use json::{ConsumerEvent, MAX_VALUE_BYTES};
pub use vpn_gateway_iface::{AppName, Namespace};
