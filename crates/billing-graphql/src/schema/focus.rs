//! FOCUS 1.0 rows of an organization (`Organization.focus`), and the same rows for the CSV
//! export (`BillingGraph::focus_export`). The mapping itself is `billing-insights`'; this module
//! fetches what it reads and pages it.
//!
//! Upstream calls: one Elastic v2 `GET /costs/instances` per calendar month the range touches
//! (a charge period never crosses a billing period), at most [`MAX_PERIODS`].

use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject};
use billing_insights::focus::{self as f, EcuConversion};
use billing_model::{DateRange, OrganizationId};
use chrono::{DateTime, Utc};

use super::usage::PageInfo;
use crate::context::RequestState;
use crate::error::{GraphError, Result};
use crate::loaders::{load, state};
use crate::upstream::{self, IndexedInstances, Range, V2Instances};

/// The most calendar months one FOCUS range may touch (one upstream call each).
pub(crate) const MAX_PERIODS: usize = 13;
/// The most rows one page of the connection holds.
pub(crate) const MAX_FIRST: i32 = 5000;

/// The charge periods of a range, refused past [`MAX_PERIODS`] so a hostile range costs
/// bounded work.
pub(crate) fn periods(range: &DateRange) -> Result<Vec<DateRange>> {
    let months = months_touched(range);
    if months > MAX_PERIODS {
        return Err(GraphError::BadInput(format!(
            "the range touches {months} calendar months; FOCUS rows are served for at most {MAX_PERIODS}"
        )));
    }
    Ok(f::charge_periods(range))
}

/// How many calendar months a range touches, counted without walking it.
fn months_touched(range: &DateRange) -> usize {
    use chrono::Datelike;
    let (a, b) = (range.from(), range.to());
    let span = (i64::from(b.year()) - i64::from(a.year())) * 12 + i64::from(b.month()) - i64::from(a.month());
    usize::try_from(span.max(0)).unwrap_or(usize::MAX).saturating_add(1)
}

fn rows_of(
    org: &OrganizationId,
    period: &DateRange,
    answer: &IndexedInstances,
    ecu: &EcuConversion,
) -> Vec<f::FocusRow> {
    f::elastic_rows(org, answer.costs.instances(), period, ecu)
}

/// The FOCUS rows of an organization over a range, in charge-period order, through the
/// request's loaders (so a `focus` field and an `instances` field of the same month share a call).
async fn rows(ctx: &Context<'_>, org: &OrganizationId, range: &DateRange) -> Result<Vec<f::FocusRow>> {
    let periods = periods(range)?;
    let answers = futures::future::try_join_all(
        periods.iter().map(|p| load(ctx, V2Instances { org: org.clone(), range: Range::Explicit(*p) })),
    )
    .await?;
    let ecu = &state(ctx).services.config.insights.ecu;
    Ok(periods.iter().zip(&answers).flat_map(|(p, a)| rows_of(org, p, a, ecu)).collect())
}

/// The rows of one charge period, fetched through the response cache on the export's request
/// state.
pub(crate) async fn period_rows(
    state: &RequestState,
    org: &OrganizationId,
    period: &DateRange,
) -> Result<Vec<f::FocusRow>> {
    let answer = upstream::fetch(state, &V2Instances { org: org.clone(), range: Range::Explicit(*period) }).await?;
    Ok(rows_of(org, period, &answer, &state.services.config.insights.ecu))
}

fn cursor(offset: usize) -> String {
    format!("focus:{offset}")
}

fn parse_cursor(c: &str) -> Result<usize> {
    c.strip_prefix("focus:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| GraphError::BadInput(format!("invalid cursor {c:?}: pass a cursor this API returned")))
}

/// A page of FOCUS rows.
pub(crate) async fn connection(
    ctx: &Context<'_>,
    org: &OrganizationId,
    range: &DateRange,
    first: i32,
    after: Option<String>,
) -> Result<FocusRowConnection> {
    if !(0..=MAX_FIRST).contains(&first) {
        return Err(GraphError::BadInput(format!("first must be between 0 and {MAX_FIRST}")));
    }
    let offset = after.as_deref().map(parse_cursor).transpose()?.map_or(0, |o| o.saturating_add(1));
    let all = rows(ctx, org, range).await?;
    let total = all.len();
    let start = offset.min(total);
    let end = start.saturating_add(usize::try_from(first).unwrap_or(0)).min(total);
    let rows: Arc<[f::FocusRow]> = all[start..end].iter().cloned().collect();
    Ok(FocusRowConnection { offset: start, rows, total })
}

/// A page of FOCUS rows (a Relay connection).
#[derive(Debug, Clone)]
pub struct FocusRowConnection {
    offset: usize,
    rows: Arc<[f::FocusRow]>,
    total: usize,
}

/// An edge: a FOCUS row and its cursor.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = crate::schema::cost::cost::apply("0".to_owned()))]
pub struct FocusRowEdge {
    /// Pass as `after` to continue after this row.
    pub cursor: String,
    /// The row.
    pub node: FocusRow,
}

/// A page of FOCUS rows (a Relay connection).
#[Object(directive = crate::schema::cost::cost::apply("0".to_owned()))]
impl FocusRowConnection {
    /// The rows with their cursors.
    async fn edges(&self) -> Vec<FocusRowEdge> {
        self.rows
            .iter()
            .enumerate()
            .map(|(i, r)| FocusRowEdge { cursor: cursor(self.offset + i), node: FocusRow(r.clone()) })
            .collect()
    }

    /// The rows.
    async fn nodes(&self) -> Vec<FocusRow> {
        self.rows.iter().cloned().map(FocusRow).collect()
    }

    /// Paging information.
    async fn page_info(&self) -> PageInfo {
        let n = self.rows.len();
        PageInfo {
            has_next_page: self.offset + n < self.total,
            has_previous_page: self.offset > 0,
            start_cursor: (n > 0).then(|| cursor(self.offset)),
            end_cursor: (n > 0).then(|| cursor(self.offset + n - 1)),
        }
    }

    /// The number of rows over the whole range.
    async fn total_count(&self) -> u64 {
        u64::try_from(self.total).unwrap_or(u64::MAX)
    }
}

/// One FOCUS 1.0 row: one Elastic v2 line item of one instance over one charge period. Field
/// names are the FOCUS columns' in camel case; `docs/focus.md` maps each. Costs are in
/// `billingCurrency` (ECU converted at the configured rate); the `x…` fields keep the ECU.
#[derive(Debug, Clone)]
pub struct FocusRow(pub(crate) f::FocusRow);

/// One FOCUS 1.0 row: an Elastic v2 line item of one instance over one charge period
/// (`Organization.focus`), or a Talkdesk monthly usage row (`Query.focusUsage`); see
/// `docs/focus.md`.
#[Object(directive = crate::schema::cost::cost::apply("0".to_owned()))]
impl FocusRow {
    /// FOCUS BilledCost: the line's cost in `billingCurrency`.
    async fn billed_cost(&self) -> f64 {
        self.0.billed_cost
    }
    /// FOCUS BillingAccountId: the Elastic organization id, or the Talkdesk account id.
    async fn billing_account_id(&self) -> &str {
        &self.0.billing_account_id
    }
    /// FOCUS BillingAccountName.
    async fn billing_account_name(&self) -> Option<&str> {
        self.0.billing_account_name.as_deref()
    }
    /// FOCUS BillingCurrency: ISO 4217, the configured conversion's (Elastic) or the usage
    /// row's (Talkdesk).
    async fn billing_currency(&self) -> &str {
        &self.0.billing_currency
    }
    /// FOCUS BillingPeriodStart: the first instant of the calendar month.
    async fn billing_period_start(&self) -> DateTime<Utc> {
        self.0.billing_period_start
    }
    /// FOCUS BillingPeriodEnd: the first instant of the next month (exclusive).
    async fn billing_period_end(&self) -> DateTime<Utc> {
        self.0.billing_period_end
    }
    /// FOCUS ChargeCategory: `Usage` (or `Purchase`).
    async fn charge_category(&self) -> &str {
        self.0.charge_category.as_str()
    }
    /// FOCUS ChargeClass: null, since no row is a correction.
    async fn charge_class(&self) -> Option<&str> {
        None
    }
    /// FOCUS ChargeDescription: the line item's name.
    async fn charge_description(&self) -> Option<&str> {
        self.0.charge_description.as_deref()
    }
    /// FOCUS ChargeFrequency: `Usage-Based`.
    async fn charge_frequency(&self) -> &str {
        self.0.charge_frequency
    }
    /// FOCUS ChargePeriodStart: the requested range's start within the month.
    async fn charge_period_start(&self) -> DateTime<Utc> {
        self.0.charge_period_start
    }
    /// FOCUS ChargePeriodEnd: the requested range's end within the month (exclusive).
    async fn charge_period_end(&self) -> DateTime<Utc> {
        self.0.charge_period_end
    }
    /// FOCUS ConsumedQuantity: the line's quantity.
    async fn consumed_quantity(&self) -> Option<f64> {
        self.0.consumed_quantity
    }
    /// FOCUS ConsumedUnit: the line's unit in FOCUS unit format.
    async fn consumed_unit(&self) -> Option<&str> {
        self.0.consumed_unit.as_deref()
    }
    /// FOCUS ContractedCost: equal to the billed cost (no negotiated price is visible).
    async fn contracted_cost(&self) -> f64 {
        self.0.contracted_cost
    }
    /// FOCUS ContractedUnitPrice.
    async fn contracted_unit_price(&self) -> Option<f64> {
        self.0.contracted_unit_price
    }
    /// FOCUS EffectiveCost: equal to the billed cost (no amortized commitment is visible).
    async fn effective_cost(&self) -> f64 {
        self.0.effective_cost
    }
    /// FOCUS InvoiceIssuerName.
    async fn invoice_issuer_name(&self) -> &str {
        self.0.invoice_issuer_name
    }
    /// FOCUS ListCost: quantity times the list rate, converted.
    async fn list_cost(&self) -> f64 {
        self.0.list_cost
    }
    /// FOCUS ListUnitPrice: the line's rate, converted.
    async fn list_unit_price(&self) -> Option<f64> {
        self.0.list_unit_price
    }
    /// FOCUS PricingCategory: `Standard`.
    async fn pricing_category(&self) -> Option<&str> {
        self.0.pricing_category
    }
    /// FOCUS PricingQuantity: the line's quantity.
    async fn pricing_quantity(&self) -> Option<f64> {
        self.0.pricing_quantity
    }
    /// FOCUS PricingUnit: the line's unit in FOCUS unit format.
    async fn pricing_unit(&self) -> Option<&str> {
        self.0.pricing_unit.as_deref()
    }
    /// FOCUS ProviderName.
    async fn provider_name(&self) -> &str {
        self.0.provider_name
    }
    /// FOCUS PublisherName.
    async fn publisher_name(&self) -> &str {
        self.0.publisher_name
    }
    /// FOCUS RegionId: the region of a capacity line's SKU, else null.
    async fn region_id(&self) -> Option<&str> {
        self.0.region_id.as_deref()
    }
    /// FOCUS ResourceId: the deployment or project id.
    async fn resource_id(&self) -> Option<&str> {
        self.0.resource_id.as_deref()
    }
    /// FOCUS ResourceName: the deployment or project name.
    async fn resource_name(&self) -> Option<&str> {
        self.0.resource_name.as_deref()
    }
    /// FOCUS ResourceType: `Deployment` or `Serverless <kind> project`.
    async fn resource_type(&self) -> Option<&str> {
        self.0.resource_type.as_deref()
    }
    /// FOCUS ServiceCategory, from the line's type and the instance's kind.
    async fn service_category(&self) -> &str {
        self.0.service_category
    }
    /// FOCUS ServiceName: `Elastic Cloud Hosted` or the serverless offering.
    async fn service_name(&self) -> &str {
        &self.0.service_name
    }
    /// FOCUS SkuId: the line's SKU.
    async fn sku_id(&self) -> Option<&str> {
        self.0.sku_id.as_deref()
    }
    /// FOCUS SkuPriceId: the line's SKU (Elastic prices per SKU).
    async fn sku_price_id(&self) -> Option<&str> {
        self.0.sku_price_id.as_deref()
    }
    /// FOCUS SubAccountId: null (Elastic has no level between organization and instance).
    async fn sub_account_id(&self) -> Option<&str> {
        self.0.sub_account_id.as_deref()
    }
    /// FOCUS SubAccountName: null, as `subAccountId`.
    async fn sub_account_name(&self) -> Option<&str> {
        self.0.sub_account_name.as_deref()
    }
    /// `x_EcuBilledCost`: the billed cost in ECU, as Elastic reports it.
    async fn x_ecu_billed_cost(&self) -> Option<f64> {
        self.0.x_ecu_billed_cost
    }
    /// `x_EcuListUnitPrice`: the unit price in ECU.
    async fn x_ecu_list_unit_price(&self) -> Option<f64> {
        self.0.x_ecu_list_unit_price
    }
    /// `x_EcuRate`: units of `billingCurrency` per ECU used for this row.
    async fn x_ecu_rate(&self) -> Option<f64> {
        self.0.x_ecu_rate
    }
    /// `x_ChargeType`: the upstream's own line type (`capacity`, `data_out`, ...).
    async fn x_charge_type(&self) -> Option<&str> {
        self.0.x_charge_type.as_deref()
    }
}
