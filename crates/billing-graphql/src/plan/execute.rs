//! Running a plan: the upstream answers it needs, fetched in rounds (the organizations' views,
//! then the selected deployments' charts), each distinct call once and every call of a round
//! at once, as the loaders batch them; then the response, written from the answers.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use async_graphql::{PathSegment, ServerError};
use billing_model::elastic::v1;
use billing_model::{ChartItems, OrganizationId};
use futures::StreamExt;

use super::sink::Sink;
use super::window::Windowed;
use super::write::{self, Head, Writer};
use super::{ConnectionField, DeploymentField, Node, OrgField, Plan, RootField};
use crate::context::RequestState;
use crate::error::Result;
use crate::schema::usage::{Slice, SliceAnswer, Wanted, load_slices};
use crate::upstream::{
    self, Range, UpstreamCall, UsagePageQuery, V1Charts, V1DeploymentCharts, V1Deployments, V1Overview, V2Instances,
};

/// The answers of one request, by call.
#[derive(Default)]
pub(super) struct Fetched {
    pub(super) overview: Answers<V1Overview>,
    pub(super) deployments: Answers<V1Deployments>,
    pub(super) charts: Answers<V1Charts>,
    /// Each deployment's line items, written once the instances round is over (it runs beside
    /// the first charts).
    pub(super) line_items: tokio::sync::OnceCell<LineItems>,
    pub(super) slices: HashMap<Slice, SliceAnswer>,
    /// Set once the round that fetches them is over (beside the first charts too).
    pub(super) totals: tokio::sync::OnceCell<Answers<UsagePageQuery>>,
}

impl Fetched {
    /// The line items; empty before their round is over (never read then: the writers wait for
    /// it).
    pub(super) fn line_items(&self) -> &LineItems {
        static NONE: std::sync::LazyLock<LineItems> = std::sync::LazyLock::new(LineItems::default);
        self.line_items.get().unwrap_or(&NONE)
    }

    /// The `totalCount` answers; empty before their round is over (never read then).
    pub(super) fn totals(&self) -> &Answers<UsagePageQuery> {
        static NONE: std::sync::LazyLock<Answers<UsagePageQuery>> = std::sync::LazyLock::new(HashMap::new);
        self.totals.get().unwrap_or(&NONE)
    }
}

/// The line items of every deployment the request lists, as JSON: written as soon as the v2
/// instances answers come, which are dropped then rather than held while the charts stream
/// (at 1,000 deployments an instances answer is ~2.9 MiB parsed, the most a request held).
#[derive(Default)]
pub(super) struct LineItems {
    json: Vec<u8>,
    /// Where each `lineItems` field's JSON is, by the field's node and the deployment (both by
    /// address: the plan and the deployments answer outlive this).
    at: HashMap<(usize, usize), std::ops::Range<usize>>,
    /// The instances calls that failed.
    failed: HashMap<V2Instances, crate::error::GraphError>,
}

impl LineItems {
    /// The JSON of the `lineItems` field `node` of deployment `d`, listed under `org` over
    /// `range`, or the error of its instances call.
    pub(super) fn get<F>(
        &self,
        node: &Node<F>,
        d: &v1::DeploymentCosts,
        org: &OrganizationId,
        range: Range,
    ) -> std::result::Result<&[u8], &crate::error::GraphError> {
        if let Some(at) = self.at.get(&(address(node), std::ptr::from_ref(d) as usize)) {
            return Ok(&self.json[at.clone()]);
        }
        Err(self.failed.get(&V2Instances { org: org.clone(), range }).unwrap_or(&write::MISSING))
    }
}

/// Makes the instances calls, writes the line items of `fields`' deployments from their answers,
/// and drops them.
async fn line_items_ready<'f>(
    state: &RequestState,
    fetched: &'f Fetched,
    mut instances: Answers<V2Instances>,
    fields: &[Streamed<'_, 'f>],
) -> &'f LineItems {
    fetched
        .line_items
        .get_or_init(|| async {
            fetch_all(state, &mut instances).await;
            let mut out = LineItems::default();
            let mut writer = Writer::new(fetched);
            for field in fields {
                let q = V2Instances { org: field.scope.org.clone(), range: field.scope.range };
                for node in field.scope.fields {
                    let DeploymentField::LineItems(items) = &node.field else { continue };
                    match instances.get(&q) {
                        Some(Ok(answer)) => {
                            for d in field.deployments() {
                                let start = writer.len();
                                writer.line_items_of(answer, d, items);
                                out.at.insert((address(node), std::ptr::from_ref(d) as usize), start..writer.len());
                            }
                        }
                        Some(Err(e)) => {
                            out.failed.insert(q.clone(), e.clone());
                        }
                        None => {}
                    }
                }
            }
            out.json = writer.into_parts().0;
            out.json.shrink_to_fit();
            out
        })
        .await
}

pub(super) type Answers<Q> = HashMap<Q, Result<Arc<<Q as UpstreamCall>::Output>>>;

/// Runs `plan` for the request `state`, sending the response's JSON to `sink` in order, all but
/// its closing brace (the caller ends it, with the cost report or without); answers whether it
/// has errors.
///
/// The deployments fields are written last, each on its own and streamed, the rest of the
/// response around them: the rest needs only the first rounds' answers, and is written first
/// with a hole for each deployments field; then the holes, in order, each followed by the
/// part after it. Errors go last, in the order of the fields that raised them.
pub(crate) async fn execute(plan: &Plan, state: &RequestState, sink: &mut Sink) -> bool {
    let mut fetched = Fetched::default();
    // Round 1: every organization view the plan selects.
    for_each_org_field(plan, |org, field| match field {
        OrgField::Costs(Ok(range), _) => want(&mut fetched.overview, V1Overview { org: org.clone(), range: *range }),
        OrgField::Deployments(Ok(range), _) | OrgField::Deployment(Ok(_), Ok(range), _) => {
            want(&mut fetched.deployments, V1Deployments { org: org.clone(), range: *range });
        }
        OrgField::Charts(Ok(range), bucketing, _) => {
            want(&mut fetched.charts, V1Charts { org: org.clone(), range: *range, bucketing: (*bucketing).into() })
        }
        _ => {}
    });
    // Every usage connection's slice, loaded together as the slice loader batches them.
    let slices: Vec<Slice> = plan
        .root
        .iter()
        .filter_map(|n| match &n.field {
            RootField::Usage(Ok(Wanted::Slice(slice)), _) => Some(slice.clone()),
            _ => None,
        })
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .collect();
    let (.., slices) = futures::join!(
        fetch_all(state, &mut fetched.overview),
        fetch_all(state, &mut fetched.deployments),
        fetch_all(state, &mut fetched.charts),
        async { if slices.is_empty() { HashMap::new() } else { load_slices(state, &slices).await } },
    );
    fetched.slices = slices;
    // Round 2, for the whole request: the v2 instances of each organization and range whose
    // deployments show line items (one call serves them all), and `totalCount`s.
    let mut instances = Answers::<V2Instances>::new();
    for_each_org_field(plan, |org, field| {
        let Some((range, fields, only)) = deployments_field(field) else { return };
        let Some(Ok(costs)) = fetched.deployments.get(&V1Deployments { org: org.clone(), range }) else { return };
        if selected(costs, only).next().is_some()
            && fields.iter().any(|n| matches!(n.field, DeploymentField::LineItems(_)))
        {
            want(&mut instances, V2Instances { org: org.clone(), range });
        }
    });
    // `totalCount` of a slice served without a total: one row of page 1.
    let mut totals = Answers::<UsagePageQuery>::new();
    for node in &plan.root {
        let RootField::Usage(Ok(wanted), fields) = &node.field else { continue };
        let (slice, total) = match wanted {
            Wanted::Nothing(slice, result) => (slice, Some(result.total())),
            Wanted::Slice(slice) => (slice, fetched.slices.get(slice).and_then(|r| r.as_ref().ok()).map(|r| r.total())),
        };
        if total == Some(None) && fields.iter().any(|f| matches!(f.field, ConnectionField::TotalCount)) {
            want(&mut totals, slice.total_query());
        }
    }
    let fetched = fetched;
    // Round 2, deployment by deployment: every deployments field whose list came back, in
    // order; its deployments' chart calls made a window at a time, so a deployment's answers
    // are dropped once it is written: memory holds a window, not the organization.
    let mut fields = Vec::new();
    for node in &plan.root {
        let RootField::Organization(Ok(org), ofields) = &node.field else { continue };
        for field in ofields {
            let Some((range, dfields, only)) = deployments_field(&field.field) else { continue };
            if let Some(Ok(costs)) = fetched.deployments.get(&V1Deployments { org: org.clone(), range }) {
                let scope = Scope { org, range, only, fields: dfields };
                fields.push(Streamed { address: address(field), root: &node.key, key: &field.key, costs, scope });
            }
        }
    }
    let kept = std::sync::Mutex::new(Kept::new(plan, &fetched));
    // The first field's first window, the instances (written as line items at once) and the
    // totals at once; nothing is written before all three.
    let mut first = fields.first().map(|f| chart_answers(state, &kept, f));
    let (first_window, ..) = futures::join!(
        async {
            match &mut first {
                Some(answers) => answers.next().await,
                None => None,
            }
        },
        line_items_ready(state, &fetched, instances, &fields),
        fetched.totals.get_or_init(|| async move {
            let mut totals = totals;
            fetch_all(state, &mut totals).await;
            totals
        }),
    );
    let mut first = first.map(|answers| (answers, first_window));
    // The rest of the response around the holes, then each hole and what follows it.
    let holes = fields.iter().map(|f| f.address).collect();
    let mut writer = Writer::with_holes(&fetched, holes);
    writer.response(plan);
    let Head { parts, cuts, errors: own } = writer.finish_head();
    let mut parts = parts.into_iter();
    sink.send(parts.next().unwrap_or_default()).await;
    let mut errors = Vec::new();
    let mut own = own.into_iter();
    let mut before = 0;
    for (hole, errors_before) in cuts {
        errors.extend(own.by_ref().take(errors_before - before));
        before = errors_before;
        if let Some(i) = fields.iter().position(|f| f.address == hole) {
            let field = &fields[i];
            let (answers, window) = match first.take() {
                Some(primed) if i == 0 => primed,
                _ => {
                    let mut answers = chart_answers(state, &kept, field);
                    let window = answers.next().await;
                    (answers, window)
                }
            };
            errors.extend(write_deployments(&fetched, &kept, field, answers, window, sink).await);
        }
        sink.send(parts.next().unwrap_or_default()).await;
    }
    errors.extend(own);
    if errors.is_empty() {
        return false;
    }
    sink.send(write::errors(&errors)).await;
    true
}

/// A deployments field written on its own: where it stands in the plan and in the response,
/// the deployments it lists, and what it selects.
struct Streamed<'p, 'f> {
    address: usize,
    root: &'p async_graphql::Name,
    key: &'p async_graphql::Name,
    costs: &'f v1::DeploymentsCosts,
    scope: Scope<'p>,
}

impl Streamed<'_, '_> {
    fn deployments(&self) -> impl Iterator<Item = &v1::DeploymentCosts> {
        selected(self.costs, self.scope.only)
    }
}

/// What a deployments field selects: the organization and range, one id or every deployment,
/// and the deployment's fields.
pub(super) struct Scope<'p> {
    pub(super) org: &'p OrganizationId,
    pub(super) range: Range,
    pub(super) only: Option<&'p str>,
    pub(super) fields: &'p [Node<DeploymentField>],
}

impl Scope<'_> {
    /// The chart calls one deployment of this field needs, each once.
    fn chart_calls(&self, d: &v1::DeploymentCosts) -> Vec<V1DeploymentCharts> {
        let mut calls = Vec::new();
        for node in self.fields {
            if let DeploymentField::Charts(Ok(own), bucketing, _) = &node.field {
                let q = V1DeploymentCharts {
                    org: self.org.clone(),
                    deployment: d.deployment_id.clone(),
                    range: own.unwrap_or(self.range),
                    bucketing: (*bucketing).into(),
                };
                if !calls.contains(&q) {
                    calls.push(q);
                }
            }
        }
        calls
    }
}

/// Chart answers wanted by more than one field of the request, kept until their last use, so
/// a call is made once per request, as the loaders make it.
pub(super) struct Kept {
    remaining: HashMap<V1DeploymentCharts, usize>,
    answers: Answers<V1DeploymentCharts>,
}

impl Kept {
    fn new(plan: &Plan, fetched: &Fetched) -> Self {
        let mut remaining = HashMap::new();
        for_each_org_field(plan, |org, field| {
            let Some((range, fields, only)) = deployments_field(field) else { return };
            let Some(Ok(costs)) = fetched.deployments.get(&V1Deployments { org: org.clone(), range }) else { return };
            let scope = Scope { org, range, only, fields };
            for d in selected(costs, only) {
                for q in scope.chart_calls(d) {
                    *remaining.entry(q).or_insert(0) += 1;
                }
            }
        });
        remaining.retain(|_, n| *n > 1);
        // Held for the whole request: its room for every call counted goes back now (most
        // requests want each call once, and keep nothing).
        remaining.shrink_to_fit();
        Kept { remaining, answers: HashMap::new() }
    }

    /// In a mutex only to be `Send`: one task takes and keeps, never two at once.
    fn lock(kept: &std::sync::Mutex<Kept>) -> std::sync::MutexGuard<'_, Kept> {
        kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An answer kept from an earlier field, used once more.
    fn take(&mut self, q: &V1DeploymentCharts) -> Option<Result<Arc<ChartItems>>> {
        let answer = self.answers.get(q)?.clone();
        self.used(q);
        Some(answer)
    }

    /// Keeps a fresh answer if a later field wants it too.
    fn keep(&mut self, q: &V1DeploymentCharts, answer: &Result<Arc<ChartItems>>) {
        if self.remaining.contains_key(q) {
            self.answers.insert(q.clone(), answer.clone());
            self.used(q);
        }
    }

    fn used(&mut self, q: &V1DeploymentCharts) {
        if let Some(n) = self.remaining.get_mut(q) {
            *n -= 1;
            if *n == 0 {
                self.remaining.remove(q);
                self.answers.remove(q);
            }
        }
    }
}

/// The chart answers of a deployments field, deployment by deployment in order, a window of
/// deployments' calls in flight at once (its share of the fields written now: `window.rs`);
/// answered from what earlier fields kept where they can.
fn chart_answers<'s>(
    state: &'s RequestState,
    kept: &'s std::sync::Mutex<Kept>,
    field: &'s Streamed<'_, '_>,
) -> impl futures::Stream<Item = Answers<V1DeploymentCharts>> + Unpin + 's {
    // Each deployment's calls are worked out as the window reaches it, not the organization's
    // up front: memory holds the window's.
    let answers = field.deployments().map(move |d| {
        let mut known = Answers::new();
        let mut calls = Vec::new();
        for q in field.scope.chart_calls(d) {
            match Kept::lock(kept).take(&q) {
                Some(answer) => {
                    known.insert(q, answer);
                }
                None => calls.push(q),
            }
        }
        async move {
            let results = futures::future::join_all(calls.iter().map(|q| upstream::fetch(state, q))).await;
            known.extend(calls.into_iter().zip(results));
            known
        }
    });
    Windowed::new(answers, &state.services.windows)
}

/// Writes one deployments field (a list, or one deployment or null) from its chart answers,
/// `window` being the first deployment's, sending the bytes on as they reach a chunk; gives
/// the field's errors, in order.
async fn write_deployments(
    fetched: &Fetched,
    kept: &std::sync::Mutex<Kept>,
    field: &Streamed<'_, '_>,
    mut answers: impl futures::Stream<Item = Answers<V1DeploymentCharts>> + Unpin,
    window: Option<Answers<V1DeploymentCharts>>,
    sink: &mut Sink,
) -> Vec<ServerError> {
    let scope = &field.scope;
    let mut writer = Writer::new(fetched);
    writer.set_path(vec![PathSegment::Field(field.root.to_string()), PathSegment::Field(field.key.to_string())]);
    let mut deployments = field.deployments();
    let list = scope.only.is_none();
    if list {
        writer.open_list();
    }
    let mut index = 0;
    let mut next = window;
    while let (Some(charts), Some(d)) = (next, deployments.next()) {
        for (q, answer) in &charts {
            Kept::lock(kept).keep(q, answer);
        }
        if list {
            writer.list_item(index, |w| w.deployment(scope.org, scope.range, d, scope.fields, &charts));
        } else {
            writer.deployment(scope.org, scope.range, d, scope.fields, &charts);
        }
        drop(charts);
        index += 1;
        if index == 1 && !sink.streams() {
            writer.reserve_items(field.deployments().count() - 1);
        }
        if writer.len() >= sink.chunk() {
            sink.send(writer.take()).await;
        }
        next = answers.next().await;
    }
    if list {
        writer.close_list();
    } else if index == 0 {
        writer.null_value();
    }
    let (body, errors) = writer.into_parts();
    sink.send(body).await;
    errors
}

/// A node's address in the plan: how the writer knows a field written on its own.
pub(super) fn address<F>(node: &Node<F>) -> usize {
    std::ptr::from_ref(node) as usize
}

/// The deployments a `deployments` field (every one) or a `deployment(id:)` field (the one with
/// that id, if any) selects.
pub(super) fn selected<'a>(
    costs: &'a v1::DeploymentsCosts,
    only: Option<&'a str>,
) -> impl Iterator<Item = &'a v1::DeploymentCosts> {
    costs.deployments.iter().filter(move |d| only.is_none_or(|id| d.deployment_id.as_str() == id)).take(match only {
        Some(_) => 1,
        None => usize::MAX,
    })
}

/// What [`deployments_field`] finds: range, deployment fields, the one id selected.
type DeploymentsField<'p> = (Range, &'p [Node<DeploymentField>], Option<&'p str>);

/// A `deployments` or `deployment(id:)` field whose arguments are valid: its range, its
/// deployment fields, and the one id it selects (`None`: every deployment).
fn deployments_field(field: &OrgField) -> Option<DeploymentsField<'_>> {
    match field {
        OrgField::Deployments(Ok(range), fields) => Some((*range, fields, None)),
        OrgField::Deployment(Ok(id), Ok(range), fields) => Some((*range, fields, Some(id.as_str()))),
        _ => None,
    }
}

/// Calls `f` with every organization field of the plan whose organization id is valid.
fn for_each_org_field(plan: &Plan, mut f: impl FnMut(&billing_model::OrganizationId, &OrgField)) {
    for node in &plan.root {
        if let RootField::Organization(Ok(org), fields) = &node.field {
            for Node { field, .. } in fields {
                f(org, field);
            }
        }
    }
}

/// Adds a call to make (once, however often it is wanted).
fn want<Q: UpstreamCall>(answers: &mut Answers<Q>, q: Q) {
    answers.entry(q).or_insert_with(|| Err(crate::error::GraphError::Internal("a planned call was not made")));
}

/// Makes every wanted call at once, through the cache and the request's budget, as a loader's
/// batch does.
async fn fetch_all<Q: UpstreamCall + Hash>(state: &RequestState, answers: &mut Answers<Q>) {
    let calls = answers.keys().cloned().collect::<Vec<_>>();
    if calls.is_empty() {
        return;
    }
    // The same span as a loader's batch, so a trace reads alike on either executor.
    let span = tracing::debug_span!(
        "loader_batch",
        upstream = Q::ENDPOINT.upstream.as_str(),
        endpoint = Q::ENDPOINT.template,
        keys = calls.len(),
    );
    let results = tracing::Instrument::instrument(
        futures::future::join_all(calls.iter().map(|q| upstream::fetch(state, q))),
        span,
    )
    .await;
    for (q, result) in calls.into_iter().zip(results) {
        answers.insert(q, result);
    }
}
