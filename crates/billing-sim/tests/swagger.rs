//! Every v1 response validates against the published Swagger 2.0 spec (a copy in `tests/data`).

// Test helpers outside #[test] fns unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{Value, json};

const SPEC: &str = include_str!("data/elastic-billing-v1.swagger.json");

/// The response schema the spec declares for a path template and status.
fn schema_for(spec: &Value, path: &str, status: &str) -> Value {
    let reference = &spec["paths"][path]["get"]["responses"][status]["schema"]["$ref"];
    assert!(reference.is_string(), "the spec has no {status} schema for {path}");
    // Swagger 2.0 definitions are JSON Schema draft 4; resolve the $ref against them.
    json!({ "definitions": spec["definitions"], "$ref": reference })
}

fn check(spec: &Value, path: &str, status: &str, body: &Value) {
    let schema = schema_for(spec, path, status);
    let validator = jsonschema::draft4::new(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(body).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{path} {status}: {errors:#?}");
}

#[tokio::test]
async fn every_v1_response_matches_the_swagger_spec() {
    let spec: Value = serde_json::from_str(SPEC).unwrap();
    let sim = start().await;
    let key = demo_key(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    let dep = sim.dataset().demo_org().deployments[0].id.to_string();
    let range = "?from=2025-04-01T00:00:00Z&to=2025-06-01T00:00:00Z";
    let ok = [
        ("/billing/costs/{organization_id}", String::new()),
        ("/billing/costs/{organization_id}/charts", "/charts".to_owned()),
        ("/billing/costs/{organization_id}/deployments", "/deployments".to_owned()),
        ("/billing/costs/{organization_id}/deployments/{deployment_id}/charts", format!("/deployments/{dep}/charts")),
        ("/billing/costs/{organization_id}/deployments/{deployment_id}/items", format!("/deployments/{dep}/items")),
        ("/billing/costs/{organization_id}/items", "/items".to_owned()),
    ];
    let mut checked = 0;
    for (template, rest) in &ok {
        for query in [range, "", "?bucketing_strategy=monthly"] {
            let (status, body) = get_json(&v1(&sim, &org, &format!("{rest}{query}")), Some(&key)).await;
            assert_eq!(status, 200, "{template}{query}");
            check(&spec, template, "200", &body);
            checked += 1;
        }
    }
    assert_eq!(checked, 18);
    assert_eq!(spec["paths"].as_object().unwrap().len(), ok.len(), "every documented path is served");

    // The overview of an organization with prepaid credits carries `balance`; check it is there to validate.
    let (_, overview) = get_json(&v1(&sim, &org, ""), Some(&key)).await;
    assert!(overview["balance"]["line_items"].as_array().is_some_and(|l| !l.is_empty()));

    // Error bodies are `BasicFailedReply` for every documented status.
    let other = sim.dataset().other_org().id.to_string();
    let errors = [
        ("/billing/costs/{organization_id}", v1(&sim, &org, "?from=nope"), "400"),
        ("/billing/costs/{organization_id}/items", v1(&sim, &other, "/items"), "403"),
        ("/billing/costs/{organization_id}/deployments", v1(&sim, "1", "/deployments"), "404"),
        (
            "/billing/costs/{organization_id}/deployments/{deployment_id}/items",
            v1(&sim, &org, "/deployments/00/items"),
            "404",
        ),
    ];
    for (template, url, status) in errors {
        let (got, body) = get_json(&url, Some(&key)).await;
        assert_eq!(got.to_string(), status, "{url}");
        check(&spec, template, status, &body);
    }
    sim.push_faults(
        None,
        [billing_sim::Fault::server_error(), billing_sim::Fault::too_many_requests(std::time::Duration::from_secs(1))],
    );
    let (status, body) = get_json(&v1(&sim, &org, "/charts"), Some(&key)).await;
    assert_eq!(status, 500);
    check(&spec, "/billing/costs/{organization_id}/charts", "500", &body);
    let (status, body) = get_json(&v1(&sim, &org, "/charts"), Some(&key)).await;
    assert_eq!(status, 429);
    check(&spec, "/billing/costs/{organization_id}/charts", "429", &body);
    sim.shutdown().await;
}

#[test]
fn the_validator_rejects_a_wrong_body() {
    // Guards the test above against a validator that accepts anything.
    let spec: Value = serde_json::from_str(SPEC).unwrap();
    let schema = schema_for(&spec, "/billing/costs/{organization_id}", "200");
    let validator = jsonschema::draft4::new(&schema).unwrap();
    assert!(!validator.is_valid(&json!({"costs": {"total": 1.0}, "trials": 0.0})));
    assert!(
        !validator.is_valid(&json!({"costs": {"total": "1", "dimensions": []}, "trials": 0.0, "hourly_rate": 0.0}))
    );
    assert!(validator.is_valid(&json!({"costs": {"total": 1.0, "dimensions": []}, "trials": 0.0, "hourly_rate": 0.0})));
}
