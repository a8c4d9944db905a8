//! Automatic persisted queries (Apollo's protocol): a query sent once with its SHA-256 hash is
//! kept, and later requests may send the hash alone.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::params::Params;
use super::refusal::Refusal;
use crate::state::AppState;

/// The query text, from the request or the persisted-query store (Apollo APQ).
pub(super) fn resolve_persisted(app: &AppState, params: &Params) -> Result<String, Refusal> {
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
    #![allow(clippy::unwrap_used)]

    use axum::http::StatusCode;

    use super::*;
    use crate::graphql_http::tests::{code, post, router, send};

    #[tokio::test]
    async fn a_query_is_kept_by_its_hash_and_found_by_it() {
        let router = router().await;
        let query = "{ __typename }";
        let hash = sha256_hex(query);
        let by_hash = format!(r#"{{"extensions": {{"persistedQuery": {{"version": 1, "sha256Hash": "{hash}"}}}}}}"#);
        let (status, _, body) = send(&router, post(&by_hash, &[])).await;
        assert_eq!((status, code(&body)), (StatusCode::OK, "PERSISTED_QUERY_NOT_FOUND"));
        let both = format!(
            r#"{{"query": "{query}", "extensions": {{"persistedQuery": {{"version": 1, "sha256Hash": "{hash}"}}}}}}"#
        );
        let (status, _, body) = send(&router, post(&both, &[])).await;
        assert_eq!((status, &body["data"]["__typename"]), (StatusCode::OK, &serde_json::json!("Query")));
        let (_, _, body) = send(&router, post(&by_hash, &[])).await;
        assert_eq!(body["data"]["__typename"], "Query", "found by its hash: {body}");
        let wrong = format!(
            r#"{{"query": "{{ x }}", "extensions": {{"persistedQuery": {{"version": 1, "sha256Hash": "{hash}"}}}}}}"#
        );
        let (status, _, body) = send(&router, post(&wrong, &[])).await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "PERSISTED_QUERY_HASH_MISMATCH"));
    }
}
