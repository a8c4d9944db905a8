//! The FinOps fields (forecast, anomalies, period comparison, credits, reconciliation) against
//! the simulator over real HTTP: answers checked against the dataset's own daily costs (read
//! from `billing_sim::usage`, not through the endpoints), upstream calls counted by the
//! simulator to be no more than each field's description states.

#![allow(clippy::unwrap_used, clippy::cast_precision_loss, clippy::cast_possible_truncation)]

mod common;

use billing_model::DateRange;
use billing_sim::endpoints as ep;
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use common::*;
use serde_json::Value;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).unwrap().and_utc()
}

/// The demo organization's cost on one day, from the dataset.
fn org_day(sim: &billing_sim::SimHandle, d: NaiveDate) -> f64 {
    let ds = sim.dataset();
    let range = DateRange::new(midnight(d), midnight(d + TimeDelta::days(1))).unwrap();
    billing_sim::usage::organization_cost(ds, ds.demo_org(), &range, now())
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

#[tokio::test]
async fn the_forecast_of_the_organization_and_every_deployment_costs_one_chart_call() {
    let sim = sim().await;
    let graph = uncached_at_sim_clock(&sim);
    let org = &sim.dataset().demo_org().id;
    let query = format!(
        r#"{{ organization(id: "{org}") {{
            forecast {{ monthToDate projected low high remainingDays method }}
            deploymentForecasts {{ deploymentId forecast {{ monthToDate projected }} }}
            deployments {{ id forecast {{ projected }} }}
        }} }}"#
    );
    let data = data_ok(&graph, &sim, &query).await;
    assert_eq!(calls(&sim, ep::V1_CHARTS), 1, "one org-wide chart, never one per deployment");
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 1);
    assert_eq!(sim.stats().total(), 2);

    let fc = &data["organization"]["forecast"];
    // The clock is 2026-11-20 12:00: nineteen complete days, eleven projected (the 20th to the 30th).
    let mtd: f64 = (1..20).map(|d| org_day(&sim, day(d))).sum();
    assert!(close(f(&fc["monthToDate"]), mtd), "{fc} vs {mtd}");
    assert_eq!(fc["remainingDays"], 11);
    // The projection, recomputed by hand from the dataset's days.
    let projection: f64 = match fc["method"].as_str().unwrap() {
        "TRAILING_MEAN" => (6..20).map(|d| org_day(&sim, day(d))).sum::<f64>() / 14.0 * 11.0,
        "WEEKDAY_MEAN" => {
            let history: Vec<(NaiveDate, f64)> = midnight(day(20) - TimeDelta::days(28))
                .date_naive()
                .iter_days()
                .take(28)
                .map(|d| (d, org_day(&sim, d)))
                .collect();
            (20..=30)
                .map(|d| {
                    let same: Vec<f64> =
                        history.iter().filter(|h| h.0.weekday() == day(d).weekday()).map(|h| h.1).collect();
                    same.iter().sum::<f64>() / same.len() as f64
                })
                .sum()
        }
        other => panic!("{other}"),
    };
    assert!(close(f(&fc["projected"]), mtd + projection), "{fc} vs {}", mtd + projection);
    assert!(f(&fc["low"]) <= f(&fc["projected"]) && f(&fc["projected"]) <= f(&fc["high"]));
    assert!(f(&fc["low"]) >= mtd);

    // Deployments' month to date add up to the organization's; each deployment's own forecast
    // is the one in the list.
    let list = data["organization"]["deploymentForecasts"].as_array().unwrap();
    let sum: f64 = list.iter().map(|d| f(&d["forecast"]["monthToDate"])).sum();
    assert!(close(sum, mtd), "{sum} vs {mtd}");
    for d in data["organization"]["deployments"].as_array().unwrap() {
        let listed = list.iter().find(|l| l["deploymentId"] == d["id"]).unwrap();
        assert_eq!(listed["forecast"]["projected"], d["forecast"]["projected"]);
    }
}

#[tokio::test]
async fn the_scripted_anomaly_is_the_only_one_found_in_the_last_thirty_days() {
    let sim = sim().await;
    let graph = uncached_at_sim_clock(&sim);
    let ds = sim.dataset();
    let org = &ds.demo_org().id;
    let (dep, spike) = ds.scripted_anomaly().unwrap();
    assert_eq!(spike, day(17));
    let query = format!(
        r#"{{ organization(id: "{org}") {{
            anomalies {{ day series actual expected low high score }}
            deployment(id: "{id}") {{
                anomalies {{ day series }}
                charts(from: "2026-11-03T00:00:00Z", to: "2026-11-20T00:00:00Z") {{ points {{ timestamp anomalies {{ series actual }} }} }}
            }}
        }} }}"#,
        id = dep.id
    );
    let data = data_ok(&graph, &sim, &query).await;
    let found = data["organization"]["anomalies"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{found:#?}");
    let a = &found[0];
    assert_eq!((a["day"].as_str().unwrap(), a["series"].as_str().unwrap()), ("2026-11-17", dep.id.as_str()));
    let cost = |d: NaiveDate| {
        let range = DateRange::new(midnight(d), midnight(d + TimeDelta::days(1))).unwrap();
        billing_sim::usage::deployment_cost(ds, dep, &range, now()).unwrap()
    };
    assert!(close(f(&a["actual"]), cost(spike)));
    // The baseline is the median of the fourteen days before: an even count, so the mean of the
    // middle two.
    let mut before: Vec<f64> = (3..17).map(|d| cost(day(d))).collect();
    before.sort_by(f64::total_cmp);
    assert!(close(f(&a["expected"]), (before[6] + before[7]) / 2.0), "{a}");
    assert!(f(&a["actual"]) > f(&a["high"]) && f(&a["score"]) > 3.5);
    // The spike is about three times the baseline.
    assert!((f(&a["actual"]) / f(&a["expected"]) - 3.0).abs() < 0.2, "{a}");

    // Per dimension: on the 17th, the total and the data transfer and storage dimensions (the
    // burst); capacity never moves, and the total moves on no other day. (A dimension alone may
    // leave its band on another day: its daily quantities are drawn uniformly at random.)
    let dims = data["organization"]["deployment"]["anomalies"].as_array().unwrap();
    let on = |day: &str, series: &str| dims.iter().any(|d| d["day"] == day && d["series"] == series);
    for series in ["total", "data_out", "data_internode", "storage_bytes", "storage_api"] {
        assert!(on("2026-11-17", series), "{series}: {dims:#?}");
    }
    assert!(dims.iter().all(|d| d["series"] != "capacity"), "{dims:#?}");
    assert!(dims.iter().all(|d| d["series"] != "total" || d["day"] == "2026-11-17"), "{dims:#?}");

    // On chart points: only the 17th's point has anomalies.
    let points = data["organization"]["deployment"]["charts"]["points"].as_array().unwrap();
    assert_eq!(points.len(), 17);
    for p in points {
        let flagged = p["anomalies"].as_array().unwrap();
        if p["timestamp"].as_str().unwrap().starts_with("2026-11-17") {
            assert!(!flagged.is_empty(), "{p}");
        } else {
            assert!(flagged.is_empty(), "{p}");
        }
    }
    // One org chart; one deployment chart for `anomalies` and one for `charts` (other ranges).
    assert_eq!(calls(&sim, ep::V1_CHARTS), 1);
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENT_CHARTS), 2);
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 1);
    assert_eq!(sim.stats().total(), 4);
}

#[tokio::test]
async fn anomaly_arguments_are_checked_and_other_fields_still_resolve() {
    let sim = sim().await;
    let graph = uncached_at_sim_clock(&sim);
    let org = &sim.dataset().demo_org().id;
    let query = format!(
        r#"{{ organization(id: "{org}") {{
            id
            zero: anomalies(window: 0) {{ day }}
            long: anomalies(window: 91) {{ day }}
            negative: anomalies(threshold: -1) {{ day }}
            wide: anomalies(from: "2020-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z") {{ day }}
        }} }}"#
    );
    let (data, errors) = run(&graph, demo(&sim), &query).await;
    assert_eq!(codes(&errors), ["BAD_USER_INPUT"; 4]);
    assert_eq!(data["organization"]["id"], org.as_str());
    assert_eq!(sim.stats().total(), 0, "refused before any call");
}

#[tokio::test]
async fn a_cost_change_fetches_the_previous_range_only_when_selected() {
    let sim = sim().await;
    let graph = uncached_at_sim_clock(&sim);
    let ds = sim.dataset();
    let org = &ds.demo_org().id;
    let range = r#"from: "2026-11-01T00:00:00Z", to: "2026-11-11T00:00:00Z""#;

    let bounds = format!(r#"{{ organization(id: "{org}") {{ costChange({range}) {{ from to previousFrom }} }} }}"#);
    let data = data_ok(&graph, &sim, &bounds).await;
    assert_eq!(data["organization"]["costChange"]["previousFrom"], "2026-10-22T00:00:00+00:00");
    assert_eq!(sim.stats().total(), 0);

    let current = format!(r#"{{ organization(id: "{org}") {{ costChange({range}) {{ current }} }} }}"#);
    data_ok(&graph, &sim, &current).await;
    assert_eq!(calls(&sim, ep::V1_OVERVIEW), 1);

    let all = format!(
        r#"{{ organization(id: "{org}") {{
            costs({range}) {{ total }}
            costChange({range}) {{ current previous absolute percent }}
        }} }}"#
    );
    let data = data_ok(&graph, &sim, &all).await;
    assert_eq!(calls(&sim, ep::V1_OVERVIEW), 3, "two more: the range (shared with costs) and the previous");
    let c = &data["organization"]["costChange"];
    let cost = |from: u32, to: u32, month: u32| {
        let r = DateRange::new(
            midnight(NaiveDate::from_ymd_opt(2026, month, from).unwrap()),
            midnight(NaiveDate::from_ymd_opt(2026, 11, to).unwrap()),
        )
        .unwrap();
        billing_sim::usage::organization_cost(ds, ds.demo_org(), &r, now())
    };
    let (now_cost, before) = (cost(1, 11, 11), cost(22, 1, 10));
    assert!(close(f(&c["current"]), now_cost) && close(f(&c["previous"]), before), "{c}");
    assert!(close(f(&c["absolute"]), now_cost - before));
    assert!(close(f(&c["percent"]), (now_cost - before) / before * 100.0));
    assert_eq!(data["organization"]["costs"]["total"], c["current"]);

    // Per deployment: totalCost is already known; the previous range is one /deployments call
    // for all of them.
    let deployments = format!(
        r#"{{ organization(id: "{org}") {{ deployments({range}) {{ id totalCost costChange {{ current previous percent }} }} }} }}"#
    );
    let before_calls = calls(&sim, ep::V1_DEPLOYMENTS);
    let data = data_ok(&graph, &sim, &deployments).await;
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS) - before_calls, 2);
    let prev_range =
        DateRange::new(midnight(NaiveDate::from_ymd_opt(2026, 10, 22).unwrap()), midnight(day(1))).unwrap();
    for d in data["organization"]["deployments"].as_array().unwrap() {
        let dep = ds.demo_org().deployments.iter().find(|x| x.id.as_str() == d["id"]).unwrap();
        let expected = billing_sim::usage::deployment_cost(ds, dep, &prev_range, now()).unwrap_or(0.0);
        assert_eq!(d["costChange"]["current"], d["totalCost"]);
        assert!(close(f(&d["costChange"]["previous"]), expected), "{d}");
    }
}

async fn data_ok(graph: &billing_graphql::BillingGraph, sim: &billing_sim::SimHandle, query: &str) -> Value {
    data(graph, demo(sim), query).await
}

#[tokio::test]
async fn credits_run_out_when_the_dataset_says_at_two_calls() {
    let sim = sim().await;
    let graph = uncached_at_sim_clock(&sim);
    let ds = sim.dataset();
    let org = &ds.demo_org().id;
    let query = format!(
        r#"{{ organization(id: "{org}") {{
            costs {{ balance {{ remaining }} }}
            forecast {{ projected }}
            credits {{ available remaining dailyRate runOutAtCurrentRate runOutAtForecast }}
        }} }}"#
    );
    let data = data_ok(&graph, &sim, &query).await;
    assert_eq!(calls(&sim, ep::V1_OVERVIEW), 1, "shared with costs");
    assert_eq!(calls(&sim, ep::V1_CHARTS), 1, "shared with forecast");
    assert_eq!(sim.stats().total(), 2);
    let c = &data["organization"]["credits"];
    let remaining = f(&c["remaining"]);
    assert_eq!(c["remaining"], data["organization"]["costs"]["balance"]["remaining"]);
    let rate: f64 = (13..20).map(|d| org_day(&sim, day(d))).sum::<f64>() / 7.0;
    assert!(close(f(&c["dailyRate"]), rate), "{c} vs {rate}");
    // Spending `rate` a day from today (the 20th, counted in full) reaches `remaining` on this day.
    let days = (remaining / rate).ceil() as i64;
    let expected = day(20) + TimeDelta::days(days - 1);
    assert_eq!(c["runOutAtCurrentRate"], expected.to_string(), "{c}");
    assert!(c["runOutAtForecast"].is_string(), "{c}");

    // An organization without prepaid credits has none.
    let other = &ds.organizations()[2].id;
    let data =
        data_ok(&graph, &sim, &format!(r#"{{ organization(id: "{other}") {{ credits {{ remaining }} }} }}"#)).await;
    assert!(data["organization"]["credits"].is_null());
}

#[tokio::test]
async fn reconciliation_agrees_within_rounding_and_costs_two_calls() {
    let sim = sim().await;
    let graph = uncached_at_sim_clock(&sim);
    let org = &sim.dataset().demo_org().id;
    let query = format!(
        r#"{{ organization(id: "{org}") {{
            deployments(from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z") {{
                id totalCost lineItems {{ totalEcu }}
                reconciliation {{ v1Total v2Total difference mismatch }}
                strict: reconciliation(absoluteTolerance: 0, relativeTolerance: 0) {{ difference mismatch }}
            }}
        }} }}"#
    );
    let data = data_ok(&graph, &sim, &query).await;
    assert_eq!(calls(&sim, ep::V1_DEPLOYMENTS), 1);
    assert_eq!(calls(&sim, ep::V2_INSTANCES), 1, "one v2 call for every deployment, shared with lineItems");
    assert_eq!(sim.stats().total(), 2);
    let deployments = data["organization"]["deployments"].as_array().unwrap();
    assert!(deployments.len() > 10);
    let mut strict_mismatches = 0;
    for d in deployments {
        let r = &d["reconciliation"];
        let lines: f64 = d["lineItems"].as_array().unwrap().iter().map(|l| f(&l["totalEcu"])).sum();
        assert_eq!(r["v1Total"], d["totalCost"]);
        assert!(close(f(&r["v2Total"]), lines));
        assert!(close(f(&r["difference"]), lines - f(&d["totalCost"])));
        assert_eq!(r["mismatch"], false, "v2's rounding is within the default tolerance: {d}");
        let strict = f(&d["strict"]["difference"]) != 0.0;
        assert_eq!(d["strict"]["mismatch"], strict, "{d}");
        strict_mismatches += usize::from(strict);
    }
    assert!(strict_mismatches > 0, "rounding to 4 decimals shows with no tolerance");

    let bad = format!(
        r#"{{ organization(id: "{org}") {{ deployments {{ id reconciliation(absoluteTolerance: -1) {{ mismatch }} }} }} }}"#
    );
    let (data, errors) = run(&graph, demo(&sim), &bad).await;
    assert!(codes(&errors).iter().all(|c| c == "BAD_USER_INPUT") && !errors.is_empty());
    assert!(data["organization"]["deployments"][0]["id"].is_string());
}
