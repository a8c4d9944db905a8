//! Long lists of scalar-only objects (chart points, dimensions, line items, usage rows) are built
//! in one pass instead of a future per field. A selection the fast path does not take (an
//! inline fragment here) goes through async-graphql's own resolution: both must answer the same
//! bytes, field order included.
mod common;

use common::{demo, sim, uncached};

const RANGE: &str = r#"from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z""#;

const DIMENSION: &str = "__typename type rawType cost c2: cost";
const POINT: &str = "timestamp total __typename sum: total total";
const LINE: &str =
    "name sku type resourceKind unit quantity formattedQuantity rate formattedRate totalEcu kind: __typename";
const USAGE: &str = "id accountId productId aggregatedProductId month type description currency direction \
    resolution unit price walletName numberOfUnits totalAmount __typename";

/// The query with each list's selection as written, and with it wrapped in an inline fragment.
fn pair(template: &str, fields: &[(&str, &str)]) -> (String, String) {
    let mut direct = template.to_owned();
    let mut wrapped = template.to_owned();
    for (name, (ty, selection)) in ["{A}", "{B}", "{C}"].iter().zip(fields) {
        direct = direct.replace(name, selection);
        wrapped = wrapped.replace(name, &format!("... on {ty} {{ {selection} }}"));
    }
    (direct, wrapped)
}

#[allow(clippy::unwrap_used)]
async fn answer(
    graph: &billing_graphql::BillingGraph,
    creds: billing_graphql::Credentials,
    query: impl Into<async_graphql::Request>,
) -> String {
    let request = query.into();
    let query = request.query.clone();
    let response = graph.execute(request, creds).await;
    assert!(response.errors.is_empty(), "{query}: {:#?}", response.errors);
    serde_json::to_string(&response.data).unwrap()
}

/// Without the response pass, which would put keys in query order whatever the fast path did:
/// every value under `key`, serialized in the order async-graphql built it.
#[allow(clippy::unwrap_used)]
async fn raw_lists(
    graph: &billing_graphql::BillingGraph,
    creds: billing_graphql::Credentials,
    query: &str,
    key: &str,
) -> Vec<String> {
    fn walk(value: &async_graphql::Value, key: &str, out: &mut Vec<String>) {
        match value {
            async_graphql::Value::Object(map) => {
                for (k, v) in map {
                    if k.as_str() == key {
                        out.push(serde_json::to_string(v).unwrap());
                    } else {
                        walk(v, key, out);
                    }
                }
            }
            async_graphql::Value::List(items) => items.iter().for_each(|v| walk(v, key, out)),
            _ => {}
        }
    }
    let response = graph.schema().execute(graph.prepare(query, creds)).await;
    assert!(response.errors.is_empty(), "{:#?}", response.errors);
    let mut out = Vec::new();
    walk(&response.data, key, &mut out);
    out
}

#[tokio::test]
async fn deployment_lists_answer_the_same_on_both_paths() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = sim.dataset().demo_org().id.clone();
    let template = format!(
        r#"{{ organization(id: "{org}") {{ deployments({RANGE}) {{ id
            dimensions {{ {{A}} }} charts(bucketing: DAILY) {{ points {{ {{B}} }} }} lineItems {{ {{C}} }} }} }} }}"#
    );
    let (direct, wrapped) = pair(&template, &[("CostDimension", DIMENSION), ("ChartPoint", POINT), ("LineItem", LINE)]);
    let fast = answer(&graph, demo(&sim), &direct).await;
    let general = answer(&graph, demo(&sim), &wrapped).await;
    assert_eq!(fast, general);
    for key in ["dimensions", "points", "lineItems"] {
        let fast = raw_lists(&graph, demo(&sim), &direct, key).await;
        assert!(!fast.is_empty());
        assert_eq!(fast, raw_lists(&graph, demo(&sim), &wrapped, key).await, "{key}");
    }

    // And the answer is the data, not empty lists that would trivially agree.
    let data: serde_json::Value = serde_json::from_str(&fast).unwrap();
    let deployments = data["organization"]["deployments"].as_array().unwrap();
    assert!(!deployments.is_empty());
    for d in deployments {
        let dims = d["dimensions"].as_array().unwrap();
        assert!(!dims.is_empty() && dims.iter().all(|x| x["__typename"] == "CostDimension" && x["c2"] == x["cost"]));
        let points = d["charts"]["points"].as_array().unwrap();
        assert_eq!(points.len(), 31, "{d}");
        assert_eq!(points[0]["timestamp"], "2026-10-01T00:00:00+00:00");
        assert!(points.iter().all(|p| p["total"].as_f64().unwrap() > 0.0 && p["sum"] == p["total"]));
    }
    // Keys in query order (the JSON above is read into a sorted map).
    assert!(fast.contains(r#""points":[{"timestamp":"2026-10-01T00:00:00+00:00","total":"#), "{fast}");
    let lines: Vec<&serde_json::Value> = deployments.iter().flat_map(|d| d["lineItems"].as_array().unwrap()).collect();
    assert!(!lines.is_empty() && lines.iter().all(|l| l["kind"] == "LineItem" && l["sku"].is_string()));
}

#[tokio::test]
async fn instance_line_items_and_repeated_lists_answer_the_same_on_both_paths() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = sim.dataset().demo_org().id.clone();
    // The same list twice under one key with different selections (async-graphql merges them),
    // and a selection of `__typename` alone.
    let template = format!(
        r#"{{ organization(id: "{org}") {{ instances({RANGE}) {{ id lineItems {{ {{A}} }} }}
            deployments({RANGE}) {{ id charts {{ points {{ {{B}} }} points {{ {{C}} }} }} }} }} }}"#
    );
    let (direct, wrapped) =
        pair(&template, &[("LineItem", LINE), ("ChartPoint", "timestamp"), ("ChartPoint", "total __typename")]);
    let fast = answer(&graph, demo(&sim), &direct).await;
    assert_eq!(fast, answer(&graph, demo(&sim), &wrapped).await);
    assert!(fast.contains(r#""lineItems":[{"name":"#) && fast.contains(r#","total":"#), "{fast}");
    let (direct, wrapped) =
        pair(&template, &[("LineItem", "__typename"), ("ChartPoint", "__typename"), ("ChartPoint", "__typename")]);
    assert_eq!(answer(&graph, demo(&sim), &direct).await, answer(&graph, demo(&sim), &wrapped).await);
}

#[tokio::test]
async fn usage_rows_answer_the_same_on_both_paths() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let (direct, wrapped) = pair("{ usageAggregates(first: 300) { nodes { {A} } } }", &[("UsageAggregate", USAGE)]);
    let fast = answer(&graph, demo(&sim), &direct).await;
    let general = answer(&graph, demo(&sim), &wrapped).await;
    assert_eq!(fast, general);
    let data: serde_json::Value = serde_json::from_str(&fast).unwrap();
    let nodes = data["usageAggregates"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 300);
    assert!(nodes.iter().all(|n| n["id"].is_string() && n["__typename"] == "UsageAggregate"));
}

#[tokio::test]
async fn directives_and_skipped_selections_answer_as_async_graphql_does() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = sim.dataset().demo_org().id.clone();
    let points = |selection: &str| {
        let query = format!(
            r#"query($yes: Boolean!) {{ organization(id: "{org}") {{ deployments({RANGE}) {{
                charts {{ points {{ {selection} }} }} }} }} }}"#
        );
        async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(serde_json::json!({ "yes": true })))
    };
    for selection in [
        // Removed before execution, so the fast path sees `timestamp` alone.
        "timestamp total @skip(if: $yes)",
        "total @include(if: $yes) timestamp",
        // Every field skipped: async-graphql answers each point null (the spec would answer
        // `{}`); both paths keep async-graphql's answer.
        "total @skip(if: $yes)",
    ] {
        let fast = answer(&graph, demo(&sim), points(selection)).await;
        let general = answer(&graph, demo(&sim), points(&format!("... on ChartPoint {{ {selection} }}"))).await;
        assert_eq!(fast, general, "{selection}");
    }
    let all_skipped = answer(&graph, demo(&sim), points("total @skip(if: $yes)")).await;
    assert!(all_skipped.contains(r#""points":[null,"#), "{all_skipped}");
}
