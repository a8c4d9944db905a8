//! `GET /api/v2/billing/organizations/{organization_id}/costs/...`: instances and items.

use billing_model::elastic::v2::{InstancesCosts, ItemsCosts};
use billing_model::{DateRange, InstanceId, OrganizationId};

use super::ElasticBillingV2;
use crate::credentials::ElasticCredentials;
use crate::endpoint::endpoints;
use crate::request::Request;
use crate::request::options::{V2InstanceItems, V2Instances, V2Items};

impl ElasticBillingV2 {
    /// `GET /billing/organizations/{organization_id}/costs/instances`: every instance with its
    /// line items. One call serves any number of deployments.
    ///
    /// ```no_run
    /// # async fn run(v2: billing_http::ElasticBillingV2, creds: billing_http::ElasticCredentials, range: billing_model::DateRange) -> Result<(), billing_http::Error> {
    /// let costs = v2.instances(&creds, &"3166899605".into(), range).include_names(true).send().await?;
    /// for i in costs.instances() {
    ///     println!("{} {} ECU", i.name, i.total_ecu);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn instances(
        &self,
        creds: &ElasticCredentials,
        org: &OrganizationId,
        range: DateRange,
    ) -> Request<'_, InstancesCosts, V2Instances> {
        self.request(endpoints::V2_INSTANCES, creds, org, &["costs", "instances"], range)
    }

    /// `GET /billing/organizations/{organization_id}/costs/instances/{instance_id}/items`.
    pub fn instance_items(
        &self,
        creds: &ElasticCredentials,
        org: &OrganizationId,
        instance: &InstanceId,
        range: DateRange,
    ) -> Request<'_, ItemsCosts, V2InstanceItems> {
        self.request(
            endpoints::V2_INSTANCE_ITEMS,
            creds,
            org,
            &["costs", "instances", instance.as_str(), "items"],
            range,
        )
    }

    /// `GET /billing/organizations/{organization_id}/costs/items`: the organization's costs by product.
    pub fn items(
        &self,
        creds: &ElasticCredentials,
        org: &OrganizationId,
        range: DateRange,
    ) -> Request<'_, ItemsCosts, V2Items> {
        self.request(endpoints::V2_ITEMS, creds, org, &["costs", "items"], range)
    }
}
