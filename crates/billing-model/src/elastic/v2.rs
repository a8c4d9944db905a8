//! Elastic Cloud billing v2 (`/api/v2/billing/organizations/{organization_id}/...`). Money in ECU.
//!
//! The published docs call `total_ecu` an integer; it is a float everywhere. `instances` and
//! `products` may be `null` on a 200. Both are modelled as they arrive and read through accessors.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::serde_util::null_as_default;
use crate::{DimensionType, DisplayQuantityType, InstanceId, InstanceType, ResourceKind};

pub use crate::chart::{ChartItem, ChartItemValue, ChartItems};

/// The 200 body of `GET /costs/instances`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstancesCosts {
    pub total_ecu: f64,
    /// `null` on a 200 when there is no data (Elastic's own mock); see [`InstancesCosts::instances`].
    #[serde(default)]
    pub instances: Option<Vec<Instance>>,
}

impl InstancesCosts {
    /// The instances, empty when the service sent `null` or nothing.
    pub fn instances(&self) -> &[Instance] {
        self.instances.as_deref().unwrap_or_default()
    }
}

/// The 200 body of `GET /costs/items` and `GET /costs/instances/{instance_id}/items`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemsCosts {
    pub total_ecu: f64,
    #[serde(default)]
    pub products: Option<Vec<Product>>,
}

impl ItemsCosts {
    /// The products, empty when the service sent `null` or nothing.
    pub fn products(&self) -> &[Product] {
        self.products.as_deref().unwrap_or_default()
    }
}

/// `Instance`: a deployment or a serverless project, with its line items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub id: InstanceId,
    /// May be missing for serverless projects unless `include_names=true`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    pub total_ecu: f64,
    #[serde(rename = "type")]
    pub kind: InstanceType,
    #[serde(default, deserialize_with = "null_as_default")]
    pub product_line_items: Vec<ProductLineItem>,
}

/// `Product`: line items grouped by product (or product family).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub total_ecu: f64,
    /// The product, such as `elasticsearch` or `observability`; no values are documented.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub product_line_items: Vec<ProductLineItem>,
}

/// `ProductLineItem`: one SKU's usage and cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductLineItem {
    pub name: String,
    /// `round(quantity.value * rate.value, 4)`, in ECU.
    pub total_ecu: f64,
    #[serde(rename = "type")]
    pub kind: DimensionType,
    #[serde(default, deserialize_with = "null_as_default")]
    pub sku: String,
    /// `hour`, `GB`, `1000 API Calls`, `test`, `region`, ...
    #[serde(default, deserialize_with = "null_as_default")]
    pub unit: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub quantity: Quantity,
    pub display_quantity: DisplayQuantity,
    #[serde(default, deserialize_with = "null_as_default")]
    pub rate: Rate,
    /// `elasticsearch`, `kibana`, ... for capacity lines; `null` or absent otherwise.
    #[serde(default, rename = "kind")]
    pub resource_kind: Option<ResourceKind>,
    /// Empty unless the price is tiered or changed within the range.
    #[serde(default, deserialize_with = "null_as_default")]
    pub quantities: Vec<ProductLineItemQuantity>,
}

/// `Quantity`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Quantity {
    #[serde(default)]
    pub value: f64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub formatted_value: String,
}

/// `Rate`: ECU per unit.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Rate {
    #[serde(default)]
    pub value: f64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub formatted_value: String,
}

/// `DisplayQuantity`: "additional properties are allowed", and they are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DisplayQuantity {
    #[serde(default)]
    pub value: f64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub formatted_value: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<DisplayQuantityType>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// `ProductLineItemQuantity`: usage in one price segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductLineItemQuantity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    #[serde(default)]
    pub total_ecu: f64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub rate: Rate,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tiers: Vec<Tier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Quantity>,
}

/// `Tier`: one step of a tiered price. The open top tier has no `max`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tier {
    #[serde(default)]
    pub min: f64,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub total_ecu: f64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub quantity: Quantity,
    #[serde(default, deserialize_with = "null_as_default")]
    pub rate: Rate,
}

/// The JSON error body of v2: `{error, message, detail, success}`.
///
/// v2 also answers 401 and 403 as `text/plain`; those are not this type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A code such as `invalid_input`.
    pub error: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<ErrorDetail>,
    #[serde(default)]
    pub success: bool,
}

/// Per-field messages of an [`ErrorBody`]; `_schema` holds the cross-field ones.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ErrorDetail {
    #[serde(default, deserialize_with = "null_as_default")]
    pub messages: BTreeMap<String, Vec<String>>,
}

/// The earliest `from` v2 accepts.
pub fn earliest_from() -> DateTime<Utc> {
    DateTime::from_timestamp(1_609_459_200, 0).unwrap_or_default()
}
