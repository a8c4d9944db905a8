//! Upstream queries as values: what a loader batches, what the cache keys, what one call fetches.
//!
//! Each query type is one endpoint; its fields are the call's arguments. `Range::MonthToDate`
//! stands for the upstreams' default range: v1 is sent no range (the upstream applies its own
//! default), v2, which requires one, is sent the request clock's month to date.

use std::fmt::{Debug, Write as _};
use std::future::Future;
use std::hash::Hash;

use billing_http::{Endpoint, endpoints};
use billing_model::elastic::{v1, v2};
use billing_model::talkdesk::{Filter, UsageOrder, UsagePage};
use billing_model::{
    Bucketing, ChartItems, DateRange, DeploymentId, InstanceId, InstanceTypeFilter, OrganizationId, ServerlessGroupBy,
};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use tracing::Instrument;

use crate::cache::{CacheKey, Lookup};
use crate::context::RequestState;
use crate::error::{GraphError, Result};

/// A range argument: explicit, or the upstream's default (month to date).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Range {
    MonthToDate,
    Explicit(DateRange),
}

impl Range {
    /// From optional GraphQL arguments, defaulting a missing bound as the upstreams do; `None`
    /// when neither is given (so a child can inherit its parent's range instead).
    pub(crate) fn from_args(
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Option<Range>> {
        if from.is_none() && to.is_none() {
            return Ok(None);
        }
        Ok(Some(Range::Explicit(DateRange::resolve(from, to, now)?)))
    }

    fn explicit(self) -> Option<DateRange> {
        match self {
            Range::MonthToDate => None,
            Range::Explicit(r) => Some(r),
        }
    }

    pub(crate) fn resolve(self, now: DateTime<Utc>) -> DateRange {
        self.explicit().unwrap_or_else(|| DateRange::month_to_date(now))
    }

    /// Whether the range ended over a day ago: Elastic's recent days still change.
    pub(crate) fn is_closed(self, now: DateTime<Utc>) -> bool {
        self.explicit().is_some_and(|r| r.is_closed(now - TimeDelta::days(1)))
    }

    fn key(self, out: &mut String) {
        match self {
            Range::MonthToDate => out.push_str("mtd"),
            Range::Explicit(r) => {
                let _ = write!(out, "{r}");
            }
        }
    }
}

/// One upstream call, as a value.
pub(crate) trait UpstreamCall: Clone + Eq + Hash + Debug + Send + Sync + 'static {
    type Output: Serialize + serde::de::DeserializeOwned + Send + Sync + 'static;
    const ENDPOINT: Endpoint;

    /// The range the answer covers; `None` for answers not about a range.
    fn range(&self) -> Option<Range>;

    /// Whether the answer concerns only the past, and so may be kept longer.
    fn is_closed(&self, now: DateTime<Utc>) -> bool {
        self.range().is_some_and(|r| r.is_closed(now))
    }

    /// The arguments, as a cache key component.
    fn args(&self) -> String;

    /// The list an answer's size is remembered as, for cost estimates, and the size.
    fn list_size(&self, _output: &Self::Output) -> Option<(&'static str, &OrganizationId, usize)> {
        None
    }

    /// Makes the call.
    fn call(&self, state: &RequestState) -> impl Future<Output = Result<Self::Output>> + Send;
}

/// Fetches a query through the cache, spending the request's budget on a miss only.
///
/// Boxed: a fetch's state is kilobytes (the cache's and the shared store's ways in), and its
/// callers join many at once (a loader's batch, a window of a deployments field), where each
/// slot is as large as the future and stays so once the call is done, holding nothing but its
/// answer.
pub(crate) fn fetch<'a, Q: UpstreamCall>(
    state: &'a RequestState,
    q: &'a Q,
) -> futures::future::BoxFuture<'a, Result<std::sync::Arc<Q::Output>>> {
    Box::pin(fetch_unboxed(state, q))
}

async fn fetch_unboxed<Q: UpstreamCall>(state: &RequestState, q: &Q) -> Result<std::sync::Arc<Q::Output>> {
    let credential = match Q::ENDPOINT.upstream {
        billing_http::Upstream::Talkdesk => state.talkdesk()?.1,
        upstream => state.elastic(upstream)?.1,
    };
    // The month is part of every key: "month to date" names another range each month, and an
    // answer cached on the 31st must not serve the 1st.
    let key = CacheKey { endpoint: Q::ENDPOINT.template, credential, args: crate::cost::cache_args(q, state.now) };
    let closed = q.is_closed(state.now);
    if !closed {
        state.touch_open();
    }
    // Reserved before starting or joining a fetch, so the fetch spends nothing and can never
    // fail for want of this request's budget while another request waits on it.
    let reservation = state.reserve().inspect_err(|_| {
        state.meter.refused();
        metrics::counter!("billing_upstream_budget_refusals_total", "upstream" => Q::ENDPOINT.upstream.as_str())
            .increment(1);
    })?;
    // Its attempts, if any, are its children: a hit has none.
    let span = tracing::debug_span!(
        "upstream_fetch",
        upstream = Q::ENDPOINT.upstream.as_str(),
        endpoint = Q::ENDPOINT.template,
        cache = tracing::field::Empty,
    );
    let (result, lookup) = state
        .services
        .cache
        .get_or_fetch(key, closed, async {
            reservation.use_it();
            state.meter.call(Q::ENDPOINT);
            // The caller's share of the upstream, held for the call and its retries.
            let _slot = state.services.callers.acquire(Q::ENDPOINT.upstream, credential).await;
            // Boxed too, once its turn comes: the call's own state (the HTTP exchange, retries,
            // decoding) is larger still, and a fetch waiting for a slot need not hold it.
            Box::pin(q.call(state)).await.inspect_err(|e| {
                if let GraphError::Upstream(e) = e {
                    // The whole story for operators; clients get the short form without
                    // upstream text. Neither carries a credential or a URL.
                    tracing::warn!(error = %e, "upstream call failed");
                }
            })
        })
        .instrument(span.clone())
        .await;
    if lookup == Lookup::Hit {
        state.meter.hit();
    }
    if let Some((list, org, size)) = result.as_ref().ok().and_then(|output| q.list_size(output)) {
        state.services.sizes.remember(credential, list, org, size);
    }
    span.record(
        "cache",
        match lookup {
            Lookup::Hit => "hit",
            Lookup::SharedHit => "shared",
            Lookup::Miss if state.services.cache.config().enabled => "miss",
            Lookup::Miss => "off",
        },
    );
    result
}

macro_rules! key {
    ($($part:expr),* $(,)?) => {{
        let mut s = String::new();
        $( $part.push_to(&mut s); s.push('|'); )*
        s
    }};
}

trait KeyPart {
    fn push_to(&self, out: &mut String);
}

impl KeyPart for Range {
    fn push_to(&self, out: &mut String) {
        self.key(out);
    }
}

impl KeyPart for OrganizationId {
    fn push_to(&self, out: &mut String) {
        out.push_str(self.as_str());
    }
}

impl KeyPart for DeploymentId {
    fn push_to(&self, out: &mut String) {
        out.push_str(self.as_str());
    }
}

impl KeyPart for InstanceId {
    fn push_to(&self, out: &mut String) {
        out.push_str(self.as_str());
    }
}

impl<T: std::fmt::Display> KeyPart for Option<T> {
    fn push_to(&self, out: &mut String) {
        if let Some(v) = self {
            let _ = write!(out, "{v}");
        }
    }
}

impl KeyPart for Bucketing {
    fn push_to(&self, out: &mut String) {
        out.push_str(self.as_str());
    }
}

impl KeyPart for String {
    fn push_to(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl KeyPart for u32 {
    fn push_to(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl KeyPart for UsageOrder {
    fn push_to(&self, out: &mut String) {
        out.push_str(self.as_str());
    }
}

/// v1 `GET /billing/costs/{organization_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct V1Overview {
    pub(crate) org: OrganizationId,
    pub(crate) range: Range,
}

impl UpstreamCall for V1Overview {
    type Output = v1::CostsOverview;
    const ENDPOINT: Endpoint = endpoints::V1_OVERVIEW;
    fn range(&self) -> Option<Range> {
        Some(self.range)
    }
    fn args(&self) -> String {
        key!(self.org, self.range)
    }
    async fn call(&self, state: &RequestState) -> Result<Self::Output> {
        let (creds, _) = state.elastic(Self::ENDPOINT.upstream)?;
        let req = state.upstreams().elastic_v1.overview(creds, &self.org);
        Ok(req.range_opt(self.range.explicit()).send().await?)
    }
}

/// v1 `GET /billing/costs/{organization_id}/charts`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct V1Charts {
    pub(crate) org: OrganizationId,
    pub(crate) range: Range,
    pub(crate) bucketing: Bucketing,
}

impl UpstreamCall for V1Charts {
    type Output = ChartItems;
    const ENDPOINT: Endpoint = endpoints::V1_CHARTS;
    fn range(&self) -> Option<Range> {
        Some(self.range)
    }
    fn args(&self) -> String {
        key!(self.org, self.range, self.bucketing)
    }
    async fn call(&self, state: &RequestState) -> Result<Self::Output> {
        let (creds, _) = state.elastic(Self::ENDPOINT.upstream)?;
        let req = state.upstreams().elastic_v1.charts(creds, &self.org).bucketing(self.bucketing);
        Ok(req.range_opt(self.range.explicit()).send().await?)
    }
}

/// v1 `GET /billing/costs/{organization_id}/deployments`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct V1Deployments {
    pub(crate) org: OrganizationId,
    pub(crate) range: Range,
}

impl UpstreamCall for V1Deployments {
    type Output = v1::DeploymentsCosts;
    const ENDPOINT: Endpoint = endpoints::V1_DEPLOYMENTS;
    fn range(&self) -> Option<Range> {
        Some(self.range)
    }
    fn args(&self) -> String {
        key!(self.org, self.range)
    }
    fn list_size(&self, output: &Self::Output) -> Option<(&'static str, &OrganizationId, usize)> {
        Some((crate::cost::DEPLOYMENTS, &self.org, output.deployments.len()))
    }
    async fn call(&self, state: &RequestState) -> Result<Self::Output> {
        let (creds, _) = state.elastic(Self::ENDPOINT.upstream)?;
        let req = state.upstreams().elastic_v1.deployments(creds, &self.org);
        Ok(req.range_opt(self.range.explicit()).send().await?)
    }
}

/// v1 `GET /billing/costs/{organization_id}/deployments/{deployment_id}/charts`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct V1DeploymentCharts {
    pub(crate) org: OrganizationId,
    pub(crate) deployment: DeploymentId,
    pub(crate) range: Range,
    pub(crate) bucketing: Bucketing,
}

impl UpstreamCall for V1DeploymentCharts {
    type Output = ChartItems;
    const ENDPOINT: Endpoint = endpoints::V1_DEPLOYMENT_CHARTS;
    fn range(&self) -> Option<Range> {
        Some(self.range)
    }
    fn args(&self) -> String {
        key!(self.org, self.deployment, self.range, self.bucketing)
    }
    async fn call(&self, state: &RequestState) -> Result<Self::Output> {
        let (creds, _) = state.elastic(Self::ENDPOINT.upstream)?;
        let req = state
            .upstreams()
            .elastic_v1
            .deployment_charts(creds, &self.org, &self.deployment)
            .bucketing(self.bucketing);
        Ok(req.range_opt(self.range.explicit()).send().await?)
    }
}

/// v1 `GET /billing/costs/{organization_id}/deployments/{deployment_id}/items`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct V1DeploymentItems {
    pub(crate) org: OrganizationId,
    pub(crate) deployment: DeploymentId,
    pub(crate) range: Range,
}

impl UpstreamCall for V1DeploymentItems {
    type Output = v1::ItemsCosts;
    const ENDPOINT: Endpoint = endpoints::V1_DEPLOYMENT_ITEMS;
    fn range(&self) -> Option<Range> {
        Some(self.range)
    }
    fn args(&self) -> String {
        key!(self.org, self.deployment, self.range)
    }
    async fn call(&self, state: &RequestState) -> Result<Self::Output> {
        let (creds, _) = state.elastic(Self::ENDPOINT.upstream)?;
        let req = state.upstreams().elastic_v1.deployment_items(creds, &self.org, &self.deployment);
        Ok(req.range_opt(self.range.explicit()).send().await?)
    }
}

/// v1 `GET /billing/costs/{organization_id}/items`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct V1Items {
    pub(crate) org: OrganizationId,
    pub(crate) range: Range,
}

impl UpstreamCall for V1Items {
    type Output = v1::ItemsCosts;
    const ENDPOINT: Endpoint = endpoints::V1_ITEMS;
    fn range(&self) -> Option<Range> {
        Some(self.range)
    }
    fn args(&self) -> String {
        key!(self.org, self.range)
    }
    async fn call(&self, state: &RequestState) -> Result<Self::Output> {
        let (creds, _) = state.elastic(Self::ENDPOINT.upstream)?;
        let req = state.upstreams().elastic_v1.items(creds, &self.org);
        Ok(req.range_opt(self.range.explicit()).send().await?)
    }
}

/// v2 `GET /billing/organizations/{organization_id}/costs/instances`, names included.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct V2Instances {
    pub(crate) org: OrganizationId,
    pub(crate) range: Range,
}

/// A `/costs/instances` answer with its instances indexed by id, so each of n deployments finds
/// its line items in O(1) rather than by a scan (n² at 1,000 deployments).
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(crate) struct IndexedInstances {
    pub(crate) costs: v2::InstancesCosts,
    #[serde(skip)]
    by_id: std::collections::HashMap<String, usize>,
}

impl<'de> serde::Deserialize<'de> for IndexedInstances {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        v2::InstancesCosts::deserialize(deserializer).map(IndexedInstances::new)
    }
}

impl IndexedInstances {
    pub(crate) fn new(costs: v2::InstancesCosts) -> Self {
        let by_id = costs.instances().iter().enumerate().map(|(i, inst)| (inst.id.as_str().to_owned(), i)).collect();
        IndexedInstances { costs, by_id }
    }

    /// The instance with this id.
    pub(crate) fn get(&self, id: &str) -> Option<&v2::Instance> {
        self.by_id.get(id).map(|&i| &self.costs.instances()[i])
    }
}

impl UpstreamCall for V2Instances {
    type Output = IndexedInstances;
    const ENDPOINT: Endpoint = endpoints::V2_INSTANCES;
    fn range(&self) -> Option<Range> {
        Some(self.range)
    }
    fn args(&self) -> String {
        key!(self.org, self.range)
    }
    fn list_size(&self, output: &Self::Output) -> Option<(&'static str, &OrganizationId, usize)> {
        Some((crate::cost::INSTANCES, &self.org, output.costs.instances().len()))
    }
    async fn call(&self, state: &RequestState) -> Result<Self::Output> {
        let (creds, _) = state.elastic(Self::ENDPOINT.upstream)?;
        let range = self.range.resolve(state.now);
        let costs = state.upstreams().elastic_v2.instances(creds, &self.org, range).include_names(true).send().await?;
        Ok(IndexedInstances::new(costs))
    }
}

/// v2 `GET /billing/organizations/{organization_id}/costs/instances/{instance_id}/items`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct V2InstanceItems {
    pub(crate) org: OrganizationId,
    pub(crate) instance: InstanceId,
    pub(crate) range: Range,
}

impl UpstreamCall for V2InstanceItems {
    type Output = v2::ItemsCosts;
    const ENDPOINT: Endpoint = endpoints::V2_INSTANCE_ITEMS;
    fn range(&self) -> Option<Range> {
        Some(self.range)
    }
    fn args(&self) -> String {
        key!(self.org, self.instance, self.range)
    }
    async fn call(&self, state: &RequestState) -> Result<Self::Output> {
        let (creds, _) = state.elastic(Self::ENDPOINT.upstream)?;
        let range = self.range.resolve(state.now);
        Ok(state.upstreams().elastic_v2.instance_items(creds, &self.org, &self.instance, range).send().await?)
    }
}

/// v2 `GET /billing/organizations/{organization_id}/costs/items`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct V2Items {
    pub(crate) org: OrganizationId,
    pub(crate) range: Range,
    pub(crate) group_by: Option<ServerlessGroupBy>,
}

impl UpstreamCall for V2Items {
    type Output = v2::ItemsCosts;
    const ENDPOINT: Endpoint = endpoints::V2_ITEMS;
    fn range(&self) -> Option<Range> {
        Some(self.range)
    }
    fn args(&self) -> String {
        key!(self.org, self.range, self.group_by)
    }
    async fn call(&self, state: &RequestState) -> Result<Self::Output> {
        let (creds, _) = state.elastic(Self::ENDPOINT.upstream)?;
        let range = self.range.resolve(state.now);
        let mut req = state.upstreams().elastic_v2.items(creds, &self.org, range);
        if let Some(g) = &self.group_by {
            req = req.serverless_group_by(g.clone());
        }
        Ok(req.send().await?)
    }
}

/// v2 `GET /billing/organizations/{organization_id}/charts`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct V2Charts {
    pub(crate) org: OrganizationId,
    pub(crate) range: Range,
    pub(crate) bucketing: Bucketing,
    pub(crate) instance_type: Option<InstanceTypeFilter>,
}

impl UpstreamCall for V2Charts {
    type Output = ChartItems;
    const ENDPOINT: Endpoint = endpoints::V2_CHARTS;
    fn range(&self) -> Option<Range> {
        Some(self.range)
    }
    fn args(&self) -> String {
        key!(self.org, self.range, self.bucketing, self.instance_type)
    }
    async fn call(&self, state: &RequestState) -> Result<Self::Output> {
        let (creds, _) = state.elastic(Self::ENDPOINT.upstream)?;
        let range = self.range.resolve(state.now);
        let mut req = state.upstreams().elastic_v2.charts(creds, &self.org, range).bucketing(self.bucketing);
        if let Some(t) = &self.instance_type {
            req = req.instance_type(t.clone());
        }
        Ok(req.send().await?)
    }
}

/// v2 `GET /billing/organizations/{organization_id}/instances/{instance_id}/charts`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct V2InstanceCharts {
    pub(crate) org: OrganizationId,
    pub(crate) instance: InstanceId,
    pub(crate) range: Range,
    pub(crate) bucketing: Bucketing,
}

impl UpstreamCall for V2InstanceCharts {
    type Output = ChartItems;
    const ENDPOINT: Endpoint = endpoints::V2_INSTANCE_CHARTS;
    fn range(&self) -> Option<Range> {
        Some(self.range)
    }
    fn args(&self) -> String {
        key!(self.org, self.instance, self.range, self.bucketing)
    }
    async fn call(&self, state: &RequestState) -> Result<Self::Output> {
        let (creds, _) = state.elastic(Self::ENDPOINT.upstream)?;
        let range = self.range.resolve(state.now);
        Ok(state
            .upstreams()
            .elastic_v2
            .instance_charts(creds, &self.org, &self.instance, range)
            .bucketing(self.bucketing)
            .send()
            .await?)
    }
}

/// Talkdesk `GET /express/usage/month`, one page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct UsagePageQuery {
    pub(crate) filter: Option<Filter>,
    pub(crate) order: UsageOrder,
    pub(crate) page: u32,
    pub(crate) per_page: u32,
}

impl UpstreamCall for UsagePageQuery {
    type Output = UsagePage;
    const ENDPOINT: Endpoint = endpoints::TALKDESK_USAGE;
    fn range(&self) -> Option<Range> {
        None
    }
    fn args(&self) -> String {
        key!(self.filter, self.order, self.page, self.per_page)
    }
    async fn call(&self, state: &RequestState) -> Result<Self::Output> {
        let (token, _) = state.talkdesk()?;
        let mut req =
            state.upstreams().talkdesk.usage(token).page(self.page).per_page(self.per_page).order_by(self.order);
        if let Some(f) = &self.filter {
            req = req.filter(f.clone());
        }
        Ok(req.send().await?)
    }
}

/// The usage page a `next` link points to: Talkdesk's contract says to follow the links rather
/// than compute page URLs. The link stays on the upstream's origin (`billing-http` refuses one
/// that leaves it, so the token goes nowhere else).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct UsageLinkQuery {
    pub(crate) href: String,
}

impl UpstreamCall for UsageLinkQuery {
    type Output = UsagePage;
    const ENDPOINT: Endpoint = endpoints::TALKDESK_USAGE;
    fn range(&self) -> Option<Range> {
        None
    }
    fn args(&self) -> String {
        key!(self.href)
    }
    async fn call(&self, state: &RequestState) -> Result<Self::Output> {
        let (token, _) = state.talkdesk()?;
        Ok(state.upstreams().talkdesk.usage_page_at(token, &self.href).await?)
    }
}
