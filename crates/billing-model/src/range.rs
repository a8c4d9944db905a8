//! Validated date ranges and chart bucketing: the arguments every billing query shares.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::Month;

/// A validated, inclusive-of-`from` range of instants in UTC, with `from <= to`.
///
/// Elastic v1 defaults a missing `from` to the start of the current month and a missing `to` to
/// now; [`DateRange::resolve`] applies the same defaults against an injected clock, so callers and
/// the simulator agree on what "no range" means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DateRange {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

/// Why a date range was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateRangeError {
    /// A bound is not an RFC 3339 date-time.
    #[error("invalid {field} date {value:?}: expected RFC 3339, such as 2025-01-22T00:00:00Z")]
    Unparsable { field: &'static str, value: String },
    /// `from` is after `to`.
    #[error("invalid date range: from {from} is after to {to}")]
    Inverted { from: String, to: String },
}

impl DateRange {
    /// A range from two instants; refuses `from > to`.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Self, DateRangeError> {
        if from > to {
            return Err(DateRangeError::Inverted { from: format_instant(from), to: format_instant(to) });
        }
        Ok(DateRange { from, to })
    }

    /// The upstreams' default: from the first instant of the current month to `now`.
    pub fn month_to_date(now: DateTime<Utc>) -> Self {
        DateRange { from: Month::of(now).start(), to: now }
    }

    /// The range with each missing bound defaulted as Elastic v1 documents it.
    pub fn resolve(
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Self, DateRangeError> {
        let default = Self::month_to_date(now);
        Self::new(from.unwrap_or(default.from), to.unwrap_or(default.to))
    }

    /// Parses optional RFC 3339 bounds (any offset, optional fraction), then [`resolve`](Self::resolve)s them.
    pub fn parse(from: Option<&str>, to: Option<&str>, now: DateTime<Utc>) -> Result<Self, DateRangeError> {
        let from = from.map(|v| parse_instant("from", v)).transpose()?;
        let to = to.map(|v| parse_instant("to", v)).transpose()?;
        Self::resolve(from, to, now)
    }

    /// The range covering a whole month, `[start, start of next month)`.
    pub fn month(month: Month) -> Self {
        DateRange { from: month.start(), to: month.succ().start() }
    }

    pub fn from(&self) -> DateTime<Utc> {
        self.from
    }

    pub fn to(&self) -> DateTime<Utc> {
        self.to
    }

    /// `from` as the upstreams want it: RFC 3339 in UTC with a `Z`.
    pub fn from_param(&self) -> String {
        format_instant(self.from)
    }

    /// `to` as the upstreams want it.
    pub fn to_param(&self) -> String {
        format_instant(self.to)
    }

    /// Whether the range lies wholly before `now`: its data will not change any more.
    pub fn is_closed(&self, now: DateTime<Utc>) -> bool {
        self.to <= now
    }
}

impl fmt::Display for DateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", format_instant(self.from), format_instant(self.to))
    }
}

/// Parses one RFC 3339 instant, naming the field in the error.
pub fn parse_instant(field: &'static str, value: &str) -> Result<DateTime<Utc>, DateRangeError> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| DateRangeError::Unparsable { field, value: value.to_owned() })
}

fn format_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// How a chart groups its points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucketing {
    /// One point per UTC day. The upstreams' default.
    #[default]
    Daily,
    /// One point per calendar month.
    Monthly,
}

/// A bucketing strategy other than `daily` or `monthly`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid bucketing strategy {0:?}: expected daily or monthly")]
pub struct BucketingError(pub String);

impl Bucketing {
    /// The lowercase form a client sends (the spec's own default is spelled `Daily`).
    pub fn as_str(self) -> &'static str {
        match self {
            Bucketing::Daily => "daily",
            Bucketing::Monthly => "monthly",
        }
    }
}

impl fmt::Display for Bucketing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Bucketing {
    type Err = BucketingError;

    /// Case-insensitive, as a server should be.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("daily") {
            Ok(Bucketing::Daily)
        } else if s.eq_ignore_ascii_case("monthly") {
            Ok(Bucketing::Monthly)
        } else {
            Err(BucketingError(s.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn missing_bounds_default_to_month_to_date() {
        let now = at(2026, 11, 23, 15);
        let r = DateRange::parse(None, None, now).unwrap();
        assert_eq!(r.from(), at(2026, 11, 1, 0));
        assert_eq!(r.to(), now);
        let r = DateRange::parse(Some("2026-10-02T00:00:00Z"), None, now).unwrap();
        assert_eq!((r.from(), r.to()), (at(2026, 10, 2, 0), now));
    }

    #[test]
    fn accepts_every_rfc3339_form_the_clients_send() {
        let now = at(2026, 11, 23, 15);
        for from in [
            "2025-08-19T00:00:00Z",
            "2025-08-19T00:00:00.000Z",
            "2025-08-19T00:00:00+00:00",
            "2025-08-19T02:00:00.000000+02:00",
        ] {
            let r = DateRange::parse(Some(from), None, now).unwrap();
            assert_eq!(r.from(), at(2025, 8, 19, 0), "{from}");
            assert_eq!(r.from_param(), "2025-08-19T00:00:00Z");
        }
    }

    #[test]
    fn refuses_inverted_and_unparsable_ranges() {
        let now = at(2026, 11, 23, 15);
        let err = DateRange::parse(Some("2025-02-01T00:00:00Z"), Some("2025-01-01T00:00:00Z"), now).unwrap_err();
        assert!(matches!(err, DateRangeError::Inverted { .. }), "{err}");
        let err = DateRange::parse(Some("yesterday"), None, now).unwrap_err();
        assert_eq!(err, DateRangeError::Unparsable { field: "from", value: "yesterday".into() });
        assert!(DateRange::parse(Some("2025-02-30T00:00:00Z"), None, now).is_err());
        // An open `to` defaulting to now before an explicit future `from` is inverted too.
        assert!(DateRange::parse(Some("2027-01-01T00:00:00Z"), None, now).is_err());
    }

    #[test]
    fn closed_ranges_end_before_now() {
        let now = at(2026, 11, 23, 15);
        assert!(DateRange::month("2026-10".parse().unwrap()).is_closed(now));
        assert!(!DateRange::month_to_date(now).is_closed(at(2026, 11, 23, 14)));
    }

    #[test]
    fn bucketing_is_case_insensitive_and_sent_lowercase() {
        assert_eq!("Daily".parse::<Bucketing>().unwrap(), Bucketing::Daily);
        assert_eq!("MONTHLY".parse::<Bucketing>().unwrap(), Bucketing::Monthly);
        assert!("weekly".parse::<Bucketing>().is_err());
        assert_eq!(Bucketing::Daily.to_string(), "daily");
    }
}
