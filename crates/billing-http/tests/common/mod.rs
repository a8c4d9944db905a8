//! Helpers shared by the integration tests: a simulator on a fixed clock, fast transports, clients.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use billing_http::{
    ElasticBillingV1, ElasticBillingV2, ElasticCredentials, Error, Limit, RetryPolicy, TalkdeskBillingInsights,
    TalkdeskToken, Transport, TransportConfig,
};
use billing_model::DateRange;
use billing_sim::{SimConfig, SimHandle};
use chrono::{DateTime, TimeZone, Utc};

/// The fixed "now" of every test: mid-month, mid-day, so month-to-date ranges are partial.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 17, 13, 30, 0).unwrap()
}

/// A UTC midnight.
pub fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

/// `[from, to)` between two midnights.
pub fn range(from: (i32, u32, u32), to: (i32, u32, u32)) -> DateRange {
    DateRange::new(day(from.0, from.1, from.2), day(to.0, to.1, to.2)).unwrap()
}

/// A simulator on the fixed clock with the demo dataset.
pub async fn sim() -> SimHandle {
    billing_sim::spawn(SimConfig::at(now())).await.unwrap()
}

/// Retries that keep tests fast: 3 attempts, millisecond backoffs, a 5 s deadline.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        deadline: Duration::from_secs(5),
    }
}

/// A transport config for tests: short timeouts, fast retries, no client-side rate limit.
pub fn config() -> TransportConfig {
    TransportConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        retry: fast_retry(),
        ..TransportConfig::default()
    }
    .with_limits(Limit::unlimited(16))
}

/// The three clients over one transport, pointed at a simulator.
#[derive(Debug, Clone)]
pub struct Clients {
    pub transport: Transport,
    pub v1: ElasticBillingV1,
    pub v2: ElasticBillingV2,
    pub td: TalkdeskBillingInsights,
}

impl Clients {
    pub fn new(sim: &SimHandle, config: TransportConfig) -> Self {
        let transport = Transport::new(config).unwrap();
        Clients {
            v1: ElasticBillingV1::new(transport.clone(), &sim.elastic_v1_url()).unwrap(),
            v2: ElasticBillingV2::new(transport.clone(), &sim.elastic_v2_url()).unwrap(),
            td: TalkdeskBillingInsights::new(transport.clone(), &sim.talkdesk_url()).unwrap(),
            transport,
        }
    }
}

/// Clients with [`config`].
pub fn clients(sim: &SimHandle) -> Clients {
    Clients::new(sim, config())
}

/// The key that reads every organization but the "other" one.
pub fn demo_key(sim: &SimHandle) -> ElasticCredentials {
    ElasticCredentials::api_key(&sim.dataset().credentials().elastic_demo_key).unwrap()
}

/// The key that reads only the "other" organization.
pub fn other_key(sim: &SimHandle) -> ElasticCredentials {
    ElasticCredentials::api_key(&sim.dataset().credentials().elastic_other_key).unwrap()
}

/// The token of the first Talkdesk organization.
pub fn td_token(sim: &SimHandle) -> TalkdeskToken {
    TalkdeskToken::new(&sim.dataset().credentials().talkdesk_token).unwrap()
}

/// `http://127.0.0.1:<port>` with nothing listening: a port bound, then released.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// `a` and `b` agree to within `tol` (absolute).
pub fn assert_close(a: f64, b: f64, tol: f64, what: &str) {
    assert!((a - b).abs() <= tol, "{what}: {a} vs {b} (tolerance {tol})");
}

/// Checks what every error's text must hold: `Display` names the endpoint's template and never the
/// upstream's host or port; neither `Display` nor `Debug` shows any of the given secrets.
pub fn assert_error_text(err: &Error, addr: &str, secrets: &[&str]) {
    let display = err.to_string();
    let debug = format!("{err:?}");
    assert!(display.contains(err.endpoint().template), "{display}");
    assert!(!display.contains(addr) && !display.contains("127.0.0.1"), "the address leaks: {display}");
    for text in [&display, &debug] {
        for secret in secrets {
            assert!(!text.contains(secret), "a secret leaks: {text}");
        }
    }
}

/// The waits the transport decides before its retries, read from its `metrics` through a
/// recorder local to this thread: what a test asserts instead of timing the call.
///
/// Only for `current_thread` tests (`#[tokio::test]`'s default), where every await runs on the
/// thread the recorder was installed on.
pub struct RetryWaits {
    snapshotter: metrics_util::debugging::Snapshotter,
    _guard: metrics::LocalRecorderGuard<'static>,
}

impl RetryWaits {
    /// Starts recording on this thread, until the value is dropped.
    pub fn record() -> Self {
        // Leaked so the guard can be `'static`: one small recorder per test.
        let recorder: &'static metrics_util::debugging::DebuggingRecorder =
            Box::leak(Box::new(metrics_util::debugging::DebuggingRecorder::new()));
        let snapshotter = recorder.snapshotter();
        RetryWaits { snapshotter, _guard: metrics::set_default_local_recorder(recorder) }
    }

    /// The waits decided since the last call, as (`cause` label, wait), in the order decided
    /// per label set.
    pub fn take(&self) -> Vec<(String, Duration)> {
        let mut waits = Vec::new();
        for (key, _, _, value) in self.snapshotter.snapshot().into_vec() {
            if key.key().name() != billing_http::RETRY_WAIT_SECONDS {
                continue;
            }
            let cause =
                key.key().labels().find(|l| l.key() == "cause").map(|l| l.value().to_owned()).unwrap_or_default();
            if let metrics_util::debugging::DebugValue::Histogram(values) = value {
                waits.extend(values.into_iter().map(|v| (cause.clone(), Duration::from_secs_f64(v.into_inner()))));
            }
        }
        waits
    }
}
