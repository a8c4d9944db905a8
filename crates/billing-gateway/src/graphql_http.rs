//! GraphQL over HTTP, per the spec and its `graphql-http` audits.
//!
//! - The response type follows `Accept`: `application/graphql-response+json` or
//!   `application/json` (also for `*/*` and a missing `Accept`); anything else is 406.
//! - A request that is not a well-formed GraphQL-over-HTTP request (a body that is not JSON, a
//!   batch, parameters of the wrong type, no query) answers 400 whatever the media type, as the
//!   spec asks. Request errors about the document (parse or validation failures, limits) answer
//!   400 without `data` under `application/graphql-response+json`, and 200 with `errors` under
//!   `application/json`. Field errors always answer 200.
//! - POST takes `application/json` only (415 otherwise, which also closes the form and
//!   `text/plain` cross-site request forgery hole); the body limit answers 413 in GraphQL form.
//! - GET takes queries only: a mutation by GET is 405.
//! - Batches (a JSON array) are refused with 400: each operation is costed and budgeted alone,
//!   and a batch would multiply both behind one request.
//! - Automatic persisted queries (Apollo's protocol) through `extensions.persistedQuery`.
//! - Every answer carries `extensions.cost` (estimated and actual upstream calls) unless the
//!   request says `X-Billing-Cost: off`; `X-Billing-Dry-Run: 1` (or `dryRun=1` in the URL's
//!   query string) answers the estimate alone, 200 with `{"extensions":{"cost":…}}`, and makes
//!   no upstream call.

use std::sync::Arc;
use std::time::Instant;

use async_graphql::parser::types::{DocumentOperations, OperationType};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use billing_graphql::{AnswerKind, CostOptions};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::state::AppState;

/// The two response media types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Media {
    GraphQlResponse,
    Json,
}

impl Media {
    fn content_type(self) -> HeaderValue {
        match self {
            Media::GraphQlResponse => HeaderValue::from_static("application/graphql-response+json; charset=utf-8"),
            Media::Json => HeaderValue::from_static("application/json; charset=utf-8"),
        }
    }
}

/// Picks the response type from `Accept`, honouring q-values; `None` when nothing acceptable.
pub(crate) fn negotiate(headers: &HeaderMap) -> Option<Media> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(Media::Json);
    };
    let mut best: Option<(f32, usize, Media)> = None;
    for (index, part) in accept.split(',').enumerate() {
        let mut pieces = part.split(';');
        let range = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let media = match range.as_str() {
            "application/graphql-response+json" => Media::GraphQlResponse,
            "application/json" | "application/*" | "*/*" => Media::Json,
            _ => continue,
        };
        if q <= 0.0 {
            continue;
        }
        // Higher q wins; on a tie, the earlier entry.
        if best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && index < bi)) {
            best = Some((q, index, media));
        }
    }
    best.map(|(_, _, m)| m)
}

/// A request refused before execution.
#[derive(Debug)]
pub(crate) struct Refusal {
    /// The status whatever the media type (request errors about the document go through
    /// [`request_error`] instead).
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    /// Not a well-formed GraphQL-over-HTTP request: 400 under either media type.
    fn malformed(code: &'static str, message: impl Into<String>) -> Self {
        Refusal::status(StatusCode::BAD_REQUEST, code, message)
    }

    fn status(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Refusal { status, code, message: message.into() }
    }

    pub(crate) fn into_response(self, media: Media) -> Response {
        let status = self.status;
        let body = json!({ "errors": [{ "message": self.message, "extensions": { "code": self.code } }] });
        let mut response = (status, body.to_string()).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, media.content_type());
        if status == StatusCode::METHOD_NOT_ALLOWED {
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        response
    }
}

/// The parameters of a GraphQL request, checked.
#[derive(Debug, Default)]
struct Params {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<Map<String, Value>>,
    extensions: Option<Map<String, Value>>,
}

impl Params {
    /// From a JSON body: an object whose members have the spec's types.
    fn from_json(body: &[u8]) -> Result<Self, Refusal> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(Refusal::malformed("BAD_REQUEST", "the request body is empty; send {\"query\": \"...\"}"));
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| Refusal::malformed("BAD_REQUEST", format!("the request body is not valid JSON: {e}")))?;
        let object = match value {
            Value::Object(o) => o,
            Value::Array(_) => {
                return Err(Refusal::malformed("BATCH_NOT_SUPPORTED", "batched requests are not supported"));
            }
            _ => return Err(Refusal::malformed("BAD_REQUEST", "the request body must be a JSON object")),
        };
        let mut params = Params::default();
        for (key, value) in object {
            match (key.as_str(), value) {
                (_, Value::Null) => {}
                ("query", Value::String(s)) => params.query = Some(s),
                ("operationName", Value::String(s)) => params.operation_name = Some(s),
                ("variables", Value::Object(m)) => params.variables = Some(m),
                ("extensions", Value::Object(m)) => params.extensions = Some(m),
                ("query" | "operationName", _) => {
                    return Err(Refusal::malformed("BAD_REQUEST", format!("`{key}` must be a string")));
                }
                ("variables" | "extensions", _) => {
                    return Err(Refusal::malformed("BAD_REQUEST", format!("`{key}` must be an object")));
                }
                _ => {}
            }
        }
        Ok(params)
    }

    /// From a GET query string: `variables` and `extensions` are JSON-encoded strings.
    fn from_query_string(raw: &str) -> Result<Self, Refusal> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
            .map_err(|_| Refusal::malformed("BAD_REQUEST", "the query string is not form-urlencoded"))?;
        let mut params = Params::default();
        for (key, value) in pairs {
            match key.as_str() {
                "query" => params.query = Some(value),
                "operationName" if !value.is_empty() => params.operation_name = Some(value),
                "variables" | "extensions" if !value.is_empty() => {
                    let map = match serde_json::from_str::<Value>(&value) {
                        Ok(Value::Object(m)) => Some(m),
                        Ok(Value::Null) => None,
                        _ => return Err(Refusal::malformed("BAD_REQUEST", format!("`{key}` must be a JSON object"))),
                    };
                    if key == "variables" {
                        params.variables = map;
                    } else {
                        params.extensions = map;
                    }
                }
                _ => {}
            }
        }
        Ok(params)
    }
}

/// The request header that asks for a dry run: the estimate alone, nothing executed.
pub(crate) const DRY_RUN: &str = "x-billing-dry-run";
/// The request header that leaves `extensions.cost` out when it says `off`.
pub(crate) const COST_REPORT: &str = "x-billing-cost";

/// What a request asks of its cost: a dry run (the header, or `dryRun` / `X-Billing-Dry-Run` in
/// the URL's query string, set to `1` or `true`), and whether to report it.
fn cost_options(headers: &HeaderMap, raw_query: Option<&str>) -> CostOptions {
    let yes = |v: &str| v == "1" || v.eq_ignore_ascii_case("true");
    let header_says = headers.get(DRY_RUN).and_then(|v| v.to_str().ok()).is_some_and(yes);
    let query_says = raw_query.is_some_and(|raw| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
            .is_ok_and(|pairs| pairs.iter().any(|(k, v)| (k == "dryRun" || k.eq_ignore_ascii_case(DRY_RUN)) && yes(v)))
    });
    let off = headers.get(COST_REPORT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("off"));
    CostOptions { dry_run: header_says || query_says, report: !off }
}

/// `POST /graphql`.
pub(crate) async fn post(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !is_json(content_type) {
        return Refusal::status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "POST requests must have Content-Type: application/json",
        )
        .into_response(media);
    }
    let body = match body {
        Ok(b) => b,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Refusal::status(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("the request body is larger than {} bytes", app.http.body_limit),
            )
            .into_response(media);
        }
        Err(_) => return Refusal::malformed("BAD_REQUEST", "the request body could not be read").into_response(media),
    };
    let cost = cost_options(&headers, raw.as_deref());
    match Params::from_json(&body) {
        Ok(params) => execute(app, &headers, media, params, false, cost).await,
        Err(refusal) => refusal.into_response(media),
    }
}

/// `GET /graphql`: queries only.
pub(crate) async fn get(State(app): State<AppState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    if crate::csrf::refuses_get(&headers, &app.allowed_origins) {
        return Refusal::status(
            StatusCode::FORBIDDEN,
            "CSRF_PREVENTED",
            "a cross-site GET must carry an Apollo-Require-Preflight header (or use POST with JSON)",
        )
        .into_response(media);
    }
    let cost = cost_options(&headers, raw.as_deref());
    match Params::from_query_string(raw.as_deref().unwrap_or("")) {
        Ok(params) => execute(app, &headers, media, params, true, cost).await,
        Err(refusal) => refusal.into_response(media),
    }
}

/// Any other method on `/graphql`: 405 in GraphQL form, naming the methods it takes.
pub(crate) async fn other_method(headers: HeaderMap) -> Response {
    let media = negotiate(&headers).unwrap_or(Media::Json);
    let mut response =
        Refusal::status(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "use GET for queries or POST")
            .into_response(media);
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    response
}

fn not_acceptable() -> Response {
    Refusal::status(
        StatusCode::NOT_ACCEPTABLE,
        "NOT_ACCEPTABLE",
        "accept application/graphql-response+json or application/json",
    )
    .into_response(Media::Json)
}

/// `application/json`, with an optional utf-8 charset.
fn is_json(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return false;
    }
    parts.all(|p| match p.trim().split_once('=') {
        Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
            v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        }
        _ => true,
    })
}

async fn execute(
    app: AppState,
    headers: &HeaderMap,
    media: Media,
    params: Params,
    is_get: bool,
    cost: CostOptions,
) -> Response {
    // What a trace may say of a request: its operation's type and name and its document's hash,
    // never the document or its variables.
    let span = tracing::info_span!(
        "graphql_request",
        graphql.operation.r#type = tracing::field::Empty,
        graphql.operation.name = tracing::field::Empty,
        graphql.document.hash = tracing::field::Empty,
        outcome = tracing::field::Empty,
    );
    execute_in(app, headers, media, params, is_get, cost, &span).instrument(span.clone()).await
}

async fn execute_in(
    app: AppState,
    headers: &HeaderMap,
    media: Media,
    params: Params,
    is_get: bool,
    cost: CostOptions,
    span: &tracing::Span,
) -> Response {
    let started = Instant::now();
    let query = match resolve_persisted(&app, &params) {
        Ok(q) => q,
        Err(refusal) => return finish(refusal.into_response(media), UNKNOWN, "refused", started),
    };
    let credentials = app.credentials(headers);
    if let Err(wait) = app.callers.check(app.graph.caller_id(&credentials)) {
        return finish(too_many_requests(media, wait), UNKNOWN, "rate_limited", started);
    }
    let mut request = async_graphql::Request::new(query);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(vars) = params.variables {
        request = request.variables(async_graphql::Variables::from_json(Value::Object(vars)));
    }
    if !span.is_disabled() {
        span.record("graphql.document.hash", sha256_hex(&request.query).as_str());
    }
    // Bounds the document's cost and parses it once; execution reuses the parse.
    let operation = match app.graph.check(&mut request) {
        Err(error) => {
            let body = serde_json::to_vec(&json!({ "errors": [error] })).unwrap_or_default();
            return finish(request_error(media, body), UNKNOWN, "refused", started);
        }
        Ok(Some(ty)) if is_get && ty != OperationType::Query => {
            let refusal =
                Refusal::status(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "mutations must be sent by POST");
            return finish(refusal.into_response(media), operation_type(ty), "refused", started);
        }
        Ok(ty) => ty.map_or(UNKNOWN, operation_type),
    };
    if !span.is_disabled() {
        describe(span, &mut request, operation);
    }
    let answer = app.graph.execute_json_with(request, credentials, cost).await;
    let (status, outcome) = match answer.kind() {
        AnswerKind::RequestError => {
            return finish(request_error(media, answer.body().clone()), operation, "request_error", started);
        }
        AnswerKind::Complete => (StatusCode::OK, "ok"),
        AnswerKind::Partial => (StatusCode::OK, "field_errors"),
        AnswerKind::DryRun => (StatusCode::OK, "dry_run"),
    };
    let mut http = (status, answer.body().clone()).into_response();
    http.headers_mut().insert(header::CONTENT_TYPE, media.content_type());
    finish(http, operation, outcome, started)
}

/// `429` for a caller past its request rate, with `Retry-After` in whole seconds (at least 1).
fn too_many_requests(media: Media, wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut response = Refusal::status(
        StatusCode::TOO_MANY_REQUESTS,
        "CALLER_RATE_LIMITED",
        format!("too many requests from this caller; retry in {seconds} s"),
    )
    .into_response(media);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// A request error (the document was refused; nothing ran): 400 under
/// `application/graphql-response+json`, 200 under `application/json`, as the spec says.
fn request_error(media: Media, body: impl Into<axum::body::Body>) -> Response {
    let status = match media {
        Media::GraphQlResponse => StatusCode::BAD_REQUEST,
        Media::Json => StatusCode::OK,
    };
    let mut http = (status, body.into()).into_response();
    http.headers_mut().insert(header::CONTENT_TYPE, media.content_type());
    http
}

/// The operation type label of a request refused before its operation was known.
const UNKNOWN: &str = "unknown";

fn operation_type(ty: OperationType) -> &'static str {
    match ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

/// Records the operation's type and name on the request's span. The name is the document's
/// (an identifier, so it carries no variable), cut to 128 characters.
fn describe(span: &tracing::Span, request: &mut async_graphql::Request, operation: &'static str) {
    span.record("graphql.operation.type", operation);
    let asked = request.operation_name.clone();
    let Ok(doc) = request.parsed_query() else { return };
    let name = match (&doc.operations, asked) {
        (DocumentOperations::Single(_), _) => None,
        (DocumentOperations::Multiple(ops), Some(asked)) => ops.contains_key(asked.as_str()).then_some(asked),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.keys().next().map(|n| n.to_string()),
        (DocumentOperations::Multiple(_), None) => None,
    };
    if let Some(name) = name {
        let end = name.char_indices().nth(128).map_or(name.len(), |(i, _)| i);
        span.record("graphql.operation.name", &name[..end]);
    }
}

fn finish(response: Response, operation: &'static str, outcome: &'static str, started: Instant) -> Response {
    let labels = [("operation_type", operation), ("outcome", outcome)];
    metrics::counter!("billing_graphql_requests_total", &labels).increment(1);
    metrics::histogram!("billing_graphql_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    tracing::Span::current().record("outcome", outcome);
    tracing::info!(
        status = response.status().as_u16(),
        outcome,
        duration_ms = started.elapsed().as_millis() as u64,
        "graphql request"
    );
    response
}

/// The query text, from the request or the persisted-query store (Apollo APQ).
fn resolve_persisted(app: &AppState, params: &Params) -> Result<String, Refusal> {
    let hash = params
        .extensions
        .as_ref()
        .and_then(|e| e.get("persistedQuery"))
        .and_then(|p| p.get("sha256Hash"))
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    match (&params.query, hash) {
        (Some(query), None) => Ok(query.clone()),
        (None, None) => Err(Refusal::malformed("BAD_REQUEST", "the `query` parameter is missing")),
        (None, Some(hash)) => match app.apq.get(&hash) {
            Some(query) => Ok(query.to_string()),
            None => Err(Refusal::status(StatusCode::OK, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")),
        },
        (Some(query), Some(hash)) => {
            if sha256_hex(query) != hash {
                return Err(Refusal::malformed(
                    "PERSISTED_QUERY_HASH_MISMATCH",
                    "provided sha256Hash does not match the query",
                ));
            }
            app.apq.insert(hash, Arc::from(query.as_str()));
            Ok(query.clone())
        }
    }
}

pub(crate) fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn accept_negotiation() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(Media::Json));
        assert_eq!(negotiate(&accept("application/graphql-response+json")), Some(Media::GraphQlResponse));
        assert_eq!(negotiate(&accept("application/json")), Some(Media::Json));
        assert_eq!(negotiate(&accept("*/*")), Some(Media::Json));
        assert_eq!(
            negotiate(&accept("application/json;q=0.9, application/graphql-response+json")),
            Some(Media::GraphQlResponse)
        );
        assert_eq!(
            negotiate(&accept("application/graphql-response+json, application/json")),
            Some(Media::GraphQlResponse)
        );
        assert_eq!(negotiate(&accept("text/html")), None);
        assert_eq!(negotiate(&accept("application/json;q=0")), None);
    }

    #[test]
    fn content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("Application/JSON;charset=\"UTF-8\""));
        assert!(!is_json("application/json; charset=latin1"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
        assert!(!is_json(""));
    }

    #[test]
    fn malformed_requests_are_400_under_either_media_type() {
        for bad in ["{", "[]", r#"{"query": 1}"#, r#"{"query": "{a}", "variables": "x"}"#, ""] {
            for media in [Media::Json, Media::GraphQlResponse] {
                let refusal = Params::from_json(bad.as_bytes()).unwrap_err();
                assert_eq!(refusal.into_response(media).status(), StatusCode::BAD_REQUEST, "{bad} {media:?}");
            }
        }
        let refusal = Params::from_query_string("query=%7Ba%7D&variables=1").unwrap_err();
        assert_eq!(refusal.into_response(Media::Json).status(), StatusCode::BAD_REQUEST);
        // Errors about the document itself stay 200 under application/json.
        assert_eq!(request_error(Media::Json, Vec::new()).status(), StatusCode::OK);
        assert_eq!(request_error(Media::GraphQlResponse, Vec::new()).status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn params_are_type_checked() {
        assert!(Params::from_json(br#"{"query": "{ a }", "variables": null, "extensions": {}}"#).is_ok());
        for bad in [
            r#"{"query": 1}"#,
            r#"{"query": "{a}", "variables": "x"}"#,
            r#"{"query": "{a}", "operationName": []}"#,
            "[]",
            "1",
            "{",
        ] {
            assert!(Params::from_json(bad.as_bytes()).is_err(), "{bad}");
        }
        let p = Params::from_query_string("query=%7B+a+%7D&variables=%7B%22x%22%3A1%7D").unwrap();
        assert_eq!(p.query.as_deref(), Some("{ a }"));
        assert_eq!(p.variables.unwrap()["x"], 1);
    }

    #[test]
    fn cost_options_come_from_the_headers_or_the_query_string() {
        let with = |name: &'static str, value: &str| {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_str(value).unwrap());
            h
        };
        let none = HeaderMap::new();
        assert_eq!(cost_options(&none, None), CostOptions { dry_run: false, report: true });
        assert!(cost_options(&with(DRY_RUN, "1"), None).dry_run);
        assert!(cost_options(&with(DRY_RUN, "true"), None).dry_run);
        assert!(!cost_options(&with(DRY_RUN, "0"), None).dry_run);
        assert!(cost_options(&none, Some("query=%7Ba%7D&dryRun=1")).dry_run);
        assert!(cost_options(&none, Some("X-Billing-Dry-Run=1")).dry_run);
        assert!(!cost_options(&none, Some("dryRun=no")).dry_run);
        assert!(!cost_options(&with(COST_REPORT, "off"), None).report);
        assert!(cost_options(&with(COST_REPORT, "on"), None).report);
    }
}
