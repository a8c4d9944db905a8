//! The load generator: a closed loop of clients POSTing one body over keep-alive HTTP/1.1.

use crate::scenario::CallTime;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;

/// What a load run measured.
#[derive(Debug)]
pub(crate) struct Sample {
    /// Requests answered 200.
    pub(crate) ok: u64,
    /// Requests answered otherwise, or not at all.
    pub(crate) failed: u64,
    /// From the first request to the last answer.
    pub(crate) elapsed: Duration,
    /// Latency of the 200s, in microseconds.
    pub(crate) latency: Histogram<u64>,
}

impl Sample {
    pub(crate) fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// A quantile of the latency, in milliseconds.
    pub(crate) fn ms(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }
}

/// The load client: no gzip (the baseline does not compress, so neither side should), a pool
/// wide enough for every client.
#[allow(clippy::disallowed_methods, reason = "the load generator is a client of the servers under test")]
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap_or_default()
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 10 min at 3 significant digits; these bounds are valid, so this cannot fail.
    Histogram::new_with_bounds(1, 600_000_000, 3).unwrap_or_else(|_| unreachable!("valid bounds"))
}

/// Sends one request and returns its answer as JSON.
pub(crate) async fn once(client: &reqwest::Client, url: &str, body: &Bytes) -> Result<serde_json::Value, String> {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{url}: {status}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(300)])));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("{url}: not JSON: {e}"))
}

/// Runs `clients` closed-loop clients for `duration`; each finishes the request it has in flight.
/// Client `i` sends `bodies[i % bodies.len()]`.
pub(crate) async fn drive(
    client: &reqwest::Client,
    url: &str,
    bodies: &[Bytes],
    clients: usize,
    duration: Duration,
) -> Sample {
    let started = Instant::now();
    let deadline = started + duration;
    let workers = (0..clients.max(1)).map(|i| {
        let client = client.clone();
        let url = url.to_owned();
        let body = bodies.get(i % bodies.len().max(1)).cloned().unwrap_or_default();
        tokio::spawn(async move {
            let mut latency = histogram();
            let (mut ok, mut failed) = (0_u64, 0_u64);
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let answer =
                    client.post(&url).header("content-type", "application/json").body(body.clone()).send().await;
                let good = match answer {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    _ => false,
                };
                if good {
                    ok += 1;
                    let _ = latency.record(u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX).max(1));
                } else {
                    failed += 1;
                }
            }
            (ok, failed, latency)
        })
    });
    let results = futures::future::join_all(workers).await;
    let mut sample = Sample { ok: 0, failed: 0, elapsed: started.elapsed(), latency: histogram() };
    for (ok, failed, latency) in results.into_iter().flatten() {
        sample.ok += ok;
        sample.failed += failed;
        let _ = sample.latency.add(&latency);
    }
    sample
}

/// How long an upstream call takes as a client sees it: 40 sequential calls (after one to warm
/// the connection) to the simulator's v1 overview endpoint on an otherwise idle machine. That is
/// the configured latency plus what no client can avoid (loopback transit, the simulator's HTTP
/// handling, the timer's millisecond granularity). Run with the simulator's faults off.
pub(crate) async fn call_time(client: &reqwest::Client, sim: &billing_sim::SimHandle) -> Result<CallTime, String> {
    let dataset = sim.dataset();
    let url = format!("{}/billing/costs/{}", sim.elastic_v1_url(), dataset.demo_org().id);
    let key = format!("ApiKey {}", dataset.credentials().elastic_demo_key);
    let mut samples = Vec::with_capacity(41);
    for _ in 0..41 {
        let started = std::time::Instant::now();
        let response = client.get(&url).header("authorization", &key).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        response.bytes().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{url}: {status}"));
        }
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let timed = &samples[1..];
    Ok(CallTime {
        min: timed.iter().copied().fold(f64::INFINITY, f64::min),
        mean: timed.iter().sum::<f64>() / timed.len() as f64,
    })
}
