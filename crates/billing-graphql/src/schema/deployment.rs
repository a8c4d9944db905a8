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
use crate::query::{Range, V1DeploymentCharts, V1DeploymentItems, V2InstanceItems, V2Instances};

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

    /// The deployment's itemized costs grouped by product, in ECU.
    /// Elastic v2 `GET /billing/organizations/{organization_id}/costs/instances/{instance_id}/items`.
    #[graphql(complexity = "super::CALL + super::LIST * child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn products(&self, ctx: &Context<'_>) -> Result<Option<Vec<Product>>> {
        let instance = InstanceId::from(self.data().deployment_id.clone());
        let q = V2InstanceItems { org: self.org.clone(), instance, range: self.range };
        Ok(Some(products(&*load(ctx, q).await?)))
    }
}
