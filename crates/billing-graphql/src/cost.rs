//! What a request costs in upstream calls: estimated from the document before anything runs,
//! counted while it runs, and reported in `extensions.cost`.
//!
//! The estimate walks the operation's selections (fragments collected as the spec's
//! CollectFields does, `@skip`/`@include` settled with the variables), turns every field that
//! calls an upstream into the query value its resolver would load (`query.rs`), and counts the
//! distinct ones, as the loaders and the planned executor dedupe them. Per-deployment and
//! per-instance calls need the list's ids: from the cached list when the cache holds it, else
//! as many placeholders as the last size seen for that organization and credential, else
//! [`ASSUMED_LIST_SIZE`] (the schema's `@listSize(assumedSize:)`); the report says which.
//!
//! The walk is linear in the document once its fragments are expanded, which `bounds` has
//! limited already; arguments that do not bind make their field fail without a call, so they
//! count nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};

use async_graphql::parser::types::{Directive, ExecutableDocument, Field, OperationType, Selection, SelectionSet};
use async_graphql::{InputType, Name, Positioned, Value, Variables};
use billing_http::{Endpoint, Upstream};
use billing_model::elastic::v1::DeploymentsCosts;
use billing_model::talkdesk::UsagePage;
use billing_model::{DeploymentId, InstanceId, Month, OrganizationId};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cache::{CacheKey, Fingerprint};
use crate::context::{Credential, Credentials, Services};
use crate::schema::insights;
use crate::schema::types::{Bucketing, InstanceTypeFilter, ServerlessGroupBy};
use crate::schema::usage::{Slice, Wanted, estimated_pages, slice_for};
use crate::schema::{UsageFilter, UsageOrderBy};
use crate::upstream::{
    IndexedInstances, Range, UpstreamCall, V1Charts, V1DeploymentCharts, V1DeploymentItems, V1Deployments, V1Items,
    V1Overview, V2Charts, V2InstanceCharts, V2InstanceItems, V2Instances, V2Items,
};

/// The size a list of deployments or instances is assumed to have when nothing is known of it:
/// the `@listSize(assumedSize:)` of `schema.graphql`.
pub const ASSUMED_LIST_SIZE: u32 = 20;

/// Calls, in all and per endpoint (`upstream template`, such as
/// `elastic_v1 /billing/costs/{organization_id}/deployments`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    /// Upstream calls.
    pub calls: u32,
    /// Upstream calls per endpoint.
    pub by_endpoint: BTreeMap<String, u32>,
}

impl Tally {
    fn add(&mut self, endpoint: Endpoint) {
        self.calls = self.calls.saturating_add(1);
        let n = self.by_endpoint.entry(label(endpoint)).or_insert(0);
        *n = n.saturating_add(1);
    }
}

/// An endpoint's name in a report: its upstream and path template.
pub(crate) fn label(endpoint: Endpoint) -> String {
    format!("{} {}", endpoint.upstream, endpoint.template)
}

/// The estimate of a request, made before it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Estimate {
    /// Calls the request would make with the cache as it is now (what the budget is held
    /// against).
    pub calls: u32,
    /// Those calls per endpoint.
    pub by_endpoint: BTreeMap<String, u32>,
    /// Calls it would make with nothing cached.
    pub cold: Tally,
    /// The request's budget of upstream calls.
    pub limit: u32,
    /// The lists whose sizes were not read from the cache, and what the estimate took instead.
    pub assumptions: Vec<ListSize>,
}

/// A list size the estimate could not read from a cached answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListSize {
    /// The field, such as `Organization.deployments`.
    pub field: &'static str,
    /// The organization it lists.
    pub organization: String,
    /// The size used.
    pub size: u32,
    /// Where the size came from.
    pub source: SizeSource,
}

/// Where an estimate's list size came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SizeSource {
    /// The size this organization's list had when last fetched with this credential.
    LastKnown,
    /// Nothing known: `@listSize(assumedSize:)`, or, for `deployment(id:)`, that it exists.
    Assumed,
}

/// What a request made: counted as its fields fetched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Actual {
    /// Upstream calls made.
    pub calls: u32,
    /// Upstream answers served by the cache (or by another request's call in flight).
    pub cache_hits: u32,
    /// Calls made per endpoint.
    pub by_endpoint: BTreeMap<String, u32>,
    /// Calls the request's budget refused while it ran (an estimate that was low); counted in
    /// the metrics, not reported.
    #[serde(skip)]
    pub refused: u32,
}

/// `extensions.cost`: the estimate and what the request made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CostReport {
    /// Made before the request ran.
    pub estimated: Estimate,
    /// Counted while it ran.
    pub actual: Actual,
}

impl CostReport {
    /// The report of a repeat served whole from the answer cache: no call will be made or was
    /// made, and every upstream answer the original used counts as a hit.
    pub(crate) fn served_whole(&self) -> CostReport {
        let mut estimated = self.estimated.clone();
        estimated.calls = 0;
        estimated.by_endpoint.clear();
        let actual = Actual {
            calls: 0,
            cache_hits: self.actual.calls.saturating_add(self.actual.cache_hits),
            by_endpoint: BTreeMap::new(),
            refused: 0,
        };
        CostReport { estimated, actual }
    }

    /// Records the report in the metrics: estimated and actual calls, their difference, and a
    /// miss when the request made more calls than estimated.
    pub(crate) fn record(&self) {
        let (estimated, actual) = (self.estimated.calls, self.actual.calls);
        metrics::histogram!("billing_cost_estimated_calls").record(f64::from(estimated));
        metrics::histogram!("billing_cost_actual_calls").record(f64::from(actual));
        metrics::histogram!("billing_cost_estimate_error_calls").record(f64::from(actual) - f64::from(estimated));
        // A miss: the request wanted more calls than estimated (made or refused by the budget).
        if actual.saturating_add(self.actual.refused) > estimated {
            metrics::counter!("billing_cost_estimate_misses_total").increment(1);
        }
    }

    /// The report as a JSON member value.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        // Serializing plain maps and numbers into a `Vec` cannot fail.
        serde_json::to_vec(self).unwrap_or_else(|_| b"null".to_vec())
    }
}

/// The calls one request makes, counted as they are made.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    calls: Mutex<Tally>,
    hits: AtomicU32,
    refused: AtomicU32,
}

impl Meter {
    /// An upstream call made.
    pub(crate) fn call(&self, endpoint: Endpoint) {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner).add(endpoint);
    }

    /// An upstream answer that came from the cache.
    pub(crate) fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    /// A call the budget refused.
    pub(crate) fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn actual(&self) -> Actual {
        let calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner).clone();
        Actual {
            calls: calls.calls,
            cache_hits: self.hits.load(Ordering::Relaxed),
            by_endpoint: calls.by_endpoint,
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
}

/// Which list a remembered size is of.
pub(crate) type SizeKey = (Fingerprint, &'static str, OrganizationId);

/// The last size of each organization's lists, per credential: what an estimate uses for a
/// list it has not got. Bounded, and forgets organizations not asked about for a day.
pub(crate) struct Sizes(moka::sync::Cache<SizeKey, u32>);

impl std::fmt::Debug for Sizes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sizes").field("entries", &self.0.entry_count()).finish()
    }
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes(
            moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(std::time::Duration::from_secs(24 * 3600))
                .build(),
        )
    }
}

impl Sizes {
    pub(crate) fn remember(&self, credential: Fingerprint, list: &'static str, org: &OrganizationId, size: usize) {
        self.0.insert((credential, list, org.clone()), u32::try_from(size).unwrap_or(u32::MAX));
    }

    fn get(&self, credential: Fingerprint, list: &'static str, org: &OrganizationId) -> Option<u32> {
        self.0.get(&(credential, list, org.clone()))
    }
}

/// The most distinct calls an estimate enumerates: aliased lists of a large organization could
/// otherwise ask it to list millions of per-member calls. Past it the estimate stops counting,
/// far over any budget, so the work stays bounded whatever the document.
const MAX_COUNTED: usize = 100_000;

/// The names of the remembered lists.
pub(crate) const DEPLOYMENTS: &str = "Organization.deployments";
pub(crate) const INSTANCES: &str = "Organization.instances";
const DEPLOYMENT: &str = "Organization.deployment";

/// One upstream call, as the cache keys it (the month appended, as `upstream::fetch` does).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Call {
    endpoint: Endpoint,
    args: String,
}

impl Call {
    fn of<Q: UpstreamCall>(q: &Q, now: DateTime<Utc>) -> Call {
        Call { endpoint: Q::ENDPOINT, args: cache_args(q, now) }
    }
}

/// A query's arguments as its cache key holds them: the month is part of every key, since
/// "month to date" names another range each month.
pub(crate) fn cache_args<Q: UpstreamCall>(q: &Q, now: DateTime<Utc>) -> String {
    let mut args = q.args();
    let _ = write!(args, "|{}", Month::of(now));
    args
}

/// Estimates the upstream calls of the operation `operation_name` of a parsed document, with
/// `variables` (defaults filled), for a caller with `credentials`, against the cache as it is.
pub(crate) async fn estimate(
    services: &Services,
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    credentials: &Credentials,
    now: DateTime<Utc>,
) -> Estimate {
    let limit = services.config.limits.upstream_calls;
    let elastic = match &credentials.elastic {
        Credential::Present(c) => Some(services.fingerprinter.elastic(c)),
        _ => None,
    };
    let talkdesk = match &credentials.talkdesk {
        Credential::Present(t) => Some(services.fingerprinter.talkdesk(t)),
        _ => None,
    };
    let Some(op) = crate::response_shape::operation(doc, operation_name) else {
        return Estimate { limit, ..Estimate::default() };
    };
    if op.node.ty != OperationType::Query {
        return Estimate { limit, ..Estimate::default() };
    }
    let mut walk = Walk {
        doc: Some(doc),
        variables: Some(variables),
        now,
        anomaly_window: services.config.insights.anomaly_window,
        tolerance: services.config.insights.tolerance,
        elastic: elastic.is_some(),
        talkdesk: talkdesk.is_some(),
        ..Walk::default()
    };
    walk.root(&[&op.node.selection_set.node]);
    let Walk { mut calls, deployments, instances, slices, totals, .. } = walk;
    let mut assumptions = Vec::new();
    let fp = |upstream: Upstream| if upstream == Upstream::Talkdesk { talkdesk } else { elastic };

    if let Some(credential) = elastic {
        for want in &deployments {
            let list = V1Deployments { org: want.org.clone(), range: want.range };
            let key = CacheKey { endpoint: V1Deployments::ENDPOINT.template, credential, args: cache_args(&list, now) };
            let ids: Vec<String> = match services.cache.peek::<DeploymentsCosts>(&key).await {
                Some(costs) => costs
                    .deployments
                    .iter()
                    .map(|d| d.deployment_id.as_str())
                    .filter(|id| want.only.as_deref().is_none_or(|only| only == *id))
                    .take(if want.only.is_some() { 1 } else { usize::MAX })
                    .map(str::to_owned)
                    .collect(),
                None if want.has_calls() => match &want.only {
                    Some(id) => {
                        assumptions.push(ListSize {
                            field: DEPLOYMENT,
                            organization: want.org.to_string(),
                            size: 1,
                            source: SizeSource::Assumed,
                        });
                        vec![id.clone()]
                    }
                    None => {
                        let size = list_size(services, credential, DEPLOYMENTS, &want.org, &mut assumptions);
                        placeholders(want.range, size)
                    }
                },
                None => Vec::new(),
            };
            want.calls(&ids, now, &mut calls);
        }
        for want in &instances {
            let list = V2Instances { org: want.org.clone(), range: want.range };
            let key = CacheKey { endpoint: V2Instances::ENDPOINT.template, credential, args: cache_args(&list, now) };
            let ids: Vec<String> = match services.cache.peek::<IndexedInstances>(&key).await {
                Some(costs) => costs.costs.instances().iter().map(|i| i.id.as_str().to_owned()).collect(),
                None if want.products || !want.charts.is_empty() => {
                    let size = list_size(services, credential, INSTANCES, &want.org, &mut assumptions);
                    placeholders(want.range, size)
                }
                None => Vec::new(),
            };
            want.calls(&ids, now, &mut calls);
        }
    }

    if let Some(credential) = talkdesk {
        let mut known = HashMap::new();
        for slice in &slices {
            let head = slice.head_query();
            let key = CacheKey {
                endpoint: crate::upstream::UsagePageQuery::ENDPOINT.template,
                credential,
                args: cache_args(&head, now),
            };
            if let Some(page) = services.cache.peek::<UsagePage>(&key).await {
                known.insert(slice.clone(), page.total);
            }
        }
        let unique: Vec<Slice> = slices.iter().cloned().collect::<HashSet<_>>().into_iter().collect();
        let (pages, total_known) = estimated_pages(&unique, |s| known.get(s).copied().flatten());
        calls.extend(pages.iter().map(|p| Call::of(p, now)));
        for slice in &totals {
            if !total_known.get(slice).copied().unwrap_or(false) {
                calls.insert(Call::of(&slice.total_query(), now));
            }
        }
    }

    let mut cold = Tally::default();
    let mut warm = Tally::default();
    let mut ordered: Vec<&Call> = calls.iter().collect();
    ordered.sort_by(|a, b| (a.endpoint.template, &a.args).cmp(&(b.endpoint.template, &b.args)));
    for call in ordered {
        cold.add(call.endpoint);
        let cached = match fp(call.endpoint.upstream) {
            Some(credential) => {
                let key = CacheKey { endpoint: call.endpoint.template, credential, args: call.args.clone() };
                services.cache.contains(&key)
            }
            None => false,
        };
        if !cached {
            warm.add(call.endpoint);
        }
    }
    Estimate { calls: warm.calls, by_endpoint: warm.by_endpoint, cold, limit, assumptions }
}

/// The size a list is taken to have: the last seen, else the assumed one; noted either way.
fn list_size(
    services: &Services,
    credential: Fingerprint,
    list: &'static str,
    org: &OrganizationId,
    assumptions: &mut Vec<ListSize>,
) -> u32 {
    let (size, source) = match services.sizes.get(credential, list, org) {
        Some(n) => (n, SizeSource::LastKnown),
        None => (ASSUMED_LIST_SIZE, SizeSource::Assumed),
    };
    assumptions.push(ListSize { field: list, organization: org.to_string(), size, source });
    size
}

/// Ids standing for `size` unknown members of a list over `range`: never a real id (they hold
/// a `?`), so never cached, and shared by every field that lists the same organization and
/// range, as the real calls would be.
fn placeholders(range: Range, size: u32) -> Vec<String> {
    let size = usize::try_from(size).unwrap_or(usize::MAX).min(MAX_COUNTED);
    (0..size).map(|i| format!("?{range:?}#{i}")).collect()
}

/// A `deployments` or `deployment(id:)` field and the per-deployment calls it selects.
#[derive(Debug)]
struct DeploymentsWant {
    org: OrganizationId,
    range: Range,
    only: Option<String>,
    charts: Vec<(Option<Range>, billing_model::Bucketing)>,
    items: bool,
    /// `lineItems` or `reconciliation`: the organization's v2 instances over the range.
    line_items: bool,
    products: bool,
    /// `forecast`: the organization's daily chart of `insights::forecast_chart`.
    forecast: bool,
    /// `costChange` with a figure of the previous range: the deployments over that range.
    previous: bool,
    /// The ranges each `anomalies` field fetches a daily chart of, per deployment.
    anomalies: Vec<billing_model::DateRange>,
}

impl DeploymentsWant {
    fn has_calls(&self) -> bool {
        self.items
            || self.line_items
            || self.products
            || self.forecast
            || self.previous
            || !self.charts.is_empty()
            || !self.anomalies.is_empty()
    }

    fn calls(&self, ids: &[String], now: DateTime<Utc>, out: &mut HashSet<Call>) {
        let org = &self.org;
        // The calls made once for every deployment of the list, when it has any.
        if !ids.is_empty() {
            if self.line_items {
                out.insert(Call::of(&V2Instances { org: org.clone(), range: self.range }, now));
            }
            if self.forecast
                && let Ok(chart) = insights::forecast_chart(org, now)
            {
                out.insert(Call::of(&chart, now));
            }
            if self.previous {
                let range = insights::previous_range(self.range, now);
                out.insert(Call::of(&V1Deployments { org: org.clone(), range }, now));
            }
        }
        for id in ids {
            if out.len() >= MAX_COUNTED {
                return;
            }
            let deployment = DeploymentId::from(id.as_str());
            for (own, bucketing) in &self.charts {
                let range = own.unwrap_or(self.range);
                let q = V1DeploymentCharts {
                    org: org.clone(),
                    deployment: deployment.clone(),
                    range,
                    bucketing: *bucketing,
                };
                out.insert(Call::of(&q, now));
            }
            if self.items {
                let q = V1DeploymentItems { org: org.clone(), deployment: deployment.clone(), range: self.range };
                out.insert(Call::of(&q, now));
            }
            if self.products {
                let q =
                    V2InstanceItems { org: org.clone(), instance: InstanceId::from(id.as_str()), range: self.range };
                out.insert(Call::of(&q, now));
            }
            for fetched in &self.anomalies {
                let q = V1DeploymentCharts {
                    org: org.clone(),
                    deployment: deployment.clone(),
                    range: Range::Explicit(*fetched),
                    bucketing: billing_model::Bucketing::Daily,
                };
                out.insert(Call::of(&q, now));
            }
        }
    }
}

/// An `instances` field and the per-instance calls it selects.
#[derive(Debug)]
struct InstancesWant {
    org: OrganizationId,
    range: Range,
    products: bool,
    charts: Vec<billing_model::Bucketing>,
}

impl InstancesWant {
    fn calls(&self, ids: &[String], now: DateTime<Utc>, out: &mut HashSet<Call>) {
        for id in ids {
            if out.len() >= MAX_COUNTED {
                return;
            }
            let instance = InstanceId::from(id.as_str());
            if self.products {
                let q = V2InstanceItems { org: self.org.clone(), instance: instance.clone(), range: self.range };
                out.insert(Call::of(&q, now));
            }
            for bucketing in &self.charts {
                let q = V2InstanceCharts {
                    org: self.org.clone(),
                    instance: instance.clone(),
                    range: self.range,
                    bucketing: *bucketing,
                };
                out.insert(Call::of(&q, now));
            }
        }
    }
}

/// The walk over a document: the calls known by their keys, and the lists whose members'
/// calls wait on the lists' sizes.
#[derive(Default)]
struct Walk<'d> {
    doc: Option<&'d ExecutableDocument>,
    variables: Option<&'d Variables>,
    now: DateTime<Utc>,
    /// The server's default anomaly window and reconciliation tolerance.
    anomaly_window: usize,
    tolerance: billing_insights::reconcile::Tolerance,
    elastic: bool,
    talkdesk: bool,
    calls: HashSet<Call>,
    deployments: Vec<DeploymentsWant>,
    instances: Vec<InstancesWant>,
    slices: Vec<Slice>,
    /// Slices whose `totalCount` is selected.
    totals: Vec<Slice>,
}

/// One response key of merged selection sets, with one field name and arguments: its first field
/// and every set merged under it.
struct Collected<'d> {
    field: &'d Field,
    sets: Vec<&'d SelectionSet>,
}

impl<'d> Walk<'d> {
    /// The fields of merged selection sets on `type_name`, as CollectFields gathers them, one
    /// entry per response key, field name and arguments: validation compares the arguments of
    /// one response key only within a selection set, so a fragment or a merged parent can give
    /// the same key other arguments, and async-graphql resolves each with its own (each is
    /// priced). A condition that does not bind counts as included: the estimate leans high.
    fn collect(&self, sets: &[&'d SelectionSet], type_name: &str) -> Vec<Collected<'d>> {
        // Linear in the selections: entries and visited fragments are looked up by hash.
        let mut out: Vec<Collected<'d>> = Vec::new();
        let mut at: HashMap<(&'d Name, &'d Name, String), usize> = HashMap::new();
        let mut visited: std::collections::HashSet<&'d Name> = std::collections::HashSet::new();
        let mut stack: Vec<&'d Positioned<Selection>> = Vec::new();
        for set in sets.iter().rev() {
            stack.extend(set.items.iter().rev());
        }
        while let Some(item) = stack.pop() {
            if self.skipped(item.node.directives()) {
                continue;
            }
            match &item.node {
                Selection::Field(f) => {
                    let key = (&f.node.response_key().node, &f.node.name.node, arguments_text(&f.node));
                    match at.get(&key) {
                        Some(&i) => out[i].sets.push(&f.node.selection_set.node),
                        None => {
                            at.insert(key, out.len());
                            out.push(Collected { field: &f.node, sets: vec![&f.node.selection_set.node] });
                        }
                    }
                }
                Selection::InlineFragment(i) => {
                    if i.node.type_condition.as_ref().is_none_or(|t| t.node.on.node == type_name) {
                        stack.extend(i.node.selection_set.node.items.iter().rev());
                    }
                }
                Selection::FragmentSpread(s) => {
                    let name = &s.node.fragment_name.node;
                    let Some(fragment) = self.doc.and_then(|d| d.fragments.get(name)) else { continue };
                    if fragment.node.type_condition.node.on.node == type_name && visited.insert(name) {
                        stack.extend(fragment.node.selection_set.node.items.iter().rev());
                    }
                }
            }
        }
        out
    }

    fn skipped(&self, directives: &[Positioned<Directive>]) -> bool {
        directives.iter().any(|d| {
            let include = match d.node.name.node.as_str() {
                "skip" => false,
                "include" => true,
                _ => return false,
            };
            let value = d.node.get_argument("if").and_then(|v| v.node.clone().into_const_with(self.bind()).ok());
            bool::parse(value).is_ok_and(|condition| condition != include)
        })
    }

    fn bind(&self) -> impl Fn(Name) -> Result<Value, std::convert::Infallible> + '_ {
        |var| Ok(self.variables.and_then(|v| v.get(&var).cloned()).unwrap_or(Value::Null))
    }

    /// An argument bound with the variables, or `None` when it does not parse (the field then
    /// fails without a call).
    fn arg<T: InputType>(&self, field: &Field, name: &str) -> Option<T> {
        let value = field.get_argument(name).and_then(|v| v.node.clone().into_const_with(self.bind()).ok());
        T::parse(value).ok()
    }

    /// A field's own range: `Some(None)` when it gives none; `None` when it is not valid.
    fn own_range(&self, field: &Field) -> Option<Option<Range>> {
        let from: Option<DateTime<Utc>> = self.arg(field, "from")?;
        let to: Option<DateTime<Utc>> = self.arg(field, "to")?;
        Range::from_args(from, to, self.now).ok()
    }

    fn range(&self, field: &Field) -> Option<Range> {
        self.own_range(field).map(|r| r.unwrap_or(Range::MonthToDate))
    }

    fn bucketing(&self, field: &Field) -> Option<billing_model::Bucketing> {
        let b: Option<Bucketing> = self.arg(field, "bucketing")?;
        Some(b.unwrap_or_default().into())
    }

    /// The range whose daily chart an `anomalies` field fetches, or `None` when its arguments
    /// fail (the field then calls nothing).
    fn anomaly_range(&self, field: &Field) -> Option<billing_model::DateRange> {
        let window: Option<i32> = self.arg(field, "window")?;
        let threshold = self.arg::<Option<f64>>(field, "threshold")?.unwrap_or(insights::DEFAULT_THRESHOLD);
        let config = insights::anomaly_config(self.anomaly_window, window, threshold).ok()?;
        let (from, to) = (self.arg(field, "from")?, self.arg(field, "to")?);
        insights::anomaly_ranges(self.now, from, to, config).ok().map(|(_, fetched)| fetched)
    }

    /// Which figures of a `CostChange` selection are read: `(current, previous)`.
    fn change_figures(&self, sets: &[&'d SelectionSet]) -> (bool, bool) {
        let (mut current, mut previous) = (false, false);
        for c in self.collect(sets, "CostChange") {
            match c.field.name.node.as_str() {
                "current" => current = true,
                "previous" => previous = true,
                "absolute" | "percent" => (current, previous) = (true, true),
                _ => {}
            }
        }
        (current, previous)
    }

    fn call<Q: UpstreamCall>(&mut self, q: &Q) {
        let call = Call::of(q, self.now);
        self.calls.insert(call);
    }

    fn root(&mut self, sets: &[&'d SelectionSet]) {
        for c in self.collect(sets, "Query") {
            match c.field.name.node.as_str() {
                "organization" if self.elastic => {
                    let Some(id) = self.arg::<async_graphql::ID>(c.field, "id") else { continue };
                    let Ok(org) = OrganizationId::parse(&id) else { continue };
                    self.organization(&org, &c.sets);
                }
                "usageAggregates" if self.talkdesk => self.usage(c.field, &c.sets),
                "focusUsage" if self.talkdesk => self.focus_usage(c.field),
                _ => {}
            }
        }
    }

    fn usage(&mut self, field: &'d Field, sets: &[&'d SelectionSet]) {
        let (Some(filter), Some(first), Some(after), Some(order)) = (
            self.arg::<Option<UsageFilter>>(field, "filter"),
            self.arg::<Option<i32>>(field, "first"),
            self.arg::<Option<String>>(field, "after"),
            self.arg::<Option<UsageOrderBy>>(field, "orderBy"),
        ) else {
            return;
        };
        let total = self.collect(sets, "UsageAggregateConnection").iter().any(|c| c.field.name.node == "totalCount");
        match slice_for(filter, first.unwrap_or(50), after, order.unwrap_or_default()) {
            Ok(Wanted::Slice(slice)) => {
                if total {
                    self.totals.push(slice.clone());
                }
                self.slices.push(slice);
            }
            Ok(Wanted::Nothing(slice, result)) if total && result.total().is_none() => {
                self.call(&slice.total_query());
            }
            Ok(Wanted::Nothing(..)) | Err(_) => {}
        }
    }

    /// `focusUsage` reads the slice `usageAggregates` would with the same arguments and its
    /// default order, through the same loader; it has no `totalCount`.
    fn focus_usage(&mut self, field: &'d Field) {
        let (Some(filter), Some(first), Some(after)) = (
            self.arg::<Option<UsageFilter>>(field, "filter"),
            self.arg::<Option<i32>>(field, "first"),
            self.arg::<Option<String>>(field, "after"),
        ) else {
            return;
        };
        if let Ok(Wanted::Slice(slice)) = slice_for(filter, first.unwrap_or(50), after, UsageOrderBy::default()) {
            self.slices.push(slice);
        }
    }

    fn organization(&mut self, org: &OrganizationId, sets: &[&'d SelectionSet]) {
        for c in self.collect(sets, "Organization") {
            let field = c.field;
            match field.name.node.as_str() {
                "costs" => {
                    if let Some(range) = self.range(field) {
                        self.call(&V1Overview { org: org.clone(), range });
                    }
                }
                "charts" => {
                    if let (Some(range), Some(bucketing)) = (self.range(field), self.bucketing(field)) {
                        self.call(&V1Charts { org: org.clone(), range, bucketing });
                    }
                }
                "items" => {
                    if let Some(range) = self.range(field) {
                        self.call(&V1Items { org: org.clone(), range });
                    }
                }
                "productCosts" => {
                    let group_by = self.arg::<Option<ServerlessGroupBy>>(field, "serverlessGroupBy");
                    if let (Some(range), Some(group_by)) = (self.range(field), group_by) {
                        self.call(&V2Items { org: org.clone(), range, group_by: group_by.map(Into::into) });
                    }
                }
                "instanceCharts" => {
                    let instance_type = self.arg::<Option<InstanceTypeFilter>>(field, "instanceType");
                    if let (Some(range), Some(bucketing), Some(instance_type)) =
                        (self.range(field), self.bucketing(field), instance_type)
                    {
                        let instance_type = instance_type.map(Into::into);
                        self.call(&V2Charts { org: org.clone(), range, bucketing, instance_type });
                    }
                }
                "forecast" | "deploymentForecasts" => {
                    if let Ok(chart) = insights::forecast_chart(org, self.now) {
                        self.call(&chart);
                    }
                }
                "credits" => {
                    self.call(&V1Overview { org: org.clone(), range: Range::MonthToDate });
                    if let Ok(chart) = insights::forecast_chart(org, self.now) {
                        self.call(&chart);
                    }
                }
                "anomalies" => {
                    if let Some(fetched) = self.anomaly_range(field) {
                        let bucketing = billing_model::Bucketing::Daily;
                        self.call(&V1Charts { org: org.clone(), range: Range::Explicit(fetched), bucketing });
                    }
                }
                "costChange" => {
                    let Some(range) = self.range(field) else { continue };
                    let (current, previous) = self.change_figures(&c.sets);
                    if current {
                        self.call(&V1Overview { org: org.clone(), range });
                    }
                    if previous {
                        self.call(&V1Overview { org: org.clone(), range: insights::previous_range(range, self.now) });
                    }
                }
                "focus" => {
                    // One v2 `/costs/instances` call per calendar month, as `schema::focus` reads them.
                    let Some(range) = self.range(field) else { continue };
                    let Ok(periods) = crate::schema::focus::periods(&range.resolve(self.now)) else { continue };
                    for period in periods {
                        self.call(&V2Instances { org: org.clone(), range: Range::Explicit(period) });
                    }
                }
                "instances" => {
                    let Some(range) = self.range(field) else { continue };
                    self.call(&V2Instances { org: org.clone(), range });
                    let mut want = InstancesWant { org: org.clone(), range, products: false, charts: Vec::new() };
                    for c in self.collect(&c.sets, "Instance") {
                        match c.field.name.node.as_str() {
                            "products" => want.products = true,
                            "charts" => want.charts.extend(self.bucketing(c.field)),
                            _ => {}
                        }
                    }
                    self.instances.push(want);
                }
                "deployments" | "deployment" => {
                    let only = if field.name.node == "deployment" {
                        let Some(id) = self.arg::<async_graphql::ID>(field, "id") else { continue };
                        if billing_model::ids::check(&id).is_err() {
                            continue;
                        }
                        Some(id.0)
                    } else {
                        None
                    };
                    let Some(range) = self.range(field) else { continue };
                    self.call(&V1Deployments { org: org.clone(), range });
                    let mut want = DeploymentsWant {
                        org: org.clone(),
                        range,
                        only,
                        charts: Vec::new(),
                        items: false,
                        line_items: false,
                        products: false,
                        forecast: false,
                        previous: false,
                        anomalies: Vec::new(),
                    };
                    for c in self.collect(&c.sets, "Deployment") {
                        match c.field.name.node.as_str() {
                            "charts" => {
                                if let (Some(own), Some(bucketing)) = (self.own_range(c.field), self.bucketing(c.field))
                                {
                                    want.charts.push((own, bucketing));
                                }
                            }
                            "items" => want.items = true,
                            "lineItems" => want.line_items = true,
                            "products" => want.products = true,
                            "forecast" => want.forecast = true,
                            "anomalies" => want.anomalies.extend(self.anomaly_range(c.field)),
                            "costChange" => want.previous |= self.change_figures(&c.sets).1,
                            "reconciliation" => {
                                let absolute = self.arg(c.field, "absoluteTolerance");
                                let relative = self.arg(c.field, "relativeTolerance");
                                if let (Some(absolute), Some(relative)) = (absolute, relative) {
                                    let tolerance = insights::tolerance(self.tolerance, absolute, relative);
                                    want.line_items |= tolerance.is_ok();
                                }
                            }
                            _ => {}
                        }
                    }
                    self.deployments.push(want);
                }
                _ => {}
            }
        }
    }
}

/// A field's arguments as text (GraphQL syntax, variables unbound), the same for the same
/// arguments in the same order: what tells merged fields of one response key apart.
fn arguments_text(field: &Field) -> String {
    let mut text = String::new();
    for (name, value) in &field.arguments {
        let _ = write!(text, "{}:{},", name.node, value.node);
    }
    text
}

/// The refusal of a request whose estimate is over its budget.
pub(crate) fn too_expensive(estimate: &Estimate) -> async_graphql::ServerError {
    let mut error = crate::bounds::error(
        crate::codes::COST_ESTIMATED_TOO_EXPENSIVE,
        format!(
            "the query would make an estimated {} upstream calls, over this server's limit of {} per request",
            estimate.calls, estimate.limit
        ),
    );
    if let Some(ext) = error.extensions.as_mut() {
        ext.set("estimatedCalls", estimate.calls);
        ext.set("limit", estimate.limit);
    }
    error
}
