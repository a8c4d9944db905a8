//! A caller's deadline for the upstream calls it makes: a GraphQL request has its own time, and
//! a call that would outlive it should fail alone (a timeout on its field) rather than take the
//! whole request past its time.
//!
//! The deadline is task-local: every call made while the future runs ends by it (or sooner, by
//! the retry policy's own deadline), however deep in loaders and caches it is made. Tasks the
//! future spawns do not inherit it.

use std::future::Future;
use std::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `future` with every upstream call it makes ending by `deadline`.
pub async fn with_deadline<F: Future>(deadline: Instant, future: F) -> F::Output {
    DEADLINE.scope(deadline, future).await
}

/// The deadline of the running caller, if it set one.
pub(crate) fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn the_deadline_holds_inside_its_scope_only() {
        assert_eq!(current(), None);
        let at = Instant::now() + Duration::from_secs(5);
        assert_eq!(with_deadline(at, async { current() }).await, Some(at));
        assert_eq!(current(), None);
    }
}
