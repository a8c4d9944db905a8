//! `@skip` and `@include` follow the spec, a variable's default value included.

mod common;

use async_graphql::{Request, Variables};
use common::*;

const QUERY: &str = r#"query($hide: Boolean = true, $show: Boolean = false) {
    organization(id: "1") { id hidden: id @skip(if: $hide) shown: id @include(if: $show) } }"#;

#[tokio::test]
async fn a_variable_left_out_takes_its_default_in_skip_and_include() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let data = data(&graph, demo(&sim), QUERY).await;
    assert_eq!(data, serde_json::json!({ "organization": { "id": "1" } }));
}

#[tokio::test]
async fn a_variable_given_overrides_its_default() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let vars = Variables::from_json(serde_json::json!({ "hide": false, "show": true }));
    let response = graph.execute(Request::new(QUERY).variables(vars), demo(&sim)).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().unwrap();
    assert_eq!(data, serde_json::json!({ "organization": { "id": "1", "hidden": "1", "shown": "1" } }));
}
