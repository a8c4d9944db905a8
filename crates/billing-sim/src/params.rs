//! Query-string reading that never fails: handlers decide what a bad value means for their API.

use chrono::{DateTime, Utc};

use billing_model::parse_instant;

/// Decoded query parameters, in order.
#[derive(Debug, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    /// Decodes a raw query string (`application/x-www-form-urlencoded`).
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Query(url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect())
    }

    /// The first value of a parameter.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Parses an RFC 3339 instant (`Z`, `+00:00`, fractional seconds).
///
/// A client that forgets to percent-encode `+00:00` sends a `+`, which form decoding turns into a
/// space; the real services accept such requests, so a space before the offset reads as `+`.
pub(crate) fn instant(field: &'static str, value: &str) -> Option<DateTime<Utc>> {
    parse_instant(field, value).ok().or_else(|| {
        let trimmed = value.trim();
        let cut = trimmed.len().checked_sub(6)?;
        let (head, offset) = (trimmed.get(..cut)?, trimmed.get(cut..)?);
        offset.starts_with(' ').then(|| format!("{head}+{}", &offset[1..])).and_then(|v| parse_instant(field, &v).ok())
    })
}
