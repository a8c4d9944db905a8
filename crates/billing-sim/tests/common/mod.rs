//! Helpers shared by the integration tests: a fixed clock, a small simulator, and HTTP shortcuts.
// Each test crate uses a different subset; helpers outside #[test] fns unwrap like tests do.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use billing_sim::{Scale, SimConfig, SimHandle};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

/// The fixed "now" of every test: mid-month, mid-day, so month-to-date ranges are partial.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 17, 13, 30, 0).unwrap()
}

/// The demo config on the fixed clock, with a smaller big organization so tests stay fast.
pub fn config() -> SimConfig {
    SimConfig { scale: Scale { big_org_deployments: 60, ..Scale::default() }, ..SimConfig::at(now()) }
}

pub async fn start() -> SimHandle {
    billing_sim::spawn(config()).await.unwrap()
}

/// A plain client. The simulator's tests speak raw HTTP and cannot use billing-http's transport,
/// whose own tests run against this simulator.
#[allow(clippy::disallowed_methods, reason = "a test's client of the simulator or the gateway")]
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

/// A GET with an optional raw `Authorization` header value.
pub async fn get(url: &str, authorization: Option<&str>) -> reqwest::Response {
    let mut request = client().get(url);
    if let Some(a) = authorization {
        request = request.header("authorization", a);
    }
    request.send().await.unwrap()
}

/// A GET expected to answer JSON; returns the status and the body.
pub async fn get_json(url: &str, authorization: Option<&str>) -> (u16, Value) {
    let response = get(url, authorization).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {status} not JSON ({e}): {text}"));
    (status, body)
}

/// `ApiKey <demo key>`.
pub fn demo_key(sim: &SimHandle) -> String {
    format!("ApiKey {}", sim.dataset().credentials().elastic_demo_key)
}

/// `ApiKey <other key>`.
pub fn other_key(sim: &SimHandle) -> String {
    format!("ApiKey {}", sim.dataset().credentials().elastic_other_key)
}

/// `Bearer <talkdesk token>`.
pub fn talkdesk_token(sim: &SimHandle) -> String {
    format!("Bearer {}", sim.dataset().credentials().talkdesk_token)
}

/// A v1 URL under `/billing/costs/{org}`.
pub fn v1(sim: &SimHandle, org: &str, rest: &str) -> String {
    format!("{}/billing/costs/{org}{rest}", sim.elastic_v1_url())
}

/// A v2 URL under `/billing/organizations/{org}`.
pub fn v2(sim: &SimHandle, org: &str, rest: &str) -> String {
    format!("{}/billing/organizations/{org}{rest}", sim.elastic_v2_url())
}

/// Absolute-or-relative float comparison for sums computed in different orders.
pub fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance * a.abs().max(b.abs()).max(1.0)
}

/// `round(v, 4)`.
pub fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// The numbers of a JSON array, by field.
pub fn f(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer).and_then(Value::as_f64).unwrap_or_else(|| panic!("no number at {pointer} in {v}"))
}

/// The sum of every value of every point of a chart answer.
pub fn chart_total(chart: &Value) -> f64 {
    chart["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["values"].as_array().unwrap())
        .map(|v| v["value"].as_f64().unwrap())
        .sum()
}
