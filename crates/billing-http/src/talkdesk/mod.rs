//! Talkdesk Billing Insights: the client, its monthly usage resource, the OAuth token source
//! and the regions' hosts.

mod region;
mod token;
mod usage;

use url::Url;

use crate::base_url::{self, BaseUrlError};
use crate::endpoint::Upstream;
use crate::transport::Transport;

pub use region::{TalkdeskRegion, UnknownRegion};
pub use token::{TalkdeskTokenSource, TokenSourceOptions};
pub use usage::UsageRequest;

/// A client for Talkdesk Billing Insights. Cheap to clone; shares the transport's pool.
#[derive(Debug, Clone)]
pub struct TalkdeskBillingInsights {
    transport: Transport,
    base: Url,
}

impl TalkdeskBillingInsights {
    /// A client for the API at `base_url`, such as `https://api.talkdeskapp.com` (or a regional host).
    pub fn new(transport: Transport, base_url: &str) -> Result<Self, BaseUrlError> {
        Ok(TalkdeskBillingInsights { transport, base: base_url::parse(base_url)? })
    }

    /// A client for the production API (US region).
    pub fn production(transport: Transport) -> Self {
        Self::new(transport, Upstream::Talkdesk.default_base_url()).unwrap_or_else(|_| unreachable!("a valid constant"))
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }
}
