//! `Instance`: an Elastic v2 instance (deployment or serverless project) and its costs.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use billing_model::OrganizationId;
use billing_model::elastic::v2::Instance as WireInstance;

use super::leaves::Leaves;
use super::types::{Bucketing, Chart, LineItem, Product, line_items, products};
use crate::error::Result;
use crate::loaders::load;
use crate::upstream::{IndexedInstances, Range, V2InstanceCharts, V2InstanceItems};

/// A v2 instance: a hosted deployment or a serverless project, over the range it was loaded with
/// (Elastic v2 `/costs/instances`).
#[derive(Debug, Clone)]
pub struct Instance {
    org: OrganizationId,
    range: Range,
    costs: Arc<IndexedInstances>,
    index: usize,
}

impl Instance {
    pub(crate) fn new(org: OrganizationId, range: Range, costs: Arc<IndexedInstances>, index: usize) -> Self {
        Instance { org, range, costs, index }
    }

    fn data(&self) -> &WireInstance {
        &self.costs.costs.instances()[self.index]
    }
}

/// An Elastic v2 instance (a hosted deployment or a serverless project) and its costs over the
/// range it was loaded with (Elastic v2 `/costs/instances`), in ECU.
#[Object(directive = super::cost::cost::apply("0".to_owned()))]
impl Instance {
    /// The instance id (a deployment id or a project id).
    async fn id(&self) -> ID {
        ID(self.data().id.to_string())
    }

    /// The instance's name; empty when the upstream could not resolve it.
    async fn name(&self) -> &str {
        &self.data().name
    }

    /// `deployment`, or a serverless project type (`elasticsearch`, `observability`, `security`, ...).
    #[graphql(name = "type")]
    async fn kind(&self) -> &str {
        self.data().kind.as_str()
    }

    /// Total cost over the range, in ECU.
    async fn total_ecu(&self) -> f64 {
        self.data().total_ecu
    }

    /// The instance's line items, in ECU (from the same `/costs/instances` answer).
    async fn line_items(&self) -> Leaves<LineItem> {
        line_items(&self.data().product_line_items)
    }

    /// The instance's itemized costs grouped by product, in ECU.
    /// Elastic v2 `GET /billing/organizations/{organization_id}/costs/instances/{instance_id}/items`.
    #[graphql(complexity = "super::CALL + super::LIST * child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn products(&self, ctx: &Context<'_>) -> Result<Option<Vec<Product>>> {
        let q = V2InstanceItems { org: self.org.clone(), instance: self.data().id.clone(), range: self.range };
        Ok(Some(products(&*load(ctx, q).await?)))
    }

    /// The instance's usage per day or month, in ECU.
    /// Elastic v2 `GET /billing/organizations/{organization_id}/instances/{instance_id}/charts`.
    #[graphql(complexity = "super::CALL + child_complexity", directive = super::cost::cost::apply("1".to_owned()))]
    async fn charts(&self, ctx: &Context<'_>, #[graphql(default)] bucketing: Bucketing) -> Result<Option<Chart>> {
        let q = V2InstanceCharts {
            org: self.org.clone(),
            instance: self.data().id.clone(),
            range: self.range,
            bucketing: bucketing.into(),
        };
        Ok(Some(Chart::new(bucketing, load(ctx, q).await?)))
    }
}
