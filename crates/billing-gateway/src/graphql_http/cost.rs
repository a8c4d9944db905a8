//! What a request asks of its cost report: a dry run, or no report.

use axum::http::HeaderMap;
use billing_graphql::CostOptions;

/// The request header that asks for a dry run: the estimate alone, nothing executed.
pub(crate) const DRY_RUN: &str = "x-billing-dry-run";
/// The request header that leaves `extensions.cost` out when it says `off`.
pub(crate) const COST_REPORT: &str = "x-billing-cost";

/// What a request asks of its cost: a dry run (the header, or `dryRun` / `X-Billing-Dry-Run` in
/// the URL's query string, set to `1` or `true`), and whether to report it.
pub(super) fn cost_options(headers: &HeaderMap, raw_query: Option<&str>) -> CostOptions {
    let yes = |v: &str| v == "1" || v.eq_ignore_ascii_case("true");
    let header_says = headers.get(DRY_RUN).and_then(|v| v.to_str().ok()).is_some_and(yes);
    let query_says = raw_query.is_some_and(|raw| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
            .is_ok_and(|pairs| pairs.iter().any(|(k, v)| (k == "dryRun" || k.eq_ignore_ascii_case(DRY_RUN)) && yes(v)))
    });
    let off = headers.get(COST_REPORT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("off"));
    CostOptions { dry_run: header_says || query_says, report: !off }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::http::{HeaderValue, StatusCode};

    use super::*;
    use crate::graphql_http::tests::{post, router, send};

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
    #[tokio::test]
    async fn a_dry_run_answers_the_estimate_alone() {
        let router = router().await;
        let query = r#"{"query": "{ organization(id: \"42\") { costs { total } } }"}"#;
        let (status, _, body) = send(&router, post(query, &[(DRY_RUN, "1")])).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.get("data").is_none(), "nothing ran: {body}");
        assert_eq!(body["extensions"]["cost"]["estimated"]["calls"], 1, "{body}");
        assert_eq!(body["extensions"]["cost"]["actual"]["calls"], 0, "{body}");
        let (_, _, body) = send(&router, post(r#"{"query": "{ __typename }"}"#, &[(COST_REPORT, "off")])).await;
        assert!(body.get("extensions").is_none(), "{body}");
    }
}
