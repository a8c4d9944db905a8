//! Credentials never show: not in `Debug` of clients, requests or errors, not in error messages,
//! and not in anything logged at TRACE while calls succeed, fail, retry, time out or cannot connect.
//!
//! Logs are captured by a global subscriber (this test binary's own process), which also bridges
//! `log` records, so what the HTTP stack logs from any thread is checked too.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine;
use billing_http::{
    ElasticBillingV1, ElasticCredentials, Error, TalkdeskAuth, TalkdeskBillingInsights, TalkdeskClientCredentials,
    TalkdeskToken, TalkdeskTokenSource, Transport, TransportConfig,
};
use billing_model::talkdesk::oauth::USAGE_SCOPE;
use billing_sim::{Fault, SimConfig, SimHandle, TalkdeskClient, endpoints as sim_endpoints};
use common::{Clients, closed_port_url, config, demo_key, range, sim, td_token};
use futures::TryStreamExt;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::util::SubscriberInitExt;

const CANARY: &str = "canary-5f2e9d";
const TD_CANARY: &str = "canary-td-8c41a7";
const CLIENT_ID_CANARY: &str = "canary-client-id-3e77d0";
const CLIENT_SECRET_CANARY: &str = "canary-client-secret-91b4f2";
const WRONG_SECRET_CANARY: &str = "canary-wrong-secret-c0ffee";

/// Everything logged, as bytes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

struct CapturedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = CapturedWriter;

    fn make_writer(&'a self) -> Self::Writer {
        CapturedWriter(self.0.clone())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned()
    }
}

/// Installs, once per process, a TRACE subscriber writing every event and span to memory.
fn captured() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let installed = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(FmtSpan::FULL)
            .with_ansi(false)
            .with_writer(captured.clone())
            .finish()
            .try_init();
        assert!(installed.is_ok(), "the only subscriber of this test binary");
        captured
    })
}

/// Every secret in play: the canaries and the simulator's real credentials.
fn secrets(sim: &SimHandle) -> Vec<String> {
    let creds = sim.dataset().credentials();
    vec![
        CANARY.to_owned(),
        TD_CANARY.to_owned(),
        creds.elastic_demo_key.clone(),
        creds.elastic_other_key.clone(),
        creds.talkdesk_token.clone(),
    ]
}

fn assert_hidden(what: &str, text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(!text.contains(secret.as_str()), "{what} shows a credential:\n{text}");
    }
}

fn assert_error_hidden(err: &Error, secrets: &[String]) {
    assert_hidden("an error's Display", &err.to_string(), secrets);
    assert_hidden("an error's Debug", &format!("{err:?}"), secrets);
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        assert_hidden("an error's source", &format!("{s} {s:?}"), secrets);
        source = s.source();
    }
}

#[tokio::test(flavor = "current_thread")]
async fn elastic_credentials_never_show_in_debug_errors_or_logs() {
    let logs = captured();
    let sim = sim().await;
    let secrets = secrets(&sim);
    let c = Clients::new(&sim, TransportConfig { request_timeout: Duration::from_millis(300), ..config() });
    let canary = ElasticCredentials::api_key(CANARY).unwrap();
    let org = &sim.dataset().demo_org().id;
    let r = range((2025, 5, 1), (2025, 6, 1));
    let mut errors = Vec::new();

    // Success, with the simulator's real key.
    c.v1.deployments(&demo_key(&sim), org).send().await.unwrap();
    c.v2.instances(&demo_key(&sim), org, r).include_names(true).send().await.unwrap();
    // 401 with the canary, in v1's JSON and v2's text shape.
    errors.push(c.v1.overview(&canary, org).send().await.unwrap_err());
    errors.push(c.v2.items(&canary, org, r).send().await.unwrap_err());
    // A 429, retried (and then refused as unknown).
    sim.push_faults(Some(sim_endpoints::V1_CHARTS), [Fault::Status { status: 429, retry_after: None }]);
    let err = c.v1.charts(&canary, org).send().await.unwrap_err();
    assert_eq!((err.http_status(), err.attempts()), (Some(401), 2));
    errors.push(err);
    // Retries spent on 503s, so the retry log lines carry the error.
    let unavailable = Fault::Status { status: 503, retry_after: None };
    sim.push_faults(Some(sim_endpoints::V1_ITEMS), [unavailable; 3]);
    errors.push(c.v1.items(&canary, org).send().await.unwrap_err());
    // A 500.
    sim.push_faults(Some(sim_endpoints::V2_CHARTS), [Fault::server_error()]);
    errors.push(c.v2.charts(&canary, org, r).send().await.unwrap_err());
    // A timeout.
    sim.push_faults(Some(sim_endpoints::V1_OVERVIEW), [Fault::Stall(Duration::from_secs(30))]);
    let err = c.v1.overview(&canary, org).send().await.unwrap_err();
    assert_eq!(err.kind(), billing_http::ErrorKind::Timeout);
    errors.push(err);
    // Connection refused.
    let nowhere = ElasticBillingV1::new(Transport::new(config()).unwrap(), &format!("{}/api/v1", closed_port_url()));
    let err = nowhere.unwrap().overview(&canary, org).send().await.unwrap_err();
    assert_eq!(err.kind(), billing_http::ErrorKind::Connect);
    errors.push(err);

    // The canary really was sent, so its absence below means something.
    let sent: Vec<_> = sim.requests().into_iter().filter_map(|q| q.authorization).collect();
    assert!(sent.iter().any(|a| a == &format!("ApiKey {CANARY}")), "{sent:?}");

    for err in &errors {
        assert_error_hidden(err, &secrets);
    }
    assert_hidden("a client's Debug", &format!("{:?} {:?} {:?}", c.v1, c.v2, c.td), &secrets);
    assert_hidden("a request's Debug", &format!("{:?}", c.v1.overview(&canary, org).range(r)), &secrets);
    assert_hidden("a request's Debug", &format!("{:?}", c.v2.instances(&canary, org, r)), &secrets);
    assert_hidden("credentials' Debug and Display", &format!("{canary:?} {canary}"), &secrets);

    let text = logs.text();
    assert!(text.contains("upstream_call"), "the capture works:\n{text}");
    assert!(text.contains("retrying"), "retries were logged:\n{text}");
    assert!(text.contains("/billing/costs/{organization_id}/items"), "logs name templates:\n{text}");
    assert_hidden("the logs", &text, &secrets);
}

#[tokio::test(flavor = "current_thread")]
async fn talkdesk_tokens_never_show_in_debug_errors_or_logs() {
    let logs = captured();
    let sim = sim().await;
    let secrets = secrets(&sim);
    let c = common::clients(&sim);
    let canary = TalkdeskToken::new(TD_CANARY).unwrap();

    let rows: Vec<_> = c.td.usage(td_token(&sim)).per_page(100).all(20).try_collect().await.unwrap();
    assert!(!rows.is_empty());
    let mut errors = vec![c.td.usage(&canary).send().await.unwrap_err()];
    sim.push_faults(Some(sim_endpoints::TALKDESK_USAGE), [Fault::too_many_requests(Duration::from_secs(1))]);
    let waits = common::RetryWaits::record();
    errors.push(c.td.usage(&canary).send().await.unwrap_err());
    assert_eq!(waits.take(), [("429".to_owned(), Duration::from_secs(1))], "the 429 was waited out");
    let nowhere = TalkdeskBillingInsights::new(Transport::new(config()).unwrap(), &closed_port_url()).unwrap();
    errors.push(nowhere.usage(&canary).send().await.unwrap_err());

    let sent: Vec<_> = sim.requests().into_iter().filter_map(|q| q.authorization).collect();
    assert!(sent.iter().any(|a| a == &format!("Bearer {TD_CANARY}")), "{sent:?}");
    for err in &errors {
        assert_error_hidden(err, &secrets);
    }
    assert_hidden("a usage request's Debug", &format!("{:?}", c.td.usage(&canary).per_page(5)), &secrets);
    assert_hidden("a token's Debug and Display", &format!("{canary:?} {canary}"), &secrets);
    let text = logs.text();
    assert!(text.contains("/express/usage/month"), "the capture works:\n{text}");
    assert_hidden("the logs", &text, &secrets);
}

#[tokio::test(flavor = "current_thread")]
async fn client_credentials_and_the_tokens_they_get_never_show_in_debug_errors_or_logs() {
    let logs = captured();
    let mut sim_config = SimConfig::at(common::now());
    sim_config.talkdesk_clients.push(TalkdeskClient::new(CLIENT_ID_CANARY, CLIENT_SECRET_CANARY, 0, &[USAGE_SCOPE]));
    let sim = billing_sim::spawn(sim_config).await.unwrap();
    let c = Clients::new(&sim, TransportConfig { request_timeout: Duration::from_millis(300), ..config() });
    let source = |secret: &str, url: &str| {
        let client = TalkdeskClientCredentials::new(CLIENT_ID_CANARY, secret).unwrap();
        TalkdeskTokenSource::new(c.transport.clone(), url, client).unwrap()
    };
    let good = TalkdeskAuth::from(source(CLIENT_SECRET_CANARY, &sim.talkdesk_token_url()));
    let mut errors = Vec::new();

    // Success over every page, then a revoked token renewed after the 401.
    let rows: Vec<_> = c.td.usage(&good).per_page(100).all(20).try_collect().await.unwrap();
    assert!(!rows.is_empty());
    sim.expire_tokens();
    c.td.usage(&good).send().await.unwrap();
    // A wrong secret; 503s spent on the token endpoint (so retries are logged); a stalled token
    // endpoint; a token endpoint nobody listens on; a persistent 401 after a renewal.
    let wrong = source(WRONG_SECRET_CANARY, &sim.talkdesk_token_url());
    errors.push(c.td.usage(&wrong).send().await.unwrap_err());
    let unavailable = Fault::Status { status: 503, retry_after: None };
    sim.push_faults(Some(sim_endpoints::TALKDESK_TOKEN), [unavailable; 3]);
    errors.push(c.td.usage(source(CLIENT_SECRET_CANARY, &sim.talkdesk_token_url())).send().await.unwrap_err());
    sim.push_faults(Some(sim_endpoints::TALKDESK_TOKEN), [Fault::Stall(Duration::from_secs(30)); 3]);
    let err = c.td.usage(source(CLIENT_SECRET_CANARY, &sim.talkdesk_token_url())).send().await.unwrap_err();
    assert_eq!(err.kind(), billing_http::ErrorKind::Timeout);
    errors.push(err);
    let nowhere = format!("{}/oauth/token", closed_port_url());
    errors.push(c.td.usage(source(CLIENT_SECRET_CANARY, &nowhere)).send().await.unwrap_err());
    let unauthorized = Fault::Status { status: 401, retry_after: None };
    sim.push_faults(Some(sim_endpoints::TALKDESK_USAGE), [unauthorized; 2]);
    errors.push(c.td.usage(&good).send().await.unwrap_err());

    // What must never show: the id, both secrets, their Basic encodings, and every access token
    // the simulator issued (read back from the Authorization of the usage calls).
    let basic = |secret: &str| base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID_CANARY}:{secret}"));
    let log = sim.requests();
    let sent = |template: &str| -> Vec<String> {
        log.iter().filter(|r| r.template == template).filter_map(|r| r.authorization.clone()).collect()
    };
    let basics = sent(sim_endpoints::TALKDESK_TOKEN);
    assert!(basics.contains(&format!("Basic {}", basic(CLIENT_SECRET_CANARY))), "{basics:?}");
    assert!(basics.contains(&format!("Basic {}", basic(WRONG_SECRET_CANARY))), "{basics:?}");
    let access_tokens: Vec<String> = sent(sim_endpoints::TALKDESK_USAGE)
        .iter()
        .filter_map(|a| a.strip_prefix("Bearer ").map(str::to_owned))
        .collect();
    assert!(access_tokens.len() >= 3, "{access_tokens:?}");
    let mut secrets = secrets(&sim);
    secrets.extend([CLIENT_ID_CANARY, CLIENT_SECRET_CANARY, WRONG_SECRET_CANARY].map(str::to_owned));
    secrets.extend([basic(CLIENT_SECRET_CANARY), basic(WRONG_SECRET_CANARY)]);
    secrets.extend(access_tokens);

    for err in &errors {
        assert_error_hidden(err, &secrets);
    }
    assert_hidden("a token source's Debug", &format!("{good:?} {wrong:?}"), &secrets);
    assert_hidden("a usage request's Debug", &format!("{:?}", c.td.usage(&good).per_page(5)), &secrets);
    if let TalkdeskAuth::Source(s) = &good {
        let token = s.token().await.unwrap();
        assert_hidden("an obtained token's Debug and Display", &format!("{token:?} {token}"), &secrets);
    }
    let text = logs.text();
    assert!(text.contains("/oauth/token"), "the capture works:\n{text}");
    assert!(text.contains("talkdesk access token obtained"), "the capture works:\n{text}");
    assert_hidden("the logs", &text, &secrets);
}
