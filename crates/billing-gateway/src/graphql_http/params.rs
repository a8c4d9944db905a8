//! The parameters of a GraphQL request, decoded and type-checked: a POST's JSON body, a GET's
//! query string.

use serde_json::{Map, Value};

use super::refusal::Refusal;

/// The parameters of a GraphQL request, checked.
#[derive(Debug, Default)]
pub(super) struct Params {
    pub(super) query: Option<String>,
    pub(super) operation_name: Option<String>,
    pub(super) variables: Option<Map<String, Value>>,
    pub(super) extensions: Option<Map<String, Value>>,
}

impl Params {
    /// From a JSON body: an object whose members have the spec's types.
    pub(super) fn from_json(body: &[u8]) -> Result<Self, Refusal> {
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
    pub(super) fn from_query_string(raw: &str) -> Result<Self, Refusal> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::http::StatusCode;

    use super::*;
    use crate::graphql_http::media::Media;
    use crate::graphql_http::request_error;
    use crate::graphql_http::tests::{code, get, post, router, send};

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

    #[tokio::test]
    async fn bad_parameters_are_400_through_the_router() {
        let router = router().await;
        for (body, expected) in [
            ("[]", "BATCH_NOT_SUPPORTED"),
            ("{", "BAD_REQUEST"),
            (r#"{"query": 1}"#, "BAD_REQUEST"),
            ("{}", "BAD_REQUEST"),
        ] {
            let (status, _, answer) = send(&router, post(body, &[])).await;
            assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, expected), "{body}");
        }
        let (status, _, answer) = send(&router, get("query=%7B__typename%7D&variables=%5B%5D", &[])).await;
        assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, "BAD_REQUEST"));
        let (status, _, answer) = send(&router, get("query=%7B__typename%7D&variables=%7B%7D", &[])).await;
        assert_eq!((status, &answer["data"]["__typename"]), (StatusCode::OK, &serde_json::json!("Query")));
    }
}
