//! Logs, traces and metrics: `tracing` to stdout as text or JSON (colours only on a terminal),
//! spans to an OpenTelemetry collector over OTLP/HTTP when one is named, Prometheus text at
//! `/metrics`.
//!
//! Traces are off unless a collector is named (`--otlp-endpoint`, `OTEL_EXPORTER_OTLP_ENDPOINT`
//! or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`): then no OpenTelemetry layer is installed, no trace
//! context is read from requests or written to upstream calls, and nothing is exported.
//!
//! With a collector, the spans are those of the gateway's own crates: `http` (the request, with
//! its id; the parent is the caller's W3C trace context when it sent one), `graphql_request`
//! (operation type and name, the document's SHA-256), `loader_batch`, `single_flight_join`,
//! `upstream_fetch` (the cache's hit or miss) and `upstream_call` (one per attempt: upstream,
//! endpoint template, status, attempt, bytes). Every span of a request carries its
//! `request_id`. No span holds a credential, a URL or its query string, a document or a
//! variable: fields are templates, labels and counts, and `tests/secrets.rs` searches the
//! exported spans for canaries.

use std::io::IsTerminal;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Span as _, TraceContextExt, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SpanData, SpanProcessor};
use tracing::Level;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{Config, LogFormat};

/// Installs the global log subscriber (`RUST_LOG` overrides the default `info`), without traces.
pub fn init_logging(format: LogFormat) {
    init(format, None);
}

/// Installs the global subscriber: log lines to stdout (`RUST_LOG` overrides the default
/// `info`), and the gateway's spans to `traces` when given.
///
/// Text lines carry ANSI colours only when stdout is a terminal (and `NO_COLOR` is unset), so a
/// file or a pipe gets plain text; JSON lines never do.
pub fn init(format: LogFormat, traces: Option<&Traces>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let logs = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer().with_target(false).with_ansi(ansi).boxed(),
        LogFormat::Json => {
            tracing_subscriber::fmt::layer().json().flatten_event(true).with_target(false).with_ansi(false).boxed()
        }
    };
    let _ = tracing_subscriber::registry().with(logs.with_filter(filter)).with(traces.map(Traces::layer)).try_init();
}

/// Histogram buckets for durations, in seconds: 1 ms (a warm cache hit) to 30 s (the request
/// timeout). Buckets, not summaries: a histogram's counts add up across replicas.
pub const DURATION_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Histogram buckets for upstream calls per request (`billing_cost_*`): estimated, actual, and
/// actual minus estimated, which is negative when the estimate was high.
pub const CALL_BUCKETS: &[f64] =
    &[-100.0, -20.0, -5.0, -1.0, 0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

/// How often the recorder's upkeep runs.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's Prometheus recorder, installed on first use. `None` if another recorder was
/// installed first (a host application's own).
pub fn prometheus() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new();
            // The buckets are constants, sorted and non-empty: setting them cannot fail.
            let builder = builder.set_buckets(DURATION_BUCKETS).unwrap_or_else(|_| PrometheusBuilder::new());
            let calls = metrics_exporter_prometheus::Matcher::Prefix("billing_cost_".to_owned());
            let builder =
                builder.set_buckets_for_metric(calls, CALL_BUCKETS).unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|()| handle)
        })
        .clone()
}

/// Runs the recorder's upkeep every few seconds, once per process, from the first call inside a
/// runtime. Without it, recorded samples wait for a `/metrics` scrape to be folded in, so memory
/// grows for as long as nobody scrapes.
pub fn keep_up(handle: &PrometheusHandle) {
    static STARTED: OnceLock<()> = OnceLock::new();
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    STARTED.get_or_init(|| {
        let handle = handle.clone();
        runtime.spawn(async move {
            let mut every = tokio::time::interval(UPKEEP_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                handle.run_upkeep();
            }
        });
    });
}

/// The OTLP/HTTP traces URL the configuration names, if any: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
/// as given, else `/v1/traces` under `--otlp-endpoint` (`OTEL_EXPORTER_OTLP_ENDPOINT`), as the
/// OpenTelemetry specification reads these variables. A `--otlp-endpoint` that already ends in
/// `/v1/traces` is taken as given. `None` when none is set, or with `OTEL_SDK_DISABLED=true`.
pub fn traces_url(config: &Config) -> Option<String> {
    let env = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    if env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return None;
    }
    if let Some(url) = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        return Some(url);
    }
    let base = config.otlp_endpoint.as_deref().map(str::trim).filter(|b| !b.is_empty())?;
    let base = base.trim_end_matches('/');
    Some(if base.ends_with("/v1/traces") { base.to_owned() } else { format!("{base}/v1/traces") })
}

/// Why the trace pipeline could not be built. Messages never quote the endpoint, which may
/// hold a password.
#[derive(Debug, thiserror::Error)]
pub enum TracesError {
    #[error("the OTLP endpoint is not an http:// or https:// URL")]
    Endpoint,
    #[error("could not start the OTLP exporter's runtime")]
    Runtime(#[source] std::io::Error),
    #[error("could not build the OTLP exporter's HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("could not build the OTLP exporter")]
    Exporter(#[source] opentelemetry_otlp::ExporterBuildError),
}

/// The trace pipeline: the gateway's spans, batched and exported over OTLP/HTTP (protobuf).
/// Cheap to clone; [`Traces::layer`] is its `tracing` side.
#[derive(Debug, Clone)]
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// The pipeline the configuration names ([`traces_url`]), or `None`.
    pub fn from_config(config: &Config) -> Result<Option<Traces>, TracesError> {
        traces_url(config).map(|url| Traces::to_url(&url)).transpose()
    }

    /// Spans to the OTLP/HTTP traces endpoint `url`, such as `http://127.0.0.1:4318/v1/traces`.
    ///
    /// The service is named `billing-gateway` unless `OTEL_SERVICE_NAME` (or `service.name` in
    /// `OTEL_RESOURCE_ATTRIBUTES`) says otherwise; the sampler follows `OTEL_TRACES_SAMPLER` and
    /// `OTEL_TRACES_SAMPLER_ARG` (by default, every trace the caller did not decline), the
    /// batches `OTEL_BSP_*`, and the exporter `OTEL_EXPORTER_OTLP_HEADERS` and `_TIMEOUT`.
    pub fn to_url(url: &str) -> Result<Traces, TracesError> {
        let parsed = reqwest::Url::parse(url).map_err(|_| TracesError::Endpoint)?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(TracesError::Endpoint);
        }
        let timeout = export_timeout();
        let client = ExportClient::new(timeout)?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_endpoint(url)
            .with_protocol(Protocol::HttpBinary)
            .with_timeout(timeout)
            .build()
            .map_err(TracesError::Exporter)?;
        let provider = SdkTracerProvider::builder()
            .with_span_processor(WithRequestId(BatchSpanProcessor::builder(exporter).build()))
            .with_resource(resource())
            .build();
        // For other OpenTelemetry instrumentation in the process; ours uses its own propagator.
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        Ok(Traces { provider })
    }

    /// The `tracing` layer that turns the gateway's spans into OpenTelemetry spans: those of
    /// `billing_gateway`, `billing_graphql` and `billing_http` at `DEBUG` and above, whatever
    /// `RUST_LOG` says of log lines, and no other crate's.
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let tracer = self.provider.tracer("billing-gateway");
        let ours = Targets::new()
            .with_target("billing_gateway", Level::DEBUG)
            .with_target("billing_graphql", Level::DEBUG)
            .with_target("billing_http", Level::DEBUG);
        tracing_opentelemetry::layer().with_tracer(tracer).with_threads(false).with_filter(ours)
    }

    /// Exports every span ended so far. Blocks a thread of tokio's blocking pool, not the caller.
    pub async fn flush(&self) {
        let provider = self.provider.clone();
        let flushed = tokio::task::spawn_blocking(move || provider.force_flush()).await;
        if let Ok(Err(e)) = flushed {
            tracing::warn!(error = %e, "could not export spans");
        }
    }

    /// Exports what is left and stops the pipeline (at shutdown).
    pub async fn shutdown(self) {
        let provider = self.provider;
        let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    }
}

/// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` or `OTEL_EXPORTER_OTLP_TIMEOUT`, in milliseconds; 10 s by
/// default, as the specification says.
fn export_timeout() -> Duration {
    ["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"]
        .iter()
        .find_map(|name| std::env::var(name).ok()?.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(10), Duration::from_millis)
}

/// The service's resource: named `billing-gateway` unless the environment names it.
fn resource() -> Resource {
    let named = std::env::var_os("OTEL_SERVICE_NAME").is_some_and(|v| !v.is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|a| a.contains("service.name="));
    let builder = Resource::builder().with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
    if named { builder.build() } else { builder.with_service_name("billing-gateway").build() }
}

/// The OTLP exporter's HTTP client: the workspace's reqwest (no second HTTP stack), on a
/// runtime of its own. The batch processor exports from its own thread with a plain executor,
/// where a tokio-based client cannot run; this client hands each export to its runtime and
/// waits for the answer, so it works from any thread and outlives any caller's runtime.
///
/// It sends spans only: no upstream call goes through it, and it never sees a caller's
/// credential (only the collector's own headers, from `OTEL_EXPORTER_OTLP_HEADERS`).
#[derive(Debug)]
struct ExportClient {
    http: reqwest::Client,
    runtime: Option<tokio::runtime::Runtime>,
}

/// A collector answers an export with a small protobuf; more is refused.
const MAX_EXPORT_ANSWER: usize = 1024 * 1024;

impl ExportClient {
    fn new(timeout: Duration) -> Result<Self, TracesError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp-export")
            .enable_all()
            .build()
            .map_err(TracesError::Runtime)?;
        #[allow(
            clippy::disallowed_methods,
            reason = "the OTLP exporter's client reaches the collector, not an upstream"
        )]
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(TracesError::Client)?;
        Ok(ExportClient { http, runtime: Some(runtime) })
    }
}

impl Drop for ExportClient {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics on an async thread; this one need not wait.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for ExportClient {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, opentelemetry_http::HttpError> {
        let runtime = self.runtime.as_ref().ok_or("the exporter has shut down")?;
        let request = reqwest::Request::try_from(request)?;
        let http = self.http.clone();
        let answer = runtime.spawn(async move {
            let mut response = http.execute(request).await?;
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_EXPORT_ANSWER {
                    return Err::<_, opentelemetry_http::HttpError>("the collector's answer is too large".into());
                }
                body.extend_from_slice(&chunk);
            }
            let mut answer = http::Response::new(Bytes::from(body));
            *answer.status_mut() = response.status();
            *answer.headers_mut() = std::mem::take(response.headers_mut());
            Ok(answer)
        });
        answer.await?
    }
}

/// The id of the HTTP request a span belongs to, carried in the OpenTelemetry context from the
/// request's span to every span under it (single-flight executions included).
#[derive(Debug, Clone)]
struct RequestId(Arc<str>);

/// Gives every span under a request's span its `request_id` attribute (the request's own span
/// has it as a field), then hands the span on.
#[derive(Debug)]
struct WithRequestId<P>(P);

impl<P: SpanProcessor> SpanProcessor for WithRequestId<P> {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &Context) {
        let local_parent = cx.has_active_span() && !cx.span().span_context().is_remote();
        if let (true, Some(RequestId(id))) = (local_parent, cx.get::<RequestId>()) {
            span.set_attribute(KeyValue::new("request_id", Arc::clone(id)));
        }
        self.0.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.0.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}

/// Makes a request's span the continuation of its caller's trace, when the caller sent a W3C
/// trace context (`traceparent`, `tracestate`), and carries its request id to the spans below.
pub(crate) fn continue_trace(span: &tracing::Span, headers: &http::HeaderMap, request_id: &str) {
    let parent = TraceContextPropagator::new().extract(&opentelemetry_http::HeaderExtractor(headers));
    // Fails only when the span is disabled or the layer absent: then there is nothing to link.
    let _ = span.set_parent(parent.with_value(RequestId(Arc::from(request_id))));
}

/// Puts the current span's W3C trace context on each upstream request. Called by the transport
/// inside the attempt's `upstream_call` span, so the upstream's parent is that attempt.
#[derive(Debug)]
pub(crate) struct PropagateTraceContext;

impl billing_http::InjectHeaders for PropagateTraceContext {
    fn inject(&self, headers: &mut http::HeaderMap) {
        let cx = tracing::Span::current().context();
        TraceContextPropagator::new().inject_context(&cx, &mut opentelemetry_http::HeaderInjector(headers));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_go_to_v1_traces_under_the_collector_s_base_url() {
        let env_says = ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED"];
        if env_says.iter().any(|v| std::env::var_os(v).is_some()) {
            return; // The environment decides instead; covered where it is clean.
        }
        let mut config = Config::defaults();
        let mut url = |endpoint: Option<&str>| {
            config.otlp_endpoint = endpoint.map(str::to_owned);
            traces_url(&config)
        };
        assert_eq!(url(None), None, "no collector, no traces");
        assert_eq!(url(Some("  ")), None);
        assert_eq!(url(Some("http://collector:4318")).as_deref(), Some("http://collector:4318/v1/traces"));
        assert_eq!(url(Some("http://collector:4318/")).as_deref(), Some("http://collector:4318/v1/traces"));
        assert_eq!(url(Some("https://otlp.example/v1/traces")).as_deref(), Some("https://otlp.example/v1/traces"));
    }

    #[test]
    fn an_endpoint_must_be_an_http_url() {
        for bad in ["ftp://collector", "collector:4318", ""] {
            assert!(matches!(Traces::to_url(bad), Err(TracesError::Endpoint)), "{bad}");
        }
    }
}
