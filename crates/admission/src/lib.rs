//! Portcullis gate: the Kubernetes admission webhook.
//!
//! The API server sends an `admission.k8s.io/v1` AdmissionReview for every
//! workload created or updated; this crate answers it over HTTPS with the same
//! decision `portcullis check` and `portcullis scan` would reach under the one
//! policy: pod security level, hardening rules, registry allowlist, digest
//! pinning and the vulnerability verdict of each image.
//!
//! - [`review`]: the AdmissionReview wire format, parsed from hostile bytes.
//! - [`server`]: TLS, routing, limits, timeouts, metrics, graceful shutdown.
//! - [`verdicts`]: image verdicts behind a digest-keyed, single-flight cache
//!   (a tag's index digest and its platform manifest's both hit; a reloaded
//!   vulnerability database drops them).
//! - [`tls`]: the serving certificate, reloaded when its files change (the
//!   vulnerability database is checked on the same period).
//! - [`certs`] and [`manifests`]: what a cluster needs to run the webhook.
//! - [`metrics`]: Prometheus text exposition.

pub mod certs;
pub mod decide;
pub mod manifests;
pub mod metrics;
pub mod namespaces;
pub mod review;
pub mod server;
pub mod tls;
pub mod verdicts;
