//! Elastic v1 and v2 over real HTTP: every endpoint, auth, ranges and error shapes.

// Test helpers outside #[test] fns unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use billing_model::DateRange;
use billing_sim::{Scale, SimConfig, usage};
use chrono::{TimeZone, Utc};
use common::*;
use serde_json::Value;

const OCT: &str = "from=2025-03-01T00:00:00Z&to=2025-04-01T00:00:00Z";

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// `(Cloud-Enterprise_)?{provider}.{machine}_{region}_{ram}_{zones}` from CONTRACT 2.6.
fn is_capacity_sku(sku: &str) -> bool {
    let parts: Vec<&str> = sku.split('_').collect();
    parts.len() == 4
        && ["aws.", "gcp.", "azure.", "global."].iter().any(|p| parts[0].starts_with(p))
        && !parts[1].is_empty()
        && parts[2].parse::<u32>().is_ok()
        && parts[3].parse::<u32>().is_ok_and(|z| (1..=3).contains(&z))
}

#[tokio::test]
async fn v1_overview_defaults_to_month_to_date_and_matches_other_views() {
    let sim = start().await;
    let key = demo_key(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    let (status, default) = get_json(&v1(&sim, &org, ""), Some(&key)).await;
    assert_eq!(status, 200);
    let explicit = format!("?from=2025-06-01T00:00:00Z&to={}", now().to_rfc3339());
    let (_, same) = get_json(&v1(&sim, &org, &explicit.replace('+', "%2B")), Some(&key)).await;
    assert_eq!(default, same, "missing bounds default to start of month .. now");

    let total = f(&default, "/costs/total");
    assert!(total > 0.0);
    let dims = default["costs"]["dimensions"].as_array().unwrap();
    let kinds: Vec<&str> = dims.iter().map(|d| d["type"].as_str().unwrap()).collect();
    for k in ["capacity", "data_in", "data_out", "data_internode", "storage_bytes", "storage_api"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert!(close(dims.iter().map(|d| d["cost"].as_f64().unwrap()).sum(), total, 1e-9));
    assert!(f(&default, "/hourly_rate") > 0.0);
    let balance = &default["balance"];
    assert!(f(balance, "/available") > 0.0, "the demo org has prepaid credits left: {balance}");

    let (_, deployments) = get_json(&v1(&sim, &org, "/deployments"), Some(&key)).await;
    assert!(close(f(&deployments, "/total_cost"), total, 1e-9));
    let (_, items) = get_json(&v1(&sim, &org, "/items"), Some(&key)).await;
    assert!(close(f(&items, "/costs/total"), total, 1e-9));
    sim.shutdown().await;
}

#[tokio::test]
async fn v1_deployments_items_and_charts_are_plausible() {
    let sim = start().await;
    let key = demo_key(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    let (status, body) = get_json(&v1(&sim, &org, &format!("/deployments?{OCT}")), Some(&key)).await;
    assert_eq!(status, 200);
    let deployments = body["deployments"].as_array().unwrap();
    assert!(deployments.len() >= 20, "a few dozen deployments: {}", deployments.len());
    for d in deployments {
        assert!(is_hex(d["deployment_id"].as_str().unwrap(), 32), "{d}");
        assert!(!d["deployment_name"].as_str().unwrap().is_empty());
        let start = d["period"]["start"].as_str().unwrap();
        assert!(start >= "2025-03-01T00:00:00Z" && d["period"]["end"].as_str().unwrap() <= "2025-04-01T00:00:00Z");
    }

    let dep = deployments[0]["deployment_id"].as_str().unwrap();
    let dep_total = f(&deployments[0], "/costs/total");
    let (status, items) = get_json(&v1(&sim, &org, &format!("/deployments/{dep}/items?{OCT}")), Some(&key)).await;
    assert_eq!(status, 200);
    assert!(close(f(&items, "/costs/total"), dep_total, 1e-9));
    let resources = items["resources"].as_array().unwrap();
    assert!(resources.iter().any(|r| r["kind"] == "elasticsearch"));
    let mut itemized = 0.0;
    for r in resources {
        let sku = r["sku"].as_str().unwrap();
        assert!(is_capacity_sku(sku), "{sku}");
        assert!(close(f(r, "/price"), f(r, "/hours") * f(r, "/price_per_hour"), 1e-9), "{r}");
        assert!(r["instance_count"].as_u64().unwrap() >= 1);
        itemized += f(r, "/price");
    }
    let dts = items["data_transfer_and_storage"].as_array().unwrap();
    assert_eq!(dts.len(), 5);
    itemized += dts.iter().map(|d| d["cost"].as_f64().unwrap()).sum::<f64>();
    assert!(close(itemized, dep_total, 1e-9), "resources + dts = total");

    let (status, charts) = get_json(&v1(&sim, &org, &format!("/deployments/{dep}/charts?{OCT}")), Some(&key)).await;
    assert_eq!(status, 200);
    let points = charts["data"].as_array().unwrap();
    assert!(!points.is_empty() && points.len() <= 31);
    let first = points[0]["timestamp"].as_i64().unwrap();
    assert!(first >= 1_740_787_200 && first % 86_400 == 0, "epoch seconds at midnight: {first}");
    let sum: f64 =
        points.iter().flat_map(|p| p["values"].as_array().unwrap()).map(|v| v["value"].as_f64().unwrap()).sum();
    assert!(close(sum, dep_total, 1e-9));
    sim.shutdown().await;
}

#[tokio::test]
async fn v1_bucketing_is_case_insensitive_and_monthly_sums_days() {
    let sim = start().await;
    let key = demo_key(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    let range = "from=2025-01-15T00:00:00Z&to=2025-03-10T00:00:00Z";
    let (_, daily) = get_json(&v1(&sim, &org, &format!("/charts?{range}&bucketing_strategy=Daily")), Some(&key)).await;
    let (_, daily2) = get_json(&v1(&sim, &org, &format!("/charts?{range}")), Some(&key)).await;
    assert_eq!(daily, daily2, "daily is the default and `Daily` reads as daily");
    assert_eq!(daily["data"].as_array().unwrap().len(), 17 + 28 + 9);
    let (_, monthly) =
        get_json(&v1(&sim, &org, &format!("/charts?{range}&bucketing_strategy=MONTHLY")), Some(&key)).await;
    let months = monthly["data"].as_array().unwrap();
    let stamps: Vec<i64> = months.iter().map(|m| m["timestamp"].as_i64().unwrap()).collect();
    assert_eq!(stamps, vec![1_735_689_600, 1_738_368_000, 1_740_787_200], "bucket starts: Jan 1, Feb 1, Mar 1");
    assert!(close(chart_total(&daily), chart_total(&monthly), 1e-9));
    let (_, overview) = get_json(&v1(&sim, &org, &format!("?{range}")), Some(&key)).await;
    assert!(close(chart_total(&daily), f(&overview, "/costs/total"), 1e-9));

    let response = get(&v1(&sim, &org, "/charts?bucketing_strategy=weekly"), Some(&key)).await;
    assert_eq!(response.status(), 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn v1_accepts_every_rfc3339_form_and_refuses_bad_ranges() {
    let sim = start().await;
    let key = demo_key(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    let (_, reference) = get_json(&v1(&sim, &org, &format!("?{OCT}")), Some(&key)).await;
    for (from, to) in [
        ("2025-03-01T00:00:00.000Z", "2025-04-01T00:00:00.000Z"),
        ("2025-03-01T00%3A00%3A00%2B00%3A00", "2025-04-01T00%3A00%3A00%2B00%3A00"),
        ("2025-03-01T00:00:00.000000+00:00", "2025-04-01T00:00:00.000000+00:00"),
        ("2025-03-01T02:00:00%2B02:00", "2025-04-01T02:00:00%2B02:00"),
    ] {
        let (status, body) = get_json(&v1(&sim, &org, &format!("?from={from}&to={to}")), Some(&key)).await;
        assert_eq!(status, 200, "{from}");
        assert_eq!(body, reference, "{from} .. {to}");
    }

    for query in [
        "?from=2025-04-01T00:00:00Z&to=2025-03-01T00:00:00Z",
        "?from=yesterday",
        "?to=2025-02-30T00:00:00Z",
        "?from=2030-01-01T00:00:00Z",
    ] {
        for rest in ["", "/deployments", "/items", "/charts"] {
            let response = get(&v1(&sim, &org, &format!("{rest}{query}")), Some(&key)).await;
            assert_eq!(response.status(), 400, "{rest}{query}");
            assert_eq!(response.headers()["x-cloud-error-codes"], "costs.invalid_date_range");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["errors"][0]["code"], "costs.invalid_date_range");
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn v1_range_rule_counts_days_starting_inside_the_range() {
    let sim = start().await;
    let key = demo_key(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    let total = |from: &'static str, to: &'static str| {
        let url = v1(&sim, &org, &format!("?from={from}&to={to}"));
        let key = key.clone();
        async move { f(&get_json(&url, Some(&key)).await.1, "/costs/total") }
    };
    let day = total("2025-03-05T00:00:00Z", "2025-03-06T00:00:00Z").await;
    assert!(day > 0.0);
    assert_eq!(
        total("2025-03-05T00:00:00Z", "2025-03-05T00:00:01Z").await,
        day,
        "a day counts when its start is in range"
    );
    assert_eq!(total("2025-03-05T00:00:01Z", "2025-03-06T00:00:00Z").await, 0.0, "a day starting before from is out");
    assert_eq!(total("2025-03-05T00:00:00Z", "2025-03-05T00:00:00Z").await, 0.0, "an empty range is empty");
    let two = total("2025-03-05T00:00:00Z", "2025-03-07T00:00:00Z").await;
    let next = total("2025-03-06T00:00:00Z", "2025-03-07T00:00:00Z").await;
    assert!(close(two, day + next, 1e-12));
    assert_eq!(total("2010-01-01T00:00:00Z", "2011-01-01T00:00:00Z").await, 0.0, "nothing before history");
    sim.shutdown().await;
}

#[tokio::test]
async fn v1_auth_and_not_found_errors() {
    let sim = start().await;
    let ds = sim.dataset();
    let demo = ds.demo_org().id.to_string();
    let other = ds.other_org().id.to_string();
    let dep = ds.demo_org().deployments[0].id.to_string();
    let cases: Vec<(String, Option<String>, u16, &str)> = vec![
        (v1(&sim, &demo, ""), None, 401, "root.unauthenticated"),
        (v1(&sim, &demo, ""), Some("ApiKey nope".into()), 401, "root.unauthenticated"),
        (v1(&sim, &demo, ""), Some(ds.credentials().elastic_demo_key.clone()), 401, "root.unauthenticated"),
        (v1(&sim, &other, "/items"), Some(demo_key(&sim)), 403, "organization.invalid_access"),
        (v1(&sim, &demo, "/deployments"), Some(other_key(&sim)), 403, "organization.invalid_access"),
        (v1(&sim, "999", "/charts"), Some(demo_key(&sim)), 404, "organization.not_found"),
        (
            v1(&sim, &demo, "/deployments/0000/items"),
            Some(demo_key(&sim)),
            404,
            "billing_service.es_cluster_id_not_found",
        ),
        (
            v1(&sim, &demo, "/deployments/0000/charts"),
            Some(demo_key(&sim)),
            404,
            "billing_service.es_cluster_id_not_found",
        ),
        (
            v1(&sim, &other, &format!("/deployments/{dep}/items")),
            Some(other_key(&sim)),
            404,
            "billing_service.es_cluster_id_not_found",
        ),
    ];
    for (url, auth, status, code) in cases {
        let response = get(&url, auth.as_deref()).await;
        assert_eq!(response.status().as_u16(), status, "{url} {auth:?}");
        assert_eq!(response.headers()["x-cloud-error-codes"], code, "{url}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], code);
        assert!(!body["errors"][0]["message"].as_str().unwrap().is_empty());
    }
    // Bearer works as well as ApiKey, and the other key reads its own organization.
    let bearer = format!("Bearer {}", ds.credentials().elastic_demo_key);
    assert_eq!(get(&v1(&sim, &demo, ""), Some(&bearer)).await.status(), 200);
    assert_eq!(get(&v1(&sim, &other, ""), Some(&other_key(&sim))).await.status(), 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_expected_costs_of_the_dataset_are_what_v1_answers() {
    let sim = billing_sim::spawn(SimConfig { scale: Scale { organizations: 3, ..config().scale }, ..config() })
        .await
        .unwrap();
    let ds = sim.dataset();
    let range = DateRange::new(
        Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2025, 4, 1, 0, 0, 0).unwrap(),
    )
    .unwrap();
    // The regular organization, read with its own key: the demo key reads it too, the other
    // organization's key does not.
    let org = ds.regular_orgs().next().unwrap();
    let key = format!("ApiKey {}", ds.credentials().elastic_regular_keys[0]);
    let id = org.id.to_string();
    assert_eq!(get(&v1(&sim, &id, ""), Some(&other_key(&sim))).await.status(), 403);
    assert_eq!(get(&v1(&sim, ds.demo_org().id.as_str(), ""), Some(&key)).await.status(), 403);

    let (status, overview) = get_json(&v1(&sim, &id, &format!("?{OCT}")), Some(&key)).await;
    assert_eq!(status, 200);
    assert!(close(f(&overview, "/costs/total"), usage::organization_cost(ds, org, &range, now()), 1e-12));
    let (_, demo_view) = get_json(&v1(&sim, &id, &format!("?{OCT}")), Some(&demo_key(&sim))).await;
    assert_eq!(overview, demo_view);

    let (_, listed) = get_json(&v1(&sim, &id, &format!("/deployments?{OCT}")), Some(&key)).await;
    let listed = listed["deployments"].as_array().unwrap();
    let expected: Vec<(&str, f64)> = org
        .deployments
        .iter()
        .filter_map(|d| usage::deployment_cost(ds, d, &range, now()).map(|c| (d.id.as_str(), c)))
        .collect();
    assert_eq!(listed.len(), expected.len());
    assert!(expected.len() < org.deployments.len(), "some deployments did not run in the range, and are left out");
    for (d, (id, cost)) in listed.iter().zip(&expected) {
        assert_eq!(d["deployment_id"], *id);
        assert!(close(f(d, "/costs/total"), *cost, 1e-12), "{d}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn v1_big_and_empty_orgs() {
    let sim = start().await;
    let key = demo_key(&sim);
    let big = sim.dataset().big_org();
    let (status, body) = get_json(&v1(&sim, big.id.as_str(), &format!("/deployments?{OCT}")), Some(&key)).await;
    assert_eq!(status, 200);
    let listed = body["deployments"].as_array().unwrap().len();
    assert!(listed > 40 && listed <= big.deployments.len());
    let empty = sim.dataset().empty_org().id.to_string();
    let (status, body) = get_json(&v1(&sim, &empty, ""), Some(&key)).await;
    assert_eq!(status, 200);
    assert_eq!(f(&body, "/costs/total"), 0.0);
    let (_, body) = get_json(&v1(&sim, &empty, "/deployments"), Some(&key)).await;
    assert_eq!(body["deployments"], serde_json::json!([]));
    sim.shutdown().await;
}

// ---- v2 ----

#[tokio::test]
async fn v2_instances_arithmetic_names_and_types() {
    let sim = start().await;
    let key = demo_key(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    let (status, body) = get_json(&v2(&sim, &org, &format!("/costs/instances?{OCT}")), Some(&key)).await;
    assert_eq!(status, 200);
    let instances = body["instances"].as_array().unwrap();
    let mut sum = 0.0;
    for i in instances {
        let lines = i["product_line_items"].as_array().unwrap();
        assert!(!lines.is_empty());
        for l in lines {
            assert_eq!(f(l, "/total_ecu"), round4(f(l, "/quantity/value") * f(l, "/rate/value")), "{l}");
            assert_eq!(l["display_quantity"]["type"], "default");
            if l["type"] == "capacity" {
                assert!(is_capacity_sku(l["sku"].as_str().unwrap()), "{l}");
                assert!(l["kind"].is_string());
                assert_eq!(l["unit"], "hour");
            }
        }
        let lines_sum: f64 = lines.iter().map(|l| l["total_ecu"].as_f64().unwrap()).sum();
        assert!((f(i, "/total_ecu") - lines_sum).abs() < 1e-9);
        sum += f(i, "/total_ecu");
    }
    assert!((f(&body, "/total_ecu") - sum).abs() < 1e-6);
    let types: Vec<&str> = instances.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"deployment"));
    assert!(types.iter().any(|t| ["observability", "security", "elasticsearch"].contains(t)), "{types:?}");
    // Project names come only with include_names=true; deployments always have theirs.
    assert!(instances.iter().filter(|i| i["type"] != "deployment").all(|i| i["name"] == ""));
    let (_, named) = get_json(&v2(&sim, &org, &format!("/costs/instances?{OCT}&include_names=true")), Some(&key)).await;
    assert!(named["instances"].as_array().unwrap().iter().all(|i| !i["name"].as_str().unwrap().is_empty()));
    assert_eq!(
        get(&v2(&sim, &org, &format!("/costs/instances?{OCT}&include_names=maybe")), Some(&key)).await.status(),
        400
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn v2_items_instance_items_and_grouping() {
    let sim = start().await;
    let key = demo_key(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    let (_, instances) = get_json(&v2(&sim, &org, &format!("/costs/instances?{OCT}")), Some(&key)).await;
    let first = &instances["instances"][0];
    let id = first["id"].as_str().unwrap();
    let (status, items) = get_json(&v2(&sim, &org, &format!("/costs/instances/{id}/items?{OCT}")), Some(&key)).await;
    assert_eq!(status, 200);
    assert_eq!(items["total_ecu"], first["total_ecu"]);
    assert_eq!(items["products"][0]["product_line_items"], first["product_line_items"]);

    let (_, by_product) = get_json(&v2(&sim, &org, &format!("/costs/items?{OCT}")), Some(&key)).await;
    let (_, by_family) =
        get_json(&v2(&sim, &org, &format!("/costs/items?{OCT}&serverless_group_by=product_family")), Some(&key)).await;
    let kinds = |v: &Value| -> Vec<String> {
        v["products"].as_array().unwrap().iter().map(|p| p["type"].as_str().unwrap().to_owned()).collect()
    };
    assert!(kinds(&by_product).contains(&"deployment".to_owned()));
    assert_eq!(kinds(&by_family), vec!["deployment".to_owned(), "serverless".to_owned()]);
    let (a, b, c) = (f(&by_product, "/total_ecu"), f(&by_family, "/total_ecu"), f(&instances, "/total_ecu"));
    let lines: usize = instances["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["product_line_items"].as_array().unwrap().len())
        .sum();
    #[allow(clippy::cast_precision_loss)]
    let tolerance = 0.0001 * lines as f64;
    assert!((a - c).abs() <= tolerance && (b - c).abs() <= tolerance, "{a} {b} {c}");
    for p in by_product["products"].as_array().unwrap() {
        for l in p["product_line_items"].as_array().unwrap() {
            assert_eq!(f(l, "/total_ecu"), round4(f(l, "/quantity/value") * f(l, "/rate/value")));
        }
    }
    let response = get(&v2(&sim, &org, &format!("/costs/items?{OCT}&serverless_group_by=team")), Some(&key)).await;
    assert_eq!(response.status(), 400);
    let response = get(&v2(&sim, &org, &format!("/costs/instances/ffff/items?{OCT}")), Some(&key)).await;
    assert_eq!(response.status(), 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn v2_charts_filter_by_instance_type_and_live_outside_costs() {
    let sim = start().await;
    let key = demo_key(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    let values = |v: &Value| -> Vec<Value> {
        v["data"].as_array().unwrap().iter().flat_map(|p| p["values"].as_array().unwrap().clone()).collect()
    };
    let (status, all) = get_json(&v2(&sim, &org, &format!("/charts?{OCT}")), Some(&key)).await;
    assert_eq!(status, 200);
    let (_, deps) = get_json(&v2(&sim, &org, &format!("/charts?{OCT}&instance_type=deployments")), Some(&key)).await;
    let (_, projects) = get_json(&v2(&sim, &org, &format!("/charts?{OCT}&instance_type=projects")), Some(&key)).await;
    assert!(values(&deps).iter().all(|v| v["type"] == "deployment"));
    assert!(!values(&projects).is_empty() && values(&projects).iter().all(|v| v["type"] != "deployment"));
    assert_eq!(values(&all).len(), values(&deps).len() + values(&projects).len());
    assert_eq!(all["data"].as_array().unwrap().len(), 31);

    let (_, instances) = get_json(&v2(&sim, &org, &format!("/costs/instances?{OCT}")), Some(&key)).await;
    for instance in instances["instances"].as_array().unwrap().iter().take(5) {
        let id = instance["id"].as_str().unwrap();
        let (status, chart) =
            get_json(&v2(&sim, &org, &format!("/instances/{id}/charts?{OCT}&bucketing_strategy=monthly")), Some(&key))
                .await;
        assert_eq!(status, 200);
        let sum: f64 = values(&chart).iter().map(|v| v["value"].as_f64().unwrap()).sum();
        let lines = instance["product_line_items"].as_array().unwrap().len();
        #[allow(clippy::cast_precision_loss)]
        let tolerance = 0.0001 * lines as f64;
        assert!((sum - f(instance, "/total_ecu")).abs() <= tolerance, "{id}: {sum} vs {}", instance["total_ecu"]);
    }
    assert_eq!(get(&v2(&sim, &org, &format!("/costs/charts?{OCT}")), Some(&key)).await.status(), 404);
    assert_eq!(get(&v2(&sim, &org, &format!("/charts?{OCT}&instance_type=vms")), Some(&key)).await.status(), 400);
    assert_eq!(
        get(&v2(&sim, &org, &format!("/charts?{OCT}&bucketing_strategy=hourly")), Some(&key)).await.status(),
        400
    );
    assert_eq!(get(&v2(&sim, &org, &format!("/instances/ffff/charts?{OCT}")), Some(&key)).await.status(), 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn v2_errors_have_the_real_shapes() {
    let sim = start().await;
    let key = demo_key(&sim);
    let ds = sim.dataset();
    let demo = ds.demo_org().id.to_string();
    let other = ds.other_org().id.to_string();

    // The exact production body for a `from` before 2021.
    let response =
        get(&v2(&sim, &demo, "/costs/instances?from=2001-08-04T00:00:00Z&to=2001-08-05T00:00:00Z"), Some(&key)).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    let fixture: Value =
        serde_json::from_str(include_str!("data/elastic-v2-costs-instances.400-invalid-input.json")).unwrap();
    assert_eq!(body, fixture);

    for (query, key_name) in [
        ("?to=2025-04-01T00:00:00Z", "from"),
        ("?from=2025-03-01T00:00:00Z", "to"),
        ("?from=2025-03-01&to=2025-04-01T00:00:00Z", "from"),
        ("?from=2025-04-01T00:00:00Z&to=2025-03-01T00:00:00Z", "_schema"),
    ] {
        for rest in ["/costs/instances", "/costs/items", "/charts"] {
            let (status, body) = get_json(&v2(&sim, &demo, &format!("{rest}{query}")), Some(&key)).await;
            assert_eq!(status, 400, "{rest}{query}");
            assert_eq!(body["error"], "invalid_input");
            assert_eq!(body["success"], false);
            assert!(body["detail"]["messages"][key_name].is_array(), "{query}: {body}");
        }
    }

    let response = get(&v2(&sim, &demo, &format!("/charts?{OCT}")), None).await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(response.text().await.unwrap(), "Unauthorized");

    let response = get(&v2(&sim, &other, &format!("/costs/instances?{OCT}")), Some(&key)).await;
    assert_eq!(response.status(), 403);
    assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        response.text().await.unwrap(),
        format!("403: User does not have 'billing-costs:get:{other}' permissions")
    );

    let (status, body) = get_json(&v2(&sim, "31337", &format!("/costs/items?{OCT}")), Some(&key)).await;
    assert_eq!(status, 404);
    assert_eq!(body["success"], false);

    // The organization without deployments answers 200 with `instances: null`.
    let empty = ds.empty_org().id.to_string();
    let (status, body) = get_json(&v2(&sim, &empty, &format!("/costs/instances?{OCT}")), Some(&key)).await;
    assert_eq!(status, 200);
    assert_eq!(body["instances"], Value::Null);
    assert_eq!(body["total_ecu"].as_f64(), Some(0.0));
    sim.shutdown().await;
}

#[tokio::test]
async fn v1_accept_csv_falls_back_to_json() {
    // The spec describes `Accept: text/csv` without a schema; the simulator answers JSON, leniently.
    let sim = start().await;
    let org = sim.dataset().demo_org().id.to_string();
    let response = client()
        .get(v1(&sim, &org, &format!("/deployments?{OCT}")))
        .header("authorization", demo_key(&sim))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert!(body["total_cost"].as_f64().unwrap() > 0.0);
    sim.shutdown().await;
}
