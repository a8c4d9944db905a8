//! What "now" is to a token source: the system's monotonic clock, or one a test moves by hand.
//!
//! Token lifetimes are minutes long; a test that waited them out would be slow, and one that
//! waited out short ones would pass or fail with the machine's load. A [`ManualClock`] lets a
//! test say "ten minutes have passed" and see exactly one refresh.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic clock: [`Clock::system`] (the default), or a [`ManualClock`]'s.
#[derive(Clone, Default)]
pub struct Clock {
    manual: Option<ManualClock>,
}

/// A clock that stands still until [`advance`](ManualClock::advance)d. Clones share the time.
#[derive(Clone)]
pub struct ManualClock {
    inner: Arc<Manual>,
}

struct Manual {
    start: Instant,
    /// Nanoseconds advanced since `start`.
    elapsed: AtomicU64,
}

impl Clock {
    /// The system's monotonic clock.
    pub fn system() -> Self {
        Clock { manual: None }
    }

    /// The current instant.
    pub fn now(&self) -> Instant {
        match &self.manual {
            None => Instant::now(),
            Some(m) => m.now(),
        }
    }
}

impl ManualClock {
    /// A clock standing at the moment it is made.
    pub fn new() -> Self {
        ManualClock { inner: Arc::new(Manual { start: Instant::now(), elapsed: AtomicU64::new(0) }) }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.inner.elapsed.fetch_add(nanos, Ordering::AcqRel);
    }

    /// The current instant of this clock.
    pub fn now(&self) -> Instant {
        self.inner.start + Duration::from_nanos(self.inner.elapsed.load(Ordering::Acquire))
    }

    /// A [`Clock`] reading this one.
    pub fn clock(&self) -> Clock {
        Clock { manual: Some(self.clone()) }
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.manual {
            None => f.write_str("Clock::System"),
            Some(m) => write!(f, "Clock::Manual({m:?})"),
        }
    }
}

impl std::fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let elapsed = Duration::from_nanos(self.inner.elapsed.load(Ordering::Acquire));
        f.debug_struct("ManualClock").field("advanced", &elapsed).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let manual = ManualClock::new();
        let clock = manual.clock();
        let t0 = clock.now();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.now(), t0);
        manual.advance(Duration::from_secs(600));
        assert_eq!(clock.now() - t0, Duration::from_secs(600));
        assert!(Clock::system().now() >= t0);
    }
}
