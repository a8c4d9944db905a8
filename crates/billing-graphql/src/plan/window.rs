//! How many deployments' chart answers a deployments field may have in flight, and held until
//! written, at once: a share of one budget for every request of a `BillingGraph`, so sixteen
//! large answers written at once hold what four would, not four times as much.
//!
//! A chart answer is held from the moment it comes until its deployment is written, in order:
//! at 30 daily points it is some 25 KiB parsed, so a window of 64 deployments is ~1.6 MiB per
//! field, and a fixed window made memory grow with the requests in flight.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use futures::stream::FuturesOrdered;
use futures::{Future, Stream, StreamExt};

/// The deployments held across every field being written, while each still gets [`MIN`] (up to
/// 32 fields; past that, each has [`MIN`] and the total grows with them); a field alone gets
/// [`MAX`].
const HELD: usize = 256;
/// The most one field has in flight: above the transport's concurrency (64 per upstream by
/// default), so one field alone never starves it.
const MAX: usize = 64;
/// The least: enough to keep a field's calls overlapping however many are written at once.
const MIN: usize = 8;

/// The fields being written now, whose windows share [`HELD`]. A field counts while its stream
/// lives, waiting on a slow reader included: that reader's share is held, not lent.
#[derive(Debug, Default)]
pub(crate) struct Windows {
    open: AtomicUsize,
}

impl Windows {
    /// A field's window while `open` fields are written.
    fn share(open: usize) -> usize {
        (HELD / open.max(1)).clamp(MIN, MAX)
    }

    /// The window of each field now.
    pub(super) fn now(&self) -> usize {
        Self::share(self.open.load(Ordering::Relaxed))
    }
}

/// `futures`' `buffered`, with the window read afresh before each future is started: `buffered`
/// fixes it when the stream is made, and a field's share changes as others start and end.
/// (Nothing in `futures` or `tokio-stream` reads a limit that changes.) Counts itself open in
/// `windows` while it lives.
pub(super) struct Windowed<'w, I>
where
    I: Iterator,
    I::Item: Future,
{
    pending: std::iter::Fuse<I>,
    running: FuturesOrdered<I::Item>,
    windows: &'w Windows,
}

impl<'w, I> Windowed<'w, I>
where
    I: Iterator,
    I::Item: Future,
{
    pub(super) fn new(futures: I, windows: &'w Windows) -> Self {
        windows.open.fetch_add(1, Ordering::Relaxed);
        Windowed { pending: futures.fuse(), running: FuturesOrdered::new(), windows }
    }
}

impl<I> Drop for Windowed<'_, I>
where
    I: Iterator,
    I::Item: Future,
{
    fn drop(&mut self) {
        self.windows.open.fetch_sub(1, Ordering::Relaxed);
    }
}

// Nothing in it is pinned in place: the futures are boxed by `FuturesOrdered`.
impl<I> Unpin for Windowed<'_, I>
where
    I: Iterator,
    I::Item: Future,
{
}

impl<I> Stream for Windowed<'_, I>
where
    I: Iterator,
    I::Item: Future,
{
    type Item = <I::Item as Future>::Output;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let window = this.windows.now();
        while this.running.len() < window {
            match this.pending.next() {
                Some(future) => this.running.push_back(future),
                None => break,
            }
        }
        // `None` once nothing is running, which, the window being at least one, means nothing
        // is pending either.
        this.running.poll_next_unpin(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[test]
    fn a_field_alone_gets_the_most_and_many_share_the_budget() {
        assert_eq!(Windows::share(0), MAX);
        assert_eq!(Windows::share(1), MAX);
        assert_eq!(Windows::share(4), MAX);
        assert_eq!(Windows::share(16), 16);
        assert_eq!(Windows::share(1_000), MIN);
    }

    /// The window is read as each future starts: a stream made alone runs 64 at once, and once
    /// 15 others are open it starts no more than 16; the outputs stay in order throughout.
    #[tokio::test]
    async fn the_window_follows_the_fields_open_and_keeps_order() {
        let windows = Windows::default();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (release, released) = tokio::sync::watch::channel(0usize);
        let futures = (0..200usize).map(|i| {
            let (running, most, mut released) = (running.clone(), most.clone(), released.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let _ = released.wait_for(|&r| r > i).await;
                running.fetch_sub(1, Ordering::SeqCst);
                i
            }
        });
        let mut stream = Windowed::new(futures, &windows);
        // Alone: the first poll starts 64.
        assert!(futures::poll!(stream.next()).is_pending());
        assert_eq!(running.load(Ordering::SeqCst), MAX);
        // Fifteen more fields open: as the first 64 end, no more than 16 start.
        let others: Vec<_> =
            (0..15).map(|_| Windowed::new(std::iter::empty::<std::future::Ready<()>>(), &windows)).collect();
        release.send_replace(64);
        let mut seen = Vec::new();
        for _ in 0..64 {
            seen.push(stream.next().await.unwrap_or(usize::MAX));
        }
        most.store(running.load(Ordering::SeqCst), Ordering::SeqCst);
        release.send_replace(200);
        while let Some(i) = stream.next().await {
            seen.push(i);
        }
        assert_eq!(seen, (0..200).collect::<Vec<_>>());
        assert!(
            most.load(Ordering::SeqCst) <= 16,
            "{} running at once with 16 fields open",
            most.load(Ordering::SeqCst)
        );
        drop(others);
        drop(stream);
        assert_eq!(windows.open.load(Ordering::SeqCst), 0);
    }
}
