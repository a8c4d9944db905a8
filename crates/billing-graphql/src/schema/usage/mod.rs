//! `usageAggregates`: Talkdesk monthly usage as a Relay connection over HAL pages.
//!
//! A cursor is an offset into the filtered, ordered result set. Offsets map onto fixed pages of
//! 250 (the API's maximum), so a slice costs the fewest pages that cover it and neighbouring
//! slices share cached pages. Several `usageAggregates` fields in one request with different
//! filters, all starting at the first row, are served together: their filters are joined with
//! `or` into one upstream filter, and the rows are split back by each field's own filter.

mod cursor;
mod filter;
mod load;
mod paging;

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use billing_model::talkdesk::{Filter, MAX_PER_PAGE, UsageAggregate as WireAggregate, UsageOrder};

pub(crate) use cursor::cursor;
use cursor::offset_after;
use filter::build_filter;
pub(crate) use load::{SliceAnswer, SliceLoader, estimated_pages, load_slices};
use paging::Window;

use super::leaves::{Getter, LeafFields, Leaves, optional, scalar};
use crate::context::RequestState;
use crate::error::{GraphError, Result};
use crate::loaders::load;
use crate::upstream::UsagePageQuery;

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

    /// The number of rows matching the filter on all pages; null when the upstream's pages do
    /// not tell it. Costs one extra small upstream call only when the rows were served together
    /// with another field's and the total is not known.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<Option<u64>> {
        if let Some(total) = self.result.total {
            return Ok(Some(total));
        }
        Ok(load(ctx, self.key.total_query()).await?.total)
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
    let (key, result) = load_slice(ctx, filter, first, after, order_by).await?;
    Ok(UsageAggregateConnection { key, result })
}

/// The slice a connection's arguments ask for and its rows, through the request's
/// [`SliceLoader`] (so connections of one request are batched and share pages), or without a
/// call when the arguments need none.
pub(crate) async fn load_slice(
    ctx: &Context<'_>,
    filter: Option<UsageFilter>,
    first: i32,
    after: Option<String>,
    order_by: UsageOrderBy,
) -> Result<(Slice, Arc<SliceResult>)> {
    let key = match slice_for(filter, first, after, order_by)? {
        Wanted::Slice(key) => key,
        Wanted::Nothing(key, result) => return Ok((key, result)),
    };
    let loader = ctx.data_unchecked::<SliceLoader>();
    let result = loader.0.try_load(key.clone()).await.unwrap_or(Err(GraphError::Internal("a loader lost a key")))?;
    Ok((key, result))
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
        return Err(GraphError::BadInput(format!("first must be between 0 and {MAX_FIRST}")));
    }
    let offset = offset_after(after.as_deref())?;
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
    /// The rows the slice covers.
    fn window(&self) -> Window {
        Window { offset: self.offset, first: self.first }
    }

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

/// Adds the slice loader to a request.
pub(crate) fn attach(request: async_graphql::Request, state: &Arc<RequestState>) -> async_graphql::Request {
    request.data(SliceLoader::new(state.clone()))
}
