//! Cross-site request forgery: a page on another site must not make a visitor's browser run a
//! query here with the visitor's ambient access (a gateway on their laptop or intranet, with
//! server-side credentials).
//!
//! `POST` needs `Content-Type: application/json`, which no simple cross-site request can send,
//! so a browser asks first (a CORS preflight) and only the allowed origins get through. `GET`
//! is the hole: an `<img src>` or a link sends it without asking. So a cross-site `GET` is
//! refused unless it carries what a simple request cannot (a `Content-Type` other than the
//! three simple ones, or a non-empty `Apollo-Require-Preflight` or `X-Apollo-Operation-Name`
//! header: Apollo Router's convention, which clients already speak) or comes from an origin
//! allowed by `--cors-origins`. Requests that no browser marks as cross-site (curl, scripts,
//! the gateway's own pages) are not affected.

use axum::http::{HeaderMap, header};

/// Headers that a simple cross-site request cannot carry, any of which shows a preflight.
const PREFLIGHT_HEADERS: [&str; 2] = ["apollo-require-preflight", "x-apollo-operation-name"];

/// Whether a `GET` with these headers must be refused.
pub(crate) fn refuses_get(headers: &HeaderMap, allowed_origins: &[String]) -> bool {
    cross_site(headers, allowed_origins) && !preflighted(headers)
}

/// Whether a browser marks the request as coming from another site, or it names an origin
/// other than the one it was sent to, and not an allowed one.
fn cross_site(headers: &HeaderMap, allowed_origins: &[String]) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(origin) = text(header::ORIGIN.as_str()) {
        if allowed_origins.iter().any(|o| o.trim().eq_ignore_ascii_case(origin)) {
            return false;
        }
        let own = text(header::HOST.as_str()).is_some_and(|host| {
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .is_some_and(|o| o.eq_ignore_ascii_case(host))
        });
        if !own {
            return true;
        }
    }
    // Sent by every current browser; `none` (typed in the address bar) and `same-origin` are fine.
    matches!(text("sec-fetch-site"), Some("cross-site" | "same-site"))
}

/// Whether the request carries what only a preflighted request can.
fn preflighted(headers: &HeaderMap) -> bool {
    let simple_type = headers.get(header::CONTENT_TYPE).is_none_or(|v| {
        let essence = v.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        matches!(essence.as_str(), "" | "text/plain" | "application/x-www-form-urlencoded" | "multipart/form-data")
    });
    !simple_type || PREFLIGHT_HEADERS.iter().any(|h| headers.get(*h).is_some_and(|v| !v.is_empty()))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("gateway.internal:8080"));
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn cross_site_gets_are_refused_unless_preflighted_or_allowed() {
        let allowed = vec!["https://dash.example".to_owned()];
        // curl, scripts, the address bar, the gateway's own pages.
        assert!(!refuses_get(&headers(&[]), &allowed));
        assert!(!refuses_get(&headers(&[("sec-fetch-site", "none")]), &allowed));
        assert!(!refuses_get(&headers(&[("sec-fetch-site", "same-origin")]), &allowed));
        assert!(!refuses_get(&headers(&[("origin", "http://gateway.internal:8080")]), &allowed));
        // Another site's page.
        assert!(refuses_get(&headers(&[("sec-fetch-site", "cross-site")]), &allowed));
        assert!(refuses_get(&headers(&[("sec-fetch-site", "same-site")]), &allowed));
        assert!(refuses_get(&headers(&[("origin", "https://evil.example")]), &allowed));
        assert!(refuses_get(&headers(&[("origin", "null")]), &allowed));
        assert!(refuses_get(&headers(&[("origin", "https://evil.example"), ("content-type", "text/plain")]), &allowed));
        // ... unless it shows a preflight, or comes from an allowed origin.
        assert!(!refuses_get(
            &headers(&[("sec-fetch-site", "cross-site"), ("apollo-require-preflight", "true")]),
            &allowed
        ));
        assert!(!refuses_get(
            &headers(&[("origin", "https://evil.example"), ("x-apollo-operation-name", "Q")]),
            &allowed
        ));
        assert!(!refuses_get(
            &headers(&[("origin", "https://evil.example"), ("content-type", "application/json")]),
            &allowed
        ));
        assert!(!refuses_get(
            &headers(&[("origin", "https://dash.example"), ("sec-fetch-site", "cross-site")]),
            &allowed
        ));
        assert!(refuses_get(
            &headers(&[("origin", "https://evil.example"), ("apollo-require-preflight", "")]),
            &allowed
        ));
    }
}
