//! Period comparison: a figure over a range against the same figure over the previous range of
//! equal length.

use billing_model::DateRange;

/// The range of equal length that ends where `range` starts.
pub fn previous_range(range: &DateRange) -> DateRange {
    let length = range.to() - range.from();
    let from = range.from().checked_sub_signed(length).unwrap_or(range.from());
    // `from <= range.from()` always holds, so the range is valid; the fallback never applies.
    DateRange::new(from, range.from()).unwrap_or(*range)
}

/// A figure and its previous value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub current: f64,
    pub previous: f64,
    /// `current - previous`.
    pub absolute: f64,
    /// The change in percent of `previous`; `None` when `previous` is zero.
    pub percent: Option<f64>,
}

/// Compares `current` with `previous`.
pub fn change(current: f64, previous: f64) -> Change {
    let absolute = current - previous;
    let percent = (previous != 0.0).then(|| absolute / previous.abs() * 100.0);
    Change { current, previous, absolute, percent }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn the_previous_range_has_the_same_length_and_ends_at_the_start() {
        let r = DateRange::new(
            Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2025, 3, 11, 0, 0, 0).unwrap(),
        )
        .unwrap();
        let p = previous_range(&r);
        assert_eq!(p.to(), r.from());
        assert_eq!(p.from(), Utc.with_ymd_and_hms(2025, 2, 19, 0, 0, 0).unwrap());
    }

    #[test]
    fn change_in_absolute_and_percent() {
        assert_eq!(
            change(150.0, 100.0),
            Change { current: 150.0, previous: 100.0, absolute: 50.0, percent: Some(50.0) }
        );
        assert_eq!(change(5.0, 0.0).percent, None);
        assert_eq!(change(50.0, 100.0).percent, Some(-50.0));
    }
}
