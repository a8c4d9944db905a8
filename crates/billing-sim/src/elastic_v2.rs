//! Elastic Cloud billing v2 handlers: `/api/v2/billing/organizations/{organization_id}/...`.
//!
//! `from` and `to` are required; a `from` before 2021-01-01 is refused with the real `invalid_input`
//! body. 401 and 403 are `text/plain`, like Elastic's own mock. Line totals are
//! `round(quantity * rate, 4)` and parents hold the (re-rounded) sums of their children.

// Handlers bail out with a ready `Response`; boxing it would only add noise to every `?`.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use billing_model::elastic::v2::{
    ChartItem, ChartItemValue, ChartItems, DisplayQuantity, Instance, InstancesCosts, ItemsCosts, Product,
    ProductLineItem, Quantity, Rate, earliest_from,
};
use billing_model::{
    Bucketing, DateRange, DimensionType, DisplayQuantityType, InstanceId, InstanceType, InstanceTypeFilter,
    ResourceKind, ServerlessGroupBy,
};

use crate::auth::{self, Access};
use crate::catalog::{DTS_DIMS, provider_display, serverless_lines};
use crate::dataset::{Deployment, Organization, Project, round4};
use crate::errors::{v2_json, v2_text};
use crate::params::{Query, instant};
use crate::server::Sim;
use crate::usage::{self, Days, buckets, day_costs, deployment_usage, project_day, project_days};

struct Ctx<'a> {
    seed: u64,
    org: &'a Organization,
    days: Days,
    query: Query,
}

/// A 400 `invalid_input`, its message echoing the input the way the real service (Python) does.
fn invalid_input(query: &Query, key: &str, message: &str) -> Response {
    let input: Vec<String> = ["from", "to"]
        .iter()
        .filter_map(|k| query.get(k).map(|v| format!("'{k}': '{}'", v.replace('\'', "\\'"))))
        .collect();
    let messages = BTreeMap::from([(key.to_owned(), vec![message.to_owned()])]);
    v2_json(
        StatusCode::BAD_REQUEST,
        "invalid_input",
        &format!("An error occurred with input: {{{}}}", input.join(", ")),
        Some(messages),
    )
}

fn context<'a>(sim: &'a Sim, headers: &HeaderMap, org_id: &str, raw: Option<&str>) -> Result<Ctx<'a>, Response> {
    let org = match auth::elastic(sim.dataset(), headers, org_id) {
        Access::Granted(org) => org,
        Access::Unauthenticated => {
            return Err(v2_text(StatusCode::UNAUTHORIZED, "text/plain", "Unauthorized".to_owned()));
        }
        Access::NotFound => {
            return Err(v2_json(StatusCode::NOT_FOUND, "organization.not_found", "Organization not found.", None));
        }
        Access::Forbidden => {
            return Err(v2_text(
                StatusCode::FORBIDDEN,
                "text/plain; charset=utf-8",
                format!("403: User does not have 'billing-costs:get:{org_id}' permissions"),
            ));
        }
    };
    let query = Query::parse(raw);
    let mut bounds = [None, None];
    for (slot, field) in bounds.iter_mut().zip(["from", "to"]) {
        let Some(value) = query.get(field) else {
            return Err(invalid_input(&query, field, "Missing data for required field."));
        };
        *slot = Some(instant(field, value).ok_or_else(|| invalid_input(&query, field, "Not a valid datetime."))?);
    }
    let [Some(from), Some(to)] = bounds else {
        return Err(invalid_input(&query, "_schema", "Missing data for required field."));
    };
    if from < earliest_from() {
        return Err(invalid_input(&query, "_schema", "'from' must not be earlier than 2021-01-01T00:00:00+00:00"));
    }
    let Ok(range) = DateRange::new(from, to) else {
        return Err(invalid_input(&query, "_schema", "'from' must not be later than 'to'"));
    };
    let days = Days::of(sim.dataset(), &range, sim.now());
    Ok(Ctx { seed: sim.dataset().seed, org, days, query })
}

fn line(
    name: String,
    kind: DimensionType,
    sku: String,
    unit: &str,
    quantity: f64,
    rate: f64,
    resource_kind: Option<ResourceKind>,
) -> ProductLineItem {
    let formatted = match unit {
        "hour" => format!("{} hours", round4(quantity)),
        "GB" => format!("{quantity:.4} GBs"),
        "1000 API Calls" => format!("{quantity:.0}k requests"),
        other => format!("{quantity:.4} {other}"),
    };
    ProductLineItem {
        name,
        total_ecu: round4(quantity * rate),
        kind,
        sku,
        unit: unit.to_owned(),
        quantity: Quantity { value: quantity, formatted_value: formatted.clone() },
        display_quantity: DisplayQuantity {
            value: quantity,
            formatted_value: formatted,
            kind: Some(DisplayQuantityType::Default),
            extra: serde_json::Map::new(),
        },
        rate: Rate { value: rate, formatted_value: format!("{rate:.4} per {unit}") },
        resource_kind,
        quantities: Vec::new(),
    }
}

/// A deployment's line items over the days: one per resource, one per data dimension.
fn deployment_lines(seed: u64, dep: &Deployment, days: Days) -> Vec<ProductLineItem> {
    let u = deployment_usage(seed, dep, days);
    if !u.is_active() {
        return Vec::new();
    }
    #[allow(clippy::cast_precision_loss)]
    let hours = u.hours() as f64;
    let capacity = dep.resources.iter().map(|r| {
        line(
            r.name.clone(),
            DimensionType::Capacity,
            r.sku.clone(),
            "hour",
            hours,
            r.price_per_hour,
            Some(r.kind.clone()),
        )
    });
    let dts = DTS_DIMS.iter().enumerate().map(|(i, dim)| {
        line(
            format!("{} {}", provider_display(&dep.provider), dim.name_suffix),
            dim.kind.clone(),
            format!("{}.{}", dep.provider, dim.sku_suffix),
            dim.unit,
            u.dts[i],
            dim.rate,
            None,
        )
    });
    capacity.chain(dts).collect()
}

/// A serverless project's line items over the days.
fn project_lines(seed: u64, project: &Project, days: Days) -> Vec<ProductLineItem> {
    let active = project_days(project, days);
    let lines = serverless_lines(project.kind.as_str());
    let mut quantities = vec![0.0; lines.len()];
    for day in active.iter() {
        quantities.iter_mut().zip(project_day(seed, project, day)).for_each(|(q, d)| *q += d);
    }
    if active.len() == 0 {
        return Vec::new();
    }
    lines
        .iter()
        .zip(quantities)
        .map(|(l, q)| {
            line(
                l.name.to_owned(),
                DimensionType::from(l.kind),
                format!("serverless.{}_{}", l.sku_part, project.region),
                l.unit,
                q,
                l.rate,
                None,
            )
        })
        .collect()
}

fn sum(lines: &[ProductLineItem]) -> f64 {
    round4(lines.iter().map(|l| l.total_ecu).sum())
}

/// `GET /costs/instances`: deployments and projects with usage in the range; `null` when none.
pub(crate) async fn instances(
    State(sim): State<Sim>,
    Path(org_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = answer_or_return!(context(&sim, &headers, &org_id, raw.as_deref()));
    // Project names come from the control plane, which is only asked when `include_names` is true.
    let include_names = match ctx.query.get("include_names").map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0") => false,
        Some("true" | "1") => true,
        Some(_) => return invalid_input(&ctx.query, "include_names", "Not a valid boolean."),
    };
    let deployments = ctx.org.deployments.iter().map(|d| {
        (
            InstanceId::from(d.id.clone()),
            d.name.clone(),
            InstanceType::Deployment,
            deployment_lines(ctx.seed, d, ctx.days),
        )
    });
    let projects = ctx.org.projects.iter().map(|p| {
        let name = if include_names { p.name.clone() } else { String::new() };
        (p.id.clone(), name, p.kind.clone(), project_lines(ctx.seed, p, ctx.days))
    });
    let instances: Vec<Instance> = deployments
        .chain(projects)
        .filter(|(.., lines)| !lines.is_empty())
        .map(|(id, name, kind, lines)| Instance { id, name, total_ecu: sum(&lines), kind, product_line_items: lines })
        .collect();
    let total_ecu = round4(instances.iter().map(|i| i.total_ecu).sum());
    // The real service sends `null`, not `[]`, when there is nothing to report.
    let instances = (!instances.is_empty()).then_some(instances);
    Json(InstancesCosts { total_ecu, instances }).into_response()
}

/// `GET /costs/instances/{instance_id}/items`: one product holding the instance's line items.
pub(crate) async fn instance_items(
    State(sim): State<Sim>,
    Path((org_id, instance_id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = answer_or_return!(context(&sim, &headers, &org_id, raw.as_deref()));
    let (kind, lines) = if let Some(d) = ctx.org.deployment(&instance_id) {
        (InstanceType::Deployment, deployment_lines(ctx.seed, d, ctx.days))
    } else if let Some(p) = ctx.org.project(&instance_id) {
        (p.kind.clone(), project_lines(ctx.seed, p, ctx.days))
    } else {
        return v2_json(StatusCode::NOT_FOUND, "instance.not_found", "Instance not found.", None);
    };
    let products = (!lines.is_empty())
        .then(|| vec![Product { total_ecu: sum(&lines), kind: kind.as_str().to_owned(), product_line_items: lines }]);
    let total_ecu = products.as_ref().map_or(0.0, |p| sum(&p[0].product_line_items));
    Json(ItemsCosts { total_ecu, products }).into_response()
}

/// Merges line items of the same SKU, re-deriving each total from the summed quantity.
fn merge(lines: impl Iterator<Item = ProductLineItem>) -> Vec<ProductLineItem> {
    let mut by_sku: BTreeMap<String, ProductLineItem> = BTreeMap::new();
    for l in lines {
        match by_sku.get_mut(&l.sku) {
            Some(acc) => acc.quantity.value += l.quantity.value,
            None => {
                by_sku.insert(l.sku.clone(), l);
            }
        }
    }
    by_sku
        .into_values()
        .map(|l| line(l.name, l.kind, l.sku, &l.unit, l.quantity.value, l.rate.value, l.resource_kind))
        .collect()
}

/// `GET /costs/items`: hosted deployments as one `deployment` product; serverless projects grouped
/// by project type (`serverless_group_by=product`, the default) or as one `serverless` family.
pub(crate) async fn items(
    State(sim): State<Sim>,
    Path(org_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = answer_or_return!(context(&sim, &headers, &org_id, raw.as_deref()));
    let by_family = match ctx.query.get("serverless_group_by").map(ServerlessGroupBy::from) {
        None | Some(ServerlessGroupBy::Product) => false,
        Some(ServerlessGroupBy::ProductFamily) => true,
        Some(_) => {
            return invalid_input(&ctx.query, "serverless_group_by", "Must be one of: product, product_family.");
        }
    };
    let mut groups: BTreeMap<String, Vec<ProductLineItem>> = BTreeMap::new();
    for d in &ctx.org.deployments {
        groups.entry("deployment".to_owned()).or_default().extend(deployment_lines(ctx.seed, d, ctx.days));
    }
    for p in &ctx.org.projects {
        let group = if by_family { "serverless".to_owned() } else { p.kind.as_str().to_owned() };
        groups.entry(group).or_default().extend(project_lines(ctx.seed, p, ctx.days));
    }
    let products: Vec<Product> = groups
        .into_iter()
        .filter(|(_, lines)| !lines.is_empty())
        .map(|(kind, lines)| {
            let lines = merge(lines.into_iter());
            Product { total_ecu: sum(&lines), kind, product_line_items: lines }
        })
        .collect();
    let total_ecu = round4(products.iter().map(|p| p.total_ecu).sum());
    let products = (!products.is_empty()).then_some(products);
    Json(ItemsCosts { total_ecu, products }).into_response()
}

fn bucketing(ctx: &Ctx<'_>) -> Result<bool, Response> {
    match ctx.query.get("bucketing_strategy").map(str::parse::<Bucketing>) {
        None | Some(Ok(Bucketing::Daily)) => Ok(false),
        Some(Ok(Bucketing::Monthly)) => Ok(true),
        Some(Err(_)) => Err(invalid_input(&ctx.query, "bucketing_strategy", "Must be one of: daily, monthly.")),
    }
}

fn instance_type(ctx: &Ctx<'_>) -> Result<InstanceTypeFilter, Response> {
    match ctx.query.get("instance_type").map(InstanceTypeFilter::from) {
        None => Ok(InstanceTypeFilter::All),
        Some(f) if f.is_known() => Ok(f),
        Some(_) => Err(invalid_input(&ctx.query, "instance_type", "Must be one of: all, deployments, projects.")),
    }
}

/// A deployment's cost over some days.
fn deployment_cost(seed: u64, dep: &Deployment, days: Days) -> f64 {
    let (created, deleted) = usage::lifetime(dep);
    days.clip(created, deleted).iter().map(|d| day_costs(seed, dep, d).iter().sum::<f64>()).sum()
}

/// A project's cost per line over some days.
fn project_costs(seed: u64, project: &Project, days: Days) -> Vec<f64> {
    let lines = serverless_lines(project.kind.as_str());
    let mut costs = vec![0.0; lines.len()];
    for day in project_days(project, days).iter() {
        for ((c, q), l) in costs.iter_mut().zip(project_day(seed, project, day)).zip(lines) {
            *c += q * l.rate;
        }
    }
    costs
}

/// `GET /charts`: one value per instance per bucket, filtered by `instance_type`.
pub(crate) async fn charts(
    State(sim): State<Sim>,
    Path(org_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = answer_or_return!(context(&sim, &headers, &org_id, raw.as_deref()));
    let (monthly, filter) = match (bucketing(&ctx), instance_type(&ctx)) {
        (Ok(m), Ok(f)) => (m, f),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let with_deployments = filter != InstanceTypeFilter::Projects;
    let with_projects = filter != InstanceTypeFilter::Deployments;
    let data = buckets(ctx.days, monthly)
        .into_iter()
        .map(|bucket| {
            let mut values = Vec::new();
            for dep in ctx.org.deployments.iter().filter(|_| with_deployments) {
                let (created, deleted) = usage::lifetime(dep);
                if bucket.days.clip(created, deleted).len() > 0 {
                    values.push(ChartItemValue {
                        id: dep.id.to_string(),
                        name: dep.name.clone(),
                        kind: Some(InstanceType::Deployment.as_str().to_owned()),
                        value: deployment_cost(ctx.seed, dep, bucket.days),
                    });
                }
            }
            for p in ctx.org.projects.iter().filter(|_| with_projects) {
                if project_days(p, bucket.days).len() > 0 {
                    values.push(ChartItemValue {
                        id: p.id.to_string(),
                        name: p.name.clone(),
                        kind: Some(p.kind.as_str().to_owned()),
                        value: project_costs(ctx.seed, p, bucket.days).iter().sum(),
                    });
                }
            }
            ChartItem { timestamp: bucket.start, values }
        })
        .collect();
    Json(ChartItems { data }).into_response()
}

/// `GET /instances/{instance_id}/charts`: one value per cost type (dimension or serverless line)
/// per bucket. `instance_type` is validated; it does not change a single instance's chart.
pub(crate) async fn instance_charts(
    State(sim): State<Sim>,
    Path((org_id, instance_id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = answer_or_return!(context(&sim, &headers, &org_id, raw.as_deref()));
    let monthly = answer_or_return!(bucketing(&ctx).and_then(|m| instance_type(&ctx).map(|_| m)));
    let value = |kind: &str, name: &str, value: f64| ChartItemValue {
        id: kind.to_owned(),
        name: name.to_owned(),
        kind: Some(kind.to_owned()),
        value,
    };
    let data: Vec<ChartItem> = if let Some(dep) = ctx.org.deployment(&instance_id) {
        let (created, deleted) = usage::lifetime(dep);
        let names: Vec<(&str, &str)> = std::iter::once(("capacity", "Capacity"))
            .chain(DTS_DIMS.iter().map(|d| (d.kind.as_str(), d.name_suffix)))
            .collect();
        buckets(ctx.days.clip(created, deleted), monthly)
            .into_iter()
            .map(|bucket| {
                let mut sums = [0.0; 6];
                for day in bucket.days.iter() {
                    sums.iter_mut().zip(day_costs(ctx.seed, dep, day)).for_each(|(s, c)| *s += c);
                }
                let values = names.iter().zip(sums).map(|((k, n), v)| value(k, n, v)).collect();
                ChartItem { timestamp: bucket.start, values }
            })
            .collect()
    } else if let Some(p) = ctx.org.project(&instance_id) {
        let lines = serverless_lines(p.kind.as_str());
        buckets(project_days(p, ctx.days), monthly)
            .into_iter()
            .map(|bucket| {
                let costs = project_costs(ctx.seed, p, bucket.days);
                let values = lines.iter().zip(costs).map(|(l, v)| value(l.kind, l.name, v)).collect();
                ChartItem { timestamp: bucket.start, values }
            })
            .collect()
    } else {
        return v2_json(StatusCode::NOT_FOUND, "instance.not_found", "Instance not found.", None);
    };
    Json(ChartItems { data }).into_response()
}
