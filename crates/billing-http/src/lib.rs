//! Typed clients for the three billing upstreams, ready for production traffic.
//!
//! - [`ElasticBillingV1`]: Elastic Cloud billing v1 (`/api/v1/billing/costs/...`).
//! - [`ElasticBillingV2`]: Elastic Cloud billing v2 (`/api/v2/billing/organizations/...`).
//! - [`TalkdeskBillingInsights`]: Talkdesk monthly usage (`/express/usage/month`), paged.
//!
//! All three share one [`Transport`]: a connection pool, timeouts, retries of transient failures
//! with exponential backoff and full jitter honouring `Retry-After`, and per-upstream rate and
//! concurrency limits. Credentials are passed per call ([`ElasticCredentials`], [`TalkdeskToken`],
//! or a [`TalkdeskTokenSource`] that obtains and renews Talkdesk tokens with OAuth client
//! credentials), so a server can forward each caller's own; they are redacted in `Debug` and
//! `Display` and sent as sensitive headers. Every attempt is a `tracing` span (`upstream_call`: upstream, endpoint
//! template, attempt, status, bytes; never a URL) and feeds `metrics`:
//! `billing_upstream_requests_total{upstream,endpoint,status}`,
//! `billing_upstream_retries_total{upstream,endpoint,cause}`,
//! `billing_upstream_retry_wait_seconds{upstream,endpoint,cause}` (the wait decided before each
//! retry, [`RETRY_WAIT_SECONDS`]),
//! `billing_upstream_rate_limit_waits_total{upstream}` and the histogram
//! `billing_upstream_request_duration_seconds{upstream,endpoint,status}` (sending the request and
//! reading the whole answer, per attempt; decoding it comes after, outside the concurrency slot).
//! [`Transport::with_injector`] lets a server add headers to every upstream request, such as its
//! W3C trace context; without one, nothing is added.
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
mod clock;
mod config;
mod credentials;
mod deadline;
mod elastic;
mod endpoint;
mod error;
mod request;
pub mod retry;
mod talkdesk;
mod transport;

pub use base_url::BaseUrlError;
pub use clock::{Clock, ManualClock};
pub use config::{Limit, TransportConfig};
pub use credentials::{
    CredentialError, ElasticCredentials, ElasticScheme, TalkdeskAuth, TalkdeskClientCredentials, TalkdeskToken,
};
pub use deadline::with_deadline;
pub use elastic::v1::ElasticBillingV1;
pub use elastic::v2::ElasticBillingV2;
pub use endpoint::{Endpoint, Upstream, endpoints};
pub use error::{Error, ErrorKind};
pub use request::{Request, options};
pub use retry::RetryPolicy;
pub use secrecy::ExposeSecret;
pub use talkdesk::{
    TalkdeskBillingInsights, TalkdeskRegion, TalkdeskTokenSource, TokenSourceOptions, UnknownRegion, UsageRequest,
};
pub use transport::{InjectHeaders, RETRY_WAIT_SECONDS, SharedLimit, Transport, TransportError};
