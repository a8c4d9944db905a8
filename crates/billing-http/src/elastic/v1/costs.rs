//! `GET /api/v1/billing/costs/{organization_id}...`: costs overview, charts, deployments and items.

use billing_model::elastic::v1::{CostsOverview, DeploymentsCosts, ItemsCosts};
use billing_model::{ChartItems, DeploymentId, OrganizationId};

use super::ElasticBillingV1;
use crate::credentials::ElasticCredentials;
use crate::endpoint::{Endpoint, endpoints};
use crate::request::Request;
use crate::request::options::{V1, V1Charts};
use crate::transport::{Call, join};

impl ElasticBillingV1 {
    fn request<T: serde::de::DeserializeOwned, O>(
        &self,
        endpoint: Endpoint,
        creds: &ElasticCredentials,
        segments: &[&str],
    ) -> Request<'_, T, O> {
        let auth = creds.header_value();
        match join(&self.base, segments) {
            Ok(url) => Request::new(&self.transport, Call { endpoint, url, auth, form: None }),
            Err(why) => {
                Request::refused(&self.transport, Call { endpoint, url: self.base.clone(), auth, form: None }, why)
            }
        }
    }

    /// `GET /billing/costs/{organization_id}`: total, trials, hourly rate, dimensions, balance.
    ///
    /// ```no_run
    /// # async fn run(v1: billing_http::ElasticBillingV1, creds: billing_http::ElasticCredentials) -> Result<(), billing_http::Error> {
    /// let overview = v1.overview(&creds, &"3166899605".into()).send().await?;
    /// println!("{} ECU", overview.costs.total);
    /// # Ok(()) }
    /// ```
    pub fn overview(&self, creds: &ElasticCredentials, org: &OrganizationId) -> Request<'_, CostsOverview, V1> {
        self.request(endpoints::V1_OVERVIEW, creds, &["billing", "costs", org.as_str()])
    }

    /// `GET /billing/costs/{organization_id}/charts`: the organization's cost per bucket.
    pub fn charts(&self, creds: &ElasticCredentials, org: &OrganizationId) -> Request<'_, ChartItems, V1Charts> {
        self.request(endpoints::V1_CHARTS, creds, &["billing", "costs", org.as_str(), "charts"])
    }

    /// `GET /billing/costs/{organization_id}/deployments`: every deployment's costs over the range.
    ///
    /// ```no_run
    /// # async fn run(v1: billing_http::ElasticBillingV1, creds: billing_http::ElasticCredentials) -> Result<(), billing_http::Error> {
    /// let costs = v1.deployments(&creds, &"3166899605".into()).send().await?;
    /// for d in &costs.deployments {
    ///     println!("{} {}", d.deployment_name, d.costs.total);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn deployments(&self, creds: &ElasticCredentials, org: &OrganizationId) -> Request<'_, DeploymentsCosts, V1> {
        self.request(endpoints::V1_DEPLOYMENTS, creds, &["billing", "costs", org.as_str(), "deployments"])
    }

    /// `GET /billing/costs/{organization_id}/deployments/{deployment_id}/charts`.
    pub fn deployment_charts(
        &self,
        creds: &ElasticCredentials,
        org: &OrganizationId,
        deployment: &DeploymentId,
    ) -> Request<'_, ChartItems, V1Charts> {
        self.request(
            endpoints::V1_DEPLOYMENT_CHARTS,
            creds,
            &["billing", "costs", org.as_str(), "deployments", deployment.as_str(), "charts"],
        )
    }

    /// `GET /billing/costs/{organization_id}/deployments/{deployment_id}/items`. Always asks for JSON.
    pub fn deployment_items(
        &self,
        creds: &ElasticCredentials,
        org: &OrganizationId,
        deployment: &DeploymentId,
    ) -> Request<'_, ItemsCosts, V1> {
        self.request(
            endpoints::V1_DEPLOYMENT_ITEMS,
            creds,
            &["billing", "costs", org.as_str(), "deployments", deployment.as_str(), "items"],
        )
    }

    /// `GET /billing/costs/{organization_id}/items`: the organization's itemized costs.
    pub fn items(&self, creds: &ElasticCredentials, org: &OrganizationId) -> Request<'_, ItemsCosts, V1> {
        self.request(endpoints::V1_ITEMS, creds, &["billing", "costs", org.as_str(), "items"])
    }
}

#[cfg(test)]
mod tests {
    use billing_model::{Bucketing, DateRange};
    use chrono::{TimeZone, Utc};

    use crate::{ElasticBillingV1, ElasticCredentials, Transport, TransportConfig};

    #[test]
    fn requests_pin_their_query_strings() {
        let t = Transport::new(TransportConfig::default()).unwrap();
        let v1 = ElasticBillingV1::new(t, "http://127.0.0.1:1/api/v1").unwrap();
        let creds = ElasticCredentials::api_key("k").unwrap();
        let range = DateRange::new(
            Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2025, 2, 1, 0, 0, 0).unwrap(),
        )
        .unwrap();
        let org = "42".into();
        assert_eq!(v1.overview(&creds, &org).query_string(), "");
        assert_eq!(
            v1.charts(&creds, &org).range(range).bucketing(Bucketing::Monthly).query_string(),
            "from=2025-01-01T00%3A00%3A00Z&to=2025-02-01T00%3A00%3A00Z&bucketing_strategy=monthly"
        );
        assert_eq!(
            v1.deployment_items(&creds, &org, &"../../x?y".into()).call_url_for_test(),
            "http://127.0.0.1:1/api/v1/billing/costs/42/deployments/..%2F..%2Fx%3Fy/items",
            "ids are one percent-encoded path segment each"
        );
    }

    #[tokio::test]
    async fn dot_segments_are_refused_before_sending() {
        // Regression: the url crate drops "." and resolves "..", so `organization(id: "..")`
        // would have called /billing/costs/deployments.
        let t = Transport::new(TransportConfig::default()).unwrap();
        let v1 = ElasticBillingV1::new(t, "http://127.0.0.1:1/api/v1").unwrap();
        let creds = ElasticCredentials::api_key("k").unwrap();
        for id in ["..", ".", ""] {
            let err = v1.deployments(&creds, &id.into()).send().await.unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Build, "{id:?}");
            assert_eq!(err.attempts(), 1);
        }
        let err = v1.deployment_charts(&creds, &"42".into(), &"..".into()).send().await.unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Build);
        assert!(v1.overview(&creds, &"%2E%2E".into()).call_url_for_test().ends_with("/costs/%252E%252E"));
    }
}
