//! Plain output types: charts, dimensions, itemized costs, line items, products.

use std::sync::Arc;

use async_graphql::resolver_utils::enum_value;
use async_graphql::{Context, Enum, Object, SimpleObject};
use billing_model::elastic::{v1, v2};
use billing_model::{ChartItems, DimensionType};
use chrono::{DateTime, Utc};

use super::leaves::{Getter, LeafFields, Leaves, optional, scalar};

/// How chart points are grouped.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Bucketing {
    /// One point per UTC day.
    #[default]
    Daily,
    /// One point per calendar month.
    Monthly,
}

impl From<Bucketing> for billing_model::Bucketing {
    fn from(b: Bucketing) -> Self {
        match b {
            Bucketing::Daily => billing_model::Bucketing::Daily,
            Bucketing::Monthly => billing_model::Bucketing::Monthly,
        }
    }
}

/// A cost dimension. New upstream dimensions read as `OTHER`, with the raw name in `rawType`.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostDimensionType {
    /// Compute capacity (instance hours).
    Capacity,
    /// Data transfer into the deployment.
    DataIn,
    /// Data transfer between nodes.
    DataInternode,
    /// Data transfer out of the deployment.
    DataOut,
    /// Snapshot storage API calls.
    StorageApi,
    /// Snapshot storage volume.
    StorageBytes,
    /// A dimension this gateway version does not know yet; see `rawType`.
    Other,
}

impl From<&DimensionType> for CostDimensionType {
    fn from(t: &DimensionType) -> Self {
        match t {
            DimensionType::Capacity => CostDimensionType::Capacity,
            DimensionType::DataIn => CostDimensionType::DataIn,
            DimensionType::DataInternode => CostDimensionType::DataInternode,
            DimensionType::DataOut => CostDimensionType::DataOut,
            DimensionType::StorageApi => CostDimensionType::StorageApi,
            DimensionType::StorageBytes => CostDimensionType::StorageBytes,
            _ => CostDimensionType::Other,
        }
    }
}

/// The cost of one dimension over a range, in ECU (Elastic Consumption Units; nominally 1 ECU = 1 USD).
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = super::cost::cost::apply("0".to_owned()))]
pub struct CostDimension {
    /// The dimension.
    #[graphql(name = "type")]
    pub kind: CostDimensionType,
    /// The dimension as the upstream names it (`capacity`, `data_out`, ...), including new ones.
    pub raw_type: String,
    /// Cost in ECU.
    pub cost: f64,
}

impl From<&v1::Dimension> for CostDimension {
    fn from(d: &v1::Dimension) -> Self {
        CostDimension { kind: (&d.kind).into(), raw_type: d.kind.as_str().to_owned(), cost: d.cost }
    }
}

impl LeafFields for CostDimension {
    fn leaf(name: &str) -> Option<Getter<Self>> {
        Some(match name {
            "type" => |d| enum_value(d.kind),
            "rawType" => |d| scalar(&d.raw_type),
            "cost" => |d| scalar(&d.cost),
            _ => return None,
        })
    }
}

pub(crate) fn dimensions<C: FromIterator<CostDimension>>(costs: &v1::Costs) -> C {
    costs.dimensions.iter().map(CostDimension::from).collect()
}

/// A span of time a cost covers.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = super::cost::cost::apply("0".to_owned()))]
pub struct Period {
    /// Start of the span.
    pub start: DateTime<Utc>,
    /// End of the span.
    pub end: DateTime<Utc>,
}

impl From<&v1::Period> for Period {
    fn from(p: &v1::Period) -> Self {
        Period { start: p.start, end: p.end }
    }
}

/// A chart: cost per time bucket, in ECU.
///
/// It holds the upstream answer and converts a point or value only when it is selected, so a
/// dashboard asking for `points { timestamp total }` copies no series names.
#[derive(Debug, Clone)]
pub struct Chart {
    bucketing: Bucketing,
    items: Arc<ChartItems>,
    index: super::insights::SharedIndex,
}

impl Chart {
    pub(crate) fn new(bucketing: Bucketing, items: Arc<ChartItems>) -> Self {
        Chart { bucketing, items, index: Default::default() }
    }
}

/// A chart: cost per time bucket, in ECU.
#[Object(directive = super::cost::cost::apply("0".to_owned()))]
impl Chart {
    /// How the points are grouped.
    async fn bucketing(&self) -> Bucketing {
        self.bucketing
    }

    /// The points, in time order as the upstream sends them.
    async fn points(&self) -> Leaves<ChartPoint> {
        (0..self.items.data.len())
            .map(|index| ChartPoint { items: self.items.clone(), index, series: self.index.clone() })
            .collect()
    }
}

/// One bucket of a chart.
#[derive(Debug, Clone)]
pub struct ChartPoint {
    items: Arc<ChartItems>,
    index: usize,
    series: super::insights::SharedIndex,
}

impl ChartPoint {
    fn data(&self) -> &billing_model::ChartItem {
        &self.items.data[self.index]
    }
}

/// One bucket of a chart.
#[Object(directive = super::cost::cost::apply("0".to_owned()))]
impl ChartPoint {
    /// The bucket's start (the upstream's epoch timestamp, read in seconds or milliseconds).
    async fn timestamp(&self) -> DateTime<Utc> {
        self.data().timestamp
    }

    /// The plotted values of the bucket.
    async fn values(&self) -> Vec<ChartValue> {
        self.data()
            .values
            .iter()
            .map(|v| ChartValue { id: v.id.clone(), name: v.name.clone(), value: v.value })
            .collect()
    }

    /// The sum of the values, in ECU.
    async fn total(&self) -> f64 {
        self.data().total()
    }

    /// The values of this point that leave their robust band: the median of the same series'
    /// `window` points before it in this chart, plus or minus `threshold` robust standard
    /// deviations (1.4826 × MAD, floored at 1 % of the median). A series with fewer than
    /// `window` earlier points in the chart is not scored, so ask for a range that starts
    /// `window` buckets before the points you want scored. No upstream call beyond the chart's.
    /// `window` (default 14, the configured N) is 1 to 90, else `BAD_USER_INPUT`.
    async fn anomalies(
        &self,
        ctx: &Context<'_>,
        window: Option<i32>,
        #[graphql(default = 3.5)] threshold: f64,
    ) -> crate::error::Result<Vec<super::insights::Anomaly>> {
        let config = super::insights::anomaly_config(ctx, window, threshold)?;
        let index = self.series.get_or_init(|| super::insights::index_series(&self.items));
        Ok(super::insights::point_anomalies(&self.items, index, self.index, config))
    }
}

impl LeafFields for ChartPoint {
    fn leaf(name: &str) -> Option<Getter<Self>> {
        Some(match name {
            "timestamp" => |p| scalar(&p.data().timestamp),
            "total" => |p| scalar(&p.data().total()),
            _ => return None,
        })
    }
}

/// One plotted value.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = super::cost::cost::apply("0".to_owned()))]
pub struct ChartValue {
    /// The series id (a deployment id, a dimension, ...).
    pub id: String,
    /// The series name.
    pub name: String,
    /// The value, in ECU.
    pub value: f64,
}

/// Prepaid credits of an organization, in ECU.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = super::cost::cost::apply("0".to_owned()))]
pub struct Balance {
    /// Credits available, in ECU.
    pub available: f64,
    /// Credits remaining, in ECU.
    pub remaining: f64,
    /// The credit grants.
    pub line_items: Vec<BalanceLineItem>,
}

/// One prepaid credit grant.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = super::cost::cost::apply("0".to_owned()))]
pub struct BalanceLineItem {
    /// The grant's id.
    pub id: String,
    /// ECU granted.
    pub ecu_quantity: f64,
    /// ECU left of this grant.
    pub ecu_balance: f64,
    /// When the grant starts.
    pub start: DateTime<Utc>,
    /// When the grant ends.
    pub end: DateTime<Utc>,
}

impl From<&v1::Balance> for Balance {
    fn from(b: &v1::Balance) -> Self {
        Balance {
            available: b.available,
            remaining: b.remaining,
            line_items: b
                .line_items
                .iter()
                .map(|l| BalanceLineItem {
                    id: l.id.clone(),
                    ecu_quantity: l.ecu_quantity,
                    ecu_balance: l.ecu_balance,
                    start: l.start,
                    end: l.end,
                })
                .collect(),
        }
    }
}

/// The cost overview of an organization (Elastic v1 `GET /billing/costs/{organization_id}`).
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = super::cost::cost::apply("0".to_owned()))]
pub struct CostsOverview {
    /// Total cost over the range, in ECU.
    pub total: f64,
    /// Costs covered by trials, in ECU.
    pub trials: f64,
    /// The current hourly rate, in ECU per hour.
    pub hourly_rate: f64,
    /// The total split by dimension.
    pub dimensions: Vec<CostDimension>,
    /// Prepaid credits; null for organizations without them.
    pub balance: Option<Balance>,
}

impl From<&v1::CostsOverview> for CostsOverview {
    fn from(o: &v1::CostsOverview) -> Self {
        CostsOverview {
            total: o.costs.total,
            trials: o.trials,
            hourly_rate: o.hourly_rate,
            dimensions: dimensions(&o.costs),
            balance: o.balance.as_ref().map(Balance::from),
        }
    }
}

/// Itemized costs (Elastic v1 `.../items`), in ECU.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = super::cost::cost::apply("0".to_owned()))]
pub struct ItemizedCosts {
    /// Total cost, in ECU.
    pub total: f64,
    /// The total split by dimension.
    pub dimensions: Vec<CostDimension>,
    /// Data transfer and storage lines.
    pub data_transfer_and_storage: Vec<DataTransferItem>,
    /// Compute resources (instance configurations).
    pub resources: Vec<ResourceItem>,
}

/// A data transfer or storage line.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = super::cost::cost::apply("0".to_owned()))]
pub struct DataTransferItem {
    /// The line's name, such as `AWS Data Transfer Out`.
    pub name: String,
    /// The SKU.
    pub sku: String,
    /// The dimension (`data_out`, `storage_bytes`, ...).
    #[graphql(name = "type")]
    pub kind: String,
    /// Cost in ECU.
    pub cost: f64,
    /// Quantity in the line's unit.
    pub quantity: f64,
    /// Quantity as the upstream formats it, such as `8.3267 GB`.
    pub formatted_quantity: String,
    /// ECU per unit.
    pub rate: f64,
    /// Rate as the upstream formats it.
    pub formatted_rate: String,
}

/// One compute resource's cost over a period.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = super::cost::cost::apply("0".to_owned()))]
pub struct ResourceItem {
    /// The configuration's name.
    pub name: String,
    /// The SKU, such as `aws.es.datahot.c6gd_us-east-1_4096_2`.
    pub sku: String,
    /// `elasticsearch`, `kibana`, `apm`, ...; null when the upstream sends none.
    pub kind: Option<String>,
    /// Hours billed.
    pub hours: f64,
    /// Instances running.
    pub instance_count: u32,
    /// Cost in ECU.
    pub price: f64,
    /// ECU per hour.
    pub price_per_hour: f64,
    /// The span billed.
    pub period: Period,
}

impl From<&v1::ItemsCosts> for ItemizedCosts {
    fn from(i: &v1::ItemsCosts) -> Self {
        ItemizedCosts {
            total: i.costs.total,
            dimensions: dimensions(&i.costs),
            data_transfer_and_storage: i
                .data_transfer_and_storage
                .iter()
                .map(|d| DataTransferItem {
                    name: d.name.clone(),
                    sku: d.sku.clone(),
                    kind: d.kind.as_str().to_owned(),
                    cost: d.cost,
                    quantity: d.quantity.value,
                    formatted_quantity: d.quantity.formatted_value.clone(),
                    rate: d.rate.value,
                    formatted_rate: d.rate.formatted_value.clone(),
                })
                .collect(),
            resources: i
                .resources
                .iter()
                .map(|r| ResourceItem {
                    name: r.name.clone(),
                    sku: r.sku.clone(),
                    kind: r.kind.as_ref().map(|k| k.as_str().to_owned()),
                    hours: r.hours,
                    instance_count: r.instance_count,
                    price: r.price,
                    price_per_hour: r.price_per_hour,
                    period: (&r.period).into(),
                })
                .collect(),
        }
    }
}

/// One SKU's usage and cost (Elastic v2 line item), in ECU.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = super::cost::cost::apply("0".to_owned()))]
pub struct LineItem {
    /// The line's name, such as `AWS Data Transfer Out`.
    pub name: String,
    /// The SKU.
    pub sku: String,
    /// The line's type (`capacity`, `data_out`, `synthetics_browser`, ...).
    #[graphql(name = "type")]
    pub kind: String,
    /// `elasticsearch`, `kibana`, ... for capacity lines; null otherwise.
    pub resource_kind: Option<String>,
    /// The unit of `quantity`: `hour`, `GB`, `1000 API Calls`, ...
    pub unit: String,
    /// Quantity used, in `unit`.
    pub quantity: f64,
    /// Quantity as the upstream formats it, such as `24 hours`.
    pub formatted_quantity: String,
    /// ECU per unit.
    pub rate: f64,
    /// Rate as the upstream formats it, such as `0.1208 per hour`.
    pub formatted_rate: String,
    /// Cost in ECU: quantity times rate, rounded to 4 decimals.
    pub total_ecu: f64,
    /// Price segments, when the price is tiered or changed within the range.
    pub quantities: Vec<PriceSegment>,
}

/// Usage in one price segment of a line item.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = super::cost::cost::apply("0".to_owned()))]
pub struct PriceSegment {
    /// Segment start.
    pub from: Option<DateTime<Utc>>,
    /// Segment end.
    pub to: Option<DateTime<Utc>>,
    /// Cost in ECU.
    pub total_ecu: f64,
    /// ECU per unit.
    pub rate: f64,
    /// Quantity used in the segment.
    pub quantity: Option<f64>,
    /// Price tiers of the segment.
    pub tiers: Vec<PriceTier>,
}

/// One tier of a tiered price.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = super::cost::cost::apply("0".to_owned()))]
pub struct PriceTier {
    /// Lower bound of the tier, in the line's unit.
    pub min: f64,
    /// Upper bound; null for the open top tier.
    pub max: Option<f64>,
    /// Quantity in the tier.
    pub quantity: f64,
    /// ECU per unit in the tier.
    pub rate: f64,
    /// Cost in ECU.
    pub total_ecu: f64,
}

impl From<&v2::ProductLineItem> for LineItem {
    fn from(l: &v2::ProductLineItem) -> Self {
        LineItem {
            name: l.name.clone(),
            sku: l.sku.clone(),
            kind: l.kind.as_str().to_owned(),
            resource_kind: l.resource_kind.as_ref().map(|k| k.as_str().to_owned()),
            unit: l.unit.clone(),
            quantity: l.quantity.value,
            formatted_quantity: l.quantity.formatted_value.clone(),
            rate: l.rate.value,
            formatted_rate: l.rate.formatted_value.clone(),
            total_ecu: l.total_ecu,
            quantities: l
                .quantities
                .iter()
                .map(|q| PriceSegment {
                    from: q.from,
                    to: q.to,
                    total_ecu: q.total_ecu,
                    rate: q.rate.value,
                    quantity: q.quantity.as_ref().map(|q| q.value),
                    tiers: q
                        .tiers
                        .iter()
                        .map(|t| PriceTier {
                            min: t.min,
                            max: t.max,
                            quantity: t.quantity.value,
                            rate: t.rate.value,
                            total_ecu: t.total_ecu,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

impl LeafFields for LineItem {
    fn leaf(name: &str) -> Option<Getter<Self>> {
        Some(match name {
            "name" => |l| scalar(&l.name),
            "sku" => |l| scalar(&l.sku),
            "type" => |l| scalar(&l.kind),
            "resourceKind" => |l| optional(&l.resource_kind),
            "unit" => |l| scalar(&l.unit),
            "quantity" => |l| scalar(&l.quantity),
            "formattedQuantity" => |l| scalar(&l.formatted_quantity),
            "rate" => |l| scalar(&l.rate),
            "formattedRate" => |l| scalar(&l.formatted_rate),
            "totalEcu" => |l| scalar(&l.total_ecu),
            _ => return None,
        })
    }
}

pub(crate) fn line_items<C: FromIterator<LineItem>>(items: &[v2::ProductLineItem]) -> C {
    items.iter().map(LineItem::from).collect()
}

/// Costs grouped by product (Elastic v2 `.../items`), in ECU.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = super::cost::cost::apply("0".to_owned()))]
pub struct Product {
    /// The product (or product family), as the upstream names it.
    #[graphql(name = "type")]
    pub kind: String,
    /// Cost in ECU.
    pub total_ecu: f64,
    /// The product's line items.
    pub line_items: Vec<LineItem>,
}

pub(crate) fn products(items: &v2::ItemsCosts) -> Vec<Product> {
    items
        .products()
        .iter()
        .map(|p| Product {
            kind: p.kind.clone(),
            total_ecu: p.total_ecu,
            line_items: line_items(&p.product_line_items),
        })
        .collect()
}

/// Serverless grouping of v2 product costs.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerlessGroupBy {
    /// One entry per product.
    Product,
    /// One entry per product family.
    ProductFamily,
}

impl From<ServerlessGroupBy> for billing_model::ServerlessGroupBy {
    fn from(g: ServerlessGroupBy) -> Self {
        match g {
            ServerlessGroupBy::Product => billing_model::ServerlessGroupBy::Product,
            ServerlessGroupBy::ProductFamily => billing_model::ServerlessGroupBy::ProductFamily,
        }
    }
}

/// Which instances an organization chart covers.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceTypeFilter {
    /// Deployments and serverless projects.
    All,
    /// Hosted deployments only.
    Deployments,
    /// Serverless projects only.
    Projects,
}

impl From<InstanceTypeFilter> for billing_model::InstanceTypeFilter {
    fn from(t: InstanceTypeFilter) -> Self {
        match t {
            InstanceTypeFilter::All => billing_model::InstanceTypeFilter::All,
            InstanceTypeFilter::Deployments => billing_model::InstanceTypeFilter::Deployments,
            InstanceTypeFilter::Projects => billing_model::InstanceTypeFilter::Projects,
        }
    }
}
