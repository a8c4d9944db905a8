//! The web front, served from the binary: GraphiQL at `/`, the cost dashboard at `/dashboard`,
//! and their assets under `/assets/` (see `assets.rs`). The pages talk to the public `/graphql`
//! endpoint only, as any other frontend would, and load nothing from another origin: the
//! `Content-Security-Policy` says so to the browser, and no page carries an inline script.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;

use crate::assets::{Assets, PREFIX};

/// Every page's policy: scripts, styles and fetches from this origin only, no inline script or
/// style, no `eval`, fonts and images from this origin or `data:` (GraphiQL's fonts are data
/// URLs), and no framing.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// GraphiQL's policy: the same, but one `<style>` element may carry this response's nonce.
/// GraphiQL's dialogs lock the page's scroll with a style element they create (radix's
/// `react-remove-scroll`), which takes its nonce from `__webpack_nonce__`; the page's start
/// script sets that from the page. Inline scripts stay forbidden.
fn graphiql_policy(nonce: &str) -> String {
    CONTENT_SECURITY_POLICY.replace("style-src 'self';", &format!("style-src 'self' 'nonce-{nonce}';"))
}

/// Where the nonce goes in the rendered GraphiQL page.
const NONCE_SLOT: &str = "\u{0}nonce\u{0}";

/// Hashed assets never change under their name.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Pages are small and name the current assets: always revalidated.
const NO_CACHE: &str = "no-cache";

const GRAPHIQL_TEMPLATE: &str = include_str!("../assets/graphiql/index.html");
const DASHBOARD_TEMPLATE: &str = include_str!("../assets/dashboard/index.html");

/// The pages this gateway serves, rendered once at start.
#[derive(Debug, Clone)]
pub(crate) struct Web {
    /// The GraphiQL page, before and after its nonce.
    graphiql: Option<(String, String)>,
    dashboard: Option<Bytes>,
}

impl Web {
    /// The pages that are on, or `None` when both are off. `example` is GraphiQL's opening
    /// query; `organization` the dashboard's default (the demo organization on the simulator).
    pub(crate) fn new(graphiql: bool, dashboard: bool, example: &str, organization: Option<&str>) -> Option<Web> {
        if !graphiql && !dashboard {
            return None;
        }
        let graphql = "/graphql";
        Some(Web {
            graphiql: graphiql.then(|| {
                let page =
                    render(GRAPHIQL_TEMPLATE, &[("endpoint", graphql), ("example", example), ("nonce", NONCE_SLOT)]);
                let page = String::from_utf8_lossy(&page).into_owned();
                let (before, after) = page.split_once(NONCE_SLOT).unwrap_or((&page, ""));
                (before.to_owned(), after.to_owned())
            }),
            dashboard: dashboard.then(|| {
                render(DASHBOARD_TEMPLATE, &[("endpoint", graphql), ("organization", organization.unwrap_or(""))])
            }),
        })
    }

    /// The page routes and `/assets/{file}`, for the gateway's router.
    pub(crate) fn routes<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        let mut router = Router::new();
        if self.graphiql.is_some() {
            router = router.route("/", get(|State(web): State<Arc<Web>>| async move { web.graphiql_page() }));
        }
        if self.dashboard.is_some() {
            router = router.route(
                "/dashboard",
                get(|State(web): State<Arc<Web>>| async move { page(web.dashboard.clone(), CONTENT_SECURITY_POLICY) }),
            );
        }
        router.route(&format!("{PREFIX}{{file}}"), get(asset)).with_state(Arc::new(self))
    }

    /// The GraphiQL page with a fresh style nonce, in the page and in its policy.
    fn graphiql_page(&self) -> Response {
        let Some((before, after)) = &self.graphiql else {
            return StatusCode::NOT_FOUND.into_response();
        };
        // 244 random bits (two v4 UUIDs), as hex.
        let nonce = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        page(Some(Bytes::from(format!("{before}{nonce}{after}"))), &graphiql_policy(&nonce))
    }

    /// The paths of the pages that are on, with their names (for the banner).
    pub(crate) fn pages(&self) -> Vec<(&'static str, &'static str)> {
        let mut pages = Vec::new();
        if self.graphiql.is_some() {
            pages.push(("GraphiQL", "/"));
        }
        if self.dashboard.is_some() {
            pages.push(("Dashboard", "/dashboard"));
        }
        pages
    }
}

/// Fills a template's `{{asset:NAME}}` with the asset's hashed URL and `{{key}}` with its value,
/// escaped for HTML text and attributes.
fn render(template: &str, values: &[(&str, &str)]) -> Bytes {
    let assets = Assets::get();
    let mut out = String::with_capacity(template.len() + 512);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        let key = &rest[start + 2..start + end];
        match key.strip_prefix("asset:") {
            Some(name) => out.push_str(assets.url(name)),
            None => match values.iter().find(|(k, _)| *k == key) {
                Some((_, value)) => out.push_str(&escape(value)),
                None => panic!("template placeholder {{{{{key}}}}} has no value"),
            },
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Bytes::from(out)
}

/// Escapes text for an HTML attribute value or element content.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The headers every page and asset carries.
fn security_headers(policy: &str) -> [(HeaderName, HeaderValue); 5] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(policy).unwrap_or(HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        ),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
    ]
}

fn page(body: Option<Bytes>, policy: &str) -> Response {
    match body {
        Some(body) => (
            security_headers(policy),
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
                (header::CACHE_CONTROL, HeaderValue::from_static(NO_CACHE)),
            ],
            body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn asset(Path(file): Path<String>) -> Response {
    match Assets::get().file(&file) {
        Some(asset) => (
            security_headers(CONTENT_SECURITY_POLICY),
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
            ],
            asset.bytes.clone(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            "no such asset (asset names carry a hash of their content: reload the page)",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    fn web() -> Web {
        Web::new(true, true, "{ organization(id: \"42\") { id } } # <b>&", Some("1878943810")).unwrap()
    }

    async fn get_path(router: &Router, path: &str) -> (StatusCode, axum::http::HeaderMap, Bytes) {
        get_with(router, path, &[]).await
    }

    async fn get_with(
        router: &Router,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, axum::http::HeaderMap, Bytes) {
        let mut request = Request::get(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let (parts, body) = response.into_parts();
        (parts.status, parts.headers, axum::body::to_bytes(body, 1 << 24).await.unwrap())
    }

    /// Whether an element has an event handler attribute (`onclick=`, ...).
    fn has_handler_attribute(html: &str) -> bool {
        html.match_indices(" on").any(|(i, _)| {
            let name: String = html[i + 1..].chars().take_while(char::is_ascii_alphabetic).collect();
            html[i + 1 + name.len()..].starts_with('=')
        })
    }

    /// What a page loads: each `<script src>` and `<link href>`.
    fn references(html: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (tag, attr) in [("<script ", "src=\""), ("<link ", "href=\"")] {
            for (i, _) in html.match_indices(tag) {
                let element = &html[i..i + html[i..].find('>').unwrap()];
                if let Some(at) = element.find(attr) {
                    let rest = &element[at + attr.len()..];
                    out.push(rest[..rest.find('"').unwrap()].to_owned());
                }
            }
        }
        out
    }

    /// The modules a module imports, as served paths.
    fn imports(module: &str) -> Vec<String> {
        module
            .lines()
            .filter(|l| l.starts_with("import "))
            .filter_map(|l| l.rsplit_once(" from "))
            .map(|(_, target)| {
                let target = target.trim_end_matches(';').trim_matches(['\'', '"']);
                format!("{PREFIX}{}", target.trim_start_matches("./"))
            })
            .collect()
    }

    /// A page and everything it loads, modules' imports included, each as `(path, body)`
    /// requested with `headers`.
    async fn page_and_assets(router: &Router, path: &str, headers: &[(&str, &str)]) -> Vec<(String, Bytes)> {
        let html = get_path(router, path).await.2;
        let mut queue = references(std::str::from_utf8(&html).unwrap());
        let mut out = vec![(path.to_owned(), get_with(router, path, headers).await.2)];
        while let Some(r) = queue.pop() {
            if !r.starts_with(PREFIX) || out.iter().any(|(p, _)| *p == r) {
                continue;
            }
            if r.ends_with(".js") {
                queue.extend(imports(std::str::from_utf8(&get_path(router, &r).await.2).unwrap()));
            }
            out.push((r.clone(), get_with(router, &r, headers).await.2));
        }
        out
    }

    #[tokio::test]
    async fn pages_carry_a_strict_policy_and_load_only_hashed_local_assets() {
        let router: Router = web().routes();
        for path in ["/", "/dashboard"] {
            let (status, headers, body) = get_path(&router, path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
            if path == "/" {
                // One fresh nonce per response, in the policy and the page alike.
                let nonce = policy.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap().to_owned();
                assert_eq!(nonce.len(), 64, "{policy}");
                assert_eq!(policy, graphiql_policy(&nonce));
                assert!(std::str::from_utf8(&body).unwrap().contains(&format!("data-style-nonce=\"{nonce}\"")));
                let again = get_path(&router, path).await.1[header::CONTENT_SECURITY_POLICY].clone();
                assert_ne!(again.to_str().unwrap(), policy, "a nonce is used once");
            } else {
                assert_eq!(policy, CONTENT_SECURITY_POLICY);
            }
            assert!(!policy.contains("unsafe"), "{policy}");
            assert_eq!(headers[header::CACHE_CONTROL], NO_CACHE);
            assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
            let html = std::str::from_utf8(&body).unwrap();
            assert!(!html.contains("{{"), "{path}: an unfilled placeholder");
            // No inline script: every <script> has a src, and no element has an event handler.
            assert_eq!(html.matches("<script").count(), html.matches("<script src=").count(), "{path}");
            assert!(!has_handler_attribute(html), "{path}: an inline event handler");
            assert!(!html.contains("javascript:") && !html.contains("style="), "{path}");
            let refs = references(html);
            assert!(refs.len() >= 3, "{path}: {refs:?}");
            assert!(refs.iter().all(|r| r.starts_with(PREFIX) || r == "data:,"), "{path} loads {refs:?}");
            let loaded = page_and_assets(&router, path, &[]).await;
            assert!(loaded.len() > refs.len() || path == "/", "{path}: module imports followed");
            for (r, _) in loaded.iter().skip(1) {
                let (status, headers, body) = get_path(&router, r).await;
                assert_eq!(status, StatusCode::OK, "{r}");
                assert_eq!(headers[header::CACHE_CONTROL], IMMUTABLE, "{r}");
                assert_eq!(headers[header::CONTENT_SECURITY_POLICY], CONTENT_SECURITY_POLICY, "{r}");
                assert!(!body.is_empty(), "{r}");
            }
        }
        let (status, headers, _) = get_path(&router, "/assets/graphiql.min.js").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "only hashed names are served");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    }

    #[tokio::test]
    async fn page_values_are_escaped() {
        let (_, _, body) = get_path(&web().routes(), "/").await;
        let html = std::str::from_utf8(&body).unwrap();
        assert!(html.contains("organization(id: &quot;42&quot;) { id } } # &lt;b&gt;&amp;"), "{html}");
        let (_, _, body) = get_path(&web().routes(), "/dashboard").await;
        assert!(std::str::from_utf8(&body).unwrap().contains("content=\"1878943810\""));
    }

    #[tokio::test]
    async fn each_page_can_be_turned_off() {
        assert!(Web::new(false, false, "", None).is_none());
        let only_dashboard: Router = Web::new(false, true, "", None).unwrap().routes();
        assert_eq!(get_path(&only_dashboard, "/").await.0, StatusCode::NOT_FOUND);
        assert_eq!(get_path(&only_dashboard, "/dashboard").await.0, StatusCode::OK);
        let only_graphiql: Router = Web::new(true, false, "", None).unwrap().routes();
        assert_eq!(get_path(&only_graphiql, "/").await.0, StatusCode::OK);
        assert_eq!(get_path(&only_graphiql, "/dashboard").await.0, StatusCode::NOT_FOUND);
    }

    /// What each page weighs with everything it loads, as served and as gzipped by the
    /// gateway's compression layer (`--nocapture` prints it): the dashboard, its chart library
    /// included, stays small.
    #[tokio::test]
    async fn page_weight() {
        use std::io::Write;
        let router: Router = web().routes().layer(tower_http::compression::CompressionLayer::new());
        for path in ["/", "/dashboard"] {
            let plain = page_and_assets(&router, path, &[]).await;
            let gzipped = page_and_assets(&router, path, &[("accept-encoding", "gzip")]).await;
            let raw: usize = plain.iter().map(|(_, b)| b.len()).sum();
            let zipped: usize = gzipped.iter().map(|(_, b)| b.len()).sum();
            let _ = writeln!(std::io::stderr(), "{path}: {} files, {raw} bytes, {zipped} gzipped", plain.len());
            for (r, b) in &plain {
                let _ = writeln!(std::io::stderr(), "  {r}: {}", b.len());
            }
            if path == "/dashboard" {
                assert!(zipped < 60_000, "the dashboard weighs {zipped} bytes gzipped");
            }
        }
    }
}
