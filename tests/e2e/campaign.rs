//! The fault and load campaign, in the suite: a simulator with random faults (10 % 500s, 5 % 429s
//! with `Retry-After`, 1 % stalls past the gateway's upstream timeout), the gateway in front of it
//! over real sockets, and 32 clients sending a few hundred probes of every query shape with four
//! tenants' credentials. No panic, no hang, every answer complete or partial with coded errors on
//! exactly its null fields, and no tenant ever sees another's values.
//!
//! The mix and the checks live in `billing_bench::campaign`, which `billing-bench soak` runs for
//! minutes; `BILLING_CAMPAIGN_REQUESTS` sets the number of probes here (500 by default).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use billing_bench::campaign::{self, Campaign, Progress, Stop, Variety};

use crate::support::{self, Server};

/// Probes when `BILLING_CAMPAIGN_REQUESTS` is not set: about a minute in a debug build on a
/// loaded two-core machine.
const DEFAULT_PROBES: u64 = 500;

/// Concurrent clients.
const CLIENTS: usize = 32;

/// The campaign's runtime threads are named so, and the panic hook counts panics on them only:
/// other tests of this binary run in the same process at the same time.
const THREAD_NAME: &str = "campaign-worker";

/// Counts panics on the campaign's threads (the gateway's handlers, its single-flight tasks,
/// the simulator), then hands each to the hook that was there before. A panicking handler does
/// not stop the server, so this is where it would show.
fn count_panics() -> Arc<AtomicU64> {
    let panics = Arc::new(AtomicU64::new(0));
    let counter = panics.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some(THREAD_NAME) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        previous(info);
    }));
    panics
}

#[test]
fn no_request_takes_the_gateway_down() {
    let probes = std::env::var(campaign::REQUESTS_ENV).ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_PROBES);
    let panics = count_panics();
    let runtime = tokio::runtime::Builder::new_multi_thread().thread_name(THREAD_NAME).enable_all().build().unwrap();
    runtime.block_on(async {
        let sim = billing_sim::spawn(campaign::sim_config()).await.unwrap();
        let server = Server::start(campaign::gateway_config(&sim.base_url())).await;
        let campaign = Arc::new(Campaign::new(sim.dataset(), sim.now(), Variety::SUITE).unwrap());

        let report = campaign::run(
            campaign,
            support::client(),
            server.endpoint(),
            CLIENTS,
            Stop::Probes(probes),
            Arc::new(Progress::default()),
        )
        .await;
        eprintln!("{}", report.summary());

        // The faults reached the gateway: some upstream calls failed or were never answered.
        let stats = sim.stats();
        let answered: u64 = stats.by_status().values().sum();
        let unanswered = stats.total() - answered;
        eprintln!(
            "campaign upstream: {} calls, by status {:?}, {unanswered} stalled",
            stats.total(),
            stats.by_status()
        );
        assert!(stats.by_status().get(&500).is_some_and(|n| *n > 0), "{stats:?}");
        assert!(stats.by_status().get(&429).is_some_and(|n| *n > 0), "{stats:?}");

        // No panic: the server task runs, answers its health check, and no thread panicked.
        assert!(server.is_serving(), "the gateway's serve task ended");
        let health = server.get("/healthz", &[]).await;
        assert_eq!(health.status, 200, "{}", health.text);
        assert_eq!(panics.load(Ordering::Relaxed), 0, "a campaign thread panicked (see the output above)");

        let examples = report.examples.join("\n");
        assert_eq!(
            report.requests,
            report.complete + report.partial + report.refused + report.hangs + report.transport_errors
        );
        assert_eq!(report.hangs, 0, "answers later than {:?}:\n{examples}", campaign::answer_bound());
        assert_eq!(report.transport_errors, 0, "connections failed:\n{examples}");
        assert_eq!(report.cross_tenant, 0, "a tenant saw another's values:\n{examples}");
        assert_eq!(report.wrong, 0, "answers broke the rules:\n{examples}");
        assert!(report.complete > 0 && report.partial > 0, "{}", report.summary());
    });
}

// Found by the campaign: minimal reproductions, each on a fault-free simulator.

/// Every root field of an operation failing is no reason to null `data`: each root field here is
/// nullable, so the spec answers `{"usageAggregates": null}` with the error, as it does when a
/// second root field succeeds.
#[tokio::test]
async fn a_lone_root_field_that_fails_is_null_in_place() {
    let sim = support::sim().await;
    let server = Server::start(support::config_for(&sim.base_url())).await;
    let talkdesk = support::talkdesk_auth(&sim);
    let headers = [("x-talkdesk-authorization", talkdesk.as_str())];

    // An argument the gateway refuses before any upstream call.
    let reply =
        server.query(r#"{ usageAggregates(first: 2, after: "not-a-cursor") { nodes { id } } }"#, &headers).await;
    let body = reply.json();
    assert_eq!(reply.error_codes(), ["BAD_USER_INPUT"], "{body}");
    assert_eq!(body["errors"][0]["path"], serde_json::json!(["usageAggregates"]), "{body}");
    assert_eq!(body["data"], serde_json::json!({ "usageAggregates": null }), "{body}");

    // An upstream failure.
    sim.push_faults(Some(billing_sim::endpoints::TALKDESK_USAGE), [billing_sim::Fault::server_error()]);
    let reply = server.query("{ usageAggregates(first: 2) { nodes { id } } }", &headers).await;
    let body = reply.json();
    assert_eq!(reply.error_codes(), ["UPSTREAM_UNAVAILABLE"], "{body}");
    assert_eq!(body["data"], serde_json::json!({ "usageAggregates": null }), "{body}");
}

/// A variable whose value is not of its type fails with `BAD_USER_INPUT` and calls nothing
/// upstream. (async-graphql coerces variables where a field reads them, so this is a field
/// error on the fields that read it; the spec would make it a request error: see the README.)
#[tokio::test]
async fn an_invalid_variable_value_is_refused_with_a_code() {
    let sim = support::sim().await;
    let server = Server::start(support::config_for(&sim.base_url())).await;
    let elastic = support::elastic_auth(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    let body = serde_json::json!({
        "query": "query Costs($org: ID!, $from: DateTime!) { organization(id: $org) { \
                  costs(from: $from, to: \"2026-10-02T00:00:00Z\") { total } } }",
        "variables": { "org": org, "from": "the first of October" },
    });
    let reply = server.post_json(&body, &[("authorization", elastic.as_str())]).await;
    let answer = reply.json();
    let errors = support::errors(&answer);
    assert!(!errors.is_empty(), "{answer}");
    for error in &errors {
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{answer}");
    }
    assert!(answer["data"]["organization"]["costs"].is_null(), "{answer}");
    assert_eq!(sim.stats().total(), 0, "nothing was asked upstream");
}

/// A field whose upstream call waits on the client-side rate limit past its time fails alone,
/// so the request still answers in time with the fields that did resolve, rather than a 504
/// that drops them all. At 1 call per second, four overviews need four seconds; the request
/// has two.
#[tokio::test]
async fn waiting_on_the_upstream_rate_limit_fails_fields_not_the_request() {
    let sim = support::sim().await;
    let mut config = support::config_for(&sim.base_url());
    config.upstream_rps = 1;
    config.request_timeout_secs = 2;
    let server = Server::start(config).await;
    let org = sim.dataset().demo_org().id.to_string();
    let costs: Vec<String> = (1..=4)
        .map(|day| {
            format!(
                "d{day}: costs(from: \"2026-10-0{day}T00:00:00Z\", to: \"2026-10-0{}T00:00:00Z\") {{ total }}",
                day + 1
            )
        })
        .collect();
    let query = format!("{{ organization(id: \"{org}\") {{ {} }} }}", costs.join(" "));
    let elastic = support::elastic_auth(&sim);
    let reply = server.query(&query, &[("authorization", elastic.as_str())]).await;
    let body = reply.json();
    assert_eq!(reply.status, 200, "{body}");
    let resolved = (1..=4).filter(|day| body["data"]["organization"][format!("d{day}")]["total"].is_number()).count();
    assert!(resolved >= 1, "the first call, whichever it is, goes at once: {body}");
    for error in support::errors(&body) {
        assert!(error["extensions"]["code"].is_string(), "{body}");
        let key = error["path"][1].as_str().unwrap_or_default();
        assert!(body["data"]["organization"][key].is_null(), "{body}");
    }
}
