//! The request clock: what "month to date" is on v2 (which needs an explicit range) comes from
//! `SchemaConfig::now` when it is set, never from the wall clock, so it can be tested.

mod common;

use billing_graphql::{BillingGraph, SchemaConfig};
use billing_model::DateRange;
use billing_sim::{SimHandle, endpoints as ep};
use chrono::{DateTime, TimeZone, Utc};
use common::*;

/// An uncached schema over `sim` whose "now" is `now`.
fn graph_at(sim: &SimHandle, now: DateTime<Utc>) -> BillingGraph {
    let mut config = SchemaConfig::default();
    config.cache.enabled = false;
    config.now = Some(now);
    graph(sim, config)
}

/// The `from`/`to` parameters of every request the simulator logged for `template`.
fn sent_ranges(sim: &SimHandle, template: &str) -> Vec<(String, String)> {
    sim.requests()
        .into_iter()
        .filter(|r| r.template == template)
        .map(|r| {
            let query = r.query.unwrap_or_default();
            let param = |name: &str| {
                url::form_urlencoded::parse(query.as_bytes())
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            (param("from"), param("to"))
        })
        .collect()
}

fn params(range: DateRange) -> (String, String) {
    (range.from_param(), range.to_param())
}

#[tokio::test]
async fn v2_month_to_date_is_the_request_clock_s_month() {
    let sim = sim().await;
    let org = sim.dataset().demo_org().id.to_string();
    let mtd = format!(r#"{{ organization(id: "{org}") {{ instances {{ id }} productCosts {{ type totalEcu }} }} }}"#);

    // Two "todays", neither the wall clock's: each sends its own month to date to v2.
    let days = [now(), Utc.with_ymd_and_hms(2026, 11, 3, 6, 0, 0).unwrap()];
    let mut answers = Vec::new();
    for today in days {
        sim.reset_stats();
        let answer = data(&graph_at(&sim, today), demo(&sim), &mtd).await;
        let expected = params(DateRange::month_to_date(today));
        assert_eq!(sent_ranges(&sim, ep::V2_INSTANCES), std::slice::from_ref(&expected), "instances at {today}");
        assert_eq!(sent_ranges(&sim, ep::V2_ITEMS), std::slice::from_ref(&expected), "product costs at {today}");

        // The same answer as the explicit range it stands for.
        let (from, to) = expected;
        let explicit = format!(
            r#"{{ organization(id: "{org}") {{ instances(from: "{from}", to: "{to}") {{ id }} productCosts(from: "{from}", to: "{to}") {{ type totalEcu }} }} }}"#
        );
        assert_eq!(answer, data(&graph_at(&sim, today), demo(&sim), &explicit).await, "at {today}");
        answers.push(answer);
    }
    assert!(!answers[0]["organization"]["instances"].as_array().unwrap().is_empty(), "{}", answers[0]);
}
