//! One error type, shaped like a request's lifecycle: could not build it, timed out, could not
//! reach the upstream, the upstream answered an error, could not decode the answer.
//!
//! Messages are short and never carry a URL (ids and query strings stay out of logs) nor a
//! credential. `reqwest::Error`s are stripped of their URL before they are kept as a source.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::endpoint::{Endpoint, Upstream};

/// What went wrong, by the stage of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request could not be built: a bad base URL, a `next` link to another origin.
    Build,
    /// No answer within the timeout.
    Timeout,
    /// The upstream could not be reached (DNS, connect, reset).
    Connect,
    /// The upstream answered a non-success status.
    Status,
    /// The answer was not the JSON the contract promises.
    Decode,
    /// Paging stopped at the configured cap before the last page.
    PageLimit,
    /// The token endpoint refused the client credentials (a 401, or an OAuth error code such as
    /// `invalid_client` or `invalid_scope`): the caller's configuration, not the moment, is wrong.
    Auth,
}

/// An upstream call that failed. Cheap to clone, so one failed token request can answer every
/// call that waited on it.
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    endpoint: Endpoint,
    status: Option<u16>,
    codes: Vec<String>,
    message: Option<String>,
    retry_after: Option<Duration>,
    attempts: u32,
    retryable: bool,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, endpoint: Endpoint) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                endpoint,
                status: None,
                codes: Vec::new(),
                message: None,
                retry_after: None,
                attempts: 1,
                retryable: kind == ErrorKind::Connect,
                source: None,
            }),
        }
    }

    pub(crate) fn status(endpoint: Endpoint, status: u16, answer: ErrorAnswer, retryable: bool) -> Self {
        let mut e = Error::new(ErrorKind::Status, endpoint);
        e.inner.retryable = retryable;
        e.inner.status = Some(status);
        e.inner.codes = answer.codes;
        e.inner.message = answer.message;
        e.inner.retry_after = answer.retry_after;
        e
    }

    pub(crate) fn from_reqwest(endpoint: Endpoint, err: reqwest::Error) -> Self {
        let kind = if err.is_timeout() {
            ErrorKind::Timeout
        } else if err.is_builder() {
            ErrorKind::Build
        } else if err.is_decode() {
            ErrorKind::Decode
        } else {
            ErrorKind::Connect
        };
        Error::new(kind, endpoint).with_source(err.without_url())
    }

    pub(crate) fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Arc::new(source));
        self
    }

    pub(crate) fn with_message(mut self, message: impl Into<String>) -> Self {
        self.inner.message = Some(message.into());
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.inner.attempts = attempts;
        self
    }

    /// This answer of the token endpoint as a refusal of the credentials.
    pub(crate) fn into_auth(mut self) -> Self {
        self.inner.kind = ErrorKind::Auth;
        self.inner.retryable = false;
        self
    }

    /// This error with every `secret` cleared from its message: the token endpoint's description
    /// may quote the client id it refused.
    pub(crate) fn redact(mut self, secrets: &[&str]) -> Self {
        if let Some(message) = &mut self.inner.message {
            for secret in secrets.iter().filter(|s| !s.is_empty()) {
                *message = message.replace(secret, "[REDACTED]");
            }
        }
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    pub fn upstream(&self) -> Upstream {
        self.inner.endpoint.upstream
    }

    /// The endpoint's path template, such as `/billing/costs/{organization_id}/deployments`.
    pub fn endpoint(&self) -> Endpoint {
        self.inner.endpoint
    }

    /// The HTTP status, when the upstream answered.
    pub fn http_status(&self) -> Option<u16> {
        self.inner.status
    }

    /// The upstream's error codes, from `x-cloud-error-codes` and the body (`organization.not_found`,
    /// `invalid_input`, a Talkdesk code), first the most specific.
    pub fn codes(&self) -> &[String] {
        &self.inner.codes
    }

    /// The first upstream error code, if any.
    pub fn code(&self) -> Option<&str> {
        self.inner.codes.first().map(String::as_str)
    }

    /// The upstream's own message, from a structured error body; or, for decode and paging
    /// errors, what did not fit.
    pub fn message(&self) -> Option<&str> {
        self.inner.message.as_deref()
    }

    /// How long the upstream asked us to wait (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// How many attempts were made before giving up.
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    /// A 429.
    pub fn is_rate_limited(&self) -> bool {
        self.inner.status == Some(429)
    }

    /// Whether trying again later may succeed: 429, 502, 503, 504 and connection failures, as
    /// [`classify`](crate::retry::classify) decided.
    pub fn is_retryable(&self) -> bool {
        self.inner.retryable
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        let mut d = f.debug_struct("Error");
        d.field("kind", &i.kind).field("endpoint", &i.endpoint);
        if let Some(s) = i.status {
            d.field("status", &s);
        }
        if !i.codes.is_empty() {
            d.field("codes", &i.codes);
        }
        if let Some(m) = &i.message {
            d.field("message", m);
        }
        if let Some(r) = i.retry_after {
            d.field("retry_after", &r);
        }
        d.field("attempts", &i.attempts);
        if let Some(s) = &i.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        write!(f, "{}: ", i.endpoint)?;
        match i.kind {
            ErrorKind::Build => f.write_str("could not build the request")?,
            ErrorKind::Timeout => f.write_str("timed out")?,
            ErrorKind::Connect => f.write_str("could not reach the upstream")?,
            ErrorKind::Status => {
                write!(f, "upstream answered {}", i.status.unwrap_or_default())?;
                if !i.codes.is_empty() {
                    write!(f, " ({})", i.codes.join(", "))?;
                }
            }
            ErrorKind::Decode => f.write_str("could not decode the response")?,
            ErrorKind::PageLimit => f.write_str("stopped at the page limit")?,
            ErrorKind::Auth => {
                write!(f, "the credentials were refused, upstream answered {}", i.status.unwrap_or_default())?;
                if !i.codes.is_empty() {
                    write!(f, " ({})", i.codes.join(", "))?;
                }
            }
        }
        if let Some(m) = &i.message {
            write!(f, ": {m}")?;
        }
        if i.attempts > 1 {
            write!(f, " (after {} attempts)", i.attempts)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// What an error answer said, read from its headers and body whatever its shape.
#[derive(Debug, Default)]
pub(crate) struct ErrorAnswer {
    pub(crate) codes: Vec<String>,
    pub(crate) message: Option<String>,
    pub(crate) retry_after: Option<Duration>,
}

impl ErrorAnswer {
    /// Reads codes and a message from any of the three upstreams' error bodies.
    ///
    /// v1: `{errors:[{code,message}]}`; v2: `{error,message,...}` or `text/plain`; Talkdesk:
    /// `{code,message,...}`; Talkdesk's token endpoint: `{error,error_description?}`. A text body
    /// is not kept as the message: it is upstream text of unknown content, so only its absence of
    /// structure is reported.
    pub(crate) fn parse(header_codes: Option<&str>, body: &[u8]) -> Self {
        use billing_model::{elastic, talkdesk};

        let mut answer = ErrorAnswer::default();
        if let Some(h) = header_codes {
            answer.codes.extend(h.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned));
        }
        let push = |answer: &mut ErrorAnswer, code: &str| {
            if !code.is_empty() && !answer.codes.iter().any(|c| c == code) {
                answer.codes.push(code.to_owned());
            }
        };
        if let Ok(v1) = serde_json::from_slice::<elastic::v1::BasicFailedReply>(body)
            && !v1.errors.is_empty()
        {
            for e in &v1.errors {
                push(&mut answer, &e.code);
            }
            answer.message = v1.errors.first().map(|e| e.message.clone());
        } else if let Ok(v2) = serde_json::from_slice::<elastic::v2::ErrorBody>(body) {
            push(&mut answer, &v2.error);
            answer.message = Some(v2.message);
        } else if let Ok(td) = serde_json::from_slice::<talkdesk::ErrorBody>(body) {
            push(&mut answer, &td.code);
            answer.message = Some(match td.fields.first() {
                Some(field) => format!("{} ({}: {})", td.message, field.name, field.description),
                None => td.message,
            });
        } else if let Ok(oauth) = serde_json::from_slice::<talkdesk::oauth::TokenError>(body) {
            push(&mut answer, &oauth.error);
            answer.message = oauth.error_description;
        }
        answer.message = answer.message.map(|m| truncate(&m, 300));
        answer
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints;

    #[test]
    fn reads_every_error_shape() {
        let v1 = ErrorAnswer::parse(
            Some("organization.not_found"),
            br#"{"errors":[{"code":"organization.not_found","message":"Organization not found."}]}"#,
        );
        assert_eq!(v1.codes, ["organization.not_found"]);
        assert_eq!(v1.message.as_deref(), Some("Organization not found."));

        let v2 = ErrorAnswer::parse(None, br#"{"error":"invalid_input","message":"bad","success":false}"#);
        assert_eq!(v2.codes, ["invalid_input"]);

        let text = ErrorAnswer::parse(None, b"403: User does not have 'billing-costs:get:1' permissions");
        assert!(text.codes.is_empty());
        assert_eq!(text.message, None, "a text body is not echoed");

        let td = ErrorAnswer::parse(
            None,
            br#"{"code":"0440002","message":"Bad request","fields":[{"name":"filter","description":"unknown field"}]}"#,
        );
        assert_eq!(td.codes, ["0440002"]);
        assert_eq!(td.message.as_deref(), Some("Bad request (filter: unknown field)"));

        assert!(ErrorAnswer::parse(None, b"{not json").codes.is_empty());

        let oauth = ErrorAnswer::parse(None, br#"{"error":"invalid_client","error_description":"Bad client"}"#);
        assert_eq!(oauth.codes, ["invalid_client"]);
        assert_eq!(oauth.message.as_deref(), Some("Bad client"));
    }

    #[test]
    fn a_refusal_of_credentials_names_its_code_and_never_the_client() {
        let answer = ErrorAnswer {
            codes: vec!["invalid_client".into()],
            message: Some("client my-client-id: authentication failed".into()),
            retry_after: None,
        };
        let e = Error::status(endpoints::TALKDESK_TOKEN, 401, answer, false).into_auth().redact(&["my-client-id", ""]);
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert_eq!(
            e.to_string(),
            "talkdesk POST /oauth/token: the credentials were refused, upstream answered 401 (invalid_client): \
             client [REDACTED]: authentication failed"
        );
        assert_eq!(e.clone().to_string(), e.to_string());
    }

    #[test]
    fn display_names_the_template_not_the_url() {
        let e = Error::status(
            endpoints::V1_DEPLOYMENTS,
            404,
            ErrorAnswer {
                codes: vec!["organization.not_found".into()],
                message: Some("Organization not found.".into()),
                retry_after: None,
            },
            false,
        );
        assert_eq!(
            e.to_string(),
            "elastic_v1 GET /billing/costs/{organization_id}/deployments: upstream answered 404 (organization.not_found): Organization not found."
        );
        assert!(!e.is_retryable());
        assert_eq!(e.code(), Some("organization.not_found"));
    }
}
