//! FOCUS 1.0 rows (the FinOps Open Cost and Usage Specification) from Elastic v2 instance line
//! items and Talkdesk monthly usage. `docs/focus.md` maps every column and says why.
//!
//! A row holds typed values; [`FocusRow::record`] prints them as the CSV export writes them, in
//! [`COLUMNS`] order: decimals always with a decimal point (so a reader that infers types sees a
//! decimal, not an integer), instants as `YYYY-MM-DDTHH:MM:SSZ`, a null as an empty field.

use billing_model::elastic::v2::{Instance, ProductLineItem};
use billing_model::talkdesk::UsageAggregate;
use billing_model::{DateRange, DimensionType, InstanceType, Month, OrganizationId, UsageType};
use chrono::{DateTime, Utc};

/// How ECU, which is not an ISO 4217 currency, becomes one: `rate` units of `currency` per ECU.
#[derive(Debug, Clone, PartialEq)]
pub struct EcuConversion {
    /// An ISO 4217 code, such as `USD`.
    pub currency: String,
    /// Units of `currency` per ECU.
    pub rate: f64,
}

impl Default for EcuConversion {
    /// 1 ECU = 1 USD, as Elastic prices it.
    fn default() -> Self {
        EcuConversion { currency: "USD".to_owned(), rate: 1.0 }
    }
}

/// Why an [`EcuConversion`] was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionError(pub String);

impl std::fmt::Display for ConversionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConversionError {}

impl EcuConversion {
    /// A conversion of `rate` units of `currency` (three ASCII capitals) per ECU, `rate` finite
    /// and positive.
    pub fn new(currency: &str, rate: f64) -> Result<Self, ConversionError> {
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ConversionError(format!("currency {currency:?} is not an ISO 4217 code")));
        }
        if !rate.is_finite() || rate <= 0.0 {
            return Err(ConversionError(format!("rate {rate} is not a positive number")));
        }
        Ok(EcuConversion { currency: currency.to_owned(), rate })
    }
}

/// FOCUS `ChargeCategory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeCategory {
    Usage,
    Purchase,
}

impl ChargeCategory {
    /// The FOCUS value.
    pub fn as_str(self) -> &'static str {
        match self {
            ChargeCategory::Usage => "Usage",
            ChargeCategory::Purchase => "Purchase",
        }
    }
}

/// One FOCUS 1.0 row. Field names are the FOCUS columns'; `x_` columns are ours.
#[derive(Debug, Clone, PartialEq)]
pub struct FocusRow {
    pub billed_cost: f64,
    pub billing_account_id: String,
    pub billing_account_name: Option<String>,
    pub billing_currency: String,
    pub billing_period_end: DateTime<Utc>,
    pub billing_period_start: DateTime<Utc>,
    pub charge_category: ChargeCategory,
    pub charge_description: Option<String>,
    pub charge_frequency: &'static str,
    pub charge_period_end: DateTime<Utc>,
    pub charge_period_start: DateTime<Utc>,
    pub consumed_quantity: Option<f64>,
    pub consumed_unit: Option<String>,
    pub contracted_cost: f64,
    pub contracted_unit_price: Option<f64>,
    pub effective_cost: f64,
    pub invoice_issuer_name: &'static str,
    pub list_cost: f64,
    pub list_unit_price: Option<f64>,
    pub pricing_category: Option<&'static str>,
    pub pricing_quantity: Option<f64>,
    pub pricing_unit: Option<String>,
    pub provider_name: &'static str,
    pub publisher_name: &'static str,
    pub region_id: Option<String>,
    pub resource_id: Option<String>,
    pub resource_name: Option<String>,
    pub resource_type: Option<String>,
    pub service_category: &'static str,
    pub service_name: String,
    pub sku_id: Option<String>,
    pub sku_price_id: Option<String>,
    pub sub_account_id: Option<String>,
    pub sub_account_name: Option<String>,
    /// `x_EcuBilledCost`: the billed cost in ECU, as Elastic reports it.
    pub x_ecu_billed_cost: Option<f64>,
    /// `x_EcuListUnitPrice`: the unit price in ECU.
    pub x_ecu_list_unit_price: Option<f64>,
    /// `x_EcuRate`: units of `BillingCurrency` per ECU used for this row.
    pub x_ecu_rate: Option<f64>,
    /// `x_ChargeType`: the upstream's own line type (`capacity`, `data_out`, `CALL`, ...).
    pub x_charge_type: Option<String>,
}

/// The CSV columns, in FOCUS 1.0 order (the specification's, alphabetical), then ours.
pub const COLUMNS: [&str; 46] = [
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "SkuId",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "Tags",
    "x_EcuBilledCost",
    "x_EcuListUnitPrice",
    "x_EcuRate",
    "x_ChargeType",
];

/// A decimal as the CSV writes it: plain notation (Rust's `Display` never uses an exponent),
/// always with a decimal point.
pub fn decimal(v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    let s = v.to_string();
    if s.contains('.') { s } else { format!("{s}.0") }
}

/// An instant as FOCUS writes it: `YYYY-MM-DDTHH:MM:SSZ`.
pub fn instant(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl FocusRow {
    /// The row's CSV fields in [`COLUMNS`] order; a null is an empty field.
    pub fn record(&self) -> [String; COLUMNS.len()] {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let num = |v: Option<f64>| v.map(decimal).unwrap_or_default();
        [
            decimal(self.billed_cost),
            self.billing_account_id.clone(),
            text(&self.billing_account_name),
            self.billing_currency.clone(),
            instant(self.billing_period_end),
            instant(self.billing_period_start),
            self.charge_category.as_str().to_owned(),
            // ChargeClass: only corrections carry one; none of these rows is a correction.
            String::new(),
            text(&self.charge_description),
            self.charge_frequency.to_owned(),
            instant(self.charge_period_end),
            instant(self.charge_period_start),
            // Commitment discounts: none of the upstreams reports one.
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            num(self.consumed_quantity),
            text(&self.consumed_unit),
            decimal(self.contracted_cost),
            num(self.contracted_unit_price),
            decimal(self.effective_cost),
            self.invoice_issuer_name.to_owned(),
            decimal(self.list_cost),
            num(self.list_unit_price),
            self.pricing_category.map(str::to_owned).unwrap_or_default(),
            num(self.pricing_quantity),
            text(&self.pricing_unit),
            self.provider_name.to_owned(),
            self.publisher_name.to_owned(),
            text(&self.region_id),
            // RegionName: the upstreams name no region in words.
            String::new(),
            text(&self.resource_id),
            text(&self.resource_name),
            text(&self.resource_type),
            self.service_category.to_owned(),
            self.service_name.clone(),
            text(&self.sku_id),
            text(&self.sku_price_id),
            text(&self.sub_account_id),
            text(&self.sub_account_name),
            // Tags: the upstreams report none.
            String::new(),
            num(self.x_ecu_billed_cost),
            num(self.x_ecu_list_unit_price),
            num(self.x_ecu_rate),
            text(&self.x_charge_type),
        ]
    }
}

/// The billing period of an instant: its calendar month, `[first, first of next)`.
pub fn billing_period(t: DateTime<Utc>) -> DateRange {
    DateRange::month(Month::of(t))
}

/// Splits a range at month starts: one charge period per billing period it touches, in order.
/// Bounded by the range: a range of `n` months gives `n` periods.
pub fn charge_periods(range: &DateRange) -> Vec<DateRange> {
    let mut out = Vec::new();
    let mut from = range.from();
    while from < range.to() {
        let month_end = Month::of(from).succ().start();
        let to = month_end.min(range.to());
        match DateRange::new(from, to) {
            Ok(r) => out.push(r),
            Err(_) => break,
        }
        from = to;
    }
    out
}

/// A v2 unit in FOCUS's unit format (plural, capitalised words; counts of thousands kept).
pub fn focus_unit(unit: &str) -> Option<String> {
    let mapped = match unit.trim() {
        "" => return None,
        "hour" | "hours" => "Hours",
        "GB" => "GB",
        "1000 API Calls" => "1000 Requests",
        "test" | "tests" => "Tests",
        "region" | "regions" => "Regions",
        other => return Some(other.to_owned()),
    };
    Some(mapped.to_owned())
}

/// FOCUS `ServiceCategory` of a v2 line: capacity by the instance's kind, data transfer is
/// networking, storage is storage, synthetics is monitoring.
fn elastic_service_category(instance: &InstanceType, line: &DimensionType) -> &'static str {
    match line {
        DimensionType::DataIn | DimensionType::DataOut | DimensionType::DataInternode => "Networking",
        DimensionType::StorageApi | DimensionType::StorageBytes => "Storage",
        DimensionType::SyntheticsBrowser | DimensionType::SyntheticsLightweight => "Management and Governance",
        _ => match instance {
            InstanceType::Security => "Security",
            InstanceType::Observability => "Management and Governance",
            _ => "Analytics",
        },
    }
}

/// FOCUS `ServiceName` of an instance.
fn elastic_service_name(instance: &InstanceType) -> String {
    match instance {
        InstanceType::Deployment => "Elastic Cloud Hosted".to_owned(),
        InstanceType::Elasticsearch => "Elastic Cloud Serverless Elasticsearch".to_owned(),
        InstanceType::Observability => "Elastic Cloud Serverless Observability".to_owned(),
        InstanceType::Security => "Elastic Cloud Serverless Security".to_owned(),
        other => format!("Elastic Cloud {}", other.as_str()),
    }
}

/// FOCUS `ResourceType` of an instance.
fn elastic_resource_type(instance: &InstanceType) -> String {
    match instance {
        InstanceType::Deployment => "Deployment".to_owned(),
        other => format!("Serverless {} project", other.as_str()),
    }
}

/// The region of a capacity SKU, `{provider}.{machine}_{region}_{ram}_{zones}` (CONTRACT.md 2.6).
pub fn sku_region(sku: &str) -> Option<String> {
    let mut parts = sku.rsplitn(4, '_');
    let (_zones, _ram, region) = (parts.next()?, parts.next()?, parts.next()?);
    parts.next()?;
    (!region.is_empty()).then(|| region.to_owned())
}

/// The FOCUS rows of one charge period of Elastic v2 `/costs/instances`: one per instance and
/// product line item. `period` is the range the answer was asked for, within one month.
pub fn elastic_rows(
    org: &OrganizationId,
    instances: &[Instance],
    period: &DateRange,
    conversion: &EcuConversion,
) -> Vec<FocusRow> {
    let billing = billing_period(period.from());
    instances
        .iter()
        .flat_map(|instance| instance.product_line_items.iter().map(move |line| (instance, line)))
        .map(|(instance, line)| elastic_row(org, instance, line, period, &billing, conversion))
        .collect()
}

fn elastic_row(
    org: &OrganizationId,
    instance: &Instance,
    line: &ProductLineItem,
    period: &DateRange,
    billing: &DateRange,
    conversion: &EcuConversion,
) -> FocusRow {
    let cost = line.total_ecu * conversion.rate;
    let unit = focus_unit(&line.unit);
    let sku = (!line.sku.is_empty()).then(|| line.sku.clone());
    let name = (!instance.name.is_empty()).then(|| instance.name.clone());
    let is_capacity = matches!(line.kind, DimensionType::Capacity);
    FocusRow {
        billed_cost: cost,
        billing_account_id: org.to_string(),
        billing_account_name: Some(format!("Elastic Cloud organization {org}")),
        billing_currency: conversion.currency.clone(),
        billing_period_end: billing.to(),
        billing_period_start: billing.from(),
        charge_category: ChargeCategory::Usage,
        charge_description: Some(line.name.clone()),
        charge_frequency: "Usage-Based",
        charge_period_end: period.to(),
        charge_period_start: period.from(),
        consumed_quantity: Some(line.quantity.value),
        consumed_unit: unit.clone(),
        // No negotiated price is visible through the API: contracted equals list equals billed.
        contracted_cost: cost,
        contracted_unit_price: Some(line.rate.value * conversion.rate),
        effective_cost: cost,
        invoice_issuer_name: "Elastic",
        list_cost: cost,
        list_unit_price: Some(line.rate.value * conversion.rate),
        pricing_category: Some("Standard"),
        pricing_quantity: Some(line.quantity.value),
        pricing_unit: unit,
        provider_name: "Elastic",
        publisher_name: "Elastic",
        region_id: if is_capacity { sku.as_deref().and_then(sku_region) } else { None },
        resource_id: Some(instance.id.to_string()),
        resource_name: name,
        resource_type: Some(elastic_resource_type(&instance.kind)),
        service_category: elastic_service_category(&instance.kind, &line.kind),
        service_name: elastic_service_name(&instance.kind),
        sku_price_id: sku.clone(),
        sku_id: sku,
        // Elastic has no level between the organization and its instances.
        sub_account_id: None,
        sub_account_name: None,
        x_ecu_billed_cost: Some(line.total_ecu),
        x_ecu_list_unit_price: Some(line.rate.value),
        x_ecu_rate: Some(conversion.rate),
        x_charge_type: Some(line.kind.as_str().to_owned()),
    }
}

/// The FOCUS row of one Talkdesk monthly usage aggregate; `None` when it lacks what a row
/// cannot do without (its month, its currency, its account).
pub fn talkdesk_row(row: &UsageAggregate) -> Option<FocusRow> {
    let month = row.month?;
    let currency = row.currency.clone().filter(|c| c.len() == 3)?;
    let account = row.account_id.as_ref()?.to_string();
    let period = DateRange::month(month);
    let cost = row.total_amount.unwrap_or_else(|| row.price.unwrap_or(0.0) * row.number_of_units.unwrap_or(0.0));
    let purchase = matches!(row.kind, Some(UsageType::CreditCommit | UsageType::Recharge));
    let (category, frequency) =
        if purchase { (ChargeCategory::Purchase, "One-Time") } else { (ChargeCategory::Usage, "Usage-Based") };
    let service = row.description.clone().or_else(|| row.product_id.clone()).unwrap_or_else(|| "Talkdesk".into());
    Some(FocusRow {
        billed_cost: cost,
        billing_account_id: account.clone(),
        billing_account_name: None,
        billing_currency: currency,
        billing_period_end: period.to(),
        billing_period_start: period.from(),
        charge_category: category,
        charge_description: row.description.clone(),
        charge_frequency: frequency,
        charge_period_end: period.to(),
        charge_period_start: period.from(),
        consumed_quantity: (!purchase).then_some(row.number_of_units).flatten(),
        consumed_unit: if purchase { None } else { row.unit.clone() },
        contracted_cost: cost,
        contracted_unit_price: row.price,
        effective_cost: cost,
        invoice_issuer_name: "Talkdesk",
        list_cost: cost,
        list_unit_price: row.price,
        pricing_category: Some("Standard"),
        pricing_quantity: row.number_of_units,
        pricing_unit: row.unit.clone(),
        provider_name: "Talkdesk",
        publisher_name: "Talkdesk",
        region_id: None,
        resource_id: None,
        resource_name: None,
        resource_type: None,
        service_category: "Business Applications",
        service_name: service,
        sku_id: row.product_id.clone(),
        sku_price_id: row.product_id.clone(),
        sub_account_id: None,
        sub_account_name: None,
        x_ecu_billed_cost: None,
        x_ecu_list_unit_price: None,
        x_ecu_rate: None,
        x_charge_type: row.kind.as_ref().map(|k| k.as_str().to_owned()),
    })
}
