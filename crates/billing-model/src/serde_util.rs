//! Tolerant deserializers for the places where the upstreams do not send what they document.

use serde::{Deserialize, Deserializer, de};

/// Reads `null` (or an absent field, with `#[serde(default)]`) as `T::default()`.
///
/// Elastic v2 answers `"instances": null` where its docs promise a list.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Reads an id that should be a string but may arrive as an integer.
pub fn string_or_integer<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Str(String),
        Int(u64),
    }
    match Raw::deserialize(d).map_err(|_| de::Error::custom("expected a string or integer id"))? {
        Raw::Str(s) => Ok(s),
        Raw::Int(n) => Ok(n.to_string()),
    }
}

/// Reads a count documented as an integer that may arrive as an integral float (`2.0`).
pub fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = f64::deserialize(d)?;
    if n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n) {
        // The range and integrality were just checked, so the cast is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(n as u32)
    } else {
        Err(de::Error::custom(format_args!("expected a non-negative integer, got {n}")))
    }
}

/// Chart timestamps: the unit is undocumented, so both seconds and milliseconds are read.
///
/// Values below 10^10 are seconds (that is until the year 2286), larger ones milliseconds, as
/// third-party clients do. Written back as whole seconds, or as fractional seconds when the
/// instant has milliseconds: writing milliseconds would read back as seconds for instants before
/// April 1970 (below 10^10 ms), so only seconds round-trip for every instant.
pub mod epoch {
    use chrono::{DateTime, TimeZone, Utc};
    use serde::{Deserialize, Deserializer, Serializer, de};

    const SECONDS_BELOW: f64 = 1e10;

    /// Interprets a raw epoch number, seconds or milliseconds.
    pub fn from_number(n: f64) -> Option<DateTime<Utc>> {
        if !n.is_finite() {
            return None;
        }
        let millis = if n.abs() < SECONDS_BELOW { n * 1000.0 } else { n };
        // Bounded by chrono's own range check below; rounding to whole milliseconds is intended.
        #[allow(clippy::cast_possible_truncation)]
        Utc.timestamp_millis_opt(millis.round() as i64).single()
    }

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        let millis = t.timestamp_millis();
        if millis % 1000 == 0 {
            s.serialize_i64(millis / 1000)
        } else {
            // Exact enough: |millis| < 2^53 for every instant of this range.
            #[allow(clippy::cast_precision_loss)]
            let seconds = millis as f64 / 1000.0;
            s.serialize_f64(seconds)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let n = f64::deserialize(d)?;
        from_number(n).ok_or_else(|| de::Error::custom(format_args!("timestamp {n} is out of range")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[derive(Deserialize)]
    struct Count(#[serde(deserialize_with = "lenient_u32")] u32);

    #[test]
    fn lenient_u32_reads_integral_floats_and_refuses_fractions() {
        assert_eq!(serde_json::from_str::<Count>("2").unwrap().0, 2);
        assert_eq!(serde_json::from_str::<Count>("2.0").unwrap().0, 2);
        assert!(serde_json::from_str::<Count>("2.5").is_err());
        assert!(serde_json::from_str::<Count>("-1").is_err());
    }

    #[derive(serde::Serialize, Deserialize, PartialEq, Debug)]
    struct At(#[serde(with = "epoch")] chrono::DateTime<Utc>);

    #[test]
    fn epoch_writes_sub_second_instants_as_fractional_seconds() {
        // Regression (found by proptest): 2191494 ms was written as the integer 2191494, which
        // reads back as seconds, 25 days later.
        let early = At(Utc.timestamp_millis_opt(2_191_494).unwrap());
        let text = serde_json::to_string(&early).unwrap();
        assert_eq!(text, "2191.494");
        assert_eq!(serde_json::from_str::<At>(&text).unwrap(), early);
        let late = At(Utc.timestamp_millis_opt(2_224_033_145_891).unwrap());
        assert_eq!(serde_json::from_str::<At>(&serde_json::to_string(&late).unwrap()).unwrap(), late);
        assert_eq!(serde_json::to_string(&At(Utc.timestamp_opt(1_737_504_000, 0).unwrap())).unwrap(), "1737504000");
    }

    #[test]
    fn epoch_reads_seconds_and_milliseconds_alike() {
        let want = Utc.with_ymd_and_hms(2025, 1, 22, 0, 0, 0).unwrap();
        assert_eq!(epoch::from_number(1_737_504_000.0), Some(want));
        assert_eq!(epoch::from_number(1_737_504_000_000.0), Some(want));
        assert_eq!(epoch::from_number(f64::NAN), None);
    }
}
