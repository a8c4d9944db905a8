//! Anomalies: days whose cost leaves a robust band around the trailing baseline.
//!
//! The baseline of a day is the median of the `window` days before it; the band is that median
//! plus or minus `threshold` robust standard deviations, where one is 1.4826 × the median
//! absolute deviation (MAD) of those days (1.4826 makes it the standard deviation for normal
//! data). Median and MAD ignore the outliers they are looking for, where a mean and standard
//! deviation would be dragged along by them. A perfectly steady cost has a MAD of zero, which
//! would flag any change however small, so the deviation is floored at 1 % of the median.

use chrono::NaiveDate;

use crate::DailyCost;

/// The robust standard deviation per unit of MAD.
pub const MAD_SCALE: f64 = 1.4826;

/// How anomalies are found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnomalyConfig {
    /// Days before a day that make its baseline (N).
    pub window: usize,
    /// Half-width of the band, in robust standard deviations.
    pub threshold: f64,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig { window: 14, threshold: 3.5 }
    }
}

/// A day scored against its baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub day: NaiveDate,
    pub actual: f64,
    /// The baseline's median.
    pub expected: f64,
    pub low: f64,
    pub high: f64,
    /// `(actual - expected)` in robust standard deviations.
    pub score: f64,
}

impl Scored {
    /// Whether the day left the band.
    pub fn is_anomaly(&self) -> bool {
        self.actual < self.low || self.actual > self.high
    }
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Scores one value against a baseline of earlier values.
pub fn score(day: NaiveDate, actual: f64, baseline: &[f64], threshold: f64) -> Scored {
    let mut sorted: Vec<f64> = baseline.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let expected = median(&sorted);
    let mut deviations: Vec<f64> = sorted.iter().map(|v| (v - expected).abs()).collect();
    deviations.sort_by(f64::total_cmp);
    let sigma = (MAD_SCALE * median(&deviations)).max(0.01 * expected.abs()).max(f64::MIN_POSITIVE);
    Scored {
        day,
        actual,
        expected,
        low: expected - threshold * sigma,
        high: expected + threshold * sigma,
        score: (actual - expected) / sigma,
    }
}

/// Scores every day of a daily series (in day order, one point per day) that has a full window
/// of earlier days; the earlier ones have no baseline and are left out. `O(n · N log N)`.
pub fn scores(series: &[DailyCost], config: AnomalyConfig) -> Vec<Scored> {
    let window = config.window.max(1);
    series
        .windows(window + 1)
        .filter_map(|w| {
            let (last, before) = w.split_last()?;
            Some(score(last.day, last.cost, &before.iter().map(|p| p.cost).collect::<Vec<_>>(), config.threshold))
        })
        .collect()
}

/// The days of a series that left their band.
pub fn anomalies(series: &[DailyCost], config: AnomalyConfig) -> Vec<Scored> {
    scores(series, config).into_iter().filter(Scored::is_anomaly).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[f64]) -> Vec<DailyCost> {
        let start = NaiveDate::from_ymd_opt(2025, 5, 1).unwrap();
        start.iter_days().zip(values).map(|(day, cost)| DailyCost { day, cost: *cost }).collect()
    }

    #[test]
    fn a_tripled_day_is_found_with_its_baseline() {
        let mut v: Vec<f64> = (0..30).map(|i| 100.0 + f64::from(i % 3)).collect();
        v[20] = 300.0;
        let found = anomalies(&series(&v), AnomalyConfig::default());
        assert_eq!(found.len(), 1, "{found:?}");
        let a = found[0];
        assert_eq!(a.day, NaiveDate::from_ymd_opt(2025, 5, 21).unwrap());
        assert_eq!(a.expected, 101.0);
        assert!(a.score > 3.5 && a.low < 101.0 && a.high > 101.0);
    }

    #[test]
    fn a_steady_series_has_no_anomaly_and_the_first_days_no_score() {
        let v = vec![50.0; 20];
        let s = scores(&series(&v), AnomalyConfig { window: 7, threshold: 3.0 });
        assert_eq!(s.len(), 13);
        assert!(s.iter().all(|d| !d.is_anomaly() && d.score == 0.0));
    }
}
