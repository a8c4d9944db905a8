//! What the gateway's replicas share through Redis: the second level of the response cache,
//! single flight across replicas, and the upstreams' rate budget.
//!
//! Redis is an optimisation, never a dependency. Every call has a bounded time; a call that
//! fails or runs out of time answers "nothing shared" and the request goes on as if Redis were
//! not configured (from this process's cache, then the upstream). The first failure of an
//! outage logs one warning and marks the store degraded (`/readyz` shows it); while degraded,
//! calls skip Redis except one probe per [`SharedConfig::probe_interval`], and the first that
//! succeeds logs the recovery. The `redis` crate's connection manager reconnects by itself.

mod cache;
pub mod codec;
mod limit;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::cache::Fingerprinter;

pub(crate) use cache::Through;

/// How to reach Redis and how long to wait for it.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedConfig {
    /// `redis://[user:password@]host:port[/db]` (or `rediss://`). Never shown: it may hold a password.
    pub url: String,
    /// Time for one Redis call (and one connection attempt); past it the call counts as failed.
    pub timeout: Duration,
    /// How long a replica holds the single-flight lock of a key it is fetching.
    pub lock_ttl: Duration,
    /// How long a replica waits for another's fetch of the same key before it calls itself.
    pub lock_wait: Duration,
    /// While degraded, at most one call per this interval tries Redis.
    pub probe_interval: Duration,
}

impl std::fmt::Debug for SharedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedConfig")
            .field("url", &"[REDACTED]")
            .field("timeout", &self.timeout)
            .field("lock_ttl", &self.lock_ttl)
            .field("lock_wait", &self.lock_wait)
            .field("probe_interval", &self.probe_interval)
            .finish()
    }
}

impl SharedConfig {
    /// Defaults for `url`: 100 ms per call (loopback or one network hop), a 5 s lock.
    pub fn new(url: impl Into<String>) -> Self {
        SharedConfig {
            url: url.into(),
            timeout: Duration::from_millis(100),
            lock_ttl: Duration::from_secs(5),
            lock_wait: Duration::from_secs(5),
            probe_interval: Duration::from_millis(500),
        }
    }
}

/// The Redis URL could not be used (the message never repeats it: it may hold a password).
#[derive(Debug, thiserror::Error)]
#[error("the redis url is not valid: {0}")]
pub struct SharedError(String);

/// The state shared with the other replicas, in Redis. Cheap to clone.
#[derive(Clone)]
pub struct Shared {
    inner: Arc<Inner>,
}

struct Inner {
    conn: ConnectionManager,
    config: SharedConfig,
    fingerprinter: Fingerprinter,
    healthy: AtomicBool,
    /// Milliseconds since `epoch` of the last call tried while degraded.
    last_probe: AtomicU64,
    epoch: tokio::time::Instant,
    scripts: limit::Scripts,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.inner.config)
            .field("healthy", &self.is_healthy())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// A store on `config.url`, connected lazily: Redis need not be up to start, and cache keys
    /// and limit keys are derived with `fingerprinter`, whose key every replica must share.
    /// Must be called inside a tokio runtime.
    pub fn connect(config: SharedConfig, fingerprinter: Fingerprinter) -> Result<Self, SharedError> {
        let client = redis::Client::open(config.url.as_str()).map_err(|e| SharedError(format!("{:?}", e.kind())))?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client, manager)
            .map_err(|e| SharedError(format!("{:?}", e.kind())))?;
        Ok(Shared {
            inner: Arc::new(Inner {
                conn,
                config,
                fingerprinter,
                healthy: AtomicBool::new(true),
                last_probe: AtomicU64::new(0),
                epoch: tokio::time::Instant::now(),
                scripts: limit::Scripts::default(),
            }),
        })
    }

    /// Whether the last call to Redis succeeded (false: degraded, serving without it).
    pub fn is_healthy(&self) -> bool {
        self.inner.healthy.load(Ordering::Relaxed)
    }

    /// The key cache keys and limit keys are derived with.
    pub fn fingerprinter(&self) -> &Fingerprinter {
        &self.inner.fingerprinter
    }

    pub(crate) fn config(&self) -> &SharedConfig {
        &self.inner.config
    }

    /// Asks Redis whether it answers (a `PING`); used by readiness checks.
    pub async fn ping(&self) -> bool {
        self.run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await }).await.is_some()
    }

    /// Runs one Redis exchange within the timeout; `None` when Redis failed, was too slow, or is
    /// skipped while degraded.
    async fn run<T, F, Fut>(&self, f: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let inner = &self.inner;
        if !self.is_healthy() {
            let now = u64::try_from(inner.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
            let last = inner.last_probe.load(Ordering::Relaxed);
            let interval = u64::try_from(inner.config.probe_interval.as_millis()).unwrap_or(u64::MAX);
            // One caller per interval probes; the others skip Redis at once.
            if now.saturating_sub(last) < interval
                || inner.last_probe.compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed).is_err()
            {
                return None;
            }
        }
        let outcome = tokio::time::timeout(inner.config.timeout, f(inner.conn.clone())).await;
        match outcome {
            Ok(Ok(value)) => {
                if !inner.healthy.swap(true, Ordering::AcqRel) {
                    tracing::info!("redis answers again: the shared cache and rate budget are back");
                }
                Some(value)
            }
            Ok(Err(e)) => {
                self.failed(format!("{:?}", e.kind()));
                None
            }
            Err(_) => {
                self.failed("timed out".to_owned());
                None
            }
        }
    }

    fn failed(&self, why: String) {
        metrics::counter!("billing_redis_errors_total").increment(1);
        let inner = &self.inner;
        if inner.healthy.swap(false, Ordering::AcqRel) {
            let now = u64::try_from(inner.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
            inner.last_probe.store(now, Ordering::Relaxed);
            // Once per outage: the next line about Redis is its recovery.
            tracing::warn!(error = %why, "redis unreachable: serving without the shared cache and rate budget");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::shared::cache::Through;

    /// A Redis that accepts connections and never answers: every call runs out of time, the
    /// answer is fetched all the same, and the store says it is degraded.
    #[tokio::test]
    async fn a_redis_that_never_answers_costs_a_timeout_and_fails_nothing() {
        let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = hung.local_addr().unwrap();
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = hung.accept().await {
                open.push(socket);
            }
        });
        let shared = Shared::connect(SharedConfig::new(format!("redis://{addr}")), Fingerprinter::default()).unwrap();
        assert!(shared.is_healthy());
        let (answer, through) = shared.through::<u32, _>("bg:c1:test", Duration::from_secs(60), async { Ok(7) }).await;
        assert_eq!(answer.unwrap().0, 7);
        assert_eq!(through, Through::Fetched);
        assert!(!shared.is_healthy());
        // Degraded: the next calls skip Redis until a probe answers.
        assert!(!shared.ping().await);
        let (answer, _) = shared.through::<u32, _>("bg:c1:test", Duration::from_secs(60), async { Ok(8) }).await;
        assert_eq!(answer.unwrap().0, 8);
        held.abort();
    }

    #[test]
    fn a_redis_url_never_shows() {
        let config = SharedConfig::new("redis://user:hunter2@cache.internal:6379");
        assert!(!format!("{config:?}").contains("hunter2"));
        let refused = Shared::connect(SharedConfig::new("http://user:hunter2@nowhere"), Fingerprinter::default());
        // Not a runtime context here: only the URL is checked before connecting.
        assert!(!format!("{:?}", refused.map(|_| ()).unwrap_err()).contains("hunter2"));
    }
}
