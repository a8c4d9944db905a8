//! Running a plan: the upstream answers it needs, fetched in rounds (the organizations' views,
//! then the selected deployments' charts), each distinct call once and every call of a round
//! at once, as the loaders batch them; then the response, written from the answers.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use billing_model::elastic::v1;

use super::write::Writer;
use super::{ConnectionField, DeploymentField, Node, OrgField, Plan, RootField};
use crate::context::RequestState;
use crate::error::Result;
use crate::query::{self, Query, UsagePageQuery, V1Charts, V1DeploymentCharts, V1Deployments, V1Overview, V2Instances};
use crate::schema::usage::{Slice, SliceAnswer, Wanted, load_slices};

/// The answers of one request, by call.
#[derive(Default)]
pub(super) struct Fetched {
    pub(super) overview: Answers<V1Overview>,
    pub(super) deployments: Answers<V1Deployments>,
    pub(super) charts: Answers<V1Charts>,
    pub(super) deployment_charts: Answers<V1DeploymentCharts>,
    pub(super) instances: Answers<V2Instances>,
    pub(super) slices: HashMap<Slice, SliceAnswer>,
    pub(super) totals: Answers<UsagePageQuery>,
}

pub(super) type Answers<Q> = HashMap<Q, Result<Arc<<Q as Query>::Output>>>;

/// Runs `plan` for the request `state`, and answers the response's JSON and whether it has
/// errors.
pub(crate) async fn execute(plan: &Plan, state: &RequestState) -> (Vec<u8>, bool) {
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
    // Round 2: the charts of the deployments selected from round 1's answers, and their
    // organization's v2 instances (one call per organization and range) for line items.
    let mut charts = Answers::<V1DeploymentCharts>::new();
    let mut instances = Answers::<V2Instances>::new();
    for_each_org_field(plan, |org, field| {
        let (range, fields, only) = match field {
            OrgField::Deployments(Ok(range), fields) => (*range, fields, None),
            OrgField::Deployment(Ok(id), Ok(range), fields) => (*range, fields, Some(id.as_str())),
            _ => return,
        };
        let Some(Ok(costs)) = fetched.deployments.get(&V1Deployments { org: org.clone(), range }) else { return };
        for d in selected(costs, only) {
            for node in fields {
                match &node.field {
                    DeploymentField::Charts(Ok(own), bucketing, _) => {
                        let q = V1DeploymentCharts {
                            org: org.clone(),
                            deployment: d.deployment_id.clone(),
                            range: own.unwrap_or(range),
                            bucketing: (*bucketing).into(),
                        };
                        want(&mut charts, q);
                    }
                    DeploymentField::LineItems(_) => want(&mut instances, V2Instances { org: org.clone(), range }),
                    _ => {}
                }
            }
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
    futures::join!(fetch_all(state, &mut charts), fetch_all(state, &mut instances), fetch_all(state, &mut totals));
    fetched.deployment_charts = charts;
    fetched.instances = instances;
    fetched.totals = totals;

    let mut writer = Writer::new(&fetched);
    writer.response(plan);
    writer.finish()
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
fn want<Q: Query>(answers: &mut Answers<Q>, q: Q) {
    answers.entry(q).or_insert_with(|| Err(crate::error::GatewayError::Internal("a planned call was not made")));
}

/// Makes every wanted call at once, through the cache and the request's budget, as a loader's
/// batch does.
async fn fetch_all<Q: Query + Hash>(state: &RequestState, answers: &mut Answers<Q>) {
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
    let results =
        tracing::Instrument::instrument(futures::future::join_all(calls.iter().map(|q| query::fetch(state, q))), span)
            .await;
    for (q, result) in calls.into_iter().zip(results) {
        answers.insert(q, result);
    }
}
