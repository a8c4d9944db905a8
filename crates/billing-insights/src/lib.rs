//! Pure FinOps analytics over the billing model: the answers people build by hand from billing
//! data. No I/O: every function takes model values (or plain numbers) and returns values, so each
//! rule is tested on its own and reusable as a library. `billing-graphql` exposes them.
//!
//! - [`focus`]: FOCUS 1.0 rows from Elastic v2 line items and Talkdesk usage, and their CSV form.
//! - [`series`]: daily cost series out of chart answers.
//! - [`forecast`]: month-to-date actuals plus a projection to month end with a low/high band.
//! - [`anomaly`]: days outside a robust band (median and MAD) around a trailing baseline.
//! - [`compare`]: a figure against the previous range of equal length.
//! - [`credits`]: when prepaid credits run out, at a rate or along a forecast.
//! - [`reconcile`]: v1's total against v2's line items, with a tolerance.

pub mod anomaly;
pub mod compare;
pub mod credits;
pub mod focus;
pub mod forecast;
pub mod reconcile;
pub mod series;

pub use series::DailyCost;
