//! The endpoint templates the simulator serves: the keys of its stats, request log and fault rules.
//!
//! A template is the HTTP method, a space, and the route with its `{placeholders}`, exactly as the
//! stats and [`crate::Sim::push_faults`] spell it.

/// `GET /api/v1/billing/costs/{organization_id}`: the organization's cost overview.
pub const V1_OVERVIEW: &str = "GET /api/v1/billing/costs/{organization_id}";
/// `GET /api/v1/billing/costs/{organization_id}/charts`.
pub const V1_CHARTS: &str = "GET /api/v1/billing/costs/{organization_id}/charts";
/// `GET /api/v1/billing/costs/{organization_id}/deployments`.
pub const V1_DEPLOYMENTS: &str = "GET /api/v1/billing/costs/{organization_id}/deployments";
/// `GET /api/v1/billing/costs/{organization_id}/deployments/{deployment_id}/charts`.
pub const V1_DEPLOYMENT_CHARTS: &str = "GET /api/v1/billing/costs/{organization_id}/deployments/{deployment_id}/charts";
/// `GET /api/v1/billing/costs/{organization_id}/deployments/{deployment_id}/items`.
pub const V1_DEPLOYMENT_ITEMS: &str = "GET /api/v1/billing/costs/{organization_id}/deployments/{deployment_id}/items";
/// `GET /api/v1/billing/costs/{organization_id}/items`.
pub const V1_ITEMS: &str = "GET /api/v1/billing/costs/{organization_id}/items";

/// `GET /api/v2/billing/organizations/{organization_id}/costs/instances`.
pub const V2_INSTANCES: &str = "GET /api/v2/billing/organizations/{organization_id}/costs/instances";
/// `GET /api/v2/billing/organizations/{organization_id}/costs/instances/{instance_id}/items`.
pub const V2_INSTANCE_ITEMS: &str =
    "GET /api/v2/billing/organizations/{organization_id}/costs/instances/{instance_id}/items";
/// `GET /api/v2/billing/organizations/{organization_id}/costs/items`.
pub const V2_ITEMS: &str = "GET /api/v2/billing/organizations/{organization_id}/costs/items";
/// `GET /api/v2/billing/organizations/{organization_id}/charts` (not under `costs/`).
pub const V2_CHARTS: &str = "GET /api/v2/billing/organizations/{organization_id}/charts";
/// `GET /api/v2/billing/organizations/{organization_id}/instances/{instance_id}/charts` (not under `costs/`).
pub const V2_INSTANCE_CHARTS: &str =
    "GET /api/v2/billing/organizations/{organization_id}/instances/{instance_id}/charts";

/// `GET /express/usage/month`: Talkdesk monthly usage.
pub const TALKDESK_USAGE: &str = "GET /express/usage/month";
/// `POST /oauth/token`: Talkdesk access tokens for OAuth client credentials.
pub const TALKDESK_TOKEN: &str = "POST /oauth/token";

/// Every endpoint template, v1 first, then v2, then Talkdesk (usage, then the token endpoint).
pub const ALL: &[&str] = &[
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

/// The route path of a template: the template without its method.
pub(crate) fn path(template: &'static str) -> &'static str {
    template.split_once(' ').map_or(template, |(_, path)| path)
}

/// The template of a method and matched route, if it is one of [`ALL`].
pub(crate) fn lookup(method: &str, route: &str) -> Option<&'static str> {
    ALL.iter().copied().find(|t| t.split_once(' ').is_some_and(|(m, p)| m == method && p == route))
}
