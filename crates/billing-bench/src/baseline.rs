//! The baseline: no GraphQL, only the upstream calls a scenario needs, made with `billing-http`
//! (concurrently where the gateway can), parsed into the model types, assembled into a JSON
//! answer of the same shape, serialized, and served over the same HTTP stack (axum).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use billing_http::{ElasticBillingV1, ElasticBillingV2, ElasticCredentials, TalkdeskBillingInsights, TalkdeskToken};
use billing_model::elastic::v1;
use billing_model::talkdesk::{MAX_PER_PAGE, UsageOrder};
use billing_model::{Bucketing, DateRange, OrganizationId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::scenario::USAGE_ROWS;

/// The clients and credentials every baseline request uses.
#[derive(Debug)]
pub(crate) struct Baseline {
    pub(crate) v1: ElasticBillingV1,
    pub(crate) v2: ElasticBillingV2,
    pub(crate) talkdesk: TalkdeskBillingInsights,
    pub(crate) elastic: ElasticCredentials,
    pub(crate) token: TalkdeskToken,
}

/// `POST /overview`, `/dashboard`, `/charts`, `/usage`: each takes the GraphQL request body the gateway
/// would, reads its variables, and answers what the gateway answers.
pub(crate) fn router(baseline: Baseline) -> Router {
    Router::new()
        .route("/overview", post(overview))
        .route("/dashboard", post(dashboard))
        .route("/charts", post(charts))
        .route("/usage", post(usage))
        .with_state(Arc::new(baseline))
}

type Failure = (StatusCode, String);

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    variables: Vars,
}

#[derive(Deserialize, Default)]
struct Vars {
    org: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

fn vars(body: &[u8]) -> Result<Vars, Failure> {
    serde_json::from_slice::<Body>(body).map(|b| b.variables).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))
}

fn org(vars: &Vars) -> Result<OrganizationId, Failure> {
    vars.org.as_deref().map(OrganizationId::from).ok_or((StatusCode::BAD_REQUEST, "no org".to_owned()))
}

fn upstream(e: billing_http::Error) -> Failure {
    (StatusCode::BAD_GATEWAY, e.to_string())
}

fn json<T: Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Serialize)]
struct Data<T> {
    data: T,
}

#[derive(Serialize)]
struct Org<T> {
    organization: T,
}

#[derive(Serialize)]
struct Dimension<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    cost: f64,
}

fn dimensions(costs: &v1::Costs) -> Vec<Dimension<'_>> {
    costs.dimensions.iter().map(|d| Dimension { kind: d.kind.as_str(), cost: d.cost }).collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OverviewOrg<'a> {
    costs: OverviewCosts<'a>,
    deployments: Vec<DeploymentTotal<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OverviewCosts<'a> {
    total: f64,
    hourly_rate: f64,
    dimensions: Vec<Dimension<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentTotal<'a> {
    id: &'a str,
    name: &'a str,
    total_cost: f64,
}

async fn overview(State(b): State<Arc<Baseline>>, body: Bytes) -> Result<Response, Failure> {
    let org = org(&vars(&body)?)?;
    let (o, d) = tokio::try_join!(b.v1.overview(&b.elastic, &org).send(), b.v1.deployments(&b.elastic, &org).send())
        .map_err(upstream)?;
    let answer = OverviewOrg {
        costs: OverviewCosts { total: o.costs.total, hourly_rate: o.hourly_rate, dimensions: dimensions(&o.costs) },
        deployments: d
            .deployments
            .iter()
            .map(|d| DeploymentTotal {
                id: d.deployment_id.as_str(),
                name: &d.deployment_name,
                total_cost: d.costs.total,
            })
            .collect(),
    };
    Ok(json(&Data { data: Org { organization: answer } }))
}

#[derive(Serialize)]
struct DashboardOrg<'a> {
    deployments: Vec<DashboardDeployment<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DashboardDeployment<'a> {
    id: &'a str,
    name: &'a str,
    total_cost: f64,
    dimensions: Vec<Dimension<'a>>,
    charts: Chart,
    line_items: Vec<LineItem<'a>>,
}

#[derive(Serialize)]
struct Chart {
    points: Vec<Point>,
}

#[derive(Serialize)]
struct Point {
    timestamp: String,
    total: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LineItem<'a> {
    name: &'a str,
    sku: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    quantity: f64,
    rate: f64,
    total_ecu: f64,
}

/// The organization and the range a dashboard or charts body asks for.
fn org_and_range(body: &[u8]) -> Result<(OrganizationId, DateRange), Failure> {
    let vars = vars(body)?;
    let org = org(&vars)?;
    let (Some(from), Some(to)) = (vars.from, vars.to) else {
        return Err((StatusCode::BAD_REQUEST, "no range".to_owned()));
    };
    let range = DateRange::new(from, to).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    Ok((org, range))
}

/// Every deployment's daily chart over the range, all at once.
async fn daily_charts(
    b: &Baseline,
    org: &OrganizationId,
    range: DateRange,
    deployments: &v1::DeploymentsCosts,
) -> Result<Vec<billing_model::ChartItems>, billing_http::Error> {
    futures::future::try_join_all(deployments.deployments.iter().map(|d| {
        b.v1.deployment_charts(&b.elastic, org, &d.deployment_id).range(range).bucketing(Bucketing::Daily).send()
    }))
    .await
}

async fn dashboard(State(b): State<Arc<Baseline>>, body: Bytes) -> Result<Response, Failure> {
    let (org, range) = org_and_range(&body)?;
    let deployments = b.v1.deployments(&b.elastic, &org).range(range).send().await.map_err(upstream)?;
    let charts = daily_charts(&b, &org, range, &deployments);
    let instances = b.v2.instances(&b.elastic, &org, range).include_names(true).send();
    let (charts, instances) = tokio::try_join!(charts, instances).map_err(upstream)?;
    let by_id: HashMap<&str, &[billing_model::elastic::v2::ProductLineItem]> =
        instances.instances().iter().map(|i| (i.id.as_str(), i.product_line_items.as_slice())).collect();
    let answer = DashboardOrg {
        deployments: deployments
            .deployments
            .iter()
            .zip(&charts)
            .map(|(d, c)| DashboardDeployment {
                id: d.deployment_id.as_str(),
                name: &d.deployment_name,
                total_cost: d.costs.total,
                dimensions: dimensions(&d.costs),
                charts: Chart {
                    points: c
                        .data
                        .iter()
                        .map(|p| Point { timestamp: p.timestamp.to_rfc3339(), total: p.total() })
                        .collect(),
                },
                line_items: by_id
                    .get(d.deployment_id.as_str())
                    .map(|items| {
                        items
                            .iter()
                            .map(|l| LineItem {
                                name: &l.name,
                                sku: &l.sku,
                                kind: l.kind.as_str(),
                                quantity: l.quantity.value,
                                rate: l.rate.value,
                                total_ecu: l.total_ecu,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect(),
    };
    Ok(json(&Data { data: Org { organization: answer } }))
}

#[derive(Serialize)]
struct ChartsOrg<'a> {
    deployments: Vec<ChartsDeployment<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChartsDeployment<'a> {
    id: &'a str,
    name: &'a str,
    total_cost: f64,
    dimensions: Vec<Dimension<'a>>,
    charts: FullChart<'a>,
}

#[derive(Serialize)]
struct FullChart<'a> {
    points: Vec<FullPoint<'a>>,
}

#[derive(Serialize)]
struct FullPoint<'a> {
    timestamp: String,
    total: f64,
    values: Vec<Value<'a>>,
}

#[derive(Serialize)]
struct Value<'a> {
    id: &'a str,
    name: &'a str,
    value: f64,
}

async fn charts(State(b): State<Arc<Baseline>>, body: Bytes) -> Result<Response, Failure> {
    let (org, range) = org_and_range(&body)?;
    let deployments = b.v1.deployments(&b.elastic, &org).range(range).send().await.map_err(upstream)?;
    let charts = daily_charts(&b, &org, range, &deployments).await.map_err(upstream)?;
    let answer = ChartsOrg {
        deployments: deployments
            .deployments
            .iter()
            .zip(&charts)
            .map(|(d, c)| ChartsDeployment {
                id: d.deployment_id.as_str(),
                name: &d.deployment_name,
                total_cost: d.costs.total,
                dimensions: dimensions(&d.costs),
                charts: FullChart {
                    points: c
                        .data
                        .iter()
                        .map(|p| FullPoint {
                            timestamp: p.timestamp.to_rfc3339(),
                            total: p.total(),
                            values: p
                                .values
                                .iter()
                                .map(|v| Value { id: &v.id, name: &v.name, value: v.value })
                                .collect(),
                        })
                        .collect(),
                },
            })
            .collect(),
    };
    Ok(json(&Data { data: Org { organization: answer } }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UsageData<'a> {
    usage_aggregates: Connection<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Connection<'a> {
    total_count: u64,
    page_info: PageInfo,
    nodes: Vec<Node<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Node<'a> {
    id: &'a str,
    account_id: Option<&'a str>,
    month: Option<String>,
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    total_amount: Option<f64>,
    currency: Option<&'a str>,
}

async fn usage(State(b): State<Arc<Baseline>>, body: Bytes) -> Result<Response, Failure> {
    let _ = vars(&body)?;
    let want = USAGE_ROWS as usize;
    let per = MAX_PER_PAGE;
    let page = |n: u32| b.talkdesk.usage(&b.token).page(n).per_page(per).order_by(UsageOrder::IdDesc).send();
    let head = page(1).await.map_err(upstream)?;
    let total = head.total.unwrap_or(0);
    let pages = u32::try_from(total.min(USAGE_ROWS).div_ceil(u64::from(per))).unwrap_or(1).max(1);
    let rest = futures::future::try_join_all((2..=pages).map(page)).await.map_err(upstream)?;
    let rows: Vec<_> = std::iter::once(&head).chain(&rest).flat_map(|p| p.usage()).take(want).collect();
    let answer = Connection {
        total_count: total,
        page_info: PageInfo {
            has_next_page: total > rows.len() as u64,
            end_cursor: rows.len().checked_sub(1).map(|i| format!("usage:{i}")),
        },
        nodes: rows
            .iter()
            .map(|r| Node {
                id: &r.id,
                account_id: r.account_id.as_ref().map(|a| a.as_str()),
                month: r.month.map(|m| m.to_string()),
                kind: r.kind.as_ref().map(|k| k.as_str()),
                total_amount: r.total_amount,
                currency: r.currency.as_deref(),
            })
            .collect(),
    };
    Ok(json(&Data { data: UsageData { usage_aggregates: answer } }))
}
