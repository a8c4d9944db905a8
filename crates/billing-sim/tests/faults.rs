//! Faults, latency, the rate limit, and the stats and request log that observe them.

// Test helpers outside #[test] fns unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use billing_sim::endpoints::{self, TALKDESK_USAGE, V1_DEPLOYMENTS, V1_ITEMS, V1_OVERVIEW, V2_INSTANCES};
use billing_sim::{Fault, FaultRates, Latency, SimConfig};
use common::*;
use serde_json::Value;

const RANGE: &str = "?from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z";

#[tokio::test]
async fn scripted_faults_hit_the_next_matching_requests_in_order() {
    let sim = start().await;
    let key = demo_key(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    sim.push_faults(
        Some(V1_OVERVIEW),
        [Fault::too_many_requests(Duration::from_secs(2)), Fault::server_error(), Fault::Malformed],
    );

    let response = get(&v1(&sim, &org, ""), Some(&key)).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(response.headers()["x-cloud-error-codes"], "billing_service.rate_limited");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "billing_service.rate_limited");

    // Another endpoint is untouched by faults scripted for the overview.
    assert_eq!(get(&v1(&sim, &org, "/deployments"), Some(&key)).await.status(), 200);

    let response = get(&v1(&sim, &org, ""), Some(&key)).await;
    assert_eq!(response.status(), 500);
    assert_eq!(response.headers()["x-cloud-error-codes"], "billing_service.failed_request");

    let response = get(&v1(&sim, &org, ""), Some(&key)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.unwrap();
    assert!(!text.is_empty());
    assert!(serde_json::from_str::<Value>(&text).is_err(), "malformed body parsed: {text}");

    assert_eq!(get(&v1(&sim, &org, ""), Some(&key)).await.status(), 200, "the script is used up");

    let stats = sim.stats();
    assert_eq!(stats.calls(V1_OVERVIEW), 4);
    assert_eq!(stats.responses(V1_OVERVIEW, 429), 1);
    assert_eq!(stats.responses(V1_OVERVIEW, 500), 1);
    assert_eq!(stats.responses(V1_OVERVIEW, 200), 2);
    assert_eq!(stats.calls(V1_DEPLOYMENTS), 1);
    assert_eq!(stats.total(), 5);
    assert_eq!(stats.by_status().get(&200), Some(&3));
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_for_any_endpoint_answer_in_each_apis_shape() {
    let sim = start().await;
    let org = sim.dataset().demo_org().id.to_string();
    sim.push_faults(None, [Fault::too_many_requests(Duration::from_millis(1500)); 2]);
    let response = get(&v2(&sim, &org, &format!("/costs/instances{RANGE}")), Some(&demo_key(&sim))).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2", "rounded up to whole seconds");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], false);
    let response = get(&format!("{}/express/usage/month", sim.talkdesk_url()), Some(&talkdesk_token(&sim))).await;
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.unwrap();
    assert!(body["code"].is_string() && body["message"].is_string());

    sim.push_faults(Some(TALKDESK_USAGE), [Fault::Status { status: 503, retry_after: None }]);
    sim.clear_faults();
    let response = get(&format!("{}/express/usage/month", sim.talkdesk_url()), Some(&talkdesk_token(&sim))).await;
    assert_eq!(response.status(), 200, "cleared faults do not fire");
    sim.shutdown().await;
}

#[tokio::test]
async fn stalls_hold_the_request_and_latency_delays_it() {
    let sim = start().await;
    let key = demo_key(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    sim.push_faults(Some(V1_OVERVIEW), [Fault::Stall(Duration::from_secs(30))]);
    #[allow(clippy::disallowed_methods, reason = "a test's client of the simulator")]
    let client = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    let err = client.get(v1(&sim, &org, "")).header("authorization", &key).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let log = sim.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, None, "a held request has no status");
    assert_eq!(sim.stats().calls(V1_OVERVIEW), 1);

    // Each answer's latency is read from the request log, never timed.
    let latency_of_last = || sim.requests().last().map(|r| (r.template, r.status, r.latency));
    assert_eq!(log[0].latency, Duration::ZERO, "no latency is set");
    sim.push_faults(Some(V1_OVERVIEW), [Fault::Latency(Duration::from_millis(250))]);
    assert_eq!(get(&v1(&sim, &org, ""), Some(&key)).await.status(), 200);
    assert_eq!(latency_of_last(), Some((V1_OVERVIEW, Some(200), Duration::from_millis(250))));
    assert_eq!(get(&v1(&sim, &org, ""), Some(&key)).await.status(), 200);
    assert_eq!(latency_of_last(), Some((V1_OVERVIEW, Some(200), Duration::ZERO)), "a scripted latency is used once");

    sim.set_latency(Some(V1_OVERVIEW), Latency::Fixed(Duration::from_millis(150)));
    assert_eq!(get(&v1(&sim, &org, ""), Some(&key)).await.status(), 200);
    assert_eq!(latency_of_last(), Some((V1_OVERVIEW, Some(200), Duration::from_millis(150))));
    assert_eq!(get(&v1(&sim, &org, "/items"), Some(&key)).await.status(), 200);
    assert_eq!(latency_of_last(), Some((V1_ITEMS, Some(200), Duration::ZERO)), "other endpoints keep no latency");
    let (min, max) = (Duration::from_millis(10), Duration::from_millis(30));
    sim.set_latency(None, Latency::Uniform { min, max });
    for path in ["", "/items"] {
        assert_eq!(get(&v1(&sim, &org, path), Some(&key)).await.status(), 200);
        let latency = sim.requests().last().map(|r| r.latency).unwrap();
        assert!(latency >= min && latency <= max, "{latency:?} outside the uniform range, on every endpoint");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn the_rate_limit_is_per_credential_with_retry_after() {
    let sim = billing_sim::spawn(SimConfig { rate_limit: Some(3), ..config() }).await.unwrap();
    let org = sim.dataset().demo_org().id.to_string();
    let key = demo_key(&sim);
    let statuses = {
        let mut s = Vec::new();
        for _ in 0..5 {
            let response = get(&v1(&sim, &org, "/charts"), Some(&key)).await;
            s.push(response.status().as_u16());
            if response.status() == 429 {
                let after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                assert_eq!(after, 1, "at most a second until the window resets");
                assert_eq!(response.headers()["x-cloud-error-codes"], "billing_service.rate_limited");
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["errors"][0]["code"], "billing_service.rate_limited");
            }
        }
        s
    };
    assert_eq!(&statuses[..3], &[200, 200, 200]);
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");
    // Another credential has its own budget.
    assert_eq!(get(&v1(&sim, sim.dataset().other_org().id.as_str(), ""), Some(&other_key(&sim))).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(get(&v1(&sim, &org, ""), Some(&key)).await.status(), 200, "the window has passed");
    sim.set_rate_limit(None);
    for _ in 0..5 {
        assert_eq!(get(&v1(&sim, &org, ""), Some(&key)).await.status(), 200);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn random_faults_follow_their_rates_and_the_seed() {
    let rates = FaultRates { server_error: 0.3, too_many_requests: 0.2, ..FaultRates::none() };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sim = billing_sim::spawn(SimConfig { faults: rates, ..config() }).await.unwrap();
        let org = sim.dataset().demo_org().id.to_string();
        let mut statuses = Vec::new();
        for _ in 0..60 {
            statuses.push(get(&v1(&sim, &org, RANGE), Some(&demo_key(&sim))).await.status().as_u16());
        }
        sim.shutdown().await;
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1], "the same seed gives the same faults");
    let count = |s: u16| runs[0].iter().filter(|x| **x == s).count();
    assert!(count(500) > 5 && count(429) > 3 && count(200) > 15, "{:?}", runs[0]);

    // Per-endpoint rates override the default; changing them at runtime takes effect at once.
    let sim = start().await;
    let org = sim.dataset().demo_org().id.to_string();
    sim.set_faults(Some(V2_INSTANCES), FaultRates { server_error: 1.0, ..FaultRates::none() });
    assert_eq!(get(&v2(&sim, &org, &format!("/costs/instances{RANGE}")), Some(&demo_key(&sim))).await.status(), 500);
    assert_eq!(get(&v2(&sim, &org, &format!("/costs/items{RANGE}")), Some(&demo_key(&sim))).await.status(), 200);
    sim.set_faults(None, FaultRates { malformed: 1.0, ..FaultRates::none() });
    let response = get(&v2(&sim, &org, &format!("/costs/instances{RANGE}")), Some(&demo_key(&sim))).await;
    assert_eq!(response.status(), 200);
    assert!(serde_json::from_str::<Value>(&response.text().await.unwrap()).is_err());
    sim.shutdown().await;
}

#[tokio::test]
async fn random_stalls_hold_requests_past_a_clients_timeout() {
    // Every request stalls for longer than the client waits: each one times out, unanswered.
    let stall = FaultRates { timeout: 1.0, stall: Duration::from_secs(30), ..FaultRates::none() };
    let sim = billing_sim::spawn(SimConfig { faults: stall, ..config() }).await.unwrap();
    let org = sim.dataset().demo_org().id.to_string();
    #[allow(clippy::disallowed_methods, reason = "a test's client of the simulator")]
    let client = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap();
    for _ in 0..3 {
        let err = client.get(v1(&sim, &org, RANGE)).header("authorization", demo_key(&sim)).send().await.unwrap_err();
        assert!(err.is_timeout(), "{err}");
    }
    assert_eq!(sim.stats().calls(V1_OVERVIEW), 3);
    assert!(sim.requests().iter().all(|r| r.status.is_none()), "a stalled request has no status");

    // A short stall is answered normally once it has passed.
    sim.set_faults(None, FaultRates { timeout: 1.0, stall: Duration::from_millis(50), ..FaultRates::none() });
    assert_eq!(get(&v1(&sim, &org, RANGE), Some(&demo_key(&sim))).await.status(), 200);

    sim.shutdown().await;
}

#[tokio::test]
async fn stats_over_http_and_the_request_log() {
    let sim = start().await;
    let key = demo_key(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    get(&v1(&sim, &org, "/deployments"), Some(&key)).await;
    get(&v1(&sim, &org, "/deployments"), None).await;
    get(&format!("{}/express/usage/month?per_page=5", sim.talkdesk_url()), Some(&talkdesk_token(&sim))).await;

    let (status, stats) = get_json(&format!("{}/__sim/stats", sim.base_url()), None).await;
    assert_eq!(status, 200);
    assert_eq!(stats["total"], 3);
    assert_eq!(stats["endpoints"][V1_DEPLOYMENTS]["calls"], 2);
    assert_eq!(stats["endpoints"][V1_DEPLOYMENTS]["by_status"]["200"], 1);
    assert_eq!(stats["endpoints"][V1_DEPLOYMENTS]["by_status"]["401"], 1);
    assert_eq!(stats["endpoints"][TALKDESK_USAGE]["calls"], 1);

    let log = sim.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].template, V1_DEPLOYMENTS);
    assert_eq!(log[0].path, format!("/api/v1/billing/costs/{org}/deployments"));
    assert_eq!(log[0].authorization.as_deref(), Some(key.as_str()));
    assert_eq!(log[1].authorization, None);
    assert_eq!(log[1].status, Some(401));
    assert_eq!(log[2].query.as_deref(), Some("per_page=5"));
    assert_eq!(log[2].authorization, Some(talkdesk_token(&sim)));

    let response = client().delete(format!("{}/__sim/stats", sim.base_url())).send().await.unwrap();
    assert!(response.status().is_success());
    assert_eq!(sim.stats().total(), 0);
    assert!(sim.requests().is_empty());
    let (_, stats) = get_json(&format!("{}/__sim/stats", sim.base_url()), None).await;
    assert_eq!(stats["total"], 0, "the stats endpoint does not count itself");

    get(&v1(&sim, &org, ""), Some(&key)).await;
    sim.reset_stats();
    assert_eq!(sim.stats().calls(V1_OVERVIEW), 0);
    assert_eq!(endpoints::ALL.len(), 13);
    sim.shutdown().await;
}
