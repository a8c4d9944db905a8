//! Talkdesk's token endpoint, `POST /oauth/token`: the client-credentials grant, RFC 6749
//! refusals, scope checks on the usage API, and token lifetimes (on paused time, in process).

// Test helpers outside #[test] fns unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, header};
use base64::Engine;
use billing_model::talkdesk::UsagePage;
use billing_model::talkdesk::oauth::{TokenError, TokenResponse, USAGE_SCOPE};
use billing_sim::endpoints::{TALKDESK_TOKEN, TALKDESK_USAGE};
use billing_sim::{Fault, SimConfig, SimHandle, TalkdeskClient};
use common::*;
use tower::ServiceExt;

const FORM: &str = "application/x-www-form-urlencoded";

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}

fn demo(sim: &SimHandle) -> &TalkdeskClient {
    &sim.talkdesk_clients()[0]
}

/// POSTs a token request; returns the status, the headers and the body.
async fn ask(sim: &SimHandle, authorization: Option<&str>, content_type: &str, form: &str) -> reqwest::Response {
    let mut request =
        client().post(sim.talkdesk_token_url()).header("content-type", content_type).body(form.to_owned());
    if let Some(a) = authorization {
        request = request.header("authorization", a);
    }
    request.send().await.unwrap()
}

async fn token_for(sim: &SimHandle, client: &TalkdeskClient, scope: &str) -> TokenResponse {
    let form = format!(
        "grant_type=client_credentials&scope={}",
        url::form_urlencoded::byte_serialize(scope.as_bytes()).collect::<String>()
    );
    let response = ask(sim, Some(&basic(&client.id, &client.secret)), FORM, &form).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn error_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: TokenError = response.json().await.unwrap();
    (status, body.error)
}

#[tokio::test]
async fn client_credentials_get_a_bearer_token_that_reads_the_clients_organization() {
    let sim = start().await;
    let response = ask(
        &sim,
        Some(&basic(&demo(&sim).id, &demo(&sim).secret)),
        FORM,
        "grant_type=client_credentials&scope=express-accounts-usage%3Aread",
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let token: TokenResponse = response.json().await.unwrap();
    assert_eq!((token.token_type.as_str(), token.expires_in, token.scope.as_str()), ("Bearer", 600, USAGE_SCOPE));

    // The token reads what the first organization's fixed token reads; the other client's, the other's.
    let usage = format!("{}/express/usage/month?per_page=250", sim.talkdesk_url());
    let (status, with_oauth) = get_json(&usage, Some(&format!("Bearer {}", token.access_token))).await;
    assert_eq!(status, 200);
    let (_, with_fixed) = get_json(&usage, Some(&talkdesk_token(&sim))).await;
    assert_eq!(with_oauth, with_fixed);
    let other = token_for(&sim, &sim.talkdesk_clients()[1], USAGE_SCOPE).await;
    let (_, with_other) = get_json(&usage, Some(&format!("Bearer {}", other.access_token))).await;
    let (first, second): (UsagePage, UsagePage) =
        (serde_json::from_value(with_oauth).unwrap(), serde_json::from_value(with_other).unwrap());
    assert_ne!(first.usage()[0].account_id, second.usage()[0].account_id);

    // Without a scope, the client's own; every request is counted under its template.
    let response =
        ask(&sim, Some(&basic(&demo(&sim).id, &demo(&sim).secret)), FORM, "grant_type=client_credentials").await;
    let all: TokenResponse = response.json().await.unwrap();
    assert_eq!(all.scope, demo(&sim).scopes.join(" "));
    assert_ne!(all.access_token, token.access_token, "each request gets a token of its own");
    assert_eq!(sim.stats().calls(TALKDESK_TOKEN), 3);
}

#[tokio::test]
async fn refusals_are_rfc_6749_errors() {
    let sim = start().await;
    let good = basic(&demo(&sim).id, &demo(&sim).secret);
    let grant = "grant_type=client_credentials";

    let wrong = ask(&sim, Some(&basic(&demo(&sim).id, "not-the-secret")), FORM, grant).await;
    assert_eq!(wrong.headers()["www-authenticate"], "Basic realm=\"talkdesk\"");
    assert_eq!(error_of(wrong).await, (401, "invalid_client".to_owned()));
    assert_eq!(error_of(ask(&sim, None, FORM, grant).await).await, (401, "invalid_client".to_owned()));
    assert_eq!(error_of(ask(&sim, Some("Basic %%%"), FORM, grant).await).await, (401, "invalid_client".to_owned()));
    assert_eq!(error_of(ask(&sim, Some(&good), FORM, "scope=x").await).await, (400, "invalid_request".to_owned()));
    assert_eq!(
        error_of(ask(&sim, Some(&good), FORM, "grant_type=password").await).await,
        (400, "unsupported_grant_type".to_owned())
    );
    assert_eq!(
        error_of(ask(&sim, Some(&good), FORM, "grant_type=client_credentials&scope=admin").await).await,
        (400, "invalid_scope".to_owned())
    );
    assert_eq!(
        error_of(ask(&sim, Some(&good), "application/json", "{}").await).await,
        (400, "invalid_request".to_owned())
    );

    // Injected faults answer in the same shape.
    sim.push_faults(Some(TALKDESK_TOKEN), [Fault::server_error(), Fault::Status { status: 503, retry_after: None }]);
    assert_eq!(error_of(ask(&sim, Some(&good), FORM, grant).await).await, (500, "server_error".to_owned()));
    assert_eq!(error_of(ask(&sim, Some(&good), FORM, grant).await).await, (503, "temporarily_unavailable".to_owned()));
}

#[tokio::test]
async fn a_token_without_the_usage_scope_is_forbidden() {
    let sim = start().await;
    let limited = sim.talkdesk_clients().iter().find(|c| !c.scopes.iter().any(|s| s == USAGE_SCOPE)).unwrap().clone();
    let token = token_for(&sim, &limited, "express-accounts:read").await;
    let usage = format!("{}/express/usage/month", sim.talkdesk_url());
    let (status, body) = get_json(&usage, Some(&format!("Bearer {}", token.access_token))).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["message"].is_string(), "Talkdesk's error shape: {body}");
    let form = format!("grant_type=client_credentials&scope={USAGE_SCOPE}");
    let asked = ask(&sim, Some(&basic(&limited.id, &limited.secret)), FORM, &form).await;
    assert_eq!(error_of(asked).await, (400, "invalid_scope".to_owned()));
    assert_eq!(sim.stats().responses(TALKDESK_USAGE, 403), 1);
}

#[tokio::test]
async fn expired_and_unknown_tokens_get_401() {
    let sim = start().await;
    let token = token_for(&sim, demo(&sim), USAGE_SCOPE).await;
    let bearer = format!("Bearer {}", token.access_token);
    let usage = format!("{}/express/usage/month", sim.talkdesk_url());
    assert_eq!(get_json(&usage, Some(&bearer)).await.0, 200);
    sim.expire_tokens();
    assert_eq!(get_json(&usage, Some(&bearer)).await.0, 401);
    assert_eq!(get_json(&usage, Some("Bearer sim-td-access-made-up")).await.0, 401);
    assert_eq!(get_json(&usage, Some(&talkdesk_token(&sim))).await.0, 200, "the fixed tokens do not expire");
}

/// One request to the in-process app: no socket, so tokio's paused time drives the lifetimes.
async fn call(app: &axum::Router, request: Request<Body>) -> (u16, Vec<u8>) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    (status, axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec())
}

#[tokio::test(start_paused = true)]
async fn a_token_lasts_its_lifetime_in_whole_seconds() {
    let config = SimConfig { token_lifetime: Duration::from_millis(1500), ..config() };
    let client = config.talkdesk_clients[0].clone();
    let app = billing_sim::router(&config, "http://sim.test");
    let token_request = || {
        Request::post("/oauth/token")
            .header(header::AUTHORIZATION, basic(&client.id, &client.secret))
            .header(header::CONTENT_TYPE, FORM)
            .body(Body::from("grant_type=client_credentials"))
            .unwrap()
    };
    let (status, body) = call(&app, token_request()).await;
    assert_eq!(status, 200);
    let token: TokenResponse = serde_json::from_slice(&body).unwrap();
    assert_eq!(token.expires_in, 2, "rounded up to whole seconds, and kept to them");
    let usage = || {
        Request::get("/express/usage/month?per_page=1")
            .header(header::AUTHORIZATION, format!("Bearer {}", token.access_token))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(call(&app, usage()).await.0, 200);
    tokio::time::advance(Duration::from_millis(1999)).await;
    assert_eq!(call(&app, usage()).await.0, 200, "valid until expires_in has passed");
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(call(&app, usage()).await.0, 401, "expired");
    assert_eq!(call(&app, token_request()).await.0, 200, "a new one is issued");
}
