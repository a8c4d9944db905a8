//! Elastic Cloud billing v1 (`/api/v1/billing/costs/{organization_id}...`). All money is in ECU.
//!
//! Field names and requiredness follow `elastic-billing-v1.swagger.json`; lists tolerate `null`,
//! unknown fields are ignored, and enums keep values the spec does not list.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::serde_util::{lenient_u32, null_as_default};
use crate::{DeploymentId, DimensionType, ResourceKind};

pub use crate::chart::{ChartItem, ChartItemValue, ChartItems};

/// `CostsOverview`: `GET /billing/costs/{organization_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostsOverview {
    pub costs: Costs,
    /// Costs covered by trials, in ECU.
    pub trials: f64,
    /// The current hourly rate, in ECU per hour.
    pub hourly_rate: f64,
    /// Present for organizations with prepaid credits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<Balance>,
}

/// `Costs`: a total and its split by dimension.
///
/// Old ECE releases sent `{total, data_transfer_and_storage: number, resources: number}`; those
/// two legacy numbers are kept when present, and `dimensions` is then empty.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Costs {
    pub total: f64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub dimensions: Vec<Dimension>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_transfer_and_storage: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<f64>,
}

/// `Dimension`: the cost of one dimension, in ECU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dimension {
    #[serde(rename = "type")]
    pub kind: DimensionType,
    pub cost: f64,
}

/// `Balance`: prepaid credits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Balance {
    pub available: f64,
    pub remaining: f64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub line_items: Vec<SimplifiedLineItem>,
}

/// `SimplifiedLineItem`: one prepaid credit grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimplifiedLineItem {
    pub id: String,
    pub ecu_quantity: f64,
    pub ecu_balance: f64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// `DeploymentsCosts`: `GET /billing/costs/{organization_id}/deployments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentsCosts {
    pub total_cost: f64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub deployments: Vec<DeploymentCosts>,
}

/// `DeploymentCosts`: one deployment's costs over the range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentCosts {
    pub deployment_id: DeploymentId,
    pub deployment_name: String,
    pub costs: Costs,
    /// ECU per hour.
    pub hourly_rate: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
}

/// `Period`: the span a cost covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// `ItemsCosts`: `GET /billing/costs/{organization_id}/items` and `.../deployments/{id}/items`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemsCosts {
    pub costs: Costs,
    #[serde(default, deserialize_with = "null_as_default")]
    pub data_transfer_and_storage: Vec<DtsDimensionCosts>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub resources: Vec<ItemCosts>,
}

/// `ItemCosts`: the cost of one resource (an instance configuration) over a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemCosts {
    /// Documented as an integer; kept as a number so partial hours survive.
    pub hours: f64,
    #[serde(deserialize_with = "lenient_u32")]
    pub instance_count: u32,
    pub period: Period,
    /// Documented as required, but `null` has been seen for non-compute items.
    #[serde(default)]
    pub kind: Option<ResourceKind>,
    /// ECU.
    pub price: f64,
    /// ECU per hour.
    pub price_per_hour: f64,
    pub name: String,
    pub sku: String,
}

/// `DtsDimensionCosts`: a data transfer or storage line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DtsDimensionCosts {
    /// ECU.
    pub cost: f64,
    pub name: String,
    pub quantity: DtsQuantity,
    pub rate: DtsRate,
    pub sku: String,
    #[serde(rename = "type")]
    pub kind: DimensionType,
}

/// `DtsQuantity`. Documented as int64, read as a number (v2 reports the same quantities as fractions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DtsQuantity {
    pub value: f64,
    pub formatted_value: String,
}

/// `DtsRate`: ECU per unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DtsRate {
    pub value: f64,
    pub formatted_value: String,
}

/// `BasicFailedReply`: the body of every v1 error, beside the `x-cloud-error-codes` header.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BasicFailedReply {
    #[serde(default, deserialize_with = "null_as_default")]
    pub errors: Vec<BasicFailedReplyElement>,
}

/// One error of a [`BasicFailedReply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicFailedReplyElement {
    /// A stable code such as `organization.not_found`.
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
}

impl BasicFailedReply {
    /// A reply with one error.
    pub fn single(code: impl Into<String>, message: impl Into<String>) -> Self {
        BasicFailedReply {
            errors: vec![BasicFailedReplyElement { code: code.into(), message: message.into(), fields: None }],
        }
    }
}

/// The `x-cloud-error-codes` header v1 sets on errors.
pub const ERROR_CODES_HEADER: &str = "x-cloud-error-codes";
