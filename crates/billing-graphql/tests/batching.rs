//! Lazy resolution and batching, measured by the simulator's request counters.

mod common;

use billing_sim::endpoints as ep;
use common::*;

#[tokio::test]
async fn selecting_only_the_id_calls_no_upstream() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = sim.dataset().demo_org().id.clone();
    let data = data(&graph, demo(&sim), &format!(r#"{{ organization(id: "{org}") {{ id }} }}"#)).await;
    assert_eq!(data["organization"]["id"], org.as_str());
    assert_eq!(sim.stats().total(), 0);
}

#[tokio::test]
async fn one_deployments_call_serves_aliases_repeats_and_single_lookups() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = sim.dataset().demo_org();
    // Deployments that ran all month to date: created before the month, never deleted.
    let month_start = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let running: Vec<_> = org.deployments.iter().filter(|d| d.created < month_start && d.deleted.is_none()).collect();
    let picked = running[3];
    let query = format!(
        r#"{{ organization(id: "{}") {{
            a: deployments {{ id name totalCost }}
            b: deployments {{ id totalCost dimensions {{ type cost }} }}
            deployments {{ id }}
            one: deployment(id: "{}") {{ id name }}
            missing: deployment(id: "ffffffffffffffffffffffffffffffff") {{ id }}
        }} }}"#,
        org.id, picked.id
    );
    let data = data(&graph, demo(&sim), &query).await;
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 1);
    assert_eq!(sim.stats().total(), 1, "nothing else was called");
    let a = data["organization"]["a"].as_array().unwrap();
    assert_eq!(a.len(), data["organization"]["deployments"].as_array().unwrap().len());
    assert!(a.len() >= running.len());
    assert_eq!(data["organization"]["one"]["name"], picked.name.as_str());
    assert!(data["organization"]["missing"].is_null());
    // Dimensions add up to each deployment's total.
    for d in data["organization"]["b"].as_array().unwrap() {
        let sum: f64 = d["dimensions"].as_array().unwrap().iter().map(|x| x["cost"].as_f64().unwrap()).sum();
        assert!((sum - d["totalCost"].as_f64().unwrap()).abs() < 1e-6, "{d}");
    }
}

#[tokio::test]
async fn line_items_of_every_deployment_cost_one_instances_call() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = &sim.dataset().demo_org().id;
    let query = format!(
        r#"{{ organization(id: "{org}") {{
            deployments(from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z") {{ id totalCost lineItems {{ sku totalEcu }} }}
        }} }}"#
    );
    let data = data(&graph, demo(&sim), &query).await;
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 1);
    assert_eq!(calls(&sim, ep::V2_INSTANCES), 1, "never one call per instance");
    let deployments = data["organization"]["deployments"].as_array().unwrap();
    assert!(deployments.len() > 10);
    for d in deployments {
        let lines: f64 = d["lineItems"].as_array().unwrap().iter().map(|l| l["totalEcu"].as_f64().unwrap()).sum();
        let total = d["totalCost"].as_f64().unwrap();
        // v2 lines are rounded to 4 decimals each; v1 totals are not.
        assert!((lines - total).abs() < 0.01 + total * 1e-6, "{}: v2 {lines} vs v1 {total}", d["id"]);
    }
}

#[tokio::test]
async fn charts_cost_one_call_per_distinct_deployment_range_and_bucketing() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = sim.dataset().demo_org();
    let first = &org.deployments[0].id;
    let query = format!(
        r#"{{ organization(id: "{}") {{
            deployments(from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z") {{
                id totalCost
                daily: charts {{ points {{ timestamp total }} }}
                again: charts(bucketing: DAILY) {{ points {{ total }} }}
                monthly: charts(bucketing: MONTHLY) {{ points {{ total }} }}
            }}
            deployment(id: "{first}", from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z") {{ charts {{ bucketing }} }}
        }} }}"#,
        org.id
    );
    let data = data(&graph, demo(&sim), &query).await;
    let n = data["organization"]["deployments"].as_array().unwrap().len() as u64;
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 1);
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENT_CHARTS), 2 * n, "daily and monthly per deployment, none repeated");
    for d in data["organization"]["deployments"].as_array().unwrap() {
        let daily: f64 = d["daily"]["points"].as_array().unwrap().iter().map(|p| p["total"].as_f64().unwrap()).sum();
        let monthly: f64 =
            d["monthly"]["points"].as_array().unwrap().iter().map(|p| p["total"].as_f64().unwrap()).sum();
        let total = d["totalCost"].as_f64().unwrap();
        assert!((daily - total).abs() < 1e-6 * (1.0 + total), "daily chart sums to the total");
        assert!((monthly - daily).abs() < 1e-6 * (1.0 + total), "monthly buckets sum the days");
    }
}

#[tokio::test]
async fn a_child_inherits_its_parents_range_unless_given_its_own() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = &sim.dataset().demo_org().id;
    let query = format!(
        r#"{{ organization(id: "{org}") {{
            deployments(from: "2026-09-01T00:00:00Z", to: "2026-09-03T00:00:00Z") {{
                inherited: charts {{ points {{ timestamp }} }}
                own: charts(from: "2026-09-01T00:00:00Z", to: "2026-09-05T00:00:00Z") {{ points {{ timestamp }} }}
            }}
        }} }}"#
    );
    let data = data(&graph, demo(&sim), &query).await;
    let d = &data["organization"]["deployments"][0];
    assert_eq!(d["inherited"]["points"].as_array().unwrap().len(), 2);
    assert_eq!(d["own"]["points"].as_array().unwrap().len(), 4);
    let logged: Vec<_> = sim.requests().into_iter().filter(|r| r.template == ep::V1_DEPLOYMENT_CHARTS).collect();
    assert!(logged.iter().any(|r| r.query.as_deref().unwrap_or("").contains("2026-09-03")));
}

#[tokio::test]
async fn every_endpoint_is_reachable_and_called_only_when_selected() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = sim.dataset().demo_org();
    let dep = &org.deployments[0].id;
    let range = r#"from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z""#;
    let query = format!(
        r#"{{ organization(id: "{}") {{
            costs({range}) {{ total trials hourlyRate dimensions {{ type rawType cost }} balance {{ available }} }}
            charts({range}, bucketing: MONTHLY) {{ bucketing points {{ timestamp total values {{ id name value }} }} }}
            items({range}) {{ total resources {{ sku hours kind }} dataTransferAndStorage {{ sku type cost }} }}
            productCosts({range}) {{ type totalEcu lineItems {{ sku }} }}
            instanceCharts({range}) {{ points {{ total }} }}
            instances({range}) {{ id name type totalEcu lineItems {{ sku }} }}
            deployment(id: "{dep}", {range}) {{ items {{ total }} products {{ type totalEcu }} }}
        }} }}"#,
        org.id
    );
    let data = data(&graph, demo(&sim), &query).await;
    for template in [
        ep::V1_OVERVIEW,
        ep::V1_CHARTS,
        ep::V1_ITEMS,
        ep::V1_DEPLOYMENTS,
        ep::V1_DEPLOYMENT_ITEMS,
        ep::V2_ITEMS,
        ep::V2_CHARTS,
        ep::V2_INSTANCES,
        ep::V2_INSTANCE_ITEMS,
    ] {
        assert_eq!(calls(&sim, template), 1, "{template}");
    }
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENT_CHARTS), 0, "not selected, not called");
    let o = &data["organization"];
    let total = o["costs"]["total"].as_f64().unwrap();
    let items_total = o["items"]["total"].as_f64().unwrap();
    assert!((total - items_total).abs() < 1e-6 * (1.0 + total), "overview and items agree");
    // Instance charts of one instance.
    let instance = o["instances"][0]["id"].as_str().unwrap().to_owned();
    let q = format!(
        r#"{{ organization(id: "{}") {{ instances({range}) {{ id charts(bucketing: MONTHLY) {{ points {{ total }} }} }} }} }}"#,
        org.id
    );
    let charts = common::data(&graph, demo(&sim), &q).await;
    let instances = charts["organization"]["instances"].as_array().unwrap();
    assert!(instances.iter().any(|i| i["id"] == instance.as_str()));
    assert_eq!(calls(&sim, ep::V2_INSTANCE_CHARTS), instances.len() as u64);
}
