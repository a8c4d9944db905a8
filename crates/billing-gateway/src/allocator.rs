//! The allocator's one setting: freed memory goes back to the OS at once.
//!
//! mimalloc (v3, the one `libmimalloc-sys` builds) waits a second before it returns freed pages
//! (its purge delay, 1,000 ms). Under a steady load of large answers that keeps a peak's worth
//! of freed pages resident: with 16 requests of
//! 1,000 deployments in flight, peak RSS was 200–202 MiB with the delay and 147–155 MiB
//! without it, at the same CPU per request (BENCHMARKS.md, "Streamed answers").

/// mimalloc's `mi_option_purge_delay`: its place in `mi_option_e` (the 16th, in mimalloc v2 and
/// v3 alike). `libmimalloc-sys` does not export the options "for stability reasons"; the test
/// below checks that this is the option whose default is v3's purge delay, 1,000 (ms).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets mimalloc's purge delay to 0, unless the operator set `MIMALLOC_PURGE_DELAY` (which
/// mimalloc read itself). Call it first in `main`, before any thread starts: mimalloc's options
/// are not thread safe to set.
pub fn return_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        #[allow(unsafe_code)]
        // SAFETY: sets an option of the linked mimalloc by its index, which is in range (the
        // test below reads it back); called before any other thread exists.
        unsafe {
            libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The purge delay in effect, in ms.
    fn purge_delay() -> std::ffi::c_long {
        #[allow(unsafe_code)]
        // SAFETY: reads an option of the linked mimalloc by its index, which is in range.
        unsafe {
            libmimalloc_sys::mi_option_get(PURGE_DELAY)
        }
    }

    #[test]
    fn the_option_is_the_purge_delay_and_is_set_to_zero() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // mimalloc v3's default purge delay (1,000 ms); no other option near it has that
        // default (eager commit delay 1, NUMA nodes 0, OS tag 100).
        assert_eq!(purge_delay(), 1000, "option {PURGE_DELAY} is not mimalloc's purge delay");
        return_freed_memory_at_once();
        assert_eq!(purge_delay(), 0);
    }
}
