//! `Organization`: an Elastic Cloud organization and every cost view of it.

use async_graphql::{Context, ID, Object};
use billing_model::OrganizationId;
use chrono::{DateTime, Utc};

use super::deployment::Deployment;
use super::instance::Instance;
use super::types::{
    Bucketing, Chart, CostsOverview, InstanceTypeFilter, ItemizedCosts, Product, ServerlessGroupBy, products,
};
use crate::error::{GraphError, Result};
use crate::loaders::{load, state};
use crate::upstream::{Range, V1Charts, V1Deployments, V1Items, V1Overview, V2Charts, V2Instances, V2Items};

/// An Elastic Cloud organization. Selecting only `id` calls no upstream; every other field calls
/// the endpoint named in its description, and only when selected.
#[derive(Debug, Clone)]
pub struct Organization {
    pub(crate) id: OrganizationId,
}

/// The range of a field: its own arguments, else month to date.
fn range(ctx: &Context<'_>, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<Range> {
    Ok(Range::from_args(from, to, state(ctx).now)?.unwrap_or(Range::MonthToDate))
}

/// An Elastic Cloud organization. Selecting only `id` calls no upstream; every other field
/// calls the endpoint its description names, only when selected. Ranges default to month to date.
/// A field whose upstream call fails is null, with an error naming it: the rest resolves.
#[Object(directive = super::cost::cost::apply("0".to_owned()))]
impl Organization {
    /// The organization id (a numeric string).
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// Cost overview: total, trials, hourly rate, dimensions and prepaid balance, in ECU.
    /// Elastic v1 `GET /billing/costs/{organization_id}`. `from`/`to` default to month to date.
    #[graphql(complexity = "super::CALL + child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn costs(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Option<CostsOverview>> {
        let q = V1Overview { org: self.id.clone(), range: range(ctx, from, to)? };
        Ok(Some(CostsOverview::from(&*load(ctx, q).await?)))
    }

    /// Every deployment with its costs over the range, in ECU.
    /// Elastic v1 `GET /billing/costs/{organization_id}/deployments`: one call serves every
    /// deployment of this organization and range in the request.
    #[graphql(
        complexity = "super::CALL + super::LIST * child_complexity",
        directive = super::cost::cost::apply("1".to_owned()),
        directive = super::cost::list_size::apply(Some(20), None, None, None)
    )]
    async fn deployments(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Option<Vec<Deployment>>> {
        let range = range(ctx, from, to)?;
        let q = V1Deployments { org: self.id.clone(), range };
        let costs = load(ctx, q).await?;
        Ok(Some(
            (0..costs.deployments.len()).map(|i| Deployment::new(self.id.clone(), range, costs.clone(), i)).collect(),
        ))
    }

    /// One deployment, or null if the organization has no such deployment in the range.
    /// Served by the same `/deployments` call as `deployments`.
    #[graphql(complexity = "super::CALL + child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn deployment(
        &self,
        ctx: &Context<'_>,
        id: ID,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Option<Deployment>> {
        billing_model::ids::check(&id).map_err(|e| GraphError::BadInput(format!("id: {e}")))?;
        let range = range(ctx, from, to)?;
        let q = V1Deployments { org: self.id.clone(), range };
        let costs = load(ctx, q).await?;
        Ok(costs
            .deployments
            .iter()
            .position(|d| d.deployment_id.as_str() == id.as_str())
            .map(|i| Deployment::new(self.id.clone(), range, costs.clone(), i)))
    }

    /// The organization's cost per day or month, in ECU.
    /// Elastic v1 `GET /billing/costs/{organization_id}/charts`.
    #[graphql(complexity = "super::CALL + child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn charts(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        #[graphql(default)] bucketing: Bucketing,
    ) -> Result<Option<Chart>> {
        let q = V1Charts { org: self.id.clone(), range: range(ctx, from, to)?, bucketing: bucketing.into() };
        Ok(Some(Chart::new(bucketing, load(ctx, q).await?)))
    }

    /// Itemized costs of the organization: resources, data transfer and storage, in ECU.
    /// Elastic v1 `GET /billing/costs/{organization_id}/items`.
    #[graphql(complexity = "super::CALL + child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn items(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Option<ItemizedCosts>> {
        let q = V1Items { org: self.id.clone(), range: range(ctx, from, to)? };
        Ok(Some(ItemizedCosts::from(&*load(ctx, q).await?)))
    }

    /// Deployments and serverless projects with their line items, in ECU.
    /// Elastic v2 `GET /billing/organizations/{organization_id}/costs/instances`.
    #[graphql(
        complexity = "super::CALL + super::LIST * child_complexity",
        directive = super::cost::cost::apply("1".to_owned()),
        directive = super::cost::list_size::apply(Some(20), None, None, None)
    )]
    async fn instances(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Option<Vec<Instance>>> {
        let range = range(ctx, from, to)?;
        let q = V2Instances { org: self.id.clone(), range };
        let costs = load(ctx, q).await?;
        Ok(Some(
            (0..costs.costs.instances().len())
                .map(|i| Instance::new(self.id.clone(), range, costs.clone(), i))
                .collect(),
        ))
    }

    /// The organization's costs grouped by product, in ECU.
    /// Elastic v2 `GET /billing/organizations/{organization_id}/costs/items`.
    #[graphql(complexity = "super::CALL + super::LIST * child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn product_costs(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        serverless_group_by: Option<ServerlessGroupBy>,
    ) -> Result<Option<Vec<Product>>> {
        let q = V2Items {
            org: self.id.clone(),
            range: range(ctx, from, to)?,
            group_by: serverless_group_by.map(Into::into),
        };
        Ok(Some(products(&*load(ctx, q).await?)))
    }

    /// Usage of the organization's instances per day or month, in ECU.
    /// Elastic v2 `GET /billing/organizations/{organization_id}/charts`.
    #[graphql(complexity = "super::CALL + child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn instance_charts(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        #[graphql(default)] bucketing: Bucketing,
        instance_type: Option<InstanceTypeFilter>,
    ) -> Result<Option<Chart>> {
        let q = V2Charts {
            org: self.id.clone(),
            range: range(ctx, from, to)?,
            bucketing: bucketing.into(),
            instance_type: instance_type.map(Into::into),
        };
        Ok(Some(Chart::new(bucketing, load(ctx, q).await?)))
    }

    /// The organization's forecast of the current calendar month (UTC): month-to-date actuals, a
    /// projection to month end and a 90 % band, in ECU. Elastic v1
    /// `GET /billing/costs/{organization_id}/charts` (daily, from the earlier of the month's
    /// start and 28 days back, to today): one call, shared with `deploymentForecasts`,
    /// `credits` and every `Deployment.forecast` of the organization in the request.
    #[graphql(complexity = "super::CALL + child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn forecast(&self, ctx: &Context<'_>) -> Result<Option<super::Forecast>> {
        Ok(Some(super::Forecast::from(&super::insights::organization_forecast(ctx, &self.id).await?)))
    }

    /// Every deployment's forecast of the current month, in deployment id order. Elastic v1
    /// `GET /billing/costs/{organization_id}/charts`: the same one daily chart call as
    /// `forecast` (never one call per deployment).
    #[graphql(complexity = "super::CALL + super::LIST * child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn deployment_forecasts(&self, ctx: &Context<'_>) -> Result<Option<Vec<super::DeploymentForecast>>> {
        super::insights::deployment_forecasts(ctx, &self.id).await.map(Some)
    }

    /// Days on which a deployment's cost left its robust band: the median of its `window`
    /// previous days, plus or minus `threshold` robust standard deviations (1.4826 × MAD,
    /// floored at 1 % of the median). Scores the days of `from`/`to` (default: the 30 complete
    /// days before today; at most 400 days); `window` (default 14, the configured N) is 1 to 90. In day order, then deployment
    /// id. Elastic v1 `GET /billing/costs/{organization_id}/charts` (daily, from `window` days
    /// before `from` to `to`): one call for every deployment.
    #[graphql(complexity = "super::CALL + super::LIST * child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn anomalies(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        window: Option<i32>,
        #[graphql(default_with = "super::insights::DEFAULT_THRESHOLD")] threshold: f64,
    ) -> Result<Option<Vec<super::Anomaly>>> {
        let config =
            super::insights::anomaly_config(state(ctx).services.config.insights.anomaly_window, window, threshold)?;
        super::insights::organization_anomalies(ctx, &self.id, from, to, config).await.map(Some)
    }

    /// The organization's total over the range (default month to date) against the previous
    /// range of equal length. Elastic v1 `GET /billing/costs/{organization_id}`: `current` the
    /// range's call (shared with `costs` of the same range), `previous` one more, `absolute` and
    /// `percent` both; nothing when only the bounds are selected.
    #[graphql(complexity = "2 * super::CALL + child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn cost_change(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Option<super::CostChange>> {
        use super::insights::Figure;
        let now = state(ctx).now;
        let range = range(ctx, from, to)?;
        let org = self.id.clone();
        let current = Figure::Organization(V1Overview { org: org.clone(), range });
        Ok(Some(super::CostChange::new(range, now, current, |previous| {
            Figure::Organization(V1Overview { org, range: previous })
        })))
    }

    /// Prepaid credits and the days they run out, at the current rate (the mean of the last 7
    /// complete days) and along the forecast; null for an organization without prepaid credits.
    /// Elastic v1 `GET /billing/costs/{organization_id}` (month to date, shared with `costs`)
    /// and the daily `charts` call of `forecast` (shared with it): two calls.
    #[graphql(complexity = "2 * super::CALL + child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn credits(&self, ctx: &Context<'_>) -> Result<Option<super::CreditsBurnDown>> {
        super::insights::credits_burn_down(ctx, &self.id).await
    }

    /// The organization's costs as FOCUS 1.0 rows (FinOps Open Cost and Usage Specification):
    /// one per instance, product line item and charge period, as a Relay connection. A charge
    /// period is the range cut at month starts; costs are converted from ECU at the configured
    /// rate (default 1 ECU = 1 USD) and kept in ECU in the `x…` fields. `docs/focus.md` maps
    /// every column. Elastic v2 `GET /billing/organizations/{organization_id}/costs/instances`,
    /// one call per calendar month the range touches (at most 13, else `BAD_USER_INPUT`); the
    /// rows of every page come from those same calls. `first` is at most 5000.
    #[graphql(complexity = "super::CALL + (first.unwrap_or(100).clamp(0, 5000) as usize) * child_complexity / 10", directive = super::cost::cost::apply("1".to_owned()))]
    async fn focus(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        #[graphql(default = 100)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<super::FocusRowConnection>> {
        let range = range(ctx, from, to)?.resolve(state(ctx).now);
        super::focus::connection(ctx, &self.id, &range, first.unwrap_or(100), after).await.map(Some)
    }
}
