//! A request refused before execution, in GraphQL form.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::media::Media;

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
    pub(super) fn malformed(code: &'static str, message: impl Into<String>) -> Self {
        Refusal::status(StatusCode::BAD_REQUEST, code, message)
    }

    pub(super) fn status(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
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
