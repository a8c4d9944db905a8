//! Daily usage math: every number is a pure function of (seed, deployment or project, day).
//!
//! **Range rule.** Days are UTC. A day `[D, D+1)` is in a range `[from, to)` when its start instant
//! `D 00:00Z` satisfies `from <= D < to`; an included day counts in full. Usage exists from the
//! dataset's history start up to and including the clock's current day, and only while a deployment
//! lives (`created <= D < deleted`). Every endpoint sums the same per-day values, so chart points add
//! up to totals, dimensions to totals, deployments to the organization, and months to their days.

use chrono::{DateTime, Utc};

use billing_model::DateRange;

use crate::catalog::{DTS_DIMS, serverless_lines};
use crate::dataset::{Dataset, Deployment, Organization, Project, day_number, hash, month_start_day, unit};

/// Seconds in a day.
pub(crate) const DAY: i64 = 86_400;

/// A half-open span of day numbers, `[first, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Days {
    pub(crate) first: i64,
    pub(crate) end: i64,
}

impl Days {
    /// The days whose start lies in the range, clipped to the days that have data at `now`.
    pub(crate) fn of(ds: &Dataset, range: &DateRange, now: DateTime<Utc>) -> Days {
        let (from, to) = (range.from(), range.to());
        // The first day starting at or after `from`, and one past the last day starting before `to`.
        let first = from.timestamp().div_euclid(DAY)
            + i64::from(from.timestamp().rem_euclid(DAY) != 0 || from.timestamp_subsec_nanos() != 0);
        let end = if to.timestamp_subsec_nanos() != 0 {
            to.timestamp().div_euclid(DAY) + 1
        } else {
            to.timestamp().div_euclid(DAY) + i64::from(to.timestamp().rem_euclid(DAY) != 0)
        };
        let today = day_number(now.date_naive());
        Days { first: first.max(ds.history_start), end: end.min(today + 1) }
    }

    /// These days, restricted to `[first, end)`.
    pub(crate) fn clip(self, first: i64, end: i64) -> Days {
        Days { first: self.first.max(first), end: self.end.min(end) }
    }

    pub(crate) fn len(self) -> i64 {
        (self.end - self.first).max(0)
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = i64> {
        self.first..self.end.max(self.first)
    }
}

/// Indexes of the six v1 dimensions in cost arrays: capacity, then [`DTS_DIMS`] in order.
pub(crate) const CAPACITY: usize = 0;

/// Costs per dimension, capacity first, then [`DTS_DIMS`] in order. ECU.
pub(crate) type DimCosts = [f64; 6];

/// Data transfer and storage quantities of one day, in the v2 units of [`DTS_DIMS`].
pub(crate) type Dts = [f64; 5];

/// The days a deployment lives, as a span of day numbers.
pub(crate) fn lifetime(dep: &Deployment) -> (i64, i64) {
    (day_number(dep.created), dep.deleted.map_or(i64::MAX, day_number))
}

/// A deployment's data transfer and storage on one day it lives.
pub(crate) fn dts_day(seed: u64, dep: &Deployment, day: i64) -> Dts {
    let u = |dim: u64| unit(hash(&[seed, 10, dep.key, u64::from_ne_bytes(day.to_ne_bytes()), dim]));
    // Weekends (1970-01-01 was a Thursday: day % 7 of 2 and 3) see less traffic.
    let weekly = if matches!(day.rem_euclid(7), 2 | 3) { 0.7 } else { 1.0 };
    let age = (day - day_number(dep.created)).clamp(0, 2000);
    #[allow(clippy::cast_precision_loss)]
    let stored_gb = dep.size * 150.0 * (1.0 + 0.003 * age as f64);
    let dts = [
        dep.size * 6.0 * (0.5 + u(0)) * weekly,
        dep.size * 0.8 * (0.3 + u(1)) * weekly,
        dep.size * 4.0 * (0.5 + u(2)) * weekly,
        // Snapshot storage accrues GB-months: a day holds a thirtieth of what is stored.
        stored_gb / 30.0 * (0.97 + 0.06 * u(3)),
        dep.size * 30.0 * (0.5 + u(4)),
    ];
    if dep.spike != Some(day) {
        return dts;
    }
    // The scripted anomaly: a burst of data transfer and storage that triples the day's total.
    // Scaling the quantities (not the costs) keeps every endpoint's figures consistent.
    let dts_cost: f64 = dts.iter().zip(DTS_DIMS.iter()).map(|(q, dim)| q * dim.rate).sum();
    let capacity = dep.hourly_rate() * 24.0;
    let factor = if dts_cost > 0.0 { 1.0 + 2.0 * (capacity + dts_cost) / dts_cost } else { 3.0 };
    dts.map(|q| q * factor)
}

/// A deployment's cost per dimension on one day it lives.
pub(crate) fn day_costs(seed: u64, dep: &Deployment, day: i64) -> DimCosts {
    let dts = dts_day(seed, dep, day);
    let mut costs = [0.0; 6];
    costs[CAPACITY] = dep.hourly_rate() * 24.0;
    for (i, dim) in DTS_DIMS.iter().enumerate() {
        costs[i + 1] = dts[i] * dim.rate;
    }
    costs
}

/// A deployment's usage over some days.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DeploymentUsage {
    /// Days it lived within the span.
    pub(crate) active: Days,
    /// Summed daily data transfer and storage quantities.
    pub(crate) dts: Dts,
    /// Summed daily costs per dimension.
    pub(crate) costs: DimCosts,
}

impl DeploymentUsage {
    /// Whether it ran at all.
    pub(crate) fn is_active(&self) -> bool {
        self.active.len() > 0
    }

    /// Hours it ran.
    pub(crate) fn hours(&self) -> i64 {
        self.active.len() * 24
    }

    /// The total cost: the sum of the dimensions.
    pub(crate) fn total(&self) -> f64 {
        self.costs.iter().sum()
    }
}

/// Sums a deployment's days in the span.
pub(crate) fn deployment_usage(seed: u64, dep: &Deployment, days: Days) -> DeploymentUsage {
    let (created, deleted) = lifetime(dep);
    let active = days.clip(created, deleted);
    let mut usage = DeploymentUsage { active, ..DeploymentUsage::default() };
    for day in active.iter() {
        let dts = dts_day(seed, dep, day);
        let costs = day_costs(seed, dep, day);
        usage.dts.iter_mut().zip(dts).for_each(|(sum, q)| *sum += q);
        usage.costs.iter_mut().zip(costs).for_each(|(sum, c)| *sum += c);
    }
    usage
}

/// A deployment's cost over a range as the v1 endpoints answer it, in ECU (`totalCost` of
/// `/deployments`, the total of its items, the sum of its chart points); `None` when it did not
/// run in the range, so `/deployments` leaves it out. Lets a client's answer be checked against
/// the dataset without asking the simulator.
pub fn deployment_cost(ds: &Dataset, dep: &Deployment, range: &DateRange, now: DateTime<Utc>) -> Option<f64> {
    let usage = deployment_usage(ds.seed, dep, Days::of(ds, range, now));
    usage.is_active().then(|| usage.total())
}

/// An organization's cost over a range as the v1 overview and items answer it, in ECU.
pub fn organization_cost(ds: &Dataset, org: &Organization, range: &DateRange, now: DateTime<Utc>) -> f64 {
    org.deployments.iter().filter_map(|d| deployment_cost(ds, d, range, now)).sum()
}

/// A project's quantity per line on one day, in the order of [`serverless_lines`].
pub(crate) fn project_day(seed: u64, project: &Project, day: i64) -> Vec<f64> {
    serverless_lines(project.kind.as_str())
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let u = unit(hash(&[seed, 11, project.key, u64::from_ne_bytes(day.to_ne_bytes()), i as u64]));
            line.daily * (0.6 + 0.8 * u)
        })
        .collect()
}

/// The days a project has usage within the span.
pub(crate) fn project_days(project: &Project, days: Days) -> Days {
    days.clip(day_number(project.created), i64::MAX)
}

/// A chart bucket: its start instant and the days it sums.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    pub(crate) start: DateTime<Utc>,
    pub(crate) days: Days,
}

/// Splits days into daily buckets, or monthly ones starting on the first of each month.
pub(crate) fn buckets(days: Days, monthly: bool) -> Vec<Bucket> {
    let start_of = |day: i64| DateTime::from_timestamp(day * DAY, 0).unwrap_or_default();
    if !monthly {
        return days.iter().map(|d| Bucket { start: start_of(d), days: Days { first: d, end: d + 1 } }).collect();
    }
    let mut out: Vec<Bucket> = Vec::new();
    for day in days.iter() {
        let month = month_start_day(day);
        match out.last_mut() {
            Some(b) if b.start == start_of(month) => b.days.end = day + 1,
            _ => out.push(Bucket { start: start_of(month), days: Days { first: day, end: day + 1 } }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::config::Scale;

    fn at(y: i32, m: u32, d: u32, h: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, s).unwrap()
    }

    fn days(ds: &Dataset, from: DateTime<Utc>, to: DateTime<Utc>) -> (NaiveDateSpan, i64) {
        let d = Days::of(ds, &DateRange::new(from, to).unwrap(), at(2025, 6, 17, 12, 0));
        ((crate::dataset::day_date(d.first), crate::dataset::day_date(d.end)), d.len())
    }

    type NaiveDateSpan = (chrono::NaiveDate, chrono::NaiveDate);

    #[test]
    fn a_day_is_in_when_its_start_is_in() {
        let ds = Dataset::generate(1, &Scale::default(), at(2025, 6, 17, 12, 0));
        assert_eq!(days(&ds, at(2025, 3, 5, 0, 0), at(2025, 3, 6, 0, 0)).1, 1);
        assert_eq!(days(&ds, at(2025, 3, 5, 0, 0), at(2025, 3, 5, 0, 1)).1, 1);
        assert_eq!(days(&ds, at(2025, 3, 5, 0, 1), at(2025, 3, 6, 0, 0)).1, 0);
        assert_eq!(days(&ds, at(2025, 3, 5, 0, 1), at(2025, 3, 6, 0, 1)).1, 1);
        let fractional = DateTime::from_timestamp(at(2025, 3, 5, 0, 0).timestamp(), 1).unwrap();
        assert_eq!(days(&ds, fractional, at(2025, 3, 7, 0, 0)).1, 1, "a nanosecond after midnight misses the day");
        // Clipped to the history start and to the clock's current day.
        let (span, len) = days(&ds, at(2000, 1, 1, 0, 0), at(2030, 1, 1, 0, 0));
        assert_eq!(span.0, ds.history_start());
        assert_eq!(span.1.to_string(), "2025-06-18");
        assert!(len > 365);
    }

    #[test]
    fn monthly_buckets_start_on_the_first_and_cover_every_day() {
        let d =
            Days { first: crate::dataset::day_number(chrono::NaiveDate::from_ymd_opt(2025, 1, 30).unwrap()), end: 0 };
        let d = Days { end: d.first + 40, ..d };
        let months = buckets(d, true);
        let starts: Vec<String> = months.iter().map(|b| b.start.date_naive().to_string()).collect();
        assert_eq!(starts, ["2025-01-01", "2025-02-01", "2025-03-01"]);
        assert_eq!(months.iter().map(|b| b.days.len()).sum::<i64>(), 40);
        assert_eq!(buckets(d, false).len(), 40);
    }

    #[test]
    fn usage_is_a_pure_function_of_seed_and_day() {
        let ds = Dataset::generate(7, &Scale::default(), at(2025, 6, 17, 12, 0));
        let dep = &ds.demo_org().deployments[0];
        let day = crate::dataset::day_number(chrono::NaiveDate::from_ymd_opt(2025, 5, 1).unwrap());
        assert_eq!(dts_day(7, dep, day), dts_day(7, dep, day));
        assert_ne!(dts_day(7, dep, day), dts_day(7, dep, day + 1));
        let costs = day_costs(7, dep, day);
        assert!((costs[CAPACITY] - dep.hourly_rate() * 24.0).abs() < 1e-12);
        assert!(costs.iter().all(|c| *c >= 0.0));
    }

    #[test]
    fn the_scripted_anomaly_triples_one_day_of_one_deployment() {
        let now = at(2025, 6, 17, 12, 0);
        let ds = Dataset::generate(7, &Scale::default(), now);
        let (dep, date) = ds.scripted_anomaly().unwrap();
        assert_eq!(date, chrono::NaiveDate::from_ymd_opt(2025, 6, 14).unwrap());
        let day = crate::dataset::day_number(date);
        let total = |d: &Deployment, day: i64| day_costs(7, d, day).iter().sum::<f64>();
        let mut unspiked = dep.clone();
        unspiked.spike = None;
        assert!((total(dep, day) - 3.0 * total(&unspiked, day)).abs() < 1e-9);
        assert_eq!(total(dep, day - 1), total(&unspiked, day - 1));
        assert_eq!(total(dep, day + 1), total(&unspiked, day + 1));
        let marked = ds.organizations().iter().flat_map(|o| &o.deployments).filter(|d| d.spike.is_some()).count();
        assert_eq!(marked, 1, "one deployment, one day");
    }
}
