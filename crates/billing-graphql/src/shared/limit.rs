//! The upstreams' rate budget, shared by the replicas: GCRA in one Lua script.
//!
//! Hand-written rather than a crate: the maintained GCRA crates for Redis are server modules
//! (redis-cell) or bring their own connection handling; the algorithm is a dozen lines, runs
//! atomically in Redis on Redis's clock, and shares the connection manager, timeouts and
//! degradation of everything else in `shared/`.
//!
//! One key per upstream holds its theoretical arrival time (the configured rate and burst
//! across every replica together); one key per upstream and credential holds a pause, set when
//! the upstream answered that credential `429` with a `Retry-After` (upstreams limit per key),
//! which every replica's next call on it waits out.

use std::time::Duration;

use billing_http::{Limit, SharedLimit, Upstream};
use futures::future::BoxFuture;

use super::Shared;

/// KEYS: the upstream's GCRA key, the credential's pause key. ARGV: the emission interval in
/// microseconds (0: no rate), the burst. Answers the wait in microseconds (0: go).
const ADMIT: &str = r"
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then return pause * 1000 end
local interval = tonumber(ARGV[1])
if interval == 0 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - interval * (tonumber(ARGV[2]) - 1)
if now < allow_at then return allow_at - now end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
";

/// KEYS: the pause key. ARGV: the pause in milliseconds. Only lengthens a pause.
const BACK_OFF: &str = r"
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0
";

/// The scripts, hashed once (invoked by `EVALSHA`, loaded on first use).
pub(super) struct Scripts {
    admit: redis::Script,
    back_off: redis::Script,
}

impl Default for Scripts {
    fn default() -> Self {
        Scripts { admit: redis::Script::new(ADMIT), back_off: redis::Script::new(BACK_OFF) }
    }
}

impl Shared {
    fn pause_key(&self, upstream: Upstream, credential: &[u8]) -> String {
        let fp = self.inner.fingerprinter.bytes(b"limit:", credential);
        let hex: String = fp.0.iter().map(|b| format!("{b:02x}")).collect();
        format!("bg:rl1:{}:pause:{hex}", upstream.as_str())
    }
}

impl SharedLimit for Shared {
    fn admit<'a>(
        &'a self,
        upstream: Upstream,
        credential: &'a [u8],
        limit: &'a Limit,
    ) -> BoxFuture<'a, Option<Duration>> {
        Box::pin(async move {
            let interval = limit.requests_per_second.map_or(0, |rps| 1_000_000 / u64::from(rps.get()).max(1));
            let rate_key = format!("bg:rl1:{}", upstream.as_str());
            let pause_key = self.pause_key(upstream, credential);
            let burst = limit.burst.get();
            let wait: u64 = self
                .run(|mut c| async move {
                    self.inner
                        .scripts
                        .admit
                        .key(rate_key)
                        .key(pause_key)
                        .arg(interval)
                        .arg(burst)
                        .invoke_async(&mut c)
                        .await
                })
                .await?;
            Some(Duration::from_micros(wait))
        })
    }

    fn back_off<'a>(&'a self, upstream: Upstream, credential: &'a [u8], retry_after: Duration) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let pause_key = self.pause_key(upstream, credential);
            let ms = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX).max(1);
            metrics::counter!("billing_shared_limit_pauses_total", "upstream" => upstream.as_str()).increment(1);
            self.run(|mut c| async move {
                self.inner.scripts.back_off.key(pause_key).arg(ms).invoke_async::<i64>(&mut c).await
            })
            .await;
        })
    }
}
