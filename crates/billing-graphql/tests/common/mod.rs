//! Shared test setup: a simulator on a fixed clock, a schema over it, and small helpers.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::time::Duration;

use billing_graphql::{BillingGraph, Credentials, SchemaConfig, Upstreams};
use billing_http::{
    ElasticBillingV1, ElasticBillingV2, Limit, RetryPolicy, TalkdeskBillingInsights, Transport, TransportConfig,
};
use billing_sim::{SimConfig, SimHandle};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

/// The simulator's clock in these tests.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

pub async fn sim() -> SimHandle {
    billing_sim::spawn(SimConfig::at(now())).await.unwrap()
}

/// Generous timeouts: a loaded CI machine must not turn a slow answer into a retry, which
/// would change the call counts the tests assert. Timeout tests set their own.
pub fn transport_config() -> TransportConfig {
    TransportConfig {
        request_timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            deadline: Duration::from_secs(20),
        },
        ..TransportConfig::default()
    }
    .with_limits(Limit::unlimited(16))
}

pub fn graph(sim: &SimHandle, config: SchemaConfig) -> BillingGraph {
    graph_with(sim, config, transport_config())
}

/// A schema over `sim` with this transport.
pub fn graph_with(sim: &SimHandle, config: SchemaConfig, transport: TransportConfig) -> BillingGraph {
    let t = Transport::new(transport).unwrap();
    let upstreams = Upstreams {
        elastic_v1: ElasticBillingV1::new(t.clone(), &sim.elastic_v1_url()).unwrap(),
        elastic_v2: ElasticBillingV2::new(t.clone(), &sim.elastic_v2_url()).unwrap(),
        talkdesk: TalkdeskBillingInsights::new(t, &sim.talkdesk_url()).unwrap(),
    };
    BillingGraph::new(upstreams, config)
}

/// A schema without the cross-request cache, so each request's upstream calls are visible.
pub fn uncached(sim: &SimHandle) -> BillingGraph {
    let mut config = SchemaConfig::default();
    config.cache.enabled = false;
    graph(sim, config)
}

/// An uncached schema whose clock is the simulator's ([`now`]): for the fields that read "today".
pub fn uncached_at_sim_clock(sim: &SimHandle) -> BillingGraph {
    let mut config = SchemaConfig::default();
    config.cache.enabled = false;
    config.now = Some(now());
    graph(sim, config)
}

/// The demo credentials: the Elastic demo key and the first Talkdesk token.
pub fn demo(sim: &SimHandle) -> Credentials {
    let c = sim.dataset().credentials();
    Credentials::none()
        .with_elastic_header(Some(&format!("ApiKey {}", c.elastic_demo_key)))
        .with_talkdesk_header(Some(&format!("Bearer {}", c.talkdesk_token)))
}

/// Runs a query; returns `data` and `errors` as JSON.
pub async fn run(graph: &BillingGraph, creds: Credentials, query: &str) -> (Value, Vec<Value>) {
    let response = graph.execute(query, creds).await;
    let json = serde_json::to_value(&response).unwrap();
    let errors = json.get("errors").and_then(Value::as_array).cloned().unwrap_or_default();
    (json["data"].clone(), errors)
}

/// Runs a query through `execute_json` (the planned executor where it covers the document);
/// returns `data` and `errors` as JSON.
pub async fn run_json(graph: &BillingGraph, creds: Credentials, query: &str) -> (Value, Vec<Value>) {
    let answer = graph.execute_json(query, creds).await;
    let json: Value = serde_json::from_slice(answer.body()).unwrap();
    let errors = json.get("errors").and_then(Value::as_array).cloned().unwrap_or_default();
    (json["data"].clone(), errors)
}

/// Runs a query that must succeed.
pub async fn data(graph: &BillingGraph, creds: Credentials, query: &str) -> Value {
    let (data, errors) = run(graph, creds, query).await;
    assert!(errors.is_empty(), "unexpected errors: {errors:#?}");
    data
}

/// The `extensions.code` of each error.
pub fn codes(errors: &[Value]) -> Vec<String> {
    errors.iter().map(|e| e["extensions"]["code"].as_str().unwrap_or("<none>").to_owned()).collect()
}

pub fn calls(sim: &SimHandle, template: &str) -> u64 {
    sim.stats().calls(template)
}
