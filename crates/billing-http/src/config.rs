//! Transport configuration: timeouts, retries, and per-upstream rate and concurrency limits.

use std::num::NonZeroU32;
use std::time::Duration;

use crate::endpoint::Upstream;
use crate::retry::RetryPolicy;

/// How the transport behaves. `Default` suits production traffic against the real services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportConfig {
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time for one attempt, answer body included. Each attempt also ends by the retry deadline.
    pub request_timeout: Duration,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// Limits per upstream, indexed like [`Upstream::ALL`].
    pub limits: [Limit; 3],
    /// Sent as `User-Agent`.
    pub user_agent: String,
    /// Answers larger than this are refused rather than buffered.
    pub max_response_bytes: usize,
}

/// Client-side limits for one upstream, so a burst from the gateway does not earn 429s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// Steady request rate; `None` for no rate limit.
    pub requests_per_second: Option<NonZeroU32>,
    /// Requests allowed at once above the steady rate.
    pub burst: NonZeroU32,
    /// Requests in flight at once.
    pub max_concurrency: usize,
}

impl Default for Limit {
    fn default() -> Self {
        Limit {
            requests_per_second: NonZeroU32::new(100),
            burst: NonZeroU32::MIN.saturating_add(99),
            max_concurrency: 16,
        }
    }
}

impl Limit {
    /// No rate limit, and this many requests in flight.
    pub fn unlimited(max_concurrency: usize) -> Self {
        Limit { requests_per_second: None, burst: NonZeroU32::MIN, max_concurrency }
    }
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            retry: RetryPolicy::default(),
            limits: [Limit::default(), Limit::default(), Limit::default()],
            user_agent: concat!("billing-graph/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_response_bytes: 64 * 1024 * 1024,
        }
    }
}

impl TransportConfig {
    /// The limit of one upstream.
    pub fn limit(&self, upstream: Upstream) -> &Limit {
        &self.limits[upstream.index()]
    }

    /// Sets the limit of one upstream.
    pub fn with_limit(mut self, upstream: Upstream, limit: Limit) -> Self {
        self.limits[upstream.index()] = limit;
        self
    }

    /// Sets the same limit on every upstream.
    pub fn with_limits(mut self, limit: Limit) -> Self {
        self.limits = [limit.clone(), limit.clone(), limit];
        self
    }
}
