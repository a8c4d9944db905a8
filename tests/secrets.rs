//! Credentials never leak: canary credentials are driven through success, 401, 403, 429, 5xx,
//! timeout, malformed-body and connection-refused paths with every log line at TRACE captured
//! and every span exported to an OTLP receiver, and then searched for in the logs, the spans and
//! every response. Upstream error bodies are never echoed to clients either, and no span holds
//! a URL, a query string or a variable's value.
//!
//! This file is its own test binary because it installs the process-global log subscriber.

// Test helpers fail the test that calls them, as the tests themselves do.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use billing_gateway::Config;
use billing_gateway::telemetry::Traces;
use billing_model::talkdesk::oauth::USAGE_SCOPE;
use billing_sim::Fault;
use billing_sim::endpoints::{TALKDESK_TOKEN, TALKDESK_USAGE, V1_OVERVIEW, V2_INSTANCES};
use billing_sim::{SimConfig, TalkdeskClient};
use support::{OtlpReceiver, Proxy, Reply, Server};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Caller-sent canaries, and server-side default canaries. The proxy in front of the simulator
/// translates them into the simulator's real credentials, so each one can succeed.
const CALLER_ELASTIC: &str = "canary-caller-e1a5t1c-9f3b27c4";
const CALLER_TALKDESK: &str = "canary-caller-t4lkd35k-5d81e0aa";
const DEFAULT_ELASTIC: &str = "canary-default-e1a5t1c-71c0ffee";
const DEFAULT_TALKDESK: &str = "canary-default-t4lkd35k-0badf00d";
/// Never translated: the simulator answers 401 to it.
const UNKNOWN_ELASTIC: &str = "canary-unknown-e1a5t1c-deadbeef";
/// Server-side Talkdesk OAuth client credentials: the simulator knows this client (not through
/// the proxy: they travel base64-encoded in HTTP Basic, which no substring rewrite can reach).
const CLIENT_ID: &str = "canary-client-id-c11e47-6a0f";
const CLIENT_SECRET: &str = "canary-client-secret-c11e47-77aa";
/// A wrong secret for that client: the token endpoint refuses it.
const WRONG_SECRET: &str = "canary-wrong-secret-c11e47-0e0e";
const CANARIES: [&str; 8] = [
    CALLER_ELASTIC,
    CALLER_TALKDESK,
    DEFAULT_ELASTIC,
    DEFAULT_TALKDESK,
    UNKNOWN_ELASTIC,
    CLIENT_ID,
    CLIENT_SECRET,
    WRONG_SECRET,
];
/// A variable's value: spans name operations, never their variables.
const VARIABLE: &str = "canary-variable-0rg-5ca1ab1e";

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Every response the test saw, headers included.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    fn keep(&mut self, reply: Reply) -> Reply {
        let headers: Vec<String> = reply.headers.iter().map(|(n, v)| format!("{n}: {v:?}")).collect();
        self.0.push(format!("{} {}\n{}", reply.status, headers.join("\n"), reply.text));
        reply
    }
}

const RANGE: &str = r#"from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z""#;

fn costs(org: &str) -> String {
    format!("{{ organization(id: \"{org}\") {{ costs({RANGE}) {{ total }} }} }}")
}

fn everything(org: &str) -> String {
    format!(
        "{{ organization(id: \"{org}\") {{ costs({RANGE}) {{ total }} instances({RANGE}) {{ id }} }}
           usageAggregates(first: 2) {{ nodes {{ id }} }} }}"
    )
}

/// The `extensions.code` of each error.
fn codes(reply: &Reply) -> Vec<String> {
    reply.error_codes()
}

/// The upstream status (`extensions.status`) of each error.
fn statuses(reply: &Reply) -> Vec<u64> {
    support::errors(&reply.json()).iter().map(|e| e["extensions"]["status"].as_u64().unwrap_or(0)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_credentials_appear_in_no_log_and_no_response() {
    let logs = Logs::default();
    let writer = logs.clone();
    let receiver = OtlpReceiver::start().await;
    let traces = Traces::to_url(&receiver.traces_url()).unwrap();
    let log_lines = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .with_filter(LevelFilter::TRACE);
    tracing_subscriber::registry().with(log_lines).with(traces.layer()).try_init().unwrap();

    let mut sim_config = SimConfig::at(support::now());
    sim_config.talkdesk_clients.push(TalkdeskClient::new(CLIENT_ID, CLIENT_SECRET, 0, &[USAGE_SCOPE]));
    let sim = billing_sim::spawn(sim_config).await.unwrap();
    let ds = sim.dataset();
    let creds = ds.credentials().clone();
    let (org, other_org) = (ds.demo_org().id.to_string(), ds.other_org().id.to_string());
    let proxy = Proxy::start(
        &sim.base_url(),
        vec![
            (CALLER_ELASTIC.to_owned(), creds.elastic_demo_key.clone()),
            (DEFAULT_ELASTIC.to_owned(), creds.elastic_demo_key.clone()),
            (CALLER_TALKDESK.to_owned(), creds.talkdesk_token.clone()),
            (DEFAULT_TALKDESK.to_owned(), creds.talkdesk_token.clone()),
        ],
    )
    .await;
    let mut config = support::config_for(&proxy.url);
    config.elastic_api_key = Some(format!("ApiKey {DEFAULT_ELASTIC}"));
    config.talkdesk_token = Some(DEFAULT_TALKDESK.to_owned());
    config.cache_ttl_secs = 0;
    config.upstream_attempts = 2;
    config.upstream_timeout_ms = 300;
    config.otlp_endpoint = Some(receiver.url.clone());
    let server = Server::start(config.clone()).await;
    let caller_elastic = format!("ApiKey {CALLER_ELASTIC}");
    let caller_talkdesk = format!("Bearer {CALLER_TALKDESK}");
    let caller = [("authorization", caller_elastic.as_str()), ("x-talkdesk-authorization", caller_talkdesk.as_str())];
    let mut seen = Seen::default();

    // Success, with the caller's credentials and with the server's, by POST and by GET.
    let reply = seen.keep(server.query(&everything(&org), &caller).await);
    assert!(codes(&reply).is_empty(), "{}", reply.text);
    let reply = seen.keep(server.query(&everything(&org), &[]).await);
    assert!(codes(&reply).is_empty(), "{}", reply.text);
    let get =
        server.client.get(server.endpoint()).query(&[("query", costs(&org))]).header("authorization", &caller_elastic);
    let reply = seen.keep(Reply::read(get.send().await.unwrap()).await);
    assert!(codes(&reply).is_empty(), "{}", reply.text);

    // A variable's value, by POST and by GET (where it is in the query string).
    let named = "query Named($org: ID!) { organization(id: $org) { costs { total } } }";
    let body = serde_json::json!({ "query": named, "variables": { "org": VARIABLE } });
    let reply = seen.keep(server.post_json(&body, &caller).await);
    assert_eq!(codes(&reply).len(), 1, "no such organization: {}", reply.text);
    let variables = serde_json::json!({ "org": VARIABLE }).to_string();
    let get = server
        .client
        .get(server.endpoint())
        .query(&[("query", named), ("variables", variables.as_str())])
        .header("authorization", &caller_elastic);
    let reply = seen.keep(Reply::read(get.send().await.unwrap()).await);
    assert_eq!(codes(&reply).len(), 1, "no such organization: {}", reply.text);

    // 401: an unknown key (the simulator's own answer), and scripted 401s on Talkdesk.
    let unknown = format!("ApiKey {UNKNOWN_ELASTIC}");
    let reply = seen.keep(server.query(&costs(&org), &[("authorization", &unknown)]).await);
    assert_eq!(codes(&reply), ["UNAUTHENTICATED"], "{}", reply.text);
    sim.push_faults(Some(TALKDESK_USAGE), [Fault::Status { status: 401, retry_after: None }]);
    let reply = seen.keep(server.query("{ usageAggregates(first: 1) { totalCount } }", &caller).await);
    assert_eq!(codes(&reply), ["UNAUTHENTICATED"], "{}", reply.text);

    // 403: v2 answers text/plain naming the permission; the client sees none of that body.
    let reply = seen.keep(
        server
            .query(&format!("{{ organization(id: \"{other_org}\") {{ instances({RANGE}) {{ id }} }} }}"), &caller)
            .await,
    );
    assert_eq!(codes(&reply), ["FORBIDDEN"], "{}", reply.text);
    assert!(!reply.text.contains("billing-costs:get"), "the upstream's 403 body reached the client: {}", reply.text);
    assert!(!reply.text.contains("does not have"), "{}", reply.text);

    // 429 and 5xx on every attempt (the retry path is logged too).
    let too_many = Fault::too_many_requests(Duration::from_secs(1));
    sim.push_faults(Some(V1_OVERVIEW), [too_many, too_many]);
    let reply = seen.keep(server.query(&costs(&org), &caller).await);
    // Elastic's own code (`billing_service.rate_limited`) passes through.
    assert_eq!(statuses(&reply), [429], "{}", reply.text);
    sim.push_faults(Some(V2_INSTANCES), [Fault::server_error(), Fault::server_error()]);
    let reply = seen.keep(server.query(&everything(&org), &[]).await);
    assert_eq!(statuses(&reply), [500], "{}", reply.text);
    sim.push_faults(Some(TALKDESK_USAGE), [Fault::Status { status: 503, retry_after: None }; 2]);
    let reply = seen.keep(server.query("{ usageAggregates(first: 1) { totalCount } }", &caller).await);
    assert_eq!(
        (codes(&reply), statuses(&reply)),
        (vec!["UPSTREAM_UNAVAILABLE".to_owned()], vec![503]),
        "{}",
        reply.text
    );

    // Timeouts: the simulator holds the request past the gateway's 300 ms, twice.
    sim.push_faults(Some(V1_OVERVIEW), [Fault::Stall(Duration::from_secs(2)); 2]);
    let reply = seen.keep(server.query(&costs(&org), &caller).await);
    assert_eq!(codes(&reply), ["UPSTREAM_TIMEOUT"], "{}", reply.text);

    // A truncated body: decode errors quote no payload.
    sim.push_faults(Some(TALKDESK_USAGE), [Fault::Malformed; 2]);
    let reply = seen.keep(server.query("{ usageAggregates(first: 1) { totalCount } }", &caller).await);
    assert_eq!(codes(&reply), ["UPSTREAM_INVALID_RESPONSE"], "{}", reply.text);

    // An unusable credential (wrong scheme) is refused without echoing it.
    let basic = format!("Basic {CALLER_ELASTIC}");
    let reply = seen.keep(server.query(&costs(&org), &[("authorization", &basic)]).await);
    assert_eq!(codes(&reply), ["UNAUTHENTICATED"], "{}", reply.text);

    // Connection refused: a gateway whose upstreams listen nowhere.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut unreachable = support::config_for(&format!("http://{closed}"));
    unreachable.elastic_api_key = config.elastic_api_key.clone();
    unreachable.talkdesk_token = config.talkdesk_token.clone();
    unreachable.upstream_attempts = 2;
    unreachable.otlp_endpoint = Some(receiver.url.clone());
    let dead = Server::start(unreachable).await;
    let reply = seen.keep(dead.query(&everything(&org), &caller).await);
    assert_eq!(codes(&reply), ["UPSTREAM_UNAVAILABLE"; 3], "{}", reply.text);
    let reply = seen.keep(dead.query(&everything(&org), &[]).await);
    assert_eq!(codes(&reply), ["UPSTREAM_UNAVAILABLE"; 3], "{}", reply.text);
    let reply = seen.keep(dead.get("/readyz", &[]).await);
    assert_eq!(reply.status, 503);
    let reply = seen.keep(server.get("/metrics", &[]).await);
    assert_eq!(reply.status, 200);

    // Server-side client credentials: a token obtained through the proxy, renewed after a
    // revocation (the 401 path), a token endpoint that fails and one that stalls, a wrong secret,
    // and a token endpoint nobody listens on.
    // (A malformed answer is not retried, so one of the two queued above is still waiting.)
    sim.clear_faults();
    let mut with_client = support::config_for(&proxy.url);
    with_client.talkdesk_client_id = Some(CLIENT_ID.to_owned());
    with_client.talkdesk_client_secret = Some(CLIENT_SECRET.to_owned());
    with_client.talkdesk_token_url = Some(format!("{}/oauth/token", proxy.url));
    with_client.cache_ttl_secs = 0;
    with_client.upstream_attempts = 2;
    with_client.upstream_timeout_ms = 300;
    with_client.otlp_endpoint = Some(receiver.url.clone());
    let oauth = Server::start(with_client.clone()).await;
    let usage = "{ usageAggregates(first: 1) { totalCount } }";
    let reply = seen.keep(oauth.query(usage, &[]).await);
    assert!(codes(&reply).is_empty(), "{}", reply.text);
    sim.expire_tokens();
    let reply = seen.keep(oauth.query(usage, &[]).await);
    assert!(codes(&reply).is_empty(), "renewed after the 401: {}", reply.text);
    sim.expire_tokens();
    sim.push_faults(Some(TALKDESK_TOKEN), [Fault::Status { status: 503, retry_after: None }; 2]);
    let reply = seen.keep(oauth.query(usage, &[]).await);
    assert_eq!(codes(&reply), ["UPSTREAM_UNAVAILABLE"], "{}", reply.text);
    // (A timeout is not retried: one stall is the whole story.)
    sim.push_faults(Some(TALKDESK_TOKEN), [Fault::Stall(Duration::from_secs(2))]);
    let reply = seen.keep(oauth.query(usage, &[]).await);
    assert_eq!(codes(&reply), ["UPSTREAM_TIMEOUT"], "{}", reply.text);
    let mut wrong = with_client.clone();
    wrong.talkdesk_client_secret = Some(WRONG_SECRET.to_owned());
    let reply = seen.keep(Server::start(wrong).await.query(usage, &[]).await);
    assert_eq!(codes(&reply), ["UPSTREAM_UNAUTHENTICATED"], "{}", reply.text);
    let mut nowhere = with_client.clone();
    nowhere.talkdesk_token_url = Some(format!("http://{closed}/oauth/token"));
    let reply = seen.keep(Server::start(nowhere).await.query(usage, &[]).await);
    assert_eq!(codes(&reply), ["UPSTREAM_UNAVAILABLE"], "{}", reply.text);
    // Besides the canaries themselves, their HTTP Basic encodings and every access token the
    // simulator issued must not show either.
    let basic = |secret: &str| base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{secret}"));
    let encoded = [basic(CLIENT_SECRET), basic(WRONG_SECRET)];
    let sent_basic: Vec<String> =
        proxy.seen().iter().filter_map(|r| r.header("authorization").map(str::to_owned)).collect();
    for b in &encoded {
        assert!(sent_basic.contains(&format!("Basic {b}")), "a client credential never reached the token endpoint");
    }
    let issued: Vec<String> = sim
        .requests()
        .iter()
        .filter(|r| r.template == TALKDESK_USAGE)
        .filter_map(|r| r.authorization.as_deref()?.strip_prefix("Bearer ").map(str::to_owned))
        .filter(|t| t.starts_with("sim-td-access-"))
        .collect();
    assert!(issued.len() >= 2, "tokens were issued and used: {issued:?}");
    let text = logs.text();
    for secret in encoded.iter().chain(&issued) {
        assert!(!text.contains(secret.as_str()), "a client credential or an issued token is in the logs");
        for response in &seen.0 {
            assert!(!response.contains(secret.as_str()), "a client credential or an issued token is in a response");
        }
    }

    // The canaries were really planted: each one the proxy can translate reached it.
    let forwarded: Vec<String> =
        proxy.seen().iter().filter_map(|r| r.header("authorization").map(str::to_owned)).collect();
    for canary in [CALLER_ELASTIC, CALLER_TALKDESK, DEFAULT_ELASTIC, DEFAULT_TALKDESK, UNKNOWN_ELASTIC] {
        assert!(forwarded.iter().any(|a| a.contains(canary)), "{canary} never reached an upstream: {forwarded:?}");
    }

    // And the logs are the real thing: TRACE lines from the gateway, the clients and hyper.
    let text = logs.text();
    for expected in ["TRACE", "upstream_call", "graphql request", "retrying", "hyper"] {
        assert!(text.contains(expected), "the captured logs hold no {expected:?}:\n{}", &text[..text.len().min(4000)]);
    }
    for canary in CANARIES {
        let found: Vec<&str> = text.lines().filter(|l| l.contains(canary)).take(5).collect();
        assert!(found.is_empty(), "{canary} is in the logs:\n{}", found.join("\n"));
        for response in &seen.0 {
            assert!(!response.contains(canary), "{canary} is in a response:\n{response}");
        }
    }

    // The exported spans: every request's, down to each upstream attempt, and no secret in any
    // name, attribute, event or resource; no URL, query string or variable value either.
    let spans = exported(&traces, &receiver).await;
    for name in ["http", "graphql_request", "loader_batch", "upstream_fetch", "upstream_call"] {
        assert!(spans.iter().any(|s| s.name == name), "no {name} span among {} exported", spans.len());
    }
    let token_calls = spans.iter().filter(|s| s.name == "upstream_call" && s.attr("endpoint") == Some("/oauth/token"));
    assert!(token_calls.count() >= 2, "the token requests were traced too");
    assert!(spans.iter().any(|s| s.name == "upstream_call" && s.attr("status") == Some("429")), "the 429s");
    for span in &spans {
        for text in span.texts() {
            for canary in CANARIES.iter().chain([&VARIABLE]) {
                assert!(!text.contains(canary), "{canary} is in an exported span: {span:#?}");
            }
            for secret in [CLIENT_ID, CLIENT_SECRET, WRONG_SECRET]
                .into_iter()
                .chain(encoded.iter().chain(&issued).map(String::as_str))
            {
                assert!(
                    !text.contains(secret),
                    "a client credential or an issued token is in an exported span: {span:#?}"
                );
            }
            assert!(!text.contains("://"), "a URL is in an exported span: {text:?} in {span:#?}");
            let query_string = text.split_once('?').is_some_and(|(_, after)| after.contains('='));
            assert!(!query_string, "a query string is in an exported span: {text:?} in {span:#?}");
        }
    }
}

/// Every span exported so far, once the exporter has sent what it holds.
async fn exported(traces: &Traces, receiver: &OtlpReceiver) -> Vec<support::ReceivedSpan> {
    let mut spans = Vec::new();
    for _ in 0..100 {
        traces.flush().await;
        spans = receiver.spans();
        if spans.iter().any(|s| s.name == "http" && s.attr("path") == Some("/metrics")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    spans
}

/// The configuration and the gateway built from it do not show the server-side credentials in
/// `Debug` (what a startup log or a panic message would print).
#[tokio::test]
async fn debug_output_hides_server_side_credentials() {
    let mut config = Config::defaults();
    config.sim = true;
    config.elastic_api_key = Some(DEFAULT_ELASTIC.to_owned());
    config.talkdesk_token = Some(format!("Bearer {DEFAULT_TALKDESK}"));
    let config_debug = format!("{config:?}");
    let gateway = billing_gateway::Gateway::build(config).await.unwrap();
    let gateway_debug = format!("{gateway:?}");
    // Client credentials, built into a token source (nothing is called at build).
    let mut with_client = support::config_for("http://127.0.0.1:9");
    with_client.talkdesk_client_id = Some(CLIENT_ID.to_owned());
    with_client.talkdesk_client_secret = Some(CLIENT_SECRET.to_owned());
    with_client.talkdesk_account = Some("acme".to_owned());
    let client_debug = format!("{with_client:?}");
    let client_gateway_debug = format!("{:?}", billing_gateway::Gateway::build(with_client).await.unwrap());
    for debug in [config_debug, gateway_debug, client_debug, client_gateway_debug] {
        assert!(debug.contains("body_limit"), "{debug}");
        for secret in [DEFAULT_ELASTIC, DEFAULT_TALKDESK, CLIENT_ID, CLIENT_SECRET] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }
}
