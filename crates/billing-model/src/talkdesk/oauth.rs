//! Talkdesk's OAuth 2.0 token endpoint, `POST https://{account}.talkdeskid.com/oauth/token`: the
//! client-credentials grant (`CONTRACT.md` §3.2). The client authenticates with HTTP Basic; the
//! form carries the grant type and the scopes; the answer is a bearer token and its lifetime, and
//! a refusal is `{error, error_description}` (the codes are RFC 6749 §5.2's).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::serde_util::lenient_u32;

/// The scope `GET /express/usage/month` needs.
pub const USAGE_SCOPE: &str = "express-accounts-usage:read";

/// The one grant type this API documents for apps.
pub const CLIENT_CREDENTIALS: &str = "client_credentials";

/// The token request's form: `grant_type=client_credentials&scope=...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRequest {
    pub grant_type: String,
    /// Space-separated scopes; the client's registered scopes when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl TokenRequest {
    /// A client-credentials request for these space-separated scopes.
    pub fn client_credentials(scope: impl Into<String>) -> Self {
        TokenRequest { grant_type: CLIENT_CREDENTIALS.to_owned(), scope: Some(scope.into()) }
    }
}

/// The token endpoint's success: `{access_token, token_type, expires_in, scope, refresh_token?, sid?}`.
///
/// `Debug` shows neither token: an answer printed while debugging must not hand out a credential.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds from issue until the token stops being accepted (an integral float is read too).
    #[serde(deserialize_with = "lenient_u32")]
    pub expires_in: u32,
    /// The scopes granted, space-separated.
    #[serde(default)]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl TokenResponse {
    /// The granted scopes.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_whitespace()
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[REDACTED]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "[REDACTED]"))
            .field("sid", &self.sid)
            .finish()
    }
}

/// The token endpoint's refusal (400 or 401): `{error, error_description?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenError {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`,
    /// `unsupported_grant_type` or `invalid_scope` (RFC 6749 §5.2); kept open.
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn reads_the_documented_answer_and_hides_the_tokens() {
        let body = r#"{"access_token":"at-secret","token_type":"Bearer","expires_in":600.0,
            "scope":"express-accounts-usage:read express-accounts:read","refresh_token":"rt-secret","sid":"s1"}"#;
        let token: TokenResponse = serde_json::from_str(body).unwrap();
        assert_eq!((token.expires_in, token.scopes().count()), (600, 2));
        assert!(token.scopes().any(|s| s == USAGE_SCOPE));
        let debug = format!("{token:?}");
        assert!(!debug.contains("secret"), "{debug}");
        let back: TokenResponse = serde_json::from_str(&serde_json::to_string(&token).unwrap()).unwrap();
        assert_eq!(back, token);
    }

    #[test]
    fn reads_errors_and_forms() {
        let e: TokenError = serde_json::from_str(r#"{"error":"invalid_client"}"#).unwrap();
        assert_eq!((e.error.as_str(), e.error_description), ("invalid_client", None));
        let form = TokenRequest::client_credentials(USAGE_SCOPE);
        let json: TokenRequest =
            serde_json::from_str(r#"{"grant_type":"client_credentials","scope":"express-accounts-usage:read"}"#)
                .unwrap();
        assert_eq!(json, form);
    }
}
