//! `GET /export/focus.csv?organization=ID&from=…&to=…`: an organization's FOCUS 1.0 rows as
//! CSV, with the same credential headers as `/graphql`. The rows are `billing-graphql`'s
//! (`BillingGraph::focus_export`); this handler only writes them, one charge period at a time,
//! with the `csv` crate: the header row first, in FOCUS column order.
//!
//! A cross-site `GET` without a preflight header is refused with 403 and `CSRF_PREVENTED`, as on
//! `/graphql` (`csrf.rs`): the export carries the same credentials.
//!
//! Errors found before the first byte (bad arguments, the first period's upstream failure) are
//! a JSON body `{"errors":[{message, extensions.code}]}` with a 4xx or 502 status. A later
//! period's failure ends the body with an error, so a client sees a broken transfer rather than
//! a file that silently misses rows.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use billing_graphql::{GraphError, codes};
use billing_insights::focus::{COLUMNS, FocusRow};
use futures::StreamExt;
use serde::Deserialize;

use crate::state::AppState;

/// The query string.
#[derive(Debug, Deserialize)]
pub(crate) struct ExportParams {
    organization: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// CSV text of rows, with the header row first when `header` is set.
fn csv_chunk(rows: &[FocusRow], header: bool) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if header {
        writer.write_record(COLUMNS)?;
    }
    for row in rows {
        writer.write_record(row.record())?;
    }
    writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body.to_string()).into_response()
}

fn status_of(e: &GraphError) -> StatusCode {
    match e.code() {
        codes::BAD_USER_INPUT => StatusCode::BAD_REQUEST,
        codes::UNAUTHENTICATED | codes::UPSTREAM_UNAUTHENTICATED => StatusCode::UNAUTHORIZED,
        codes::FORBIDDEN => StatusCode::FORBIDDEN,
        codes::NOT_FOUND => StatusCode::NOT_FOUND,
        codes::RATE_LIMITED | codes::UPSTREAM_BUDGET_EXCEEDED => StatusCode::TOO_MANY_REQUESTS,
        codes::INTERNAL => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_GATEWAY,
    }
}

fn refused(e: &GraphError) -> Response {
    error(status_of(e), e.code(), &e.message())
}

pub(crate) async fn focus_csv(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<ExportParams>,
) -> Response {
    // The same cross-site request forgery rule as `GET /graphql`: a page on another site must not
    // make a visitor's browser download the organization's costs with ambient credentials.
    if crate::csrf::refuses_get(&headers, &app.allowed_origins) {
        return error(
            StatusCode::FORBIDDEN,
            "CSRF_PREVENTED",
            "a cross-site GET must carry an Apollo-Require-Preflight header",
        );
    }
    let Some(organization) = params.organization else {
        return error(StatusCode::BAD_REQUEST, codes::BAD_USER_INPUT, "organization is required");
    };
    let credentials = app.credentials(&headers);
    if let Err(wait) = app.callers.check(app.graph.caller_id(&credentials)) {
        let mut response = error(StatusCode::TOO_MANY_REQUESTS, codes::RATE_LIMITED, "too many requests");
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let mut export =
        match app.graph.focus_export(credentials, &organization, params.from.as_deref(), params.to.as_deref()) {
            Ok(export) => export,
            Err(e) => return refused(&e),
        };
    // The first period is fetched before answering, so its failure is a status, not a cut body.
    let first = match export.next_period().await {
        Some(Err(e)) => return refused(&e),
        Some(Ok(rows)) => rows,
        None => Vec::new(),
    };
    let head = match csv_chunk(&first, true) {
        Ok(bytes) => bytes,
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, codes::INTERNAL, "could not write the CSV"),
    };
    let rest = futures::stream::unfold(export, |mut export| async move {
        let chunk = match export.next_period().await? {
            Ok(rows) => csv_chunk(&rows, false).map_err(std::io::Error::other),
            Err(e) => Err(std::io::Error::other(format!("{}: {}", e.code(), e.message()))),
        };
        Some((chunk, export))
    });
    // Fused: the body may be polled again after its end, which `unfold` does not allow.
    let body = futures::stream::once(async move { Ok::<_, std::io::Error>(head) }).chain(rest).fuse();
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8; header=present")),
            (header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"focus.csv\"")),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_row_is_focus_order_and_nulls_are_empty() {
        let text = String::from_utf8(csv_chunk(&[], true).unwrap()).unwrap();
        assert_eq!(text.trim_end(), COLUMNS.join(","));
    }
}
