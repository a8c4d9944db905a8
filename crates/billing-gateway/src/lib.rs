//! The Billing Graph server: GraphQL over HTTP, GraphiQL, health, metrics, and the embedded
//! simulator when no upstream is configured. It holds no business logic: the schema is
//! `billing-graphql`'s, the clients `billing-http`'s.

pub mod allocator;
mod assets;
mod caller_limit;
mod config;
mod csrf;
mod export;
mod graphql_http;
mod state;
pub mod telemetry;
mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use billing_graphql::{
    BillingGraph, CacheConfig, Fingerprinter, Limits, SchemaConfig, Shared, SharedConfig, Upstreams,
};
use billing_http::{
    ElasticBillingV1, ElasticBillingV2, Limit, RetryPolicy, TalkdeskBillingInsights, TalkdeskClientCredentials,
    TalkdeskRegion, TalkdeskTokenSource, TokenSourceOptions, Transport, TransportConfig, Upstream,
};
use billing_sim::{SimConfig, SimHandle};
use serde_json::json;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use config::{Config, LogFormat, TalkdeskRegionArg};
pub use state::{AppState, TALKDESK_AUTHORIZATION};

use state::{DefaultCredentials, HttpLimits};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid {0} url")]
    BaseUrl(&'static str, #[source] billing_http::BaseUrlError),
    #[error("could not build the http transport")]
    Transport(#[from] billing_http::TransportError),
    #[error("could not start the embedded simulator")]
    Sim(#[source] std::io::Error),
    #[error(
        "refusing to start: {0} would be used for every caller that sends no credential of its own, and {1} is \
         not a loopback address, so anyone who reaches it could spend them. Listen on 127.0.0.1, unset them \
         (callers then send their own), or, behind a proxy that authenticates callers, set \
         --expose-server-credentials (BILLING_EXPOSE_SERVER_CREDENTIALS=true)"
    )]
    ExposedCredentials(String, std::net::SocketAddr),
    #[error("invalid talkdesk configuration: {0}")]
    Talkdesk(&'static str),
    #[error("invalid --ecu-currency or --ecu-rate")]
    Ecu(#[source] billing_insights::focus::ConversionError),
    #[error("invalid talkdesk client credentials")]
    TalkdeskClient(#[source] billing_http::CredentialError),
    #[error(
        "refusing to start: --redis-url (BILLING_REDIS_URL) is set but BILLING_CACHE_KEY_SECRET is not. Replicas \
         sharing a Redis must derive credential fingerprints from the same secret, or none can read another's \
         entries; set BILLING_CACHE_KEY_SECRET to the same long random value on every replica"
    )]
    MissingCacheKeySecret,
    #[error("invalid redis configuration")]
    Redis(#[source] billing_graphql::SharedError),
}

/// What a person needs to try the demo: printed in the banner.
#[derive(Debug, Clone)]
pub struct Demo {
    /// An organization with deployments.
    pub organization_id: String,
    /// The simulator's base URL.
    pub simulator_url: String,
}

/// A configured gateway, ready to serve.
#[derive(Debug)]
pub struct Gateway {
    state: AppState,
    config: Config,
    sim: Option<SimHandle>,
    demo: Option<Demo>,
    /// GraphiQL and the dashboard, unless both are off.
    web: Option<web::Web>,
}

impl Gateway {
    /// Builds the gateway, starting the embedded simulator when no upstream is configured.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        // With traces on, each upstream request carries its attempt's W3C trace context.
        let propagate = telemetry::traces_url(&config)
            .map(|_| Arc::new(telemetry::PropagateTraceContext) as Arc<dyn billing_http::InjectHeaders>);
        let fingerprinter = match &config.cache_key_secret {
            Some(secret) => Fingerprinter::from_secret(secret),
            None => Fingerprinter::default(),
        };
        let shared = match &config.redis_url {
            None => None,
            Some(_) if config.cache_key_secret.is_none() => return Err(StartError::MissingCacheKeySecret),
            Some(url) => {
                let shared_config = SharedConfig {
                    timeout: Duration::from_millis(config.redis_timeout_ms.max(1)),
                    ..SharedConfig::new(url.clone())
                };
                Some(Shared::connect(shared_config, fingerprinter.clone()).map_err(StartError::Redis)?)
            }
        };
        let limit = shared.clone().map(|s| Arc::new(s) as Arc<dyn billing_http::SharedLimit>);
        let transport = Transport::with_parts(transport_config(&config), propagate, limit)?;
        let (urls, sim, mut defaults) = if config.use_sim() {
            let sim = billing_sim::spawn(SimConfig { now: config.now, ..SimConfig::default() })
                .await
                .map_err(StartError::Sim)?;
            let creds = sim.dataset().credentials().clone();
            // The demo's Talkdesk credential is the simulator's OAuth client, so the token flow,
            // renewals included, runs in the demo as it does against Talkdesk.
            let source = sim
                .talkdesk_clients()
                .first()
                .map(|c| {
                    let client =
                        TalkdeskClientCredentials::new(&c.id, &c.secret).map_err(StartError::TalkdeskClient)?;
                    token_source(&config, &transport, &sim.talkdesk_token_url(), client)
                })
                .transpose()?;
            let defaults = DefaultCredentials {
                elastic: Some(format!("ApiKey {}", creds.elastic_demo_key)),
                talkdesk: source.is_none().then(|| format!("Bearer {}", creds.talkdesk_token)),
                talkdesk_source: source,
            };
            ([sim.elastic_v1_url(), sim.elastic_v2_url(), sim.talkdesk_url()], Some(sim), defaults)
        } else {
            let pick = |u: &Option<String>, up: Upstream| u.clone().unwrap_or_else(|| up.default_base_url().to_owned());
            let region = config.talkdesk_region.map(TalkdeskRegion::from).unwrap_or_default();
            (
                [
                    pick(&config.elastic_v1_url, Upstream::ElasticV1),
                    pick(&config.elastic_v2_url, Upstream::ElasticV2),
                    config.talkdesk_url.clone().unwrap_or_else(|| region.api_base_url().to_owned()),
                ],
                None,
                DefaultCredentials::default(),
            )
        };
        let mut readiness =
            vec![("elastic_v1", urls[0].clone()), ("elastic_v2", urls[1].clone()), ("talkdesk", urls[2].clone())];
        if sim.is_some() {
            // Real credentials are never sent to the simulator (plain HTTP, and it logs headers).
            if config.elastic_api_key.is_some() || config.talkdesk_token.is_some() || config.has_talkdesk_client() {
                tracing::warn!(
                    "ELASTIC_API_KEY, TALKDESK_TOKEN and TALKDESK_CLIENT_ID/TALKDESK_CLIENT_SECRET are ignored \
                     while the embedded simulator serves the upstreams; its demo credentials apply"
                );
            }
        } else {
            let client = talkdesk_client(&config)?;
            if let Some(names) = exposed_credentials(&config) {
                return Err(StartError::ExposedCredentials(names, config.listen));
            }
            defaults.elastic.clone_from(&config.elastic_api_key);
            defaults.talkdesk.clone_from(&config.talkdesk_token);
            if let Some(client) = client {
                let token_url = talkdesk_token_url(&config)?;
                defaults.talkdesk_source = Some(token_source(&config, &transport, &token_url, client)?);
                readiness.push(("talkdesk_token", token_url));
            }
        }
        let demo = sim
            .as_ref()
            .map(|s| Demo { organization_id: s.dataset().demo_org().id.to_string(), simulator_url: s.base_url() });

        let upstreams = Upstreams {
            elastic_v1: ElasticBillingV1::new(transport.clone(), &urls[0])
                .map_err(|e| StartError::BaseUrl("elastic v1", e))?,
            elastic_v2: ElasticBillingV2::new(transport.clone(), &urls[1])
                .map_err(|e| StartError::BaseUrl("elastic v2", e))?,
            talkdesk: TalkdeskBillingInsights::new(transport, &urls[2])
                .map_err(|e| StartError::BaseUrl("talkdesk", e))?,
        };
        let graph = BillingGraph::with_shared(upstreams, schema_config(&config)?, fingerprinter, shared);
        let example = example_query(demo.as_ref().map_or("3166899605", |d| d.organization_id.as_str()));
        let state = AppState {
            graph,
            apq: moka::sync::Cache::new(config.apq_entries),
            defaults,
            http: HttpLimits { body_limit: config.body_limit },
            readiness: Arc::new(readiness),
            callers: Arc::new(caller_limit::CallerLimiter::new(config.caller_rps, config.caller_burst)),
            allowed_origins: config.cors_origins.iter().map(|o| o.trim().to_owned()).collect(),
            metrics: telemetry::prometheus().inspect(telemetry::keep_up),
        };
        let web = web::Web::new(
            !config.no_graphiql,
            !config.no_dashboard,
            &example,
            demo.as_ref().map(|d| d.organization_id.as_str()),
        );
        Ok(Gateway { state, config, sim, demo, web })
    }

    /// The demo details, when the embedded simulator runs.
    pub fn demo(&self) -> Option<&Demo> {
        self.demo.as_ref()
    }

    /// The embedded simulator, when it runs.
    pub fn sim(&self) -> Option<&SimHandle> {
        self.sim.as_ref()
    }

    /// The schema behind the server.
    pub fn graph(&self) -> &BillingGraph {
        &self.state.graph
    }

    /// The HTTP application.
    pub fn router(&self) -> Router {
        router(self.state.clone(), &self.config, self.web.clone())
    }

    /// The browser pages served, with their paths: GraphiQL at `/`, the dashboard at
    /// `/dashboard`, each unless turned off.
    pub fn pages(&self) -> Vec<(&'static str, &'static str)> {
        self.web.as_ref().map(web::Web::pages).unwrap_or_default()
    }
}

/// The server-side credentials that a non-loopback address would offer to anyone, unless the
/// operator said so (`--expose-server-credentials`). `None` when nothing is exposed.
fn exposed_credentials(config: &Config) -> Option<String> {
    if config.listen.ip().is_loopback() || config.expose_server_credentials {
        return None;
    }
    let names: Vec<&str> = [
        (config.elastic_api_key.is_some(), "ELASTIC_API_KEY"),
        (config.talkdesk_token.is_some(), "TALKDESK_TOKEN"),
        (config.has_talkdesk_client(), "TALKDESK_CLIENT_ID/TALKDESK_CLIENT_SECRET"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    (!names.is_empty()).then(|| names.join(" and "))
}

/// The server-side Talkdesk client credentials, when configured: both halves, and not beside a
/// fixed `TALKDESK_TOKEN` (which of the two would apply is not for the gateway to guess).
fn talkdesk_client(config: &Config) -> Result<Option<TalkdeskClientCredentials>, StartError> {
    match (&config.talkdesk_client_id, &config.talkdesk_client_secret) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(StartError::Talkdesk("--talkdesk-client-id is set without TALKDESK_CLIENT_SECRET")),
        (None, Some(_)) => Err(StartError::Talkdesk("TALKDESK_CLIENT_SECRET is set without --talkdesk-client-id")),
        (Some(_), Some(_)) if config.talkdesk_token.is_some() => Err(StartError::Talkdesk(
            "TALKDESK_TOKEN and TALKDESK_CLIENT_ID/TALKDESK_CLIENT_SECRET are both set: keep one",
        )),
        (Some(id), Some(secret)) => {
            TalkdeskClientCredentials::new(id.as_str(), secret.as_str()).map(Some).map_err(StartError::TalkdeskClient)
        }
    }
}

/// The token endpoint: `--talkdesk-token-url`, or the account's in its region.
fn talkdesk_token_url(config: &Config) -> Result<String, StartError> {
    if let Some(url) = &config.talkdesk_token_url {
        return Ok(url.clone());
    }
    let Some(account) = &config.talkdesk_account else {
        return Err(StartError::Talkdesk(
            "client credentials need the token endpoint: set --talkdesk-account (and --talkdesk-region) or \
             --talkdesk-token-url",
        ));
    };
    let region = config.talkdesk_region.map(TalkdeskRegion::from).unwrap_or_default();
    region.token_url(account).map_err(|e| StartError::BaseUrl("talkdesk token", e))
}

/// The server's Talkdesk token source on `token_url`, timed on the configured clock.
fn token_source(
    config: &Config,
    transport: &Transport,
    token_url: &str,
    client: TalkdeskClientCredentials,
) -> Result<TalkdeskTokenSource, StartError> {
    let options = TokenSourceOptions { clock: config.token_clock.clone(), ..TokenSourceOptions::default() };
    TalkdeskTokenSource::with_options(transport.clone(), token_url, client, options)
        .map_err(|e| StartError::BaseUrl("talkdesk token", e))
}

/// The transport settings from the flags.
fn transport_config(config: &Config) -> TransportConfig {
    let limit = Limit {
        requests_per_second: NonZeroU32::new(config.upstream_rps),
        burst: NonZeroU32::new(config.upstream_burst.unwrap_or(config.upstream_rps).max(1)).unwrap_or(NonZeroU32::MIN),
        max_concurrency: config.upstream_concurrency.max(1),
    };
    TransportConfig {
        request_timeout: Duration::from_millis(config.upstream_timeout_ms),
        retry: RetryPolicy {
            max_attempts: config.upstream_attempts.max(1),
            // Half the request's time for one call, retries included: a query needs up to two
            // dependent rounds (deployments, then their charts) and still answers in time.
            deadline: config.request_timeout() / 2,
            ..RetryPolicy::default()
        },
        ..TransportConfig::default()
    }
    .with_limits(limit)
}

/// The schema settings from the flags.
fn schema_config(config: &Config) -> Result<SchemaConfig, StartError> {
    let ecu =
        billing_insights::focus::EcuConversion::new(&config.ecu_currency, config.ecu_rate).map_err(StartError::Ecu)?;
    Ok(SchemaConfig {
        insights: billing_graphql::InsightsConfig { ecu, ..billing_graphql::InsightsConfig::default() },
        now: config.now,
        cache: CacheConfig {
            enabled: config.cache_ttl_secs > 0,
            ttl: Duration::from_secs(config.cache_ttl_secs),
            closed_ttl: Duration::from_secs(config.cache_closed_ttl_secs.max(config.cache_ttl_secs)),
            max_bytes: config.cache_max_mib * 1024 * 1024,
            ..CacheConfig::default()
        },
        limits: Limits {
            depth: config.max_depth,
            complexity: config.max_complexity,
            aliases: config.max_aliases,
            tokens: config.max_tokens,
            nesting: config.max_nesting,
            expanded_fields: config.max_expanded_fields,
            execution_timeout: config.request_timeout(),
            caller_concurrency: config.caller_upstream_concurrency,
            upstream_calls: config.upstream_budget,
            enforce_estimate: !config.no_cost_enforcement,
            introspection: !config.no_introspection,
        },
        planned: !config.reference_executor,
        plan_cache_fields: config.plan_cache_fields,
    })
}

/// The query GraphiQL opens with.
pub fn example_query(organization_id: &str) -> String {
    format!(
        r#"# What does each deployment cost this month, on which dimension?
# The demo credentials are applied automatically: press the run button.
{{
  organization(id: "{organization_id}") {{
    costs {{ total hourlyRate dimensions {{ type cost }} }}
    deployments {{
      name
      totalCost
      dimensions {{ type cost }}
      charts {{ points {{ timestamp total }} }}
    }}
  }}
  usageAggregates(first: 5) {{
    totalCount
    nodes {{ accountId month type description totalAmount currency }}
  }}
}}
"#
    )
}

/// The header a request id arrives in and is echoed in.
const X_REQUEST_ID: &str = "x-request-id";

/// Request ids: UUID v7 (a millisecond timestamp and 74 random bits), so ids are unique across
/// processes and replicas, and sort by time.
#[derive(Clone, Copy, Default)]
struct UuidV7;

impl MakeRequestId for UuidV7 {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
        let id = uuid::Uuid::now_v7().hyphenated().encode_lower(&mut text);
        HeaderValue::from_str(id).ok().map(RequestId::new)
    }
}

/// Whether a caller's `x-request-id` is kept: 1 to 128 ASCII letters, digits, `-`, `_`, `.`,
/// `:` (UUIDs, ULIDs, hex and most proxies' ids). It goes into every log line and span of the
/// request, so anything else is replaced by one of ours.
fn is_request_id(value: &[u8]) -> bool {
    (1..=128).contains(&value.len())
        && value.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Drops an incoming `x-request-id` that [`is_request_id`] refuses (or that is sent twice), so
/// the request gets a fresh one.
async fn screen_request_id(mut req: Request<axum::body::Body>) -> Request<axum::body::Body> {
    let mut ids = req.headers().get_all(X_REQUEST_ID).iter();
    let keep = match (ids.next(), ids.next()) {
        (Some(id), None) => is_request_id(id.as_bytes()),
        (None, _) => true,
        (Some(_), Some(_)) => false,
    };
    if !keep {
        req.headers_mut().remove(X_REQUEST_ID);
    }
    req
}

fn router(state: AppState, config: &Config, web: Option<web::Web>) -> Router {
    let request_id = HeaderName::from_static(X_REQUEST_ID);
    let traces = telemetry::traces_url(config).is_some();
    let mut app = Router::new()
        .route("/graphql", get(graphql_http::get).post(graphql_http::post).fallback(graphql_http::other_method))
        .route("/export/focus.csv", get(export::focus_csv))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics));
    if let Some(web) = web {
        app = app.merge(web.routes());
    }
    if let Some(hosts) = config.host_allow_list() {
        let hosts: Arc<[String]> = hosts.into();
        app = app.layer(axum::middleware::from_fn(
            move |req: Request<axum::body::Body>, next: axum::middleware::Next| {
                let hosts = Arc::clone(&hosts);
                async move {
                    if host_allowed(&req, &hosts) {
                        next.run(req).await
                    } else {
                        graphql_error(
                            StatusCode::MISDIRECTED_REQUEST,
                            "MISDIRECTED_REQUEST",
                            "this host name is not served here (see --allowed-hosts)",
                        )
                    }
                }
            },
        ));
    }
    let mut app = app
        .fallback(not_found)
        .with_state(state)
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(config.request_timeout(), time_limit))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(move |req: &Request<_>| {
                    // Method, path and request id only: no query string, no headers.
                    let id = req.headers().get(X_REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
                    if !traces {
                        return tracing::info_span!(
                            "http",
                            method = %req.method(),
                            path = req.uri().path(),
                            request_id = id,
                            status = tracing::field::Empty,
                        );
                    }
                    let span = tracing::info_span!(
                        "http",
                        method = %req.method(),
                        path = req.uri().path(),
                        request_id = id,
                        status = tracing::field::Empty,
                        otel.kind = "server",
                        otel.status_code = tracing::field::Empty,
                    );
                    telemetry::continue_trace(&span, req.headers(), id);
                    span
                })
                .on_response(|response: &Response, latency: Duration, span: &tracing::Span| {
                    let status = response.status();
                    span.record("status", status.as_u16());
                    if status.is_server_error() {
                        span.record("otel.status_code", "error");
                    }
                    tracing::debug!(latency_ms = latency.as_millis() as u64, "finished processing request");
                }),
        )
        .layer(SetRequestIdLayer::new(request_id, UuidV7))
        .layer(axum::middleware::map_request(screen_request_id));
    if !config.cors_origins.is_empty() {
        let origins: Vec<HeaderValue> =
            config.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o.trim()).ok()).collect();
        app = app.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([
                    header::CONTENT_TYPE,
                    header::AUTHORIZATION,
                    HeaderName::from_static(TALKDESK_AUTHORIZATION),
                    HeaderName::from_static(graphql_http::DRY_RUN),
                    HeaderName::from_static(graphql_http::COST_REPORT),
                ])
                .max_age(Duration::from_secs(600)),
        );
    }
    app
}

/// Answers `504` with a GraphQL error when a request passes its time. Dropping the handler's
/// future stops its work: a shared execution whose last caller this was stops too.
async fn time_limit(
    State(limit): State<Duration>,
    req: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> Response {
    let started = Instant::now();
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            let labels = [("operation_type", "unknown"), ("outcome", "timeout")];
            metrics::counter!("billing_graphql_requests_total", &labels).increment(1);
            metrics::histogram!("billing_graphql_request_duration_seconds", &labels)
                .record(started.elapsed().as_secs_f64());
            graphql_error(
                StatusCode::GATEWAY_TIMEOUT,
                "REQUEST_TIMEOUT",
                &format!("the request took longer than {} s", limit.as_secs()),
            )
        }
    }
}

/// A response with one GraphQL error and its code, as JSON.
pub(crate) fn graphql_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, axum::Json(body)).into_response()
}

/// Whether the request's `Host` (without its port) is one of `hosts`.
fn host_allowed<B>(req: &Request<B>, hosts: &[String]) -> bool {
    let Some(host) = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let host = host.trim().to_ascii_lowercase();
    // `[::1]:8080` keeps its brackets; `localhost:8080` loses its port.
    let name = match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host.as_str(),
    };
    hosts.iter().any(|h| h == name)
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({ "errors": [{ "message": "not found: the GraphQL endpoint is /graphql" }] })),
    )
        .into_response()
}

/// Ready when every upstream's host accepts a TCP connection (no credential is sent).
async fn readyz(State(state): State<AppState>) -> Response {
    let checks = state.readiness.iter().map(|(name, url)| async move {
        let reachable = match host_port(url) {
            Some(addr) => tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr))
                .await
                .is_ok_and(|r| r.is_ok()),
            None => false,
        };
        (*name, reachable)
    });
    let results = futures::future::join_all(checks).await;
    let ready = results.iter().all(|(_, ok)| *ok);
    let body: serde_json::Map<String, serde_json::Value> = results
        .into_iter()
        .map(|(n, ok)| (n.to_owned(), json!(if ok { "reachable" } else { "unreachable" })))
        .collect();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let mut answer = json!({ "ready": ready, "upstreams": body });
    // Redis is an optimisation: without it the gateway still serves, so a degraded shared cache
    // is reported but never makes the replica unready.
    if let Some(shared) = state.graph.cache().shared() {
        let up = shared.ping().await;
        answer["cache"] = json!({ "shared": if up { "ok" } else { "degraded" } });
    }
    (status, axum::Json(answer)).into_response()
}

/// `host:port` of a base URL.
fn host_port(url: &str) -> Option<String> {
    let uri: axum::http::Uri = url.parse().ok()?;
    let host = uri.host()?;
    let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
    Some(format!("{host}:{port}"))
}

async fn metrics(State(state): State<AppState>) -> Response {
    match &state.metrics {
        Some(handle) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))],
            handle.render(),
        )
            .into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "metrics recorder not installed").into_response(),
    }
}

/// Serves `router` on `listener` until `shutdown` completes; in-flight requests finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(without_delay(listener), router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// The listener, with Nagle's algorithm off on each connection: a streamed answer goes out in
/// parts, and with it on, a small part written while the one before is unacknowledged waits
/// for the client's delayed ACK (40 ms on Linux) before it leaves.
fn without_delay(listener: tokio::net::TcpListener) -> axum::serve::TapIo<tokio::net::TcpListener, NoDelay> {
    use axum::serve::ListenerExt;
    listener.tap_io(no_delay)
}

/// What [`without_delay`] does to each connection (a named type: axum gives connection info
/// through a tapped listener by its type).
type NoDelay = fn(&mut tokio::net::TcpStream);

fn no_delay(stream: &mut tokio::net::TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "could not turn Nagle's algorithm off on a connection");
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::body::Body;
    use clap::Parser;
    use tower::ServiceExt;

    use super::*;

    /// Regression: a streamed answer's parts waited 40 ms each for the client's delayed ACK
    /// (a 10-deployment answer took 44 ms at p50 against 28 for hand-written code).
    #[tokio::test]
    async fn connections_are_served_without_nagle_delay() {
        use axum::serve::Listener;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut listener = without_delay(listener);
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (served, from) = listener.accept().await;
        assert_eq!(from, client.local_addr().unwrap());
        assert!(served.nodelay().unwrap());
        assert!(!client.nodelay().unwrap(), "the client's own setting, untouched: the test tells them apart");
    }

    /// A configuration for real upstreams (nothing listens there: building calls nothing).
    fn upstream_config(listen: &str) -> Config {
        let mut config = Config::defaults();
        config.listen = listen.parse().unwrap();
        config.elastic_v1_url = Some("http://127.0.0.1:9/api/v1".to_owned());
        config.elastic_api_key = Some("ApiKey server-side".to_owned());
        config
    }

    #[tokio::test]
    async fn server_side_credentials_are_not_offered_on_a_public_address() {
        let refused = Gateway::build(upstream_config("0.0.0.0:8080")).await.unwrap_err();
        assert!(
            matches!(&refused, StartError::ExposedCredentials(names, _) if names == "ELASTIC_API_KEY"),
            "{refused:?}"
        );
        assert!(refused.to_string().contains("--expose-server-credentials"), "{refused}");

        let mut config = upstream_config("0.0.0.0:8080");
        config.expose_server_credentials = true;
        assert!(Gateway::build(config).await.is_ok(), "the operator said so");
        assert!(Gateway::build(upstream_config("127.0.0.1:8080")).await.is_ok(), "loopback");
        let mut config = upstream_config("0.0.0.0:8080");
        config.elastic_api_key = None;
        assert!(Gateway::build(config).await.is_ok(), "no server-side credential, nothing exposed");
    }

    #[tokio::test]
    async fn talkdesk_client_credentials_follow_the_exposure_rule_and_are_checked_at_start() {
        let client = |listen: &str| {
            let mut config = Config::defaults();
            config.listen = listen.parse().unwrap();
            config.talkdesk_account = Some("acme".to_owned());
            config.talkdesk_client_id = Some("id-7f3e".to_owned());
            config.talkdesk_client_secret = Some("secret-2b9c".to_owned());
            config
        };
        assert!(!client("127.0.0.1:8080").use_sim(), "an account names the real Talkdesk");
        let refused = Gateway::build(client("0.0.0.0:8080")).await.unwrap_err();
        assert!(
            matches!(&refused, StartError::ExposedCredentials(names, _) if names == "TALKDESK_CLIENT_ID/TALKDESK_CLIENT_SECRET"),
            "{refused:?}"
        );
        let mut config = client("0.0.0.0:8080");
        config.elastic_api_key = Some("ApiKey k".to_owned());
        let refused = Gateway::build(config.clone()).await.unwrap_err().to_string();
        assert!(
            refused.contains("ELASTIC_API_KEY and TALKDESK_CLIENT_ID/TALKDESK_CLIENT_SECRET would be used"),
            "{refused}"
        );
        config.expose_server_credentials = true;
        let gateway = Gateway::build(config).await.unwrap();
        let ready: Vec<_> = gateway.state.readiness.iter().map(|(name, url)| format!("{name} {url}")).collect();
        assert_eq!(
            ready[2..],
            ["talkdesk https://api.talkdeskapp.com", "talkdesk_token https://acme.talkdeskid.com/oauth/token"]
        );

        // The region names both hosts; a token URL wins over the account's.
        let mut config = client("127.0.0.1:8080");
        config.talkdesk_region = Some(TalkdeskRegionArg::Eu);
        let gateway = Gateway::build(config.clone()).await.unwrap();
        assert_eq!(gateway.state.readiness[2].1, "https://api.talkdeskapp.eu");
        assert_eq!(gateway.state.readiness[3].1, "https://acme.talkdeskid.eu/oauth/token");
        config.talkdesk_token_url = Some("http://127.0.0.1:9/oauth/token".to_owned());
        let gateway = Gateway::build(config).await.unwrap();
        assert_eq!(gateway.state.readiness[3].1, "http://127.0.0.1:9/oauth/token");

        // What cannot work is refused at start, naming what to fix and never a value.
        type Break = fn(&mut Config);
        let cases: [(&str, Break); 5] = [
            ("without TALKDESK_CLIENT_SECRET", |c| c.talkdesk_client_secret = None),
            ("without --talkdesk-client-id", |c| c.talkdesk_client_id = None),
            ("keep one", |c| c.talkdesk_token = Some("t".to_owned())),
            ("--talkdesk-account", |c| {
                c.talkdesk_account = None;
                c.talkdesk_region = Some(TalkdeskRegionArg::Ca);
            }),
            ("invalid talkdesk token url", |c| c.talkdesk_account = Some("evil.example/x".to_owned())),
        ];
        for (expected, break_it) in cases {
            let mut config = client("127.0.0.1:8080");
            break_it(&mut config);
            let refused = Gateway::build(config).await.unwrap_err().to_string();
            assert!(refused.contains(expected), "{expected}: {refused}");
            assert!(!refused.contains("secret-2b9c") && !refused.contains("id-7f3e"), "{refused}");
        }
    }

    #[test]
    fn an_incoming_request_id_is_kept_only_when_it_is_a_plain_token() {
        for good in ["0190a5e4-7b1c-7d3e-9f00-123456789abc", "01HZX3R9QK", "abc_def.ghi:42", &"a".repeat(128)] {
            assert!(is_request_id(good.as_bytes()), "{good}");
        }
        for bad in ["", "has space", "semi;colon", "new\nline", "é", &"a".repeat(129), "\u{1b}[31m"] {
            assert!(!is_request_id(bad.as_bytes()), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn now_is_the_month_to_date_of_the_schema_and_the_embedded_simulator() {
        let config = Config::parse_from(["billing-gateway", "--sim", "--now", "2026-11-03T06:00:00Z"]);
        let today = chrono::DateTime::parse_from_rfc3339("2026-11-03T06:00:00Z").unwrap().to_utc();
        assert_eq!(config.now, Some(today));
        let gateway = Gateway::build(config).await.unwrap();
        let sim = gateway.sim().unwrap();
        let org = sim.dataset().demo_org().id.to_string();
        let query = format!(r#"{{ organization(id: "{org}") {{ instances {{ id }} }} }}"#);
        let request = Request::post("/graphql")
            .header(header::HOST, "localhost")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({ "query": query }).to_string()))
            .unwrap();
        let response = gateway.router().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: serde_json::Value =
            serde_json::from_slice(&axum::body::to_bytes(response.into_body(), 1 << 22).await.unwrap()).unwrap();
        assert!(body["data"]["organization"]["instances"].as_array().is_some_and(|a| !a.is_empty()), "{body}");

        // v2 needs a range: the gateway sent the month to date of its `--now`, not the system's.
        let sent: Vec<_> = sim
            .requests()
            .into_iter()
            .filter(|r| r.template == billing_sim::endpoints::V2_INSTANCES)
            .map(|r| reqwest::Url::parse(&format!("http://sim/?{}", r.query.unwrap_or_default())).unwrap())
            .collect();
        assert_eq!(sent.len(), 1, "{sent:?}");
        let param = |name: &str| {
            let value = sent[0].query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap();
            chrono::DateTime::parse_from_rfc3339(&value).unwrap().to_utc()
        };
        let month_start = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z").unwrap().to_utc();
        assert_eq!((param("from"), param("to")), (month_start, today));
    }

    async fn graphql_get(router: &Router, headers: &[(&str, &str)]) -> (StatusCode, serde_json::Value) {
        let mut request = Request::get("/graphql?query=%7B__typename%7D").header(header::HOST, "localhost");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn a_cross_site_get_is_refused_unless_preflighted() {
        let gateway = Gateway::build(Config::defaults()).await.unwrap();
        let router = gateway.router();
        let (status, body) = graphql_get(&router, &[("sec-fetch-site", "cross-site")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["errors"][0]["extensions"]["code"], "CSRF_PREVENTED");
        let (status, body) =
            graphql_get(&router, &[("sec-fetch-site", "cross-site"), ("apollo-require-preflight", "1")]).await;
        assert_eq!((status, &body["data"]["__typename"]), (StatusCode::OK, &json!("Query")));
        let (status, _) = graphql_get(&router, &[]).await;
        assert_eq!(status, StatusCode::OK, "not a browser: not cross-site");
    }

    #[tokio::test]
    async fn a_cross_site_export_is_refused_unless_preflighted() {
        let gateway = Gateway::build(Config::defaults()).await.unwrap();
        let router = gateway.router();
        let get = |headers: &[(&'static str, &'static str)]| {
            let mut request = Request::get("/export/focus.csv").header(header::HOST, "localhost");
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            router.clone().oneshot(request.body(Body::empty()).unwrap())
        };
        for cross in [[("sec-fetch-site", "cross-site")], [("origin", "https://evil.example")]] {
            let response = get(&cross).await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{cross:?}");
            let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["errors"][0]["extensions"]["code"], "CSRF_PREVENTED");
        }
        // Past the CSRF check, a request without an organization is refused for that instead.
        for passes in [&[("sec-fetch-site", "cross-site"), ("apollo-require-preflight", "1")][..], &[]] {
            let response = get(passes).await.unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{passes:?}");
            let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        }
    }

    #[tokio::test]
    async fn a_request_past_its_time_is_a_504_with_a_coded_body() {
        // The time limit is a backstop: upstream calls have shorter deadlines of their own, so a
        // slow handler stands in for whatever else could hold a request.
        let router = Router::new()
            .route("/slow", get(|| async { tokio::time::sleep(Duration::from_secs(10)).await }))
            .layer(axum::middleware::from_fn_with_state(Duration::from_millis(50), time_limit));
        let response = router.oneshot(Request::get("/slow").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "REQUEST_TIMEOUT");
    }

    #[tokio::test]
    async fn a_caller_past_its_rate_gets_429_and_others_do_not() {
        let mut config = Config::defaults();
        config.caller_rps = 1;
        config.caller_burst = 2;
        let gateway = Gateway::build(config).await.unwrap();
        let router = gateway.router();
        let other = ("authorization", "ApiKey someone-else");
        assert_eq!(graphql_get(&router, &[]).await.0, StatusCode::OK);
        assert_eq!(graphql_get(&router, &[]).await.0, StatusCode::OK);
        let request = Request::get("/graphql?query=%7B__typename%7D").header(header::HOST, "localhost");
        let response = router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "CALLER_RATE_LIMITED");
        assert_eq!(graphql_get(&router, &[other]).await.0, StatusCode::OK, "another caller has its own rate");
    }
}
