//! A request rate per caller, at the edge: one caller sending requests in a loop is told to
//! slow down (`429` with `Retry-After`) before its requests spend anything, and the others keep
//! their share. A caller is its credentials' identity (`BillingGraph::caller_id`); callers
//! that send none and use the server's defaults are one caller, as the upstream sees them.
//!
//! `governor`'s keyed GCRA limiter does the counting; idle callers are forgotten now and then so
//! its memory stays bounded by the callers of the last few seconds.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use billing_graphql::CallerId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// How many checks between two sweeps of idle callers.
const SWEEP_EVERY: u64 = 4096;

/// Requests per second per caller, or no limit.
pub(crate) struct CallerLimiter {
    limiter: Option<DefaultKeyedRateLimiter<CallerId>>,
    checks: AtomicU64,
}

impl std::fmt::Debug for CallerLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallerLimiter").field("on", &self.limiter.is_some()).finish_non_exhaustive()
    }
}

impl CallerLimiter {
    /// `per_second` requests per caller, in bursts of up to `burst`; no limit when `per_second`
    /// is 0.
    pub(crate) fn new(per_second: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        CallerLimiter { limiter, checks: AtomicU64::new(0) }
    }

    /// Admits one request of `caller`, or says how long until it may send the next.
    pub(crate) fn check(&self, caller: CallerId) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        limiter.check_key(&caller).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_caller_has_its_own_rate() {
        let limiter = CallerLimiter::new(1, 2);
        let (a, b) = (CallerId([1; 32]), CallerId([2; 32]));
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_ok());
        let wait = limiter.check(a).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(limiter.check(b).is_ok(), "another caller is not slowed");
    }

    #[test]
    fn zero_is_no_limit() {
        let limiter = CallerLimiter::new(0, 0);
        assert!((0..1000).all(|_| limiter.check(CallerId([1; 32])).is_ok()));
    }
}
