//! The response cache across requests: TTL, bounded in entries and bytes, coalescing.
//!
//! Keys hold the endpoint, the arguments, and the caller's credential identity: a keyed BLAKE3
//! hash of the credential under a key drawn at start-up, never the credential itself. So one
//! caller never reads what another's credential fetched, and a credential the upstream refuses
//! never reads what a valid one cached: errors are never cached, so a refused credential always
//! reaches the upstream and is refused again.
//!
//! Identical concurrent misses are coalesced into one upstream call by moka's `try_get_with`.
//!
//! With a [`Shared`] store (Redis), a miss here asks Redis before the upstream, and across
//! replicas identical misses are coalesced too (`shared/cache.rs`).

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use billing_http::{ElasticCredentials, ExposeSecret, TalkdeskAuth};
use moka::Expiry;
use moka::future::Cache;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::CacheConfig;
use crate::error::GraphError;
use crate::shared::{Shared, Through};

/// A credential's identity for cache keys: a keyed hash, unlinkable to the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub(crate) [u8; 16]);

/// Derives [`Fingerprint`]s under a secret key drawn once per process.
#[derive(Clone)]
pub struct Fingerprinter {
    key: [u8; 32],
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprinter([REDACTED])")
    }
}

impl Default for Fingerprinter {
    fn default() -> Self {
        Fingerprinter { key: rand::random() }
    }
}

impl Fingerprinter {
    /// The identity of an Elastic credential (scheme and secret).
    pub fn elastic(&self, creds: &ElasticCredentials) -> Fingerprint {
        let scheme: &[u8] = match creds.scheme() {
            billing_http::ElasticScheme::ApiKey => b"elastic:apikey:",
            billing_http::ElasticScheme::Bearer => b"elastic:bearer:",
        };
        self.hash(scheme, creds.expose_secret())
    }

    /// The identity of a Talkdesk credential: a bearer token's is the token; a token source's
    /// is the source (its number, token endpoint and client id, never the secret), so the
    /// tokens it renews share one identity, and no other source shares it.
    pub fn talkdesk(&self, auth: &TalkdeskAuth) -> Fingerprint {
        match auth {
            TalkdeskAuth::Token(token) => self.hash(b"talkdesk:bearer:", token.expose_secret()),
            TalkdeskAuth::Source(source) => {
                let identity =
                    format!("{}\n{}\n{}", source.id(), source.token_url(), source.client_id().expose_secret());
                self.hash(b"talkdesk:client:", &identity)
            }
        }
    }

    /// A fingerprinter whose key is derived from `secret`: replicas given the same secret
    /// derive the same fingerprints, so they can share cache entries (through Redis).
    pub fn from_secret(secret: &str) -> Self {
        Fingerprinter { key: blake3::derive_key("billing-graph 2025 credential fingerprint key", secret.as_bytes()) }
    }

    fn hash(&self, domain: &[u8], secret: &str) -> Fingerprint {
        self.bytes(domain, secret.as_bytes())
    }

    /// The keyed hash of raw bytes (an `Authorization` value) under `domain`.
    pub(crate) fn bytes(&self, domain: &[u8], secret: &[u8]) -> Fingerprint {
        let mut h = blake3::Hasher::new_keyed(&self.key);
        h.update(domain);
        h.update(secret);
        let mut out = [0; 16];
        out.copy_from_slice(&h.finalize().as_bytes()[..16]);
        Fingerprint(out)
    }
}

/// What a cached answer is: endpoint, credential identity, arguments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub endpoint: &'static str,
    pub credential: Fingerprint,
    pub args: String,
}

#[derive(Clone)]
struct Entry {
    value: Arc<dyn Any + Send + Sync>,
    bytes: u32,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<CacheKey, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &CacheKey, value: &Entry, _now: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// The cache, or its absence.
#[derive(Clone)]
pub struct UpstreamCache {
    inner: Option<Cache<CacheKey, Entry>>,
    config: CacheConfig,
    /// The second level, shared with the other replicas.
    shared: Option<Shared>,
}

impl std::fmt::Debug for UpstreamCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamCache")
            .field("config", &self.config)
            .field("entries", &self.inner.as_ref().map(Cache::entry_count))
            .field("shared", &self.shared)
            .finish()
    }
}

/// A writer that only counts what is written to it.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether an answer came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Hit,
    /// Not in this process, but in the shared store (another replica fetched it).
    SharedHit,
    Miss,
}

impl UpstreamCache {
    pub fn new(config: CacheConfig) -> Self {
        let inner = config.enabled.then(|| {
            // Bounded by bytes through the weigher; entries are bounded below by max_bytes/weight
            // and above by max_entries through a minimum weight per entry.
            let min_weight = (config.max_bytes / config.max_entries.max(1)).clamp(1, u64::from(u32::MAX));
            Cache::builder()
                .max_capacity(config.max_bytes)
                .weigher(move |_k: &CacheKey, e: &Entry| u32::try_from(min_weight).unwrap_or(u32::MAX).max(e.bytes))
                .expire_after(PerEntryTtl)
                .eviction_listener(|_key, _entry, cause| {
                    // Removals the cache chose: by size or time, not `clear()` or a replacement.
                    let cause = match cause {
                        moka::notification::RemovalCause::Size => "size",
                        moka::notification::RemovalCause::Expired => "expired",
                        _ => return,
                    };
                    metrics::counter!("billing_cache_evictions_total", "cause" => cause).increment(1);
                })
                .build()
        });
        UpstreamCache { inner, config, shared: None }
    }

    /// This cache with `shared` behind it as a second level (when the cache is enabled).
    pub fn with_shared(mut self, shared: Option<Shared>) -> Self {
        self.shared = shared;
        self
    }

    /// The second level, if any.
    pub fn shared(&self) -> Option<&Shared> {
        self.shared.as_ref()
    }

    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// The number of entries (approximate: moka counts lazily).
    pub fn entry_count(&self) -> u64 {
        self.inner.as_ref().map_or(0, Cache::entry_count)
    }

    /// Empties the cache.
    pub fn clear(&self) {
        if let Some(c) = &self.inner {
            c.invalidate_all();
        }
    }

    /// Whether the cache holds an answer for `key` (a cost estimate's question: nothing is
    /// fetched).
    pub(crate) fn contains(&self, key: &CacheKey) -> bool {
        self.inner.as_ref().is_some_and(|c| c.contains_key(key))
    }

    /// The cached answer for `key`, if the cache holds one of type `T`; nothing is fetched.
    pub(crate) async fn peek<T: Send + Sync + 'static>(&self, key: &CacheKey) -> Option<Arc<T>> {
        let entry = self.inner.as_ref()?.get(key).await?;
        entry.value.downcast::<T>().ok()
    }

    /// The cached answer for `key`, or `fetch`'s, which is then cached unless it failed.
    /// Concurrent callers with the same key share one `fetch`.
    pub async fn get_or_fetch<T, F>(
        &self,
        key: CacheKey,
        closed: bool,
        fetch: F,
    ) -> (Result<Arc<T>, GraphError>, Lookup)
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
        F: Future<Output = Result<T, GraphError>> + Send,
    {
        let Some(cache) = &self.inner else {
            return (fetch.await.map(Arc::new), Lookup::Miss);
        };
        let ttl = if closed { self.config.closed_ttl } else { self.config.ttl };
        let shared_key = self.shared.as_ref().map(|_| Shared::cache_key(&key));
        let mut lookup = Lookup::Hit;
        let result = cache
            .try_get_with(key, async {
                lookup = Lookup::Miss;
                let (value, ttl) = match (&self.shared, &shared_key) {
                    (Some(shared), Some(shared_key)) => {
                        let (result, through) = shared.through(shared_key, ttl, fetch).await;
                        if through == Through::Shared {
                            lookup = Lookup::SharedHit;
                        }
                        let (value, left) = result?;
                        // Kept here no longer than it is left in Redis: the finality rule's TTL
                        // counts from the upstream call, whichever replica made it.
                        (value, left.min(ttl).max(Duration::from_millis(1)))
                    }
                    _ => (fetch.await?, ttl),
                };
                // The weight is the answer's JSON size: what it cost to fetch, and close to its
                // size in memory. Counted as it is written, without a copy of the answer.
                let mut size = ByteCount(0);
                let bytes = serde_json::to_writer(&mut size, &value).map_or(0, |()| size.0);
                Ok::<_, GraphError>(Entry {
                    value: Arc::new(value),
                    bytes: u32::try_from(bytes).unwrap_or(u32::MAX),
                    ttl,
                })
            })
            .await;
        let result = match result {
            Ok(entry) => entry.value.downcast::<T>().map_err(|_| GraphError::Internal("a cache entry of another type")),
            Err(e) => Err((*e).clone()),
        };
        let label = match lookup {
            Lookup::Hit => "hit",
            Lookup::SharedHit => "shared_hit",
            Lookup::Miss => "miss",
        };
        metrics::counter!("billing_cache_requests_total", "result" => label).increment(1);
        (result, lookup)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use billing_http::{
        TalkdeskAuth, TalkdeskClientCredentials, TalkdeskToken, TalkdeskTokenSource, Transport, TransportConfig,
    };

    use super::Fingerprinter;

    #[test]
    fn a_token_source_is_one_identity_of_its_own() {
        let fp = Fingerprinter::default();
        let transport = Transport::new(TransportConfig::default()).unwrap();
        let source = |secret: &str| {
            let client = TalkdeskClientCredentials::new("client-1", secret).unwrap();
            TalkdeskTokenSource::new(transport.clone(), "https://acme.talkdeskid.com/oauth/token", client).unwrap()
        };
        let a = source("secret-a");
        let same_client = source("secret-b");
        let of = |auth: TalkdeskAuth| fp.talkdesk(&auth);
        // Its clones (each request's copy) share its identity, so its answers stay cached as its
        // tokens are renewed; another source, even of the same client id, shares nothing.
        assert_eq!(of(a.clone().into()), of((&a).into()));
        assert_ne!(of(a.into()), of(same_client.into()));
        assert_ne!(of(TalkdeskToken::new("client-1").unwrap().into()), of(source("secret-a").into()));
    }
}
