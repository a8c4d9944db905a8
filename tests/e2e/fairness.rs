//! One caller cannot starve another: a caller running the heaviest allowed query in a loop holds
//! at most its share of the upstream's slots, so another caller's small query always finds one.
//!
//! The transport has 8 slots per upstream; each caller may hold 4 of them. Without that share,
//! the heavy caller's 31-call queries fill all 8 and the small query waits for several rounds of
//! them. Nothing is timed: how many calls the upstream was answering at once is read from the
//! simulator's request log, so a busy CI core cannot fail the test (it was "within twice the
//! unloaded latency", which a loaded machine could break).

use std::time::Duration;

use billing_sim::Latency;

use crate::support::{self, Server};

/// Runs the small query `n` times, one after another, each answered without an error.
async fn small_queries(server: &Server, query: &str, auth: &str, n: usize) {
    for _ in 0..n {
        let reply = server.query(query, &[("authorization", auth)]).await;
        assert!(reply.error_codes().is_empty(), "{}", reply.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heavy_caller_holds_only_its_share_of_the_slots_beside_a_small_query() {
    let sim = support::sim().await;
    // Long enough that a caller's calls overlap at the simulator even on a loaded machine.
    sim.set_latency(None, Latency::Fixed(Duration::from_millis(200)));
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
                    // Read to the end, as a client does: the answer is streamed, and a client
                    // that hangs up cancels its execution.
                    let text = reply.text().await.unwrap();
                    assert!(text.contains("\"deployments\""), "{text}");
                    answered += 1;
                }
                answered
            })
        })
        .collect();
    // Let the heavy loops fill the transport first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    small_queries(&server, &small, &small_auth, 9).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let heavy_answered: u32 = futures::future::join_all(loops).await.into_iter().map(Result::unwrap).sum();

    let log = sim.requests();
    let at_once =
        |auth: &str| log.iter().filter(|r| r.authorization.as_deref() == Some(auth)).map(|r| r.in_flight).max();
    let (heavy_at_once, small_at_once) = (at_once(&heavy_auth).unwrap_or(0), at_once(&small_auth).unwrap_or(0));
    eprintln!(
        "at once at the upstream: {heavy_at_once} at a heavy call, {small_at_once} at a small one; {heavy_answered} heavy queries"
    );
    assert!(heavy_answered > 0, "the heavy caller was served too");
    // `in_flight` counts every caller's calls: the heavy caller's share (4) and the small
    // query's one. More would mean the heavy caller took slots beyond its share.
    assert!(heavy_at_once >= 4, "the heavy caller used its share: {heavy_at_once}");
    assert!(
        heavy_at_once <= 5 && small_at_once <= 5,
        "the heavy caller held more than its 4 of 8: {heavy_at_once}, {small_at_once}"
    );
    let small_calls = log.iter().filter(|r| r.authorization.as_deref() == Some(small_auth.as_str())).count();
    assert!(small_calls >= 9, "each small query reached the upstream: {small_calls}");
}
