//! Error responses in each upstream's own shape: v1 `BasicFailedReply` + `x-cloud-error-codes`,
//! v2 `{error, message, detail, success}` or `text/plain`, Talkdesk `{code, message, description, fields}`,
//! Talkdesk's token endpoint `{error, error_description}`.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use billing_model::elastic::v1::{BasicFailedReply, ERROR_CODES_HEADER};
use billing_model::elastic::v2;
use billing_model::talkdesk::oauth::TokenError;
use billing_model::talkdesk::{ErrorBody, FieldError};

/// Which upstream an endpoint imitates, so faults answer in its error shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    V1,
    V2,
    Talkdesk,
    /// The token endpoint: RFC 6749 errors.
    OAuth,
}

impl Flavor {
    /// The flavor of an endpoint template.
    pub(crate) fn of(template: &str) -> Flavor {
        if template == crate::endpoints::TALKDESK_TOKEN {
            Flavor::OAuth
        } else if template.contains("/api/v1/") {
            Flavor::V1
        } else if template.contains("/api/v2/") {
            Flavor::V2
        } else {
            Flavor::Talkdesk
        }
    }

    /// A generic error of this status, as an injected fault or the rate limiter answers it.
    pub(crate) fn fault(self, status: u16, retry_after: Option<Duration>) -> Response {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let reason = code.canonical_reason().unwrap_or("Error");
        let mut response = match (self, code.as_u16()) {
            (Flavor::V1, 429) => v1(code, "billing_service.rate_limited", "Too many requests."),
            (Flavor::V1, 500) => v1(
                code,
                "billing_service.failed_request",
                "An error occurred when fetching the costs for the organization.",
            ),
            (Flavor::V1, _) => v1(code, "root.unexpected_error", reason),
            (Flavor::V2, 429) => v2_json(code, "rate_limited", "Too many requests.", None),
            (Flavor::V2, 500) => v2_json(code, "internal_server_error", "Internal server error.", None),
            (Flavor::V2, _) => v2_json(code, &reason.to_ascii_lowercase().replace(' ', "_"), reason, None),
            (Flavor::Talkdesk, _) => talkdesk(code, reason, reason, Vec::new()),
            (Flavor::OAuth, 400) => oauth(code, "invalid_request", reason),
            (Flavor::OAuth, 401) => oauth(code, "invalid_client", "Client authentication failed."),
            (Flavor::OAuth, 500) => oauth(code, "server_error", reason),
            (Flavor::OAuth, _) => oauth(code, "temporarily_unavailable", reason),
        };
        if let Some(after) = retry_after {
            // Retry-After is whole seconds; round up so a client never retries too early.
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

/// A v1 error: `BasicFailedReply` with the code in `x-cloud-error-codes`.
pub(crate) fn v1(status: StatusCode, code: &str, message: &str) -> Response {
    let mut response = (status, Json(BasicFailedReply::single(code, message))).into_response();
    if let Ok(v) = HeaderValue::from_str(code) {
        response.headers_mut().insert(ERROR_CODES_HEADER, v);
    }
    response
}

/// A v1 error tied to a query field.
pub(crate) fn v1_field(status: StatusCode, code: &str, message: &str, field: &str) -> Response {
    let mut reply = BasicFailedReply::single(code, message);
    if let Some(e) = reply.errors.first_mut() {
        e.fields = Some(vec![field.to_owned()]);
    }
    let mut response = (status, Json(reply)).into_response();
    if let Ok(v) = HeaderValue::from_str(code) {
        response.headers_mut().insert(ERROR_CODES_HEADER, v);
    }
    response
}

/// A v2 JSON error, `{error, message, detail, success: false}`.
pub(crate) fn v2_json(
    status: StatusCode,
    error: &str,
    message: &str,
    messages: Option<BTreeMap<String, Vec<String>>>,
) -> Response {
    let body = v2::ErrorBody {
        error: error.to_owned(),
        message: message.to_owned(),
        detail: messages.map(|messages| v2::ErrorDetail { messages }),
        success: false,
    };
    (status, Json(body)).into_response()
}

/// A v2 plain-text error with an exact content type.
pub(crate) fn v2_text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body).into_response()
}

/// A token endpoint error, `{error, error_description}`.
fn oauth(status: StatusCode, error: &str, description: &str) -> Response {
    let body = TokenError { error: error.to_owned(), error_description: Some(description.to_owned()) };
    (status, Json(body)).into_response()
}

/// A Talkdesk error body.
pub(crate) fn talkdesk(status: StatusCode, message: &str, description: &str, fields: Vec<FieldError>) -> Response {
    let body = ErrorBody {
        // Talkdesk codes are opaque digit strings; this one is the status followed by a serial.
        code: format!("{}0001", status.as_u16()),
        message: message.to_owned(),
        description: Some(description.to_owned()),
        fields,
    };
    (status, Json(body)).into_response()
}
