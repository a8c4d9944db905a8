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
    assert_eq!(graph.executions_started(), 1, "eight identical requests, one execution");
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 1);

    // Another credential, or other variables, is another operation.
    let other = Credentials::none()
        .with_elastic_header(Some(&format!("ApiKey {}", sim.dataset().credentials().elastic_other_key)));
    let with_vars = async_graphql::Request::new("query Q($id: ID!) { organization(id: $id) { id } }")
        .variables(async_graphql::Variables::from_json(serde_json::json!({ "id": org })));
    let (_, _, _) =
        tokio::join!(run(&graph, demo(&sim), &q), run(&graph, other, &q), graph.execute(with_vars, demo(&sim)),);
    assert_eq!(graph.executions_started(), 4);
}

#[tokio::test]
async fn without_the_cache_every_request_executes() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let q = format!(r#"{{ organization(id: "{}") {{ deployments {{ id }} }} }}"#, sim.dataset().demo_org().id);
    futures::future::join_all((0..3).map(|_| data(&graph, demo(&sim), &q))).await;
    assert_eq!(graph.executions_started(), 0);
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 3);
}

#[tokio::test]
async fn an_abandoned_execution_stops_and_leaves() {
    // An execution whose every caller has gone (a client that hung up, a timeout above) is
    // stopped: it leaves the map at once, and makes none of the calls it had yet to make.
    let sim = sim().await;
    sim.set_latency(Some(ep::V1_DEPLOYMENTS), Latency::Fixed(Duration::from_millis(200)));
    let graph = graph(&sim, SchemaConfig::default());
    let q = format!(
        r#"{{ organization(id: "{}") {{ deployments {{ id charts {{ points {{ total }} }} }} }} }}"#,
        sim.dataset().demo_org().id
    );
    let abandoned = tokio::time::timeout(Duration::from_millis(50), run(&graph, demo(&sim), &q)).await;
    assert!(abandoned.is_err(), "the caller gave up");
    assert_eq!(graph.executions_in_flight(), 0, "stopped when its last caller went");
    // Past the latency, a running execution would have gone on to each deployment's charts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENT_CHARTS), 0);
    data(&graph, demo(&sim), &q).await;
    assert_eq!(graph.executions_started(), 2, "a later request starts afresh");
}

#[tokio::test]
async fn one_caller_going_does_not_stop_the_execution_for_the_others() {
    let sim = sim().await;
    sim.set_latency(Some(ep::V1_DEPLOYMENTS), Latency::Fixed(Duration::from_millis(200)));
    let graph = graph(&sim, SchemaConfig::default());
    let q = format!(r#"{{ organization(id: "{}") {{ deployments {{ id }} }} }}"#, sim.dataset().demo_org().id);
    let (gone, stayed) = tokio::join!(
        tokio::time::timeout(Duration::from_millis(50), run(&graph, demo(&sim), &q)),
        data(&graph, demo(&sim), &q)
    );
    assert!(gone.is_err());
    assert!(!stayed["organization"]["deployments"].as_array().unwrap().is_empty());
    assert_eq!(graph.executions_started(), 1);
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 1);
}

/// An upstream call that would outlive the request fails alone, before the request's time is
/// up: its field is null with `UPSTREAM_TIMEOUT`, and the rest of the answer is kept. (The
/// call's own deadline here is 20 s; the request's, 300 ms, comes first.)
#[tokio::test]
async fn a_call_that_would_outlive_its_request_fails_alone() {
    let sim = sim().await;
    sim.set_latency(Some(ep::V1_DEPLOYMENTS), Latency::Fixed(Duration::from_secs(5)));
    let mut config = SchemaConfig::default();
    config.limits.execution_timeout = Duration::from_millis(300);
    let graph = graph(&sim, config);
    let org = sim.dataset().demo_org().id.to_string();
    let q = format!(r#"{{ organization(id: "{org}") {{ costs {{ total }} deployments {{ id }} }} }}"#);
    for planned in [false, true] {
        let (data, errors) =
            if planned { run_json(&graph, demo(&sim), &q).await } else { run(&graph, demo(&sim), &q).await };
        assert!(data["organization"]["costs"]["total"].is_number(), "{data}");
        assert!(data["organization"]["deployments"].is_null(), "{data}");
        assert_eq!(codes(&errors), ["UPSTREAM_TIMEOUT"], "planned: {planned}");
        assert_eq!(graph.executions_in_flight(), 0);
        graph.clear_caches();
    }
}
