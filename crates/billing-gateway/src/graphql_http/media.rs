//! The response media type, from `Accept`; the request's, from `Content-Type`.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use super::refusal::Refusal;
use axum::http::StatusCode;

/// The two response media types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Media {
    GraphQlResponse,
    Json,
}

impl Media {
    pub(super) fn content_type(self) -> HeaderValue {
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

/// `406`: nothing the client accepts.
pub(super) fn not_acceptable() -> Response {
    Refusal::status(
        StatusCode::NOT_ACCEPTABLE,
        "NOT_ACCEPTABLE",
        "accept application/graphql-response+json or application/json",
    )
    .into_response(Media::Json)
}

/// `application/json`, with an optional utf-8 charset.
pub(super) fn is_json(content_type: &str) -> bool {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::http::StatusCode;

    use super::*;
    use crate::graphql_http::tests::{code, post, router, send};

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

    #[tokio::test]
    async fn the_answer_follows_accept_through_the_router() {
        let router = router().await;
        let query = r#"{"query": "{ __typename }"}"#;
        let (status, content_type, body) = send(&router, post(query, &[])).await;
        assert_eq!((status, content_type.as_str()), (StatusCode::OK, "application/json; charset=utf-8"));
        assert_eq!(body["data"]["__typename"], "Query");
        let accept = [("accept", "application/graphql-response+json")];
        let (_, content_type, _) = send(&router, post(query, &accept)).await;
        assert_eq!(content_type, "application/graphql-response+json; charset=utf-8");
        let (status, _, body) = send(&router, post(query, &[("accept", "text/html")])).await;
        assert_eq!((status, code(&body)), (StatusCode::NOT_ACCEPTABLE, "NOT_ACCEPTABLE"));
        let (status, _, body) = send(&router, post(query, &[("content-type", "text/plain")])).await;
        assert_eq!((status, code(&body)), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE"));
    }
}
