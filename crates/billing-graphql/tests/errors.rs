//! Errors: stable codes, partial results, and nothing sent upstream for bad input.

mod common;

use std::time::Duration;

use billing_graphql::Credentials;
use billing_sim::{Fault, endpoints as ep};
use common::*;

#[tokio::test]
async fn a_failed_call_fails_only_its_fields() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = &sim.dataset().demo_org().id;
    sim.push_faults(Some(ep::V1_OVERVIEW), [Fault::server_error()]);
    let query = format!(r#"{{ organization(id: "{org}") {{ id costs {{ total }} deployments {{ id }} }} }}"#);
    let (data, errors) = run(&graph, demo(&sim), &query).await;
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let e = &errors[0];
    assert_eq!(e["path"], serde_json::json!(["organization", "costs"]));
    assert_eq!(e["extensions"]["code"], "billing_service.failed_request");
    assert_eq!(e["extensions"]["status"], 500);
    assert_eq!(e["extensions"]["upstream"], "elastic_v1");
    assert!(data["organization"].as_object().unwrap().contains_key("costs"), "a failed field is present, as null");
    assert!(data["organization"]["costs"].is_null());
    assert!(!data["organization"]["deployments"].as_array().unwrap().is_empty(), "the rest resolves");
}

#[tokio::test]
async fn a_v2_outage_nulls_the_line_items_and_keeps_the_v1_costs() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = &sim.dataset().demo_org().id;
    sim.push_faults(Some(ep::V2_INSTANCES), [Fault::server_error()]);
    let query = format!(
        r#"{{ organization(id: "{org}") {{ deployments(from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z") {{ name totalCost lineItems {{ sku }} }} }} }}"#
    );
    let (data, errors) = run(&graph, demo(&sim), &query).await;
    let deployments = data["organization"]["deployments"].as_array().unwrap();
    assert!(!deployments.is_empty());
    for d in deployments {
        assert!(d["totalCost"].is_number(), "v1 data stays: {d}");
        assert!(d.as_object().unwrap().contains_key("lineItems") && d["lineItems"].is_null(), "{d}");
    }
    assert_eq!(errors.len(), deployments.len(), "one error per failed field");
    for e in &errors {
        assert_eq!(e["extensions"]["upstream"], "elastic_v2");
        assert_eq!(e["extensions"]["status"], 500);
    }
    assert_eq!(errors[0]["path"][0], "organization");
    assert_eq!(errors[0]["path"][3], "lineItems");

    // Selecting only the failed field: each deployment is still there, its field null
    // (async-graphql alone would have nulled the objects, and so the whole list).
    sim.push_faults(Some(ep::V2_INSTANCES), [Fault::server_error()]);
    let query = format!(
        r#"{{ organization(id: "{org}") {{ deployments(from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z") {{ lineItems {{ sku }} }} }} }}"#
    );
    let (data, _) = run(&graph, demo(&sim), &query).await;
    let deployments = data["organization"]["deployments"].as_array().unwrap();
    assert!(!deployments.is_empty());
    assert!(deployments.iter().all(|d| d == &serde_json::json!({ "lineItems": null })), "{data}");
}

#[tokio::test]
async fn upstream_codes_pass_through_and_gateway_codes_fill_in() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let ds = sim.dataset();
    let demo_org = &ds.demo_org().id;
    let other_org = &ds.other_org().id;
    let range = r#"from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z""#;
    let query = format!(
        r#"{{
            unknown: organization(id: "999999999") {{ costs {{ total }} }}
            forbidden: organization(id: "{other_org}") {{ costs {{ total }} }}
            v2forbidden: organization(id: "{other_org}") {{ instances({range}) {{ id }} }}
            tooEarly: organization(id: "{demo_org}") {{ instances(from: "2020-01-01T00:00:00Z", to: "2020-02-01T00:00:00Z") {{ id }} }}
            noDeployment: organization(id: "{demo_org}") {{ deployment(id: "0000", {range}) {{ id }} }}
        }}"#
    );
    let (data, errors) = run(&graph, demo(&sim), &query).await;
    let by_path = |alias: &str| {
        errors
            .iter()
            .find(|e| e["path"][0] == alias)
            .unwrap_or_else(|| panic!("no error for {alias}: {errors:#?}"))
            .clone()
    };
    assert_eq!(by_path("unknown")["extensions"]["code"], "organization.not_found");
    assert_eq!(by_path("unknown")["extensions"]["status"], 404);
    assert_eq!(by_path("forbidden")["extensions"]["code"], "organization.invalid_access");
    assert_eq!(by_path("forbidden")["extensions"]["status"], 403);
    // The upstream's own words ("Organization not found.") stay in the logs.
    assert_eq!(
        by_path("unknown")["message"],
        "elastic_v1 GET /billing/costs/{organization_id}: answered 404 (organization.not_found)"
    );
    let v2 = by_path("v2forbidden");
    assert_eq!(v2["extensions"]["code"], "FORBIDDEN", "v2's text/plain 403 has no code");
    assert_eq!(v2["extensions"]["upstream"], "elastic_v2");
    assert!(!v2["message"].as_str().unwrap().contains("billing-costs:get"), "upstream text is not echoed");
    assert_eq!(by_path("tooEarly")["extensions"]["code"], "invalid_input");
    assert!(data["noDeployment"]["deployment"].is_null(), "an unknown deployment is null, not an error");
}

#[tokio::test]
async fn missing_or_unusable_credentials_are_unauthenticated_per_field() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = &sim.dataset().demo_org().id;
    let query = format!(
        r#"{{ organization(id: "{org}") {{ costs {{ total }} }} usageAggregates(first: 1) {{ nodes {{ id }} }} }}"#
    );
    let (_, errors) = run(&graph, Credentials::none(), &query).await;
    assert_eq!(codes(&errors), ["UNAUTHENTICATED", "UNAUTHENTICATED"]);
    assert_eq!(sim.stats().total(), 0, "nothing sent without a credential");

    // Only Elastic's credential: the Talkdesk field fails alone.
    let c = sim.dataset().credentials();
    let elastic_only = Credentials::none().with_elastic_header(Some(&format!("ApiKey {}", c.elastic_demo_key)));
    let (data, errors) = run(&graph, elastic_only, &query).await;
    assert_eq!(codes(&errors), ["UNAUTHENTICATED"]);
    assert_eq!(errors[0]["extensions"]["upstream"], "talkdesk");
    assert!(data["organization"]["costs"]["total"].is_number());
    assert!(data.as_object().unwrap().contains_key("usageAggregates") && data["usageAggregates"].is_null());

    // A key the upstream refuses.
    let wrong = Credentials::none().with_elastic_header(Some("ApiKey canary-not-a-key"));
    let (_, errors) = run(&graph, wrong, &format!(r#"{{ organization(id: "{org}") {{ costs {{ total }} }} }}"#)).await;
    assert_eq!(codes(&errors), ["UNAUTHENTICATED"]);
    assert_eq!(errors[0]["extensions"]["status"], 401);
    assert!(!serde_json::to_string(&errors).unwrap().contains("canary"), "no credential in errors");

    // A header that is not a credential at all.
    let bad = Credentials::none().with_elastic_header(Some("Basic dXNlcjpwYXNz"));
    let (_, errors) = run(&graph, bad, &format!(r#"{{ organization(id: "{org}") {{ costs {{ total }} }} }}"#)).await;
    assert_eq!(codes(&errors), ["UNAUTHENTICATED"]);
}

#[tokio::test]
async fn bad_input_is_refused_before_any_upstream_call() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = &sim.dataset().demo_org().id;
    for args in [r#"from: "2026-02-01T00:00:00Z", to: "2026-01-01T00:00:00Z""#, r#"from: "2030-01-01T00:00:00Z""#] {
        let (_, errors) =
            run(&graph, demo(&sim), &format!(r#"{{ organization(id: "{org}") {{ costs({args}) {{ total }} }} }}"#))
                .await;
        assert_eq!(codes(&errors), ["BAD_USER_INPUT"], "{args}");
    }
    // Unparsable dates fail in the DateTime scalar, before resolvers run.
    let (_, errors) = run(
        &graph,
        demo(&sim),
        &format!(r#"{{ organization(id: "{org}") {{ costs(from: "yesterday") {{ total }} }} }}"#),
    )
    .await;
    assert_eq!(errors.len(), 1);
    let (_, errors) =
        run(&graph, demo(&sim), r#"{ usageAggregates(filter: {months: ["2024-13"]}) { nodes { id } } }"#).await;
    assert_eq!(codes(&errors), ["BAD_USER_INPUT"]);
    let (_, errors) = run(&graph, demo(&sim), r#"{ usageAggregates(after: "garbage") { nodes { id } } }"#).await;
    assert_eq!(codes(&errors), ["BAD_USER_INPUT"]);
    // Regression: the largest offset overflowed when one was added to it.
    let (_, errors) =
        run(&graph, demo(&sim), r#"{ usageAggregates(after: "usage:18446744073709551615") { nodes { id } } }"#).await;
    assert_eq!(codes(&errors), ["BAD_USER_INPUT"]);
    assert_eq!(sim.stats().total(), 0);
}

#[tokio::test]
async fn timeouts_malformed_answers_and_rate_limits_have_their_codes() {
    let sim = sim().await;
    let mut config = billing_graphql::SchemaConfig::default();
    config.cache.enabled = false;
    let transport = billing_http::TransportConfig { request_timeout: Duration::from_millis(300), ..transport_config() };
    let graph = graph_with(&sim, config, transport);
    let org = &sim.dataset().demo_org().id;
    let q = format!(r#"{{ organization(id: "{org}") {{ costs {{ total }} }} }}"#);

    sim.push_faults(Some(ep::V1_OVERVIEW), [Fault::Stall(Duration::from_secs(5))]);
    let (_, errors) = run(&graph, demo(&sim), &q).await;
    assert_eq!(codes(&errors), ["UPSTREAM_TIMEOUT"]);

    sim.push_faults(Some(ep::V1_OVERVIEW), [Fault::Malformed]);
    let (_, errors) = run(&graph, demo(&sim), &q).await;
    assert_eq!(codes(&errors), ["UPSTREAM_INVALID_RESPONSE"]);

    // Two 429s in a row spend both attempts of the test transport.
    sim.push_faults(
        Some(ep::V1_OVERVIEW),
        [Fault::too_many_requests(Duration::from_millis(1)), Fault::too_many_requests(Duration::from_millis(1))],
    );
    let (_, errors) = run(&graph, demo(&sim), &q).await;
    assert_eq!(codes(&errors), ["billing_service.rate_limited"]);
    assert_eq!(errors[0]["extensions"]["status"], 429);

    sim.push_faults(
        Some(ep::V1_OVERVIEW),
        [Fault::Status { status: 503, retry_after: None }, Fault::Status { status: 503, retry_after: None }],
    );
    let (_, errors) = run(&graph, demo(&sim), &q).await;
    assert_eq!(errors[0]["extensions"]["status"], 503);

    // And the next call, without faults, succeeds: nothing failed was cached.
    let (_, errors) = run(&graph, demo(&sim), &q).await;
    assert!(errors.is_empty(), "{errors:#?}");
}

#[tokio::test]
async fn an_unreachable_upstream_is_unavailable() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = sim.dataset().demo_org().id.clone();
    let creds = demo(&sim);
    sim.shutdown().await;
    let (_, errors) = run(&graph, creds, &format!(r#"{{ organization(id: "{org}") {{ costs {{ total }} }} }}"#)).await;
    assert_eq!(codes(&errors), ["UPSTREAM_UNAVAILABLE"]);
}

/// Ids that cannot be ids are the caller's error, found before the budget or an upstream is
/// touched; they once reached the client library and came back as `UPSTREAM_INVALID_RESPONSE`.
#[tokio::test]
async fn bad_ids_are_bad_user_input_before_any_call() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = &sim.dataset().demo_org().id;
    let long = "9".repeat(129);
    for id in ["", ".", "..", "a/b", "../../x", "a\\b", "a\u{1}b", "a\nb", long.as_str()] {
        let id_literal = serde_json::to_string(id).unwrap();
        let (data, errors) =
            run(&graph, demo(&sim), &format!("{{ organization(id: {id_literal}) {{ costs {{ total }} }} }}")).await;
        assert_eq!(codes(&errors), ["BAD_USER_INPUT"], "{id:?}: {errors:#?}");
        assert!(data["organization"].is_null(), "{id:?}");
        let q = format!(r#"{{ organization(id: "{org}") {{ deployment(id: {id_literal}) {{ name }} }} }}"#);
        let (_, errors) = run(&graph, demo(&sim), &q).await;
        assert_eq!(codes(&errors), ["BAD_USER_INPUT"], "{id:?}: {errors:#?}");
        let q = format!(r#"{{ usageAggregates(filter: {{ accountIds: [{id_literal}] }}) {{ totalCount }} }}"#);
        let (_, errors) = run(&graph, demo(&sim), &q).await;
        assert_eq!(codes(&errors), ["BAD_USER_INPUT"], "{id:?}: {errors:#?}");
    }
    assert_eq!(sim.stats().total(), 0);
}
