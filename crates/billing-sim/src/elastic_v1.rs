//! Elastic Cloud billing v1 handlers: `/api/v1/billing/costs/{organization_id}...`.
//!
//! Errors are `BasicFailedReply` with `x-cloud-error-codes`. A missing `from`/`to` defaults to the
//! start of the current month / now, per the simulator's clock.

// Handlers bail out with a ready `Response`; boxing it would only add noise to every `?`.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};

use billing_model::elastic::v1::{
    Balance, ChartItem, ChartItemValue, ChartItems, Costs, CostsOverview, DeploymentCosts, DeploymentsCosts, Dimension,
    DtsDimensionCosts, DtsQuantity, DtsRate, ItemCosts, ItemsCosts, Period, SimplifiedLineItem,
};
use billing_model::{Bucketing, DateRange, DimensionType};

use crate::auth::{self, Access};
use crate::catalog::{DTS_DIMS, provider_display};
use crate::dataset::{Deployment, OrgRole, Organization, hash};
use crate::errors::{v1, v1_field};
use crate::params::{Query, instant};
use crate::server::Sim;
use crate::usage::{self, CAPACITY, DAY, Days, DimCosts, buckets, day_costs, deployment_usage};

/// The request's organization and resolved range.
struct Ctx<'a> {
    sim: &'a Sim,
    org: &'a Organization,
    range: DateRange,
    days: Days,
    query: Query,
}

impl Ctx<'_> {
    fn seed(&self) -> u64 {
        self.sim.dataset().seed
    }
}

/// Authenticates, finds the organization, and resolves `from`/`to`.
fn context<'a>(
    sim: &'a Sim,
    headers: &HeaderMap,
    org_id: &str,
    raw: Option<&str>,
    range_message: &str,
) -> Result<Ctx<'a>, Response> {
    let org = match auth::elastic(sim.dataset(), headers, org_id) {
        Access::Granted(org) => org,
        Access::Unauthenticated => {
            return Err(v1(
                StatusCode::UNAUTHORIZED,
                "root.unauthenticated",
                "The supplied authentication is invalid.",
            ));
        }
        Access::NotFound => return Err(v1(StatusCode::NOT_FOUND, "organization.not_found", "Organization not found.")),
        Access::Forbidden => {
            return Err(v1(
                StatusCode::FORBIDDEN,
                "organization.invalid_access",
                "The current user does not have access to the requested organization.",
            ));
        }
    };
    let query = Query::parse(raw);
    let bad = |field: &str| v1_field(StatusCode::BAD_REQUEST, "costs.invalid_date_range", range_message, field);
    let from = match query.get("from") {
        Some(v) => Some(instant("from", v).ok_or_else(|| bad("from"))?),
        None => None,
    };
    let to = match query.get("to") {
        Some(v) => Some(instant("to", v).ok_or_else(|| bad("to"))?),
        None => None,
    };
    let now = sim.now();
    let range = DateRange::resolve(from, to, now)
        .map_err(|_| v1(StatusCode::BAD_REQUEST, "costs.invalid_date_range", range_message))?;
    let days = Days::of(sim.dataset(), &range, now);
    Ok(Ctx { sim, org, range, days, query })
}

const RANGE_MESSAGE: &str = "The specified date range is invalid.";

fn costs_of(dims: &DimCosts) -> Costs {
    let kinds = std::iter::once(DimensionType::Capacity).chain(DTS_DIMS.iter().map(|d| d.kind.clone()));
    Costs {
        total: dims.iter().sum(),
        dimensions: kinds.zip(dims.iter()).map(|(kind, &cost)| Dimension { kind, cost }).collect(),
        data_transfer_and_storage: None,
        resources: None,
    }
}

fn day_start(day: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(day * DAY, 0).unwrap_or_default()
}

/// The period a span of active days covers, ending no later than the range does.
fn period(active: Days, range: &DateRange) -> Period {
    Period { start: day_start(active.first), end: day_start(active.end).min(range.to()) }
}

/// Whether a deployment runs on the clock's current day, so its rate is current.
fn runs_now(dep: &Deployment, now: DateTime<Utc>) -> bool {
    let today = now.timestamp().div_euclid(DAY);
    let (created, deleted) = usage::lifetime(dep);
    created <= today && today < deleted
}

/// `GET /billing/costs/{organization_id}`.
pub(crate) async fn overview(
    State(sim): State<Sim>,
    Path(org_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = answer_or_return!(context(&sim, &headers, &org_id, raw.as_deref(), RANGE_MESSAGE));
    let mut dims = [0.0; 6];
    for dep in &ctx.org.deployments {
        let u = deployment_usage(ctx.seed(), dep, ctx.days);
        dims.iter_mut().zip(u.costs).for_each(|(d, c)| *d += c);
    }
    let now = sim.now();
    let hourly_rate =
        ctx.org.deployments.iter().filter(|d| runs_now(d, now)).map(Deployment::hourly_rate).fold(0.0, |a, b| a + b);
    let balance = (ctx.org.role == OrgRole::Demo).then(|| prepaid_balance(&ctx, now));
    Json(CostsOverview { costs: costs_of(&dims), trials: 0.0, hourly_rate, balance }).into_response()
}

/// The demo organization's prepaid credits: one grant at the start of history, spent down since.
fn prepaid_balance(ctx: &Ctx<'_>, now: DateTime<Utc>) -> Balance {
    let ds = ctx.sim.dataset();
    let start = day_start(ds.history_start);
    let spent: f64 = DateRange::new(start, now)
        .map(|all| {
            let days = Days::of(ds, &all, now);
            ctx.org.deployments.iter().map(|d| deployment_usage(ds.seed, d, days).total()).sum()
        })
        .unwrap_or_default();
    // A grant sized to last: a quarter more than everything spent so far, in whole 10 000 ECU.
    let grant = ((spent * 1.25 / 10_000.0).ceil() * 10_000.0).max(10_000.0);
    let left = grant - spent;
    Balance {
        available: left,
        remaining: left,
        line_items: vec![SimplifiedLineItem {
            id: format!("{:016x}", hash(&[ds.seed, 20])),
            ecu_quantity: grant,
            ecu_balance: left,
            start,
            end: start + Duration::days(730),
        }],
    }
}

/// `GET /billing/costs/{organization_id}/deployments`.
pub(crate) async fn deployments(
    State(sim): State<Sim>,
    Path(org_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    // `Accept: text/csv` is documented without a schema; like a lenient server, answer JSON anyway.
    let ctx = answer_or_return!(context(&sim, &headers, &org_id, raw.as_deref(), "Invalid date range specified."));
    let now = sim.now();
    let deployments: Vec<DeploymentCosts> = ctx
        .org
        .deployments
        .iter()
        .filter_map(|dep| {
            let u = deployment_usage(ctx.seed(), dep, ctx.days);
            u.is_active().then(|| DeploymentCosts {
                deployment_id: dep.id.clone(),
                deployment_name: dep.name.clone(),
                costs: costs_of(&u.costs),
                hourly_rate: if runs_now(dep, now) { dep.hourly_rate() } else { 0.0 },
                period: Some(period(u.active, &ctx.range)),
            })
        })
        .collect();
    let total_cost = deployments.iter().map(|d| d.costs.total).fold(0.0, |a, b| a + b);
    Json(DeploymentsCosts { total_cost, deployments }).into_response()
}

/// `GET /billing/costs/{organization_id}/items`.
pub(crate) async fn items(
    State(sim): State<Sim>,
    Path(org_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = answer_or_return!(context(&sim, &headers, &org_id, raw.as_deref(), RANGE_MESSAGE));
    items_json(itemize(&ctx, ctx.org.deployments.iter()))
}

/// `GET /billing/costs/{organization_id}/deployments/{deployment_id}/items`.
pub(crate) async fn deployment_items(
    State(sim): State<Sim>,
    Path((org_id, deployment_id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = answer_or_return!(context(&sim, &headers, &org_id, raw.as_deref(), RANGE_MESSAGE));
    match ctx.org.deployment(&deployment_id) {
        Some(dep) => items_json(itemize(&ctx, std::iter::once(dep))),
        None => cluster_not_found(),
    }
}

/// Serializes `ItemsCosts` with `hours` and `quantity.value` as JSON integers, as the spec's int64
/// says and the real service sends; the shared model keeps them as `f64` to read lenient payloads.
fn items_json(items: ItemsCosts) -> Response {
    let mut value = serde_json::to_value(&items).unwrap_or_default();
    let integral = |v: &mut serde_json::Value| {
        if let Some(f) = v.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15) {
            // Whole and well inside i64's range, so the cast is exact.
            #[allow(clippy::cast_possible_truncation)]
            let whole = f as i64;
            *v = serde_json::Value::from(whole);
        }
    };
    if let Some(resources) = value.get_mut("resources").and_then(serde_json::Value::as_array_mut) {
        resources.iter_mut().filter_map(|r| r.get_mut("hours")).for_each(integral);
    }
    if let Some(dts) = value.get_mut("data_transfer_and_storage").and_then(serde_json::Value::as_array_mut) {
        dts.iter_mut().filter_map(|d| d.pointer_mut("/quantity/value")).for_each(integral);
    }
    Json(value).into_response()
}

fn cluster_not_found() -> Response {
    v1(StatusCode::NOT_FOUND, "billing_service.es_cluster_id_not_found", "The Elasticsearch cluster was not found.")
}

/// Resources grouped by SKU and data transfer/storage grouped by SKU, over some deployments.
fn itemize<'a>(ctx: &Ctx<'_>, deployments: impl Iterator<Item = &'a Deployment>) -> ItemsCosts {
    let mut dims = [0.0; 6];
    let mut resources: BTreeMap<String, ItemCosts> = BTreeMap::new();
    // Per DTS SKU: (dimension index, provider, summed quantity, summed cost).
    let mut dts: BTreeMap<String, (usize, String, f64, f64)> = BTreeMap::new();
    for dep in deployments {
        let u = deployment_usage(ctx.seed(), dep, ctx.days);
        if !u.is_active() {
            continue;
        }
        dims.iter_mut().zip(u.costs).for_each(|(d, c)| *d += c);
        let span = period(u.active, &ctx.range);
        #[allow(clippy::cast_precision_loss)]
        let hours = u.hours() as f64;
        for r in &dep.resources {
            let item = resources.entry(r.sku.clone()).or_insert_with(|| ItemCosts {
                hours: 0.0,
                instance_count: 0,
                period: span,
                kind: Some(r.kind.clone()),
                price: 0.0,
                price_per_hour: r.price_per_hour,
                name: r.name.clone(),
                sku: r.sku.clone(),
            });
            item.hours += hours;
            item.instance_count += r.zones;
            item.price += hours * r.price_per_hour;
            item.period.start = item.period.start.min(span.start);
            item.period.end = item.period.end.max(span.end);
        }
        for (i, dim) in DTS_DIMS.iter().enumerate() {
            let entry = dts.entry(format!("{}.{}", dep.provider, dim.sku_suffix)).or_insert((
                i,
                dep.provider.clone(),
                0.0,
                0.0,
            ));
            entry.2 += u.dts[i];
            entry.3 += u.costs[i + 1];
        }
    }
    let data_transfer_and_storage = dts
        .into_iter()
        .map(|(sku, (i, provider, quantity, cost))| {
            let dim = &DTS_DIMS[i];
            let formatted = if dim.unit == "GB" {
                format!("{quantity:.4} GB")
            } else {
                format!("{:.0} requests", quantity * 1000.0)
            };
            DtsDimensionCosts {
                cost,
                name: format!("{} {}", provider_display(&provider), dim.name_suffix),
                // v1 counts bytes and API calls as integers.
                quantity: DtsQuantity { value: (quantity * dim.v1_units).round(), formatted_value: formatted },
                rate: DtsRate { value: dim.rate, formatted_value: format!("{:.4} per {}", dim.rate, dim.unit) },
                sku,
                kind: dim.kind.clone(),
            }
        })
        .collect();
    debug_assert_eq!(CAPACITY, 0);
    ItemsCosts { costs: costs_of(&dims), data_transfer_and_storage, resources: resources.into_values().collect() }
}

fn bucketing(ctx: &Ctx<'_>) -> Result<Bucketing, Response> {
    match ctx.query.get("bucketing_strategy") {
        None => Ok(Bucketing::Daily),
        Some(v) => v.parse().map_err(|_| {
            v1_field(
                StatusCode::BAD_REQUEST,
                "costs.invalid_bucketing_strategy",
                "The bucketing strategy must be daily or monthly.",
                "bucketing_strategy",
            )
        }),
    }
}

/// `GET /billing/costs/{organization_id}/charts`: one value per deployment per bucket.
pub(crate) async fn charts(
    State(sim): State<Sim>,
    Path(org_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = answer_or_return!(context(&sim, &headers, &org_id, raw.as_deref(), RANGE_MESSAGE));
    let strategy = answer_or_return!(bucketing(&ctx));
    let buckets = buckets(ctx.days, strategy == Bucketing::Monthly);
    let mut data: Vec<ChartItem> =
        buckets.iter().map(|b| ChartItem { timestamp: b.start, values: Vec::new() }).collect();
    for dep in &ctx.org.deployments {
        let (created, deleted) = usage::lifetime(dep);
        for (bucket, item) in buckets.iter().zip(data.iter_mut()) {
            let days = bucket.days.clip(created, deleted);
            if days.len() == 0 {
                continue;
            }
            let value = days.iter().map(|d| day_costs(ctx.seed(), dep, d).iter().sum::<f64>()).sum();
            item.values.push(ChartItemValue { id: dep.id.to_string(), name: dep.name.clone(), kind: None, value });
        }
    }
    Json(ChartItems { data }).into_response()
}

/// `GET /billing/costs/{organization_id}/deployments/{deployment_id}/charts`: one value per
/// dimension per bucket. An unknown deployment is a 404 `billing_service.es_cluster_id_not_found`,
/// as on the items endpoint, rather than an empty chart that would hide a wrong id.
pub(crate) async fn deployment_charts(
    State(sim): State<Sim>,
    Path((org_id, deployment_id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = answer_or_return!(context(&sim, &headers, &org_id, raw.as_deref(), RANGE_MESSAGE));
    let strategy = answer_or_return!(bucketing(&ctx));
    let Some(dep) = ctx.org.deployment(&deployment_id) else {
        return cluster_not_found();
    };
    let (created, deleted) = usage::lifetime(dep);
    let names = std::iter::once((DimensionType::Capacity, "Capacity"))
        .chain(DTS_DIMS.iter().map(|d| (d.kind.clone(), d.name_suffix)))
        .collect::<Vec<_>>();
    let data = buckets(ctx.days.clip(created, deleted), strategy == Bucketing::Monthly)
        .into_iter()
        .map(|bucket| {
            let mut sums = [0.0; 6];
            for day in bucket.days.iter() {
                sums.iter_mut().zip(day_costs(ctx.seed(), dep, day)).for_each(|(s, c)| *s += c);
            }
            let values = names
                .iter()
                .zip(sums)
                .map(|((kind, name), value)| ChartItemValue {
                    id: kind.as_str().to_owned(),
                    name: (*name).to_owned(),
                    kind: None,
                    value,
                })
                .collect();
            ChartItem { timestamp: bucket.start, values }
        })
        .collect();
    Json(ChartItems { data }).into_response()
}
