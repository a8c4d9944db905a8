//! Response fields come in query order even when a later field resolves first.

mod common;

use std::time::Duration;

use billing_sim::{Latency, endpoints as ep};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_keep_query_order_whatever_finishes_first() {
    let sim = sim().await;
    sim.set_latency(Some(ep::V1_OVERVIEW), Latency::Fixed(Duration::from_millis(150)));
    let graph = uncached(&sim);
    let org = &sim.dataset().demo_org().id;
    let query = format!(
        r#"{{ slow: organization(id: "{org}") {{ costs {{ total }} id }}
             fast: usageAggregates(first: 1) {{ totalCount nodes {{ id }} }}
             ... on Query {{ zzz: organization(id: "{org}") {{ id }} }} }}"#
    );
    let response = graph.execute(query, demo(&sim)).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let text = serde_json::to_string(&response).unwrap();
    let at = |key: &str| text.find(&format!("\"{key}\"")).unwrap_or_else(|| panic!("{key} missing: {text}"));
    assert!(at("slow") < at("fast") && at("fast") < at("zzz"), "{text}");
    assert!(at("costs") < at("id"), "nested objects too: {text}");
}
