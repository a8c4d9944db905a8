//! Credits burn-down: the day prepaid credits run out, at a constant rate or along a forecast.

use chrono::NaiveDate;

/// The longest horizon looked at: past it, credits "do not run out" (`None`).
pub const HORIZON_DAYS: usize = 3660;

/// The day the `remaining` credits are spent when day `d` (from `today` on) costs `rate(d)`:
/// the first day at whose end the spending reaches `remaining`. `Some(today)` when nothing
/// remains; `None` when they last past [`HORIZON_DAYS`].
pub fn run_out(remaining: f64, today: NaiveDate, mut rate: impl FnMut(NaiveDate) -> f64) -> Option<NaiveDate> {
    if remaining <= 0.0 {
        return Some(today);
    }
    let mut spent = 0.0;
    for day in today.iter_days().take(HORIZON_DAYS) {
        spent += rate(day).max(0.0);
        if spent >= remaining {
            return Some(day);
        }
    }
    None
}

/// [`run_out`] at a constant daily rate.
pub fn run_out_at(remaining: f64, today: NaiveDate, daily_rate: f64) -> Option<NaiveDate> {
    run_out(remaining, today, |_| daily_rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_run_out_on_the_day_spending_reaches_them() {
        let today = NaiveDate::from_ymd_opt(2025, 6, 10).unwrap();
        assert_eq!(run_out_at(100.0, today, 10.0), NaiveDate::from_ymd_opt(2025, 6, 19));
        assert_eq!(run_out_at(101.0, today, 10.0), NaiveDate::from_ymd_opt(2025, 6, 20));
        assert_eq!(run_out_at(0.0, today, 10.0), Some(today));
        assert_eq!(run_out_at(100.0, today, 0.0), None);
        // Past the horizon (1e5 at 0.1 a day: 1e6 days), they do not run out.
        assert_eq!(run_out_at(1e5, today, 0.1), None);
    }
}
