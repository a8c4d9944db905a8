//! Typed clients for the three billing upstreams, ready for production traffic.
//!
//! - [`ElasticBillingV1`]: Elastic Cloud billing v1 (`/api/v1/billing/costs/...`).
//! - [`ElasticBillingV2`]: Elastic Cloud billing v2 (`/api/v2/billing/organizations/...`).
//! - [`TalkdeskBillingInsights`]: Talkdesk monthly usage (`/express/usage/month`), paged.
//!
//! All three share one [`Transport`]: a connection pool, timeouts, retries of transient failures
//! with exponential backoff and full jitter honouring `Retry-After`, and per-upstream rate and
//! concurrency limits. Credentials are passed per call ([`ElasticCredentials`], [`TalkdeskToken`]),
//! so a server can forward each caller's own; they are redacted in `Debug` and `Display` and sent
//! as sensitive headers. Every call is a `tracing` span (`upstream_call`) and feeds `metrics`
//! counters: `billing_upstream_requests_total{upstream,endpoint,status}`,
//! `billing_upstream_retries_total{upstream,endpoint}` and the histogram
//! `billing_upstream_request_duration_seconds{upstream,endpoint}` (sending the request and reading
//! the whole answer, per attempt; decoding it comes after, outside the concurrency slot).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use billing_http::{ElasticBillingV1, ElasticCredentials, Transport, TransportConfig};
//!
//! let transport = Transport::new(TransportConfig::default())?;
//! let v1 = ElasticBillingV1::production(transport);
//! let creds = ElasticCredentials::api_key(std::env::var("ELASTIC_API_KEY")?)?;
//! let costs = v1.deployments(&creds, &"3166899605".into()).send().await?;
//! println!("{} ECU", costs.total_cost);
//! # Ok(()) }
//! ```

mod base_url;
mod config;
mod credentials;
mod elastic;
mod endpoint;
mod error;
mod request;
pub mod retry;
mod talkdesk;
mod transport;

pub use base_url::BaseUrlError;
pub use config::{Limit, TransportConfig};
pub use credentials::{CredentialError, ElasticCredentials, ElasticScheme, TalkdeskToken};
pub use elastic::v1::ElasticBillingV1;
pub use elastic::v2::ElasticBillingV2;
pub use endpoint::{Endpoint, Upstream, endpoints};
pub use error::{Error, ErrorKind};
pub use request::{Request, options};
pub use retry::RetryPolicy;
pub use secrecy::ExposeSecret;
pub use talkdesk::{TalkdeskBillingInsights, UsageRequest};
pub use transport::{Transport, TransportError};
