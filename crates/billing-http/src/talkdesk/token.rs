//! `POST /oauth/token`: Talkdesk access tokens from OAuth client credentials, kept and shared.
//!
//! A [`TalkdeskTokenSource`] holds one token for every call made with it. It asks for a token when
//! it has none, or when the one it has is within its refresh margin of expiring; callers that
//! arrive while a request is in flight wait for that request and share its outcome, failure
//! included, so N concurrent calls make one token request. When the API answers 401 to a token
//! (revoked, or expired early), the call renews it once, unless another call already has, and
//! retries once.
//!
//! Not an OAuth crate: `oauth2` would bring its own request plumbing and token and error types to
//! map, for one grant whose request is a single form POST. Sent through the [`Transport`] instead,
//! the token request gets the one reqwest client, Talkdesk's rate and concurrency limits, the
//! retries, spans and metrics, and [`Error`], like every other call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use billing_model::talkdesk::oauth::{TokenRequest, TokenResponse, USAGE_SCOPE};
use secrecy::SecretString;
use url::Url;

use crate::base_url::{self, BaseUrlError};
use crate::clock::Clock;
use crate::credentials::{TalkdeskClientCredentials, TalkdeskToken};
use crate::endpoint::endpoints;
use crate::error::{Error, ErrorKind};
use crate::transport::{Call, Transport};

/// Access tokens for one Talkdesk OAuth client, obtained with the client-credentials grant and
/// renewed before they expire. Cheap to clone: clones share the token.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use billing_http::{
///     TalkdeskBillingInsights, TalkdeskClientCredentials, TalkdeskRegion, TalkdeskTokenSource, Transport,
///     TransportConfig,
/// };
///
/// let transport = Transport::new(TransportConfig::default())?;
/// let client = TalkdeskClientCredentials::new(
///     std::env::var("TALKDESK_CLIENT_ID")?,
///     std::env::var("TALKDESK_CLIENT_SECRET")?,
/// )?;
/// let region = TalkdeskRegion::Us;
/// let tokens = TalkdeskTokenSource::new(transport.clone(), &region.token_url("acme")?, client)?;
/// let td = TalkdeskBillingInsights::new(transport, region.api_base_url())?;
/// // Each call takes the source's token: one token request serves every concurrent call, and
/// // the token is renewed shortly before it expires.
/// let page = td.usage(&tokens).per_page(250).send().await?;
/// println!("{} rows", page.usage().len());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TalkdeskTokenSource {
    inner: Arc<Inner>,
}

/// How a [`TalkdeskTokenSource`] asks for and keeps its tokens.
#[derive(Debug, Clone)]
pub struct TokenSourceOptions {
    /// The scopes to ask for, space-separated. Default: `express-accounts-usage:read`.
    pub scope: String,
    /// How long before it expires a token is renewed: at most half its lifetime. Default: 60 s.
    pub refresh_margin: Duration,
    /// The clock lifetimes are measured on. Default: the system's.
    pub clock: Clock,
}

impl Default for TokenSourceOptions {
    fn default() -> Self {
        TokenSourceOptions {
            scope: USAGE_SCOPE.to_owned(),
            refresh_margin: Duration::from_secs(60),
            clock: Clock::system(),
        }
    }
}

struct Inner {
    transport: Transport,
    token_url: Url,
    credentials: TalkdeskClientCredentials,
    options: TokenSourceOptions,
    id: u64,
    /// The token in hand and the last failure, behind the lock that makes one request at a time.
    slot: tokio::sync::Mutex<Slot>,
    /// Token requests finished, answered or not; changed only while `slot` is held.
    flights: AtomicU64,
}

#[derive(Default)]
struct Slot {
    token: Option<Issued>,
    /// The outcome of the last request when it failed, for the callers that waited on it.
    failure: Option<Error>,
}

/// A token and when to stop using it.
#[derive(Clone)]
pub(crate) struct Issued {
    pub(crate) token: TalkdeskToken,
    /// The request that obtained it (the value of `flights` it finished as).
    pub(crate) flight: u64,
    refresh_at: Instant,
    expires_at: Instant,
}

impl TalkdeskTokenSource {
    /// A source asking `token_url` (such as `https://acme.talkdeskid.com/oauth/token`, see
    /// [`TalkdeskRegion::token_url`](crate::TalkdeskRegion::token_url)) for tokens with the usage
    /// scope.
    pub fn new(
        transport: Transport,
        token_url: &str,
        credentials: TalkdeskClientCredentials,
    ) -> Result<Self, BaseUrlError> {
        Self::with_options(transport, token_url, credentials, TokenSourceOptions::default())
    }

    /// A source with its scope, refresh margin or clock set.
    pub fn with_options(
        transport: Transport,
        token_url: &str,
        credentials: TalkdeskClientCredentials,
        options: TokenSourceOptions,
    ) -> Result<Self, BaseUrlError> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let inner = Inner {
            transport,
            token_url: base_url::parse(token_url)?,
            credentials,
            options,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            slot: tokio::sync::Mutex::new(Slot::default()),
            flights: AtomicU64::new(0),
        };
        Ok(TalkdeskTokenSource { inner: Arc::new(inner) })
    }

    /// The token endpoint.
    pub fn token_url(&self) -> &Url {
        &self.inner.token_url
    }

    /// The client id, for a keyed fingerprint of the client's identity (read it with
    /// [`ExposeSecret`](crate::ExposeSecret)).
    pub fn client_id(&self) -> &SecretString {
        self.inner.credentials.id()
    }

    /// A number of this source, distinct from every other source made in this process and shared
    /// by its clones: two sources of one client id still keep apart what each obtained.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// A token valid for at least the refresh margin: the one in hand, or a new one.
    pub async fn token(&self) -> Result<TalkdeskToken, Error> {
        self.current().await.map(|issued| issued.token)
    }

    /// The token to use now.
    pub(crate) async fn current(&self) -> Result<Issued, Error> {
        let seen = self.inner.flights.load(Ordering::Acquire);
        let mut slot = self.inner.slot.lock().await;
        let now = self.inner.options.clock.now();
        if let Some(issued) = slot.token.as_ref().filter(|t| now < t.refresh_at) {
            return Ok(issued.clone());
        }
        if let Some(failure) = self.shared_failure(&slot, seen) {
            return Err(failure);
        }
        match self.obtain(&mut slot).await {
            Ok(issued) => Ok(issued),
            // Within the margin, the token in hand still works: a failed renewal waits for the
            // next call rather than failing this one.
            Err(e) => match slot.token.as_ref().filter(|t| now < t.expires_at) {
                Some(issued) => {
                    tracing::warn!(error = %e, "could not renew the talkdesk access token; the current one is still valid");
                    Ok(issued.clone())
                }
                None => Err(e),
            },
        }
    }

    /// A token other than the one obtained by request `stale`, which the API refused.
    pub(crate) async fn refresh(&self, stale: u64) -> Result<Issued, Error> {
        let seen = self.inner.flights.load(Ordering::Acquire);
        let mut slot = self.inner.slot.lock().await;
        let now = self.inner.options.clock.now();
        if let Some(issued) = slot.token.as_ref().filter(|t| t.flight != stale && now < t.refresh_at) {
            return Ok(issued.clone());
        }
        if let Some(failure) = self.shared_failure(&slot, seen) {
            return Err(failure);
        }
        self.obtain(&mut slot).await
    }

    /// The failure of a request that finished while this caller waited for the lock: shared
    /// rather than asked again, so a wrong secret costs one request per wave of callers.
    fn shared_failure(&self, slot: &Slot, seen: u64) -> Option<Error> {
        (self.inner.flights.load(Ordering::Acquire) != seen).then(|| slot.failure.clone()).flatten()
    }

    /// Asks for a token and keeps what comes of it; the caller holds the lock.
    async fn obtain(&self, slot: &mut Slot) -> Result<Issued, Error> {
        let result = self.request().await;
        let flight = self.inner.flights.fetch_add(1, Ordering::AcqRel) + 1;
        match result {
            Ok(mut issued) => {
                issued.flight = flight;
                slot.token = Some(issued.clone());
                slot.failure = None;
                Ok(issued)
            }
            Err(e) => {
                slot.failure = Some(e.clone());
                Err(e)
            }
        }
    }

    /// `POST /oauth/token` with HTTP Basic and `grant_type=client_credentials&scope=...`.
    async fn request(&self) -> Result<Issued, Error> {
        let inner = &self.inner;
        let endpoint = endpoints::TALKDESK_TOKEN;
        let form = serde_urlencoded::to_string(TokenRequest::client_credentials(inner.options.scope.as_str()))
            .map_err(|_| Error::new(ErrorKind::Build, endpoint).with_message("could not encode the token request"))?;
        let call =
            Call { endpoint, url: inner.token_url.clone(), auth: inner.credentials.basic_header(), form: Some(form) };
        // Lifetimes count from before the request: the token cannot have been issued earlier.
        let asked = inner.options.clock.now();
        let answer: TokenResponse = inner.transport.send(&call).await.map_err(|e| self.refused(e))?;
        let invalid = |why: &'static str| Error::new(ErrorKind::Decode, endpoint).with_message(why);
        if !answer.token_type.eq_ignore_ascii_case("bearer") {
            return Err(invalid("the token endpoint answered a token that is not a bearer token"));
        }
        if answer.expires_in == 0 {
            return Err(invalid("the token endpoint answered a token that has already expired"));
        }
        let token = TalkdeskToken::new(answer.access_token)
            .map_err(|_| invalid("the token endpoint answered a token no header can carry"))?;
        // A day at most: a longer lifetime changes nothing but how far an `Instant` must reach.
        let lifetime = Duration::from_secs(u64::from(answer.expires_in).min(86_400));
        let margin = inner.options.refresh_margin.min(lifetime / 2);
        tracing::debug!(expires_in = answer.expires_in, scope = %answer.scope, "talkdesk access token obtained");
        Ok(Issued { token, flight: 0, refresh_at: asked + (lifetime - margin), expires_at: asked + lifetime })
    }

    /// A token endpoint's error with the client's secrets cleared from it, and, when it refused
    /// the credentials (a 401, or a 400/403 naming an OAuth error), of kind [`ErrorKind::Auth`].
    fn refused(&self, e: Error) -> Error {
        let e = e.redact(&self.inner.credentials.secrets());
        let refused = e.kind() == ErrorKind::Status
            && match e.http_status() {
                Some(401) => true,
                Some(400 | 403) => e.code().is_some(),
                _ => false,
            };
        if refused { e.into_auth() } else { e }
    }
}

impl std::fmt::Debug for TalkdeskTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TalkdeskTokenSource")
            .field("id", &self.inner.id)
            .field("token_url", &self.inner.token_url.as_str())
            .field("client", &self.inner.credentials)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}
