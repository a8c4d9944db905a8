//! Elastic v1 cost views: dimensions, periods, the balance, the overview, itemized costs.

use async_graphql::resolver_utils::enum_value;
use async_graphql::{Enum, SimpleObject};
use billing_model::DimensionType;
use billing_model::elastic::v1;
use chrono::{DateTime, Utc};

use super::super::leaves::{Getter, LeafFields, scalar};

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
#[graphql(directive = crate::schema::cost::cost::apply("0".to_owned()))]
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
#[graphql(directive = crate::schema::cost::cost::apply("0".to_owned()))]
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

/// Prepaid credits of an organization, in ECU.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = crate::schema::cost::cost::apply("0".to_owned()))]
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
#[graphql(directive = crate::schema::cost::cost::apply("0".to_owned()))]
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
#[graphql(directive = crate::schema::cost::cost::apply("0".to_owned()))]
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
#[graphql(directive = crate::schema::cost::cost::apply("0".to_owned()))]
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
#[graphql(directive = crate::schema::cost::cost::apply("0".to_owned()))]
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
#[graphql(directive = crate::schema::cost::cost::apply("0".to_owned()))]
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
