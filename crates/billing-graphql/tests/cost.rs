//! What a request costs in upstream calls: the estimate made before it runs against the calls
//! the simulator counted, for the repository's query files and the README's examples (exact,
//! cold, on both executors), for lists once their sizes are known (never under), a refusal
//! over the budget that makes no call, a dry run that makes none, and a warm cache.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use billing_graphql::{AnswerKind, BillingGraph, CostOptions, Credentials, SchemaConfig};
use billing_sim::SimHandle;
use common::*;
use serde_json::{Value, json};

/// The simulator's calls since its last reset, per endpoint, named as `extensions.cost` names
/// them (`elastic_v1 /billing/...`); the token endpoint is not a billing call.
fn sim_calls(sim: &SimHandle) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (template, stats) in &sim.stats().endpoints {
        let Some((method, path)) = template.split_once(' ') else { continue };
        if method != "GET" || stats.calls == 0 {
            continue;
        }
        let label = if let Some(rest) = path.strip_prefix("/api/v1") {
            format!("elastic_v1 {rest}")
        } else if let Some(rest) = path.strip_prefix("/api/v2") {
            format!("elastic_v2 {rest}")
        } else {
            format!("talkdesk {path}")
        };
        out.insert(label, stats.calls);
    }
    out
}

fn by_endpoint(v: &Value) -> BTreeMap<String, u64> {
    serde_json::from_value(v["byEndpoint"].clone()).unwrap()
}

/// Runs a request and returns its JSON, its kind and the simulator's calls it caused.
async fn run(
    graph: &BillingGraph,
    sim: &SimHandle,
    query: &str,
    options: CostOptions,
) -> (Value, AnswerKind, BTreeMap<String, u64>) {
    run_as(graph, sim, query, options, demo(sim)).await
}

async fn run_as(
    graph: &BillingGraph,
    sim: &SimHandle,
    query: &str,
    options: CostOptions,
    creds: Credentials,
) -> (Value, AnswerKind, BTreeMap<String, u64>) {
    sim.reset_stats();
    let answer = graph.execute_json_with(query, creds, options).await;
    let json: Value = serde_json::from_slice(answer.body()).unwrap();
    (json, answer.kind(), sim_calls(sim))
}

/// A schema with the cache on, the planned executor on or off.
fn graph_for(sim: &SimHandle, planned: bool) -> BillingGraph {
    graph(sim, SchemaConfig { planned, ..SchemaConfig::default() })
}

/// Asserts the estimate (now and cold) equals what the request made and the simulator saw.
fn exact(query: &str, json: &Value, seen: &BTreeMap<String, u64>) {
    let cost = &json["extensions"]["cost"];
    assert!(json.get("errors").is_none(), "{query}\n{json:#}");
    let estimated = &cost["estimated"];
    assert_eq!(by_endpoint(estimated), *seen, "estimate against the simulator:\n{query}\n{cost:#}");
    assert_eq!(by_endpoint(&estimated["cold"]), *seen, "{query}\n{cost:#}");
    assert_eq!(by_endpoint(&cost["actual"]), *seen, "actual against the simulator:\n{query}\n{cost:#}");
    let total: u64 = seen.values().sum();
    assert_eq!(estimated["calls"], json!(total));
    assert_eq!(cost["actual"]["calls"], json!(total));
    assert!(total > 0, "{query}: a query that calls nothing proves nothing");
}

/// The README's GraphQL examples.
fn readme_queries() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap();
    let mut out = Vec::new();
    let mut rest = readme.as_str();
    while let Some(start) = rest.find("```graphql\n") {
        let body = &rest[start + "```graphql\n".len()..];
        let end = body.find("```").unwrap();
        out.push(body[..end].to_owned());
        rest = &body[end..];
    }
    out
}

fn query_files() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/queries");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "graphql"))
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

#[tokio::test]
async fn the_query_files_and_the_readme_cost_what_was_estimated_cold_on_both_paths() {
    let sim = sim().await;
    let queries: Vec<String> = query_files().into_iter().chain(readme_queries()).collect();
    assert!(queries.len() >= 6, "{}", queries.len());
    let mut sized = 0;
    for query in &queries {
        let mut bodies = Vec::new();
        for planned in [true, false] {
            // A fresh schema: a cold cache, no size seen.
            let graph = graph_for(&sim, planned);
            let (mut json, kind, mut seen) = run(&graph, &sim, query, CostOptions::default()).await;
            assert_eq!(kind, AnswerKind::Complete, "{json:#}");
            let assumed = |json: &Value, field: &str| {
                json["extensions"]["cost"]["estimated"]["assumptions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a["field"] == field && a["source"] == "ASSUMED")
            };
            if assumed(&json, "Organization.deployments") || assumed(&json, "Organization.instances") {
                // A list whose members each cost calls, its size not known yet: every call but
                // the members' is exact already; all are once the size is known (the list
                // fetched, then the answers dropped).
                let members = |m: BTreeMap<String, u64>| -> BTreeMap<String, u64> {
                    m.into_iter()
                        .filter(|(e, _)| !e.contains("{deployment_id}") && !e.contains("{instance_id}"))
                        .collect()
                };
                let estimated = &json["extensions"]["cost"]["estimated"];
                assert_eq!(members(by_endpoint(estimated)), members(seen.clone()), "{query}\n{estimated:#}");
                graph.clear_caches();
                sized += 1;
                (json, _, seen) = run(&graph, &sim, query, CostOptions::default()).await;
            }
            exact(query, &json, &seen);
            // A `deployment(id:)` with calls of its own is assumed to exist; no list is assumed.
            for assumption in json["extensions"]["cost"]["estimated"]["assumptions"].as_array().unwrap() {
                assert!(
                    assumption["field"] == "Organization.deployment" || assumption["source"] == "LAST_KNOWN",
                    "{query}\n{json:#}"
                );
            }
            bodies.push(json);
        }
        assert_eq!(bodies[0], bodies[1], "the paths differ:\n{query}");
    }
    // Only the README's insights example lists deployments with calls of their own.
    assert_eq!(sized, 2, "one query, on both paths");
}

/// Each insight field costs what it selects, no more: a `costChange` reads only the figures
/// selected, and an argument that fails costs nothing.
#[tokio::test]
async fn insight_fields_cost_what_they_select() {
    let sim = sim().await;
    let org = sim.dataset().demo_org().id.to_string();
    let id = sim.dataset().demo_org().deployments[0].id.to_string();
    let range = r#"from: "2026-10-01T00:00:00Z", to: "2026-10-08T00:00:00Z""#;
    // (selection under `organization`, the calls it makes)
    let cases = [
        ("forecast { projected } deploymentForecasts { deploymentId }".to_owned(), 1),
        ("credits { remaining } costs { total }".to_owned(), 2),
        (format!("costChange({range}) {{ current }}"), 1),
        (format!("costChange({range}) {{ previous }}"), 1),
        (format!("costChange({range}) {{ percent }} costs({range}) {{ total }}"), 2),
        (format!("costChange({range}) {{ from to previousFrom }}"), 0),
        ("anomalies { day } a: anomalies(window: 14) { score } b: anomalies(window: 7) { day }".to_owned(), 2),
        ("anomalies(window: 0) { day }".to_owned(), 0),
        (format!(r#"deployment(id: "{id}") {{ costChange {{ current from }} }}"#), 1),
        (
            format!(r#"deployment(id: "{id}") {{ costChange {{ previous }} anomalies {{ day }} forecast {{ low }} }}"#),
            4,
        ),
        (format!(r#"deployment(id: "{id}") {{ reconciliation(absoluteTolerance: -1) {{ mismatch }} }}"#), 1),
        (format!(r#"deployment(id: "{id}") {{ reconciliation {{ mismatch }} lineItems {{ sku }} }}"#), 2),
        // One response key given other arguments by a fragment: each is resolved, each priced.
        ("anomalies(window: 7) { day } ... on Organization { anomalies(window: 14) { day } }".to_owned(), 2),
        (
            format!(
                r#"a: costChange({range}) {{ current }} ... on Organization {{ a: costChange {{ current }} }} costs {{ total }}"#
            ),
            2,
        ),
    ];
    for (selection, calls) in cases {
        let query = format!(r#"{{ organization(id: "{org}") {{ {selection} }} }}"#);
        let mut bodies = Vec::new();
        for planned in [true, false] {
            let (json, _, seen) = run(&graph_for(&sim, planned), &sim, &query, CostOptions::default()).await;
            let cost = &json["extensions"]["cost"];
            assert_eq!(by_endpoint(&cost["estimated"]), seen, "{query}\n{json:#}");
            assert_eq!(by_endpoint(&cost["actual"]), seen, "{query}\n{cost:#}");
            assert_eq!(seen.values().sum::<u64>(), calls, "{query}\n{cost:#}");
            bodies.push(json);
        }
        assert_eq!(bodies[0], bodies[1], "the paths differ:\n{query}");
    }
    // A bad argument is a field error, made before the call.
    let query = format!(r#"{{ organization(id: "{org}") {{ anomalies(window: 0) {{ day }} }} }}"#);
    let (json, _, _) = run(&graph_for(&sim, true), &sim, &query, CostOptions::default()).await;
    assert_eq!(json["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{json:#}");
}

/// Lists whose members each cost calls: exact once a size is known (the list was fetched
/// before, then the cache emptied), and the size's source named.
#[tokio::test]
async fn lists_cost_what_was_estimated_once_their_sizes_are_known() {
    let sim = sim().await;
    let org = sim.dataset().demo_org().id.to_string();
    let range = r#"from: "2026-10-01T00:00:00Z", to: "2026-10-08T00:00:00Z""#;
    let queries = [
        format!(
            r#"{{ organization(id: "{org}") {{ deployments({range}) {{ id charts {{ points {{ total }} }} m: charts(bucketing: MONTHLY) {{ bucketing }} lineItems {{ sku }} }} costs {{ total }} }} }}"#
        ),
        format!(
            r#"{{ organization(id: "{org}") {{ deployments({range}) {{ items {{ total }} products {{ type }} }} charts {{ bucketing }} items {{ total }} }} }}"#
        ),
        format!(
            r#"{{ organization(id: "{org}") {{ instances({range}) {{ id products {{ type }} charts {{ bucketing }} }} productCosts({range}) {{ type }} instanceCharts({range}) {{ bucketing }} }} }}"#
        ),
        // The insight fields: the org chart once, a daily chart per deployment, the previous
        // range's list once, the v2 instances once.
        format!(
            r#"{{ organization(id: "{org}") {{ deployments({range}) {{ forecast {{ projected }} anomalies(window: 7) {{ day }} costChange {{ percent }} reconciliation {{ mismatch }} }} }} }}"#
        ),
        r#"{ usageAggregates(first: 600) { totalCount nodes { id } } }"#.to_owned(),
    ];
    for planned in [true, false] {
        let graph = graph_for(&sim, planned);
        for query in &queries {
            // Cold and unseen, a list is assumed its `@listSize`: not exact.
            run(&graph, &sim, query, CostOptions::default()).await;
            // The sizes are known now; the answers are not cached any more.
            graph.clear_caches();
            let (json, _, seen) = run(&graph, &sim, query, CostOptions::default()).await;
            exact(query, &json, &seen);
            for assumption in json["extensions"]["cost"]["estimated"]["assumptions"].as_array().unwrap() {
                assert_eq!(assumption["source"], "LAST_KNOWN", "{query}\n{json:#}");
            }
            graph.clear_caches();
        }
    }
}

/// Nothing known of a list: the schema's assumed size, named as such.
#[tokio::test]
async fn an_unknown_list_is_assumed_its_listsize() {
    let sim = sim().await;
    let org = sim.dataset().demo_org().id.to_string();
    let query = format!(r#"{{ organization(id: "{org}") {{ deployments {{ charts {{ bucketing }} }} }} }}"#);
    let (json, _, _) = run(&graph_for(&sim, true), &sim, &query, CostOptions { dry_run: true, report: true }).await;
    let estimated = &json["extensions"]["cost"]["estimated"];
    assert_eq!(estimated["calls"], json!(1 + billing_graphql::ASSUMED_LIST_SIZE), "{estimated:#}");
    assert_eq!(
        estimated["assumptions"],
        json!([{ "field": "Organization.deployments", "organization": org, "size": 20, "source": "ASSUMED" }])
    );
}

#[tokio::test]
async fn over_the_budget_is_refused_before_any_call() {
    let sim = sim().await;
    let org = sim.dataset().demo_org().id.to_string();
    let query =
        format!(r#"{{ organization(id: "{org}") {{ costs {{ total }} deployments {{ charts {{ bucketing }} }} }} }}"#);
    for planned in [true, false] {
        let mut config = SchemaConfig { planned, ..SchemaConfig::default() };
        config.limits.upstream_calls = 5;
        let graph = graph(&sim, config);
        let (json, kind, seen) = run(&graph, &sim, &query, CostOptions::default()).await;
        assert_eq!(kind, AnswerKind::RequestError);
        assert_eq!(sim.stats().total(), 0, "{seen:?}");
        let error = &json["errors"][0];
        assert_eq!(error["extensions"]["code"], "COST_ESTIMATED_TOO_EXPENSIVE", "{json:#}");
        assert_eq!(error["extensions"]["estimatedCalls"], json!(22));
        assert_eq!(error["extensions"]["limit"], json!(5));
        assert_eq!(json["extensions"]["cost"]["actual"]["calls"], json!(0));
        assert!(json.get("data").is_none());
        // `execute` holds the same line.
        let response = graph.execute(query.as_str(), demo(&sim)).await;
        assert_eq!(
            response.errors[0].extensions.as_ref().unwrap().get("code"),
            Some(&"COST_ESTIMATED_TOO_EXPENSIVE".into())
        );
        assert_eq!(sim.stats().total(), 0);
        // An invalid document gets validation's error first.
        let invalid = format!(r#"{{ organization(id: "{org}") {{ deployments {{ charts {{ nope }} }} }} }}"#);
        let (json, _, _) = run(&graph, &sim, &invalid, CostOptions::default()).await;
        assert_eq!(json["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{json:#}");
    }
}

#[tokio::test]
async fn a_dry_run_answers_the_estimate_with_no_call() {
    let sim = sim().await;
    let graph = graph_for(&sim, true);
    for query in query_files() {
        let (dry, kind, seen) = run(&graph, &sim, &query, CostOptions { dry_run: true, report: true }).await;
        assert_eq!(kind, AnswerKind::DryRun);
        assert!(seen.is_empty(), "{seen:?}");
        assert_eq!(sim.stats().total(), 0);
        assert!(dry.get("data").is_none(), "{dry:#}");
        assert_eq!(dry["extensions"]["cost"]["actual"]["calls"], json!(0));
        // The real run makes what the dry run said.
        let (json, _, seen) = run(&graph, &sim, &query, CostOptions::default()).await;
        exact(&query, &json, &seen);
        assert_eq!(dry["extensions"]["cost"]["estimated"], json["extensions"]["cost"]["estimated"]);
    }
    // A dry run of an invalid document is refused as the run would be.
    let (json, kind, _) = run(&graph, &sim, "{ nope }", CostOptions { dry_run: true, report: true }).await;
    assert_eq!(kind, AnswerKind::RequestError);
    assert_eq!(json["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
}

/// With the answers cached, the estimate counts only misses, and the report counts the hits;
/// a repeat served whole from the answer cache makes and expects no call.
#[tokio::test]
async fn a_warm_cache_is_priced_at_its_misses() {
    let sim = sim().await;
    let graph = graph_for(&sim, true);
    let query = &query_files()[0];
    let (first, _, _) = run(&graph, &sim, query, CostOptions::default()).await;
    let cold = first["extensions"]["cost"]["estimated"]["calls"].clone();
    // Another document over the same calls: not the same whole answer, the same upstream answers.
    let (json, _, seen) = run(&graph, &sim, &format!("{query}\n# again"), CostOptions::default()).await;
    assert!(seen.is_empty(), "{seen:?}");
    let cost = &json["extensions"]["cost"];
    assert_eq!(cost["estimated"]["calls"], json!(0), "{cost:#}");
    assert_eq!(cost["estimated"]["cold"]["calls"], cold);
    assert_eq!(cost["actual"], json!({ "calls": 0, "cacheHits": cold, "byEndpoint": {} }));
    // The same request again: its whole answer.
    let (json, _, seen) = run(&graph, &sim, query, CostOptions::default()).await;
    assert!(seen.is_empty());
    assert_eq!(json["extensions"]["cost"]["actual"]["calls"], json!(0));
    assert_eq!(json["extensions"]["cost"]["estimated"]["calls"], json!(0));
}

#[tokio::test]
async fn the_report_can_be_left_out() {
    let sim = sim().await;
    let graph = graph_for(&sim, true);
    let query = &query_files()[0];
    let (json, _, _) = run(&graph, &sim, query, CostOptions { dry_run: false, report: false }).await;
    assert!(json.get("extensions").is_none(), "{json:#}");
    assert!(json["data"].is_object());
}

/// A caller without the credential an upstream needs makes no call there, and none is
/// estimated.
#[tokio::test]
async fn fields_without_their_credential_cost_nothing() {
    let sim = sim().await;
    let graph = graph_for(&sim, true);
    for query in query_files() {
        let (json, _, seen) = run_as(&graph, &sim, &query, CostOptions::default(), Credentials::none()).await;
        assert!(seen.is_empty());
        assert_eq!(json["extensions"]["cost"]["estimated"]["cold"]["calls"], json!(0), "{json:#}");
    }
}

/// `schema.graphql` prices fields as the estimate does: each object type weighs nothing, each
/// field whose description names the endpoint it calls weighs one call, and the lists of
/// deployments and instances are assumed the estimate's size.
#[test]
fn the_sdl_directives_say_what_the_estimate_counts() {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let sdl = billing_graphql::sdl();
    let doc = async_graphql::parser::parse_schema(&sdl).unwrap();
    let weight = |directives: &[async_graphql::Positioned<async_graphql::parser::types::ConstDirective>]| {
        directives.iter().find(|d| d.node.name.node == "cost").and_then(|d| {
            d.node.get_argument("weight").map(|w| w.node.clone().into_json().unwrap().as_str().unwrap().to_owned())
        })
    };
    let mut calling = Vec::new();
    for definition in &doc.definitions {
        let TypeSystemDefinition::Type(ty) = definition else { continue };
        let TypeKind::Object(object) = &ty.node.kind else { continue };
        let name = ty.node.name.node.as_str();
        if name != "Query" {
            assert_eq!(weight(&ty.node.directives).as_deref(), Some("0"), "type {name}");
        }
        for field in &object.fields {
            let f = &field.node;
            let describes_a_call = f.description.as_ref().is_some_and(|d| d.node.contains("`GET "))
                || (name, f.name.node.as_str()) == ("Organization", "deployment");
            let expected = describes_a_call.then_some("1");
            assert_eq!(weight(&f.directives).as_deref(), expected, "{name}.{}", f.name.node);
            if describes_a_call {
                calling.push(format!("{name}.{}", f.name.node));
            }
            let size = f.directives.iter().find(|d| d.node.name.node == "listSize").and_then(|d| {
                d.node.get_argument("assumedSize").map(|s| s.node.clone().into_json().unwrap().as_u64().unwrap())
            });
            if ["deployments", "instances"].contains(&f.name.node.as_str()) {
                assert_eq!(size, Some(u64::from(billing_graphql::ASSUMED_LIST_SIZE)), "{name}.{}", f.name.node);
            }
        }
    }
    // 15 cost views and the usage connection, and the 11 fields of issue 18 (insights, FOCUS).
    assert_eq!(calling.len(), 26, "{calling:#?}");
}

/// `execute`, the response-tree API, reports the same cost in its response's extensions.
#[tokio::test]
async fn execute_reports_the_cost_too() {
    let sim = sim().await;
    for query in query_files() {
        let graph = graph_for(&sim, true);
        sim.reset_stats();
        let response = graph.execute(query.as_str(), demo(&sim)).await;
        let json = serde_json::to_value(&response).unwrap();
        exact(&query, &json, &sim_calls(&sim));
    }
}
