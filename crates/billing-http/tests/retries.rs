//! Retries, deadlines, timeouts and the client-side concurrency limit, over real HTTP against
//! billing-sim's scripted faults, latency and per-key rate limit.
//!
//! No assertion times a call: the waits the transport decides are read from its
//! `billing_upstream_retry_wait_seconds` histogram ([`RetryWaits`]), and how many calls ran at
//! once from the simulator's request log (`in_flight`), so a loaded machine cannot fail them.

mod common;

use std::time::Duration;

use billing_sim::LoggedRequest;

use billing_http::{ErrorKind, Limit, RetryPolicy, TransportConfig, Upstream};
use billing_sim::{Fault, Latency, endpoints as sim_endpoints};
use common::{Clients, RetryWaits, clients, config, demo_key, fast_retry, other_key, range, sim};
use futures::future::join_all;

const MS: Duration = Duration::from_millis(1);

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let sim = sim().await;
    let c = clients(&sim);
    let org = &sim.dataset().demo_org().id;
    sim.push_faults(Some(sim_endpoints::V1_DEPLOYMENTS), [Fault::too_many_requests(Duration::from_secs(1))]);

    let waits = RetryWaits::record();
    let costs = c.v1.deployments(&demo_key(&sim), org).send().await.unwrap();

    assert!(!costs.deployments.is_empty());
    // The wait is the Retry-After itself: not shorter, and nothing added to it.
    assert_eq!(waits.take(), [("429".to_owned(), Duration::from_secs(1))], "one wait, of the 1 s Retry-After");
    let stats = sim.stats();
    assert_eq!(stats.calls(sim_endpoints::V1_DEPLOYMENTS), 2, "exactly one retry");
    assert_eq!(stats.responses(sim_endpoints::V1_DEPLOYMENTS, 429), 1);
    assert_eq!(stats.responses(sim_endpoints::V1_DEPLOYMENTS, 200), 1);
}

#[tokio::test]
async fn bad_gateway_and_unavailable_are_retried_until_success() {
    let sim = sim().await;
    let c = clients(&sim);
    let r = range((2025, 5, 1), (2025, 6, 1));
    let status = |status| Fault::Status { status, retry_after: None };
    sim.push_faults(Some(sim_endpoints::V2_ITEMS), [status(502), status(503)]);

    let waits = RetryWaits::record();
    let items = c.v2.items(&demo_key(&sim), &sim.dataset().demo_org().id, r).send().await.unwrap();
    assert!(!items.products().is_empty());
    let mut waits = waits.take();
    waits.sort();
    let causes: Vec<_> = waits.iter().map(|(cause, _)| cause.as_str()).collect();
    assert_eq!(causes, ["502", "503"], "one wait before each retry");
    // Without a Retry-After, each wait is a jittered backoff within the policy's ceiling.
    assert!(waits.iter().all(|(_, wait)| *wait <= fast_retry().max_backoff), "small backoffs: {waits:?}");
    let stats = sim.stats();
    assert_eq!(stats.calls(sim_endpoints::V2_ITEMS), 3);
    assert_eq!(stats.responses(sim_endpoints::V2_ITEMS, 200), 1);
}

#[tokio::test]
async fn spent_attempts_fail_with_the_last_answer_and_the_count() {
    let sim = sim().await;
    let c = clients(&sim);
    let status = |status| Fault::Status { status, retry_after: None };
    sim.push_faults(Some(sim_endpoints::TALKDESK_USAGE), [status(503), status(504), status(503), status(200)]);

    let err = c.td.usage(common::td_token(&sim)).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Status);
    assert_eq!(err.http_status(), Some(503));
    assert!(err.is_retryable());
    assert_eq!(err.attempts(), fast_retry().max_attempts);
    assert!(err.to_string().ends_with("(after 3 attempts)"), "{err}");
    assert_eq!(sim.stats().calls(sim_endpoints::TALKDESK_USAGE), 3, "no fourth attempt");
}

#[tokio::test]
async fn a_retry_after_past_the_deadline_fails_at_once() {
    let sim = sim().await;
    let retry = RetryPolicy { deadline: Duration::from_secs(2), ..fast_retry() };
    let c = Clients::new(&sim, TransportConfig { retry, ..config() });
    sim.push_faults(Some(sim_endpoints::V1_OVERVIEW), [Fault::too_many_requests(Duration::from_secs(5))]);

    let waits = RetryWaits::record();
    let err = c.v1.overview(&demo_key(&sim), &sim.dataset().demo_org().id).send().await.unwrap_err();

    assert_eq!(waits.take(), [], "did not wait for a Retry-After it could not honour");
    assert!(err.is_rate_limited());
    assert!(err.is_retryable(), "retryable later, by the caller");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(5)));
    assert_eq!(err.codes(), ["billing_service.rate_limited"]);
    assert_eq!(err.attempts(), 1);
    assert_eq!(sim.stats().calls(sim_endpoints::V1_OVERVIEW), 1);
}

#[tokio::test]
async fn the_upstream_s_per_key_rate_limit_is_surfaced_then_honoured() {
    let sim = sim().await;
    let org = &sim.dataset().demo_org().id;

    // Without retries, the third request in a second is refused, with the code and a wait.
    let once = Clients::new(&sim, TransportConfig { retry: RetryPolicy::none(), ..config() });
    sim.set_rate_limit(Some(2));
    let creds = demo_key(&sim);
    once.v1.overview(&creds, org).send().await.unwrap();
    once.v1.overview(&creds, org).send().await.unwrap();
    let err = once.v1.overview(&creds, org).send().await.unwrap_err();
    assert_eq!(err.http_status(), Some(429));
    assert!(err.is_rate_limited());
    assert_eq!(err.codes(), ["billing_service.rate_limited"]);
    assert_eq!(err.message(), Some("Too many requests."));
    let wait = err.retry_after().expect("a Retry-After");
    assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
    // The limit is per key: the other key still has its budget.
    once.v1.overview(&other_key(&sim), &sim.dataset().other_org().id).send().await.unwrap();

    // With retries, the same burst succeeds, waiting out the window.
    sim.set_rate_limit(Some(2));
    sim.reset_stats();
    let retrying = Clients::new(&sim, config());
    let waits = RetryWaits::record();
    for _ in 0..3 {
        retrying.v1.overview(&creds, org).send().await.unwrap();
    }
    // The simulator's Retry-After is the rest of its window, rounded up to whole seconds.
    assert_eq!(waits.take(), [("429".to_owned(), Duration::from_secs(1))], "the third call waited out the window");
    assert_eq!(sim.stats().responses(sim_endpoints::V1_OVERVIEW, 429), 1);
    assert_eq!(sim.stats().responses(sim_endpoints::V1_OVERVIEW, 200), 3);
}

#[tokio::test]
async fn client_errors_and_500_are_never_retried() {
    let sim = sim().await;
    let retry = RetryPolicy { max_attempts: 4, ..fast_retry() };
    let c = Clients::new(&sim, TransportConfig { retry, ..config() });
    let creds = demo_key(&sim);
    let demo = &sim.dataset().demo_org().id;
    let before_2021 = range((2020, 1, 1), (2020, 2, 1));

    let unknown = billing_http::ElasticCredentials::api_key("nobody").unwrap();
    let outcomes = [
        (400, c.v2.instances(&creds, demo, before_2021).send().await.map(drop)),
        (401, c.v1.overview(&unknown, demo).send().await.map(drop)),
        (403, c.v1.overview(&creds, &sim.dataset().other_org().id).send().await.map(drop)),
        (404, c.v1.overview(&creds, &"1000000007".into()).send().await.map(drop)),
    ];
    sim.push_faults(None, [Fault::server_error()]);
    let server_error = c.v1.items(&creds, demo).send().await.map(drop);

    for (status, outcome) in outcomes.into_iter().chain([(500, server_error)]) {
        let err = outcome.unwrap_err();
        assert_eq!(err.http_status(), Some(status));
        assert!(!err.is_retryable(), "{err}");
        assert_eq!(err.attempts(), 1, "{err}");
    }
    assert_eq!(sim.stats().total(), 5, "one request per call");
}

#[tokio::test]
async fn a_stalled_endpoint_times_out_near_the_request_timeout() {
    let sim = sim().await;
    let c = Clients::new(&sim, TransportConfig { request_timeout: 300 * MS, ..config() });
    sim.push_faults(Some(sim_endpoints::V1_OVERVIEW), [Fault::Stall(Duration::from_secs(30))]);

    let err = c.v1.overview(&demo_key(&sim), &sim.dataset().demo_org().id).send().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(err.http_status(), None);
    assert_eq!(err.endpoint(), billing_http::endpoints::V1_OVERVIEW);
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(given_ms(&err), 300, "the attempt had the request timeout: {err}");
    assert_eq!(sim.stats().calls(sim_endpoints::V1_OVERVIEW), 1, "a timeout is not retried");
}

#[tokio::test]
async fn an_attempt_also_ends_by_the_retry_deadline() {
    let sim = sim().await;
    let retry = RetryPolicy { deadline: 400 * MS, ..fast_retry() };
    let c = Clients::new(&sim, TransportConfig { request_timeout: Duration::from_secs(10), retry, ..config() });
    sim.push_faults(None, [Fault::Stall(Duration::from_secs(30))]);

    let err = c.td.usage(common::td_token(&sim)).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    // What was left of the 400 ms deadline, not the 10 s request timeout.
    let given = given_ms(&err);
    assert!(given > 0 && given <= 400, "the attempt was given {given} ms: {err}");
    assert_eq!(err.attempts(), 1, "no time was left for another: {err}");
}

/// The time an attempt that timed out was given, from its error ("no answer within N ms").
fn given_ms(err: &billing_http::Error) -> u128 {
    let text = err.to_string();
    let tail = text.split("no answer within ").nth(1).unwrap_or_else(|| panic!("no time given: {text}"));
    tail.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no time given: {text}"))
}

#[tokio::test]
async fn the_concurrency_limit_runs_calls_in_rounds() {
    let sim = sim().await;
    // Long enough that calls sent together are all at the simulator at once even on a loaded
    // machine; what is asserted is how many were there at once, never how long it took.
    sim.set_latency(None, Latency::Fixed(500 * MS));
    let org = &sim.dataset().demo_org().id;
    let creds = demo_key(&sim);
    let r = range((2025, 5, 1), (2025, 6, 1));

    let limited = Clients::new(&sim, config().with_limit(Upstream::ElasticV1, Limit::unlimited(2)));
    let results = join_all((0..6).map(|_| limited.v1.overview(&creds, org).send())).await;
    assert!(results.iter().all(Result::is_ok));
    // Six calls, two at a time: rounds of two, not one of six and not six of one.
    assert_eq!(sim.stats().calls(sim_endpoints::V1_OVERVIEW), 6);
    assert_eq!(most_at_once(&sim.requests()), 2, "two at once, never more");

    // The limit is per upstream: v2 calls do not queue behind v1's.
    sim.reset_stats();
    let v1 = join_all((0..2).map(|_| limited.v1.overview(&creds, org).send()));
    let v2 = join_all((0..4).map(|_| limited.v2.instances(&creds, org, r).send()));
    let (a, b) = futures::join!(v1, v2);
    assert!(a.iter().all(Result::is_ok) && b.iter().all(Result::is_ok));
    assert_eq!(most_at_once(&sim.requests()), 6, "one round: v1's two beside v2's four");

    // Without a tight limit, six calls take one round.
    sim.reset_stats();
    let open = Clients::new(&sim, config());
    let results = join_all((0..6).map(|_| open.v1.overview(&creds, org).send())).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(most_at_once(&sim.requests()), 6, "one round");
}

/// The most requests the simulator was answering at once, from its log.
fn most_at_once(log: &[LoggedRequest]) -> usize {
    log.iter().map(|r| r.in_flight).max().unwrap_or(0)
}
