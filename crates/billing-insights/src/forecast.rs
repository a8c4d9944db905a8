//! Forecast to month end: month-to-date actuals plus a projection of the days left, with a band.
//!
//! **Method.** The projection is a trailing mean of the last `window` complete days, and the band
//! `z` standard deviations of the remaining days' sum (days taken as independent, so the spread
//! grows with the square root of the days left). When the history shows a weekly pattern, the
//! mean is taken per weekday instead: costs driven by traffic dip at weekends, and a flat mean
//! would then under-forecast a month with more weekdays left. "Shows a weekly pattern" means at
//! least two weeks of history and the weekday explaining at least half the variance (R² of
//! grouping by weekday ≥ 0.5): a rule a person can check by hand, that a flat series never meets.
//! Why not something heavier (Holt-Winters, ARIMA): a month of daily points is too short to fit
//! one honestly, and finance wants a number they can recompute.

use chrono::{Datelike, NaiveDate, TimeDelta};

use crate::DailyCost;

/// How the forecast is made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForecastConfig {
    /// Complete days the mean is taken over (the weekday means use up to four weeks).
    pub window: usize,
    /// Half-width of the band, in standard deviations (1.645: a 90 % band for a normal sum).
    pub z: f64,
}

impl Default for ForecastConfig {
    fn default() -> Self {
        ForecastConfig { window: 14, z: 1.645 }
    }
}

/// Which mean the projection used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// One mean over the trailing window.
    TrailingMean,
    /// One mean per weekday over the trailing four weeks.
    WeekdayMean,
}

/// A forecast of the month `today` is in.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// The cost of the month's complete days (before `today`).
    pub month_to_date: f64,
    /// `month_to_date` plus the projection of `today` and the days after it.
    pub projected: f64,
    pub low: f64,
    pub high: f64,
    /// Days projected: `today` to the month's last day.
    pub remaining_days: u32,
    pub method: Method,
    /// The projected cost per remaining day, `today` first.
    pub daily: Vec<(NaiveDate, f64)>,
}

/// The first day of the month after `day`'s.
pub fn next_month_start(day: NaiveDate) -> NaiveDate {
    let (y, m) = if day.month() == 12 { (day.year() + 1, 1) } else { (day.year(), day.month() + 1) };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(day)
}

/// The first day of `day`'s month.
pub fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// The day `n` days before `day`.
fn back(day: NaiveDate, n: usize) -> NaiveDate {
    day - TimeDelta::days(i64::try_from(n).unwrap_or(i64::MAX / 86_400_000))
}

/// The cost of each of the `n` complete days before `today`, oldest first; a day missing from
/// `history` cost nothing (the charts leave out days without usage).
fn trailing(history: &[DailyCost], today: NaiveDate, n: usize) -> Vec<(NaiveDate, f64)> {
    let first = back(today, n);
    let mut out: Vec<(NaiveDate, f64)> = first.iter_days().take_while(|d| *d < today).map(|d| (d, 0.0)).collect();
    for p in history {
        if p.day >= first && p.day < today {
            let i = usize::try_from((p.day - first).num_days()).unwrap_or(usize::MAX);
            if let Some(slot) = out.get_mut(i) {
                slot.1 += p.cost;
            }
        }
    }
    out
}

#[allow(clippy::cast_precision_loss)]
fn mean_sd(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = values.clone().count();
    if n == 0 {
        return (0.0, 0.0);
    }
    let mean = values.clone().sum::<f64>() / n as f64;
    let var = if n > 1 { values.map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64 } else { 0.0 };
    (mean, var.sqrt())
}

/// Per-weekday means and the pooled within-weekday standard deviation, when the weekday
/// explains at least half the variance of at least 14 days.
#[allow(clippy::cast_precision_loss)]
pub fn weekly_pattern(days: &[(NaiveDate, f64)]) -> Option<([f64; 7], f64)> {
    if days.len() < 14 {
        return None;
    }
    let mut groups: [Vec<f64>; 7] = Default::default();
    for (d, v) in days {
        groups[d.weekday().num_days_from_monday() as usize].push(*v);
    }
    if groups.iter().any(Vec::is_empty) {
        return None;
    }
    let (mean, _) = mean_sd(days.iter().map(|d| d.1));
    let total: f64 = days.iter().map(|d| (d.1 - mean).powi(2)).sum();
    let mut means = [0.0; 7];
    let mut within = 0.0;
    for (i, g) in groups.iter().enumerate() {
        means[i] = g.iter().sum::<f64>() / g.len() as f64;
        within += g.iter().map(|v| (v - means[i]).powi(2)).sum::<f64>();
    }
    if total <= f64::EPSILON * mean.abs().max(1.0) || 1.0 - within / total < 0.5 {
        return None;
    }
    let dof = days.len().saturating_sub(7).max(1);
    Some((means, (within / dof as f64).sqrt()))
}

/// Forecasts the month of `today` from the daily `history` (any order; days from `today` on are
/// ignored, since today's is not complete).
#[allow(clippy::cast_precision_loss)]
pub fn forecast(history: &[DailyCost], today: NaiveDate, config: ForecastConfig) -> Forecast {
    let start = month_start(today);
    let end = next_month_start(today);
    let month_to_date: f64 = history.iter().filter(|p| p.day >= start && p.day < today).map(|p| p.cost).sum();
    let remaining: Vec<NaiveDate> = today.iter_days().take_while(|d| *d < end).collect();
    let weekly = weekly_pattern(&trailing(history, today, 28));
    let (method, daily, sd) = match weekly {
        Some((means, sd)) => (
            Method::WeekdayMean,
            remaining.iter().map(|d| (*d, means[d.weekday().num_days_from_monday() as usize])).collect::<Vec<_>>(),
            sd,
        ),
        None => {
            let (mean, sd) = mean_sd(trailing(history, today, config.window.max(1)).into_iter().map(|d| d.1));
            (Method::TrailingMean, remaining.iter().map(|d| (*d, mean)).collect(), sd)
        }
    };
    let projection: f64 = daily.iter().map(|d| d.1).sum();
    let spread = config.z * sd * (remaining.len() as f64).sqrt();
    let projected = month_to_date + projection;
    Forecast {
        month_to_date,
        projected,
        low: (projected - spread).max(month_to_date),
        high: projected + spread,
        remaining_days: u32::try_from(remaining.len()).unwrap_or(u32::MAX),
        method,
        daily,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn series(from: NaiveDate, to: NaiveDate, f: impl Fn(NaiveDate) -> f64) -> Vec<DailyCost> {
        from.iter_days().take_while(|d| *d < to).map(|d| DailyCost { day: d, cost: f(d) }).collect()
    }

    #[test]
    fn a_flat_history_projects_itself_with_no_band() {
        let h = series(day(2025, 5, 1), day(2025, 6, 11), |_| 10.0);
        let f = forecast(&h, day(2025, 6, 11), ForecastConfig::default());
        assert_eq!(f.method, Method::TrailingMean);
        assert_eq!(f.month_to_date, 100.0);
        assert_eq!(f.remaining_days, 20);
        assert_eq!(f.projected, 300.0);
        assert_eq!((f.low, f.high), (300.0, 300.0));
    }

    #[test]
    fn a_weekly_history_is_projected_per_weekday() {
        // 20 on weekdays, 5 at weekends: a flat mean would say 15.71 a day.
        let cost = |d: NaiveDate| if d.weekday().num_days_from_monday() >= 5 { 5.0 } else { 20.0 };
        let h = series(day(2025, 5, 1), day(2025, 6, 11), cost);
        let f = forecast(&h, day(2025, 6, 11), ForecastConfig::default());
        assert_eq!(f.method, Method::WeekdayMean);
        let expected: f64 = series(day(2025, 6, 1), day(2025, 7, 1), cost).iter().map(|p| p.cost).sum();
        assert!((f.projected - expected).abs() < 1e-9, "{} vs {expected}", f.projected);
    }

    #[test]
    fn missing_days_count_as_zero_and_future_days_are_ignored() {
        let mut h = series(day(2025, 6, 1), day(2025, 6, 11), |_| 10.0);
        h.push(DailyCost { day: day(2025, 6, 12), cost: 1e9 });
        let f = forecast(&h, day(2025, 6, 11), ForecastConfig { window: 20, z: 1.0 });
        assert_eq!(f.month_to_date, 100.0);
        // Ten days of 10 and ten of nothing in the window: a mean of 5.
        assert!((f.daily[0].1 - 5.0).abs() < 1e-12);
    }
}
