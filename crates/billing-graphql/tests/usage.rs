//! Talkdesk usage through the Relay connection: pages, cursors, filters, fewest upstream pages.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;

use billing_sim::SimConfig;
use billing_sim::endpoints as ep;
use common::*;
use serde_json::Value;

fn ids(conn: &Value) -> Vec<String> {
    conn["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_connection_walks_every_row_once_with_cursors() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let rows = sim.dataset().talkdesk_organizations()[0].rows().len();
    assert!(rows > 300, "the test needs more than one upstream page of rows, got {rows}");

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let after_arg = after.as_ref().map(|a| format!(r#", after: "{a}""#)).unwrap_or_default();
        let q = format!(
            r#"{{ usageAggregates(first: 120, orderBy: ID_ASC{after_arg}) {{
                totalCount edges {{ cursor node {{ id }} }} nodes {{ id accountId month type totalAmount currency }}
                pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }}"#
        );
        let d = data(&graph, demo(&sim), &q).await;
        let conn = &d["usageAggregates"];
        assert_eq!(conn["totalCount"], rows as u64);
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], after.is_some());
        let edges = conn["edges"].as_array().unwrap();
        assert_eq!(conn["pageInfo"]["endCursor"], edges.last().unwrap()["cursor"]);
        seen.extend(ids(conn));
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), rows, "every row once");
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), rows, "no duplicates");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "ascending by id");
}

#[tokio::test]
async fn first_above_250_fetches_the_pages_it_needs() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let expected: Vec<String> = {
        let mut all: Vec<String> =
            sim.dataset().talkdesk_organizations()[0].rows().iter().map(|r| r.id.clone()).collect();
        all.sort_by(|a, b| b.cmp(a));
        all.into_iter().take(300).collect()
    };
    let d = data(&graph, demo(&sim), "{ usageAggregates(first: 300) { nodes { id } pageInfo { hasNextPage } } }").await;
    assert_eq!(ids(&d["usageAggregates"]), expected, "the default order is id descending");
    assert_eq!(calls(&sim, ep::TALKDESK_USAGE), 2, "300 rows are two pages of 250");
}

#[tokio::test]
async fn several_account_filters_in_one_query_share_upstream_pages() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = &sim.dataset().talkdesk_organizations()[0];
    let (a, b) = (&org.accounts[0], &org.accounts[1]);
    let q = format!(
        r#"{{
            a: usageAggregates(first: 5, filter: {{accountIds: ["{a}"]}}) {{ nodes {{ id accountId }} pageInfo {{ hasNextPage }} }}
            b: usageAggregates(first: 5, filter: {{accountIds: ["{b}"], months: ["2026-10"]}}) {{ nodes {{ id accountId month }} }}
        }}"#
    );
    let d = data(&graph, demo(&sim), &q).await;
    assert_eq!(calls(&sim, ep::TALKDESK_USAGE), 1, "one page serves both filters");
    let wanted = |account: &str, month: Option<&str>| -> Vec<String> {
        let mut rows: Vec<_> = org
            .rows()
            .iter()
            .filter(|r| r.account_id.as_ref().map(|x| x.as_str()) == Some(account))
            .filter(|r| month.is_none_or(|m| r.month.map(|x| x.to_string()).as_deref() == Some(m)))
            .map(|r| r.id.clone())
            .collect();
        rows.sort_by(|x, y| y.cmp(x));
        rows.truncate(5);
        rows
    };
    assert_eq!(ids(&d["a"]), wanted(a.as_str(), None));
    assert_eq!(ids(&d["b"]), wanted(b.as_str(), Some("2026-10")));
    assert!(d["b"]["nodes"].as_array().unwrap().iter().all(|n| n["month"] == "2026-10"));
    let log = sim.requests();
    let filter = sent_filter(log[0].query.as_deref().unwrap_or(""));
    assert!(filter.contains(" or "), "the union filter was sent: {filter}");
}

/// The decoded `filter` parameter of a logged query string.
fn sent_filter(query: &str) -> String {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "filter")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_rare_filter_beside_a_large_one_is_read_on_its_own() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let org = &sim.dataset().talkdesk_organizations()[0];
    let (a, c, d, b) = (&org.accounts[0], &org.accounts[2], &org.accounts[3], &org.accounts[1]);
    let month = "2026-03";
    let rows_of = |accounts: &[&billing_model::AccountId], month: Option<&str>| -> Vec<String> {
        let mut ids: Vec<_> = org
            .rows()
            .iter()
            .filter(|r| r.account_id.as_ref().is_some_and(|x| accounts.contains(&x)))
            .filter(|r| month.is_none_or(|m| r.month.map(|x| x.to_string()).as_deref() == Some(m)))
            .map(|r| r.id.clone())
            .collect();
        ids.sort_by(|x, y| y.cmp(x));
        ids
    };
    let large = rows_of(&[a, c, d], None);
    let rare = rows_of(&[b], Some(month));
    assert!(large.len() + rare.len() > 250, "the union needs more than one page");
    assert!(!rare.is_empty() && rare.len() < 40);
    let q = format!(
        r#"{{
            large: usageAggregates(first: 5, filter: {{accountIds: ["{a}", "{c}", "{d}"]}}) {{ nodes {{ id }} }}
            rare: usageAggregates(first: 40, filter: {{accountIds: ["{b}"], months: ["{month}"]}}) {{ nodes {{ id }} totalCount pageInfo {{ hasNextPage }} }}
        }}"#
    );
    let d = data(&graph, demo(&sim), &q).await;
    assert_eq!(ids(&d["large"]), large[..5]);
    assert_eq!(ids(&d["rare"]), rare);
    assert_eq!(d["rare"]["totalCount"], rare.len());
    assert_eq!(d["rare"]["pageInfo"]["hasNextPage"], false);
    // One union page (all the rows the two windows could fill), then the rare filter alone.
    let filters: Vec<String> = sim.requests().iter().map(|r| sent_filter(r.query.as_deref().unwrap_or(""))).collect();
    assert_eq!(filters.len(), 2, "{filters:?}");
    assert!(filters[0].contains(" or ") && !filters[1].contains(" or "), "{filters:?}");
}

#[tokio::test]
async fn hostile_account_ids_match_nothing_and_empty_lists_call_nothing() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let real = &sim.dataset().talkdesk_organizations()[0].accounts[0];
    let q = format!(
        r#"{{ usageAggregates(filter: {{accountIds: ["x' or account_id eq '{real}"]}}) {{ nodes {{ id }} totalCount }} }}"#
    );
    // The whole hostile string stays one quoted value: an account the caller does not have,
    // which Talkdesk refuses, rather than an `or` that would read the real account's rows.
    let (d, errors) = run(&graph, demo(&sim), &q).await;
    assert_eq!(codes(&errors), ["FORBIDDEN"]);
    assert!(d.is_null() || d["usageAggregates"].is_null(), "no row leaked: {d}");
    let sent = sim.requests()[0].query.clone().unwrap_or_default();
    assert!(sent.contains("%27%27"), "the quote was doubled on the wire: {sent}");
    let before = sim.stats().total();
    let d = data(&graph, demo(&sim), "{ usageAggregates(filter: {accountIds: []}) { nodes { id } totalCount } }").await;
    assert_eq!(d["usageAggregates"]["totalCount"], 0);
    assert_eq!(sim.stats().total(), before);
}

#[tokio::test]
async fn another_organizations_account_is_forbidden() {
    let sim = sim().await;
    let graph = uncached(&sim);
    let foreign = &sim.dataset().talkdesk_organizations()[1].accounts[0];
    let q = format!(r#"{{ usageAggregates(filter: {{accountIds: ["{foreign}"]}}) {{ nodes {{ id }} }} }}"#);
    let (_, errors) = run(&graph, demo(&sim), &q).await;
    assert_eq!(codes(&errors), ["FORBIDDEN"]);
    assert_eq!(errors[0]["extensions"]["upstream"], "talkdesk");
}

/// Talkdesk documents no counters on the usage page, and says to follow `next` links: with pages
/// that carry none, a window past the first page is read by its links, and every window gets
/// exactly its rows and the truth about what follows.
#[tokio::test]
async fn without_page_counters_the_next_links_are_followed() {
    let sim = billing_sim::spawn(SimConfig { talkdesk_page_counters: false, ..SimConfig::at(now()) }).await.unwrap();
    let graph = uncached(&sim);
    let mut all: Vec<String> = sim.dataset().talkdesk_organizations()[0].rows().iter().map(|r| r.id.clone()).collect();
    all.sort();
    assert!(all.len() > 520, "the test needs three upstream pages of rows, got {}", all.len());
    for (after, first) in [(None, 300), (Some(99), 400), (Some(all.len() - 10), 50)] {
        let after_arg = after.map(|a| format!(r#", after: "usage:{a}""#)).unwrap_or_default();
        let q = format!(
            r#"{{ usageAggregates(first: {first}, orderBy: ID_ASC{after_arg}) {{
                totalCount nodes {{ id }} pageInfo {{ hasNextPage }} }} }}"#
        );
        sim.reset_stats();
        let d = data(&graph, demo(&sim), &q).await;
        let offset = after.map_or(0, |a| a + 1);
        let end = (offset + first).min(all.len());
        assert_eq!(ids(&d["usageAggregates"]), all[offset..end], "after {after:?}, first {first}");
        assert_eq!(d["usageAggregates"]["pageInfo"]["hasNextPage"], offset + first < all.len());
        assert_eq!(d["usageAggregates"]["totalCount"], Value::Null, "the pages did not tell it");
        // Pages from the window's first to the one holding the row after it, each read once:
        // the first by number, the rest by their `next` links.
        let pages = (offset + first).min(all.len() - 1) / 250 - offset / 250 + 1;
        let requests = sim.requests();
        let usage: Vec<_> = requests.iter().filter(|r| r.template == ep::TALKDESK_USAGE).collect();
        // totalCount asks page 1 for one row to learn a total that never comes.
        assert_eq!(usage.len(), pages + 1, "after {after:?}, first {first}: {usage:?}");
    }
}
