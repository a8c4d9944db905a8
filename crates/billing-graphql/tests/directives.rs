//! `@skip` and `@include` follow the spec, a variable's default value included.

mod common;

use async_graphql::{Request, Variables};
use billing_sim::{Fault, endpoints as ep};
use common::*;

const QUERY: &str = r#"query($hide: Boolean = true, $show: Boolean = true) {
    organization(id: "1") { id hidden: id @skip(if: $hide) shown: id @include(if: $show) } }"#;

#[tokio::test]
async fn a_variable_left_out_takes_its_default_in_skip_and_include() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let data = data(&graph, demo(&sim), QUERY).await;
    assert_eq!(data, serde_json::json!({ "organization": { "id": "1", "shown": "1" } }));
}

#[tokio::test]
async fn a_prepared_request_takes_the_defaults_too() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let response = graph.schema().execute(graph.prepare(QUERY, demo(&sim))).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().unwrap();
    assert_eq!(data, serde_json::json!({ "organization": { "id": "1", "shown": "1" } }));
}

#[tokio::test]
async fn a_variable_given_overrides_its_default() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let vars = Variables::from_json(serde_json::json!({ "hide": false, "show": false }));
    let response = graph.execute(Request::new(QUERY).variables(vars), demo(&sim)).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().unwrap();
    assert_eq!(data, serde_json::json!({ "organization": { "id": "1", "hidden": "1" } }));
}

/// With an error in the response, the response pass completes missing fields as nulls; a field
/// that was skipped is not missing and must stay out, non-null (`id: ID!`) or not.
#[tokio::test]
async fn a_skipped_field_stays_out_when_another_field_fails() {
    let sim = sim().await;
    sim.push_faults(Some(ep::V1_OVERVIEW), [Fault::server_error()]);
    let graph = uncached(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    let query = format!(
        r#"query($hide: Boolean = true) {{ organization(id: "{org}") {{
            id hidden: id @skip(if: $hide) gone: costs @skip(if: $hide) {{ total }} costs {{ total }} }} }}"#
    );
    let (data, errors) = run(&graph, demo(&sim), &query).await;
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["path"], serde_json::json!(["organization", "costs"]));
    assert_eq!(data, serde_json::json!({ "organization": { "id": org, "costs": null } }));
}
