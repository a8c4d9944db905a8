//! The chart payload of Elastic v1 `/charts` and v2 `/charts`: points in time, each with values.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::serde_util::{epoch, null_as_default};

/// `ChartItems`: the body of every charts endpoint, v1 and v2.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChartItems {
    #[serde(default, deserialize_with = "null_as_default")]
    pub data: Vec<ChartItem>,
}

/// One point on the X axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartItem {
    /// The bucket's start. The wire unit is undocumented: seconds and milliseconds both read.
    #[serde(with = "epoch")]
    pub timestamp: DateTime<Utc>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub values: Vec<ChartItemValue>,
}

/// One plotted value, in ECU.
///
/// v1 requires every field; v2 marks none required. A missing `id` or `name` reads as empty and a
/// missing `value` as zero, which adds nothing to a point's total.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChartItemValue {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// v2 only ("Item type", e.g. `deployment`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub value: f64,
}

impl ChartItem {
    /// The sum of the point's values, in ECU.
    pub fn total(&self) -> f64 {
        self.values.iter().map(|v| v.value).sum()
    }
}
