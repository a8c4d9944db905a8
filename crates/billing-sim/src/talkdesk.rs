//! Talkdesk Billing Insights `GET /express/usage/month`: paged HAL usage rows of the caller's accounts.
//!
//! A missing, unknown or expired token is a 401; a token without `express-accounts-usage:read` a
//! 403. Bad `page`, `per_page`, `filter` or `order_by` is a 400 naming each bad field; a filter
//! naming an account outside the caller's organization is a 403. Links are absolute URLs to this
//! simulator.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use billing_model::talkdesk::oauth::USAGE_SCOPE;
use billing_model::talkdesk::{
    DEFAULT_PER_PAGE, FieldError, Filter, Link, Links, MAX_FILTER_LEN, MAX_PER_PAGE, UsageEmbedded, UsageOrder,
    UsagePage,
};

use crate::auth::{self, TalkdeskAccess};
use crate::errors::talkdesk as error;
use crate::params::Query;
use crate::server::Sim;

/// The longest `order_by` the API accepts.
const MAX_ORDER_BY_LEN: usize = 40;

fn field(name: &str, description: impl Into<String>) -> FieldError {
    FieldError { name: name.to_owned(), description: description.into() }
}

/// `GET /express/usage/month`.
pub(crate) async fn usage(State(sim): State<Sim>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let org = match auth::talkdesk(&sim, &headers, USAGE_SCOPE) {
        TalkdeskAccess::Granted(org) => org,
        TalkdeskAccess::Unauthenticated => {
            return error(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "Missing, invalid or expired access token.",
                Vec::new(),
            );
        }
        TalkdeskAccess::MissingScope => {
            return error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "The access token lacks the express-accounts-usage:read scope.",
                Vec::new(),
            );
        }
    };
    let query = Query::parse(raw.as_deref());
    let mut bad = Vec::new();

    let page = match query.get("page").map(str::parse::<u64>) {
        None => 1,
        Some(Ok(p)) if p >= 1 => p,
        Some(_) => {
            bad.push(field("page", "must be an integer greater than or equal to 1"));
            1
        }
    };
    let per_page = match query.get("per_page").map(str::parse::<u64>) {
        None => u64::from(DEFAULT_PER_PAGE),
        Some(Ok(n)) if (1..=u64::from(MAX_PER_PAGE)).contains(&n) => n,
        Some(_) => {
            bad.push(field("per_page", format!("must be an integer between 1 and {MAX_PER_PAGE}")));
            u64::from(DEFAULT_PER_PAGE)
        }
    };
    let raw_filter = query.get("filter");
    let filter = match raw_filter {
        None => None,
        Some(f) if f.chars().count() > MAX_FILTER_LEN => {
            bad.push(field("filter", format!("must be at most {MAX_FILTER_LEN} characters long")));
            None
        }
        Some(f) => match Filter::parse(f) {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                bad.push(field("filter", e.message()));
                None
            }
        },
    };
    let order = match query.get("order_by") {
        None => UsageOrder::default(),
        Some(o) if o.chars().count() > MAX_ORDER_BY_LEN => {
            bad.push(field("order_by", format!("must be at most {MAX_ORDER_BY_LEN} characters long")));
            UsageOrder::default()
        }
        Some(o) => o.parse().unwrap_or_else(|_| {
            bad.push(field("order_by", "must be id:asc or id:desc"));
            UsageOrder::default()
        }),
    };
    if !bad.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "Invalid request parameters",
            "One or more parameters are invalid.",
            bad,
        );
    }

    if let Some(f) = &filter {
        let foreign: Vec<&str> =
            f.account_ids().into_iter().filter(|id| !org.accounts.iter().any(|a| a.as_str() == *id)).collect();
        if !foreign.is_empty() {
            let fields = foreign
                .iter()
                .map(|id| field("filter", format!("account {id} is not under the organization")))
                .collect();
            return error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "The specified accounts are not under the organization.",
                fields,
            );
        }
    }

    let mut rows: Vec<_> = org
        .rows()
        .iter()
        .filter(|r| {
            filter.as_ref().is_none_or(|f| {
                let account = r.account_id.as_ref().map_or("", |a| a.as_str());
                let month = r.month.map(|m| m.to_string()).unwrap_or_default();
                f.matches(account, &month)
            })
        })
        .collect();
    if order == UsageOrder::IdDesc {
        rows.reverse();
    }
    let total = u64::try_from(rows.len()).unwrap_or(u64::MAX);
    let total_pages = total.div_ceil(per_page);
    let start = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    let usage: Vec<_> =
        rows.into_iter().skip(start).take(usize::try_from(per_page).unwrap_or(usize::MAX)).cloned().collect();

    let link = |p: u64| {
        let mut qs = url::form_urlencoded::Serializer::new(String::new());
        qs.append_pair("page", &p.to_string()).append_pair("per_page", &per_page.to_string());
        if let Some(f) = raw_filter {
            qs.append_pair("filter", f);
        }
        qs.append_pair("order_by", order.as_str());
        Some(Link { href: format!("{}/express/usage/month?{}", sim.base_url(), qs.finish()) })
    };
    let links = Links {
        self_: link(page),
        first: link(1),
        last: link(total_pages.max(1)),
        next: if page < total_pages { link(page + 1) } else { None },
        prev: if page > 1 { link(page - 1) } else { None },
        show: None,
    };
    let counters = sim.talkdesk_page_counters();
    Json(UsagePage {
        count: counters.then(|| u64::try_from(usage.len()).unwrap_or(u64::MAX)),
        page: counters.then_some(page),
        per_page: counters.then_some(per_page),
        total: counters.then_some(total),
        total_pages: counters.then_some(total_pages),
        embedded: UsageEmbedded { usage },
        links,
    })
    .into_response()
}
