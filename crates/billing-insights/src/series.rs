//! Daily cost series: what the other rules read, taken out of chart answers.

use std::collections::BTreeMap;

use billing_model::ChartItems;
use chrono::NaiveDate;

/// One day's cost, in the chart's unit (ECU for Elastic).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DailyCost {
    pub day: NaiveDate,
    pub cost: f64,
}

/// Daily series per value id (a deployment or instance id), summed over points of the same day,
/// in day order. One pass over the chart.
pub fn by_id(chart: &ChartItems) -> BTreeMap<String, Vec<DailyCost>> {
    let mut days: BTreeMap<String, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
    for item in &chart.data {
        let day = item.timestamp.date_naive();
        for v in &item.values {
            *days.entry(v.id.clone()).or_default().entry(day).or_default() += v.value;
        }
    }
    days.into_iter().map(|(id, d)| (id, d.into_iter().map(|(day, cost)| DailyCost { day, cost }).collect())).collect()
}

/// The daily total of every value, in day order.
pub fn totals(chart: &ChartItems) -> Vec<DailyCost> {
    let mut days: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    for item in &chart.data {
        let day = item.timestamp.date_naive();
        *days.entry(day).or_default() += item.total();
    }
    days.into_iter().map(|(day, cost)| DailyCost { day, cost }).collect()
}
