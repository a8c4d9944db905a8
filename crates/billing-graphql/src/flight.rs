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

use async_graphql::Response;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use crate::cache::{Fingerprint, Fingerprinter};
use crate::context::{Credential, Credentials};

type Flight = Shared<BoxFuture<'static, Arc<Response>>>;

/// The executions in flight, by [`key`].
#[derive(Default)]
pub(crate) struct Flights {
    inner: Arc<Mutex<HashMap<[u8; 32], Flight>>>,
    started: AtomicU64,
}

impl std::fmt::Debug for Flights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.inner.lock().map_or(0, |m| m.len());
        f.debug_struct("Flights").field("in_flight", &n).finish()
    }
}

impl Flights {
    /// Executions started (joined ones are not counted).
    pub(crate) fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// Runs `execute`, or joins the identical execution already in flight under `key`.
    pub(crate) async fn run(&self, key: [u8; 32], execute: impl FnOnce() -> BoxFuture<'static, Response>) -> Response {
        let flight = {
            let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(flight) = map.get(&key) {
                metrics::counter!("billing_graphql_coalesced_total").increment(1);
                flight.clone()
            } else {
                self.started.fetch_add(1, Ordering::Relaxed);
                let leave = Leave { map: Arc::clone(&self.inner), key };
                let run = execute();
                let task = async move {
                    // Leaves the map when done, panicked or not: later arrivals start afresh.
                    let _leave = leave;
                    metrics::counter!("billing_graphql_executions_total").increment(1);
                    Arc::new(run.await)
                };
                // The execution runs as its own task, so it finishes (and frees its upstream
                // slots and its map entry) even when every caller waiting on it has gone.
                let flight: Flight = match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => {
                        let join = runtime.spawn(task);
                        async move { join.await.unwrap_or_else(|_| Arc::new(failed())) }.boxed().shared()
                    }
                    Err(_) => task.boxed().shared(),
                };
                map.insert(key, flight.clone());
                flight
            }
        };
        // Awaiting consumes this handle, so a request that shared with nobody owns the answer.
        let response = flight.await;
        Arc::try_unwrap(response).unwrap_or_else(|shared| copy(&shared))
    }
}

/// Removes a flight from the map when dropped.
struct Leave {
    map: Arc<Mutex<HashMap<[u8; 32], Flight>>>,
    key: [u8; 32],
}

impl Drop for Leave {
    fn drop(&mut self) {
        self.map.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.key);
    }
}

/// The answer when an execution panicked: an error, never a crashed server.
fn failed() -> Response {
    let mut error = async_graphql::ServerError::new("internal error", None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", "INTERNAL");
    error.extensions = Some(ext);
    Response::from_errors(vec![error])
}

fn copy(r: &Response) -> Response {
    let mut out = Response::default();
    out.data = r.data.clone();
    out.extensions = r.extensions.clone();
    out.cache_control = r.cache_control;
    out.errors = r.errors.clone();
    out.http_headers = r.http_headers.clone();
    out
}

/// What makes two requests identical: document, operation name, variables, credential identities.
pub(crate) fn key(request: &async_graphql::Request, credentials: &Credentials, fp: &Fingerprinter) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    let mut part = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    part(request.query.as_bytes());
    part(request.operation_name.as_deref().unwrap_or("").as_bytes());
    part(&serde_json::to_vec(&request.variables).unwrap_or_default());
    let identity = |c: Option<Fingerprint>, state: u8| -> Vec<u8> {
        let mut v = vec![state];
        if let Some(f) = c {
            v.extend_from_slice(&f.0);
        }
        v
    };
    let elastic = match &credentials.elastic {
        Credential::Present(c) => identity(Some(fp.elastic(c)), 2),
        Credential::Invalid => identity(None, 1),
        Credential::Missing => identity(None, 0),
    };
    let talkdesk = match &credentials.talkdesk {
        Credential::Present(t) => identity(Some(fp.talkdesk(t)), 2),
        Credential::Invalid => identity(None, 1),
        Credential::Missing => identity(None, 0),
    };
    part(&elastic);
    part(&talkdesk);
    *h.finalize().as_bytes()
}
