//! A response ready to send: its JSON bytes, and what kind of answer they make.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::{Response, ServerError};
use bytes::Bytes;
use moka::Expiry;

use crate::config::CacheConfig;
use crate::cost::CostReport;

use crate::flight::Outcome;

/// What kind of answer a response is, which a server needs for its status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    /// `data` and no error.
    Complete,
    /// `data` with errors on some fields (each `null` in place).
    Partial,
    /// No `data`: the request was refused before anything ran (parse, validation, limits).
    RequestError,
    /// A dry run: the cost estimate alone, nothing executed (`{}` with `extensions.cost`).
    DryRun,
}

/// A response as JSON bytes: `{"data":…}` with `"errors"` when some fields failed, or
/// `{"errors":[…]}` alone for a request error. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Answer {
    body: Bytes,
    kind: AnswerKind,
    /// What the request cost in upstream calls, when it got as far as an estimate.
    cost: Option<Arc<CostReport>>,
}

impl Answer {
    pub(crate) fn new(body: impl Into<Bytes>, kind: AnswerKind) -> Self {
        Answer { body: body.into(), kind, cost: None }
    }

    /// What the request cost in upstream calls: the estimate made before it ran and the calls
    /// it made; `None` when it was refused before an estimate (bounds, parse).
    pub fn cost(&self) -> Option<&CostReport> {
        self.cost.as_deref()
    }

    pub(crate) fn with_cost(mut self, report: CostReport) -> Self {
        self.cost = Some(Arc::new(report));
        self
    }

    /// A repeat served whole from the answer cache: no call made, every answer a hit.
    pub(crate) fn served_whole(mut self) -> Self {
        self.cost = self.cost.map(|c| Arc::new(c.served_whole()));
        self
    }

    /// The answer with its cost report added to the body as `extensions.cost` (last member,
    /// so the bytes before it are the executor's own). An answer without a report is kept.
    pub(crate) fn reported(self) -> Self {
        let Some(cost) = &self.cost else { return self };
        if self.body.last() != Some(&b'}') {
            return self;
        }
        let member = cost_member(cost);
        let head = self.body.len() - 1;
        // In place when the body is not shared (a fresh answer, its room left by the writer):
        // a large answer is not copied again for a few hundred bytes.
        let mut body = self.body.try_into_mut().unwrap_or_else(|shared| bytes::BytesMut::from(&shared[..]));
        body.truncate(head);
        if head > 1 {
            body.extend_from_slice(&member);
        } else {
            body.extend_from_slice(&member[1..]);
        }
        Answer { body: body.freeze(), kind: self.kind, cost: self.cost }
    }

    /// The JSON body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// What kind of answer it is.
    pub fn kind(&self) -> AnswerKind {
        self.kind
    }

    /// A request error: the errors alone, without `data`.
    pub(crate) fn request_errors(errors: &[ServerError]) -> Self {
        #[derive(serde::Serialize)]
        struct Errors<'a> {
            errors: &'a [ServerError],
        }
        // Serializing our own error values into a `Vec` cannot fail.
        let body = serde_json::to_vec(&Errors { errors }).unwrap_or_default();
        Answer::new(body, AnswerKind::RequestError)
    }

    /// The bytes of an executed response.
    pub(crate) fn from_response(response: &Response) -> Self {
        if crate::refused_before_execution(response) {
            return Answer::request_errors(&response.errors);
        }
        let kind = if response.errors.is_empty() { AnswerKind::Complete } else { AnswerKind::Partial };
        let mut body = serde_json::to_vec(response).unwrap_or_else(|_| {
            br#"{"errors":[{"message":"could not serialize the response","extensions":{"code":"INTERNAL"}}]}"#.to_vec()
        });
        // Kept answers are weighed by their length: no spare capacity rides along.
        body.shrink_to_fit();
        Answer::new(body, kind)
    }
}

/// The kind of an executed answer with data.
pub(crate) fn kind(has_errors: bool) -> AnswerKind {
    if has_errors { AnswerKind::Partial } else { AnswerKind::Complete }
}

/// The end of a response carrying its cost report: `,"extensions":{"cost":…}}`, the last
/// member and the closing brace.
pub(crate) fn cost_member(cost: &CostReport) -> Vec<u8> {
    let json = cost.to_json();
    let mut member = Vec::with_capacity(json.len() + 32);
    member.extend_from_slice(br#","extensions":{"cost":"#);
    member.extend_from_slice(&json);
    member.extend_from_slice(b"}}");
    member
}

/// What [`BillingGraph::respond`](crate::BillingGraph::respond) gives: an answer whole, or
/// one sent as it is written.
#[derive(Debug)]
pub enum Reply {
    /// The answer whole: any kind.
    Whole(Answer),
    /// An executed answer with data (a server answers it `200`), complete or partial: which,
    /// the stream says when it ends.
    Streamed(AnswerStream),
}

/// A response's JSON as it is written, chunk by chunk. Polling it runs the execution; dropping
/// it cancels the execution.
pub struct AnswerStream {
    run: Option<futures::future::BoxFuture<'static, AnswerKind>>,
    chunks: tokio::sync::mpsc::Receiver<Bytes>,
    kind: Option<AnswerKind>,
    on_end: Option<Box<dyn FnOnce(AnswerKind) + Send>>,
}

impl AnswerStream {
    pub(crate) fn new(
        run: impl std::future::Future<Output = AnswerKind> + Send + 'static,
        chunks: tokio::sync::mpsc::Receiver<Bytes>,
    ) -> Self {
        AnswerStream { run: Some(Box::pin(run)), chunks, kind: None, on_end: None }
    }

    /// Calls `f` with the answer's kind once its last byte has been read (not if the stream is
    /// dropped before).
    pub fn on_end(mut self, f: impl FnOnce(AnswerKind) + Send + 'static) -> Self {
        self.on_end = Some(Box::new(f));
        self
    }

    /// Reads the whole answer.
    pub async fn collect(mut self) -> (Bytes, AnswerKind) {
        use futures::StreamExt;
        let mut body = bytes::BytesMut::new();
        while let Some(chunk) = self.next().await {
            body.extend_from_slice(&chunk);
        }
        (body.freeze(), self.kind.unwrap_or(AnswerKind::Partial))
    }
}

impl std::fmt::Debug for AnswerStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerStream").field("running", &self.run.is_some()).field("kind", &self.kind).finish()
    }
}

impl futures::Stream for AnswerStream {
    type Item = Bytes;

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Bytes>> {
        use std::task::Poll;
        let this = self.get_mut();
        // The execution runs as far as the channel lets it: it waits for room, this reader
        // makes room, and both wake this task.
        if let Some(run) = &mut this.run
            && let Poll::Ready(kind) = run.as_mut().poll(cx)
        {
            this.run = None;
            this.kind = Some(kind);
        }
        match this.chunks.poll_recv(cx) {
            Poll::Ready(Some(chunk)) => Poll::Ready(Some(chunk)),
            // Every sender is gone: the execution is over (its sink dropped with it).
            Poll::Ready(None) => {
                if let (Some(f), Some(kind)) = (this.on_end.take(), this.kind) {
                    f(kind);
                }
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Outcome for Answer {
    fn error(code: &'static str, message: String) -> Self {
        Answer::request_errors(&[crate::bounds::error(code, message)])
    }
}

/// Whole answers of complete responses, by request (document, operation, variables, caller):
/// a repeat answers from stored bytes without executing. An answer with any error is never
/// kept; one that touched a range that may still change is kept for the short TTL, one about
/// closed ranges only for the long one.
#[derive(Clone)]
pub(crate) struct AnswerCache {
    inner: Option<moka::future::Cache<[u8; 32], Arc<KeptAnswer>>>,
    config: CacheConfig,
}

/// An answer kept, as a repeat is served it; and the same with its cost report in the body,
/// made at the first repeat that wants it and shared by the next ones: a large answer is not
/// copied for each repeat to add a few hundred bytes.
struct KeptAnswer {
    answer: Answer,
    reported: std::sync::OnceLock<Answer>,
    ttl: Duration,
}

struct AnswerTtl;

impl Expiry<[u8; 32], Arc<KeptAnswer>> for AnswerTtl {
    fn expire_after_create(&self, _: &[u8; 32], kept: &Arc<KeptAnswer>, _: Instant) -> Option<Duration> {
        Some(kept.ttl)
    }
}

impl std::fmt::Debug for AnswerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerCache").field("entries", &self.inner.as_ref().map(|c| c.entry_count())).finish()
    }
}

impl AnswerCache {
    /// A cache bounded by a quarter of the upstream cache's bytes; off when that cache is. An
    /// answer weighs twice its body: room for its reported copy.
    pub(crate) fn new(config: &CacheConfig) -> Self {
        let inner = config.enabled.then(|| {
            moka::future::Cache::builder()
                .max_capacity((config.max_bytes / 4).max(1))
                .weigher(|_, kept: &Arc<KeptAnswer>| {
                    u32::try_from(kept.answer.body.len().saturating_mul(2)).unwrap_or(u32::MAX).max(1)
                })
                .expire_after(AnswerTtl)
                .build()
        });
        AnswerCache { inner, config: config.clone() }
    }

    /// The answer kept for `key`, as a repeat is served ([`Answer::served_whole`]), with its
    /// cost report in its body when `report`.
    pub(crate) async fn get(&self, key: &[u8; 32], report: bool) -> Option<Answer> {
        let hit = self.inner.as_ref()?.get(key).await.map(|kept| {
            if report {
                kept.reported.get_or_init(|| kept.answer.clone().reported()).clone()
            } else {
                kept.answer.clone()
            }
        });
        let label = if hit.is_some() { "hit" } else { "miss" };
        metrics::counter!("billing_answer_cache_requests_total", "result" => label).increment(1);
        if hit.is_some() {
            tracing::debug!(answer_cache = "hit", "the whole answer came from the cache");
        }
        hit
    }

    /// Keeps a complete answer; `closed`: every range it covers is closed.
    pub(crate) async fn put(&self, key: [u8; 32], answer: &Answer, closed: bool) {
        let Some(cache) = &self.inner else { return };
        if answer.kind != AnswerKind::Complete {
            return;
        }
        let ttl = if closed { self.config.closed_ttl } else { self.config.ttl };
        let kept = KeptAnswer { answer: answer.clone().served_whole(), reported: std::sync::OnceLock::new(), ttl };
        cache.insert(key, Arc::new(kept)).await;
    }

    pub(crate) fn clear(&self) {
        if let Some(c) = &self.inner {
            c.invalidate_all();
        }
    }
}
