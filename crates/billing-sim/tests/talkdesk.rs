//! Talkdesk `/express/usage/month` over real HTTP: paging walks, the filter grammar, auth, errors.

// Test helpers outside #[test] fns unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;

use billing_model::UsageType;
use billing_model::talkdesk::UsagePage;
use common::*;
use serde_json::Value;

fn usage_url(sim: &billing_sim::SimHandle, query: &str) -> String {
    format!("{}/express/usage/month{query}", sim.talkdesk_url())
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Follows `next` links from the first page; returns every page.
async fn walk(first: String, token: &str) -> Vec<UsagePage> {
    let mut pages = Vec::new();
    let mut next = Some(first);
    while let Some(url) = next {
        let response = get(&url, Some(token)).await;
        assert_eq!(response.status(), 200, "{url}");
        let page: UsagePage = response.json().await.unwrap();
        next = page.next().map(str::to_owned);
        pages.push(page);
        assert!(pages.len() < 1000, "paging does not end");
    }
    pages
}

#[tokio::test]
async fn paging_walks_every_row_once_in_both_orders() {
    let sim = start().await;
    let token = talkdesk_token(&sim);
    let org = &sim.dataset().talkdesk_organizations()[0];
    let expected: HashSet<&str> = org.rows().iter().map(|r| r.id.as_str()).collect();
    assert!(expected.len() > 100);
    for order in ["id:asc", "id:desc"] {
        let pages = walk(usage_url(&sim, &format!("?per_page=37&order_by={order}")), &token).await;
        let total = pages[0].total.unwrap();
        assert_eq!(total, expected.len() as u64);
        assert_eq!(pages.len() as u64, total.div_ceil(37));
        assert_eq!(pages[0].total_pages, Some(pages.len() as u64));
        let ids: Vec<&str> = pages.iter().flat_map(|p| p.usage().iter().map(|u| u.id.as_str())).collect();
        assert_eq!(ids.len(), expected.len(), "no duplicates, no gaps");
        assert_eq!(ids.iter().copied().collect::<HashSet<_>>(), expected);
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        if order == "id:desc" {
            sorted.reverse();
        }
        assert_eq!(ids, sorted, "{order}");
        for (i, page) in pages.iter().enumerate() {
            assert_eq!(page.page, Some(i as u64 + 1));
            assert_eq!(page.count, Some(page.usage().len() as u64));
            assert_eq!(page.links.prev.is_some(), i > 0, "prev only after page 1");
            assert_eq!(page.links.next.is_some(), i + 1 < pages.len(), "next absent on the last page");
            let self_href = &page.links.self_.as_ref().unwrap().href;
            assert!(self_href.starts_with(&sim.base_url()), "{self_href}");
            assert!(self_href.contains(&format!("page={}", i + 1)) && self_href.contains("per_page=37"));
            assert!(self_href.contains(&format!("order_by={}", encode(order))));
        }
        for id in &ids {
            assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
    // The default order is id:desc with 50 per page.
    let (_, body) = get_json(&usage_url(&sim, ""), Some(&token)).await;
    assert_eq!(body["per_page"], 50);
    assert_eq!(body["page"], 1);
    let ids: Vec<&str> =
        body["_embedded"]["usage"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]));
    assert!(body["_links"].get("prev").is_none());
    // A page past the end is empty and has no next.
    let (status, body) = get_json(&usage_url(&sim, "?page=999"), Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(body["_embedded"]["usage"], serde_json::json!([]));
    assert!(body["_links"].get("next").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn rows_cover_every_usage_type_and_only_the_callers_accounts() {
    let sim = start().await;
    for (org, token) in sim
        .dataset()
        .talkdesk_organizations()
        .iter()
        .zip([talkdesk_token(&sim), format!("Bearer {}", sim.dataset().credentials().talkdesk_other_token)])
    {
        let pages = walk(usage_url(&sim, "?per_page=250"), &token).await;
        let rows: Vec<_> = pages.iter().flat_map(|p| p.usage().to_vec()).collect();
        let kinds: HashSet<UsageType> = rows.iter().filter_map(|r| r.kind.clone()).collect();
        for kind in UsageType::KNOWN {
            assert!(kinds.contains(kind), "{kind} missing");
        }
        for r in &rows {
            let account = r.account_id.as_ref().unwrap();
            assert!(org.accounts.contains(account), "{account} is not the caller's");
            assert_eq!(account.as_str().len(), 24);
            let (units, price, total) = (r.number_of_units.unwrap(), r.price.unwrap(), r.total_amount.unwrap());
            assert!((units * price - total).abs() < 1e-5, "{r:?}");
            assert_eq!(r.currency.as_deref(), Some("USD"));
        }
        let months: HashSet<String> = rows.iter().map(|r| r.month.unwrap().to_string()).collect();
        assert!(months.len() >= 12, "{months:?}");
        assert!(months.contains("2025-06"), "the current month is there");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn filters_select_rows_and_carry_into_links() {
    let sim = start().await;
    let token = talkdesk_token(&sim);
    let org = &sim.dataset().talkdesk_organizations()[0];
    let (a, b) = (org.accounts[0].as_str(), org.accounts[1].as_str());
    let count = |pred: &dyn Fn(&str, &str) -> bool| {
        org.rows()
            .iter()
            .filter(|r| pred(r.account_id.as_ref().unwrap().as_str(), &r.month.unwrap().to_string()))
            .count() as u64
    };
    let cases: Vec<(String, u64)> = vec![
        (format!("account_id eq '{a}'"), count(&|acc, _| acc == a)),
        ("month eq '2025-03'".to_owned(), count(&|_, m| m == "2025-03")),
        (format!("account_id eq '{a}' or account_id eq '{b}'"), count(&|acc, _| acc == a || acc == b)),
        (format!("(month eq '2025-03' and account_id eq '{a}')"), count(&|acc, m| acc == a && m == "2025-03")),
        (
            format!("month eq '2025-01' and account_id eq '{a}' or account_id eq '{b}'"),
            count(&|acc, m| (acc == a && m == "2025-01") || acc == b),
        ),
        (
            format!("month eq '2025-01' and (account_id eq '{a}' or account_id eq '{b}')"),
            count(&|acc, m| m == "2025-01" && (acc == a || acc == b)),
        ),
        ("month eq '1999-01'".to_owned(), 0),
    ];
    for (filter, expected) in cases {
        let first = usage_url(&sim, &format!("?per_page=20&filter={}", encode(&filter)));
        let pages = walk(first, &token).await;
        let total: u64 = pages.iter().map(|p| p.usage().len() as u64).sum();
        assert_eq!(total, expected, "{filter}");
        assert_eq!(pages[0].total, Some(expected), "{filter}");
        let last = &pages[0].links.last.as_ref().unwrap().href;
        assert!(last.contains(&format!("filter={}", encode(&filter))), "{last}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn foreign_accounts_are_forbidden_and_quotes_are_escaped_by_doubling() {
    let sim = start().await;
    let token = talkdesk_token(&sim);
    let own = sim.dataset().talkdesk_organizations()[0].accounts[0].to_string();
    let foreign = sim.dataset().talkdesk_organizations()[1].accounts[0].to_string();
    for filter in [
        format!("account_id eq '{foreign}'"),
        format!("account_id eq '{own}' or account_id eq '{foreign}'"),
        // A doubled quote is part of the value: this names the account `x'y`, which is not ours.
        "account_id eq 'x''y'".to_owned(),
    ] {
        let (status, body) = get_json(&usage_url(&sim, &format!("?filter={}", encode(&filter))), Some(&token)).await;
        assert_eq!(status, 403, "{filter}");
        assert!(body["code"].is_string() && body["message"].is_string(), "{body}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_parameters_are_400_naming_the_field() {
    let sim = start().await;
    let token = talkdesk_token(&sim);
    let long_filter = format!("month eq '2025-01'{}", " or month eq '2025-01'".repeat(80));
    assert!(long_filter.len() > 1600);
    let cases = [
        ("?page=0".to_owned(), "page"),
        ("?page=x".to_owned(), "page"),
        ("?per_page=0".to_owned(), "per_page"),
        ("?per_page=251".to_owned(), "per_page"),
        ("?per_page=-1".to_owned(), "per_page"),
        ("?order_by=name:asc".to_owned(), "order_by"),
        (format!("?order_by={}", "i".repeat(41)), "order_by"),
        (format!("?filter={}", encode("accound_id eq '5ea75fe7aa224700012eae40'")), "filter"),
        (format!("?filter={}", encode("account_id eq 5ea75fe7aa224700012eae40")), "filter"),
        (format!("?filter={}", encode("month eq '2025-13'")), "filter"),
        (format!("?filter={}", encode("(month eq '2025-01'")), "filter"),
        (format!("?filter={}", encode(&long_filter)), "filter"),
    ];
    for (query, field) in cases {
        let (status, body) = get_json(&usage_url(&sim, &query), Some(&token)).await;
        assert_eq!(status, 400, "{query}");
        assert!(body["code"].is_string() && body["message"].is_string());
        let fields: Vec<&str> =
            body["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
        assert_eq!(fields, vec![field], "{query}: {body}");
        assert!(body["fields"][0]["description"].is_string());
    }
    // Bounds themselves are fine.
    assert_eq!(get(&usage_url(&sim, "?per_page=250"), Some(&token)).await.status(), 200);
    assert_eq!(get(&usage_url(&sim, "?per_page=1&order_by=id:asc"), Some(&token)).await.status(), 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn missing_or_unknown_tokens_are_401() {
    let sim = start().await;
    let elastic = format!("Bearer {}", sim.dataset().credentials().elastic_demo_key);
    let raw_token = sim.dataset().credentials().talkdesk_token.clone();
    for auth in [None, Some("Bearer nope"), Some(elastic.as_str()), Some(raw_token.as_str())] {
        let response = get(&usage_url(&sim, ""), auth).await;
        assert_eq!(response.status(), 401, "{auth:?}");
        let body: Value = response.json().await.unwrap();
        assert!(body["code"].is_string() && body["message"].is_string());
    }
    sim.shutdown().await;
}
