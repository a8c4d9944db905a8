//! What a request costs, over HTTP: `extensions.cost` against the simulator's counters, a dry
//! run (header or query parameter) that calls nothing, the report left out on request, a
//! refusal over the budget that calls nothing, and the cost histograms on `/metrics`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::support::{self, Server};

/// The query files' first: Acme's October costs and two deployments.
fn query() -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/org_costs.graphql")).unwrap()
}

async fn server(sim: &billing_sim::SimHandle, budget: u32) -> Server {
    let mut config = support::config_for(&sim.base_url());
    config.elastic_api_key = Some(support::elastic_auth(sim));
    config.upstream_budget = budget;
    Server::start(config).await
}

/// The simulator's billing calls per endpoint, named as `extensions.cost` names them.
fn seen(sim: &billing_sim::SimHandle) -> BTreeMap<String, u64> {
    sim.stats()
        .endpoints
        .iter()
        .filter(|(_, s)| s.calls > 0)
        .filter_map(|(template, s)| {
            let path = template.strip_prefix("GET ")?;
            let label = match (path.strip_prefix("/api/v1"), path.strip_prefix("/api/v2")) {
                (Some(rest), _) => format!("elastic_v1 {rest}"),
                (_, Some(rest)) => format!("elastic_v2 {rest}"),
                _ => format!("talkdesk {path}"),
            };
            Some((label, s.calls))
        })
        .collect()
}

#[tokio::test]
async fn a_dry_run_calls_nothing_and_the_run_costs_what_it_said() {
    let sim = support::sim().await;
    let server = server(&sim, 200).await;
    let query = query();

    let dry = server.query(&query, &[("X-Billing-Dry-Run", "1")]).await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    assert_eq!(sim.stats().total(), 0, "a dry run calls no upstream");
    let dry = dry.json();
    assert!(dry.get("data").is_none(), "{dry:#}");
    let estimated = dry["extensions"]["cost"]["estimated"].clone();
    assert_eq!(estimated["limit"], json!(200));

    // The same as a query parameter, by POST and by GET.
    let url = format!("{}?dryRun=1", server.endpoint());
    let by_param = server.client.post(&url).json(&json!({ "query": query })).send().await.unwrap();
    let by_param: Value = by_param.json().await.unwrap();
    assert_eq!(by_param["extensions"]["cost"]["estimated"], estimated);
    let params = [("query", query.as_str()), ("X-Billing-Dry-Run", "1")];
    let by_get = server.client.get(server.endpoint()).query(&params).send().await.unwrap();
    let by_get: Value = by_get.json().await.unwrap();
    assert_eq!(by_get["extensions"]["cost"]["estimated"], estimated, "{by_get:#}");
    assert_eq!(sim.stats().total(), 0);

    let run = server.query(&query, &[]).await;
    let run = run.json();
    assert!(run["data"].is_object(), "{run:#}");
    let cost = &run["extensions"]["cost"];
    let seen = seen(&sim);
    assert!(!seen.is_empty());
    assert_eq!(cost["estimated"], estimated);
    assert_eq!(serde_json::from_value::<BTreeMap<String, u64>>(cost["actual"]["byEndpoint"].clone()).unwrap(), seen);
    assert_eq!(serde_json::from_value::<BTreeMap<String, u64>>(estimated["byEndpoint"].clone()).unwrap(), seen);

    // Left out on request.
    let quiet = server.query(&format!("{query}\n# quiet"), &[("X-Billing-Cost", "off")]).await.json();
    assert!(quiet.get("extensions").is_none(), "{quiet:#}");
    assert!(quiet["data"].is_object());

    // The histograms of estimated and actual calls and of their difference.
    let metrics = server.get("/metrics", &[]).await.text;
    for name in [
        "billing_cost_estimated_calls_bucket",
        "billing_cost_actual_calls_bucket",
        "billing_cost_estimate_error_calls_bucket",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
}

#[tokio::test]
async fn over_the_budget_is_refused_with_no_upstream_call() {
    let sim = support::sim().await;
    let server = server(&sim, 1).await;
    let reply = server.query(&query(), &[("Accept", "application/graphql-response+json")]).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let body = reply.json();
    assert_eq!(reply.error_codes(), ["COST_ESTIMATED_TOO_EXPENSIVE"], "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["estimatedCalls"], json!(2));
    assert_eq!(body["errors"][0]["extensions"]["limit"], json!(1));
    assert_eq!(body["extensions"]["cost"]["actual"]["calls"], json!(0));
    assert_eq!(sim.stats().total(), 0, "refused before any upstream call");
}
