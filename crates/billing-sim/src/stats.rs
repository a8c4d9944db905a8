//! Request counters per endpoint template and status, and the in-memory request log.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::Serialize;

/// The most requests the log keeps; older ones are dropped so long benchmarks stay bounded.
const LOG_CAPACITY: usize = 100_000;

/// A snapshot of the counters since the last reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Requests received on any endpoint.
    pub total: u64,
    /// Per endpoint template (see [`crate::endpoints`]).
    pub endpoints: BTreeMap<String, EndpointStats>,
}

/// The counters of one endpoint template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EndpointStats {
    /// Requests received, answered or not (a stalled request counts when it arrives).
    pub calls: u64,
    /// Responses sent, by status code.
    pub by_status: BTreeMap<u16, u64>,
}

impl Stats {
    /// Requests received on an endpoint template.
    pub fn calls(&self, template: &str) -> u64 {
        self.endpoints.get(template).map_or(0, |e| e.calls)
    }

    /// Responses with this status sent on an endpoint template.
    pub fn responses(&self, template: &str, status: u16) -> u64 {
        self.endpoints.get(template).and_then(|e| e.by_status.get(&status)).copied().unwrap_or(0)
    }

    /// Requests received on every endpoint.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Responses by status over every endpoint.
    pub fn by_status(&self) -> BTreeMap<u16, u64> {
        let mut out = BTreeMap::new();
        for e in self.endpoints.values() {
            for (status, n) in &e.by_status {
                *out.entry(*status).or_insert(0) += n;
            }
        }
        out
    }
}

/// One request as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The endpoint template it matched.
    pub template: &'static str,
    /// The status sent; `None` while the request is held (a stall) or when the client gave up first.
    pub status: Option<u16>,
    /// The raw `Authorization` header, so tests can check which credential reached which upstream.
    pub authorization: Option<String>,
    /// The W3C `traceparent` header, so tests can check that a trace reached the upstream.
    pub traceparent: Option<String>,
    /// The latency the simulator added to its answer (the endpoint's, plus a scripted
    /// [`crate::Fault::Latency`]), so a test sees it applied without timing the call.
    pub latency: Duration,
    /// Requests being answered when this one came in, itself included: how many a client had
    /// in flight at once, seen from the upstream.
    pub in_flight: usize,
}

/// The mutable counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    stats: Stats,
    log: VecDeque<(u64, LoggedRequest)>,
    next_seq: u64,
    /// Requests started and not yet answered (or dropped); not reset with the counters.
    in_flight: usize,
}

impl Recorder {
    /// Counts an arriving request and logs it; returns its sequence number for [`Recorder::finish`].
    ///
    /// The request counts as in flight until [`Recorder::leave`].
    pub(crate) fn start(&mut self, mut request: LoggedRequest) -> u64 {
        self.in_flight += 1;
        request.in_flight = self.in_flight;
        self.stats.total += 1;
        self.stats.endpoints.entry(request.template.to_owned()).or_default().calls += 1;
        let seq = self.next_seq;
        self.next_seq += 1;
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back((seq, request));
        seq
    }

    /// Records the status a request was answered with. A reset in between forgets the request.
    pub(crate) fn finish(&mut self, seq: u64, template: &'static str, status: u16) {
        let Ok(index) = self.log.binary_search_by_key(&seq, |(s, _)| *s) else { return };
        self.log[index].1.status = Some(status);
        *self.stats.endpoints.entry(template.to_owned()).or_default().by_status.entry(status).or_insert(0) += 1;
    }

    /// A request [`start`](Recorder::start)ed is no longer being answered.
    pub(crate) fn leave(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        self.stats.clone()
    }

    pub(crate) fn requests(&self) -> Vec<LoggedRequest> {
        self.log.iter().map(|(_, r)| r.clone()).collect()
    }

    pub(crate) fn reset(&mut self) {
        self.stats = Stats::default();
        self.log.clear();
    }
}
