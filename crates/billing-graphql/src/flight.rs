//! Single flight: identical operations in flight at once share one execution.
//!
//! Two requests are identical when their document, operation name and variables are, and their
//! credentials have the same identities (the cache's keyed fingerprints, never the secrets). The
//! first starts the execution; the others await it and get a copy of its response. The response
//! cache already coalesces their upstream calls, but each would still resolve, reorder and build
//! the whole response: at 16 identical dashboards at once that is 16 times the CPU for one answer.
//! Only with the cache on: a caller who turned it off asked for every request to run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_graphql::Response;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tracing::Instrument;

use crate::cache::{Fingerprint, Fingerprinter};
use crate::context::{Credential, Credentials};
use crate::error::codes;

type Flight<T> = Shared<BoxFuture<'static, Arc<T>>>;

/// What an execution answers: a response tree, or the bytes of one.
pub(crate) trait Outcome: Send + Sync + 'static {
    /// An answer with one coded error and no data: a panicked execution (never a crashed
    /// server), or one out of time.
    fn error(code: &'static str, message: String) -> Self;
}

impl Outcome for Response {
    fn error(code: &'static str, message: String) -> Self {
        Response::from_errors(vec![crate::bounds::error(code, message)])
    }
}

/// One execution in flight and the callers waiting on it.
struct Entry<T> {
    /// Tells this execution from a later one under the same key.
    id: u64,
    flight: Flight<T>,
    waiters: usize,
    /// Stops the execution's task; `None` outside a runtime, where the execution is polled by
    /// its callers and stops when they drop it.
    abort: Option<tokio::task::AbortHandle>,
}

type Map<T> = Arc<Mutex<HashMap<[u8; 32], Entry<T>>>>;

/// The executions in flight, by [`key`].
pub(crate) struct Flights<T> {
    inner: Map<T>,
    started: AtomicU64,
}

impl<T> Default for Flights<T> {
    fn default() -> Self {
        Flights { inner: Arc::default(), started: AtomicU64::new(0) }
    }
}

impl<T> std::fmt::Debug for Flights<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flights").field("in_flight", &self.in_flight()).finish()
    }
}

impl<T> Flights<T> {
    /// Executions started (joined ones are not counted).
    pub(crate) fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// Executions in flight now.
    pub(crate) fn in_flight(&self) -> usize {
        self.inner.lock().map_or(0, |m| m.len())
    }
}

impl<T: Outcome> Flights<T> {
    /// Runs `execute`, or joins the identical execution already in flight under `key`.
    ///
    /// The execution runs as its own task, so a caller that goes does not cancel it for the
    /// others; when the last caller has gone, or after `timeout`, it stops: no work outlives
    /// every request that wanted it.
    pub(crate) async fn run(
        &self,
        key: [u8; 32],
        timeout: Duration,
        execute: impl FnOnce() -> BoxFuture<'static, T>,
    ) -> Arc<T> {
        let (id, flight, span) = {
            let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = map.get_mut(&key) {
                metrics::counter!("billing_graphql_coalesced_total").increment(1);
                entry.waiters += 1;
                (entry.id, entry.flight.clone(), tracing::debug_span!("single_flight_join"))
            } else {
                let id = self.started.fetch_add(1, Ordering::Relaxed);
                let leave = Leave { map: Arc::clone(&self.inner), key, id };
                let run = execute();
                let task = async move {
                    // Leaves the map when done, panicked, timed out or stopped: later arrivals
                    // start afresh.
                    let _leave = leave;
                    metrics::counter!("billing_graphql_executions_total").increment(1);
                    match tokio::time::timeout(timeout, run).await {
                        Ok(response) => Arc::new(response),
                        Err(_) => Arc::new(T::error(
                            codes::REQUEST_TIMEOUT,
                            format!("the request took longer than {} ms", timeout.as_millis()),
                        )),
                    }
                };
                let (flight, abort): (Flight<T>, _) = match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => {
                        // The execution's spans are the first caller's request's children.
                        let join = runtime.spawn(task.instrument(tracing::Span::current()));
                        let abort = join.abort_handle();
                        let flight = async move {
                            join.await.unwrap_or_else(|_| Arc::new(T::error(codes::INTERNAL, "internal error".into())))
                        };
                        (flight.boxed().shared(), Some(abort))
                    }
                    Err(_) => (task.boxed().shared(), None),
                };
                map.insert(key, Entry { id, flight: flight.clone(), waiters: 1, abort });
                (id, flight, tracing::Span::none())
            }
        };
        let waiter = Waiter { map: Arc::clone(&self.inner), key, id };
        let answer = flight.instrument(span).await;
        drop(waiter);
        answer
    }
}

/// Removes a finished execution from the map (not a later one under the same key).
struct Leave<T> {
    map: Map<T>,
    key: [u8; 32],
    id: u64,
}

impl<T> Drop for Leave<T> {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.get(&self.key).is_some_and(|e| e.id == self.id) {
            map.remove(&self.key);
        }
    }
}

/// A caller waiting on an execution. The last to go, answered or not (a client that hung up,
/// a timeout above), stops the execution if it still runs.
struct Waiter<T> {
    map: Map<T>,
    key: [u8; 32],
    id: u64,
}

impl<T> Drop for Waiter<T> {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(entry) = map.get_mut(&self.key).filter(|e| e.id == self.id) else { return };
        entry.waiters -= 1;
        if entry.waiters == 0 {
            if let Some(abort) = &entry.abort {
                abort.abort();
            }
            map.remove(&self.key);
        }
    }
}

/// A copy of a shared response, for one of the callers that shared it.
pub(crate) fn copy(r: &Response) -> Response {
    let mut out = Response::default();
    out.data = r.data.clone();
    out.extensions = r.extensions.clone();
    out.cache_control = r.cache_control;
    out.errors = r.errors.clone();
    out.http_headers = r.http_headers.clone();
    out
}

/// What makes two requests identical: document, operation name, variables, caller.
pub(crate) fn key(request: &async_graphql::Request, credentials: &Credentials, fp: &Fingerprinter) -> [u8; 32] {
    let (mut h, _) = document_key(request);
    part(&mut h, &caller(credentials, fp).0);
    *h.finalize().as_bytes()
}

/// What makes two requests run alike, whoever sends them: document, operation name, variables;
/// a hasher to add more to, and how many bytes of them it read.
pub(crate) fn document_key(request: &async_graphql::Request) -> (blake3::Hasher, usize) {
    let mut h = blake3::Hasher::new();
    part(&mut h, request.query.as_bytes());
    // No name and an empty one are not the same request: the empty name is refused.
    match &request.operation_name {
        None => part(&mut h, &[0]),
        Some(name) => {
            part(&mut h, &[1]);
            part(&mut h, name.as_bytes());
        }
    }
    let variables = serde_json::to_vec(&request.variables).unwrap_or_default();
    part(&mut h, &variables);
    let read = request.query.len() + request.operation_name.as_ref().map_or(0, String::len) + variables.len();
    (h, read)
}

/// One part of a key, its length first, so no two lists of parts hash alike.
fn part(h: &mut blake3::Hasher, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// Who a caller is: the identities of its credentials (their keyed fingerprints, never the
/// secrets), or which of them it lacks or sent unusable.
pub(crate) fn caller(credentials: &Credentials, fp: &Fingerprinter) -> CallerId {
    let mut h = blake3::Hasher::new();
    let mut identity = |c: Option<Fingerprint>, state: u8| {
        h.update(&[state]);
        h.update(&c.map_or([0; 16], |f| f.0));
    };
    match &credentials.elastic {
        Credential::Present(c) => identity(Some(fp.elastic(c)), 2),
        Credential::Invalid => identity(None, 1),
        Credential::Missing => identity(None, 0),
    }
    match &credentials.talkdesk {
        Credential::Present(t) => identity(Some(fp.talkdesk(t)), 2),
        Credential::Invalid => identity(None, 1),
        Credential::Missing => identity(None, 0),
    }
    CallerId(*h.finalize().as_bytes())
}

/// A caller's identity, for keeping callers apart (rate limits, fair shares): a hash of its
/// credentials' keyed fingerprints. It reveals nothing of the credentials.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallerId(pub [u8; 32]);

impl std::fmt::Debug for CallerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CallerId({:02x}{:02x}{:02x}{:02x}…)", self.0[0], self.0[1], self.0[2], self.0[3])
    }
}
