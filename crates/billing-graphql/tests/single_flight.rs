//! Identical operations in flight at once share one execution (cache on), and only identical ones.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use billing_graphql::{Credentials, SchemaConfig};
use billing_sim::{Latency, endpoints as ep};
use common::*;

#[tokio::test]
async fn identical_concurrent_operations_cost_one_execution() {
    let sim = sim().await;
    sim.set_latency(Some(ep::V1_DEPLOYMENTS), Latency::Fixed(Duration::from_millis(150)));
    let graph = graph(&sim, SchemaConfig::default());
    let org = sim.dataset().demo_org().id.to_string();
    let q = format!(r#"{{ organization(id: "{org}") {{ deployments {{ id name totalCost }} }} }}"#);
    let answers = futures::future::join_all((0..8).map(|_| data(&graph, demo(&sim), &q))).await;
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "every caller gets the same answer");
    assert_eq!(graph.shared_executions(), 1, "eight identical requests, one execution");
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 1);

    // Another credential, or other variables, is another operation.
    let other = Credentials::none()
        .with_elastic_header(Some(&format!("ApiKey {}", sim.dataset().credentials().elastic_other_key)));
    let with_vars = async_graphql::Request::new("query Q($id: ID!) { organization(id: $id) { id } }")
        .variables(async_graphql::Variables::from_json(serde_json::json!({ "id": org })));
    let (_, _, _) =
        tokio::join!(run(&graph, demo(&sim), &q), run(&graph, other, &q), graph.execute(with_vars, demo(&sim)),);
    assert_eq!(graph.shared_executions(), 4);
}

#[tokio::test]
async fn without_the_cache_every_request_executes() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let q = format!(r#"{{ organization(id: "{}") {{ deployments {{ id }} }} }}"#, sim.dataset().demo_org().id);
    futures::future::join_all((0..3).map(|_| data(&graph, demo(&sim), &q))).await;
    assert_eq!(graph.shared_executions(), 0);
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 3);
}

#[tokio::test]
async fn an_abandoned_execution_still_finishes_and_leaves() {
    // Regression: a flight whose every caller went away was never polled again, so it kept its
    // upstream slot and its map entry, and a later identical request joined a stale run.
    let sim = sim().await;
    sim.set_latency(Some(ep::V1_DEPLOYMENTS), Latency::Fixed(Duration::from_millis(200)));
    let mut config = SchemaConfig::default();
    config.cache.ttl = Duration::from_millis(1);
    config.cache.closed_ttl = Duration::from_millis(1);
    let graph = graph(&sim, config);
    let q = format!(r#"{{ organization(id: "{}") {{ deployments {{ id }} }} }}"#, sim.dataset().demo_org().id);
    let abandoned = tokio::time::timeout(Duration::from_millis(50), run(&graph, demo(&sim), &q)).await;
    assert!(abandoned.is_err(), "the caller gave up");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let logged = sim.requests();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].status, Some(200), "the upstream call ran to its end without a caller");
    data(&graph, demo(&sim), &q).await;
    assert_eq!(graph.shared_executions(), 2, "a later request starts afresh");
}
