//! Talkdesk's token endpoint, `POST /oauth/token`: the client-credentials grant (HTTP Basic, a
//! form with `grant_type` and `scope`), tokens that expire after the configured lifetime, and
//! RFC 6749 errors `{error, error_description}`.
//!
//! The real endpoint lives on the region's identity host (`{account}.talkdeskid.com`); here it
//! shares the simulator's origin.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use billing_model::talkdesk::oauth::{CLIENT_CREDENTIALS, TokenError, TokenResponse};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::time::{Duration, Instant};

use crate::config::TalkdeskClient;
use crate::server::Sim;

/// The access tokens issued so far and what each may read.
#[derive(Debug)]
pub(crate) struct Tokens {
    lifetime: Duration,
    issued: HashMap<String, Grant>,
    rng: ChaCha8Rng,
}

/// What an issued token reads, and until when.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    /// An index into the dataset's Talkdesk organizations.
    pub(crate) organization: usize,
    pub(crate) scopes: Vec<String>,
    expires: Instant,
}

impl Grant {
    pub(crate) fn allows(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

impl Tokens {
    pub(crate) fn new(seed: u64, lifetime: Duration) -> Self {
        // A stream of its own, so issuing tokens changes neither the data nor the faults.
        Tokens { lifetime, issued: HashMap::new(), rng: ChaCha8Rng::seed_from_u64(seed ^ 0x0A07_70CE) }
    }

    /// The lifetime as `expires_in` states it: whole seconds, at least one.
    fn expires_in(&self) -> u32 {
        let secs = self.lifetime.as_secs() + u64::from(self.lifetime.subsec_nanos() > 0);
        u32::try_from(secs.max(1)).unwrap_or(u32::MAX)
    }

    pub(crate) fn set_lifetime(&mut self, lifetime: Duration) {
        self.lifetime = lifetime;
    }

    /// A new token for `client`, granted `scopes`; forgets the tokens that have expired.
    fn issue(&mut self, client: &TalkdeskClient, scopes: Vec<String>) -> (String, u32) {
        let now = Instant::now();
        self.issued.retain(|_, g| g.expires > now);
        let token = format!("sim-td-access-{:032x}", self.rng.random::<u128>());
        let expires_in = self.expires_in();
        let expires = now + Duration::from_secs(u64::from(expires_in));
        self.issued.insert(token.clone(), Grant { organization: client.organization, scopes, expires });
        (token, expires_in)
    }

    /// What a token may read, while it has not expired.
    pub(crate) fn grant(&self, token: &str) -> Option<&Grant> {
        self.issued.get(token).filter(|g| g.expires > Instant::now())
    }

    /// Ends every token's lifetime now.
    pub(crate) fn expire_all(&mut self) {
        self.issued.clear();
    }
}

/// An OAuth error answer.
fn refuse(status: StatusCode, error: &str, description: &str) -> Response {
    let body = TokenError { error: error.to_owned(), error_description: Some(description.to_owned()) };
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"talkdesk\""));
    }
    no_store(response)
}

/// Token answers are never cached (RFC 6749 §5.1).
fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The client an `Authorization: Basic base64(id:secret)` header authenticates, if any.
fn client<'a>(clients: &'a [TalkdeskClient], headers: &HeaderMap) -> Option<&'a TalkdeskClient> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let (id, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    clients.iter().find(|c| c.id == id && c.secret == secret)
}

/// `POST /oauth/token`.
pub(crate) async fn token(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(client) = client(sim.talkdesk_clients(), &headers)
        .filter(|c| c.organization < sim.dataset().talkdesk_organizations().len())
    else {
        return refuse(StatusCode::UNAUTHORIZED, "invalid_client", "Client authentication failed.");
    };
    let form_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !form_type.trim_start().starts_with("application/x-www-form-urlencoded") {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The body must be application/x-www-form-urlencoded.",
        );
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    match form.get("grant_type").map(String::as_str) {
        None => return refuse(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is required."),
        Some(CLIENT_CREDENTIALS) => {}
        Some(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Only the client_credentials grant is supported.",
            );
        }
    }
    let requested: Vec<String> =
        form.get("scope").map(|s| s.split_whitespace().map(str::to_owned).collect()).unwrap_or_default();
    if requested.iter().any(|s| !client.scopes.contains(s)) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The requested scope is invalid, unknown, or exceeds the scopes granted to the client.",
        );
    }
    let scopes = if requested.is_empty() { client.scopes.clone() } else { requested };
    let scope = scopes.join(" ");
    let (access_token, expires_in) = sim.tokens().issue(client, scopes);
    let answer = TokenResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in,
        scope,
        refresh_token: None,
        sid: None,
    };
    no_store(Json(answer).into_response())
}
