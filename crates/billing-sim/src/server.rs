//! The simulator's shared state ([`Sim`]), its axum router, and the layer that applies faults and
//! records every request.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};

use crate::config::{FaultRates, Latency, SimConfig, TalkdeskClient};
use crate::dataset::Dataset;
use crate::endpoints;
use crate::errors::Flavor;
use crate::faults::{Action, Fault, Faults};
use crate::oauth::{Grant, Tokens};
use crate::stats::{LoggedRequest, Recorder, Stats};
use crate::{elastic_v1, elastic_v2, oauth, talkdesk};

/// A simulator: its dataset, clock, fault settings and counters. Cheap to clone (shared inside).
///
/// [`crate::spawn`] serves one over HTTP; [`Sim::router`] mounts one in-process.
#[derive(Debug, Clone)]
pub struct Sim {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dataset: Dataset,
    now: Option<DateTime<Utc>>,
    base_url: String,
    faults: Mutex<Faults>,
    recorder: Mutex<Recorder>,
    talkdesk_clients: Vec<TalkdeskClient>,
    talkdesk_page_counters: bool,
    tokens: Mutex<Tokens>,
}

/// Locks a mutex, recovering from poisoning: the state behind it stays usable after a panic elsewhere.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Sim {
    /// Builds a simulator. `base_url` (such as `http://127.0.0.1:9000`) is where clients reach it;
    /// Talkdesk paging links are built from it.
    pub fn new(config: &SimConfig, base_url: impl Into<String>) -> Sim {
        let anchor = config.now.unwrap_or_else(Utc::now);
        let dataset = Dataset::generate(config.seed, &config.scale, anchor);
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        Sim {
            inner: Arc::new(Inner {
                dataset,
                now: config.now,
                base_url,
                faults: Mutex::new(Faults::new(config)),
                recorder: Mutex::new(Recorder::default()),
                talkdesk_clients: config.talkdesk_clients.clone(),
                talkdesk_page_counters: config.talkdesk_page_counters,
                tokens: Mutex::new(Tokens::new(config.seed, config.token_lifetime)),
            }),
        }
    }

    /// The axum app: every upstream endpoint, plus `GET`/`DELETE /__sim/stats`.
    pub fn router(&self) -> Router {
        use endpoints::*;
        let api = Router::new()
            .route(path(V1_OVERVIEW), get(elastic_v1::overview))
            .route(path(V1_CHARTS), get(elastic_v1::charts))
            .route(path(V1_DEPLOYMENTS), get(elastic_v1::deployments))
            .route(path(V1_DEPLOYMENT_CHARTS), get(elastic_v1::deployment_charts))
            .route(path(V1_DEPLOYMENT_ITEMS), get(elastic_v1::deployment_items))
            .route(path(V1_ITEMS), get(elastic_v1::items))
            .route(path(V2_INSTANCES), get(elastic_v2::instances))
            .route(path(V2_INSTANCE_ITEMS), get(elastic_v2::instance_items))
            .route(path(V2_ITEMS), get(elastic_v2::items))
            .route(path(V2_CHARTS), get(elastic_v2::charts))
            .route(path(V2_INSTANCE_CHARTS), get(elastic_v2::instance_charts))
            .route(path(TALKDESK_USAGE), get(talkdesk::usage))
            .route(path(TALKDESK_TOKEN), post(oauth::token))
            .route_layer(middleware::from_fn_with_state(self.clone(), observe));
        api.route("/__sim/stats", get(stats_get).delete(stats_delete)).with_state(self.clone())
    }

    /// The generated data and the credentials that read it.
    pub fn dataset(&self) -> &Dataset {
        &self.inner.dataset
    }

    /// The simulator's "now": the fixed clock when configured, else the system clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.now.unwrap_or_else(Utc::now)
    }

    /// Whether usage pages carry their counters ([`SimConfig::talkdesk_page_counters`]).
    pub fn talkdesk_page_counters(&self) -> bool {
        self.inner.talkdesk_page_counters
    }

    /// Where clients reach the simulator, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The counters since the last reset.
    pub fn stats(&self) -> Stats {
        lock(&self.inner.recorder).snapshot()
    }

    /// Every request since the last reset (the most recent 100 000), oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.inner.recorder).requests()
    }

    /// Clears the counters and the request log.
    pub fn reset_stats(&self) {
        lock(&self.inner.recorder).reset();
    }

    /// Queues faults: the next requests on `endpoint` (a template from [`crate::endpoints`]; `None`
    /// for any endpoint) get them, one each, in order. They take precedence over every other fault.
    pub fn push_faults(&self, endpoint: Option<&str>, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.inner.faults).push(endpoint, faults);
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        lock(&self.inner.faults).clear_script();
    }

    /// Sets the latency of one endpoint, or of all (`None`, which also drops per-endpoint latencies).
    pub fn set_latency(&self, endpoint: Option<&str>, latency: Latency) {
        lock(&self.inner.faults).set_latency(endpoint, latency);
    }

    /// Sets the random fault rates of one endpoint, or of all (`None`, which also drops per-endpoint rates).
    pub fn set_faults(&self, endpoint: Option<&str>, rates: FaultRates) {
        lock(&self.inner.faults).set_rates(endpoint, rates);
    }

    /// Limits each credential to this many requests per second (`None`: unlimited).
    pub fn set_rate_limit(&self, per_second: Option<u32>) {
        lock(&self.inner.faults).set_rate_limit(per_second);
    }

    /// The OAuth clients `POST /oauth/token` knows.
    pub fn talkdesk_clients(&self) -> &[TalkdeskClient] {
        &self.inner.talkdesk_clients
    }

    /// Ends the lifetime of every access token issued so far: the API answers 401 to them, as it
    /// does to an expired token. A test's way to let a lifetime pass without waiting for it.
    pub fn expire_tokens(&self) {
        self.tokens().expire_all();
    }

    /// Sets the lifetime of the access tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: std::time::Duration) {
        self.tokens().set_lifetime(lifetime);
    }

    pub(crate) fn tokens(&self) -> MutexGuard<'_, Tokens> {
        lock(&self.inner.tokens)
    }

    /// What an issued access token may read, while it has not expired.
    pub(crate) fn talkdesk_grant(&self, token: &str) -> Option<Grant> {
        self.tokens().grant(token).cloned()
    }
}

/// Applies latency and faults, then records the request and its status.
async fn observe(State(sim): State<Sim>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()).unwrap_or_default();
    let Some(template) = endpoints::lookup(&method, &route) else {
        return next.run(request).await;
    };
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    // The latency is the answer's: it leaves `delay` after the request came in, however long
    // computing it took (as long as that was less), so an answer's own cost does not add to it.
    let arrived = tokio::time::Instant::now();
    let plan = lock(&sim.inner.faults).plan(template, authorization.as_deref());
    let seq = lock(&sim.inner.recorder).start(LoggedRequest {
        method,
        path: request.uri().path().to_owned(),
        query: request.uri().query().map(str::to_owned),
        template,
        status: None,
        authorization: authorization.clone(),
        traceparent: request.headers().get("traceparent").and_then(|v| v.to_str().ok()).map(str::to_owned),
        latency: plan.delay,
        in_flight: 0,
    });
    // Leaves the in-flight count when answered, or when the client hangs up and the answer is
    // dropped half-way (a stall).
    let _leave = InFlight(&sim);
    let response = match plan.action {
        Action::Serve => next.run(request).await,
        Action::Status { status, retry_after } => Flavor::of(template).fault(status, retry_after),
        Action::Stall(hold) => {
            tracing::debug!(template, ?hold, "stalling a request");
            // A stall comes on top of the latency.
            tokio::time::sleep(plan.delay + hold).await;
            next.run(request).await
        }
        Action::Malformed => truncate(next.run(request).await).await,
    };
    if !plan.delay.is_zero() {
        tokio::time::sleep_until(arrived + plan.delay).await;
    }
    lock(&sim.inner.recorder).finish(seq, template, response.status().as_u16());
    response
}

/// Counts a request out of [`Recorder`]'s in-flight requests when dropped.
struct InFlight<'a>(&'a Sim);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        lock(&self.0.inner.recorder).leave();
    }
}

/// Cuts a response body in half and serves it as a 200 JSON document that does not parse.
async fn truncate(response: Response) -> Response {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_default();
    let cut = bytes.slice(..bytes.len() / 2);
    let body = if cut.is_empty() { Body::from("{\"") } else { Body::from(cut) };
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `GET /__sim/stats`: the counters as JSON.
async fn stats_get(State(sim): State<Sim>) -> Response {
    axum::Json(sim.stats()).into_response()
}

/// `DELETE /__sim/stats`: resets the counters and the request log.
async fn stats_delete(State(sim): State<Sim>) -> StatusCode {
    sim.reset_stats();
    StatusCode::NO_CONTENT
}
