//! `Query.focusUsage` against the simulator over HTTP: its rows are `talkdesk_row` of the usage
//! rows in `usageAggregates`' default order, its cursors are the usage rows' offsets across
//! upstream pages, it costs the pages `usageAggregates` costs with the same arguments (shared in
//! one request), and without a Talkdesk credential it fails alone.
#![allow(clippy::unwrap_used)]

mod common;

use billing_graphql::Credentials;
use billing_insights::focus::talkdesk_row;
use billing_sim::endpoints as ep;
use common::*;
use serde_json::Value;

const FIELDS: &str = "billedCost billingAccountId billingCurrency billingPeriodStart billingPeriodEnd \
    chargeCategory chargeFrequency chargePeriodStart consumedQuantity consumedUnit listUnitPrice \
    pricingQuantity pricingUnit providerName serviceCategory serviceName skuId xChargeType";

/// The sim's usage rows in the connection's order (id descending), with their offsets.
fn usage_rows(sim: &billing_sim::SimHandle) -> Vec<billing_model::talkdesk::UsageAggregate> {
    let mut rows = sim.dataset().talkdesk_organizations()[0].rows().to_vec();
    rows.sort_by(|a, b| b.id.cmp(&a.id));
    rows
}

fn page(after: Option<&str>, first: usize) -> String {
    let after = after.map(|a| format!(r#", after: "{a}""#)).unwrap_or_default();
    format!(
        "{{ focusUsage(first: {first}{after}) {{ edges {{ cursor node {{ {FIELDS} }} }} nodes {{ skuId }} \
         unmappedRows pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }}"
    )
}

#[tokio::test]
async fn two_pages_hold_the_mapped_usage_rows_with_the_usage_cursors_and_cost_their_pages() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let rows = usage_rows(&sim);
    assert!(rows.len() > 400, "the test needs two upstream pages of rows, got {}", rows.len());

    // The first 200 rows: upstream page 1.
    sim.reset_stats();
    let d = data(&graph, demo(&sim), &page(None, 200)).await;
    assert_eq!(calls(&sim, ep::TALKDESK_USAGE), 1);
    let first = &d["focusUsage"];
    assert_eq!(first["pageInfo"]["hasPreviousPage"], false);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    assert_eq!(first["pageInfo"]["startCursor"], "usage:0");
    assert_eq!(first["pageInfo"]["endCursor"], "usage:199");

    // The next 200 across the page boundary: rows 200..400, upstream pages 1 and 2.
    sim.reset_stats();
    let d = data(&graph, demo(&sim), &page(Some("usage:199"), 200)).await;
    assert_eq!(calls(&sim, ep::TALKDESK_USAGE), 2, "rows 200..400 are on two pages of 250");
    let second = &d["focusUsage"];
    assert_eq!(second["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(second["pageInfo"]["startCursor"], "usage:200");
    assert_eq!(second["pageInfo"]["endCursor"], "usage:399");

    for (conn, offset) in [(first, 0_usize), (second, 200)] {
        let edges = conn["edges"].as_array().unwrap();
        // Every simulated row maps: a row per usage row, cursors the usage offsets.
        assert_eq!(conn["unmappedRows"], 0);
        assert_eq!(edges.len(), 200);
        assert_eq!(conn["nodes"].as_array().unwrap().len(), 200);
        for (i, edge) in edges.iter().enumerate() {
            let usage = &rows[offset + i];
            assert_eq!(edge["cursor"], format!("usage:{}", offset + i));
            let want = talkdesk_row(usage).unwrap();
            let node = &edge["node"];
            assert_eq!(node["billedCost"].as_f64().unwrap(), want.billed_cost);
            assert_eq!(node["billingAccountId"], want.billing_account_id);
            assert_eq!(node["billingCurrency"], "USD");
            assert_eq!(node["providerName"], "Talkdesk");
            assert_eq!(node["serviceCategory"], "Business Applications");
            assert_eq!(node["skuId"].as_str(), usage.product_id.as_deref());
            assert_eq!(node["pricingQuantity"].as_f64(), usage.number_of_units);
            assert_eq!(node["xChargeType"].as_str(), usage.kind.as_ref().map(|k| k.as_str()));
            let month = usage.month.unwrap().to_string();
            assert!(node["billingPeriodStart"].as_str().unwrap().starts_with(&month), "{node}");
            assert_eq!(node["chargePeriodStart"], node["billingPeriodStart"]);
        }
    }
}

#[tokio::test]
async fn the_cursors_are_usage_aggregates_cursors_and_one_request_shares_the_pages() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = &sim.dataset().talkdesk_organizations()[0];
    let account = &org.accounts[1];
    let args = format!(r#"first: 7, after: "usage:2", filter: {{ accountIds: ["{account}"], months: ["2026-10"] }}"#);
    let q = format!(
        "{{ f: focusUsage({args}) {{ edges {{ cursor node {{ billingAccountId billingPeriodStart }} }} pageInfo {{ endCursor hasNextPage }} }} \
         u: usageAggregates({args}) {{ edges {{ cursor node {{ accountId month }} }} pageInfo {{ endCursor hasNextPage }} }} }}"
    );
    sim.reset_stats();
    let d = data(&graph, demo(&sim), &q).await;
    assert_eq!(calls(&sim, ep::TALKDESK_USAGE), 1, "the two fields read the same slice once");
    let cursors =
        |v: &Value| -> Vec<Value> { v["edges"].as_array().unwrap().iter().map(|e| e["cursor"].clone()).collect() };
    assert!(!cursors(&d["u"]).is_empty());
    assert_eq!(cursors(&d["f"]), cursors(&d["u"]));
    assert_eq!(d["f"]["pageInfo"], d["u"]["pageInfo"]);
    for e in d["f"]["edges"].as_array().unwrap() {
        assert_eq!(e["node"]["billingAccountId"], account.as_str());
        assert!(e["node"]["billingPeriodStart"].as_str().unwrap().starts_with("2026-10-01T00:00:00"), "{e}");
    }
}

#[tokio::test]
async fn without_the_talkdesk_credential_the_field_fails_alone() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = &sim.dataset().demo_org().id;
    let c = sim.dataset().credentials();
    let elastic_only = Credentials::none().with_elastic_header(Some(&format!("ApiKey {}", c.elastic_demo_key)));
    let q = format!(
        r#"{{ organization(id: "{org}") {{ costs {{ total }} }} focusUsage(first: 2) {{ nodes {{ billedCost }} }} }}"#
    );
    sim.reset_stats();
    let (data, errors) = run(&graph, elastic_only, &q).await;
    assert_eq!(codes(&errors), ["UNAUTHENTICATED"]);
    assert_eq!(errors[0]["extensions"]["upstream"], "talkdesk");
    assert_eq!(errors[0]["path"], serde_json::json!(["focusUsage"]));
    assert!(data["organization"]["costs"]["total"].is_number());
    assert!(data["focusUsage"].is_null());
    assert_eq!(calls(&sim, ep::TALKDESK_USAGE), 0);

    // Bad arguments are the caller's error, with no call.
    let (_, errors) = run(
        &graph,
        demo(&sim),
        r#"{ a: focusUsage(first: -1) { unmappedRows } b: focusUsage(after: "nope") { unmappedRows } }"#,
    )
    .await;
    assert_eq!(codes(&errors), ["BAD_USER_INPUT", "BAD_USER_INPUT"]);
    assert_eq!(calls(&sim, ep::TALKDESK_USAGE), 0);
}
