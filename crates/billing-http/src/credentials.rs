//! Credentials as types of their own: passed per call, redacted in `Debug` and `Display`.
//!
//! The secret is reachable only through [`ExposeSecret`], so every place that reads it is greppable:
//! this crate's request builder, and a caller that derives a keyed fingerprint for cache keys.

use std::fmt;

use base64::Engine;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::talkdesk::TalkdeskTokenSource;

/// How an Elastic credential is presented: Elastic accepts both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElasticScheme {
    /// `Authorization: ApiKey <key>`, the documented form.
    ApiKey,
    /// `Authorization: Bearer <token>`, as the v2 curl samples show.
    Bearer,
}

/// An Elastic Cloud API key or bearer token, for v1 and v2.
#[derive(Clone)]
pub struct ElasticCredentials {
    scheme: ElasticScheme,
    secret: SecretString,
}

/// A Talkdesk OAuth access token (`Authorization: Bearer <token>`).
#[derive(Clone)]
pub struct TalkdeskToken {
    secret: SecretString,
}

/// A Talkdesk OAuth client: the id and secret an app exchanges for access tokens (HTTP Basic at
/// the token endpoint). Both are treated as secrets: the id is not one by RFC 6749, but it names
/// the account's integration, and nothing here needs to show it.
#[derive(Clone)]
pub struct TalkdeskClientCredentials {
    id: SecretString,
    secret: SecretString,
}

/// How a Talkdesk call authenticates: a bearer token the caller holds, or client credentials a
/// shared [`TalkdeskTokenSource`] exchanges for tokens, refreshed as they expire.
///
/// Every Talkdesk method takes `impl Into<TalkdeskAuth>`, so a `&TalkdeskToken` or a
/// `&TalkdeskTokenSource` can be passed as they are.
#[derive(Debug, Clone)]
pub enum TalkdeskAuth {
    /// A bearer token, sent as it is.
    Token(TalkdeskToken),
    /// Tokens obtained with client credentials: fetched once for every concurrent call, renewed
    /// shortly before they expire, and once more when the API answers 401.
    Source(TalkdeskTokenSource),
}

/// A credential that cannot be sent: empty, or with characters a header cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid credential: {0}")]
pub struct CredentialError(&'static str);

impl ElasticCredentials {
    /// An API key, sent as `ApiKey <key>`.
    pub fn api_key(key: impl Into<String>) -> Result<Self, CredentialError> {
        Self::new(ElasticScheme::ApiKey, key.into())
    }

    /// A bearer token, sent as `Bearer <token>`.
    pub fn bearer(token: impl Into<String>) -> Result<Self, CredentialError> {
        Self::new(ElasticScheme::Bearer, token.into())
    }

    /// Reads an `Authorization` header value: `ApiKey <key>`, `Bearer <token>`, or a bare key.
    pub fn from_header_value(value: &str) -> Result<Self, CredentialError> {
        let value = value.trim();
        match split_scheme(value) {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("apikey") => Self::api_key(rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => Self::bearer(rest),
            Some(_) => Err(CredentialError("unsupported authorization scheme: expected ApiKey or Bearer")),
            None => Self::api_key(value),
        }
    }

    fn new(scheme: ElasticScheme, secret: String) -> Result<Self, CredentialError> {
        validate(&secret)?;
        Ok(ElasticCredentials { scheme, secret: secret.into() })
    }

    pub fn scheme(&self) -> ElasticScheme {
        self.scheme
    }

    pub(crate) fn header_value(&self) -> HeaderValue {
        let prefix = match self.scheme {
            ElasticScheme::ApiKey => "ApiKey ",
            ElasticScheme::Bearer => "Bearer ",
        };
        sensitive_header(prefix, &self.secret)
    }
}

impl TalkdeskToken {
    /// An access token.
    pub fn new(token: impl Into<String>) -> Result<Self, CredentialError> {
        let token = token.into();
        validate(&token)?;
        Ok(TalkdeskToken { secret: token.into() })
    }

    /// Reads an `Authorization` header value: `Bearer <token>` or a bare token.
    pub fn from_header_value(value: &str) -> Result<Self, CredentialError> {
        let value = value.trim();
        match split_scheme(value) {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => Self::new(rest),
            Some(_) => Err(CredentialError("unsupported authorization scheme: expected Bearer")),
            None => Self::new(value),
        }
    }

    pub(crate) fn header_value(&self) -> HeaderValue {
        sensitive_header("Bearer ", &self.secret)
    }
}

impl TalkdeskClientCredentials {
    /// A client id and secret. Neither may be empty or hold anything but visible ASCII, and the
    /// id may not hold `:` (HTTP Basic could not tell where it ends).
    pub fn new(id: impl Into<String>, secret: impl Into<String>) -> Result<Self, CredentialError> {
        let (id, secret) = (id.into(), secret.into());
        validate(&id)?;
        validate(&secret)?;
        if id.contains(':') {
            return Err(CredentialError("a client id cannot contain ':'"));
        }
        Ok(TalkdeskClientCredentials { id: id.into(), secret: secret.into() })
    }

    /// The client id, for a keyed fingerprint of the client's identity.
    pub fn id(&self) -> &SecretString {
        &self.id
    }

    /// `Authorization: Basic base64(id:secret)`, marked sensitive.
    pub(crate) fn basic_header(&self) -> HeaderValue {
        let pair = SecretString::from(format!("{}:{}", self.id.expose_secret(), self.secret.expose_secret()));
        let encoded = SecretString::from(base64::engine::general_purpose::STANDARD.encode(pair.expose_secret()));
        sensitive_header("Basic ", &encoded)
    }

    /// Both secrets, to clear them from an upstream's message.
    pub(crate) fn secrets(&self) -> [&str; 2] {
        [self.id.expose_secret(), self.secret.expose_secret()]
    }
}

impl fmt::Debug for TalkdeskClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TalkdeskClientCredentials { id: [REDACTED], secret: [REDACTED] }")
    }
}

impl From<TalkdeskToken> for TalkdeskAuth {
    fn from(token: TalkdeskToken) -> Self {
        TalkdeskAuth::Token(token)
    }
}

impl From<&TalkdeskToken> for TalkdeskAuth {
    fn from(token: &TalkdeskToken) -> Self {
        TalkdeskAuth::Token(token.clone())
    }
}

impl From<TalkdeskTokenSource> for TalkdeskAuth {
    fn from(source: TalkdeskTokenSource) -> Self {
        TalkdeskAuth::Source(source)
    }
}

impl From<&TalkdeskTokenSource> for TalkdeskAuth {
    fn from(source: &TalkdeskTokenSource) -> Self {
        TalkdeskAuth::Source(source.clone())
    }
}

impl From<&TalkdeskAuth> for TalkdeskAuth {
    fn from(auth: &TalkdeskAuth) -> Self {
        auth.clone()
    }
}

impl ExposeSecret<str> for ElasticCredentials {
    fn expose_secret(&self) -> &str {
        self.secret.expose_secret()
    }
}

impl ExposeSecret<str> for TalkdeskToken {
    fn expose_secret(&self) -> &str {
        self.secret.expose_secret()
    }
}

impl fmt::Debug for ElasticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ElasticCredentials").field("scheme", &self.scheme).field("secret", &"[REDACTED]").finish()
    }
}

impl fmt::Display for ElasticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scheme {
            ElasticScheme::ApiKey => f.write_str("ApiKey [REDACTED]"),
            ElasticScheme::Bearer => f.write_str("Bearer [REDACTED]"),
        }
    }
}

impl fmt::Debug for TalkdeskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TalkdeskToken([REDACTED])")
    }
}

impl fmt::Display for TalkdeskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bearer [REDACTED]")
    }
}

/// `"Scheme rest"` → `("Scheme", "rest")` when the first word looks like an auth scheme.
fn split_scheme(value: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = value.split_once(char::is_whitespace)?;
    Some((scheme, rest.trim_start()))
}

fn validate(secret: &str) -> Result<(), CredentialError> {
    if secret.is_empty() {
        return Err(CredentialError("empty"));
    }
    // Visible ASCII only: anything else could not be sent as a header, or could split one.
    if !secret.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CredentialError("contains characters a header cannot carry"));
    }
    Ok(())
}

fn sensitive_header(prefix: &str, secret: &SecretString) -> HeaderValue {
    let mut value = HeaderValue::try_from(format!("{prefix}{}", secret.expose_secret()))
        .unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    // Tells hyper and h2 not to log or index it (HPACK never-index).
    value.set_sensitive(true);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let c = ElasticCredentials::from_header_value("ApiKey canary-5f2e").unwrap();
        let t = TalkdeskToken::from_header_value("Bearer canary-9a1c").unwrap();
        for shown in [format!("{c:?}"), format!("{c}"), format!("{t:?}"), format!("{t}"), format!("{:?}", Some(&c))] {
            assert!(!shown.contains("canary"), "{shown}");
        }
    }

    #[test]
    fn header_values_carry_the_scheme() {
        let c = ElasticCredentials::from_header_value("Bearer abc").unwrap();
        assert_eq!(c.scheme(), ElasticScheme::Bearer);
        assert_eq!(c.header_value().to_str().unwrap(), "Bearer abc");
        assert!(c.header_value().is_sensitive());
        assert_eq!(
            ElasticCredentials::from_header_value("abc").unwrap().header_value().to_str().unwrap(),
            "ApiKey abc"
        );
        assert_eq!(TalkdeskToken::from_header_value("abc").unwrap().header_value().to_str().unwrap(), "Bearer abc");
    }

    #[test]
    fn refuses_what_a_header_cannot_carry() {
        assert!(ElasticCredentials::api_key("").is_err());
        assert!(ElasticCredentials::api_key("a\r\nX-Evil: 1").is_err());
        assert!(ElasticCredentials::from_header_value("Basic dXNlcjpwYXNz").is_err());
        assert!(TalkdeskToken::from_header_value("ApiKey x").is_err());
        assert!(TalkdeskClientCredentials::new("id:with-colon", "s").is_err());
        assert!(TalkdeskClientCredentials::new("id", "").is_err());
        assert!(TalkdeskClientCredentials::new("id", "a\nb").is_err());
    }

    #[test]
    fn client_credentials_go_as_basic_and_never_show() {
        let c = TalkdeskClientCredentials::new("canary-id-71", "canary-secret-93").unwrap();
        let shown = format!("{c:?} {:?}", Some(&c));
        assert!(!shown.contains("canary"), "{shown}");
        let header = c.basic_header();
        assert!(header.is_sensitive());
        // base64("canary-id-71:canary-secret-93"), as RFC 7617 spells Basic.
        assert_eq!(header.to_str().unwrap(), "Basic Y2FuYXJ5LWlkLTcxOmNhbmFyeS1zZWNyZXQtOTM=");
    }
}
