//! Limits hold before any upstream call: aliases, depth, complexity, and the call budget.

mod common;

use billing_graphql::SchemaConfig;
use billing_sim::endpoints as ep;
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
    assert_eq!(sim.stats().total(), 0);
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
    assert_eq!(sim.stats().total(), 0);
}

#[tokio::test]
async fn past_the_call_budget_fields_fail_with_a_typed_error() {
    let sim = sim().await;
    let mut config = SchemaConfig::default();
    config.cache.enabled = false;
    config.limits.upstream_calls = 5;
    let graph = graph(&sim, config);
    let org = &sim.dataset().demo_org().id;
    let q = format!(
        r#"{{ organization(id: "{org}") {{ deployments(from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z") {{ id charts {{ points {{ total }} }} }} }} }}"#
    );
    let (_, errors) = run(&graph, demo(&sim), &q).await;
    assert!(!errors.is_empty());
    assert!(codes(&errors).iter().all(|c| c == "UPSTREAM_BUDGET_EXCEEDED"), "{errors:#?}");
    assert_eq!(sim.stats().total(), 5, "the budget caps the calls made");
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 1);
}

#[tokio::test]
async fn suggestions_are_off() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let (_, errors) = run(&graph, demo(&sim), r#"{ organisation(id: "1") { id } }"#).await;
    let message = errors[0]["message"].as_str().unwrap();
    assert!(!message.contains("Did you mean"), "{message}");
}
