//! Header routing: each credential reaches only its own upstream, server-side defaults fill in for
//! absent headers, and a missing credential fails only the fields that need it.
//!
//! The simulator's request log shows the `Authorization` each upstream request carried; the
//! recording proxy in front of it shows every other header too.

use billing_sim::endpoints::{TALKDESK_USAGE, V1_OVERVIEW, V2_INSTANCES};
use billing_sim::{LoggedRequest, SimHandle};
use serde_json::Value;

use crate::support::{self, Proxy, Server};

const RANGE: &str = r#"from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z""#;

/// Elastic v1 and v2 fields of `org`, and a page of Talkdesk usage.
fn three_upstreams(org: &str) -> String {
    format!(
        "{{ organization(id: \"{org}\") {{ costs({RANGE}) {{ total }} instances({RANGE}) {{ id }} }}
           usageAggregates(first: 2) {{ nodes {{ id accountId }} }} }}"
    )
}

fn is_elastic(r: &LoggedRequest) -> bool {
    r.template.starts_with("GET /api/v1/") || r.template.starts_with("GET /api/v2/")
}

/// The `Authorization` values the simulator saw, for Elastic and for Talkdesk requests.
fn authorizations(sim: &SimHandle) -> (Vec<Option<String>>, Vec<Option<String>>) {
    let log = sim.requests();
    let elastic = log.iter().filter(|r| is_elastic(r)).map(|r| r.authorization.clone()).collect();
    let talkdesk = log.iter().filter(|r| r.template == TALKDESK_USAGE).map(|r| r.authorization.clone()).collect();
    (elastic, talkdesk)
}

fn assert_all(seen: &[Option<String>], expected: &str, what: &str) {
    assert!(!seen.is_empty(), "no {what} request was made");
    for auth in seen {
        assert_eq!(auth.as_deref(), Some(expected), "{what}: {seen:?}");
    }
}

#[tokio::test]
async fn each_credential_reaches_only_its_upstream() {
    let sim = support::sim().await;
    let proxy = Proxy::start(&sim.base_url(), vec![]).await;
    let server = Server::start(support::config_for(&proxy.url)).await;
    let creds = sim.dataset().credentials().clone();
    let elastic = format!("ApiKey {}", creds.elastic_demo_key);
    let talkdesk = format!("Bearer {}", creds.talkdesk_token);

    let org = sim.dataset().demo_org().id.to_string();
    let reply = server
        .query(&three_upstreams(&org), &[("authorization", &elastic), ("x-talkdesk-authorization", &talkdesk)])
        .await;
    let body = reply.json();
    assert_eq!(reply.status, 200);
    assert!(support::errors(&body).is_empty(), "{body:#}");
    assert!(body["data"]["organization"]["costs"]["total"].as_f64().unwrap() > 0.0);
    assert_eq!(body["data"]["usageAggregates"]["nodes"].as_array().unwrap().len(), 2);

    // The simulator: the Elastic key on every v1/v2 request, the Talkdesk token, moved to
    // `Authorization`, on every Talkdesk request.
    let stats = sim.stats();
    for endpoint in [V1_OVERVIEW, V2_INSTANCES, TALKDESK_USAGE] {
        assert_eq!(stats.calls(endpoint), 1, "{endpoint}: {stats:?}");
    }
    let (to_elastic, to_talkdesk) = authorizations(&sim);
    assert_all(&to_elastic, &elastic, "Elastic");
    assert_all(&to_talkdesk, &talkdesk, "Talkdesk");

    // The proxy: no other header carries either secret anywhere, and the caller's Talkdesk
    // header itself is never forwarded.
    let seen = proxy.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    for request in &seen {
        assert_eq!(request.header("x-talkdesk-authorization"), None, "{request:?}");
        let (own, foreign) = if request.is_elastic() {
            (&creds.elastic_demo_key, &creds.talkdesk_token)
        } else {
            (&creds.talkdesk_token, &creds.elastic_demo_key)
        };
        for (name, value) in &request.headers {
            assert!(!value.contains(foreign.as_str()), "{} got {name}: {value}", request.uri);
            if name != "authorization" {
                assert!(!value.contains(own.as_str()), "{} got its credential in {name}", request.uri);
            }
        }
    }
}

#[tokio::test]
async fn server_defaults_apply_when_the_caller_sends_none_and_the_caller_wins() {
    let sim = support::sim().await;
    let ds = sim.dataset();
    let creds = ds.credentials().clone();
    let mut config = support::config_for(&sim.base_url());
    // Bare secrets, as `ELASTIC_API_KEY`/`TALKDESK_TOKEN` usually hold them.
    config.elastic_api_key = Some(creds.elastic_demo_key.clone());
    config.talkdesk_token = Some(creds.talkdesk_token.clone());
    let server = Server::start(config).await;

    // No headers: the defaults, each to its own upstream.
    let reply = server.query(&three_upstreams(ds.demo_org().id.as_str()), &[]).await;
    let body = reply.json();
    assert!(support::errors(&body).is_empty(), "{body:#}");
    let (to_elastic, to_talkdesk) = authorizations(&sim);
    assert_all(&to_elastic, &format!("ApiKey {}", creds.elastic_demo_key), "Elastic (default)");
    assert_all(&to_talkdesk, &format!("Bearer {}", creds.talkdesk_token), "Talkdesk (default)");
    let first_org = &ds.talkdesk_organizations()[0];
    assert_accounts_of(&body, &first_org.accounts.iter().map(ToString::to_string).collect::<Vec<_>>());

    // The caller's headers win: the other key reads the other organization, which the default
    // key may not; the other token reads the other Talkdesk organization.
    sim.reset_stats();
    let other_key = format!("ApiKey {}", creds.elastic_other_key);
    let other_token = format!("Bearer {}", creds.talkdesk_other_token);
    let reply = server
        .query(
            &three_upstreams(ds.other_org().id.as_str()),
            &[("authorization", &other_key), ("x-talkdesk-authorization", &other_token)],
        )
        .await;
    let body = reply.json();
    assert!(support::errors(&body).is_empty(), "{body:#}");
    let (to_elastic, to_talkdesk) = authorizations(&sim);
    assert_all(&to_elastic, &other_key, "Elastic (caller's)");
    assert_all(&to_talkdesk, &other_token, "Talkdesk (caller's)");
    let second_org = &ds.talkdesk_organizations()[1];
    assert_accounts_of(&body, &second_org.accounts.iter().map(ToString::to_string).collect::<Vec<_>>());
}

fn assert_accounts_of(body: &Value, accounts: &[String]) {
    let nodes = body["data"]["usageAggregates"]["nodes"].as_array().unwrap();
    assert!(!nodes.is_empty());
    for node in nodes {
        let account = node["accountId"].as_str().unwrap();
        assert!(accounts.iter().any(|a| a == account), "{account} is not one of {accounts:?}");
    }
}

/// The paths of the errors with their codes.
fn error_paths(body: &Value) -> Vec<(String, String)> {
    support::errors(body)
        .iter()
        .map(|e| {
            let path: Vec<String> =
                e["path"].as_array().unwrap().iter().map(|p| p.as_str().unwrap_or("?").to_owned()).collect();
            (path.join("."), e["extensions"]["code"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

#[tokio::test]
async fn a_missing_credential_fails_only_the_fields_that_need_it() {
    let sim = support::sim().await;
    let server = Server::start(support::config_for(&sim.base_url())).await;
    let org = sim.dataset().demo_org().id.to_string();
    let elastic = support::elastic_auth(&sim);
    let talkdesk = support::talkdesk_auth(&sim);

    // Only the Elastic key: Talkdesk's field fails, and Talkdesk is never called.
    let reply = server.query(&three_upstreams(&org), &[("authorization", &elastic)]).await;
    let body = reply.json();
    assert_eq!(reply.status, 200);
    assert_eq!(error_paths(&body), [("usageAggregates".to_owned(), "UNAUTHENTICATED".to_owned())], "{body:#}");
    // The Elastic fields still answer.
    assert!(body["data"]["organization"]["costs"]["total"].as_f64().unwrap() > 0.0, "{body:#}");
    let error = &support::errors(&body)[0];
    assert_eq!(error["extensions"]["upstream"], "talkdesk");
    assert!(error["message"].as_str().unwrap().contains("X-Talkdesk-Authorization"), "{error}");
    let stats = sim.stats();
    assert_eq!(stats.calls(TALKDESK_USAGE), 0);
    assert_eq!(stats.calls(V1_OVERVIEW), 1);

    // Only the Talkdesk token: every Elastic field fails, and no Elastic endpoint is called.
    sim.reset_stats();
    let reply = server.query(&three_upstreams(&org), &[("x-talkdesk-authorization", &talkdesk)]).await;
    let body = reply.json();
    let mut paths = error_paths(&body);
    paths.sort();
    assert_eq!(
        paths,
        [
            ("organization.costs".to_owned(), "UNAUTHENTICATED".to_owned()),
            ("organization.instances".to_owned(), "UNAUTHENTICATED".to_owned())
        ],
        "{body:#}"
    );
    assert_eq!(body["data"]["usageAggregates"]["nodes"].as_array().unwrap().len(), 2, "{body:#}");
    let stats = sim.stats();
    assert_eq!(stats.calls(TALKDESK_USAGE), 1);
    assert_eq!(stats.total() - stats.calls(TALKDESK_USAGE), 0, "{stats:?}");

    // Fields that need no credential still answer without any.
    sim.reset_stats();
    let reply = server.query(&format!("{{ organization(id: \"{org}\") {{ id }} }}"), &[]).await;
    assert_eq!(reply.json()["data"]["organization"]["id"], org.as_str());
    assert_eq!(sim.stats().total(), 0);

    // An unusable credential is refused before it is sent.
    let reply = server
        .query(
            &format!("{{ organization(id: \"{org}\") {{ costs({RANGE}) {{ total }} }} }}"),
            &[("authorization", "Basic dXNlcg==")],
        )
        .await;
    assert_eq!(error_paths(&reply.json()), [("organization.costs".to_owned(), "UNAUTHENTICATED".to_owned())]);
    assert_eq!(sim.stats().total(), 0);
}
