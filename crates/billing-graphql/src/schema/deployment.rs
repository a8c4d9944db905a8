//! `Deployment`: one deployment's v1 costs, with lazily loaded charts, items and v2 line items.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use billing_model::elastic::v1::{DeploymentCosts, DeploymentsCosts};
use billing_model::{InstanceId, OrganizationId};
use chrono::{DateTime, Utc};

use super::leaves::Leaves;
use super::types::{
    Bucketing, Chart, CostDimension, ItemizedCosts, LineItem, Period, Product, dimensions, line_items, products,
};
use crate::error::Result;
use crate::loaders::{load, state};
use crate::upstream::{Range, V1DeploymentCharts, V1DeploymentItems, V1Deployments, V2InstanceItems, V2Instances};

/// An Elastic Cloud deployment and its costs over the range it was loaded with (Elastic v1
/// `/deployments`). Child fields use that range unless given their own.
#[derive(Debug, Clone)]
pub struct Deployment {
    org: OrganizationId,
    range: Range,
    costs: Arc<DeploymentsCosts>,
    index: usize,
}

impl Deployment {
    pub(crate) fn new(org: OrganizationId, range: Range, costs: Arc<DeploymentsCosts>, index: usize) -> Self {
        Deployment { org, range, costs, index }
    }

    fn data(&self) -> &DeploymentCosts {
        &self.costs.deployments[self.index]
    }

    fn child_range(&self, ctx: &Context<'_>, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<Range> {
        Ok(Range::from_args(from, to, state(ctx).now)?.unwrap_or(self.range))
    }
}

/// An Elastic Cloud deployment and its costs over the range it was loaded with (Elastic v1
/// `/deployments`), in ECU. Child fields use that range unless given their own.
#[Object(directive = super::cost::cost::apply("0".to_owned()))]
impl Deployment {
    /// The deployment id (32 hex characters).
    async fn id(&self) -> ID {
        ID(self.data().deployment_id.to_string())
    }

    /// The deployment's name.
    async fn name(&self) -> &str {
        &self.data().deployment_name
    }

    /// Total cost over the range, in ECU.
    async fn total_cost(&self) -> f64 {
        self.data().costs.total
    }

    /// The current hourly rate, in ECU per hour.
    async fn hourly_rate(&self) -> f64 {
        self.data().hourly_rate
    }

    /// The span the costs cover; null when the upstream sends none.
    async fn period(&self) -> Option<Period> {
        self.data().period.as_ref().map(Period::from)
    }

    /// The total split by dimension, in ECU.
    async fn dimensions(&self) -> Leaves<CostDimension> {
        dimensions(&self.data().costs)
    }

    /// The deployment's cost per day or month, in ECU.
    /// Elastic v1 `GET /billing/costs/{organization_id}/deployments/{deployment_id}/charts`,
    /// one call per distinct deployment, range and bucketing, issued concurrently.
    #[graphql(complexity = "super::CALL + child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn charts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] bucketing: Bucketing,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Option<Chart>> {
        let q = V1DeploymentCharts {
            org: self.org.clone(),
            deployment: self.data().deployment_id.clone(),
            range: self.child_range(ctx, from, to)?,
            bucketing: bucketing.into(),
        };
        Ok(Some(Chart::new(bucketing, load(ctx, q).await?)))
    }

    /// The deployment's itemized costs, in ECU.
    /// Elastic v1 `GET /billing/costs/{organization_id}/deployments/{deployment_id}/items`.
    #[graphql(complexity = "super::CALL + child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn items(&self, ctx: &Context<'_>) -> Result<Option<ItemizedCosts>> {
        let q = V1DeploymentItems {
            org: self.org.clone(),
            deployment: self.data().deployment_id.clone(),
            range: self.range,
        };
        Ok(Some(ItemizedCosts::from(&*load(ctx, q).await?)))
    }

    /// The deployment's v2 line items, in ECU; empty when v2 has no instance of this id.
    /// Elastic v2 `GET /billing/organizations/{organization_id}/costs/instances`: one call serves
    /// every deployment of the organization and range.
    #[graphql(complexity = "super::CALL + super::LIST * child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn line_items(&self, ctx: &Context<'_>) -> Result<Option<Leaves<LineItem>>> {
        let instances = load(ctx, V2Instances { org: self.org.clone(), range: self.range }).await?;
        let id = self.data().deployment_id.as_str();
        Ok(Some(instances.get(id).map_or_else(|| Leaves(Vec::new()), |i| line_items(&i.product_line_items))))
    }

    /// The deployment's forecast of the current calendar month (UTC), in ECU. Elastic v1
    /// `GET /billing/costs/{organization_id}/charts`: the organization's daily chart, one call
    /// for every deployment of the organization in the request (shared with
    /// `Organization.forecast`), never one per deployment. Ignores the deployment's range.
    #[graphql(complexity = "super::CALL + child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn forecast(&self, ctx: &Context<'_>) -> Result<Option<super::Forecast>> {
        super::insights::deployment_forecast(ctx, &self.org, &self.data().deployment_id).await.map(Some)
    }

    /// Days on which one of the deployment's dimensions (`capacity`, `data_out`, ...) or its
    /// `total` left its robust band: the median of the `window` previous days, plus or minus
    /// `threshold` robust standard deviations (1.4826 × MAD, floored at 1 % of the median).
    /// Scores the days of `from`/`to` (default: the 30 complete days before today, not the
    /// deployment's range; at most 400 days); `window` (default 14, the configured N) is 1 to 90. Elastic v1
    /// `GET /billing/costs/{organization_id}/deployments/{deployment_id}/charts` (daily, from
    /// `window` days before `from`): one call per deployment, issued concurrently.
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
        let id = &self.data().deployment_id;
        super::insights::deployment_anomalies(ctx, &self.org, id, from, to, config).await.map(Some)
    }

    /// `totalCost` against the deployment's total over the previous range of equal length.
    /// `current` calls nothing; `previous`, `absolute` and `percent` call Elastic v1
    /// `GET /billing/costs/{organization_id}/deployments` for the previous range: one call for
    /// every deployment of the organization and range in the request.
    #[graphql(complexity = "super::CALL + child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn cost_change(&self, ctx: &Context<'_>) -> super::CostChange {
        use super::insights::Figure;
        let (org, id) = (self.org.clone(), self.data().deployment_id.clone());
        super::CostChange::new(self.range, state(ctx).now, Figure::Known(self.data().costs.total), |previous| {
            Figure::Deployment(V1Deployments { org, range: previous }, id)
        })
    }

    /// v1's `totalCost` against the sum of the deployment's v2 line items over the same range,
    /// the difference, and whether it is past the tolerance: within `absoluteTolerance` ECU or
    /// `relativeTolerance` of the larger total agrees (defaults: the configured tolerance, 0.01 ECU or 0.1 %; v2 rounds each line to 4
    /// decimals).
    /// Elastic v2 `GET /billing/organizations/{organization_id}/costs/instances`: one call for
    /// every deployment of the organization and range (shared with `lineItems`); v1's total is
    /// already loaded.
    #[graphql(complexity = "super::CALL + child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn reconciliation(
        &self,
        ctx: &Context<'_>,
        absolute_tolerance: Option<f64>,
        relative_tolerance: Option<f64>,
    ) -> Result<Option<super::Reconciliation>> {
        let configured = state(ctx).services.config.insights.tolerance;
        let tolerance = super::insights::tolerance(configured, absolute_tolerance, relative_tolerance)?;
        let instances = load(ctx, V2Instances { org: self.org.clone(), range: self.range }).await?;
        let instance = instances.get(self.data().deployment_id.as_str());
        Ok(Some(super::insights::reconciliation(self.data().costs.total, instance, tolerance)))
    }

    /// The deployment's itemized costs grouped by product, in ECU.
    /// Elastic v2 `GET /billing/organizations/{organization_id}/costs/instances/{instance_id}/items`.
    #[graphql(complexity = "super::CALL + super::LIST * child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn products(&self, ctx: &Context<'_>) -> Result<Option<Vec<Product>>> {
        let instance = InstanceId::from(self.data().deployment_id.clone());
        let q = V2InstanceItems { org: self.org.clone(), instance, range: self.range };
        Ok(Some(products(&*load(ctx, q).await?)))
    }
}
