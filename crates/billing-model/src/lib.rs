//! Serde types for every payload of the three billing upstreams, and the domain types shared above them.
//!
//! The wire types mirror the JSON the real services send, which is not always what their docs say:
//! lists may arrive as `null`, integers as floats, enums with values nobody announced. Each quirk of
//! `shared/upstream/CONTRACT.md` is handled here once, so the layers above read clean values.
//!
//! - [`elastic::v1`]: Elastic Cloud billing v1 (`/api/v1/billing/costs/...`).
//! - [`elastic::v2`]: Elastic Cloud billing v2 (`/api/v2/billing/organizations/...`).
//! - [`talkdesk`]: Talkdesk Billing Insights monthly usage (`/express/usage/month`), its filter grammar,
//!   and the OAuth token endpoint's payloads ([`talkdesk::oauth`]).
//! - [`chart`]: the chart payload both Elastic versions share.
//! - Domain types: [`DateRange`], [`Bucketing`], [`Month`], the id newtypes and the open enums.
//!
//! This crate does no I/O. What it reads it can write back, so the simulator serves these same types.

#[macro_use]
mod macros;

pub mod chart;
pub mod elastic;
mod enums;
pub mod ids;
mod month;
mod range;
pub mod serde_util;
pub mod talkdesk;

pub use chart::{ChartItem, ChartItemValue, ChartItems};
pub use enums::{
    DimensionType, Direction, DisplayQuantityType, InstanceType, InstanceTypeFilter, ResourceKind, ServerlessGroupBy,
    UsageType,
};
pub use ids::{AccountId, DeploymentId, IdError, InstanceId, OrganizationId};
pub use month::{Month, MonthError};
pub use range::{Bucketing, BucketingError, DateRange, DateRangeError, parse_instant};
