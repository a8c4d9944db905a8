//! `billing-bench --replicas N [--redis]`: N gateway replicas (child processes) in front of one
//! simulator, each request sent to one of them as a load balancer would, with or without a
//! shared `redis-server` (started here on a free loopback port, stopped after).
//!
//! Three phases over the same distinct queries (one organization, many date ranges; each
//! query two upstream calls): *cold*, every query sent to every replica at once (what N
//! replicas cost the upstream for data none has); *warm*, a closed loop over the queries, all
//! answered from the replicas' own caches; *first sight*, a replica started after the others
//! asks every query once: from Redis with it, from the upstream without. A second pass of the
//! first-sight replica is its own cache's hit, so the difference is what Redis adds.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use billing_sim::SimHandle;
use bytes::Bytes;
use hdrhistogram::Histogram;

use crate::child::Server;
use crate::{AnyError, RunArgs};

/// The bench's own `redis-server`: nothing persisted, killed when dropped.
struct Redis {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Redis {
    async fn start() -> Result<Redis, AnyError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("billing-bench-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let child = Command::new(std::env::var_os("REDIS_SERVER").unwrap_or_else(|| "redis-server".into()))
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start redis-server (apt-get install redis-server): {e}"))?;
        let redis = Redis { child, port, dir };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(redis);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err("redis-server did not start".into())
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One phase's figures.
struct Phase {
    name: &'static str,
    requests: u64,
    failed: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
    calls: u64,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).unwrap_or_else(|_| unreachable!("valid bounds"))
}

/// Sends each `(replica, body)` once, `clients` at a time.
async fn send_all(client: &reqwest::Client, work: Vec<(String, Bytes)>, clients: usize) -> (u64, u64, Histogram<u64>) {
    let work = Arc::new(work);
    let next = Arc::new(AtomicUsize::new(0));
    let workers = (0..clients.max(1)).map(|_| {
        let (client, work, next) = (client.clone(), work.clone(), next.clone());
        tokio::spawn(async move {
            let mut latency = histogram();
            let (mut ok, mut failed) = (0, 0);
            while let Some((url, body)) = work.get(next.fetch_add(1, Ordering::Relaxed)) {
                let t0 = Instant::now();
                match crate::load::once(&client, url, body).await {
                    Ok(answer) if answer.get("errors").is_none() => {
                        ok += 1;
                        let _ = latency.record(u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX).max(1));
                    }
                    _ => failed += 1,
                }
            }
            (ok, failed, latency)
        })
    });
    let mut all = (0, 0, histogram());
    for (ok, failed, latency) in futures::future::join_all(workers).await.into_iter().flatten() {
        all.0 += ok;
        all.1 += failed;
        let _ = all.2.add(&latency);
    }
    all
}

async fn phase(
    name: &'static str,
    sim: &SimHandle,
    client: &reqwest::Client,
    work: Vec<(String, Bytes)>,
    clients: usize,
) -> Phase {
    sim.reset_stats();
    let started = Instant::now();
    let (requests, failed, latency) = send_all(client, work, clients).await;
    Phase { name, requests, failed, elapsed: started.elapsed(), latency, calls: sim.stats().total() }
}

async fn start_replica(sim: &SimHandle, redis: Option<&Redis>) -> Result<Server, AnyError> {
    let mut args = crate::sim_args(sim);
    args.extend(["--cache-ttl-secs".to_owned(), "600".to_owned()]);
    if let Some(redis) = redis {
        args.extend(["--redis-url".to_owned(), redis.url()]);
    }
    Ok(Server::start("serve-gateway", &args).await?)
}

/// Runs the three phases for `args.replicas` replicas and prints one row per phase.
pub(crate) async fn run(args: &RunArgs) -> Result<(), AnyError> {
    let redis = if args.redis { Some(Redis::start().await?) } else { None };
    let sim = crate::start_sim(args, args.deployments).await?;
    let latency_ms = args.latency_ms.first().copied().unwrap_or(20);
    sim.set_latency(None, crate::latency(latency_ms));
    let org = sim.dataset().demo_org().id.to_string();
    let bodies: Vec<Bytes> = (1..28u32)
        .flat_map(|from| (from + 1..=28).map(move |to| (from, to)))
        .take(args.queries)
        .map(|(from, to)| {
            let range = format!("from: \"2026-10-{from:02}T00:00:00Z\", to: \"2026-10-{to:02}T00:00:00Z\"");
            let query = format!(
                "{{ organization(id: \"{org}\") {{ costs({range}) {{ total }} deployments({range}) {{ name totalCost }} }} }}"
            );
            Bytes::from(serde_json::json!({ "query": query }).to_string())
        })
        .collect();
    let mut replicas = Vec::new();
    for _ in 0..args.replicas.max(1) {
        replicas.push(start_replica(&sim, redis.as_ref()).await?);
    }
    let urls: Vec<String> = replicas.iter().map(|r| format!("http://{}/graphql", r.addr)).collect();
    let client = crate::load::client();

    let cold: Vec<(String, Bytes)> =
        bodies.iter().flat_map(|b| urls.iter().map(move |u| (u.clone(), b.clone()))).collect();
    let cold = phase("cold", &sim, &client, cold, args.concurrency).await;
    let warm_work: Vec<(String, Bytes)> = (0..args.warm_rounds.max(1))
        .flat_map(|round| bodies.iter().enumerate().map(move |(i, b)| (i, round, b)))
        .map(|(i, round, b)| (urls[(i + round) % urls.len()].clone(), b.clone()))
        .collect();
    let warm = phase("warm", &sim, &client, warm_work, args.concurrency).await;
    // First sight, one request at a time: the latency of a lone request, not of a queue.
    let fresh = start_replica(&sim, redis.as_ref()).await?;
    let fresh_url = format!("http://{}/graphql", fresh.addr);
    let first: Vec<(String, Bytes)> = bodies.iter().map(|b| (fresh_url.clone(), b.clone())).collect();
    let first_sight = phase("first sight", &sim, &client, first.clone(), 1).await;
    let own_hit = phase("own cache", &sim, &client, first, 1).await;
    fresh.stop().await;
    for r in replicas {
        r.stop().await;
    }
    sim.shutdown().await;

    println!("| replicas | redis | phase | requests | failed | req/s | p50 ms | p99 ms | upstream calls/request |");
    println!("|---:|:---|:---|---:|---:|---:|---:|---:|---:|");
    for p in [&cold, &warm, &first_sight, &own_hit] {
        println!(
            "| {} | {} | {} | {} | {} | {:.0} | {:.3} | {:.3} | {:.2} |",
            args.replicas.max(1),
            if args.redis { "yes" } else { "no" },
            p.name,
            p.requests,
            p.failed,
            p.requests as f64 / p.elapsed.as_secs_f64().max(1e-9),
            p.latency.value_at_quantile(0.5) as f64 / 1000.0,
            p.latency.value_at_quantile(0.99) as f64 / 1000.0,
            p.calls as f64 / p.requests.max(1) as f64,
        );
    }
    Ok(())
}
