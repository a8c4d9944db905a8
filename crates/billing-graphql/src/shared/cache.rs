//! The second level of the response cache, and single flight across replicas.
//!
//! A key is `bg:c1:` and a BLAKE3 hash of the endpoint, the credential's keyed fingerprint and
//! the arguments: replicas that share the fingerprint key share entries, and a credential only
//! ever meets its own. A replica that misses takes a short lock on the key (`SET NX PX`); the
//! others that miss meanwhile poll for its value for a bounded time, then call the upstream
//! themselves. Polling rather than pub/sub keeps every exchange a single bounded request on the
//! one multiplexed connection.

use std::future::Future;
use std::time::Duration;

use redis::AsyncCommands as _;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Shared, codec};
use crate::cache::CacheKey;
use crate::error::GraphError;

/// How often a replica waiting on another's fetch looks for its value.
const POLL: Duration = Duration::from_millis(10);

/// Releases a lock only if it is still the holder's (it may have expired and been retaken).
const UNLOCK: &str = r"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Through {
    /// Another replica's, from Redis (fetched by it earlier, or while this one waited).
    Shared,
    /// This replica's own upstream call.
    Fetched,
}

enum Lock {
    Acquired(u128),
    Held,
    Unavailable,
}

impl Shared {
    /// The Redis key of a cache key.
    pub(crate) fn cache_key(key: &CacheKey) -> String {
        let mut h = blake3::Hasher::new();
        h.update(key.endpoint.as_bytes());
        h.update(&[0]);
        h.update(&key.credential.0);
        h.update(key.args.as_bytes());
        format!("bg:c1:{}", h.finalize().to_hex())
    }

    /// The answer for `key` from Redis, another replica's fetch in progress, or `fetch`, whose
    /// answer (never an error) is then stored for `ttl`. With the answer, how long it may still
    /// be kept.
    pub(crate) async fn through<T, F>(
        &self,
        key: &str,
        ttl: Duration,
        fetch: F,
    ) -> (Result<(T, Duration), GraphError>, Through)
    where
        T: Serialize + DeserializeOwned,
        F: Future<Output = Result<T, GraphError>>,
    {
        if let Some(found) = self.get::<T>(key).await {
            return (Ok(found), Through::Shared);
        }
        let lock_key = format!("{key}:lock");
        match self.lock(&lock_key).await {
            Lock::Acquired(token) => {
                let result = self.fetch_and_store(key, ttl, fetch).await;
                self.unlock(&lock_key, token).await;
                (result, Through::Fetched)
            }
            Lock::Held => {
                metrics::counter!("billing_shared_flight_waits_total").increment(1);
                let until = tokio::time::Instant::now() + self.config().lock_wait;
                while tokio::time::Instant::now() < until {
                    tokio::time::sleep(POLL).await;
                    match self.poll::<T>(key, &lock_key).await {
                        Poll::Found(found) => return (Ok(found), Through::Shared),
                        Poll::Pending => {}
                        // The holder finished without storing (its call failed: errors are not
                        // shared), or Redis went away: this replica calls itself.
                        Poll::Gone => break,
                    }
                }
                (self.fetch_and_store(key, ttl, fetch).await, Through::Fetched)
            }
            Lock::Unavailable => (self.fetch_and_store(key, ttl, fetch).await, Through::Fetched),
        }
    }

    async fn fetch_and_store<T, F>(&self, key: &str, ttl: Duration, fetch: F) -> Result<(T, Duration), GraphError>
    where
        T: Serialize,
        F: Future<Output = Result<T, GraphError>>,
    {
        let value = fetch.await?;
        if let Some(bytes) = codec::encode(&value) {
            metrics::histogram!("billing_shared_cache_value_bytes").record(bytes.len() as f64);
            let px = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            self.run(|mut c| async move {
                redis::cmd("SET").arg(key).arg(bytes).arg("PX").arg(px).query_async::<()>(&mut c).await
            })
            .await;
        }
        Ok((value, ttl))
    }

    /// The stored value of `key` and its remaining time.
    async fn get<T: DeserializeOwned>(&self, key: &str) -> Option<(T, Duration)> {
        let (bytes, pttl): (Option<Vec<u8>>, i64) =
            self.run(|mut c| async move { redis::pipe().get(key).pttl(key).query_async(&mut c).await }).await?;
        let value = codec::decode(&bytes?)?;
        Some((value, Duration::from_millis(u64::try_from(pttl).ok()?)))
    }

    async fn poll<T: DeserializeOwned>(&self, key: &str, lock_key: &str) -> Poll<(T, Duration)> {
        let answer: Option<(Option<Vec<u8>>, i64, bool)> = self
            .run(|mut c| async move { redis::pipe().get(key).pttl(key).exists(lock_key).query_async(&mut c).await })
            .await;
        match answer {
            None => Poll::Gone,
            Some((Some(bytes), pttl, _)) => match (codec::decode(&bytes), u64::try_from(pttl)) {
                (Some(value), Ok(ms)) => Poll::Found((value, Duration::from_millis(ms))),
                _ => Poll::Gone,
            },
            Some((None, _, true)) => Poll::Pending,
            Some((None, _, false)) => Poll::Gone,
        }
    }

    async fn lock(&self, lock_key: &str) -> Lock {
        let token: u128 = rand::random();
        let px = u64::try_from(self.config().lock_ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let set: Option<Option<String>> = self
            .run(|mut c| async move {
                redis::cmd("SET")
                    .arg(lock_key)
                    .arg(token.to_string())
                    .arg("NX")
                    .arg("PX")
                    .arg(px)
                    .query_async(&mut c)
                    .await
            })
            .await;
        match set {
            Some(Some(_)) => Lock::Acquired(token),
            Some(None) => Lock::Held,
            None => Lock::Unavailable,
        }
    }

    async fn unlock(&self, lock_key: &str, token: u128) {
        self.run(|mut c| async move {
            redis::Script::new(UNLOCK).key(lock_key).arg(token.to_string()).invoke_async::<i64>(&mut c).await
        })
        .await;
    }

    /// Removes every cached answer of this store's prefix (tests and benches start cold).
    pub async fn clear_cache(&self) -> bool {
        self.run(|mut c| async move {
            let keys: Vec<String> = c.keys("bg:c1:*").await?;
            if !keys.is_empty() {
                c.del::<_, ()>(keys).await?;
            }
            Ok(())
        })
        .await
        .is_some()
    }
}

enum Poll<T> {
    Found(T),
    Pending,
    Gone,
}
