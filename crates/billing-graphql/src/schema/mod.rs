//! The schema: a root split by domain, and the types it returns.
//!
//! Every field that calls an upstream says which endpoint in its description, and calls it only
//! when selected. Money is in ECU for Elastic and in the row's `currency` for Talkdesk.

mod cost;
mod deployment;
pub(crate) mod focus;
mod focus_usage;
pub(crate) mod insights;
mod instance;
mod leaves;
mod organization;
pub mod types;
pub(crate) mod usage;

use async_graphql::{Context, EmptyMutation, EmptySubscription, ID, MergedObject, Object, Schema};

pub use deployment::Deployment;
pub use focus::{FocusRow, FocusRowConnection, FocusRowEdge};
pub use focus_usage::FocusUsageConnection;
pub use insights::{
    Anomaly, CostChange, CreditsBurnDown, DeploymentForecast, Forecast, ForecastMethod, Reconciliation,
};
pub use instance::Instance;
pub use organization::Organization;
pub(crate) use usage::attach as attach_usage;
pub use usage::{PageInfo, UsageAggregate, UsageAggregateConnection, UsageAggregateEdge, UsageFilter, UsageOrderBy};

use crate::error::{GraphError, Result};

/// Complexity of a field that may call an upstream.
pub(crate) const CALL: usize = 10;
/// Assumed length of a list field, for complexity.
pub(crate) const LIST: usize = 20;

/// Elastic Cloud cost queries.
#[derive(Default, Debug)]
pub struct CostsQuery;

/// Elastic Cloud cost queries.
#[Object]
impl CostsQuery {
    /// An Elastic Cloud organization by id. Calls no upstream by itself: each field of
    /// `Organization` calls its own endpoint when selected, so an unknown organization shows up
    /// as an `organization.not_found` error on those fields. An id that cannot be one (empty,
    /// `..`, with a slash or a control character, over 128 bytes) is `BAD_USER_INPUT`.
    async fn organization(&self, id: ID) -> Result<Option<Organization>> {
        let id = billing_model::OrganizationId::parse(&id).map_err(|e| GraphError::BadInput(format!("id: {e}")))?;
        Ok(Some(Organization { id }))
    }
}

/// Talkdesk usage queries.
#[derive(Default, Debug)]
pub struct UsageQuery;

/// Talkdesk usage queries.
#[Object]
impl UsageQuery {
    /// Talkdesk monthly usage aggregates of the caller's accounts, as a Relay connection.
    /// Talkdesk `GET /express/usage/month`, paged 250 rows at a time; `first` may exceed 250
    /// (up to 5000). Needs the `X-Talkdesk-Authorization` credential.
    #[graphql(
        complexity = "CALL + (first.unwrap_or(50).clamp(0, 5000) as usize) * child_complexity / 10",
        directive = cost::cost::apply("1".to_owned()),
        directive = cost::list_size::apply(None, Some(vec!["first".to_owned()]), Some(vec!["edges".to_owned(), "nodes".to_owned()]), None)
    )]
    async fn usage_aggregates(
        &self,
        ctx: &Context<'_>,
        filter: Option<UsageFilter>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
        #[graphql(default)] order_by: UsageOrderBy,
    ) -> Result<Option<UsageAggregateConnection>> {
        usage::usage_aggregates(ctx, filter, first.unwrap_or(50), after, order_by).await.map(Some)
    }

    /// FOCUS 1.0 rows of the caller's Talkdesk monthly usage (one row per usage aggregate,
    /// mapped as `docs/focus.md` says), as a Relay connection over the same rows as
    /// `usageAggregates` in its default order (id descending). Upstream calls: exactly those of
    /// `usageAggregates` with the same `filter`, `first` and `after` -- Talkdesk
    /// `GET /express/usage/month`, the 250-row pages the window covers, shared with a
    /// `usageAggregates` field of the same request -- and none when `first` is 0 or a filter
    /// list is empty. Cursors are the usage rows' offsets (`usage:N`): a usage row that cannot
    /// be mapped (no month, no ISO 4217 currency or no account) is dropped, leaving a gap in the
    /// cursors and a page shorter than `first`, and is counted in `unmappedRows`. Needs the
    /// `X-Talkdesk-Authorization` credential; without it this field alone fails
    /// (`UNAUTHENTICATED`).
    #[graphql(
        complexity = "CALL + (first.unwrap_or(50).clamp(0, 5000) as usize) * child_complexity / 10",
        directive = cost::cost::apply("1".to_owned()),
        directive = cost::list_size::apply(None, Some(vec!["first".to_owned()]), Some(vec!["edges".to_owned(), "nodes".to_owned()]), None)
    )]
    async fn focus_usage(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, desc = "Usage rows to read, 0 to 5000 (fewer FOCUS rows when some cannot be mapped).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor this connection (or `usageAggregates`) returned: continue after its usage row.")]
        after: Option<String>,
        #[graphql(desc = "Which usage rows, as `usageAggregates`' filter.")] filter: Option<UsageFilter>,
    ) -> Result<Option<FocusUsageConnection>> {
        focus_usage::focus_usage(ctx, filter, first.unwrap_or(50), after).await.map(Some)
    }
}

/// The query root.
#[derive(MergedObject, Default, Debug)]
pub struct Query(CostsQuery, UsageQuery);

/// The schema type.
pub type BillingSchema = Schema<Query, EmptyMutation, EmptySubscription>;
