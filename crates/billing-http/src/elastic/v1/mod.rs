//! Elastic Cloud billing v1 (`/api/v1/billing/costs/...`): the client and its one resource.

mod costs;

use url::Url;

use crate::base_url::{self, BaseUrlError};
use crate::endpoint::Upstream;
use crate::transport::Transport;

/// A client for Elastic Cloud billing v1. Cheap to clone; shares the transport's pool.
#[derive(Debug, Clone)]
pub struct ElasticBillingV1 {
    transport: Transport,
    base: Url,
}

impl ElasticBillingV1 {
    /// A client for the API at `base_url`, such as `https://api.elastic-cloud.com/api/v1`.
    pub fn new(transport: Transport, base_url: &str) -> Result<Self, BaseUrlError> {
        Ok(ElasticBillingV1 { transport, base: base_url::parse(base_url)? })
    }

    /// A client for the production API.
    pub fn production(transport: Transport) -> Self {
        Self::new(transport, Upstream::ElasticV1.default_base_url())
            .unwrap_or_else(|_| unreachable!("a valid constant"))
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }
}
