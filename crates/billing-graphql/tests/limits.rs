//! Limits hold before any upstream call: document bounds (cycles, fragment fan-out, nesting,
//! tokens), aliases, depth, complexity, and the call budget.

mod common;

use billing_graphql::SchemaConfig;
use std::time::Duration;

use billing_sim::{Latency, endpoints as ep};
use common::*;

#[tokio::test]
async fn hundreds_of_aliases_are_refused_before_any_call() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = &sim.dataset().demo_org().id;
    let fields: String =
        (0..300).map(|i| format!(r#"a{i}: organization(id: "{org}") {{ costs {{ total }} }} "#)).collect();
    let (data, errors) = run(&graph, demo(&sim), &format!("{{ {fields} }}")).await;
    assert_eq!(codes(&errors), ["ALIAS_LIMIT_EXCEEDED"]);
    assert!(data.is_null());
    assert_eq!(sim.stats().total(), 0);
}

#[tokio::test]
async fn complex_list_queries_are_refused_before_any_call() {
    let sim = sim().await;
    let mut config = SchemaConfig::default();
    config.limits.complexity = 2_000;
    let graph = graph(&sim, config);
    let org = &sim.dataset().demo_org().id;
    // Charts and products of every deployment, twice over: costed by the assumed list length.
    let q = format!(
        r#"{{ organization(id: "{org}") {{ deployments {{ charts {{ points {{ total values {{ id name value }} }} }} products {{ lineItems {{ sku quantities {{ tiers {{ min }} }} }} }} }} }} }}"#
    );
    let (_, errors) = run(&graph, demo(&sim), &q).await;
    assert!(errors[0]["message"].as_str().unwrap().contains("complex"), "{errors:#?}");
    assert_eq!(codes(&errors), ["QUERY_TOO_COMPLEX"]);
    assert_eq!(sim.stats().total(), 0);
}

/// `n` fragments on `on`, each spreading the next twice; the last selects `leaf`.
fn fan_out(n: usize, on: &str, leaf: &str) -> String {
    let mut q = String::new();
    for i in 0..n - 1 {
        q.push_str(&format!("fragment F{i} on {on} {{ ...F{next} ...F{next} }}\n", next = i + 1));
    }
    q.push_str(&format!("fragment F{} on {on} {{ {leaf} }}\n", n - 1));
    q
}

/// Each of these once crashed the process (a stack overflow) or held a core for seconds. Each
/// answers a coded error, calls no upstream, and the graph answers the next query.
#[tokio::test]
async fn hostile_documents_are_refused_with_a_code_before_any_call() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = &sim.dataset().demo_org().id;
    let cases = [
        ("{ ...A } fragment A on Query { ...A }".to_owned(), "GRAPHQL_VALIDATION_FAILED"),
        ("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }".to_owned(), "GRAPHQL_VALIDATION_FAILED"),
        (
            format!(
                r#"{{ organization(id: "{org}") {{ ...O }} }} fragment O on Organization {{ deployments {{ id ...D }} }} fragment D on Deployment {{ ...D }}"#
            ),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (format!("{{ ...F0 }}\n{}", fan_out(24, "Query", "__typename")), "QUERY_TOO_COMPLEX"),
        (
            format!(
                r#"{{ organization(id: "{org}") {{ deployments {{ ...F0 }} }} }} {}"#,
                fan_out(24, "Deployment", "id")
            ),
            "QUERY_TOO_COMPLEX",
        ),
        (format!("{{ organization(id: {}1{}) {{ id }} }}", "[".repeat(2_000), "]".repeat(2_000)), "QUERY_TOO_COMPLEX"),
        ("{ __typename ".repeat(20_000), "TOKEN_LIMIT_EXCEEDED"),
        ("{ organization(id: ".to_owned(), "GRAPHQL_PARSE_FAILED"),
        ("{ nope }".to_owned(), "GRAPHQL_VALIDATION_FAILED"),
    ];
    for (query, code) in cases {
        let (data, errors) = run(&graph, demo(&sim), &query).await;
        assert_eq!(codes(&errors), [code], "{}: {errors:#?}", &query[..query.len().min(80)]);
        assert!(data.is_null());
    }
    assert_eq!(sim.stats().total(), 0);
    let data = data(&graph, demo(&sim), "{ __typename }").await;
    assert_eq!(data["__typename"], "Query");
}

#[tokio::test]
async fn a_fragment_spread_twice_is_answered_once() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = &sim.dataset().demo_org().id;
    let q = format!(
        r#"{{ organization(id: "{org}") {{ ...O ...O id }} }} fragment O on Organization {{ id costs {{ total }} }}"#
    );
    let data = data(&graph, demo(&sim), &q).await;
    assert_eq!(data["organization"]["id"], org.as_str());
    assert!(data["organization"]["costs"]["total"].is_number());
    assert_eq!(sim.stats().total(), 1);
}

#[tokio::test]
async fn deep_queries_are_refused() {
    let sim = sim().await;
    let mut config = SchemaConfig::default();
    config.limits.depth = 3;
    let graph = graph(&sim, config);
    let org = &sim.dataset().demo_org().id;
    let (_, errors) = run(
        &graph,
        demo(&sim),
        &format!(r#"{{ organization(id: "{org}") {{ costs {{ balance {{ lineItems {{ id }} }} }} }} }}"#),
    )
    .await;
    assert!(errors[0]["message"].as_str().unwrap().contains("nested too deep"), "{errors:#?}");
    assert_eq!(codes(&errors), ["QUERY_TOO_DEEP"]);
    assert_eq!(sim.stats().total(), 0);
}

#[tokio::test]
async fn past_the_call_budget_fields_fail_with_a_typed_error() {
    let sim = sim().await;
    let mut config = SchemaConfig::default();
    config.cache.enabled = false;
    config.limits.upstream_calls = 5;
    // The estimate alone would refuse this; the budget is the backstop behind it.
    config.limits.enforce_estimate = false;
    let graph = graph(&sim, config.clone());
    let org = &sim.dataset().demo_org().id;
    let q = format!(
        r#"{{ organization(id: "{org}") {{ deployments(from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z") {{ id charts {{ points {{ total }} }} }} }} }}"#
    );
    let (_, errors) = run(&graph, demo(&sim), &q).await;
    assert!(!errors.is_empty());
    assert!(codes(&errors).iter().all(|c| c == "UPSTREAM_BUDGET_EXCEEDED"), "{errors:#?}");
    assert_eq!(sim.stats().total(), 5, "the budget caps the calls made");
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 1);

    // Enforced, an estimate that was low (the organization's deployments unseen, assumed 20;
    // it has more) passes, and the budget still caps the calls.
    let budget = billing_graphql::ASSUMED_LIST_SIZE + 1;
    config.limits.enforce_estimate = true;
    config.limits.upstream_calls = budget;
    let graph = common::graph(&sim, config);
    sim.reset_stats();
    let answer = graph.execute_json(q.as_str(), demo(&sim)).await;
    let json: serde_json::Value = serde_json::from_slice(answer.body()).unwrap();
    let errors = json["errors"].as_array().unwrap();
    let n = json["data"]["organization"]["deployments"].as_array().unwrap().len();
    assert!(n + 1 > budget as usize, "the demo organization has more deployments than assumed");
    assert_eq!(errors.len(), n + 1 - budget as usize, "{json:#}");
    assert!(codes(errors).iter().all(|c| c == "UPSTREAM_BUDGET_EXCEEDED"), "{errors:#?}");
    assert_eq!(sim.stats().total(), u64::from(budget));
    let cost = answer.cost().unwrap();
    assert_eq!((cost.estimated.calls, cost.actual.calls), (budget, budget));
}

/// A request with budget left never fails for want of another request's budget. Each request
/// here may make one call; the first asks for two endpoints (one of its fields must fail), the
/// second for one of them, at once and with the same credential, so it may join the first's
/// fetch. Before budgets were reserved ahead of joining, the first's fetch could start with a
/// call left, find its sibling field had spent it, and fail with the first's budget error:
/// an answer the second, joined to it, got too.
#[tokio::test]
async fn a_budget_error_is_never_shared_with_another_request() {
    let sim = sim().await;
    sim.set_latency(Some(ep::V1_CHARTS), Latency::Fixed(Duration::from_millis(20)));
    let mut config = SchemaConfig::default();
    config.limits.upstream_calls = 1;
    // The estimate (2 calls for the first) would refuse it before it ran: this is the backstop.
    config.limits.enforce_estimate = false;
    config.cache.ttl = Duration::from_millis(1);
    config.cache.closed_ttl = Duration::from_millis(1);
    let graph = graph(&sim, config);
    let org = &sim.dataset().demo_org().id;
    let both = format!(r#"{{ organization(id: "{org}") {{ costs {{ total }} charts {{ points {{ total }} }} }} }}"#);
    let charts = format!(r#"{{ organization(id: "{org}") {{ charts {{ points {{ total }} }} }} }}"#);
    for _ in 0..20 {
        let ((_, first), (data, second)) =
            tokio::join!(run(&graph, demo(&sim), &both), run(&graph, demo(&sim), &charts));
        assert_eq!(codes(&first), ["UPSTREAM_BUDGET_EXCEEDED"], "one of two fields is over budget");
        assert!(second.is_empty(), "{second:#?}");
        assert!(data["organization"]["charts"]["points"].is_array());
    }
}

#[tokio::test]
async fn suggestions_are_off() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let (_, errors) = run(&graph, demo(&sim), r#"{ organisation(id: "1") { id } }"#).await;
    let message = errors[0]["message"].as_str().unwrap();
    assert!(!message.contains("Did you mean"), "{message}");
}
