//! Property tests of the rules: what holds for every input, not just the worked examples.
#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

use billing_insights::anomaly::{AnomalyConfig, score, scores};
use billing_insights::compare::{change, previous_range};
use billing_insights::credits::{HORIZON_DAYS, run_out_at};
use billing_insights::focus::{charge_periods, decimal};
use billing_insights::forecast::{ForecastConfig, forecast, next_month_start};
use billing_insights::{DailyCost, focus};
use billing_model::{DateRange, Month};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use proptest::prelude::*;

fn day0() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()
}

fn costs() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(0.0f64..1000.0, 1..90)
}

fn series(values: &[f64]) -> Vec<DailyCost> {
    day0().iter_days().zip(values).map(|(day, cost)| DailyCost { day, cost: *cost }).collect()
}

proptest! {
    #[test]
    fn the_band_holds_the_projection_and_never_falls_below_the_actuals(v in costs(), offset in 0usize..120) {
        let today = day0() + TimeDelta::days(i64::try_from(offset).unwrap());
        let f = forecast(&series(&v), today, ForecastConfig::default());
        prop_assert!(f.low <= f.projected + 1e-9 && f.projected <= f.high + 1e-9);
        prop_assert!(f.low >= f.month_to_date - 1e-9);
        prop_assert_eq!(f.daily.len() as u32, f.remaining_days);
        prop_assert_eq!(today + TimeDelta::days(i64::from(f.remaining_days)), next_month_start(today));
    }

    #[test]
    fn a_constant_history_projects_its_constant(c in 0.0f64..1e6, offset in 30i64..120) {
        let today = day0() + TimeDelta::days(offset);
        let f = forecast(&series(&vec![c; 200]), today, ForecastConfig::default());
        let expected = f.month_to_date + c * f64::from(f.remaining_days);
        prop_assert!((f.projected - expected).abs() <= 1e-6 * expected.max(1.0));
    }

    #[test]
    fn the_expected_value_is_never_an_anomaly_and_the_score_has_its_sign(
        baseline in prop::collection::vec(0.0f64..1000.0, 1..40),
        actual in 0.0f64..5000.0,
    ) {
        let s = score(day0(), actual, &baseline, 3.5);
        prop_assert!(!score(day0(), s.expected, &baseline, 3.5).is_anomaly());
        prop_assert_eq!(s.is_anomaly(), s.score.abs() > 3.5 + 1e-9 || s.actual < s.low || s.actual > s.high);
        prop_assert!((s.score > 0.0) == (actual > s.expected) || actual == s.expected);
    }

    #[test]
    fn anomalies_do_not_depend_on_the_unit(v in costs(), k in 0.01f64..100.0) {
        let scaled: Vec<f64> = v.iter().map(|c| c * k).collect();
        let a: Vec<bool> = scores(&series(&v), AnomalyConfig::default()).iter().map(|s| s.is_anomaly()).collect();
        let b: Vec<bool> = scores(&series(&scaled), AnomalyConfig::default()).iter().map(|s| s.is_anomaly()).collect();
        // Equal except where rounding puts a day right on the band's edge.
        let differ = a.iter().zip(&b).filter(|(x, y)| x != y).count();
        prop_assert!(differ <= 1, "{differ} days differ");
    }

    #[test]
    fn charge_periods_tile_the_range_one_month_each(from in 1_600_000_000i64..1_800_000_000, len in 0i64..100_000_000) {
        let r = DateRange::new(
            DateTime::<Utc>::from_timestamp(from, 0).unwrap(),
            DateTime::<Utc>::from_timestamp(from + len, 0).unwrap(),
        ).unwrap();
        let periods = charge_periods(&r);
        let mut at = r.from();
        for p in &periods {
            prop_assert_eq!(p.from(), at);
            prop_assert!(p.to() <= Month::of(p.from()).succ().start());
            prop_assert!(p.from() < p.to());
            at = p.to();
        }
        prop_assert_eq!(at, r.to());
    }

    #[test]
    fn a_decimal_reads_back_and_always_has_a_point(v in -1e12f64..1e12) {
        let s = decimal(v);
        prop_assert!(s.contains('.') && !s.contains('e'));
        prop_assert_eq!(s.parse::<f64>().unwrap(), v);
    }

    #[test]
    fn the_previous_range_touches_and_matches(from in 1_600_000_000i64..1_800_000_000, len in 0i64..100_000_000) {
        let r = DateRange::new(
            DateTime::<Utc>::from_timestamp(from, 0).unwrap(),
            DateTime::<Utc>::from_timestamp(from + len, 0).unwrap(),
        ).unwrap();
        let p = previous_range(&r);
        prop_assert_eq!(p.to(), r.from());
        prop_assert_eq!(p.to() - p.from(), r.to() - r.from());
    }

    #[test]
    fn a_change_adds_back_up(current in -1e9f64..1e9, previous in -1e9f64..1e9) {
        let c = change(current, previous);
        prop_assert!((c.previous + c.absolute - current).abs() <= 1e-6 * current.abs().max(1.0));
    }

    #[test]
    fn credits_last_remaining_over_rate_days(remaining in 0.1f64..1e5, rate in 0.1f64..1e4) {
        let today = day0();
        match run_out_at(remaining, today, rate) {
            Some(out) => {
                let days = (out - today).num_days() + 1;
                prop_assert!(days as f64 * rate >= remaining - 1e-6);
                prop_assert!((days - 1) as f64 * rate < remaining);
            }
            // Past the horizon they do not run out: only when the horizon's spending falls short.
            None => prop_assert!(HORIZON_DAYS as f64 * rate < remaining * (1.0 + 1e-9)),
        }
    }
}

#[test]
fn every_record_has_a_field_per_column() {
    assert_eq!(focus::COLUMNS.len(), 46);
    assert!(focus::COLUMNS.iter().filter(|c| c.starts_with("x_")).count() == 4);
}
