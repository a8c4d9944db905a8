//! FinOps answers over the cost views: forecast to month end, anomalies, period comparison,
//! credits burn-down and reconciliation. The rules are `billing-insights`' pure functions; this
//! module only picks the upstream calls (through the request's loaders, so batched and cached
//! like every other field) and shapes the answers.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use billing_insights::{DailyCost, anomaly, compare, credits, forecast, reconcile, series};
use billing_model::elastic::v2;
use billing_model::{ChartItems, DateRange, DeploymentId, OrganizationId};
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Utc};

use crate::error::{GraphError, Result};
use crate::loaders::{load, state};
use crate::upstream::{Range, V1Charts, V1DeploymentCharts, V1Deployments, V1Overview};

/// The `threshold` of an anomaly field that gives none, in robust standard deviations.
pub(crate) const DEFAULT_THRESHOLD: f64 = 3.5;
/// The longest baseline an anomaly field takes (`window`), in points.
pub(crate) const MAX_WINDOW: i32 = 90;
/// The longest range an anomaly field scores, in days.
pub(crate) const MAX_ANOMALY_DAYS: i64 = 400;
/// Days of history the forecast reads before today, at least (four weeks: the weekday means).
const FORECAST_HISTORY_DAYS: i64 = 28;
/// Complete days the current rate of the credits burn-down is the mean of.
const CURRENT_RATE_DAYS: usize = 7;

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

/// The org-wide daily v1 chart every forecast and the credits burn-down read: from the earlier
/// of the month's start and four weeks back, to the start of today (today is not complete). One
/// key per organization and day, so every such field of a request shares one call.
pub(crate) fn forecast_chart(org: &OrganizationId, now: DateTime<Utc>) -> Result<V1Charts> {
    let today = now.date_naive();
    let from = forecast::month_start(today).min(today - TimeDelta::days(FORECAST_HISTORY_DAYS));
    let range = DateRange::new(midnight(from), midnight(today))?;
    Ok(V1Charts { org: org.clone(), range: Range::Explicit(range), bucketing: billing_model::Bucketing::Daily })
}

/// Which mean a forecast projects with.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForecastMethod {
    /// One mean over the trailing 14 complete days: no weekly pattern in the last four weeks.
    TrailingMean,
    /// One mean per weekday over the last four weeks: the weekday explains at least half the
    /// variance of the daily cost.
    WeekdayMean,
}

/// A forecast of the current calendar month (UTC), in ECU: the cost of its complete days, plus a
/// projection of today and the days left with a 90 % band (1.645 standard deviations of their
/// sum). `billing-insights`' `forecast` module says how and why.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = crate::schema::cost::cost::apply("0".to_owned()))]
pub struct Forecast {
    /// The cost of the month's complete days (before today).
    pub month_to_date: f64,
    /// `monthToDate` plus the projection of today and the rest of the month.
    pub projected: f64,
    /// The low end of the band (never below `monthToDate`).
    pub low: f64,
    /// The high end of the band.
    pub high: f64,
    /// Days projected: today to the month's last day.
    pub remaining_days: u32,
    /// How the projection was made.
    pub method: ForecastMethod,
}

impl From<&forecast::Forecast> for Forecast {
    fn from(f: &forecast::Forecast) -> Self {
        Forecast {
            month_to_date: f.month_to_date,
            projected: f.projected,
            low: f.low,
            high: f.high,
            remaining_days: f.remaining_days,
            method: match f.method {
                forecast::Method::TrailingMean => ForecastMethod::TrailingMean,
                forecast::Method::WeekdayMean => ForecastMethod::WeekdayMean,
            },
        }
    }
}

/// One deployment's forecast.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = crate::schema::cost::cost::apply("0".to_owned()))]
pub struct DeploymentForecast {
    /// The deployment id.
    pub deployment_id: ID,
    /// The deployment name, as the chart gives it.
    pub name: String,
    /// Its forecast.
    pub forecast: Forecast,
}

/// The organization's forecast, from the org-wide chart.
pub(crate) async fn organization_forecast(ctx: &Context<'_>, org: &OrganizationId) -> Result<forecast::Forecast> {
    let now = state(ctx).now;
    let chart = load(ctx, forecast_chart(org, now)?).await?;
    Ok(forecast::forecast(&series::totals(&chart), now.date_naive(), forecast::ForecastConfig::default()))
}

/// Every deployment's forecast, from the org-wide chart, in id order.
pub(crate) async fn deployment_forecasts(ctx: &Context<'_>, org: &OrganizationId) -> Result<Vec<DeploymentForecast>> {
    let now = state(ctx).now;
    let chart = load(ctx, forecast_chart(org, now)?).await?;
    let names = names(&chart);
    Ok(series::by_id(&chart)
        .into_iter()
        .map(|(id, s)| DeploymentForecast {
            name: names.get(id.as_str()).map(|n| (*n).to_owned()).unwrap_or_default(),
            deployment_id: ID(id),
            forecast: Forecast::from(&forecast::forecast(&s, now.date_naive(), forecast::ForecastConfig::default())),
        })
        .collect())
}

/// One deployment's forecast, from the org-wide chart (a deployment absent from it costs nothing).
pub(crate) async fn deployment_forecast(
    ctx: &Context<'_>,
    org: &OrganizationId,
    deployment: &DeploymentId,
) -> Result<Forecast> {
    let now = state(ctx).now;
    let chart = load(ctx, forecast_chart(org, now)?).await?;
    let s = series::by_id(&chart).remove(deployment.as_str()).unwrap_or_default();
    Ok(Forecast::from(&forecast::forecast(&s, now.date_naive(), forecast::ForecastConfig::default())))
}

fn names(chart: &ChartItems) -> HashMap<&str, &str> {
    chart.data.iter().flat_map(|i| &i.values).map(|v| (v.id.as_str(), v.name.as_str())).collect()
}

/// A day (or chart point) whose cost left its band.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = crate::schema::cost::cost::apply("0".to_owned()))]
pub struct Anomaly {
    /// The day (the chart point's start day).
    pub day: NaiveDate,
    /// The series: a deployment id, a dimension (`capacity`, `data_out`, ...) or `total`.
    pub series: String,
    /// The series name.
    pub name: String,
    /// The cost that day, in ECU.
    pub actual: f64,
    /// The baseline: the median of the `window` points before, in ECU.
    pub expected: f64,
    /// The band's low end, in ECU.
    pub low: f64,
    /// The band's high end, in ECU.
    pub high: f64,
    /// `(actual - expected)` in robust standard deviations (1.4826 × the baseline's MAD, floored
    /// at 1 % of the median).
    pub score: f64,
}

fn anomaly_of(scored: &anomaly::Scored, series: &str, name: &str) -> Anomaly {
    Anomaly {
        day: scored.day,
        series: series.to_owned(),
        name: name.to_owned(),
        actual: scored.actual,
        expected: scored.expected,
        low: scored.low,
        high: scored.high,
        score: scored.score,
    }
}

/// The checked arguments of an anomaly field, `configured` the server's default window (the
/// configured N).
pub(crate) fn anomaly_config(configured: usize, window: Option<i32>, threshold: f64) -> Result<anomaly::AnomalyConfig> {
    let window = window.unwrap_or_else(|| i32::try_from(configured).unwrap_or(MAX_WINDOW));
    if !(1..=MAX_WINDOW).contains(&window) {
        return Err(GraphError::BadInput(format!("window: must be between 1 and {MAX_WINDOW}")));
    }
    if !threshold.is_finite() || threshold <= 0.0 {
        return Err(GraphError::BadInput("threshold: must be a positive number".to_owned()));
    }
    Ok(anomaly::AnomalyConfig { window: usize::try_from(window).unwrap_or(14), threshold })
}

/// The days an anomaly field scores (default: the 30 complete days before today) and the range
/// its chart must cover: `window` days more before them, for the first day's baseline.
pub(crate) fn anomaly_ranges(
    now: DateTime<Utc>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    config: anomaly::AnomalyConfig,
) -> Result<(DateRange, DateRange)> {
    let today = midnight(now.date_naive());
    let scored = match Range::from_args(from, to, now)? {
        Some(r) => r.resolve(now),
        None => DateRange::new(today - TimeDelta::days(30), today)?,
    };
    if scored.to() - scored.from() > TimeDelta::days(MAX_ANOMALY_DAYS) {
        return Err(GraphError::BadInput(format!("from/to: at most {MAX_ANOMALY_DAYS} days")));
    }
    let window = i64::try_from(config.window).unwrap_or(i64::from(MAX_WINDOW));
    let fetched = DateRange::new(midnight(scored.from().date_naive()) - TimeDelta::days(window), scored.to())?;
    Ok((scored, fetched))
}

/// The anomalies of every series of a daily chart, on the days of `scored`, in day order then
/// series order. Between a series' first and last point, a day without a point counts as zero
/// (the charts leave such days out); before and after, the series does not exist, so a
/// deployment created or deleted in the range is neither a jump nor a drop.
fn chart_anomalies(
    chart: &ChartItems,
    scored: &DateRange,
    config: anomaly::AnomalyConfig,
    with_total: bool,
) -> Vec<Anomaly> {
    let names = names(chart);
    let mut out: Vec<Anomaly> = Vec::new();
    let mut add = |id: &str, name: &str, s: &[DailyCost]| {
        for a in anomaly::anomalies(&dense(s), config) {
            if midnight(a.day) >= scored.from() && midnight(a.day) < scored.to() {
                out.push(anomaly_of(&a, id, name));
            }
        }
    };
    for (id, s) in series::by_id(chart) {
        add(&id, names.get(id.as_str()).copied().unwrap_or_default(), &s);
    }
    if with_total {
        add("total", "Total", &series::totals(chart));
    }
    out.sort_by(|a, b| a.day.cmp(&b.day).then_with(|| a.series.cmp(&b.series)));
    out
}

/// A day-ordered series with one point a day from its first to its last, zero where it had none.
fn dense(s: &[DailyCost]) -> Vec<DailyCost> {
    let (Some(first), Some(last)) = (s.first(), s.last()) else {
        return Vec::new();
    };
    let mut out: Vec<DailyCost> =
        first.day.iter_days().take_while(|d| *d <= last.day).map(|day| DailyCost { day, cost: 0.0 }).collect();
    for p in s {
        let i = usize::try_from((p.day - first.day).num_days()).unwrap_or(usize::MAX);
        if let Some(slot) = out.get_mut(i) {
            slot.cost += p.cost;
        }
    }
    out
}

/// The organization's anomalies per deployment (each deployment's daily total), from one daily
/// chart of the organization.
pub(crate) async fn organization_anomalies(
    ctx: &Context<'_>,
    org: &OrganizationId,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    config: anomaly::AnomalyConfig,
) -> Result<Vec<Anomaly>> {
    let (scored, fetched) = anomaly_ranges(state(ctx).now, from, to, config)?;
    let q = V1Charts { org: org.clone(), range: Range::Explicit(fetched), bucketing: billing_model::Bucketing::Daily };
    Ok(chart_anomalies(&*load(ctx, q).await?, &scored, config, false))
}

/// A deployment's anomalies per dimension and in total, from its daily chart.
pub(crate) async fn deployment_anomalies(
    ctx: &Context<'_>,
    org: &OrganizationId,
    deployment: &DeploymentId,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    config: anomaly::AnomalyConfig,
) -> Result<Vec<Anomaly>> {
    let (scored, fetched) = anomaly_ranges(state(ctx).now, from, to, config)?;
    let q = V1DeploymentCharts {
        org: org.clone(),
        deployment: deployment.clone(),
        range: Range::Explicit(fetched),
        bucketing: billing_model::Bucketing::Daily,
    };
    Ok(chart_anomalies(&*load(ctx, q).await?, &scored, config, true))
}

/// Each series of a chart as `(point index, value)` pairs in point order, built once per chart
/// when a point's anomalies are first asked for, so each point finds its baseline by a binary
/// search rather than by scanning the points before it.
pub(crate) type SeriesIndex = HashMap<String, Vec<(usize, f64)>>;

pub(crate) fn index_series(chart: &ChartItems) -> SeriesIndex {
    let mut index: SeriesIndex = HashMap::new();
    for (i, item) in chart.data.iter().enumerate() {
        for v in &item.values {
            index.entry(v.id.clone()).or_default().push((i, v.value));
        }
    }
    index
}

/// The values of chart point `point` that leave their band against the same series' `window`
/// points before it in the chart (a series with fewer earlier points is not scored).
pub(crate) fn point_anomalies(
    chart: &ChartItems,
    index: &SeriesIndex,
    point: usize,
    config: anomaly::AnomalyConfig,
) -> Vec<Anomaly> {
    let Some(item) = chart.data.get(point) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for v in &item.values {
        let Some(points) = index.get(&v.id) else { continue };
        let at = points.partition_point(|(i, _)| *i < point);
        if at < config.window {
            continue;
        }
        let baseline: Vec<f64> = points[at - config.window..at].iter().map(|p| p.1).collect();
        let s = anomaly::score(item.timestamp.date_naive(), v.value, &baseline, config.threshold);
        if s.is_anomaly() {
            out.push(anomaly_of(&s, &v.id, &v.name));
        }
    }
    out
}

/// What a figure of a [`CostChange`] is read from.
#[derive(Debug, Clone)]
pub(crate) enum Figure {
    /// The organization's total (v1 overview).
    Organization(V1Overview),
    /// A deployment's total among the organization's (v1 deployments); zero when absent.
    Deployment(V1Deployments, DeploymentId),
    /// Already known.
    Known(f64),
}

impl Figure {
    async fn value(&self, ctx: &Context<'_>) -> Result<f64> {
        match self {
            Figure::Known(v) => Ok(*v),
            Figure::Organization(q) => Ok(load(ctx, q.clone()).await?.costs.total),
            Figure::Deployment(q, id) => Ok(load(ctx, q.clone())
                .await?
                .deployments
                .iter()
                .find(|d| d.deployment_id == *id)
                .map_or(0.0, |d| d.costs.total)),
        }
    }
}

/// A cost figure over a range against the same figure over the previous range of equal length
/// (ending where this one starts), in ECU. Each field calls only what it reads: `current` the
/// range's call, `previous` the previous range's, `absolute` and `percent` both.
#[derive(Debug, Clone)]
pub struct CostChange {
    pub(crate) range: DateRange,
    pub(crate) current: Figure,
    pub(crate) previous: Figure,
}

/// The range of equal length that ends where `range` (resolved at `now`) starts: what a
/// `CostChange`'s previous figure reads, and what the cost estimate prices for it.
pub(crate) fn previous_range(range: Range, now: DateTime<Utc>) -> Range {
    Range::Explicit(compare::previous_range(&range.resolve(now)))
}

impl CostChange {
    /// A change of `current` over `range` (resolved at `now`), with `previous(previous range)`
    /// as the earlier figure.
    pub(crate) fn new(
        range: Range,
        now: DateTime<Utc>,
        current: Figure,
        previous: impl FnOnce(Range) -> Figure,
    ) -> Self {
        CostChange { range: range.resolve(now), current, previous: previous(previous_range(range, now)) }
    }

    async fn both(&self, ctx: &Context<'_>) -> Result<compare::Change> {
        let (c, p) = futures::future::try_join(self.current.value(ctx), self.previous.value(ctx)).await?;
        Ok(compare::change(c, p))
    }
}

/// A cost figure over a range against the same figure over the previous range of equal length,
/// in ECU. Each field calls only what it reads.
#[Object(directive = crate::schema::cost::cost::apply("0".to_owned()))]
impl CostChange {
    /// The range's start.
    async fn from(&self) -> DateTime<Utc> {
        self.range.from()
    }

    /// The range's end (exclusive).
    async fn to(&self) -> DateTime<Utc> {
        self.range.to()
    }

    /// The previous range's start: as long before `from` as `to` is after it.
    async fn previous_from(&self) -> DateTime<Utc> {
        compare::previous_range(&self.range).from()
    }

    /// The figure over the range. Calls what the parent field names for the range.
    async fn current(&self, ctx: &Context<'_>) -> Result<f64> {
        self.current.value(ctx).await
    }

    /// The figure over the previous range. Calls what the parent field names for that range.
    async fn previous(&self, ctx: &Context<'_>) -> Result<f64> {
        self.previous.value(ctx).await
    }

    /// `current - previous`. Both calls.
    async fn absolute(&self, ctx: &Context<'_>) -> Result<f64> {
        Ok(self.both(ctx).await?.absolute)
    }

    /// The change in percent of `previous`; null when `previous` is zero. Both calls.
    async fn percent(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        Ok(self.both(ctx).await?.percent)
    }
}

/// Prepaid credits and when they run out, in ECU.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = crate::schema::cost::cost::apply("0".to_owned()))]
pub struct CreditsBurnDown {
    /// Credits available (v1 `balance.available`).
    pub available: f64,
    /// Credits remaining (v1 `balance.remaining`): what the run-out dates spend down.
    pub remaining: f64,
    /// The current daily rate: the mean cost of the last 7 complete days.
    pub daily_rate: f64,
    /// The day the remaining credits run out at `dailyRate`, counting from today; null past ten
    /// years (or never, at a rate of zero).
    pub run_out_at_current_rate: Option<NaiveDate>,
    /// The day they run out along the forecast: this month's projected days, then the same
    /// projection repeated week by week; null past ten years.
    pub run_out_at_forecast: Option<NaiveDate>,
}

/// The credits burn-down of an organization; `None` when it has no prepaid balance.
pub(crate) async fn credits_burn_down(ctx: &Context<'_>, org: &OrganizationId) -> Result<Option<CreditsBurnDown>> {
    let now = state(ctx).now;
    let today = now.date_naive();
    let overview = load(ctx, V1Overview { org: org.clone(), range: Range::MonthToDate });
    let chart = load(ctx, forecast_chart(org, now)?);
    let (overview, chart) = futures::future::try_join(overview, chart).await?;
    let Some(balance) = &overview.balance else {
        return Ok(None);
    };
    let totals = series::totals(&chart);
    let recent: Vec<f64> = today
        .pred_opt()
        .into_iter()
        .flat_map(|d| std::iter::successors(Some(d), |d| d.pred_opt()))
        .take(CURRENT_RATE_DAYS)
        .map(|d| totals.iter().find(|p| p.day == d).map_or(0.0, |p| p.cost))
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let daily_rate = recent.iter().sum::<f64>() / CURRENT_RATE_DAYS as f64;
    let f = forecast::forecast(&totals, today, forecast::ForecastConfig::default());
    // Past the month, the projection repeats by weekday (the same value for a trailing mean).
    let mut by_weekday: [Option<f64>; 7] = [None; 7];
    for (d, v) in &f.daily {
        by_weekday[d.weekday().num_days_from_monday() as usize] = Some(*v);
    }
    let projected_mean =
        if f.daily.is_empty() { daily_rate } else { (f.projected - f.month_to_date) / f.daily.len() as f64 };
    let along = |d: NaiveDate| {
        f.daily
            .iter()
            .find(|p| p.0 == d)
            .map(|p| p.1)
            .or(by_weekday[d.weekday().num_days_from_monday() as usize])
            .unwrap_or(projected_mean)
    };
    Ok(Some(CreditsBurnDown {
        available: balance.available,
        remaining: balance.remaining,
        daily_rate,
        run_out_at_current_rate: credits::run_out_at(balance.remaining, today, daily_rate),
        run_out_at_forecast: credits::run_out(balance.remaining, today, along),
    }))
}

/// v1's total for a deployment against the sum of v2's line items for it, in ECU.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(directive = crate::schema::cost::cost::apply("0".to_owned()))]
pub struct Reconciliation {
    /// v1's total (`/deployments`).
    pub v1_total: f64,
    /// The sum of the v2 instance's line items (`/costs/instances`); zero when v2 has none.
    pub v2_total: f64,
    /// `v2Total - v1Total`.
    pub difference: f64,
    /// Whether the difference is past the tolerance.
    pub mismatch: bool,
}

/// The checked tolerance of a reconciliation field, `configured` the server's default: checked
/// before the field's call, so bad input costs none.
pub(crate) fn tolerance(
    configured: reconcile::Tolerance,
    absolute: Option<f64>,
    relative: Option<f64>,
) -> Result<reconcile::Tolerance> {
    let absolute = absolute.unwrap_or(configured.absolute);
    let relative = relative.unwrap_or(configured.relative);
    if !(absolute.is_finite() && absolute >= 0.0 && relative.is_finite() && relative >= 0.0) {
        return Err(GraphError::BadInput("tolerance: must be non-negative numbers".to_owned()));
    }
    Ok(reconcile::Tolerance { absolute, relative })
}

/// Reconciles a v1 total with a v2 instance's line items.
pub(crate) fn reconciliation(
    v1_total: f64,
    instance: Option<&v2::Instance>,
    tolerance: reconcile::Tolerance,
) -> Reconciliation {
    let lines = instance.into_iter().flat_map(|i| i.product_line_items.iter().map(|l| l.total_ecu));
    let r = reconcile::reconcile(v1_total, lines, tolerance);
    Reconciliation { v1_total: r.v1_total, v2_total: r.v2_total, difference: r.difference, mismatch: r.mismatch }
}

/// Shares the lazily built series index of a chart among its points.
pub(crate) type SharedIndex = Arc<std::sync::OnceLock<SeriesIndex>>;
