//! One caller cannot starve another: a caller running the heaviest allowed query in a loop
//! leaves another caller's small query within twice its unloaded latency.
//!
//! The upstream answers in 50 ms, so latency is mostly upstream time and the comparison is not
//! at the mercy of a busy CI core. The transport has 8 slots per upstream; each caller may hold
//! 4 of them. Without that share, the heavy caller's 31-call queries fill all 8 and the small
//! query waits for several rounds of them.

use std::time::{Duration, Instant};

use billing_sim::Latency;

use crate::support::{self, Server};

/// The median of `n` runs of the small query, in order.
async fn small_query_p50(server: &Server, query: &str, auth: &str, n: usize) -> Duration {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let reply = server.query(query, &[("authorization", auth)]).await;
        times.push(started.elapsed());
        assert!(reply.error_codes().is_empty(), "{}", reply.text);
    }
    times.sort();
    times[n / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heavy_caller_leaves_another_callers_small_query_within_twice_its_latency() {
    let sim = support::sim().await;
    sim.set_latency(None, Latency::Fixed(Duration::from_millis(50)));
    let mut config = support::config_for(&sim.base_url());
    config.cache_ttl_secs = 0; // every heavy query goes upstream
    config.upstream_concurrency = 8;
    config.caller_upstream_concurrency = 4;
    config.upstream_rps = 0;
    config.caller_rps = 0;
    let server = Server::start(config).await;
    let creds = sim.dataset().credentials();
    let (small_auth, heavy_auth) =
        (format!("ApiKey {}", creds.elastic_demo_key), format!("ApiKey {}", creds.elastic_other_key));
    let small = format!(r#"{{ organization(id: "{}") {{ costs {{ total }} }} }}"#, sim.dataset().demo_org().id);
    // Every deployment's daily chart: one /deployments call, then one call per deployment.
    let heavy = format!(
        r#"{{ organization(id: "{}") {{ deployments {{ id charts {{ points {{ total }} }} }} }} }}"#,
        sim.dataset().other_org().id
    );

    let unloaded = small_query_p50(&server, &small, &small_auth, 9).await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loops: Vec<_> = (0..4)
        .map(|_| {
            let (url, heavy, auth, stop) = (server.endpoint(), heavy.clone(), heavy_auth.clone(), stop.clone());
            tokio::spawn(async move {
                let client = support::client();
                let mut answered = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let reply = client
                        .post(&url)
                        .header("authorization", &auth)
                        .json(&serde_json::json!({ "query": heavy }))
                        .send()
                        .await
                        .unwrap();
                    assert!(reply.status().is_success());
                    answered += 1;
                }
                answered
            })
        })
        .collect();
    // Let the heavy loops fill the transport first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let loaded = small_query_p50(&server, &small, &small_auth, 9).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let heavy_answered: u32 = futures::future::join_all(loops).await.into_iter().map(Result::unwrap).sum();

    eprintln!("small query p50: {unloaded:?} unloaded, {loaded:?} beside {heavy_answered} heavy queries");
    assert!(heavy_answered > 0, "the heavy caller was served too");
    assert!(loaded <= unloaded * 2, "{loaded:?} loaded against {unloaded:?} unloaded");
}
