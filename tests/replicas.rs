//! Gateway replicas sharing one real `redis-server`: the second-level cache, single flight
//! across replicas, the shared upstream budget, and Redis failing under them.
//!
//! Each test starts its own `redis-server` on a free loopback port (`support/redis.rs`) and
//! kills it after. Upstream calls are read from the simulator's counters, never timed.

// Test helpers fail the test that calls them, as the tests themselves do.
#![allow(clippy::unwrap_used)]

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use billing_gateway::Config;
use billing_sim::{Fault, Latency, SimHandle, endpoints};
use serde_json::Value;
use support::redis::RedisServer;
use support::{Server, config_for, elastic_auth};

const SECRET: &str = "a shared cache key secret for the replicas of this test";

/// A replica in front of `sim`, sharing `redis`.
fn replica(sim: &SimHandle, redis: &RedisServer) -> Config {
    let mut config = config_for(&sim.base_url());
    config.redis_url = Some(redis.url());
    config.cache_key_secret = Some(SECRET.to_owned());
    // Many requests from one caller in a moment: the edge's per-caller limit is not under test.
    config.caller_rps = 0;
    // A loaded test machine can stall a loopback call past the production 100 ms, which would
    // read as an outage; a refused connection (Redis killed) still fails at once.
    config.redis_timeout_ms = 2000;
    config
}

fn overview(org: &str, from: u32, to: u32) -> String {
    format!(
        "{{ organization(id: \"{org}\") {{ costs(from: \"2026-10-{from:02}T00:00:00Z\", to: \"2026-10-{to:02}T00:00:00Z\") {{ total }} }} }}"
    )
}

/// The dashboard's kind of query: an overview, the deployments and their charts.
fn dashboard(org: &str) -> String {
    format!(
        "{{ organization(id: \"{org}\") {{ costs {{ total }} deployments {{ name totalCost charts {{ points {{ total }} }} }} }} }}"
    )
}

fn assert_no_errors(body: &Value) {
    assert!(body.get("errors").is_none(), "errors: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_replica_answers_what_the_first_cached_with_no_upstream_call() {
    let Some(redis) = RedisServer::start().await else { return };
    let sim = support::sim().await;
    let auth = elastic_auth(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    let a = Server::start(replica(&sim, &redis)).await;
    let b = Server::start(replica(&sim, &redis)).await;

    let first = a.query(&dashboard(&org), &[("authorization", &auth)]).await.json();
    assert_no_errors(&first);
    assert!(sim.stats().total() > 0);

    sim.reset_stats();
    let second = b.query(&dashboard(&org), &[("authorization", &auth)]).await.json();
    // The data is the same; `extensions.cost` says what each replica's own execution called.
    assert_eq!(second["data"], first["data"]);
    assert_eq!(second["extensions"]["cost"]["actual"]["calls"], 0, "{second}");
    assert_eq!(sim.stats().total(), 0, "the second replica called the upstream: {:?}", sim.stats());

    // A replica with another fingerprint key shares nothing: it calls the upstream itself.
    let mut other = replica(&sim, &redis);
    other.cache_key_secret = Some("another secret".to_owned());
    let c = Server::start(other).await;
    let third = c.query(&dashboard(&org), &[("authorization", &auth)]).await.json();
    assert_eq!(third, first);
    assert!(sim.stats().total() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_credentials_never_see_each_others_entries_through_redis() {
    let Some(redis) = RedisServer::start().await else { return };
    let sim = support::sim().await;
    let creds = sim.dataset().credentials().clone();
    let demo = format!("ApiKey {}", creds.elastic_demo_key);
    let other = format!("ApiKey {}", creds.elastic_other_key);
    let org = sim.dataset().demo_org().id.to_string();
    let a = Server::start(replica(&sim, &redis)).await;
    let b = Server::start(replica(&sim, &redis)).await;

    let cached = a.query(&dashboard(&org), &[("authorization", &demo)]).await.json();
    assert_no_errors(&cached);
    assert!(cached["data"]["organization"]["costs"]["total"].is_number());

    // The other key cannot read the demo organization: B must ask the upstream, which refuses
    // it, rather than answer from the entry A left in Redis.
    sim.reset_stats();
    let refused = b.query(&dashboard(&org), &[("authorization", &other)]).await.json();
    assert!(sim.stats().total() > 0, "the other credential was answered from Redis");
    assert!(refused["data"]["organization"]["costs"].is_null(), "{refused}");
    assert!(!support::errors(&refused).is_empty());
    // Errors are not stored: asking again still reaches the upstream.
    sim.reset_stats();
    let again = a.query(&dashboard(&org), &[("authorization", &other)]).await.json();
    assert!(again["data"]["organization"]["costs"].is_null());
    assert!(sim.stats().total() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_missing_on_the_same_key_at_once_make_one_upstream_call() {
    let Some(redis) = RedisServer::start().await else { return };
    let sim = support::sim().await;
    let auth = elastic_auth(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    // Slow enough that every replica misses while the first call is still out.
    sim.set_latency(None, Latency::Fixed(Duration::from_millis(300)));
    let replicas = [
        Server::start(replica(&sim, &redis)).await,
        Server::start(replica(&sim, &redis)).await,
        Server::start(replica(&sim, &redis)).await,
    ];
    let query = overview(&org, 1, 10);
    let headers = [("authorization", auth.as_str())];
    let answers = futures::future::join_all(replicas.iter().map(|r| r.query(&query, &headers))).await;
    let answers: Vec<Value> = answers.iter().map(support::Reply::json).collect();
    for answer in &answers {
        assert_no_errors(answer);
        assert_eq!(answer["data"], answers[0]["data"]);
    }
    assert_eq!(sim.stats().calls(endpoints::V1_OVERVIEW), 1, "{:?}", sim.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_redis_mid_run_fails_no_request_and_the_replica_reconnects() {
    let Some(mut redis) = RedisServer::start().await else { return };
    let sim = support::sim().await;
    let auth = elastic_auth(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    let a = Server::start(replica(&sim, &redis)).await;
    let ready = |server: &Server| {
        let server = server.url.clone();
        async move {
            let body: Value =
                support::client().get(format!("{server}/readyz")).send().await.unwrap().json().await.unwrap();
            body["cache"]["shared"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(ready(&a).await, "ok");

    let mut pairs = (1..28u32).flat_map(|from| (from + 1..=28).map(move |to| (from, to)));
    for round in 0..3 {
        if round == 1 {
            redis.kill();
        }
        if round == 2 {
            redis.restart().await;
        }
        for (from, to) in pairs.by_ref().take(10) {
            let body = a.query(&overview(&org, from, to), &[("authorization", &auth)]).await.json();
            assert_no_errors(&body);
            assert!(body["data"]["organization"]["costs"]["total"].is_number());
        }
        if round == 1 {
            assert_eq!(ready(&a).await, "degraded");
        }
    }
    // Back: a fresh replica finds what this one stored after the restart.
    let mut reconnected = false;
    for _ in 0..40 {
        if ready(&a).await == "ok" {
            reconnected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reconnected, "the replica did not reconnect to redis");
    let query = overview(&org, 20, 27);
    assert_no_errors(&a.query(&query, &[("authorization", &auth)]).await.json());
    sim.reset_stats();
    let b = Server::start(replica(&sim, &redis)).await;
    assert_no_errors(&b.query(&query, &[("authorization", &auth)]).await.json());
    assert_eq!(sim.stats().total(), 0);
}

/// Two replicas, each allowed 25 calls/s: sharing the budget they stay under the upstream's 30
/// together; each on its own they send up to 50. (Rates a loaded 2-core machine reaches with
/// room to spare, so the control below meets the limit however slow the machine is that day.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_stay_under_a_shared_rate_together() {
    let Some(redis) = RedisServer::start().await else { return };
    let sim = support::sim().await;
    let auth = elastic_auth(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    sim.set_rate_limit(Some(30));
    let limited = |shared: bool| {
        let mut config = replica(&sim, &redis);
        if !shared {
            config.redis_url = None;
        }
        config.upstream_rps = 25;
        config.upstream_burst = Some(1);
        config.upstream_attempts = 1;
        config
    };
    let mut pairs = (1..28u32).flat_map(|from| (from + 1..=28).map(move |to| (from, to)));
    let mut run = async |shared: bool| {
        let (a, b) = (Server::start(limited(shared)).await, Server::start(limited(shared)).await);
        let queries: Vec<String> = pairs.by_ref().take(80).map(|(f, t)| overview(&org, f, t)).collect();
        sim.reset_stats();
        let (left, right) = queries.split_at(40);
        let headers = [("authorization", auth.as_str())];
        let (x, y) = tokio::join!(
            futures::future::join_all(left.iter().map(|q| a.query(q, &headers))),
            futures::future::join_all(right.iter().map(|q| b.query(q, &headers))),
        );
        assert_eq!(x.len() + y.len(), 80);
        sim.stats()
    };

    let together = run(true).await;
    assert_eq!(together.calls(endpoints::V1_OVERVIEW), 80, "{together:?}");
    assert_eq!(together.responses(endpoints::V1_OVERVIEW, 429), 0, "{together:?}");

    // The control: the same load without the shared budget meets the upstream's limit.
    let alone = run(false).await;
    assert!(alone.responses(endpoints::V1_OVERVIEW, 429) > 0, "{alone:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_seen_by_one_replica_slows_the_other() {
    let Some(redis) = RedisServer::start().await else { return };
    let sim = support::sim().await;
    let auth = elastic_auth(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    let a = Server::start(replica(&sim, &redis)).await;
    let b = Server::start(replica(&sim, &redis)).await;

    // Longer than a call's deadline (half the request's 30 s): A gives up at once, B must not try.
    sim.push_faults(Some(endpoints::V1_OVERVIEW), [Fault::too_many_requests(Duration::from_secs(60))]);
    let refused = a.query(&overview(&org, 1, 5), &[("authorization", &auth)]).await.json();
    assert!(refused["data"]["organization"]["costs"].is_null(), "{refused}");
    assert_eq!(sim.stats().responses(endpoints::V1_OVERVIEW, 429), 1);

    sim.reset_stats();
    let paused = b.query(&overview(&org, 2, 6), &[("authorization", &auth)]).await.json();
    assert!(paused["data"]["organization"]["costs"].is_null(), "{paused}");
    assert_eq!(sim.stats().total(), 0, "B called an upstream that asked for a pause: {:?}", sim.stats());

    // Another credential is not paused: upstreams limit per key.
    let other = format!("ApiKey {}", sim.dataset().credentials().elastic_other_key);
    let other_org = sim.dataset().other_org().id.to_string();
    let answered = b.query(&overview(&other_org, 2, 6), &[("authorization", &other)]).await.json();
    assert_no_errors(&answered);
    assert_eq!(sim.stats().total(), 1);
}

/// The topology of `deploy/compose.yaml` in process: two replicas, Redis, and a round-robin
/// balancer in front (a few lines of axum and reqwest standing in for nginx).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_round_robin_balancer_each_query_is_fetched_once() {
    let Some(redis) = RedisServer::start().await else { return };
    let sim = support::sim().await;
    let auth = elastic_auth(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    let a = Server::start(replica(&sim, &redis)).await;
    let b = Server::start(replica(&sim, &redis)).await;
    let targets = std::sync::Arc::new([a.endpoint(), b.endpoint()]);
    let turn = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let balancer = axum::Router::new().route(
        "/graphql",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let (targets, turn) = (targets.clone(), turn.clone());
            async move {
                let target = &targets[turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 2];
                let mut request = support::client().post(target).body(body);
                for name in ["authorization", "content-type"] {
                    if let Some(v) = headers.get(name) {
                        request = request.header(name, v.as_bytes());
                    }
                }
                let answer = request.send().await.unwrap();
                (axum::http::StatusCode::from_u16(answer.status().as_u16()).unwrap(), answer.bytes().await.unwrap())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front = format!("http://{}/graphql", listener.local_addr().unwrap());
    let served = tokio::spawn(async move { axum::serve(listener, balancer).await });

    let mut answers = Vec::new();
    let mut calls = Vec::new();
    for _ in 0..4 {
        sim.reset_stats();
        let body = support::client()
            .post(&front)
            .header("authorization", &auth)
            .json(&serde_json::json!({ "query": dashboard(&org) }))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        assert_no_errors(&body);
        answers.push(body);
        calls.push(sim.stats().total());
    }
    served.abort();
    assert!(answers.iter().all(|x| x["data"] == answers[0]["data"]));
    // The first request (replica A) fetches; B's first is answered from Redis; then each has it.
    assert!(calls[0] > 0);
    assert_eq!(&calls[1..], &[0, 0, 0], "{calls:?}");
}

#[tokio::test]
async fn a_replica_with_redis_but_no_shared_secret_refuses_to_start() {
    let sim = support::sim().await;
    let mut config = config_for(&sim.base_url());
    config.redis_url = Some("redis://127.0.0.1:1".to_owned());
    let refused = billing_gateway::Gateway::build(config).await.unwrap_err().to_string();
    assert!(refused.contains("BILLING_CACHE_KEY_SECRET"), "{refused}");
}
