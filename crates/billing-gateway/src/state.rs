//! What every handler shares: the schema, the persisted-query store, default credentials.

use std::sync::Arc;

use axum::http::HeaderMap;
use billing_graphql::{BillingGraph, Credentials};
use billing_http::TalkdeskTokenSource;

/// The header a caller's Talkdesk token arrives in (sent upstream as `Authorization`).
pub const TALKDESK_AUTHORIZATION: &str = "x-talkdesk-authorization";

/// Limits the HTTP layer enforces itself.
#[derive(Debug, Clone)]
pub(crate) struct HttpLimits {
    pub(crate) body_limit: usize,
}

/// Server-side credentials for callers that send none. Never logged: `Debug` redacts them.
#[derive(Clone, Default)]
pub(crate) struct DefaultCredentials {
    pub(crate) elastic: Option<String>,
    pub(crate) talkdesk: Option<String>,
    /// Talkdesk tokens from the server's OAuth client credentials, renewed as they expire. Set
    /// only when `talkdesk` is not.
    pub(crate) talkdesk_source: Option<TalkdeskTokenSource>,
}

impl std::fmt::Debug for DefaultCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefaultCredentials")
            .field("elastic", &self.elastic.as_ref().map(|_| "[REDACTED]"))
            .field("talkdesk", &self.talkdesk.as_ref().map(|_| "[REDACTED]"))
            .field("talkdesk_source", &self.talkdesk_source.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// The state of the server.
#[derive(Clone, Debug)]
pub struct AppState {
    pub(crate) graph: BillingGraph,
    pub(crate) apq: moka::sync::Cache<String, Arc<str>>,
    pub(crate) defaults: DefaultCredentials,
    pub(crate) http: HttpLimits,
    pub(crate) readiness: Arc<Vec<(&'static str, String)>>,
    /// Each caller's request rate.
    pub(crate) callers: Arc<crate::caller_limit::CallerLimiter>,
    /// Origins allowed by CORS, which may also send `GET` queries cross-site.
    pub(crate) allowed_origins: Arc<[String]>,
    pub(crate) metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl AppState {
    /// The caller's credentials: `Authorization` for Elastic, `X-Talkdesk-Authorization` for
    /// Talkdesk, each falling back to the server's default when absent (for Talkdesk, a fixed
    /// token or the server's token source). A caller's own header always wins.
    pub(crate) fn credentials(&self, headers: &HeaderMap) -> Credentials {
        let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or(""));
        let elastic = header(axum::http::header::AUTHORIZATION.as_str()).or(self.defaults.elastic.as_deref());
        let credentials = Credentials::none().with_elastic_header(elastic);
        match (header(TALKDESK_AUTHORIZATION), &self.defaults.talkdesk_source) {
            (None, Some(source)) => credentials.with_talkdesk(source),
            (sent, _) => credentials.with_talkdesk_header(sent.or(self.defaults.talkdesk.as_deref())),
        }
    }
}
