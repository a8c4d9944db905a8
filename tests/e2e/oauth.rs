//! Server-side Talkdesk client credentials: the gateway obtains, shares and renews its own
//! Talkdesk tokens. The token clock is a manual one, so a token lifetime passes when the test
//! says so, and no assertion depends on how fast the machine is.

use std::time::Duration;

use billing_gateway::Config;
use billing_http::ManualClock;
use billing_sim::endpoints::{TALKDESK_TOKEN, TALKDESK_USAGE};
use billing_sim::{Latency, SimHandle};
use futures::future::join_all;
use serde_json::Value;

use crate::support::{self, Server};

/// The simulator's token lifetime (its default).
const LIFETIME: Duration = Duration::from_secs(600);

/// A gateway on `sim` whose only server-side credential is the simulator's first OAuth client
/// (with `secret` as its secret), timed on `clock`, with the cache off so every request reaches
/// Talkdesk.
fn client_credentials_config(sim: &SimHandle, secret: Option<&str>, clock: &ManualClock) -> Config {
    let client = &sim.talkdesk_clients()[0];
    let mut config = support::config_for(&sim.base_url());
    config.talkdesk_client_id = Some(client.id.clone());
    config.talkdesk_client_secret = Some(secret.unwrap_or(&client.secret).to_owned());
    config.talkdesk_token_url = Some(sim.talkdesk_token_url());
    config.token_clock = clock.clock();
    config.cache_ttl_secs = 0;
    config
}

fn usage(first: u32) -> String {
    format!("{{ usageAggregates(first: {first}) {{ totalCount nodes {{ id accountId }} }} }}")
}

#[tokio::test]
async fn client_credentials_alone_answer_usage_across_token_lifetimes_with_one_token_request_each() {
    let sim = support::sim().await;
    let clock = ManualClock::new();
    let server = Server::start(client_credentials_config(&sim, None, &clock)).await;
    let rows = sim.dataset().talkdesk_organizations()[0].rows().len();
    // A slow token endpoint: every query of a round arrives while its one token request is out.
    sim.set_latency(Some(TALKDESK_TOKEN), Latency::Fixed(Duration::from_millis(150)));

    for lifetime in 1..=4_u64 {
        // Twelve different queries at once (so none shares another's execution), no header.
        let queries: Vec<String> = (1..=12).map(usage).collect();
        let replies = join_all(queries.iter().map(|q| server.query(q, &[]))).await;
        for (first, reply) in (1..=12).zip(&replies) {
            let body = reply.json();
            assert!(support::errors(&body).is_empty(), "{body:#}");
            assert_eq!(body["data"]["usageAggregates"]["totalCount"], rows, "{body:#}");
            assert_eq!(body["data"]["usageAggregates"]["nodes"].as_array().unwrap().len(), first as usize);
        }
        let stats = sim.stats();
        assert_eq!(stats.calls(TALKDESK_TOKEN), lifetime, "one token request per lifetime: {stats:?}");
        assert!(stats.calls(TALKDESK_USAGE) >= 12 * lifetime, "every query reached Talkdesk: {stats:?}");
        // The lifetime ends on both sides: the gateway's clock passes it, and the simulator
        // refuses the tokens it issued.
        clock.advance(LIFETIME);
        sim.expire_tokens();
    }
    assert_eq!(sim.stats().responses(TALKDESK_USAGE, 401), 0, "each token was renewed before Talkdesk refused it");
    // Every usage call carried an issued token, never a client secret.
    for request in sim.requests().iter().filter(|r| r.template == TALKDESK_USAGE) {
        assert!(request.authorization.as_deref().unwrap().starts_with("Bearer sim-td-access-"), "{request:?}");
    }
}

#[tokio::test]
async fn a_revoked_token_is_renewed_and_the_query_still_answers() {
    let sim = support::sim().await;
    let server = Server::start(client_credentials_config(&sim, None, &ManualClock::new())).await;
    assert!(server.query(&usage(3), &[]).await.error_codes().is_empty());
    // Talkdesk revokes the token early: the gateway's clock says it is still good.
    sim.expire_tokens();
    let reply = server.query(&usage(4), &[]).await;
    assert!(reply.error_codes().is_empty(), "{}", reply.text);
    let stats = sim.stats();
    assert_eq!((stats.calls(TALKDESK_TOKEN), stats.responses(TALKDESK_USAGE, 401)), (2, 1), "{stats:?}");
}

#[tokio::test]
async fn a_wrong_secret_fails_the_usage_fields_alone_with_a_clear_code() {
    let sim = support::sim().await;
    let mut config = client_credentials_config(&sim, Some("not-the-secret-4411"), &ManualClock::new());
    config.elastic_api_key = Some(support::elastic_auth(&sim));
    let server = Server::start(config).await;
    let org = sim.dataset().demo_org().id.to_string();
    let query = format!(
        r#"{{ organization(id: "{org}") {{ costs(from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z") {{ total }} }}
             usageAggregates(first: 2) {{ totalCount }} }}"#
    );
    let reply = server.query(&query, &[]).await;
    let body = reply.json();
    assert!(body["data"]["organization"]["costs"]["total"].as_f64().unwrap() > 0.0, "Elastic still resolves: {body:#}");
    assert_eq!(body["data"]["usageAggregates"], Value::Null, "{body:#}");
    let errors = support::errors(&body);
    assert_eq!(errors.len(), 1, "{body:#}");
    let error = &errors[0];
    assert_eq!(error["path"], serde_json::json!(["usageAggregates"]));
    let ext = &error["extensions"];
    assert_eq!(
        (&ext["code"], &ext["upstreamCode"], &ext["status"], &ext["endpoint"], &ext["upstream"]),
        (
            &Value::from("UPSTREAM_UNAUTHENTICATED"),
            &Value::from("invalid_client"),
            &Value::from(401),
            &Value::from("/oauth/token"),
            &Value::from("talkdesk")
        ),
        "{body:#}"
    );
    assert_eq!(
        error["message"],
        "talkdesk POST /oauth/token: refused the gateway's client credentials (invalid_client)"
    );
    assert!(!reply.text.contains("not-the-secret") && !reply.text.contains(&sim.talkdesk_clients()[0].id));
    assert_eq!(sim.stats().calls(TALKDESK_USAGE), 0, "no call reached the API without a token");
}

#[tokio::test]
async fn a_callers_own_talkdesk_token_wins_over_the_servers_client() {
    let sim = support::sim().await;
    let server = Server::start(client_credentials_config(&sim, None, &ManualClock::new())).await;
    let other = format!("Bearer {}", sim.dataset().credentials().talkdesk_other_token);
    let reply = server.query(&usage(2), &[("x-talkdesk-authorization", &other)]).await;
    let body = reply.json();
    assert!(support::errors(&body).is_empty(), "{body:#}");
    let other_rows = sim.dataset().talkdesk_organizations()[1].rows().len();
    assert_eq!(body["data"]["usageAggregates"]["totalCount"], other_rows);
    assert_eq!(sim.stats().calls(TALKDESK_TOKEN), 0, "the server's client was not used");
    let sent: Vec<_> = sim.requests().into_iter().filter_map(|r| r.authorization).collect();
    assert!(sent.iter().all(|a| a == &other), "{sent:?}");
}

#[tokio::test]
async fn the_demo_uses_the_simulators_client_credentials() {
    let server = Server::start(Config::defaults()).await;
    let sim = server.gateway.sim().expect("the embedded simulator runs");
    let reply = server.query(&usage(2), &[]).await;
    assert!(reply.error_codes().is_empty(), "{}", reply.text);
    assert_eq!(sim.stats().calls(TALKDESK_TOKEN), 1);
}
