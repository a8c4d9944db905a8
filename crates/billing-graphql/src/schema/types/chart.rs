//! Charts: how points are grouped, the points and their values.

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, SimpleObject};
use billing_model::ChartItems;
use chrono::{DateTime, Utc};

use super::super::leaves::{Getter, LeafFields, Leaves, scalar};

/// How chart points are grouped.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Bucketing {
    /// One point per UTC day.
    #[default]
    Daily,
    /// One point per calendar month.
    Monthly,
}

impl From<Bucketing> for billing_model::Bucketing {
    fn from(b: Bucketing) -> Self {
        match b {
            Bucketing::Daily => billing_model::Bucketing::Daily,
            Bucketing::Monthly => billing_model::Bucketing::Monthly,
        }
    }
}

/// A chart: cost per time bucket, in ECU.
///
/// It holds the upstream answer and converts a point or value only when it is selected, so a
/// dashboard asking for `points { timestamp total }` copies no series names.
#[derive(Debug, Clone)]
pub struct Chart {
    bucketing: Bucketing,
    items: Arc<ChartItems>,
    index: crate::schema::insights::SharedIndex,
}

impl Chart {
    pub(crate) fn new(bucketing: Bucketing, items: Arc<ChartItems>) -> Self {
        Chart { bucketing, items, index: Default::default() }
    }
}

/// A chart: cost per time bucket, in ECU.
#[Object(directive = crate::schema::cost::cost::apply("0".to_owned()))]
impl Chart {
    /// How the points are grouped.
    async fn bucketing(&self) -> Bucketing {
        self.bucketing
    }

    /// The points, in time order as the upstream sends them.
    async fn points(&self) -> Leaves<ChartPoint> {
        (0..self.items.data.len())
            .map(|index| ChartPoint { items: self.items.clone(), index, series: self.index.clone() })
            .collect()
    }
}

/// One bucket of a chart.
#[derive(Debug, Clone)]
pub struct ChartPoint {
    items: Arc<ChartItems>,
    index: usize,
    series: crate::schema::insights::SharedIndex,
}

impl ChartPoint {
    fn data(&self) -> &billing_model::ChartItem {
        &self.items.data[self.index]
    }
}

/// One bucket of a chart.
#[Object(directive = crate::schema::cost::cost::apply("0".to_owned()))]
impl ChartPoint {
    /// The bucket's start (the upstream's epoch timestamp, read in seconds or milliseconds).
    async fn timestamp(&self) -> DateTime<Utc> {
        self.data().timestamp
    }

    /// The plotted values of the bucket.
    async fn values(&self) -> Vec<ChartValue> {
        self.data()
            .values
            .iter()
            .map(|v| ChartValue { id: v.id.clone(), name: v.name.clone(), value: v.value })
            .collect()
    }

    /// The sum of the values, in ECU.
    async fn total(&self) -> f64 {
        self.data().total()
    }

    /// The values of this point that leave their robust band: the median of the same series'
    /// `window` points before it in this chart, plus or minus `threshold` robust standard
    /// deviations (1.4826 × MAD, floored at 1 % of the median). A series with fewer than
    /// `window` earlier points in the chart is not scored, so ask for a range that starts
    /// `window` buckets before the points you want scored. No upstream call beyond the chart's.
    /// `window` (default 14, the configured N) is 1 to 90, else `BAD_USER_INPUT`.
    async fn anomalies(
        &self,
        ctx: &Context<'_>,
        window: Option<i32>,
        #[graphql(default_with = "crate::schema::insights::DEFAULT_THRESHOLD")] threshold: f64,
    ) -> crate::error::Result<Vec<crate::schema::insights::Anomaly>> {
        let config = crate::schema::insights::anomaly_config(
            crate::loaders::state(ctx).services.config.insights.anomaly_window,
            window,
            threshold,
        )?;
        let index = self.series.get_or_init(|| crate::schema::insights::index_series(&self.items));
        Ok(crate::schema::insights::point_anomalies(&self.items, index, self.index, config))
    }
}

impl LeafFields for ChartPoint {
    fn leaf(name: &str) -> Option<Getter<Self>> {
        Some(match name {
            "timestamp" => |p| scalar(&p.data().timestamp),
            "total" => |p| scalar(&p.data().total()),
            _ => return None,
        })
    }
}

/// One plotted value.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = crate::schema::cost::cost::apply("0".to_owned()))]
pub struct ChartValue {
    /// The series id (a deployment id, a dimension, ...).
    pub id: String,
    /// The series name.
    pub name: String,
    /// The value, in ECU.
    pub value: f64,
}
