//! Configuration: every flag has an environment variable, and nothing is required.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// The Billing Graph gateway: one GraphQL schema over Elastic Cloud billing and Talkdesk usage.
///
/// With no upstream URL it starts the embedded simulator and applies its demo credentials, so a
/// first run needs nothing. Naming any upstream URL (or a Talkdesk account, region or token URL)
/// turns the simulator off. Server-side secrets come from the environment only: ELASTIC_API_KEY,
/// TALKDESK_TOKEN, or TALKDESK_CLIENT_SECRET with --talkdesk-client-id.
#[derive(Parser, Clone)]
#[command(name = "billing-gateway", version, about, long_about = None)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "BILLING_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Elastic Cloud billing v1 base URL, e.g. `https://api.elastic-cloud.com/api/v1`.
    #[arg(long, env = "BILLING_ELASTIC_V1_URL")]
    pub elastic_v1_url: Option<String>,

    /// Elastic Cloud billing v2 base URL, e.g. `https://billing.elastic-cloud.com/api/v2`.
    #[arg(long, env = "BILLING_ELASTIC_V2_URL")]
    pub elastic_v2_url: Option<String>,

    /// Talkdesk base URL, e.g. `https://api.talkdeskapp.com`; by default the region's.
    #[arg(long, env = "BILLING_TALKDESK_URL")]
    pub talkdesk_url: Option<String>,

    /// Talkdesk region: `us` (the default), `eu` or `ca`. Names the API host (unless
    /// --talkdesk-url does) and, with --talkdesk-account, the token endpoint.
    #[arg(long, env = "BILLING_TALKDESK_REGION", value_enum)]
    pub talkdesk_region: Option<TalkdeskRegionArg>,

    /// Talkdesk account (its subdomain): the token endpoint is
    /// `https://{account}.talkdeskid.com/oauth/token` (`.talkdeskid.eu` in EU, `.talkdeskidca.com` in CA).
    #[arg(long, env = "BILLING_TALKDESK_ACCOUNT")]
    pub talkdesk_account: Option<String>,

    /// Talkdesk token endpoint, outright (a proxy, a test); wins over --talkdesk-account.
    #[arg(long, env = "BILLING_TALKDESK_TOKEN_URL")]
    pub talkdesk_token_url: Option<String>,

    /// Talkdesk OAuth client id. With TALKDESK_CLIENT_SECRET the gateway obtains and renews
    /// Talkdesk tokens itself for callers that send no `X-Talkdesk-Authorization`. An id is no
    /// secret (RFC 6749 §2.2), so a flag may carry it; its value is still never shown.
    #[arg(long, env = "TALKDESK_CLIENT_ID", hide_env_values = true)]
    pub talkdesk_client_id: Option<String>,

    /// Talkdesk OAuth client secret. From `TALKDESK_CLIENT_SECRET` only: a flag would show in `ps`.
    #[arg(skip)]
    pub talkdesk_client_secret: Option<String>,

    /// The clock server-side Talkdesk tokens are timed on: the system's, or a test's
    /// [`billing_http::ManualClock`].
    #[arg(skip)]
    pub token_clock: billing_http::Clock,

    /// Force the embedded simulator, even when upstream URLs are set.
    #[arg(long, env = "BILLING_SIM")]
    pub sim: bool,

    /// A fixed "now" (RFC 3339, e.g. `2026-11-20T12:00:00Z`) instead of the system clock's: what
    /// month to date, finality and forecasts are computed from. For demos and tests beside a
    /// simulator on a fixed clock; the embedded simulator is then set to it too.
    #[arg(long, env = "BILLING_NOW")]
    pub now: Option<chrono::DateTime<chrono::Utc>>,

    /// Server-side Elastic credential for callers that send no `Authorization` (`ApiKey …`,
    /// `Bearer …` or a bare key). From `ELASTIC_API_KEY` only: a flag would show in `ps`.
    #[arg(skip)]
    pub elastic_api_key: Option<String>,

    /// Server-side Talkdesk token for callers that send no `X-Talkdesk-Authorization`. From
    /// `TALKDESK_TOKEN` only.
    #[arg(skip)]
    pub talkdesk_token: Option<String>,

    /// Apply ELASTIC_API_KEY/TALKDESK_TOKEN to callers that send none even when listening on a
    /// non-loopback address. Without it the gateway refuses to start that way: anyone who
    /// reaches the address would spend the server's credentials. Set it only behind a proxy
    /// that authenticates callers.
    #[arg(long, env = "BILLING_EXPOSE_SERVER_CREDENTIALS")]
    pub expose_server_credentials: bool,

    /// Response cache TTL for ranges that include the present, in seconds (0 turns the cache off).
    #[arg(long, env = "BILLING_CACHE_TTL_SECS", default_value_t = 60)]
    pub cache_ttl_secs: u64,

    /// Response cache TTL for ranges that ended over a day ago, in seconds.
    #[arg(long, env = "BILLING_CACHE_CLOSED_TTL_SECS", default_value_t = 3600)]
    pub cache_closed_ttl_secs: u64,

    /// Response cache bound, in MiB of JSON.
    #[arg(long, env = "BILLING_CACHE_MAX_MIB", default_value_t = 256)]
    pub cache_max_mib: u64,

    /// Redis shared by the gateway's replicas (`redis://host:6379`): the second level of the
    /// response cache, single flight across replicas and a shared upstream rate budget. Needs
    /// BILLING_CACHE_KEY_SECRET, the same on every replica. Redis down never fails a request.
    #[arg(long, env = "BILLING_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Time for one Redis call, in milliseconds; past it the call is skipped (never the request).
    #[arg(long, env = "BILLING_REDIS_TIMEOUT_MS", default_value_t = 100)]
    pub redis_timeout_ms: u64,

    /// The key credential fingerprints are derived with, which replicas sharing a Redis must
    /// share. From `BILLING_CACHE_KEY_SECRET` only: a flag would show in `ps`. Without it a key
    /// is drawn at start-up.
    #[arg(skip)]
    pub cache_key_secret: Option<String>,

    /// Time for a whole GraphQL request, in seconds.
    #[arg(long, env = "BILLING_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Time for one upstream attempt, in milliseconds.
    #[arg(long, env = "BILLING_UPSTREAM_TIMEOUT_MS", default_value_t = 10_000)]
    pub upstream_timeout_ms: u64,

    /// Upstream attempts per call (1 disables retries).
    #[arg(long, env = "BILLING_UPSTREAM_ATTEMPTS", default_value_t = 3)]
    pub upstream_attempts: u32,

    /// Upstream requests in flight at once, per upstream.
    #[arg(long, env = "BILLING_UPSTREAM_CONCURRENCY", default_value_t = 16)]
    pub upstream_concurrency: usize,

    /// Upstream requests per second, per upstream (0: no client-side rate limit).
    #[arg(long, env = "BILLING_UPSTREAM_RPS", default_value_t = 100)]
    pub upstream_rps: u32,

    /// Upstream requests allowed at once above the steady rate, per upstream (by default one
    /// second's worth: --upstream-rps).
    #[arg(long, env = "BILLING_UPSTREAM_BURST")]
    pub upstream_burst: Option<u32>,

    /// Upstream calls one caller (one credential) may have in flight at once, per upstream,
    /// so a heavy caller leaves room for the others (0: no per-caller share).
    #[arg(long, env = "BILLING_CALLER_UPSTREAM_CONCURRENCY", default_value_t = 8)]
    pub caller_upstream_concurrency: usize,

    /// GraphQL requests per second per caller (0: no limit); past it, 429 with Retry-After.
    #[arg(long, env = "BILLING_CALLER_RPS", default_value_t = 50)]
    pub caller_rps: u32,

    /// Burst of GraphQL requests per caller above the steady rate.
    #[arg(long, env = "BILLING_CALLER_BURST", default_value_t = 100)]
    pub caller_burst: u32,

    /// Upstream calls one GraphQL request may make (cache hits are free).
    #[arg(long, env = "BILLING_UPSTREAM_BUDGET", default_value_t = 200)]
    pub upstream_budget: u32,

    /// Measure and report each request's estimated upstream calls, but do not refuse one whose
    /// estimate is over `--upstream-budget` before it runs (the budget still caps what it calls).
    #[arg(long, env = "BILLING_NO_COST_ENFORCEMENT")]
    pub no_cost_enforcement: bool,

    /// The ISO 4217 currency FOCUS rows bill ECU in.
    #[arg(long, env = "BILLING_ECU_CURRENCY", default_value = "USD")]
    pub ecu_currency: String,

    /// Units of `--ecu-currency` per ECU in FOCUS rows (Elastic prices 1 ECU at 1 USD).
    #[arg(long, env = "BILLING_ECU_RATE", default_value_t = 1.0)]
    pub ecu_rate: f64,

    /// Maximum query depth.
    #[arg(long, env = "BILLING_MAX_DEPTH", default_value_t = 12)]
    pub max_depth: usize,

    /// Maximum query complexity (list fields count 20 items).
    #[arg(long, env = "BILLING_MAX_COMPLEXITY", default_value_t = 20_000)]
    pub max_complexity: usize,

    /// Maximum aliases in a query.
    #[arg(long, env = "BILLING_MAX_ALIASES", default_value_t = 30)]
    pub max_aliases: usize,

    /// Maximum tokens in a query document.
    #[arg(long, env = "BILLING_MAX_TOKENS", default_value_t = 10_000)]
    pub max_tokens: usize,

    /// Maximum nesting of brackets in a query's text, and of selections once its fragments
    /// are expanded.
    #[arg(long, env = "BILLING_MAX_NESTING", default_value_t = 32)]
    pub max_nesting: usize,

    /// Maximum fields in a query once its fragments are expanded (counted without expanding).
    #[arg(long, env = "BILLING_MAX_EXPANDED_FIELDS", default_value_t = 2_000)]
    pub max_expanded_fields: usize,

    /// Maximum request body, in bytes.
    #[arg(long, env = "BILLING_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,

    /// Persisted queries kept for APQ.
    #[arg(long, env = "BILLING_APQ_ENTRIES", default_value_t = 1000)]
    pub apq_entries: u64,

    /// The weight of validated plans kept for repeated documents, in all: one per field, one
    /// per plan and one per 64 bytes of its document and variables (0: every request is
    /// compiled and validated afresh).
    #[arg(long, env = "BILLING_PLAN_CACHE_FIELDS", default_value_t = billing_graphql::SchemaConfig::default().plan_cache_fields)]
    pub plan_cache_fields: u64,

    /// Origins allowed by CORS (comma-separated; none by default).
    #[arg(long, env = "BILLING_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Host names clients may address the gateway by (comma-separated). Empty: on a loopback
    /// address only localhost names, which stops DNS-rebinding pages from reading through a
    /// local gateway with server-side credentials; elsewhere no check.
    #[arg(long, env = "BILLING_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Log format.
    #[arg(long, env = "BILLING_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// OpenTelemetry collector to export traces to, over OTLP/HTTP (protobuf): its base URL,
    /// such as `http://127.0.0.1:4318` (spans go to `/v1/traces` under it). Unset: no span is
    /// exported, and no trace context is read or sent. `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
    /// `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME` and `OTEL_TRACES_SAMPLER*` apply.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// Turn introspection off (for production).
    #[arg(long, env = "BILLING_NO_INTROSPECTION")]
    pub no_introspection: bool,

    /// Do not serve GraphiQL at `/` (for production).
    #[arg(long, env = "BILLING_NO_GRAPHIQL")]
    pub no_graphiql: bool,

    /// Do not serve the cost dashboard at `/dashboard`.
    #[arg(long, env = "BILLING_NO_DASHBOARD")]
    pub no_dashboard: bool,

    /// Run every query on async-graphql's executor (the reference), not the planned one: for
    /// comparing the two. Both answer the same bytes.
    #[arg(long, env = "BILLING_REFERENCE_EXECUTOR")]
    pub reference_executor: bool,

    /// Print the schema SDL and exit.
    #[arg(long)]
    pub print_schema: bool,
}

/// By hand, so the server-side credentials never print (`Gateway`'s `Debug` holds a `Config`).
/// Destructured, so a new field cannot be left out.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Config {
            listen,
            elastic_v1_url,
            elastic_v2_url,
            talkdesk_url,
            talkdesk_region,
            talkdesk_account,
            talkdesk_token_url,
            talkdesk_client_id,
            talkdesk_client_secret,
            token_clock,
            sim,
            now,
            elastic_api_key,
            talkdesk_token,
            expose_server_credentials,
            cache_ttl_secs,
            cache_closed_ttl_secs,
            cache_max_mib,
            redis_url,
            redis_timeout_ms,
            cache_key_secret,
            request_timeout_secs,
            upstream_timeout_ms,
            upstream_attempts,
            upstream_concurrency,
            upstream_rps,
            upstream_burst,
            caller_upstream_concurrency,
            caller_rps,
            caller_burst,
            upstream_budget,
            no_cost_enforcement,
            ecu_currency,
            ecu_rate,
            max_depth,
            max_complexity,
            max_aliases,
            max_tokens,
            max_nesting,
            max_expanded_fields,
            body_limit,
            apq_entries,
            plan_cache_fields,
            cors_origins,
            allowed_hosts,
            log_format,
            otlp_endpoint,
            no_introspection,
            no_graphiql,
            no_dashboard,
            reference_executor,
            print_schema,
        } = self;
        f.debug_struct("Config")
            .field("listen", listen)
            .field("elastic_v1_url", elastic_v1_url)
            .field("elastic_v2_url", elastic_v2_url)
            .field("talkdesk_url", talkdesk_url)
            .field("talkdesk_region", talkdesk_region)
            .field("talkdesk_account", talkdesk_account)
            .field("talkdesk_token_url", talkdesk_token_url)
            .field("talkdesk_client_id", &talkdesk_client_id.as_ref().map(|_| "[REDACTED]"))
            .field("talkdesk_client_secret", &talkdesk_client_secret.as_ref().map(|_| "[REDACTED]"))
            .field("token_clock", token_clock)
            .field("sim", sim)
            .field("now", now)
            .field("elastic_api_key", &elastic_api_key.as_ref().map(|_| "[REDACTED]"))
            .field("talkdesk_token", &talkdesk_token.as_ref().map(|_| "[REDACTED]"))
            .field("expose_server_credentials", expose_server_credentials)
            .field("cache_ttl_secs", cache_ttl_secs)
            .field("cache_closed_ttl_secs", cache_closed_ttl_secs)
            .field("cache_max_mib", cache_max_mib)
            // A Redis URL can hold a password.
            .field("redis_url", &redis_url.as_ref().map(|_| "[REDACTED]"))
            .field("redis_timeout_ms", redis_timeout_ms)
            .field("cache_key_secret", &cache_key_secret.as_ref().map(|_| "[REDACTED]"))
            .field("request_timeout_secs", request_timeout_secs)
            .field("upstream_timeout_ms", upstream_timeout_ms)
            .field("upstream_attempts", upstream_attempts)
            .field("upstream_concurrency", upstream_concurrency)
            .field("upstream_rps", upstream_rps)
            .field("upstream_burst", upstream_burst)
            .field("caller_upstream_concurrency", caller_upstream_concurrency)
            .field("caller_rps", caller_rps)
            .field("caller_burst", caller_burst)
            .field("upstream_budget", upstream_budget)
            .field("no_cost_enforcement", no_cost_enforcement)
            .field("ecu_currency", ecu_currency)
            .field("ecu_rate", ecu_rate)
            .field("max_depth", max_depth)
            .field("max_complexity", max_complexity)
            .field("max_aliases", max_aliases)
            .field("max_tokens", max_tokens)
            .field("max_nesting", max_nesting)
            .field("max_expanded_fields", max_expanded_fields)
            .field("body_limit", body_limit)
            .field("apq_entries", apq_entries)
            .field("plan_cache_fields", plan_cache_fields)
            .field("cors_origins", cors_origins)
            .field("allowed_hosts", allowed_hosts)
            .field("log_format", log_format)
            // A URL with user information could hold a collector's password.
            .field("otlp_endpoint", &otlp_endpoint.as_deref().map(|u| if u.contains('@') { "[REDACTED]" } else { u }))
            .field("no_introspection", no_introspection)
            .field("no_graphiql", no_graphiql)
            .field("no_dashboard", no_dashboard)
            .field("reference_executor", reference_executor)
            .field("print_schema", print_schema)
            .finish()
    }
}

/// A Talkdesk region, as the flag spells it.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TalkdeskRegionArg {
    Us,
    Eu,
    Ca,
}

impl From<TalkdeskRegionArg> for billing_http::TalkdeskRegion {
    fn from(region: TalkdeskRegionArg) -> Self {
        match region {
            TalkdeskRegionArg::Us => billing_http::TalkdeskRegion::Us,
            TalkdeskRegionArg::Eu => billing_http::TalkdeskRegion::Eu,
            TalkdeskRegionArg::Ca => billing_http::TalkdeskRegion::Ca,
        }
    }
}

/// How log lines are written.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// The defaults, as with no flags (environment variables still apply, secrets excepted).
    pub fn defaults() -> Self {
        Config::parse_from(["billing-gateway"])
    }

    /// Flags and environment, with the server-side secrets read from `ELASTIC_API_KEY`,
    /// `TALKDESK_TOKEN`, `TALKDESK_CLIENT_SECRET` and `BILLING_CACHE_KEY_SECRET`.
    pub fn from_env() -> Self {
        let mut config = Config::parse();
        let secret = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        config.elastic_api_key = secret("ELASTIC_API_KEY");
        config.talkdesk_token = secret("TALKDESK_TOKEN");
        config.talkdesk_client_secret = secret("TALKDESK_CLIENT_SECRET");
        config.cache_key_secret = secret("BILLING_CACHE_KEY_SECRET");
        config
    }

    /// Whether the embedded simulator serves the upstreams: when forced, or when nothing names a
    /// real one (an upstream URL, or a Talkdesk region, account or token endpoint).
    pub fn use_sim(&self) -> bool {
        self.sim
            || (self.elastic_v1_url.is_none()
                && self.elastic_v2_url.is_none()
                && self.talkdesk_url.is_none()
                && self.talkdesk_region.is_none()
                && self.talkdesk_account.is_none()
                && self.talkdesk_token_url.is_none())
    }

    /// Whether server-side Talkdesk client credentials are configured (id or secret).
    pub(crate) fn has_talkdesk_client(&self) -> bool {
        self.talkdesk_client_id.is_some() || self.talkdesk_client_secret.is_some()
    }

    /// The host names requests may carry, lowercase; `None` for no check.
    pub(crate) fn host_allow_list(&self) -> Option<Vec<String>> {
        if !self.allowed_hosts.is_empty() {
            return Some(self.allowed_hosts.iter().map(|h| h.trim().to_ascii_lowercase()).collect());
        }
        self.listen
            .ip()
            .is_loopback()
            .then(|| ["localhost", "127.0.0.1", "[::1]"].iter().map(|h| (*h).to_owned()).collect())
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_server_side_credentials() {
        let mut config = Config::defaults();
        config.elastic_api_key = Some("ApiKey secret-elastic-key".to_owned());
        config.talkdesk_token = Some("secret-talkdesk-token".to_owned());
        config.talkdesk_client_id = Some("secret-client-id".to_owned());
        config.talkdesk_client_secret = Some("secret-client-secret".to_owned());
        let debug = format!("{config:?}");
        assert!(!debug.contains("secret-"), "{debug}");
        assert!(debug.contains("elastic_api_key: Some(\"[REDACTED]\")"), "{debug}");
        assert!(debug.contains("body_limit: 1048576"), "{debug}");
    }
}
