//! The shared transport: one connection pool, the retry loop, limits, tracing and metrics.
//!
//! Every upstream call goes through [`Transport::send`]. It is the only place that sends a request,
//! so timeouts, retries, rate limits, credential handling and observability are applied once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use backon::Retryable;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tracing::Instrument;
use url::Url;

use crate::config::{Limit, TransportConfig};
use crate::endpoint::{Endpoint, Upstream};
use crate::error::{Error, ErrorAnswer, ErrorKind};
use crate::retry::{Decision, classify};

/// The histogram of the waits the transport decides before a retry (backoff or `Retry-After`),
/// in seconds, labelled `upstream`, `endpoint` and `cause` (the failure retried: `429`, `503`,
/// `timeout`). Recorded once per retry, when it is decided, before the wait is slept.
pub const RETRY_WAIT_SECONDS: &str = "billing_upstream_retry_wait_seconds";

/// The shared HTTP transport: cheap to clone, one connection pool for every client built on it.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: TransportConfig,
    limiters: [Limiter; 3],
    inject: Option<Arc<dyn InjectHeaders>>,
    shared: Option<Arc<dyn SharedLimit>>,
}

/// Adds headers to every upstream request: how a server propagates its trace context (W3C
/// `traceparent`) upstream without this crate knowing a tracer.
///
/// Called once per attempt, inside that attempt's `upstream_call` span, so the current span is
/// the call's own. `Authorization` is the call's whatever the injector sets.
pub trait InjectHeaders: Send + Sync + 'static {
    /// Adds this attempt's headers to `headers`.
    fn inject(&self, headers: &mut http::HeaderMap);
}

/// A rate limit held outside this process, shared by every replica of a server: consulted
/// before each attempt, after which this process's own limit still applies; and told of every
/// `429` with a `Retry-After`, so one replica's answer slows them all.
///
/// The `credential` passed is the call's `Authorization` value: an implementation may only keep
/// a keyed hash of it (upstreams limit per key), never the value.
pub trait SharedLimit: Send + Sync + 'static {
    /// How long this attempt must wait before it is sent (zero: now), under `limit` for
    /// `upstream` and any pause the upstream asked this credential for. `None` when the shared
    /// state cannot be read: the attempt then goes under the local limit alone, never fails.
    fn admit<'a>(
        &'a self,
        upstream: Upstream,
        credential: &'a [u8],
        limit: &'a Limit,
    ) -> futures::future::BoxFuture<'a, Option<Duration>>;

    /// Tells every replica that `upstream` asked this credential to wait `retry_after`.
    fn back_off<'a>(
        &'a self,
        upstream: Upstream,
        credential: &'a [u8],
        retry_after: Duration,
    ) -> futures::future::BoxFuture<'a, ()>;
}

struct Limiter {
    rate: Option<DefaultDirectRateLimiter>,
    slots: Semaphore,
}

/// The transport could not be built (the TLS backend failed to start).
#[derive(Debug, thiserror::Error)]
#[error("could not build the http transport")]
pub struct TransportError(#[source] reqwest::Error);

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

/// One call: where, to which endpoint, with which `Authorization`.
pub(crate) struct Call {
    pub(crate) endpoint: Endpoint,
    pub(crate) url: Url,
    pub(crate) auth: HeaderValue,
    /// A form body, sent as a `POST` (the OAuth token request); `None` for a `GET`.
    pub(crate) form: Option<String>,
}

impl Transport {
    /// A transport with the given configuration.
    pub fn new(config: TransportConfig) -> Result<Self, TransportError> {
        Self::with_injector(config, None)
    }

    /// A transport whose upstream requests also carry the headers `inject` adds (a trace
    /// context, say); with `None`, the same as [`Transport::new`].
    pub fn with_injector(
        config: TransportConfig,
        inject: Option<Arc<dyn InjectHeaders>>,
    ) -> Result<Self, TransportError> {
        Self::with_parts(config, inject, None)
    }

    /// A transport whose calls also wait for `shared`, a rate limit shared with other replicas
    /// (see [`SharedLimit`]); with `None`, the same as [`Transport::with_injector`].
    pub fn with_parts(
        config: TransportConfig,
        inject: Option<Arc<dyn InjectHeaders>>,
        shared: Option<Arc<dyn SharedLimit>>,
    ) -> Result<Self, TransportError> {
        // The one place an upstream client is built (clippy.toml forbids the others).
        #[allow(clippy::disallowed_methods, reason = "this is the one place")]
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(TransportError)?;
        let limiters = Upstream::ALL.map(|u| {
            let limit = config.limit(u);
            Limiter {
                rate: limit
                    .requests_per_second
                    .map(|rps| RateLimiter::direct(Quota::per_second(rps).allow_burst(limit.burst))),
                slots: Semaphore::new(limit.max_concurrency.max(1)),
            }
        });
        Ok(Transport { inner: Arc::new(Inner { http, config, limiters, inject, shared }) })
    }

    /// The configuration this transport was built with.
    pub fn config(&self) -> &TransportConfig {
        &self.inner.config
    }

    /// Sends a call (a `GET`, or a `POST` of its form) and decodes the answer, retrying transient
    /// failures within the policy's attempts and deadline.
    ///
    /// The only `POST` is the OAuth client-credentials grant: repeating it only issues another
    /// token, so it is retried like a `GET`.
    ///
    /// The call ends by the policy's deadline, or by the caller's ([`crate::with_deadline`])
    /// when that comes first.
    pub(crate) async fn send<T: DeserializeOwned>(&self, call: &Call) -> Result<T, Error> {
        let started = Instant::now();
        let mut policy = self.inner.config.retry.clone();
        if let Some(caller) = crate::deadline::current() {
            policy.deadline = policy.deadline.min(caller.saturating_duration_since(started));
        }
        let policy = &policy;
        let attempts = AtomicU32::new(0);
        let result = (|| {
            let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            self.attempt(call, attempt, started, policy.deadline)
        })
        .retry(policy.backoff())
        .sleep(tokio::time::sleep)
        .when(Error::is_retryable)
        .adjust(|err: &Error, ceiling| {
            let wait = policy.next_wait(ceiling, err.retry_after(), started.elapsed());
            if let Some(wait) = wait {
                metrics::counter!(
                    "billing_upstream_retries_total",
                    "upstream" => call.endpoint.upstream.as_str(),
                    "endpoint" => call.endpoint.template,
                    "cause" => error_label(err),
                )
                .increment(1);
                // The wait decided, before it is slept: what a test reads to see the backoff and
                // the honoured `Retry-After` without timing them.
                metrics::histogram!(
                    RETRY_WAIT_SECONDS,
                    "upstream" => call.endpoint.upstream.as_str(),
                    "endpoint" => call.endpoint.template,
                    "cause" => error_label(err),
                )
                .record(wait.as_secs_f64());
                tracing::debug!(endpoint = %call.endpoint, wait_ms = wait.as_millis() as u64, "retrying: {err}");
            }
            wait
        })
        .await;
        result.map_err(|e| e.with_attempts(attempts.load(Ordering::Relaxed)))
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        call: &Call,
        attempt: u32,
        started: Instant,
        deadline: Duration,
    ) -> Result<T, Error> {
        let endpoint = call.endpoint;
        let limiter = &self.inner.limiters[endpoint.upstream.index()];
        // Waiting for the rate limit and a slot counts against the call's deadline like the
        // exchange itself: a call queued past it fails alone (a timeout on its field) rather
        // than holding the whole request past the request's own time.
        let queue = async {
            if let Some(shared) = &self.inner.shared {
                self.shared_wait(shared.as_ref(), call, started, deadline).await?;
            }
            if let Some(rate) = &limiter.rate {
                // `check` takes a cell when one is free; only a refusal waits (and is counted).
                if rate.check().is_err() {
                    metrics::counter!("billing_upstream_rate_limit_waits_total", "upstream" => endpoint.upstream.as_str())
                        .increment(1);
                    rate.until_ready().await;
                }
            }
            // The semaphore is never closed, so acquiring only waits.
            limiter.slots.acquire().await.map_err(|_| Error::new(ErrorKind::Build, endpoint))
        };
        let left = deadline.saturating_sub(started.elapsed());
        if left.is_zero() {
            // The caller's time is up: nothing is sent.
            return Err(Error::new(ErrorKind::Timeout, endpoint).with_message("the caller's deadline passed"));
        }
        let permit = match tokio::time::timeout(left, queue).await {
            Ok(permit) => permit?,
            Err(_) => {
                return Err(Error::new(ErrorKind::Timeout, endpoint)
                    .with_message("waited past the call's deadline for the upstream's rate limit or a slot"));
            }
        };

        let remaining = deadline.saturating_sub(started.elapsed());
        let timeout = self.inner.config.request_timeout.min(remaining).max(Duration::from_millis(1));
        let span = tracing::debug_span!(
            "upstream_call",
            upstream = endpoint.upstream.as_str(),
            endpoint = endpoint.template,
            attempt,
            status = tracing::field::Empty,
            bytes = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
        );
        async {
            let t0 = Instant::now();
            let answer = self.exchange(call, timeout).await;
            let elapsed = t0.elapsed();
            // A slot bounds the calls in flight; decoding needs none, and holding one through it
            // would keep the next call waiting on this one's parsing.
            drop(permit);
            let span = tracing::Span::current();
            if let Ok(answer) = &answer {
                span.record("bytes", answer.body.len() as u64);
            }
            let outcome = answer.and_then(|a| a.interpret(endpoint));
            if let (Some(shared), Err(e)) = (&self.inner.shared, &outcome)
                && e.http_status() == Some(429)
                && let Some(after) = e.retry_after()
            {
                shared.back_off(endpoint.upstream, call.auth.as_bytes(), after).await;
            }
            let status = match &outcome {
                Ok(_) => "200".to_owned(),
                Err(e) => {
                    span.record("otel.status_code", "error");
                    error_label(e)
                }
            };
            span.record("status", status.as_str());
            span.record("duration_ms", elapsed.as_millis() as u64);
            tracing::debug!("upstream call finished");
            metrics::counter!(
                "billing_upstream_requests_total",
                "upstream" => endpoint.upstream.as_str(),
                "endpoint" => endpoint.template,
                "status" => status.clone(),
            )
            .increment(1);
            metrics::histogram!(
                "billing_upstream_request_duration_seconds",
                "upstream" => endpoint.upstream.as_str(),
                "endpoint" => endpoint.template,
                "status" => status,
            )
            .record(elapsed.as_secs_f64());
            outcome
        }
        .instrument(span)
        .await
    }

    /// Waits until the shared limit admits this attempt. A wait longer than what is left of the
    /// call's deadline fails the call at once (a timeout, as a local wait past it would); a
    /// shared state that cannot be read admits at once.
    async fn shared_wait(
        &self,
        shared: &dyn SharedLimit,
        call: &Call,
        started: Instant,
        deadline: Duration,
    ) -> Result<(), Error> {
        let upstream = call.endpoint.upstream;
        let limit = self.inner.config.limit(upstream);
        while let Some(wait) = shared.admit(upstream, call.auth.as_bytes(), limit).await {
            if wait.is_zero() {
                break;
            }
            if wait > deadline.saturating_sub(started.elapsed()) {
                return Err(Error::new(ErrorKind::Timeout, call.endpoint)
                    .with_message("the shared rate limit asks for a wait past the call's deadline"));
            }
            metrics::counter!("billing_upstream_shared_limit_waits_total", "upstream" => upstream.as_str())
                .increment(1);
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    /// Sends the request and reads the whole answer within `timeout`; a timeout says the time
    /// it was given (the request timeout, or what was left of the deadline).
    async fn exchange(&self, call: &Call, timeout: Duration) -> Result<Answer, Error> {
        self.exchange_within(call, timeout).await.map_err(|e| {
            if e.kind() == ErrorKind::Timeout {
                e.with_message(format!("no answer within {} ms", timeout.as_millis()))
            } else {
                e
            }
        })
    }

    async fn exchange_within(&self, call: &Call, timeout: Duration) -> Result<Answer, Error> {
        let endpoint = call.endpoint;
        let request = match &call.form {
            None => self.inner.http.get(call.url.clone()),
            Some(form) => self
                .inner
                .http
                .post(call.url.clone())
                .header(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"))
                .body(form.clone()),
        };
        let request = match &self.inner.inject {
            Some(inject) => {
                let mut headers = http::HeaderMap::new();
                inject.inject(&mut headers);
                headers.remove(AUTHORIZATION);
                request.headers(headers)
            }
            None => request,
        };
        let response = request
            .header(AUTHORIZATION, call.auth.clone())
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| Error::from_reqwest(endpoint, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_body(endpoint, response, self.inner.config.max_response_bytes).await?;
        Ok(Answer { status, headers, body })
    }
}

/// How a call failed, as a metric label and span field: the upstream's status (`429`, `503`), or
/// the stage that failed without one (`timeout`, `connect`, `decode`).
fn error_label(e: &Error) -> String {
    e.http_status().map_or_else(|| format!("{:?}", e.kind()).to_lowercase(), |s| s.to_string())
}

/// An upstream's answer, read whole.
struct Answer {
    status: reqwest::StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    /// The decoded payload of a success, or the error an answer of any other status means.
    fn interpret<T: DeserializeOwned>(self, endpoint: Endpoint) -> Result<T, Error> {
        let Answer { status, headers, body } = self;
        match classify(status, &headers) {
            Decision::Success => decode(endpoint, &body),
            decision => {
                let codes = headers.get(billing_model::elastic::v1::ERROR_CODES_HEADER).and_then(|v| v.to_str().ok());
                let mut answer = ErrorAnswer::parse(codes, &body);
                let retryable = matches!(decision, Decision::Retry { .. });
                if let Decision::Retry { after } = decision {
                    answer.retry_after = after;
                }
                Err(Error::status(endpoint, status.as_u16(), answer, retryable))
            }
        }
    }
}

/// Reads an answer's body, refusing it as soon as it passes `max` bytes (chunked answers
/// included), rather than buffering whatever the upstream sends.
async fn read_body(endpoint: Endpoint, mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, Error> {
    let too_large = || Error::new(ErrorKind::Decode, endpoint).with_message("response too large");
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(response.content_length().map_or(8 * 1024, |n| n as usize));
    while let Some(chunk) = response.chunk().await.map_err(|e| Error::from_reqwest(endpoint, e))? {
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Decodes through `serde_path_to_error`, so drift reads as a field path rather than a column.
///
/// Tracking the path costs on every call (its frames were ~8 % of the gateway's CPU on a cold
/// dashboard), so the plain decoder runs first and the path-tracking one only to explain a
/// failure.
pub(crate) fn decode<T: DeserializeOwned>(endpoint: Endpoint, body: &[u8]) -> Result<T, Error> {
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        Error::new(ErrorKind::Decode, endpoint).with_message(format!("at {path}: {}", e.into_inner()))
    })
}

/// Why an id cannot be put in a path.
pub(crate) const UNSENDABLE_ID: &str = "an id cannot be empty, \".\" or \"..\"";

/// `base` with `segments` appended, each percent-encoded, so an id can never change the path.
///
/// Empty, `.` and `..` segments are refused: URL parsing drops or resolves them whatever their
/// encoding (`%2E%2E` is `..` to the URL standard), so `organization(id: "..")` would otherwise
/// call another endpoint.
pub(crate) fn join(base: &Url, segments: &[&str]) -> Result<Url, &'static str> {
    if segments.iter().any(|s| s.is_empty() || *s == "." || *s == "..") {
        return Err(UNSENDABLE_ID);
    }
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    Ok(url)
}
