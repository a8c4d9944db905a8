//! A calendar month, `YYYY-MM`, as Talkdesk aggregates and filters usage.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar month. Orders chronologically; reads and writes as `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    year: u16,
    month: u8,
}

/// Why a string is not a `YYYY-MM` month.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid month {0:?}: expected YYYY-MM")]
pub struct MonthError(pub String);

impl Month {
    /// A month from its year (1..=9999) and month (1..=12).
    pub fn new(year: u16, month: u8) -> Result<Self, MonthError> {
        if (1..=9999).contains(&year) && (1..=12).contains(&month) {
            Ok(Month { year, month })
        } else {
            Err(MonthError(format!("{year:04}-{month:02}")))
        }
    }

    /// The month an instant falls in, in UTC.
    pub fn of(t: DateTime<Utc>) -> Self {
        // chrono years of a DateTime<Utc> built from real clocks fit in u16; clamp defensively.
        let year = u16::try_from(t.year().clamp(1, 9999)).unwrap_or(1);
        let month = u8::try_from(t.month()).unwrap_or(1);
        Month { year, month }
    }

    pub fn year(self) -> u16 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    /// The month after this one.
    pub fn succ(self) -> Self {
        if self.month == 12 {
            Month { year: self.year + 1, month: 1 }
        } else {
            Month { year: self.year, month: self.month + 1 }
        }
    }

    /// The month before this one.
    pub fn pred(self) -> Self {
        if self.month == 1 {
            Month { year: self.year - 1, month: 12 }
        } else {
            Month { year: self.year, month: self.month - 1 }
        }
    }

    /// The first instant of the month, UTC.
    pub fn start(self) -> DateTime<Utc> {
        let date = NaiveDate::from_ymd_opt(i32::from(self.year), u32::from(self.month), 1)
            .expect("a validated month has a first day");
        Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = MonthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || MonthError(s.to_owned());
        let bytes = s.as_bytes();
        if bytes.len() != 7 || bytes[4] != b'-' || !s[..4].bytes().chain(s[5..].bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let year = s[..4].parse().map_err(|_| bad())?;
        let month = s[5..].parse().map_err(|_| bad())?;
        Month::new(year, month).map_err(|_| bad())
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_yyyy_mm() {
        let m: Month = "2023-08".parse().unwrap();
        assert_eq!((m.year(), m.month()), (2023, 8));
        assert_eq!(m.to_string(), "2023-08");
        assert_eq!(m.succ().to_string(), "2023-09");
        assert_eq!("2023-12".parse::<Month>().unwrap().succ().to_string(), "2024-01");
        assert_eq!("2024-01".parse::<Month>().unwrap().pred().to_string(), "2023-12");
    }

    #[test]
    fn refuses_anything_else() {
        for bad in ["2023-8", "2023-13", "2023-00", "23-08", "2023/08", "2023-08-01", "", "abcd-ef", "+023-08"] {
            assert!(bad.parse::<Month>().is_err(), "{bad} parsed");
        }
    }
}
