//! Elastic Cloud billing v2 (`/api/v2/billing/organizations/{organization_id}/...`).
//!
//! Unlike v1, every v2 endpoint requires `from` and `to`, so the range is an argument, not an option.

mod charts;
mod costs;

use billing_model::{DateRange, OrganizationId};
use url::Url;

use crate::base_url::{self, BaseUrlError};
use crate::credentials::ElasticCredentials;
use crate::endpoint::{Endpoint, Upstream};
use crate::request::Request;
use crate::transport::{Call, Transport, join};

/// A client for Elastic Cloud billing v2. Cheap to clone; shares the transport's pool.
#[derive(Debug, Clone)]
pub struct ElasticBillingV2 {
    transport: Transport,
    base: Url,
}

impl ElasticBillingV2 {
    /// A client for the API at `base_url`, such as `https://billing.elastic-cloud.com/api/v2`
    /// (`https://cloud.elastic.co/api/v2` serves the same paths).
    pub fn new(transport: Transport, base_url: &str) -> Result<Self, BaseUrlError> {
        Ok(ElasticBillingV2 { transport, base: base_url::parse(base_url)? })
    }

    /// A client for the production API.
    pub fn production(transport: Transport) -> Self {
        Self::new(transport, Upstream::ElasticV2.default_base_url())
            .unwrap_or_else(|_| unreachable!("a valid constant"))
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    fn request<T: serde::de::DeserializeOwned, O>(
        &self,
        endpoint: Endpoint,
        creds: &ElasticCredentials,
        org: &OrganizationId,
        rest: &[&str],
        range: DateRange,
    ) -> Request<'_, T, O> {
        let mut segments = vec!["billing", "organizations", org.as_str()];
        segments.extend_from_slice(rest);
        let auth = creds.header_value();
        let request = match join(&self.base, &segments) {
            Ok(url) => Request::new(&self.transport, Call { endpoint, url, auth, form: None }),
            Err(why) => {
                Request::refused(&self.transport, Call { endpoint, url: self.base.clone(), auth, form: None }, why)
            }
        };
        request.with_range(range)
    }
}
