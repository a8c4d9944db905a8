//! The one place errors become GraphQL errors with stable `extensions.code` values.
//!
//! A failed upstream call fails only the fields it serves. Each error carries `code` (the
//! upstream's own code when it has one, such as `organization.not_found`; else a gateway code
//! below), `status` (the upstream's HTTP status, when it answered) and `upstream`. Messages never
//! carry a credential or a URL: `billing_http::Error` already keeps both out.

use std::sync::Arc;

use async_graphql::ErrorExtensions;
use billing_http::{ErrorKind, Upstream};

/// Stable gateway error codes, for errors that carry no upstream code.
pub mod codes {
    /// No credential for the upstream a field needs, or the upstream refused it (401).
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    /// The gateway's own client credentials were refused by the upstream's token endpoint (a
    /// wrong secret, a scope the client may not have): the server's configuration, not the
    /// caller's, is wrong. `extensions.upstreamCode` names the cause (`invalid_client`, ...).
    pub const UPSTREAM_UNAUTHENTICATED: &str = "UPSTREAM_UNAUTHENTICATED";
    /// The upstream refused access (403) without a code of its own.
    pub const FORBIDDEN: &str = "FORBIDDEN";
    /// The upstream does not know the resource (404) and said no more.
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// An argument is invalid; nothing was sent upstream.
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    /// The upstream rate-limited us (429) without a code of its own.
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    /// The upstream did not answer in time.
    pub const UPSTREAM_TIMEOUT: &str = "UPSTREAM_TIMEOUT";
    /// The upstream could not be reached or answered 5xx.
    pub const UPSTREAM_UNAVAILABLE: &str = "UPSTREAM_UNAVAILABLE";
    /// The upstream answered something that is not its contract.
    pub const UPSTREAM_INVALID_RESPONSE: &str = "UPSTREAM_INVALID_RESPONSE";
    /// The upstream answered another 4xx without a code.
    pub const UPSTREAM_ERROR: &str = "UPSTREAM_ERROR";
    /// The request would need more upstream calls than its budget allows.
    pub const UPSTREAM_BUDGET_EXCEEDED: &str = "UPSTREAM_BUDGET_EXCEEDED";
    /// A fault of the gateway itself.
    pub const INTERNAL: &str = "INTERNAL";
    /// The document is not valid GraphQL syntax.
    pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    /// The document breaks a validation rule (unknown field, wrong argument type, fragment
    /// cycle, unknown operation name, ...).
    pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    /// The document would cost too much work: expanded fragments, nesting, or complexity past
    /// their limits. Refused before any upstream call.
    pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
    /// The document selects fields deeper than the depth limit.
    pub const QUERY_TOO_DEEP: &str = "QUERY_TOO_DEEP";
    /// The document has more lexical tokens than allowed; refused before parsing.
    pub const TOKEN_LIMIT_EXCEEDED: &str = "TOKEN_LIMIT_EXCEEDED";
    /// The request did not finish within its time.
    pub const REQUEST_TIMEOUT: &str = "REQUEST_TIMEOUT";
    /// The document has more aliases than allowed.
    pub const ALIAS_LIMIT_EXCEEDED: &str = "ALIAS_LIMIT_EXCEEDED";
    /// The query's estimated upstream calls are over the per-request budget: refused before
    /// any call (Apollo Router's name for its own cost refusal).
    pub const COST_ESTIMATED_TOO_EXPENSIVE: &str = "COST_ESTIMATED_TOO_EXPENSIVE";
}

/// Why a field could not be resolved. Cheap to clone: loaders hand one error to many fields.
#[derive(Debug, Clone)]
pub enum GraphError {
    /// An upstream call failed.
    Upstream(Arc<billing_http::Error>),
    /// The field needs a credential for this upstream and the request carried none.
    MissingCredential(Upstream),
    /// The caller's credential cannot be sent (empty, bad characters, unknown scheme).
    InvalidCredential(Upstream),
    /// An argument is invalid.
    BadInput(String),
    /// The per-request upstream call budget is spent.
    BudgetExceeded { budget: u32 },
    /// A fault of the gateway itself (a broken invariant), never the caller's or an upstream's.
    Internal(&'static str),
}

impl From<billing_http::Error> for GraphError {
    fn from(e: billing_http::Error) -> Self {
        GraphError::Upstream(Arc::new(e))
    }
}

impl From<billing_model::DateRangeError> for GraphError {
    fn from(e: billing_model::DateRangeError) -> Self {
        GraphError::BadInput(e.to_string())
    }
}

impl GraphError {
    /// The stable `extensions.code`.
    pub fn code(&self) -> &str {
        match self {
            GraphError::Upstream(e) => upstream_code(e),
            GraphError::MissingCredential(_) | GraphError::InvalidCredential(_) => codes::UNAUTHENTICATED,
            GraphError::BadInput(_) => codes::BAD_USER_INPUT,
            GraphError::BudgetExceeded { .. } => codes::UPSTREAM_BUDGET_EXCEEDED,
            GraphError::Internal(_) => codes::INTERNAL,
        }
    }

    /// The upstream involved, if any.
    pub fn upstream(&self) -> Option<Upstream> {
        match self {
            GraphError::Upstream(e) => Some(e.upstream()),
            GraphError::MissingCredential(u) | GraphError::InvalidCredential(u) => Some(*u),
            GraphError::BadInput(_) | GraphError::BudgetExceeded { .. } | GraphError::Internal(_) => None,
        }
    }

    /// The client-facing message.
    pub fn message(&self) -> String {
        match self {
            GraphError::Upstream(e) => client_message(e),
            GraphError::MissingCredential(u) => format!("no credential for {u}: {}", credential_hint(*u)),
            GraphError::InvalidCredential(u) => format!("the credential for {u} is invalid: {}", credential_hint(*u)),
            GraphError::BadInput(m) => m.clone(),
            GraphError::Internal(what) => format!("internal error: {what}"),
            GraphError::BudgetExceeded { budget } => {
                format!("this request needs more than {budget} upstream calls; narrow the query or split it")
            }
        }
    }
}

/// What a client is told of an upstream failure: the endpoint, the stage, the status and codes.
/// Never the upstream's own text (its message, a text body, or a decode error quoting the
/// payload): that goes to the logs.
fn client_message(e: &billing_http::Error) -> String {
    let endpoint = e.endpoint();
    let what = match e.kind() {
        ErrorKind::Timeout => "timed out".to_owned(),
        ErrorKind::Connect => "could not be reached".to_owned(),
        ErrorKind::Decode => "answered something that is not its documented shape".to_owned(),
        // These messages are the client library's own, about the request, not the upstream's.
        ErrorKind::Build | ErrorKind::PageLimit => e.message().unwrap_or("could not be called").to_owned(),
        // The OAuth code (RFC 6749's, such as `invalid_client`) names the cause; the upstream's
        // description is its own text, and stays in the logs.
        ErrorKind::Auth => match e.codes() {
            [] => "refused the gateway's client credentials".to_owned(),
            codes => format!("refused the gateway's client credentials ({})", codes.join(", ")),
        },
        _ => match (e.http_status(), e.codes()) {
            (Some(status), []) => format!("answered {status}"),
            (Some(status), codes) => format!("answered {status} ({})", codes.join(", ")),
            (None, _) => "failed".to_owned(),
        },
    };
    format!("{endpoint}: {what}")
}

fn credential_hint(upstream: Upstream) -> &'static str {
    match upstream {
        Upstream::ElasticV1 | Upstream::ElasticV2 => "send `Authorization: ApiKey <key>`",
        Upstream::Talkdesk => "send `X-Talkdesk-Authorization: Bearer <token>`",
    }
}

fn upstream_code(e: &billing_http::Error) -> &str {
    // A 401 is the platform gateway's, undocumented and code-less in v1: always UNAUTHENTICATED.
    // Talkdesk codes are opaque numbers, so its errors get gateway codes by status (the raw code
    // is still in `extensions.upstreamCode`). Elastic's codes are stable names: passed through.
    let opaque = e.upstream() == Upstream::Talkdesk || e.http_status() == Some(401);
    if let Some(code) = e.code().filter(|_| !opaque) {
        return code;
    }
    match e.kind() {
        ErrorKind::Timeout => codes::UPSTREAM_TIMEOUT,
        ErrorKind::Connect => codes::UPSTREAM_UNAVAILABLE,
        ErrorKind::Decode | ErrorKind::Build => codes::UPSTREAM_INVALID_RESPONSE,
        ErrorKind::PageLimit => codes::UPSTREAM_BUDGET_EXCEEDED,
        ErrorKind::Auth => codes::UPSTREAM_UNAUTHENTICATED,
        ErrorKind::Status => match e.http_status() {
            Some(400) => codes::BAD_USER_INPUT,
            Some(401) => codes::UNAUTHENTICATED,
            Some(403) => codes::FORBIDDEN,
            Some(404) => codes::NOT_FOUND,
            Some(429) => codes::RATE_LIMITED,
            Some(s) if s >= 500 => codes::UPSTREAM_UNAVAILABLE,
            _ => codes::UPSTREAM_ERROR,
        },
        _ => codes::UPSTREAM_ERROR,
    }
}

// No `Display`: async-graphql converts any `Display` error into a GraphQL error without
// extensions, and every gateway error must carry its code. `message()` gives the text.

impl ErrorExtensions for GraphError {
    fn extend(&self) -> async_graphql::Error {
        async_graphql::Error::new(self.message()).extend_with(|_, ext| {
            ext.set("code", self.code());
            if let Some(u) = self.upstream() {
                ext.set("upstream", u.as_str());
            }
            if let GraphError::Upstream(e) = self {
                if let Some(status) = e.http_status() {
                    ext.set("status", status);
                }
                ext.set("endpoint", e.endpoint().template);
                if let Some(code) = e.code() {
                    ext.set("upstreamCode", code);
                }
                if let Some(after) = e.retry_after() {
                    ext.set("retryAfterSeconds", after.as_secs());
                }
            }
        })
    }
}

impl From<GraphError> for async_graphql::Error {
    fn from(e: GraphError) -> Self {
        e.extend()
    }
}

/// Results of resolvers.
pub(crate) type Result<T, E = GraphError> = std::result::Result<T, E>;
