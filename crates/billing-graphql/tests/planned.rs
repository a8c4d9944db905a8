//! The planned executor answers exactly what async-graphql's path answers, byte for byte, errors
//! included, with the same upstream calls: for the repository's query files, hand-written cases
//! (fragments, aliases, directives, bad arguments, failing upstreams), and random selections over
//! the part of the schema the plan covers.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use billing_graphql::{AnswerKind, BillingGraph, CostOptions, Reply, SchemaConfig};
use billing_sim::{Fault, SimHandle, endpoints as ep};
use common::*;
use proptest::prelude::*;

/// Two schemas over one simulator, the cache off so each makes its own calls: the planned path
/// and the reference.
fn pair(sim: &SimHandle) -> (BillingGraph, BillingGraph) {
    let mut config = SchemaConfig::default();
    config.cache.enabled = false;
    let planned = graph(sim, config.clone());
    config.planned = false;
    (planned, graph(sim, config))
}

/// Runs `request` on both paths (with the same faults scripted before each) and returns the
/// planned answer after checking it equals the reference's, calls included.
async fn same(
    sim: &SimHandle,
    query: &str,
    variables: serde_json::Value,
    faults: &[(&str, usize)],
) -> (String, AnswerKind) {
    let (planned, reference) = pair(sim);
    let request =
        || async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(variables.clone()));
    // Whole (as a library caller or the answer cache has it), or streamed (as the gateway
    // sends it with the cache off).
    let run = |graph: BillingGraph, request: async_graphql::Request, streamed: bool| async move {
        for (endpoint, n) in faults {
            sim.push_faults(Some(endpoint), (0..*n).map(|_| Fault::server_error()));
        }
        let before = sim.stats().total();
        let (body, kind) = if streamed {
            match graph.respond(request, demo(sim), CostOptions::default()).await {
                Reply::Whole(answer) => (answer.body().clone(), answer.kind()),
                Reply::Streamed(stream) => stream.collect().await,
            }
        } else {
            let answer = graph.execute_json(request, demo(sim)).await;
            (answer.body().clone(), answer.kind())
        };
        (String::from_utf8(body.to_vec()).unwrap(), kind, sim.stats().total() - before)
    };
    let (expected, expected_kind, reference_calls) = run(reference, request(), false).await;
    // A fresh schema each time: the estimate learns list sizes from earlier answers. The first
    // runs twice: the repeat runs the plan kept for its document.
    let again = planned.clone();
    for (planned, streamed, repeat) in [(planned, false, false), (again, false, true), (pair(sim).0, true, false)] {
        let (actual, kind, planned_calls) = run(planned, request(), streamed).await;
        // A repeat estimates with the list sizes its schema has learnt: only its report differs.
        let (actual, expected) =
            if repeat { (without_cost(&actual), without_cost(&expected)) } else { (&actual[..], &expected[..]) };
        if actual != expected {
            let at = actual.bytes().zip(expected.bytes()).take_while(|(a, b)| a == b).count();
            let near = |s: &str| s.get(at.saturating_sub(150)..(at + 150).min(s.len())).unwrap_or("").to_owned();
            panic!(
                "streamed: {streamed}, first difference at byte {at}\n{query}\n  got: …{}…\n want: …{}…",
                near(actual),
                near(expected)
            );
        }
        assert_eq!(kind, expected_kind, "streamed: {streamed}");
        assert_eq!(planned_calls, reference_calls, "upstream calls differ (streamed: {streamed}):\n{query}");
    }
    (expected, expected_kind)
}

/// A body without its cost report.
fn without_cost(body: &str) -> &str {
    body.rfind(r#","extensions":{"cost":"#).map_or(body, |at| &body[..at])
}

/// Whether the planned path took the request (rather than handing it to the reference).
async fn planned(sim: &SimHandle, query: &str) -> bool {
    planned_with(sim, query, serde_json::Value::Null).await
}

async fn planned_with(sim: &SimHandle, query: &str, variables: serde_json::Value) -> bool {
    let (planned, _) = pair(sim);
    let request = async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(variables));
    planned.execute_json(request, demo(sim)).await;
    planned.planned_executions() == 1
}

/// A repeated document (same text, operation and variables) runs the plan compiled and
/// validated for it the first time, with the same bytes and calls; other variables, a range
/// read from the clock, or a request validation refused are compiled afresh.
#[tokio::test]
async fn a_repeated_document_runs_its_kept_plan() {
    let sim = sim().await;
    let (graph, _) = pair(&sim);
    let org = sim.dataset().demo_org().id.clone();
    let query = "query($org: ID!, $from: DateTime, $to: DateTime) { organization(id: $org) { \
                 costs(from: $from, to: $to) { total } deployments(from: $from, to: $to) { id name } } }";
    let run = |variables: serde_json::Value| {
        let graph = graph.clone();
        let sim = &sim;
        let request = async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(variables));
        async move {
            let before = sim.stats().total();
            let answer = graph.execute_json(request, demo(sim)).await;
            (String::from_utf8(answer.body().to_vec()).unwrap(), sim.stats().total() - before)
        }
    };
    let october = serde_json::json!({"org": org, "from": "2026-10-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"});
    let first = run(october.clone()).await;
    assert!(first.0.contains(r#""deployments":[{"id":"#), "{}", first.0);
    assert_eq!(first.1, 2, "one /costs, one /deployments");
    for _ in 0..3 {
        assert_eq!(run(october.clone()).await, first, "a kept plan answers the same bytes with the same calls");
    }
    assert_eq!((graph.planned_executions(), graph.plans_compiled()), (4, 1));
    // Other variables: another plan, then kept too.
    let september = serde_json::json!({"org": org, "from": "2026-09-01T00:00:00Z", "to": "2026-10-01T00:00:00Z"});
    let other = run(september.clone()).await;
    assert_ne!(other.0, first.0);
    assert_eq!(run(september).await, other);
    assert_eq!((graph.planned_executions(), graph.plans_compiled()), (6, 2));
    // `to` left out defaults to now: that plan holds for its request alone.
    let open = serde_json::json!({"org": org, "from": "2026-10-01T00:00:00Z"});
    run(open.clone()).await;
    run(open).await;
    assert_eq!((graph.planned_executions(), graph.plans_compiled()), (8, 4));
    // A document that compiles but fails validation (a variable it never uses) is refused each
    // time, and never kept.
    for _ in 0..2 {
        let refused =
            async_graphql::Request::new(format!(r#"query($unused: Int) {{ organization(id: "{org}") {{ id }} }}"#));
        let answer = graph.execute_json(refused, demo(&sim)).await;
        assert_eq!(answer.kind(), AnswerKind::RequestError);
        assert!(String::from_utf8_lossy(answer.body()).contains("GRAPHQL_VALIDATION_FAILED"));
    }
    assert_eq!((graph.planned_executions(), graph.plans_compiled()), (8, 6));
}

const RANGE: &str = r#"from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z""#;

/// A large answer (the big organization's 500 deployments with daily charts and line items)
/// goes out as it is written, in chunks of bounded size, the same bytes as the answer kept
/// whole; a reader that hangs up after the first chunk stops the execution, so the rest of the
/// organization's chart calls are never made.
#[tokio::test]
async fn a_large_answer_streams_in_bounded_chunks_and_stops_with_its_reader() {
    use futures::StreamExt;
    let sim = sim().await;
    let mut config = SchemaConfig::default();
    config.cache.enabled = false;
    config.limits.upstream_calls = 2_000;
    let planned = graph(&sim, config);
    let org = sim.dataset().big_org().id.clone();
    let deployments = sim.dataset().big_org().deployments.len();
    let query = format!(
        "{{ organization(id: \"{org}\") {{ deployments({RANGE}) {{ id name dimensions {{ type cost }} \
         charts(bucketing: DAILY) {{ points {{ timestamp total }} }} lineItems {{ name totalEcu }} }} }} }}"
    );
    // Without the cost report: the estimate learns the list's size from the first answer.
    let options = CostOptions { report: false, ..CostOptions::default() };
    let whole = planned.execute_json_with(query.as_str(), demo(&sim), options).await;
    assert_eq!(whole.kind(), AnswerKind::Complete);
    let Reply::Streamed(mut stream) = planned.respond(query.as_str(), demo(&sim), options).await else {
        panic!("a planned answer with the cache off is streamed");
    };
    let mut chunks = Vec::new();
    while let Some(chunk) = stream.next().await {
        chunks.push(chunk);
    }
    assert_eq!(chunks.concat(), whole.body().to_vec(), "the same bytes, streamed or whole");
    assert!(
        chunks.len() > whole.body().len() / (128 << 10),
        "{} chunks for {} bytes",
        chunks.len(),
        whole.body().len()
    );
    let largest = chunks.iter().map(|c| c.len()).max().unwrap_or(0);
    assert!(largest < 96 << 10, "a chunk of {largest} bytes");

    let before = sim.stats().total();
    let Reply::Streamed(mut stream) = planned.respond(query.as_str(), demo(&sim), options).await else {
        panic!("a planned answer with the cache off is streamed");
    };
    let first = stream.next().await.unwrap();
    assert!(first.starts_with(b"{\"data\":{\"organization\":{\"deployments\":"), "{first:?}");
    drop(stream);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let calls = sim.stats().total() - before;
    assert!(calls < deployments as u64 / 2, "{calls} upstream calls after hanging up, of {deployments} deployments");
}

#[tokio::test]
async fn the_query_files_answer_the_same_on_both_paths() {
    let sim = sim().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/queries");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut seen = 0;
    for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "graphql")) {
        let query = std::fs::read_to_string(file).unwrap();
        same(&sim, &query, serde_json::Value::Null, &[]).await;
        seen += 1;
    }
    assert!(seen >= 3);
}

#[tokio::test]
async fn cost_views_are_planned_and_answer_the_same() {
    let sim = sim().await;
    let org = sim.dataset().demo_org().id.to_string();
    let deployment = sim.dataset().demo_org().deployments[0].id.to_string();
    let cases = [
        format!(
            r#"{{ organization(id: "{org}") {{ id costs({RANGE}) {{ total trials hourlyRate dimensions {{ type rawType cost }} balance {{ available remaining lineItems {{ id ecuQuantity ecuBalance start end }} }} }} }} }}"#
        ),
        format!(
            r#"{{ __typename o: organization(id: "{org}") {{ __typename deployments({RANGE}) {{ __typename id name totalCost hourlyRate period {{ start end }} dimensions {{ __typename type cost }} charts {{ bucketing points {{ timestamp total values {{ id name value }} }} }} }} }} }}"#
        ),
        format!(
            r#"query Q($id: ID!, $from: DateTime, $b: Bucketing = MONTHLY) {{ organization(id: $id) {{ charts(from: $from, bucketing: $b) {{ points {{ timestamp total }} }} d: deployment(id: "{deployment}", {RANGE}) {{ name c: charts(bucketing: DAILY) {{ points {{ total }} }} }} }} }}"#
        ),
        // Fragments, merged keys, directives.
        format!(
            r#"{{ organization(id: "{org}") {{ ...Org deployments({RANGE}) {{ id @skip(if: true) name }} }} }} fragment Org on Organization {{ deployments({RANGE}) {{ totalCost ... on Deployment {{ id }} dimensions @include(if: false) {{ cost }} }} }}"#
        ),
        // Bad arguments: errors on those fields alone.
        format!(
            r#"{{ organization(id: "{org}") {{ costs(from: "2026-11-01T00:00:00Z", to: "2026-10-01T00:00:00Z") {{ total }} deployment(id: "..") {{ name }} ok: deployments({RANGE}) {{ id }} }} bad: organization(id: "a/b") {{ id }} }}"#
        ),
        format!(
            r#"{{ organization(id: "{org}") {{ deployments({RANGE}) {{ id charts(from: "2026-10-05T00:00:00Z", to: "2026-10-01T00:00:00Z") {{ points {{ total }} }} }} }} }}"#
        ),
        // Usage: a connection's every part, paging, filters, a union of two filters, totals.
        r#"{ usageAggregates(first: 3) { __typename totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { __typename id accountId productId aggregatedProductId month type description currency direction resolution unit price walletName numberOfUnits totalAmount } } nodes { id } } }"#.to_owned(),
        r#"{ a: usageAggregates(first: 2, after: "usage:3", orderBy: ID_ASC) { totalCount edges { cursor } pageInfo { hasPreviousPage endCursor } } b: usageAggregates(first: 0) { totalCount } c: usageAggregates(filter: { months: [] }) { totalCount nodes { id } } }"#.to_owned(),
        r#"{ usageAggregates(first: 300) { totalCount pageInfo { hasNextPage endCursor } nodes { id totalAmount } } }"#.to_owned(),
        r#"{ bad: usageAggregates(first: -1) { totalCount } cursor: usageAggregates(after: "nope") { totalCount } month: usageAggregates(filter: { months: ["2026-13"] }) { totalCount } }"#.to_owned(),
        // An unknown organization: the upstream's own error code.
        r#"{ organization(id: "404404404") { costs { total } deployments { id } } }"#.to_owned(),
    ];
    let variables = serde_json::json!({ "id": org, "from": "2026-09-01T00:00:00Z" });
    for query in &cases {
        assert!(planned_with(&sim, query, variables.clone()).await, "not planned: {query}");
        same(&sim, query, variables.clone(), &[]).await;
    }
}

#[tokio::test]
async fn failing_upstreams_fail_the_same_fields_with_the_same_errors() {
    let sim = sim().await;
    let org = sim.dataset().demo_org().id.to_string();
    let query = format!(
        r#"{{ organization(id: "{org}") {{ costs {{ total }} deployments({RANGE}) {{ id charts {{ points {{ total }} }} }} charts {{ bucketing }} }} }}"#
    );
    // Every chart call fails (which calls fail first is a race; all of them is not).
    let ids = data(
        &uncached(&sim),
        demo(&sim),
        &format!(r#"{{ organization(id: "{org}") {{ deployments({RANGE}) {{ id }} }} }}"#),
    )
    .await;
    let n = ids["organization"]["deployments"].as_array().unwrap().len();
    let (body, kind) = same(&sim, &query, serde_json::Value::Null, &[(ep::V1_DEPLOYMENT_CHARTS, n)]).await;
    assert_eq!(kind, AnswerKind::Partial);
    assert_eq!(body.matches(r#""code":"billing_service.failed_request""#).count(), n, "{body}");
    let (_, kind) = same(&sim, &query, serde_json::Value::Null, &[(ep::V1_OVERVIEW, 1), (ep::V1_CHARTS, 1)]).await;
    assert_eq!(kind, AnswerKind::Partial);
    let (body, _) = same(&sim, &query, serde_json::Value::Null, &[(ep::V1_DEPLOYMENTS, 1)]).await;
    assert!(body.contains(r#""deployments":null"#), "{body}");
    // A v2 outage nulls every deployment's line items, and nothing else.
    let v2 =
        format!(r#"{{ organization(id: "{org}") {{ deployments({RANGE}) {{ id totalCost lineItems {{ sku }} }} }} }}"#);
    let (body, kind) = same(&sim, &v2, serde_json::Value::Null, &[(ep::V2_INSTANCES, 1)]).await;
    assert_eq!(kind, AnswerKind::Partial);
    assert_eq!(body.matches(r#""lineItems":null"#).count(), n, "{body}");
}

/// Two connections whose filters are served together by one union filter, and `totalCount`
/// costing its extra call: the accounts are the simulator's.
#[tokio::test]
async fn usage_connections_served_together_answer_the_same() {
    let sim = sim().await;
    let org = &sim.dataset().talkdesk_organizations()[0];
    let accounts: Vec<String> = org.accounts.iter().take(2).map(ToString::to_string).collect();
    let query = format!(
        r#"{{ a: usageAggregates(first: 4, filter: {{ accountIds: ["{}"] }}) {{ totalCount nodes {{ id accountId }} pageInfo {{ hasNextPage }} }} b: usageAggregates(first: 4, filter: {{ accountIds: ["{}"], months: ["2026-10"] }}) {{ totalCount nodes {{ id month }} }} }}"#,
        accounts[0], accounts[1]
    );
    assert!(planned(&sim, &query).await);
    same(&sim, &query, serde_json::Value::Null, &[]).await;
}

#[tokio::test]
async fn what_the_plan_does_not_cover_takes_the_reference_path() {
    let sim = sim().await;
    let org = sim.dataset().demo_org().id.to_string();
    for query in [
        format!(r#"{{ organization(id: "{org}") {{ items {{ total }} }} }}"#),
        "{ __schema { queryType { name } } }".to_owned(),
        // An argument that does not bind: async-graphql reports it.
        format!(r#"{{ organization(id: "{org}") {{ costs(from: "yesterday") {{ total }} }} }}"#),
    ] {
        assert!(!planned(&sim, &query).await, "planned: {query}");
        same(&sim, &query, serde_json::Value::Null, &[]).await;
    }
    // Invalid documents are refused the same way (the plan compiles; validation refuses).
    let (body, kind) =
        same(&sim, &format!(r#"{{ organization(id: "{org}") {{ costs {{ nope }} }} }}"#), serde_json::Value::Null, &[])
            .await;
    assert_eq!(kind, AnswerKind::RequestError);
    assert!(body.contains("GRAPHQL_VALIDATION_FAILED"), "{body}");
}

/// A random selection over the planned part of the schema: each type's fields, some aliased,
/// some in inline fragments or behind `@include`, objects with their own random selections.
fn selection(ty: &'static str, depth: u32) -> BoxedStrategy<String> {
    let fields: &[(&str, Option<&'static str>)] = match ty {
        "Organization" => &[
            ("id", None),
            ("__typename", None),
            ("costs", Some("CostsOverview")),
            ("deployments", Some("Deployment")),
            ("charts", Some("Chart")),
        ],
        "CostsOverview" => {
            &[("total", None), ("trials", None), ("hourlyRate", None), ("dimensions", Some("CostDimension"))]
        }
        "Deployment" => &[
            ("id", None),
            ("name", None),
            ("totalCost", None),
            ("hourlyRate", None),
            ("__typename", None),
            ("dimensions", Some("CostDimension")),
            ("charts", Some("Chart")),
            ("period", Some("Period")),
            ("lineItems", Some("LineItem")),
        ],
        "LineItem" => &[
            ("name", None),
            ("sku", None),
            ("type", None),
            ("resourceKind", None),
            ("unit", None),
            ("quantity", None),
            ("formattedQuantity", None),
            ("rate", None),
            ("formattedRate", None),
            ("totalEcu", None),
            ("quantities", Some("PriceSegment")),
        ],
        "PriceSegment" => &[
            ("from", None),
            ("to", None),
            ("totalEcu", None),
            ("rate", None),
            ("quantity", None),
            ("tiers", Some("PriceTier")),
        ],
        "PriceTier" => &[("min", None), ("max", None), ("quantity", None), ("rate", None)],
        "CostDimension" => &[("type", None), ("rawType", None), ("cost", None)],
        "Chart" => &[("bucketing", None), ("points", Some("ChartPoint"))],
        "ChartPoint" => &[("timestamp", None), ("total", None), ("values", Some("ChartValue"))],
        "ChartValue" => &[("id", None), ("name", None), ("value", None)],
        "Period" => &[("start", None), ("end", None)],
        _ => &[("__typename", None)],
    };
    let picks: Vec<BoxedStrategy<String>> = fields
        .iter()
        .map(|&(name, child)| {
            let sub = match child {
                Some(t) if depth > 0 => selection(t, depth - 1).prop_map(|s| format!("{{ {s} }}")).boxed(),
                Some(_) => Just("{ __typename }".to_owned()).boxed(),
                None => Just(String::new()).boxed(),
            };
            let args = match name {
                "deployments" | "costs" if ty == "Organization" => RANGE,
                "charts" if ty == "Organization" => r#"bucketing: MONTHLY"#,
                _ => "",
            };
            (0..4u8, sub)
                .prop_map(move |(how, sub)| {
                    let args = if args.is_empty() { String::new() } else { format!("({args})") };
                    match how {
                        0 => format!("a_{name}: {name}{args} {sub}"),
                        1 => format!("... on {ty} {{ {name}{args} {sub} }}"),
                        2 => format!("{name}{args} @include(if: true) {sub} x: __typename @skip(if: true)"),
                        _ => format!("{name}{args} {sub}"),
                    }
                })
                .boxed()
        })
        .collect();
    proptest::sample::subsequence(picks, 1..=fields.len())
        .prop_flat_map(|picks| picks)
        .prop_map(|s: Vec<String>| s.join(" "))
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_selections_answer_the_same_on_both_paths(sel in selection("Organization", 3)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let sim = sim().await;
            let query = format!(r#"{{ organization(id: "{}") {{ {sel} }} }}"#, sim.dataset().demo_org().id);
            assert!(planned(&sim, &query).await, "not planned: {query}");
            same(&sim, &query, serde_json::Value::Null, &[]).await;
        });
    }
}
