//! Elastic v2 line items: price segments and tiers, products, and their filters.

use async_graphql::{Enum, SimpleObject};
use billing_model::elastic::v2;
use chrono::{DateTime, Utc};

use super::super::leaves::{Getter, LeafFields, optional, scalar};

/// One SKU's usage and cost (Elastic v2 line item), in ECU.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = crate::schema::cost::cost::apply("0".to_owned()))]
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
#[graphql(directive = crate::schema::cost::cost::apply("0".to_owned()))]
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
#[graphql(directive = crate::schema::cost::cost::apply("0".to_owned()))]
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
#[graphql(directive = crate::schema::cost::cost::apply("0".to_owned()))]
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
