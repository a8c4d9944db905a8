//! `GET /api/v2/billing/organizations/{organization_id}/charts` and `.../instances/{id}/charts`:
//! not under `/costs/`, unlike everything else in v2.

use billing_model::{ChartItems, DateRange, InstanceId, OrganizationId};

use super::ElasticBillingV2;
use crate::credentials::ElasticCredentials;
use crate::endpoint::endpoints;
use crate::request::Request;
use crate::request::options::V2Charts;

impl ElasticBillingV2 {
    /// `GET /billing/organizations/{organization_id}/charts`: usage of the organization's instances.
    pub fn charts(
        &self,
        creds: &ElasticCredentials,
        org: &OrganizationId,
        range: DateRange,
    ) -> Request<'_, ChartItems, V2Charts> {
        self.request(endpoints::V2_CHARTS, creds, org, &["charts"], range)
    }

    /// `GET /billing/organizations/{organization_id}/instances/{instance_id}/charts`.
    pub fn instance_charts(
        &self,
        creds: &ElasticCredentials,
        org: &OrganizationId,
        instance: &InstanceId,
        range: DateRange,
    ) -> Request<'_, ChartItems, V2Charts> {
        self.request(endpoints::V2_INSTANCE_CHARTS, creds, org, &["instances", instance.as_str(), "charts"], range)
    }
}
