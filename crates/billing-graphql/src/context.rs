//! Per-request state: the caller's credentials, the clock, the upstream call budget, and the
//! DataLoaders. Nothing here outlives a request, so no loader ever mixes two callers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use billing_http::{
    ElasticBillingV1, ElasticBillingV2, ElasticCredentials, TalkdeskAuth, TalkdeskBillingInsights, TalkdeskToken,
    Upstream,
};
use chrono::{DateTime, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::cache::{Fingerprint, Fingerprinter, UpstreamCache};
use crate::config::SchemaConfig;
use crate::error::{GraphError, Result};

/// The three upstream clients the schema reads from.
#[derive(Debug, Clone)]
pub struct Upstreams {
    pub elastic_v1: ElasticBillingV1,
    pub elastic_v2: ElasticBillingV2,
    pub talkdesk: TalkdeskBillingInsights,
}

/// One credential as the caller sent it.
#[derive(Debug, Clone, Default)]
pub enum Credential<T> {
    /// None was sent.
    #[default]
    Missing,
    /// One was sent that cannot be used (empty, unknown scheme, bad characters).
    Invalid,
    /// A usable credential.
    Present(T),
}

/// The caller's credentials, one per upstream family. Each is only ever sent to its own upstream.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub elastic: Credential<ElasticCredentials>,
    /// A caller's bearer token, or the server's token source (OAuth client credentials).
    pub talkdesk: Credential<TalkdeskAuth>,
}

impl Credentials {
    /// No credentials.
    pub fn none() -> Self {
        Credentials::default()
    }

    /// Reads an Elastic `Authorization` header value (`ApiKey …` or `Bearer …`).
    pub fn with_elastic_header(mut self, value: Option<&str>) -> Self {
        self.elastic = match value {
            None => Credential::Missing,
            Some(v) => ElasticCredentials::from_header_value(v).map_or(Credential::Invalid, Credential::Present),
        };
        self
    }

    /// Reads a Talkdesk token header value (`Bearer …`).
    pub fn with_talkdesk_header(mut self, value: Option<&str>) -> Self {
        self.talkdesk = match value {
            None => Credential::Missing,
            Some(v) => TalkdeskToken::from_header_value(v)
                .map_or(Credential::Invalid, |t| Credential::Present(TalkdeskAuth::Token(t))),
        };
        self
    }

    /// Uses `creds` for Elastic.
    pub fn with_elastic(mut self, creds: ElasticCredentials) -> Self {
        self.elastic = Credential::Present(creds);
        self
    }

    /// Uses `auth` for Talkdesk: a [`TalkdeskToken`], or a shared
    /// [`TalkdeskTokenSource`](billing_http::TalkdeskTokenSource) whose tokens are renewed as
    /// they expire (its cache identity is the source's, so renewals keep its cached answers).
    pub fn with_talkdesk(mut self, auth: impl Into<TalkdeskAuth>) -> Self {
        self.talkdesk = Credential::Present(auth.into());
        self
    }
}

/// What every request shares with the schema: clients, cache, fingerprint key, config.
#[derive(Debug)]
pub(crate) struct Services {
    pub(crate) upstreams: Upstreams,
    pub(crate) cache: UpstreamCache,
    pub(crate) fingerprinter: Fingerprinter,
    pub(crate) config: SchemaConfig,
    pub(crate) callers: CallerSlots,
    /// The last size of each organization's lists, per credential, for cost estimates.
    pub(crate) sizes: crate::cost::Sizes,
    /// The planned executor's deployments fields being written, which share one window.
    pub(crate) windows: crate::plan::Windows,
}

/// Each caller's share of an upstream: at most `per_caller` of its calls in flight at once, so
/// one credential with a heavy query cannot hold every one of the transport's slots while
/// another caller's small query waits behind it. A caller is a credential's fingerprint.
///
/// The semaphores live in a bounded cache that forgets idle callers; one forgotten while its
/// calls are in flight gets a fresh semaphore, so the share can be briefly exceeded then.
pub(crate) struct CallerSlots {
    per_caller: usize,
    slots: moka::sync::Cache<(Upstream, Fingerprint), Arc<Semaphore>>,
}

impl std::fmt::Debug for CallerSlots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallerSlots").field("per_caller", &self.per_caller).finish_non_exhaustive()
    }
}

impl CallerSlots {
    /// `per_caller` calls in flight per caller and upstream (0: no share is kept).
    pub(crate) fn new(per_caller: usize) -> Self {
        let slots = moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_idle(std::time::Duration::from_secs(600))
            .build();
        CallerSlots { per_caller, slots }
    }

    /// Waits for one of the caller's slots on `upstream`; `None` when no share is kept.
    pub(crate) async fn acquire(&self, upstream: Upstream, caller: Fingerprint) -> Option<OwnedSemaphorePermit> {
        if self.per_caller == 0 {
            return None;
        }
        let semaphore = self.slots.get_with((upstream, caller), || Arc::new(Semaphore::new(self.per_caller)));
        if semaphore.available_permits() == 0 {
            metrics::counter!("billing_caller_slot_waits_total", "upstream" => upstream.as_str()).increment(1);
        }
        // Never closed, so acquiring only waits.
        semaphore.acquire_owned().await.ok()
    }
}

/// The state of one request, shared by its resolvers and loaders.
#[derive(Debug)]
pub(crate) struct RequestState {
    pub(crate) services: Arc<Services>,
    elastic: Credential<(ElasticCredentials, Fingerprint)>,
    talkdesk: Credential<(TalkdeskAuth, Fingerprint)>,
    /// The request's clock: every default range in one request resolves to the same instants.
    pub(crate) now: DateTime<Utc>,
    budget: u32,
    spent: AtomicU32,
    /// Whether an answer of this request covers a range that may still change (one that
    /// includes the last day, or no range at all): its response may be kept only briefly.
    open: AtomicBool,
    /// The upstream calls and cache hits of this request, for `extensions.cost`.
    pub(crate) meter: crate::cost::Meter,
}

impl RequestState {
    pub(crate) fn new(services: Arc<Services>, creds: Credentials, now: DateTime<Utc>) -> Self {
        let fp = &services.fingerprinter;
        let elastic = match creds.elastic {
            Credential::Present(c) => {
                let f = fp.elastic(&c);
                Credential::Present((c, f))
            }
            Credential::Invalid => Credential::Invalid,
            Credential::Missing => Credential::Missing,
        };
        let talkdesk = match creds.talkdesk {
            Credential::Present(t) => {
                let f = fp.talkdesk(&t);
                Credential::Present((t, f))
            }
            Credential::Invalid => Credential::Invalid,
            Credential::Missing => Credential::Missing,
        };
        let budget = services.config.limits.upstream_calls;
        RequestState {
            services,
            elastic,
            talkdesk,
            now,
            budget,
            spent: AtomicU32::new(0),
            open: AtomicBool::new(false),
            meter: crate::cost::Meter::default(),
        }
    }

    pub(crate) fn elastic(&self, upstream: Upstream) -> Result<(&ElasticCredentials, Fingerprint)> {
        match &self.elastic {
            Credential::Present((c, f)) => Ok((c, *f)),
            Credential::Invalid => Err(GraphError::InvalidCredential(upstream)),
            Credential::Missing => Err(GraphError::MissingCredential(upstream)),
        }
    }

    pub(crate) fn talkdesk(&self) -> Result<(&TalkdeskAuth, Fingerprint)> {
        match &self.talkdesk {
            Credential::Present((t, f)) => Ok((t, *f)),
            Credential::Invalid => Err(GraphError::InvalidCredential(Upstream::Talkdesk)),
            Credential::Missing => Err(GraphError::MissingCredential(Upstream::Talkdesk)),
        }
    }

    /// Reserves one upstream call from the request's budget, or fails when it is spent. The
    /// check and the spend are one atomic step, so concurrent fields of one request never
    /// reserve more than the budget between them.
    ///
    /// A field reserves *before* it starts or joins a shared fetch, and the fetch itself spends
    /// nothing: so a budget error is always the failing request's own, and never the answer of
    /// a fetch another request joined. A reservation that no call used (a cache hit, a joined
    /// fetch) goes back to the budget when dropped.
    pub(crate) fn reserve(&self) -> Result<Reservation<'_>> {
        self.spent
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |spent| (spent < self.budget).then_some(spent + 1))
            .map_err(|_| GraphError::BudgetExceeded { budget: self.budget })?;
        Ok(Reservation { state: self, used: AtomicBool::new(false) })
    }

    /// Notes that an answer of this request covers a range that may still change.
    pub(crate) fn touch_open(&self) {
        self.open.store(true, Ordering::Relaxed);
    }

    /// Whether every answer of this request so far is about closed ranges.
    pub(crate) fn all_closed(&self) -> bool {
        !self.open.load(Ordering::Relaxed)
    }

    pub(crate) fn upstreams(&self) -> &Upstreams {
        &self.services.upstreams
    }
}

/// One upstream call reserved from a request's budget: spent by [`Reservation::use_it`], given
/// back when dropped unused.
#[derive(Debug)]
pub(crate) struct Reservation<'a> {
    state: &'a RequestState,
    used: AtomicBool,
}

impl Reservation<'_> {
    /// Marks the reserved call as made.
    pub(crate) fn use_it(&self) {
        self.used.store(true, Ordering::Release);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.used.load(Ordering::Acquire) {
            self.state.spent.fetch_sub(1, Ordering::AcqRel);
        }
    }
}
