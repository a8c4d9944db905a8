//! Talkdesk Billing Insights, "Get Monthly Usage" (`GET /express/usage/month`): HAL pages of
//! per-account, per-month, per-product usage aggregates, the `filter` grammar, and the OAuth
//! token endpoint's payloads ([`oauth`]).
//!
//! No real payload of this endpoint is published. The page shape follows Talkdesk's paging doc and
//! sibling endpoints: counters at top level, links under `_links`. The usage page's own doc lists
//! the links at top level instead, so both places are read; they are written under `_links`.

mod filter;
pub mod oauth;

use serde::{Deserialize, Serialize};

use crate::serde_util::null_as_default;
use crate::{AccountId, Direction, Month, UsageType};

pub use filter::{Field, Filter, FilterError, MAX_FILTER_LEN};

/// The most results per page the API serves.
pub const MAX_PER_PAGE: u32 = 250;
/// The page size when none is given.
pub const DEFAULT_PER_PAGE: u32 = 50;

/// One page of `GET /express/usage/month`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(from = "RawUsagePage")]
pub struct UsagePage {
    /// Results on this page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_page: Option<u64>,
    /// Results on all pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_pages: Option<u64>,
    #[serde(rename = "_embedded")]
    pub embedded: UsageEmbedded,
    #[serde(rename = "_links")]
    pub links: Links,
}

impl UsagePage {
    /// The aggregates on this page.
    pub fn usage(&self) -> &[UsageAggregate] {
        &self.embedded.usage
    }

    /// The next page's link; absent on the last page.
    pub fn next(&self) -> Option<&str> {
        self.links.next.as_ref().map(|l| l.href.as_str())
    }
}

/// `_embedded` of a usage page.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UsageEmbedded {
    #[serde(default, deserialize_with = "null_as_default")]
    pub usage: Vec<UsageAggregate>,
}

/// HAL links of a page.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Links {
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show: Option<Link>,
}

impl Links {
    /// Fills the links this one lacks from `other`.
    fn or(self, other: Links) -> Links {
        Links {
            self_: self.self_.or(other.self_),
            first: self.first.or(other.first),
            last: self.last.or(other.last),
            next: self.next.or(other.next),
            prev: self.prev.or(other.prev),
            show: self.show.or(other.show),
        }
    }
}

/// A HAL link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub href: String,
}

/// The page as it may arrive: links under `_links`, at top level, or both.
#[derive(Deserialize)]
struct RawUsagePage {
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    page: Option<u64>,
    #[serde(default)]
    per_page: Option<u64>,
    #[serde(default)]
    total: Option<u64>,
    #[serde(default)]
    total_pages: Option<u64>,
    #[serde(rename = "_embedded", default, deserialize_with = "null_as_default")]
    embedded: UsageEmbedded,
    #[serde(rename = "_links", default, deserialize_with = "null_as_default")]
    links: Links,
    #[serde(flatten)]
    top_level_links: Links,
}

impl From<RawUsagePage> for UsagePage {
    fn from(raw: RawUsagePage) -> Self {
        UsagePage {
            count: raw.count,
            page: raw.page,
            per_page: raw.per_page,
            total: raw.total,
            total_pages: raw.total_pages,
            embedded: raw.embedded,
            links: raw.links.or(raw.top_level_links),
        }
    }
}

/// One usage aggregate: an account's usage of one product in one month.
///
/// The doc marks no field required, so only `id` is; the rest may be missing or `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageAggregate {
    /// A 32-hex record id, unique per row and the only sort key.
    pub id: String,
    #[serde(default)]
    pub account_id: Option<AccountId>,
    #[serde(default)]
    pub product_id: Option<String>,
    #[serde(default, rename = "aggr_product_id")]
    pub aggregated_product_id: Option<String>,
    #[serde(default)]
    pub month: Option<Month>,
    #[serde(default, rename = "type")]
    pub kind: Option<UsageType>,
    #[serde(default)]
    pub description: Option<String>,
    /// ISO 4217, such as `USD`.
    #[serde(default)]
    pub currency: Option<String>,
    /// `null` when not applicable.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// `null` when not applicable; allowed values are not published.
    #[serde(default)]
    pub resolution: Option<String>,
    /// The unit of measure; allowed values are not published.
    #[serde(default)]
    pub unit: Option<String>,
    /// Price per unit, in `currency`.
    #[serde(default)]
    pub price: Option<f64>,
    #[serde(default)]
    pub wallet_name: Option<String>,
    #[serde(default)]
    pub number_of_units: Option<f64>,
    /// Total in `currency`.
    #[serde(default)]
    pub total_amount: Option<f64>,
}

/// The Talkdesk error body: `{code, message, description?, fields?[{name, description}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

/// One field's complaint in an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub name: String,
    pub description: String,
}

/// `order_by`: only `id` is sortable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum UsageOrder {
    #[serde(rename = "id:asc")]
    IdAsc,
    /// The API's default.
    #[default]
    #[serde(rename = "id:desc")]
    IdDesc,
}

impl UsageOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            UsageOrder::IdAsc => "id:asc",
            UsageOrder::IdDesc => "id:desc",
        }
    }
}

impl std::str::FromStr for UsageOrder {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "id:asc" => Ok(UsageOrder::IdAsc),
            "id:desc" => Ok(UsageOrder::IdDesc),
            _ => Err(FilterError::new(format!("invalid order_by {s:?}: expected id:asc or id:desc"))),
        }
    }
}

impl std::fmt::Display for UsageOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
