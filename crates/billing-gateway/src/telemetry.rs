//! Logs and metrics: `tracing` to stdout as text or JSON, Prometheus text at `/metrics`.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global log subscriber (`RUST_LOG` overrides the default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Histogram buckets for durations, in seconds: 1 ms (a warm cache hit) to 30 s (the request
/// timeout). Buckets, not summaries: a histogram's counts add up across replicas.
pub const DURATION_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

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
