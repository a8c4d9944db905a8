//! The cache across requests: hits, TTL, credential isolation, coalescing, errors not cached.

mod common;

use std::time::Duration;

use billing_graphql::{CostOptions, Credentials, SchemaConfig};
use billing_sim::{Fault, Latency, endpoints as ep};
use common::*;

fn cached(ttl: Duration) -> SchemaConfig {
    let mut config = SchemaConfig::default();
    config.cache.ttl = ttl;
    config.cache.closed_ttl = ttl;
    config
}

fn deployments_query(org: &str) -> String {
    format!(
        r#"{{ organization(id: "{org}") {{ deployments(from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z") {{ id totalCost }} }} }}"#
    )
}

// moka expires entries on its own clock, which a test cannot move (its mock clock is for moka's
// tests only). So neither half below depends on how fast the machine is: the hit is within a
// TTL no machine outlasts, and the expiry is past a TTL that any wait outlasts (a sleep never
// ends early, however loaded the machine).

#[tokio::test]
async fn a_warm_cache_serves_repeats_without_upstream_calls_within_the_ttl() {
    let sim = sim().await;
    let graph = graph(&sim, cached(Duration::from_secs(600)));
    let q = deployments_query(sim.dataset().demo_org().id.as_str());
    let first = data(&graph, demo(&sim), &q).await;
    let second = data(&graph, demo(&sim), &q).await;
    assert_eq!(first, second);
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 1, "the second request is a hit");
}

#[tokio::test]
async fn an_entry_is_not_served_past_its_ttl() {
    let sim = sim().await;
    let ttl = Duration::from_millis(1);
    let graph = graph(&sim, cached(ttl));
    let q = deployments_query(sim.dataset().demo_org().id.as_str());
    let first = data(&graph, demo(&sim), &q).await;
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 1);
    tokio::time::sleep(20 * ttl).await;
    let second = data(&graph, demo(&sim), &q).await;
    assert_eq!(first, second);
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 2, "expired after the TTL");
}

#[tokio::test]
async fn one_credential_never_reads_what_another_cached() {
    let sim = sim().await;
    let graph = graph(&sim, cached(Duration::from_secs(60)));
    let ds = sim.dataset();
    let q = deployments_query(ds.demo_org().id.as_str());
    data(&graph, demo(&sim), &q).await;
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 1);

    // The other key may not read the demo org: it must reach the upstream and be refused.
    let other =
        Credentials::none().with_elastic_header(Some(&format!("ApiKey {}", ds.credentials().elastic_other_key)));
    let (data_other, errors) = run(&graph, other.clone(), &q).await;
    assert_eq!(codes(&errors), ["organization.invalid_access"]);
    assert!(data_other["organization"]["deployments"].is_null(), "{data_other}");
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 2);

    // An invalid key is refused too, every time: errors are never cached.
    let wrong = Credentials::none().with_elastic_header(Some("ApiKey not-a-key"));
    for n in 3..=4 {
        let (_, errors) = run(&graph, wrong.clone(), &q).await;
        assert_eq!(codes(&errors), ["UNAUTHENTICATED"]);
        assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), n);
    }

    // The same key sent as a bearer token is another credential identity.
    let bearer =
        Credentials::none().with_elastic_header(Some(&format!("Bearer {}", ds.credentials().elastic_demo_key)));
    data(&graph, bearer, &q).await;
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 5);
}

#[tokio::test]
async fn identical_concurrent_requests_share_one_upstream_call() {
    let sim = sim().await;
    sim.set_latency(Some(ep::V1_DEPLOYMENTS), Latency::Fixed(Duration::from_millis(150)));
    let graph = graph(&sim, cached(Duration::from_secs(60)));
    let q = deployments_query(sim.dataset().demo_org().id.as_str());
    let runs = (0..8).map(|_| {
        let graph = graph.clone();
        let creds = demo(&sim);
        let q = q.clone();
        tokio::spawn(async move { data(&graph, creds, &q).await })
    });
    let results = futures::future::join_all(runs).await;
    let first = results[0].as_ref().unwrap();
    assert!(results.iter().all(|r| r.as_ref().unwrap() == first));
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 1, "eight concurrent requests, one call");
}

#[tokio::test]
async fn errors_are_not_cached() {
    let sim = sim().await;
    let graph = graph(&sim, cached(Duration::from_secs(60)));
    let q = deployments_query(sim.dataset().demo_org().id.as_str());
    sim.push_faults(Some(ep::V1_DEPLOYMENTS), [Fault::server_error()]);
    let (_, errors) = run(&graph, demo(&sim), &q).await;
    assert_eq!(errors.len(), 1);
    data(&graph, demo(&sim), &q).await;
    data(&graph, demo(&sim), &q).await;
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 2, "the error was retried next time, the success cached");
}

#[tokio::test]
async fn the_cache_can_be_switched_off() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let q = deployments_query(sim.dataset().demo_org().id.as_str());
    data(&graph, demo(&sim), &q).await;
    data(&graph, demo(&sim), &q).await;
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 2);
    assert_eq!(graph.cache().entry_count(), 0);
}

/// Whole answers: a repeat of a complete answer is served from its bytes without executing
/// (no upstream call, no execution started); an answer with an error is never kept.
#[tokio::test]
async fn a_repeated_request_answers_from_stored_bytes_and_errors_are_not_kept() {
    let sim = sim().await;
    let graph = graph(&sim, SchemaConfig::default());
    let org = sim.dataset().demo_org().id.to_string();
    let q = format!(
        r#"{{ organization(id: "{org}") {{ costs(from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z") {{ total }} }} }}"#
    );
    sim.push_faults(Some(ep::V1_OVERVIEW), [billing_sim::Fault::server_error()]);
    let failed = graph.execute_json(q.as_str(), demo(&sim)).await;
    assert_eq!(failed.kind(), billing_graphql::AnswerKind::Partial);
    let first = graph.execute_json(q.as_str(), demo(&sim)).await;
    assert_eq!(first.kind(), billing_graphql::AnswerKind::Complete, "the failed answer was not kept");
    assert_eq!(graph.executions_started(), 2);
    let calls = sim.stats().total();
    let again = graph.execute_json(q.as_str(), demo(&sim)).await;
    // The same bytes but for the cost report, which says what this repeat cost: nothing.
    let json = |a: &billing_graphql::Answer| serde_json::from_slice::<serde_json::Value>(a.body()).unwrap();
    let (again_json, first_json) = (json(&again), json(&first));
    assert_eq!(again_json["data"], first_json["data"]);
    assert_eq!(
        again_json["extensions"]["cost"]["actual"],
        serde_json::json!({ "calls": 0, "cacheHits": 1, "byEndpoint": {} })
    );
    let cost = again.cost().unwrap();
    assert_eq!((cost.actual.calls, cost.estimated.calls), (0, 0));
    assert_eq!(graph.executions_started(), 2, "no execution for a repeat");
    assert_eq!(sim.stats().total(), calls, "no upstream call for a repeat");
    // Later repeats share the reported bytes of the first, rather than each copying the
    // answer to add its report; without the report, they share the kept answer's bytes.
    let third = graph.execute_json(q.as_str(), demo(&sim)).await;
    assert_eq!(third.body(), again.body());
    assert_eq!(third.body().as_ptr(), again.body().as_ptr(), "the same bytes, not a copy");
    let unreported = CostOptions { report: false, ..CostOptions::default() };
    let bare = graph.execute_json_with(q.as_str(), demo(&sim), unreported).await;
    let bare_again = graph.execute_json_with(q.as_str(), demo(&sim), unreported).await;
    assert!(!String::from_utf8_lossy(bare.body()).contains("extensions"));
    assert_eq!(bare.body().as_ptr(), bare_again.body().as_ptr());
    assert_eq!(json(&bare)["data"], first_json["data"]);
    assert_eq!(graph.executions_started(), 2);
    // Another caller is another answer.
    let other = billing_graphql::Credentials::none()
        .with_elastic_header(Some(&format!("ApiKey {}", sim.dataset().credentials().elastic_other_key)));
    graph.execute_json(q.as_str(), other).await;
    assert_eq!(graph.executions_started(), 3);
}

/// A server may look a request up among the kept answers before it parses it
/// (`kept_answer`), and gets what `execute_json` would answer; a miss is remembered, so the
/// request then run is not looked up, nor counted, twice.
#[tokio::test]
async fn a_server_looks_up_kept_answers_first_and_a_miss_is_counted_once() {
    let recorder: &'static metrics_util::debugging::DebuggingRecorder =
        Box::leak(Box::new(metrics_util::debugging::DebuggingRecorder::new()));
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(recorder);
    // Lookups (misses, hits) counted since the last call: a snapshot takes the counts.
    let lookups = || {
        let (mut miss, mut hit) = (0, 0);
        for (key, .., value) in snapshotter.snapshot().into_vec() {
            let (key, metrics_util::debugging::DebugValue::Counter(n)) = (key.key(), value) else { continue };
            if key.name() == "billing_answer_cache_requests_total" {
                match key.labels().find(|l| l.key() == "result").map(|l| l.value().to_owned()).as_deref() {
                    Some("miss") => miss += n,
                    Some("hit") => hit += n,
                    _ => {}
                }
            }
        }
        (miss, hit)
    };
    let sim = sim().await;
    let graph = graph(&sim, SchemaConfig::default());
    let org = sim.dataset().demo_org().id.to_string();
    let q = format!(
        r#"{{ organization(id: "{org}") {{ costs(from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z") {{ total }} }} }}"#
    );
    let mut request = async_graphql::Request::new(q.as_str());
    assert!(graph.kept_answer(&mut request, &demo(&sim), CostOptions::default()).await.is_none());
    let first = graph.execute_json(request, demo(&sim)).await;
    assert_eq!(first.kind(), billing_graphql::AnswerKind::Complete);
    assert_eq!(lookups(), (1, 0), "the miss is not looked up again");
    let mut again = async_graphql::Request::new(q.as_str());
    let kept = graph.kept_answer(&mut again, &demo(&sim), CostOptions::default()).await.unwrap();
    let repeat = graph.execute_json(q.as_str(), demo(&sim)).await;
    assert_eq!(kept.body(), repeat.body());
    let json = |a: &billing_graphql::Answer| serde_json::from_slice::<serde_json::Value>(a.body()).unwrap();
    assert_eq!(json(&kept)["data"], json(&first)["data"]);
    assert_eq!(json(&kept)["extensions"]["cost"]["actual"]["calls"], 0);
    assert_eq!(lookups(), (0, 2));
    assert_eq!(graph.executions_started(), 1);
    // A request looked up for one caller and then run with another's credentials is kept
    // under the caller who ran it, never under the one it was looked up for.
    let other = Credentials::none()
        .with_elastic_header(Some(&format!("ApiKey {}", sim.dataset().credentials().elastic_other_key)));
    let september = q.replace("2026-10-01", "2026-09-01").replace("2026-11-01", "2026-10-01");
    let mut request = async_graphql::Request::new(september.as_str());
    assert!(graph.kept_answer(&mut request, &other, CostOptions::default()).await.is_none());
    let ran = graph.execute_json(request, demo(&sim)).await;
    assert_eq!(ran.kind(), billing_graphql::AnswerKind::Complete);
    let mut theirs = async_graphql::Request::new(september.as_str());
    assert!(graph.kept_answer(&mut theirs, &other, CostOptions::default()).await.is_none(), "not another's answer");
    let mut ours = async_graphql::Request::new(september.as_str());
    assert!(graph.kept_answer(&mut ours, &demo(&sim), CostOptions::default()).await.is_some());
    // Not for a dry run (which answers an estimate), nor with the cache off.
    let dry = CostOptions { dry_run: true, ..CostOptions::default() };
    assert!(graph.kept_answer(&mut async_graphql::Request::new(q.as_str()), &demo(&sim), dry).await.is_none());
    let mut config = SchemaConfig::default();
    config.cache.enabled = false;
    let off = common::graph(&sim, config);
    off.execute_json(q.as_str(), demo(&sim)).await;
    let mut request = async_graphql::Request::new(q.as_str());
    assert!(off.kept_answer(&mut request, &demo(&sim), CostOptions::default()).await.is_none());
}

/// An answer about closed ranges only is kept for the long TTL; one that touched a range that
/// may still change (month to date) for the short one (here: not at all).
#[tokio::test]
async fn whole_answers_are_kept_by_the_finality_of_their_ranges() {
    let sim = sim().await;
    let mut config = SchemaConfig::default();
    config.cache.ttl = Duration::ZERO;
    config.cache.closed_ttl = Duration::from_secs(3600);
    let graph = graph(&sim, config);
    let org = sim.dataset().demo_org().id.to_string();
    let closed = format!(
        r#"{{ organization(id: "{org}") {{ costs(from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z") {{ total }} }} }}"#
    );
    let open = format!(r#"{{ organization(id: "{org}") {{ costs {{ total }} }} }}"#);
    for _ in 0..2 {
        graph.execute_json(closed.as_str(), demo(&sim)).await;
    }
    assert_eq!(graph.executions_started(), 1, "closed: kept");
    for _ in 0..2 {
        graph.execute_json(open.as_str(), demo(&sim)).await;
    }
    assert_eq!(graph.executions_started(), 3, "open: not kept past its TTL");
}
