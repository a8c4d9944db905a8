//! `Query.focusUsage`: FOCUS 1.0 rows of Talkdesk monthly usage, as a Relay connection over the
//! same slices as `usageAggregates` (the mapping is `billing_insights::focus::talkdesk_row`).
//!
//! A cursor is the offset of a usage row (`usage:N`, as `usageAggregates`' cursors), not of a
//! FOCUS row: `talkdesk_row` drops a usage row it cannot map (no month, no ISO currency or no
//! account), so counting FOCUS rows would shift every later cursor whenever a row is dropped,
//! and a page could not be found without reading all the pages before it. Counting usage rows,
//! a page of `first` rows is the same upstream pages as `usageAggregates(first, after, filter)`,
//! shared with it in one request; a dropped row leaves a gap in the cursors and a page shorter
//! than `first`, and is counted in `unmappedRows`.
//!
//! Upstream calls: exactly those of `usageAggregates` with the same `filter`, `first` and
//! `after` (and the default order, id descending): Talkdesk `GET /express/usage/month`, the
//! 250-row pages the window covers; none when `first` is 0 or a filter list is empty.

use std::sync::Arc;

use async_graphql::Object;
use billing_insights::focus as f;
use billing_model::talkdesk::UsageAggregate as WireAggregate;

use super::focus::{FocusRow, FocusRowEdge};
use super::usage::{PageInfo, UsageFilter, UsageOrderBy, cursor, load_slice};
use crate::error::Result;

/// The connection's field.
pub(crate) async fn focus_usage(
    ctx: &async_graphql::Context<'_>,
    filter: Option<UsageFilter>,
    first: i32,
    after: Option<String>,
) -> Result<FocusUsageConnection> {
    let (key, result) = load_slice(ctx, filter, first, after, UsageOrderBy::default()).await?;
    Ok(FocusUsageConnection::of(key.offset(), result.rows(), result.has_next()))
}

/// A page of FOCUS rows of Talkdesk usage (a Relay connection whose cursors are usage rows'
/// offsets).
#[derive(Debug, Clone)]
pub struct FocusUsageConnection {
    /// The offset of the window's first usage row.
    offset: usize,
    /// The usage rows the window read, mapped or not.
    read: usize,
    /// Each mapped row with its usage row's offset.
    rows: Arc<[(usize, f::FocusRow)]>,
    has_next: bool,
}

impl FocusUsageConnection {
    /// The window of usage rows read from `offset`, mapped; the rows `talkdesk_row` cannot map
    /// are dropped and their offsets skipped.
    pub(crate) fn of(offset: usize, usage: &[WireAggregate], has_next: bool) -> Self {
        let rows = usage
            .iter()
            .enumerate()
            .filter_map(|(i, r)| f::talkdesk_row(r).map(|row| (offset.saturating_add(i), row)))
            .collect();
        FocusUsageConnection { offset, read: usage.len(), rows, has_next }
    }
}

/// A page of FOCUS rows of Talkdesk monthly usage (a Relay connection). Cursors are the offsets
/// of the usage rows (`usage:N`, as `usageAggregates` numbers them), so a usage row that cannot
/// be mapped leaves a gap in the cursors and the page holds fewer rows than `first`.
#[Object(directive = super::cost::cost::apply("0".to_owned()))]
impl FocusUsageConnection {
    /// The rows with their cursors (their usage rows').
    async fn edges(&self) -> Vec<FocusRowEdge> {
        self.rows.iter().map(|(at, r)| FocusRowEdge { cursor: cursor(*at), node: FocusRow(r.clone()) }).collect()
    }

    /// The rows.
    async fn nodes(&self) -> Vec<FocusRow> {
        self.rows.iter().map(|(_, r)| FocusRow(r.clone())).collect()
    }

    /// Paging information. `startCursor` and `endCursor` are the first and last usage rows the
    /// page read, mapped or not, so `after: endCursor` never reads a dropped row again; they are
    /// null only when the page read no row.
    async fn page_info(&self) -> PageInfo {
        let n = self.read;
        PageInfo {
            has_next_page: self.has_next,
            has_previous_page: self.offset > 0,
            start_cursor: (n > 0).then(|| cursor(self.offset)),
            end_cursor: (n > 0).then(|| cursor(self.offset + n - 1)),
        }
    }

    /// The usage rows of this page that have no FOCUS row, because they lack a month, an ISO
    /// 4217 currency or an account (Talkdesk sends all three today).
    async fn unmapped_rows(&self) -> u64 {
        u64::try_from(self.read.saturating_sub(self.rows.len())).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use billing_model::{AccountId, Month};

    use super::*;

    fn row(id: &str, month: Option<&str>, currency: Option<&str>) -> WireAggregate {
        WireAggregate {
            id: id.to_owned(),
            account_id: Some(AccountId::new("b843127cb4440430804d40bc".to_owned())),
            product_id: Some("TD-USG-TEL-UG-102213".to_owned()),
            aggregated_product_id: None,
            month: month.map(|m| m.parse::<Month>().unwrap()),
            kind: None,
            description: Some("Calls".to_owned()),
            currency: currency.map(str::to_owned),
            direction: None,
            resolution: None,
            unit: Some("minute".to_owned()),
            price: Some(0.5),
            wallet_name: None,
            number_of_units: Some(4.0),
            total_amount: Some(2.0),
        }
    }

    #[test]
    fn a_dropped_row_leaves_a_gap_in_the_cursors_and_is_counted() {
        let usage = [
            row("a", Some("2026-10"), Some("USD")),
            row("b", None, Some("USD")),
            row("c", Some("2026-10"), Some("dollars")),
            row("d", Some("2026-09"), Some("EUR")),
        ];
        let c = FocusUsageConnection::of(10, &usage, true);
        let at: Vec<usize> = c.rows.iter().map(|(i, _)| *i).collect();
        assert_eq!(at, [10, 13]);
        assert_eq!(c.rows[1].1.billing_currency, "EUR");
        assert_eq!(c.read, 4);
        assert_eq!(c.read - c.rows.len(), 2);
    }

    #[test]
    fn a_page_of_dropped_rows_still_moves_the_cursor() {
        let usage = [row("a", None, None)];
        let c = FocusUsageConnection::of(0, &usage, false);
        assert!(c.rows.is_empty());
        assert_eq!(c.read, 1);
    }
}
