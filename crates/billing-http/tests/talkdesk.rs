//! Talkdesk monthly usage over real HTTP against billing-sim: single pages, paging to the end in both
//! orders, the page cap, typed filters, and filter values that try to rewrite the expression.

mod common;

use std::collections::BTreeSet;

use billing_http::{ErrorKind, TalkdeskToken};
use billing_model::talkdesk::{Field, Filter, UsageAggregate, UsageOrder};
use billing_model::{AccountId, Month};
use billing_sim::endpoints as sim_endpoints;
use common::{clients, sim, td_token};
use futures::{StreamExt, TryStreamExt};

#[tokio::test]
async fn one_page_is_a_slice_of_the_organization_s_rows_in_either_order() {
    let sim = sim().await;
    let c = clients(&sim);
    let token = td_token(&sim);
    let rows = sim.dataset().talkdesk_organizations()[0].rows();

    let asc = c.td.usage(&token).page(2).per_page(7).order_by(UsageOrder::IdAsc).send().await.unwrap();
    assert_eq!(asc.usage(), &rows[7..14]);
    assert_eq!((asc.page, asc.per_page, asc.count), (Some(2), Some(7), Some(7)));
    assert_eq!(asc.total, Some(rows.len() as u64));
    assert_eq!(asc.total_pages, Some(rows.len().div_ceil(7) as u64));
    assert!(asc.next().is_some() && asc.links.prev.is_some());

    // The API's default order is id:desc.
    let desc = c.td.usage(&token).page(2).per_page(7).send().await.unwrap();
    let expected: Vec<UsageAggregate> = rows.iter().rev().skip(7).take(7).cloned().collect();
    assert_eq!(desc.usage(), expected.as_slice());

    let last = c.td.usage(&token).page(rows.len().div_ceil(7) as u32).per_page(7).send().await.unwrap();
    assert!(last.next().is_none(), "no next link on the last page");
    assert_eq!(last.usage().len(), (rows.len() - 1) % 7 + 1);
}

#[tokio::test]
async fn pages_visit_every_page_exactly_once_in_both_orders() {
    let sim = sim().await;
    let c = clients(&sim);
    let token = td_token(&sim);
    let rows = sim.dataset().talkdesk_organizations()[0].rows();

    for order in [UsageOrder::IdAsc, UsageOrder::IdDesc] {
        sim.reset_stats();
        let pages: Vec<_> = c.td.usage(&token).per_page(50).order_by(order).pages(100).try_collect().await.unwrap();
        let total_pages = pages[0].total_pages.unwrap();
        assert!(total_pages > 2, "the dataset spans several pages");
        assert_eq!(pages.len() as u64, total_pages);
        let numbers: Vec<_> = pages.iter().map(|p| p.page.unwrap()).collect();
        assert_eq!(numbers, (1..=total_pages).collect::<Vec<_>>(), "each page once, in order");

        let ids: Vec<&str> = pages.iter().flat_map(|p| p.usage()).map(|u| u.id.as_str()).collect();
        assert_eq!(ids.len() as u64, pages[0].total.unwrap());
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "no duplicate ids");
        let mut expected: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        if order == UsageOrder::IdDesc {
            expected.reverse();
        }
        assert_eq!(ids, expected, "{order}: the organization's rows, in order");

        let stats = sim.stats();
        assert_eq!(stats.calls(sim_endpoints::TALKDESK_USAGE), total_pages, "one request per page");
        assert_eq!(stats.total(), total_pages);
    }
}

#[tokio::test]
async fn all_streams_the_filtered_rows() {
    let sim = sim().await;
    let c = clients(&sim);
    let token = td_token(&sim);
    let org = &sim.dataset().talkdesk_organizations()[0];
    let (first, second) = (&org.accounts[0], &org.accounts[1]);
    let may: Month = "2025-05".parse().unwrap();
    let of = |keep: &dyn Fn(&UsageAggregate) -> bool| -> Vec<UsageAggregate> {
        org.rows().iter().filter(|r| keep(r)).cloned().collect()
    };

    let one: Vec<_> =
        c.td.usage(&token)
            .filter(Filter::account(first))
            .order_by(UsageOrder::IdAsc)
            .all(50)
            .try_collect()
            .await
            .unwrap();
    assert!(!one.is_empty());
    assert_eq!(one, of(&|r| r.account_id.as_ref() == Some(first)));

    let both = Filter::any([Filter::account(first), Filter::account(second)]).unwrap();
    let two: Vec<_> =
        c.td.usage(&token).filter(both).per_page(25).order_by(UsageOrder::IdAsc).all(50).try_collect().await.unwrap();
    assert_eq!(two, of(&|r| r.account_id.as_ref().is_some_and(|a| a == first || a == second)));

    let in_may =
        Filter::all([Filter::any([Filter::account(first), Filter::account(second)]).unwrap(), Filter::month(may)])
            .unwrap();
    let rows: Vec<_> =
        c.td.usage(&token).filter(in_may).order_by(UsageOrder::IdAsc).all(50).try_collect().await.unwrap();
    assert!(!rows.is_empty());
    assert_eq!(rows, of(&|r| r.month == Some(may) && r.account_id.as_ref().is_some_and(|a| a == first || a == second)));
}

#[tokio::test]
async fn the_page_cap_stops_with_a_page_limit_error() {
    let sim = sim().await;
    let c = clients(&sim);
    let token = td_token(&sim);

    let results: Vec<_> = c.td.usage(&token).per_page(10).pages(2).collect().await;
    assert_eq!(results.len(), 3, "two pages, then the error, then nothing");
    assert!(results[0].is_ok() && results[1].is_ok());
    let err = results[2].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PageLimit);
    assert_eq!(err.http_status(), None);
    assert!(!err.is_retryable());
    assert_eq!(err.endpoint(), billing_http::endpoints::TALKDESK_USAGE);
    assert!(err.to_string().contains("/express/usage/month"), "{err}");
    assert_eq!(sim.stats().calls(sim_endpoints::TALKDESK_USAGE), 2, "the third page is never asked for");

    // `all` stops the same way, after every row of the pages it may read.
    let rows: Vec<_> = c.td.usage(&token).per_page(10).all(3).collect().await;
    assert_eq!(rows.len(), 31);
    assert!(rows[..30].iter().all(Result::is_ok));
    assert_eq!(rows[30].as_ref().unwrap_err().kind(), ErrorKind::PageLimit);

    // A cap the data fits in is no error.
    let total = c.td.usage(&token).per_page(250).send().await.unwrap().total_pages.unwrap();
    let pages: Vec<_> = c.td.usage(&token).per_page(250).pages(total as usize).try_collect().await.unwrap();
    assert_eq!(pages.len() as u64, total);
}

#[tokio::test]
async fn a_filter_value_cannot_rewrite_the_expression() {
    let sim = sim().await;
    let c = clients(&sim);
    let token = td_token(&sim);
    let real = &sim.dataset().talkdesk_organizations()[0].accounts[0];
    let hostile = AccountId::new(format!("x' or account_id eq '{real}"));

    // Concatenated raw, this value would have selected the real account's rows.
    let naive = Filter::parse(&format!("account_id eq '{hostile}'")).unwrap();
    assert!(naive.matches(real.as_str(), "2025-05"), "the attack is real");

    let result = c.td.usage(&token).filter(Filter::account(&hostile)).per_page(250).send().await;
    // The quoted value is one unknown account: the upstream refuses it as not the caller's.
    let err = result.expect_err("an account that is not under the organization");
    assert_eq!(err.http_status(), Some(403));

    let sent = sim.requests().pop().unwrap();
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(sent.query.unwrap().as_bytes()).into_owned().collect();
    let filter = &query.iter().find(|(k, _)| k == "filter").unwrap().1;
    assert_eq!(filter, &format!("account_id eq 'x'' or account_id eq ''{real}'"));
    assert_eq!(Filter::parse(filter).unwrap(), Filter::account(&hostile), "one comparison, read back whole");
    assert_eq!(sim.stats().responses(sim_endpoints::TALKDESK_USAGE, 200), 0, "no row was served");

    // Hidden in a month, it is no month at all.
    let err =
        c.td.usage(&token)
            .filter(Filter::Eq(Field::Month, "2025-05' or month eq '2025-04".into()))
            .send()
            .await
            .unwrap_err();
    assert_eq!(err.http_status(), Some(400));
}

#[tokio::test]
async fn a_filter_naming_another_organization_s_account_is_forbidden() {
    let sim = sim().await;
    let c = clients(&sim);
    let orgs = sim.dataset().talkdesk_organizations();
    let (mine, theirs) = (&orgs[0].accounts[0], &orgs[1].accounts[0]);

    let filter = Filter::any([Filter::account(mine), Filter::account(theirs)]).unwrap();
    let err = c.td.usage(td_token(&sim)).filter(filter).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Status);
    assert_eq!(err.http_status(), Some(403));
    assert_eq!(err.upstream(), billing_http::Upstream::Talkdesk);
    assert!(!err.codes().is_empty(), "the Talkdesk code is kept");
    assert!(err.message().unwrap().contains("not under the organization"), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(sim.stats().calls(sim_endpoints::TALKDESK_USAGE), 1, "no retry");

    // The other organization's own token reads it.
    let other = TalkdeskToken::new(&sim.dataset().credentials().talkdesk_other_token).unwrap();
    let rows: Vec<_> = c.td.usage(&other).filter(Filter::account(theirs)).all(50).try_collect().await.unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.account_id.as_ref() == Some(theirs)));
}
