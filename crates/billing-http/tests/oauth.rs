//! Talkdesk OAuth client credentials against billing-sim's token endpoint: one token request for
//! many concurrent calls, renewal before expiry (on a manual clock, so no test waits out a
//! lifetime or depends on the machine's speed), renewal and one retry after a 401, and refusals
//! as typed errors that never show the secret.

// Test helpers outside #[test] fns unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use billing_http::{
    ErrorKind, ManualClock, TalkdeskAuth, TalkdeskClientCredentials, TalkdeskTokenSource, TokenSourceOptions, endpoints,
};
use billing_model::talkdesk::UsagePage;
use billing_model::talkdesk::oauth::USAGE_SCOPE;
use billing_sim::endpoints::{TALKDESK_TOKEN, TALKDESK_USAGE};
use billing_sim::{Fault, Latency, SimHandle};
use common::{Clients, clients, sim};
use futures::future::join_all;

/// The simulator's default lifetime, and the source's default margin.
const LIFETIME: Duration = Duration::from_secs(600);
const MARGIN: Duration = Duration::from_secs(60);

/// The first demo client of the simulator (the usage scope, the first organization).
fn demo_client(sim: &SimHandle) -> TalkdeskClientCredentials {
    let c = &sim.talkdesk_clients()[0];
    TalkdeskClientCredentials::new(&c.id, &c.secret).unwrap()
}

/// A source of `client` on the simulator's token endpoint, on `clock`.
fn source(sim: &SimHandle, c: &Clients, client: TalkdeskClientCredentials, clock: &ManualClock) -> TalkdeskTokenSource {
    let options = TokenSourceOptions { clock: clock.clock(), ..TokenSourceOptions::default() };
    TalkdeskTokenSource::with_options(c.transport.clone(), &sim.talkdesk_token_url(), client, options).unwrap()
}

/// `n` usage calls at once, each a different page size so none could share an answer.
async fn concurrent(c: &Clients, auth: &TalkdeskAuth, n: u32) -> Vec<Result<UsagePage, billing_http::Error>> {
    join_all((1..=n).map(|per_page| c.td.usage(auth).per_page(per_page).send())).await
}

fn token_requests(sim: &SimHandle) -> u64 {
    sim.stats().calls(TALKDESK_TOKEN)
}

fn refused_usage(sim: &SimHandle) -> u64 {
    sim.stats().responses(TALKDESK_USAGE, 401)
}

#[tokio::test]
async fn one_token_request_serves_many_concurrent_calls() {
    let sim = sim().await;
    let c = clients(&sim);
    // A slow token endpoint, so every call arrives while the one request is in flight.
    sim.set_latency(Some(TALKDESK_TOKEN), Latency::Fixed(Duration::from_millis(150)));
    let auth = TalkdeskAuth::from(source(&sim, &c, demo_client(&sim), &ManualClock::new()));

    let answers = concurrent(&c, &auth, 32).await;
    assert!(answers.iter().all(Result::is_ok), "{:?}", answers.iter().find(|a| a.is_err()));
    assert_eq!(token_requests(&sim), 1, "one token request for 32 concurrent calls");
    let sent: Vec<String> =
        sim.requests().into_iter().filter(|r| r.template == TALKDESK_USAGE).map(|r| r.authorization.unwrap()).collect();
    assert_eq!(sent.len(), 32);
    assert!(sent.iter().all(|a| a == &sent[0] && a.starts_with("Bearer sim-td-access-")), "{sent:?}");
    let rows = sim.dataset().talkdesk_organizations()[0].rows();
    assert_eq!(answers[9].as_ref().unwrap().total, Some(rows.len() as u64), "the client's organization");
}

#[tokio::test]
async fn a_token_is_renewed_shortly_before_it_expires_once_per_lifetime() {
    let sim = sim().await;
    let c = clients(&sim);
    let clock = ManualClock::new();
    let auth = TalkdeskAuth::from(source(&sim, &c, demo_client(&sim), &clock));

    assert!(concurrent(&c, &auth, 8).await.iter().all(Result::is_ok));
    assert_eq!(token_requests(&sim), 1);
    // Until the margin, the token in hand serves.
    clock.advance(LIFETIME - MARGIN - Duration::from_secs(1));
    assert!(concurrent(&c, &auth, 8).await.iter().all(Result::is_ok));
    assert_eq!(token_requests(&sim), 1);
    // Within it, one renewal, before the upstream has refused anything.
    clock.advance(Duration::from_secs(2));
    assert!(concurrent(&c, &auth, 8).await.iter().all(Result::is_ok));
    assert_eq!(token_requests(&sim), 2);

    // Several lifetimes: each ends on both sides (the simulator refuses the old tokens), and
    // each costs exactly one token request and no 401.
    for lifetime in 3..=6 {
        clock.advance(LIFETIME);
        sim.expire_tokens();
        assert!(concurrent(&c, &auth, 8).await.iter().all(Result::is_ok));
        assert_eq!(token_requests(&sim), lifetime);
    }
    assert_eq!(refused_usage(&sim), 0, "every renewal came before the upstream refused a token");
}

#[tokio::test]
async fn a_401_renews_the_token_once_and_retries_each_call_once() {
    let sim = sim().await;
    let c = clients(&sim);
    let auth = TalkdeskAuth::from(source(&sim, &c, demo_client(&sim), &ManualClock::new()));
    c.td.usage(&auth).send().await.unwrap();

    // The upstream revokes the token while the source still thinks it good: every call is
    // refused once, one renewal serves them all, and each retry succeeds.
    sim.expire_tokens();
    assert!(concurrent(&c, &auth, 16).await.iter().all(Result::is_ok));
    assert_eq!((token_requests(&sim), refused_usage(&sim)), (2, 16));

    // A 401 that persists: one renewal, one retry, then the 401 is the answer.
    let unauthorized = Fault::Status { status: 401, retry_after: None };
    sim.push_faults(Some(TALKDESK_USAGE), [unauthorized, unauthorized]);
    let err = c.td.usage(&auth).send().await.unwrap_err();
    assert_eq!(
        (err.kind(), err.http_status(), err.endpoint()),
        (ErrorKind::Status, Some(401), endpoints::TALKDESK_USAGE)
    );
    assert_eq!(token_requests(&sim), 3);
    // A fixed token is never renewed: its 401 is the answer at once.
    sim.push_faults(Some(TALKDESK_USAGE), [unauthorized]);
    assert_eq!(c.td.usage(common::td_token(&sim)).send().await.unwrap_err().http_status(), Some(401));
    assert_eq!(token_requests(&sim), 3);
}

#[tokio::test]
async fn a_wrong_secret_is_a_typed_refusal_that_names_the_cause_and_not_the_secret() {
    let sim = sim().await;
    let c = clients(&sim);
    sim.set_latency(Some(TALKDESK_TOKEN), Latency::Fixed(Duration::from_millis(100)));
    let id = sim.talkdesk_clients()[0].id.clone();
    let wrong = TalkdeskClientCredentials::new(&id, "wrong-secret-5b0c").unwrap();
    let auth = TalkdeskAuth::from(source(&sim, &c, wrong, &ManualClock::new()));

    let answers = concurrent(&c, &auth, 12).await;
    assert_eq!(token_requests(&sim), 1, "the callers that waited share the refusal");
    assert_eq!(sim.stats().calls(TALKDESK_USAGE), 0, "nothing reached the API");
    for answer in &answers {
        let err = answer.as_ref().unwrap_err();
        assert_eq!((err.kind(), err.http_status(), err.code()), (ErrorKind::Auth, Some(401), Some("invalid_client")));
        assert_eq!(err.endpoint(), endpoints::TALKDESK_TOKEN);
        assert!(!err.is_retryable());
        let shown = format!("{err} {err:?}");
        assert!(shown.contains("talkdesk POST /oauth/token: the credentials were refused"), "{shown}");
        assert!(!shown.contains("wrong-secret") && !shown.contains(&id), "{shown}");
    }
    // A later call asks again (a refusal is not kept).
    c.td.usage(&auth).send().await.unwrap_err();
    assert_eq!(token_requests(&sim), 2);

    // A scope the client may not have: refused as well, with its own code.
    let limited = sim.talkdesk_clients().iter().find(|c| !c.scopes.iter().any(|s| s == USAGE_SCOPE)).unwrap();
    let limited = TalkdeskClientCredentials::new(&limited.id, &limited.secret).unwrap();
    let source = source(&sim, &c, limited.clone(), &ManualClock::new());
    let err = c.td.usage(&source).send().await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Auth, Some("invalid_scope")));
    // A token granted without the usage scope: the API's 403, not a renewal.
    let options = TokenSourceOptions { scope: "express-accounts:read".into(), ..TokenSourceOptions::default() };
    let narrow =
        TalkdeskTokenSource::with_options(c.transport.clone(), &sim.talkdesk_token_url(), limited, options).unwrap();
    let before = token_requests(&sim);
    let err = c.td.usage(&narrow).send().await.unwrap_err();
    assert_eq!(
        (err.kind(), err.http_status(), err.endpoint()),
        (ErrorKind::Status, Some(403), endpoints::TALKDESK_USAGE)
    );
    assert_eq!(token_requests(&sim), before + 1);
}

#[tokio::test]
async fn the_token_endpoint_s_troubles_are_retried_or_outlasted() {
    let sim = sim().await;
    let c = clients(&sim);
    let clock = ManualClock::new();
    let auth = TalkdeskAuth::from(source(&sim, &c, demo_client(&sim), &clock));
    let unavailable = Fault::Status { status: 503, retry_after: None };

    // A transient 503 is retried like any call's.
    sim.push_faults(Some(TALKDESK_TOKEN), [unavailable]);
    c.td.usage(&auth).send().await.unwrap();
    assert_eq!(token_requests(&sim), 2);

    // Within the margin, a renewal that fails leaves the valid token in use.
    clock.advance(LIFETIME - MARGIN / 2);
    sim.push_faults(Some(TALKDESK_TOKEN), [unavailable; 3]);
    c.td.usage(&auth).send().await.unwrap();
    assert_eq!(token_requests(&sim), 5, "three attempts, then the token in hand");
    // Past the expiry, there is no token to fall back on: the failure is the answer.
    clock.advance(MARGIN);
    sim.push_faults(Some(TALKDESK_TOKEN), [unavailable; 3]);
    let err = c.td.usage(&auth).send().await.unwrap_err();
    assert_eq!(
        (err.kind(), err.http_status(), err.endpoint()),
        (ErrorKind::Status, Some(503), endpoints::TALKDESK_TOKEN)
    );
    // The token endpoint is back: so is the source.
    c.td.usage(&auth).send().await.unwrap();
    assert_eq!(token_requests(&sim), 9);
}
