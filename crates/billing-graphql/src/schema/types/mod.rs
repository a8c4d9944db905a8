//! Plain output types, by domain: charts, Elastic v1 cost views, Elastic v2 line items.

mod chart;
mod costs;
mod line_items;

pub use chart::*;
pub(crate) use costs::dimensions;
pub use costs::*;
pub use line_items::*;
pub(crate) use line_items::{line_items, products};
