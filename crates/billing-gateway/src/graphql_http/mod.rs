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
//!
//! One module per concern: `media` (Accept and Content-Type), `params` (GET and POST
//! parameters), `persisted` (APQ), `cost` (dry run and the cost report's opt-out), `refusal`
//! (requests refused before execution); this module is the handlers. Each has in-process tests
//! through the router (`tower::ServiceExt::oneshot`).

mod cost;
mod media;
mod params;
mod persisted;
mod refusal;

use std::time::Instant;

use async_graphql::parser::types::{DocumentOperations, OperationType};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use billing_graphql::{AnswerKind, CostOptions, Reply};
use futures::StreamExt;
use serde_json::{Value, json};
use tracing::Instrument;

use cost::cost_options;
pub(crate) use cost::{COST_REPORT, DRY_RUN};
use media::{Media, is_json, negotiate, not_acceptable};
use params::Params;
use persisted::{resolve_persisted, sha256_hex};
use refusal::Refusal;

use crate::state::AppState;

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
    // A repeat of a complete answer, before any parse (a quarter of a repeat's CPU was the
    // parser's): only a query that ran is kept, so there is nothing to refuse.
    if let Some(answer) = app.graph.kept_answer(&mut request, &credentials, cost).await {
        span.record("graphql.operation.type", "query");
        return whole(answer, media, "query", started);
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
    let answer = match app.graph.respond(request, credentials, cost).await {
        Reply::Whole(answer) => answer,
        Reply::Streamed(stream) => {
            // Counted and logged when its last byte is read: a streamed answer's outcome and
            // duration are known only then.
            let span = span.clone();
            let stream = stream.on_end(move |kind| {
                let outcome = if kind == AnswerKind::Complete { "ok" } else { "field_errors" };
                span.in_scope(|| finish_streamed(operation, outcome, started));
            });
            let body = axum::body::Body::from_stream(stream.map(Ok::<_, std::convert::Infallible>));
            let mut http = (StatusCode::OK, body).into_response();
            http.headers_mut().insert(header::CONTENT_TYPE, media.content_type());
            return http;
        }
    };
    whole(answer, media, operation, started)
}

/// The response of an answer whole, counted.
fn whole(answer: billing_graphql::Answer, media: Media, operation: &'static str, started: Instant) -> Response {
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
pub(super) fn request_error(media: Media, body: impl Into<axum::body::Body>) -> Response {
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
    record(response.status().as_u16(), operation, outcome, started);
    response
}

/// [`finish`] for a streamed answer (always `200`), once its last byte is read.
fn finish_streamed(operation: &'static str, outcome: &'static str, started: Instant) {
    record(StatusCode::OK.as_u16(), operation, outcome, started);
}

/// Counts a request and its duration by operation type and outcome, and logs it.
fn record(status: u16, operation: &'static str, outcome: &'static str, started: Instant) {
    let labels = [("operation_type", operation), ("outcome", outcome)];
    metrics::counter!("billing_graphql_requests_total", &labels).increment(1);
    metrics::histogram!("billing_graphql_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    tracing::Span::current().record("outcome", outcome);
    tracing::info!(status, outcome, duration_ms = started.elapsed().as_millis() as u64, "graphql request");
}

#[cfg(test)]
pub(crate) mod tests {
    //! The gateway's router in process, for each concern's `oneshot` tests.
    #![allow(clippy::unwrap_used)]

    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use serde_json::Value;
    use tower::ServiceExt;

    use crate::{Config, Gateway};

    /// The gateway's router with nothing configured (no upstream is reached by these tests).
    pub(crate) async fn router() -> Router {
        Gateway::build(Config::defaults()).await.unwrap().router()
    }

    /// Sends one request through the router: the status, the content type, and the body as JSON
    /// (`Null` when it is not JSON).
    pub(crate) async fn send(router: &Router, request: Request<Body>) -> (StatusCode, String, Value) {
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type =
            response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, content_type, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// A POST of `body` to `/graphql` with these headers (JSON content type unless given).
    pub(crate) fn post(body: &str, headers: &[(&str, &str)]) -> Request<Body> {
        let mut request = Request::post("/graphql").header(header::HOST, "localhost");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.body(Body::from(body.to_owned())).unwrap()
    }

    /// A GET of `/graphql?{query}` with these headers.
    pub(crate) fn get(query: &str, headers: &[(&str, &str)]) -> Request<Body> {
        let mut request = Request::get(format!("/graphql?{query}")).header(header::HOST, "localhost");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.body(Body::empty()).unwrap()
    }

    pub(crate) fn code(body: &Value) -> &str {
        body["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
    }

    #[tokio::test]
    async fn a_refused_document_is_a_request_error_by_media_type() {
        let router = router().await;
        let (status, _, body) = send(&router, post(r#"{"query": "{ nope }"}"#, &[])).await;
        assert_eq!((status, code(&body)), (StatusCode::OK, "GRAPHQL_VALIDATION_FAILED"));
        let accept = [("accept", "application/graphql-response+json")];
        let (status, _, body) = send(&router, post(r#"{"query": "{ nope }"}"#, &accept)).await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "GRAPHQL_VALIDATION_FAILED"));
        assert!(body.get("data").is_none(), "a request error has no data: {body}");
    }

    #[tokio::test]
    async fn a_mutation_by_get_is_405_and_other_methods_are_named() {
        let router = router().await;
        let (status, _, body) = send(&router, get("query=mutation%7Bx%7D", &[])).await;
        assert_eq!((status, code(&body)), (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"));
        let request = Request::delete("/graphql").header(header::HOST, "localhost").body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "GET, POST");
    }
}
