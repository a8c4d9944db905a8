//! When to retry, apart from the loop that does it: classification of an answer, `Retry-After`,
//! and the backoff policy.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// What to do with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A success: decode it.
    Success,
    /// A transient failure: retry, after the upstream's `Retry-After` if it gave one.
    Retry { after: Option<Duration> },
    /// A failure retrying cannot fix (400, 401, 403, 404, 500 ...).
    Fail,
}

/// Classifies an answer by status: 429, 502, 503 and 504 are retried, other errors are not.
///
/// 500 is not retried: Elastic answers it for `billing_service.failed_request`, which a second try
/// does not fix, and the caller's budget is better spent elsewhere.
pub fn classify(status: StatusCode, headers: &HeaderMap) -> Decision {
    if status.is_success() {
        return Decision::Success;
    }
    match status.as_u16() {
        429 | 502 | 503 | 504 => Decision::Retry { after: retry_after(headers, SystemTime::now()) },
        _ => Decision::Fail,
    }
}

/// Reads `Retry-After` in both its forms: delta-seconds and HTTP-date.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Bounded exponential backoff with full jitter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included. 1 disables retries.
    pub max_attempts: u32,
    /// The backoff ceiling of the first retry; it doubles each retry.
    pub initial_backoff: Duration,
    /// The largest backoff ceiling.
    pub max_backoff: Duration,
    /// The whole call, waits included, ends by this deadline. A `Retry-After` that would pass it
    /// fails the call at once, with the rate-limit error and its retry-after.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            deadline: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }
    }

    /// backon's exponential schedule, without its jitter (ours is full jitter, applied per wait).
    pub(crate) fn backoff(&self) -> backon::ExponentialBuilder {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.initial_backoff)
            .with_max_delay(self.max_backoff)
            .with_factor(2.0)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
    }

    /// The wait before the next attempt, or `None` to stop.
    ///
    /// `ceiling` is backon's next exponential delay (`None` once attempts are spent). The wait is
    /// the upstream's `Retry-After` when it gave one, else uniform in `[0, ceiling]` ("full
    /// jitter", which spreads a burst of clients best). Either way it must end before the deadline.
    pub(crate) fn next_wait(
        &self,
        ceiling: Option<Duration>,
        retry_after: Option<Duration>,
        elapsed: Duration,
    ) -> Option<Duration> {
        let ceiling = ceiling?;
        let wait = retry_after.unwrap_or_else(|| ceiling.mul_f64(rand::random::<f64>()));
        // `Retry-After` is the upstream's number: compare without adding, which could overflow.
        (wait < self.deadline.saturating_sub(elapsed)).then_some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(retry_after).unwrap());
        h
    }

    #[test]
    fn classifies_by_status() {
        let none = HeaderMap::new();
        assert_eq!(classify(StatusCode::OK, &none), Decision::Success);
        for s in [429, 502, 503, 504] {
            assert_eq!(classify(StatusCode::from_u16(s).unwrap(), &none), Decision::Retry { after: None }, "{s}");
        }
        for s in [400, 401, 403, 404, 409, 500, 501] {
            assert_eq!(classify(StatusCode::from_u16(s).unwrap(), &none), Decision::Fail, "{s}");
        }
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, &headers("2")),
            Decision::Retry { after: Some(Duration::from_secs(2)) }
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(retry_after(&headers("120"), now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(&headers("Wed, 21 Oct 2015 07:28:30 GMT"), now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after(&headers("Wed, 21 Oct 2015 07:00:00 GMT"), now), Some(Duration::ZERO), "a past date");
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn waits_are_jittered_below_the_ceiling_and_bounded_by_the_deadline() {
        let p = RetryPolicy { deadline: Duration::from_secs(1), ..RetryPolicy::default() };
        let ceiling = Some(Duration::from_millis(400));
        for _ in 0..100 {
            let w = p.next_wait(ceiling, None, Duration::ZERO).unwrap();
            assert!(w <= Duration::from_millis(400));
        }
        assert_eq!(p.next_wait(None, None, Duration::ZERO), None, "attempts spent");
        assert_eq!(
            p.next_wait(ceiling, Some(Duration::from_millis(300)), Duration::ZERO),
            Some(Duration::from_millis(300))
        );
        assert_eq!(
            p.next_wait(ceiling, Some(Duration::from_secs(2)), Duration::ZERO),
            None,
            "retry-after past the deadline"
        );
        assert_eq!(p.next_wait(ceiling, Some(Duration::from_millis(300)), Duration::from_millis(800)), None);
        // Regression: an absurd Retry-After overflowed `elapsed + wait` and panicked.
        assert_eq!(p.next_wait(ceiling, Some(Duration::from_secs(u64::MAX)), Duration::from_millis(1)), None);
        let huge = retry_after(&headers("18446744073709551615"), SystemTime::UNIX_EPOCH);
        assert_eq!(p.next_wait(ceiling, huge, Duration::from_millis(1)), None);
    }
}
