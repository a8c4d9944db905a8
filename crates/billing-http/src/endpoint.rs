//! The upstreams and their endpoints, named by path template so logs, metrics and errors never
//! carry an id or a query string.

use std::fmt;

/// One of the three billing upstreams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Upstream {
    /// Elastic Cloud billing v1, `https://api.elastic-cloud.com/api/v1`.
    ElasticV1,
    /// Elastic Cloud billing v2, `https://billing.elastic-cloud.com/api/v2`.
    ElasticV2,
    /// Talkdesk Billing Insights, `https://api.talkdeskapp.com`.
    Talkdesk,
}

impl Upstream {
    /// All upstreams, in a fixed order.
    pub const ALL: [Upstream; 3] = [Upstream::ElasticV1, Upstream::ElasticV2, Upstream::Talkdesk];

    /// A stable label: `elastic_v1`, `elastic_v2`, `talkdesk`.
    pub fn as_str(self) -> &'static str {
        match self {
            Upstream::ElasticV1 => "elastic_v1",
            Upstream::ElasticV2 => "elastic_v2",
            Upstream::Talkdesk => "talkdesk",
        }
    }

    /// The production base URL.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Upstream::ElasticV1 => "https://api.elastic-cloud.com/api/v1",
            Upstream::ElasticV2 => "https://billing.elastic-cloud.com/api/v2",
            Upstream::Talkdesk => "https://api.talkdeskapp.com",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An endpoint: its upstream, its method, and its path template relative to the upstream's base
/// URL (the token endpoint's is relative to the identity host's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub upstream: Upstream,
    /// `GET`, or `POST` for the OAuth token request.
    pub method: &'static str,
    /// Such as `/billing/costs/{organization_id}/deployments`.
    pub template: &'static str,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.upstream, self.method, self.template)
    }
}

const fn v1(template: &'static str) -> Endpoint {
    Endpoint { upstream: Upstream::ElasticV1, method: "GET", template }
}

const fn v2(template: &'static str) -> Endpoint {
    Endpoint { upstream: Upstream::ElasticV2, method: "GET", template }
}

/// Every endpoint this crate calls.
pub mod endpoints {
    use super::{Endpoint, Upstream, v1, v2};

    pub const V1_OVERVIEW: Endpoint = v1("/billing/costs/{organization_id}");
    pub const V1_CHARTS: Endpoint = v1("/billing/costs/{organization_id}/charts");
    pub const V1_DEPLOYMENTS: Endpoint = v1("/billing/costs/{organization_id}/deployments");
    pub const V1_DEPLOYMENT_CHARTS: Endpoint =
        v1("/billing/costs/{organization_id}/deployments/{deployment_id}/charts");
    pub const V1_DEPLOYMENT_ITEMS: Endpoint = v1("/billing/costs/{organization_id}/deployments/{deployment_id}/items");
    pub const V1_ITEMS: Endpoint = v1("/billing/costs/{organization_id}/items");
    pub const V2_INSTANCES: Endpoint = v2("/billing/organizations/{organization_id}/costs/instances");
    pub const V2_INSTANCE_ITEMS: Endpoint =
        v2("/billing/organizations/{organization_id}/costs/instances/{instance_id}/items");
    pub const V2_ITEMS: Endpoint = v2("/billing/organizations/{organization_id}/costs/items");
    pub const V2_CHARTS: Endpoint = v2("/billing/organizations/{organization_id}/charts");
    pub const V2_INSTANCE_CHARTS: Endpoint =
        v2("/billing/organizations/{organization_id}/instances/{instance_id}/charts");
    pub const TALKDESK_USAGE: Endpoint =
        Endpoint { upstream: Upstream::Talkdesk, method: "GET", template: "/express/usage/month" };
    /// The OAuth token request, on the region's identity host (`{account}.talkdeskid.com`). It
    /// shares Talkdesk's rate and concurrency limits.
    pub const TALKDESK_TOKEN: Endpoint =
        Endpoint { upstream: Upstream::Talkdesk, method: "POST", template: "/oauth/token" };

    /// All of them.
    pub const ALL: [Endpoint; 13] = [
        V1_OVERVIEW,
        V1_CHARTS,
        V1_DEPLOYMENTS,
        V1_DEPLOYMENT_CHARTS,
        V1_DEPLOYMENT_ITEMS,
        V1_ITEMS,
        V2_INSTANCES,
        V2_INSTANCE_ITEMS,
        V2_ITEMS,
        V2_CHARTS,
        V2_INSTANCE_CHARTS,
        TALKDESK_USAGE,
        TALKDESK_TOKEN,
    ];
}
