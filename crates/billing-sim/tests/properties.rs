//! Consistency rules as properties over random ranges, against one simulator per property.
//!
//! Tolerances: v1 numbers are unrounded sums of the same per-day values, so views agree to float
//! noise (relative 1e-9). v2 line totals are rounded to 4 decimals, so a v2 instance agrees with its
//! v1 deployment to within 0.00005 per line item (checked as 0.0001 per line).

// Test helpers outside #[test] fns unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use billing_sim::SimHandle;
use chrono::{DateTime, Duration, Utc};
use common::*;
use proptest::prelude::*;
use serde_json::Value;
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn param(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Random ranges within the history: a start up to 14 months back at any second, up to 75 days long.
fn ranges() -> impl Strategy<Value = (DateTime<Utc>, DateTime<Utc>)> {
    (0i64..420 * 86_400, 0i64..75 * 86_400).prop_map(|(back, len)| {
        let from = now() - Duration::seconds(back);
        (from, (from + Duration::seconds(len)).min(now()))
    })
}

struct Fixture {
    rt: Runtime,
    sim: SimHandle,
}

impl Fixture {
    fn new() -> Self {
        let rt = runtime();
        let sim = rt.block_on(start());
        Fixture { rt, sim }
    }

    fn v1(&self, org: &str, rest: &str, query: &str) -> Value {
        let url = v1(&self.sim, org, &format!("{rest}?{query}"));
        let (status, body) = self.rt.block_on(get_json(&url, Some(&demo_key(&self.sim))));
        assert_eq!(status, 200, "{url}: {body}");
        body
    }

    fn v2(&self, org: &str, rest: &str, query: &str) -> Value {
        let url = v2(&self.sim, org, &format!("{rest}?{query}"));
        let (status, body) = self.rt.block_on(get_json(&url, Some(&demo_key(&self.sim))));
        assert_eq!(status, 200, "{url}: {body}");
        body
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn v1_views_of_an_organization_agree((from, to) in ranges()) {
        thread_local!(static FIXTURE: Fixture = Fixture::new());
        FIXTURE.with(|fx| {
            let org = fx.sim.dataset().demo_org().id.to_string();
            let q = format!("from={}&to={}", param(from), param(to));
            let overview = fx.v1(&org, "", &q);
            let total = f(&overview, "/costs/total");
            let dims: f64 = overview["costs"]["dimensions"].as_array().unwrap().iter().map(|d| d["cost"].as_f64().unwrap()).sum();
            prop_assert!(close(dims, total, 1e-9), "dimensions {dims} vs total {total}");

            let deployments = fx.v1(&org, "/deployments", &q);
            let per_deployment: f64 = deployments["deployments"].as_array().unwrap().iter().map(|d| d["costs"]["total"].as_f64().unwrap()).sum();
            prop_assert!(close(per_deployment, total, 1e-9));
            prop_assert!(close(f(&deployments, "/total_cost"), total, 1e-9));

            let items = fx.v1(&org, "/items", &q);
            prop_assert!(close(f(&items, "/costs/total"), total, 1e-9));

            let daily = fx.v1(&org, "/charts", &q);
            let monthly = fx.v1(&org, "/charts", &format!("{q}&bucketing_strategy=monthly"));
            prop_assert!(close(chart_total(&daily), total, 1e-9), "daily chart {} vs {total}", chart_total(&daily));
            prop_assert!(close(chart_total(&monthly), total, 1e-9));
            for point in daily["data"].as_array().unwrap() {
                let t = point["timestamp"].as_i64().unwrap();
                prop_assert!(t % 86_400 == 0 && t >= from.timestamp() && t < to.timestamp().max(from.timestamp() + 1));
            }
            Ok(())
        })?;
    }

    #[test]
    fn a_deployment_agrees_across_v1_and_v2((from, to) in ranges(), pick in 0usize..30) {
        thread_local!(static FIXTURE: Fixture = Fixture::new());
        FIXTURE.with(|fx| {
            let demo = fx.sim.dataset().demo_org();
            let org = demo.id.to_string();
            let dep = demo.deployments[pick % demo.deployments.len()].id.to_string();
            let q = format!("from={}&to={}", param(from), param(to));

            let items = fx.v1(&org, &format!("/deployments/{dep}/items"), &q);
            let total = f(&items, "/costs/total");
            let charts = fx.v1(&org, &format!("/deployments/{dep}/charts"), &q);
            prop_assert!(close(chart_total(&charts), total, 1e-9), "chart {} vs items {total}", chart_total(&charts));
            let listed = fx.v1(&org, "/deployments", &q);
            let entry = listed["deployments"].as_array().unwrap().iter().find(|d| d["deployment_id"] == dep.as_str()).cloned();
            match &entry {
                Some(e) => prop_assert!(close(f(e, "/costs/total"), total, 1e-9)),
                None => prop_assert_eq!(total, 0.0, "an unlisted deployment has no cost"),
            }

            let v2_items = fx.v2(&org, &format!("/costs/instances/{dep}/items"), &q);
            let lines = v2_items["products"].as_array().map_or(0, |p| p[0]["product_line_items"].as_array().unwrap().len());
            #[allow(clippy::cast_precision_loss)]
            let tolerance = 0.0001 * lines as f64 + 1e-9;
            let v2_total = f(&v2_items, "/total_ecu");
            prop_assert!((v2_total - total).abs() <= tolerance, "v2 {v2_total} vs v1 {total} ({lines} lines)");
            let v2_chart = fx.v2(&org, &format!("/instances/{dep}/charts"), &format!("{q}&bucketing_strategy=monthly"));
            prop_assert!(close(chart_total(&v2_chart), total, 1e-9));
            Ok(())
        })?;
    }

    #[test]
    fn v2_organization_totals_agree_with_v1((from, to) in ranges()) {
        thread_local!(static FIXTURE: Fixture = Fixture::new());
        FIXTURE.with(|fx| {
            let org = fx.sim.dataset().demo_org().id.to_string();
            let q = format!("from={}&to={}", param(from), param(to));
            let v1_total = f(&fx.v1(&org, "", &q), "/costs/total");
            let instances = fx.v2(&org, "/costs/instances", &q);
            let list = instances["instances"].as_array().cloned().unwrap_or_default();
            let deployments: Vec<&Value> = list.iter().filter(|i| i["type"] == "deployment").collect();
            let lines: usize = deployments.iter().map(|i| i["product_line_items"].as_array().unwrap().len()).sum();
            let v2_deployments: f64 = deployments.iter().map(|i| i["total_ecu"].as_f64().unwrap()).sum();
            #[allow(clippy::cast_precision_loss)]
            let tolerance = 0.0001 * lines as f64 + 1e-6;
            prop_assert!((v2_deployments - v1_total).abs() <= tolerance, "v2 {v2_deployments} vs v1 {v1_total}");

            let all_lines: usize = list.iter().map(|i| i["product_line_items"].as_array().unwrap().len()).sum();
            #[allow(clippy::cast_precision_loss)]
            let tolerance = 0.0001 * all_lines as f64 + 1e-6;
            let chart = fx.v2(&org, "/charts", &q);
            let items = fx.v2(&org, "/costs/items", &q);
            let total = f(&instances, "/total_ecu");
            prop_assert!((chart_total(&chart) - total).abs() <= tolerance);
            prop_assert!((f(&items, "/total_ecu") - total).abs() <= tolerance);
            Ok(())
        })?;
    }
}
