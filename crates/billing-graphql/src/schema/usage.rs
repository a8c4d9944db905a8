//! `usageAggregates`: Talkdesk monthly usage as a Relay connection over HAL pages.
//!
//! A cursor is an offset into the filtered, ordered result set. Offsets map onto fixed pages of
//! 250 (the API's maximum), so a slice costs the fewest pages that cover it and neighbouring
//! slices share cached pages. Several `usageAggregates` fields in one request with different
//! filters, all starting at the first row, are served together: their filters are joined with
//! `or` into one upstream filter, and the rows are split back by each field's own filter.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use billing_model::talkdesk::{
    Filter, MAX_FILTER_LEN, MAX_PER_PAGE, UsageAggregate as WireAggregate, UsageOrder, UsagePage,
};
use billing_model::{AccountId, Month};
use dataloader::BatchFn;
use dataloader::cached::Loader;

use super::leaves::{Getter, LeafFields, Leaves, optional, scalar};
use crate::context::RequestState;
use crate::error::{GatewayError, Result};
use crate::loaders::load;
use crate::query::{self, UsagePageQuery};

/// Rows per upstream page: the API's maximum, so a slice needs the fewest pages.
const PAGE: u32 = MAX_PER_PAGE;
/// The largest `first` a connection serves.
pub(crate) const MAX_FIRST: i32 = 5000;

/// Which usage aggregates to return. Omitted lists do not filter; lists are OR-ed within and
/// AND-ed across.
#[derive(InputObject, Debug, Clone, Default)]
pub struct UsageFilter {
    /// Talkdesk account ids (24 hex characters).
    pub account_ids: Option<Vec<ID>>,
    /// Months, as `YYYY-MM`.
    pub months: Option<Vec<String>>,
}

/// The order of usage aggregates.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UsageOrderBy {
    /// By record id, ascending.
    IdAsc,
    /// By record id, descending (Talkdesk's default).
    #[default]
    IdDesc,
}

impl From<UsageOrderBy> for UsageOrder {
    fn from(o: UsageOrderBy) -> Self {
        match o {
            UsageOrderBy::IdAsc => UsageOrder::IdAsc,
            UsageOrderBy::IdDesc => UsageOrder::IdDesc,
        }
    }
}

/// An account's usage of one product in one month (Talkdesk `GET /express/usage/month`).
/// Amounts are in `currency`.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = super::cost::cost::apply("0".to_owned()))]
pub struct UsageAggregate {
    /// The record id (32 hex characters).
    pub id: ID,
    /// The account.
    pub account_id: Option<ID>,
    /// The product, such as `TD-LIC-APP-RC-101910`.
    pub product_id: Option<String>,
    /// The aggregated product, such as `TD-USG-TEL-UG-102213`.
    pub aggregated_product_id: Option<String>,
    /// The month, `YYYY-MM`.
    pub month: Option<String>,
    /// The usage type: `CALL`, `MESSAGE`, `NUMBER`, ... (new values are passed through).
    #[graphql(name = "type")]
    pub kind: Option<String>,
    /// Description of the usage type.
    pub description: Option<String>,
    /// ISO 4217 currency of `price` and `totalAmount`.
    pub currency: Option<String>,
    /// `INBOUND`, `OUTBOUND` or `OTHER`; null when not applicable.
    pub direction: Option<String>,
    /// The interaction's resolution; null when not applicable.
    pub resolution: Option<String>,
    /// The unit of measure.
    pub unit: Option<String>,
    /// Price per unit, in `currency`.
    pub price: Option<f64>,
    /// The wallet charged.
    pub wallet_name: Option<String>,
    /// Units used.
    pub number_of_units: Option<f64>,
    /// Total, in `currency`.
    pub total_amount: Option<f64>,
}

impl From<&WireAggregate> for UsageAggregate {
    fn from(a: &WireAggregate) -> Self {
        UsageAggregate {
            id: ID(a.id.clone()),
            account_id: a.account_id.as_ref().map(|x| ID(x.to_string())),
            product_id: a.product_id.clone(),
            aggregated_product_id: a.aggregated_product_id.clone(),
            month: a.month.map(|m| m.to_string()),
            kind: a.kind.as_ref().map(|k| k.as_str().to_owned()),
            description: a.description.clone(),
            currency: a.currency.clone(),
            direction: a.direction.as_ref().map(|d| d.as_str().to_owned()),
            resolution: a.resolution.clone(),
            unit: a.unit.clone(),
            price: a.price,
            wallet_name: a.wallet_name.clone(),
            number_of_units: a.number_of_units,
            total_amount: a.total_amount,
        }
    }
}

impl LeafFields for UsageAggregate {
    fn leaf(name: &str) -> Option<Getter<Self>> {
        Some(match name {
            "id" => |a| scalar(&a.id),
            "accountId" => |a| optional(&a.account_id),
            "productId" => |a| optional(&a.product_id),
            "aggregatedProductId" => |a| optional(&a.aggregated_product_id),
            "month" => |a| optional(&a.month),
            "type" => |a| optional(&a.kind),
            "description" => |a| optional(&a.description),
            "currency" => |a| optional(&a.currency),
            "direction" => |a| optional(&a.direction),
            "resolution" => |a| optional(&a.resolution),
            "unit" => |a| optional(&a.unit),
            "price" => |a| optional(&a.price),
            "walletName" => |a| optional(&a.wallet_name),
            "numberOfUnits" => |a| optional(&a.number_of_units),
            "totalAmount" => |a| optional(&a.total_amount),
            _ => return None,
        })
    }
}

/// A page of usage aggregates.
#[derive(Debug, Clone)]
pub struct UsageAggregateConnection {
    key: Slice,
    result: Arc<SliceResult>,
}

/// An edge: a usage aggregate and its cursor.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = super::cost::cost::apply("0".to_owned()))]
pub struct UsageAggregateEdge {
    /// Pass as `after` to continue after this row.
    pub cursor: String,
    /// The usage aggregate.
    pub node: UsageAggregate,
}

/// Relay paging information.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = super::cost::cost::apply("0".to_owned()))]
pub struct PageInfo {
    /// Whether rows follow this page.
    pub has_next_page: bool,
    /// Whether rows precede this page.
    pub has_previous_page: bool,
    /// The first row's cursor.
    pub start_cursor: Option<String>,
    /// The last row's cursor.
    pub end_cursor: Option<String>,
}

pub(crate) fn cursor(offset: usize) -> String {
    format!("usage:{offset}")
}

fn parse_cursor(c: &str) -> Result<usize> {
    c.strip_prefix("usage:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| GatewayError::BadInput(format!("invalid cursor {c:?}: pass a cursor this API returned")))
}

/// A page of Talkdesk usage aggregates (a Relay connection).
#[Object(directive = super::cost::cost::apply("0".to_owned()))]
impl UsageAggregateConnection {
    /// The rows with their cursors.
    async fn edges(&self) -> Vec<UsageAggregateEdge> {
        self.result
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| UsageAggregateEdge { cursor: cursor(self.key.offset + i), node: r.into() })
            .collect()
    }

    /// The rows.
    async fn nodes(&self) -> Leaves<UsageAggregate> {
        self.result.rows.iter().map(UsageAggregate::from).collect()
    }

    /// Paging information.
    async fn page_info(&self) -> PageInfo {
        let n = self.result.rows.len();
        PageInfo {
            has_next_page: self.result.has_next,
            has_previous_page: self.key.offset > 0,
            start_cursor: (n > 0).then(|| cursor(self.key.offset)),
            end_cursor: (n > 0).then(|| cursor(self.key.offset + n - 1)),
        }
    }

    /// The number of rows matching the filter on all pages. Costs one extra small upstream call
    /// only when the rows were served together with another field's and the total is not known.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<Option<u64>> {
        if let Some(total) = self.result.total {
            return Ok(Some(total));
        }
        let page = load(ctx, self.key.total_query()).await?;
        Ok(Some(page.total.unwrap_or(0)))
    }
}

/// The usage root field.
pub(crate) async fn usage_aggregates(
    ctx: &Context<'_>,
    filter: Option<UsageFilter>,
    first: i32,
    after: Option<String>,
    order_by: UsageOrderBy,
) -> Result<UsageAggregateConnection> {
    let key = match slice_for(filter, first, after, order_by)? {
        Wanted::Slice(key) => key,
        Wanted::Nothing(key, result) => return Ok(UsageAggregateConnection { key, result }),
    };
    let loader = ctx.data_unchecked::<SliceLoader>();
    let result = loader.0.try_load(key.clone()).await.unwrap_or(Err(GatewayError::Internal("a loader lost a key")))?;
    Ok(UsageAggregateConnection { key, result })
}

/// What a connection's arguments ask for: a slice to load, or an answer known without a call.
#[derive(Debug)]
pub(crate) enum Wanted {
    Slice(Slice),
    Nothing(Slice, Arc<SliceResult>),
}

/// The slice a connection's arguments ask for, or the caller's error.
pub(crate) fn slice_for(
    filter: Option<UsageFilter>,
    first: i32,
    after: Option<String>,
    order_by: UsageOrderBy,
) -> Result<Wanted> {
    if !(0..=MAX_FIRST).contains(&first) {
        return Err(GatewayError::BadInput(format!("first must be between 0 and {MAX_FIRST}")));
    }
    let offset = match after {
        Some(c) => parse_cursor(&c)?
            .checked_add(1)
            .ok_or_else(|| GatewayError::BadInput(format!("invalid cursor {c:?}: out of range")))?,
        None => 0,
    };
    // `first` was checked non-negative above.
    let first = usize::try_from(first).unwrap_or(0);
    let filter = build_filter(filter.unwrap_or_default())?;
    let key = Slice { filter: filter.clone().flatten(), order: order_by.into(), offset, first };
    // An empty list of accounts or months matches nothing: no call needed.
    if filter.is_none() || first == 0 {
        let total = if filter.is_none() { Some(0) } else { None };
        return Ok(Wanted::Nothing(key, Arc::new(SliceResult { rows: Vec::new(), has_next: false, total })));
    }
    Ok(Wanted::Slice(key))
}

impl Slice {
    /// The call `totalCount` makes when the rows came without a total: one row of page 1.
    pub(crate) fn total_query(&self) -> UsagePageQuery {
        UsagePageQuery { filter: self.filter.clone(), order: self.order, page: 1, per_page: 1 }
    }

    pub(crate) fn offset(&self) -> usize {
        self.offset
    }
}

impl SliceResult {
    pub(crate) fn rows(&self) -> &[WireAggregate] {
        &self.rows
    }

    pub(crate) fn has_next(&self) -> bool {
        self.has_next
    }

    pub(crate) fn total(&self) -> Option<u64> {
        self.total
    }
}

/// `Some(None)`: no filter; `Some(Some(f))`: a filter; `None`: matches nothing. Every value is
/// checked first, so a bad month is an error even beside an empty list of accounts.
fn build_filter(f: UsageFilter) -> Result<Option<Option<Filter>>> {
    let accounts = f
        .account_ids
        .map(|ids| {
            ids.iter()
                .map(|id| AccountId::parse(id.as_str()).map(|a| Filter::account(&a)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| GatewayError::BadInput(format!("accountIds: {e}")))
        })
        .transpose()?;
    let months = f
        .months
        .map(|ms| {
            ms.iter()
                .map(|m| m.parse::<Month>().map(Filter::month))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| GatewayError::BadInput(e.to_string()))
        })
        .transpose()?;
    // An empty list matches nothing.
    if accounts.as_ref().is_some_and(Vec::is_empty) || months.as_ref().is_some_and(Vec::is_empty) {
        return Ok(None);
    }
    let accounts = accounts.and_then(Filter::any);
    let months = months.and_then(Filter::any);
    let filter = Filter::all(accounts.into_iter().chain(months));
    if filter.as_ref().is_some_and(|f| f.to_string().len() > MAX_FILTER_LEN) {
        return Err(GatewayError::BadInput(format!("the filter is longer than {MAX_FILTER_LEN} characters")));
    }
    Ok(Some(filter))
}

/// One connection's rows: a filter, an order, and the window `[offset, offset + first)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Slice {
    filter: Option<Filter>,
    order: UsageOrder,
    offset: usize,
    first: usize,
}

/// The rows of a slice, whether more follow, and the filter's total when known.
#[derive(Debug)]
pub(crate) struct SliceResult {
    rows: Vec<WireAggregate>,
    has_next: bool,
    total: Option<u64>,
}

pub(crate) type SliceAnswer = Result<Arc<SliceResult>, GatewayError>;

/// The per-request loader of slices.
pub(crate) struct SliceLoader(Loader<Slice, SliceAnswer, SliceBatch>);

impl SliceLoader {
    pub(crate) fn new(state: Arc<RequestState>) -> Self {
        SliceLoader(Loader::new(SliceBatch { state }).with_yield_count(8))
    }
}

pub(crate) struct SliceBatch {
    state: Arc<RequestState>,
}

impl BatchFn<Slice, SliceAnswer> for SliceBatch {
    async fn load(&mut self, keys: &[Slice]) -> HashMap<Slice, SliceAnswer> {
        load_slices(&self.state, keys).await
    }
}

/// Loads slices together, as one batch: those of one order that all start at the first row are
/// served by one union filter, the others each on its own.
pub(crate) async fn load_slices(state: &RequestState, keys: &[Slice]) -> HashMap<Slice, SliceAnswer> {
    let mut groups: HashMap<UsageOrder, Vec<Slice>> = HashMap::new();
    for k in keys {
        groups.entry(k.order).or_default().push(k.clone());
    }
    let mut out = HashMap::new();
    let mut jobs = Vec::new();
    for (order, group) in groups {
        let union = Filter::any(group.iter().filter_map(|k| k.filter.clone()));
        let unionable = group.len() > 1
            && group.iter().all(|k| k.offset == 0 && k.filter.is_some())
            && union.as_ref().is_some_and(|u| u.to_string().len() <= MAX_FILTER_LEN);
        if unionable {
            jobs.push(futures::future::Either::Left(async move { fetch_union(state, order, union, group).await }));
        } else {
            for key in group {
                jobs.push(futures::future::Either::Right(async move {
                    let answer = fetch_slice(state, &key).await.map(Arc::new);
                    vec![(key, answer)]
                }));
            }
        }
    }
    for answers in futures::future::join_all(jobs).await {
        out.extend(answers);
    }
    out
}

async fn page(state: &RequestState, filter: &Option<Filter>, order: UsageOrder, page: u32) -> Result<Arc<UsagePage>> {
    query::fetch(state, &UsagePageQuery { filter: filter.clone(), order, page, per_page: PAGE }).await
}

/// One slice on its own: the pages covering `[offset, offset + first]` (one row more, to know
/// whether another page follows), the first fetched before the rest to learn the total.
async fn fetch_slice(state: &RequestState, key: &Slice) -> Result<SliceResult> {
    let per = PAGE as usize;
    let first_page = key.offset / per;
    let end = key.offset.saturating_add(key.first); // exclusive
    let head = page(state, &key.filter, key.order, page_number(first_page)?).await?;
    let total = head.total;
    // The last row to read: with the total known, the window's last row (the total tells whether
    // more follow); without it, the row after the window, whose presence says so.
    let last_needed = match total {
        Some(t) => end.min(usize::try_from(t).unwrap_or(usize::MAX)).saturating_sub(1),
        None => end,
    };
    let known_pages = total.map(|t| usize::try_from(t.div_ceil(u64::from(PAGE))).unwrap_or(usize::MAX));
    let mut last_page = last_needed / per;
    if let Some(pages) = known_pages {
        last_page = last_page.min(pages.saturating_sub(1)).max(first_page);
    }
    let rest = futures::future::try_join_all(
        (first_page + 1..=last_page).map(|p| async move { page(state, &key.filter, key.order, page_number(p)?).await }),
    )
    .await?;
    let mut rows: Vec<WireAggregate> = Vec::new();
    for p in std::iter::once(&head).chain(rest.iter()) {
        rows.extend(p.usage().iter().cloned());
    }
    let skip = key.offset - first_page * per;
    let mut window: Vec<WireAggregate> = rows.into_iter().skip(skip).take(key.first + 1).collect();
    // The pages read reach the row after the window whenever it exists and the total is unknown.
    let has_next = match total {
        Some(t) => (end as u64) < t,
        None => window.len() > key.first,
    };
    window.truncate(key.first);
    Ok(SliceResult { rows: window, has_next, total })
}

/// The page calls [`load_slices`] would make for `keys`, and whether each slice ends with its
/// total known (if not, its `totalCount` costs one more call): the cost estimate's view of this
/// module, kept beside the code it mirrors. `known_total` gives a slice's total when the cache
/// holds its first page; otherwise the rows are assumed to fill every window and Talkdesk to
/// send its total (it does). A union is counted to its cap of pages with its totals unknown,
/// which bounds it from above.
pub(crate) fn estimated_pages(
    keys: &[Slice],
    known_total: impl Fn(&Slice) -> Option<u64>,
) -> (Vec<UsagePageQuery>, HashMap<Slice, bool>) {
    let per = PAGE as usize;
    let mut groups: HashMap<UsageOrder, Vec<&Slice>> = HashMap::new();
    for k in keys {
        groups.entry(k.order).or_default().push(k);
    }
    let mut pages = Vec::new();
    let mut totals = HashMap::new();
    for (order, group) in groups {
        let union = Filter::any(group.iter().filter_map(|k| k.filter.clone()));
        let unionable = group.len() > 1
            && group.iter().all(|k| k.offset == 0 && k.filter.is_some())
            && union.as_ref().is_some_and(|u| u.to_string().len() <= MAX_FILTER_LEN);
        if unionable {
            let cap =
                group.iter().map(|k| k.first.saturating_add(1)).fold(0_usize, usize::saturating_add).div_ceil(per);
            for p in 0..cap.max(1) {
                let Ok(page) = page_number(p) else { break };
                pages.push(UsagePageQuery { filter: union.clone(), order, page, per_page: PAGE });
            }
            totals.extend(group.into_iter().map(|k| (k.clone(), false)));
            continue;
        }
        for k in group {
            let first_page = k.offset / per;
            let end = k.offset.saturating_add(k.first);
            // As `fetch_slice` reads them once the first page told the total.
            let last_page = match known_total(k) {
                Some(t) => {
                    let last_needed = end.min(usize::try_from(t).unwrap_or(usize::MAX)).saturating_sub(1);
                    let known_pages = usize::try_from(t.div_ceil(u64::from(PAGE))).unwrap_or(usize::MAX);
                    (last_needed / per).min(known_pages.saturating_sub(1)).max(first_page)
                }
                None => (end.saturating_sub(1) / per).max(first_page),
            };
            for p in first_page..=last_page {
                let Ok(page) = page_number(p) else { break };
                pages.push(UsagePageQuery { filter: k.filter.clone(), order: k.order, page, per_page: PAGE });
            }
            totals.insert(k.clone(), true);
        }
    }
    (pages, totals)
}

impl Slice {
    /// The first page a slice read on its own fetches: the one that tells its total.
    pub(crate) fn head_query(&self) -> UsagePageQuery {
        let page = page_number(self.offset / PAGE as usize).unwrap_or(u32::MAX);
        UsagePageQuery { filter: self.filter.clone(), order: self.order, page, per_page: PAGE }
    }
}

fn page_number(index: usize) -> Result<u32> {
    u32::try_from(index.saturating_add(1)).map_err(|_| GatewayError::BadInput("cursor out of range".into()))
}

/// Several slices from offset 0 served by one filter joined with `or`: pages are read in order
/// until every slice has its rows (and one more), then rows are split by each slice's filter.
///
/// The union reads at most the pages the slices' rows could fill together; a slice it leaves
/// short (its filter is rare in the union) is then read on its own, so one small filter beside
/// a large one never walks the large one's every page.
async fn fetch_union(
    state: &RequestState,
    order: UsageOrder,
    union: Option<Filter>,
    keys: Vec<Slice>,
) -> Vec<(Slice, SliceAnswer)> {
    let per = PAGE as usize;
    let cap = keys.iter().map(|k| k.first.saturating_add(1)).fold(0_usize, usize::saturating_add).div_ceil(per).max(1);
    let mut rows: Vec<Vec<WireAggregate>> = vec![Vec::new(); keys.len()];
    let mut matched = vec![0_u64; keys.len()];
    let mut number = 1;
    let exhausted = loop {
        let p = match page(state, &union, order, number).await {
            Ok(p) => p,
            Err(e) => return keys.into_iter().map(|k| (k, Err(e.clone()))).collect(),
        };
        for row in p.usage() {
            let account = row.account_id.as_ref().map_or("", |a| a.as_str());
            let month = row.month.map(|m| m.to_string()).unwrap_or_default();
            for ((k, bucket), count) in keys.iter().zip(rows.iter_mut()).zip(matched.iter_mut()) {
                if k.filter.as_ref().is_some_and(|f| f.matches(account, &month)) {
                    *count += 1;
                    // One row past the window says whether more follow; keep no more.
                    if bucket.len() <= k.first {
                        bucket.push(row.clone());
                    }
                }
            }
        }
        if p.next().is_none() {
            break true;
        }
        let satisfied = keys.iter().zip(&rows).all(|(k, r)| r.len() > k.first);
        if satisfied || usize::try_from(number).unwrap_or(usize::MAX) >= cap {
            break false;
        }
        number += 1;
    };
    let answers = keys.into_iter().zip(rows).zip(matched).map(|((k, mut r), count)| async move {
        if !exhausted && r.len() <= k.first {
            // The union stopped before this slice filled: read it on its own.
            let answer = fetch_slice(state, &k).await.map(Arc::new);
            return (k, answer);
        }
        let has_next = r.len() > k.first;
        r.truncate(k.first);
        let total = exhausted.then_some(count);
        (k, Ok(Arc::new(SliceResult { rows: r, has_next, total })))
    });
    futures::future::join_all(answers).await
}

/// Adds the slice loader to a request.
pub(crate) fn attach(request: async_graphql::Request, state: &Arc<RequestState>) -> async_graphql::Request {
    request.data(SliceLoader::new(state.clone()))
}
