//! The HTTP surface: GET and POST, GraphiQL, introspection, health, readiness, metrics, and the
//! refusals (body limit, malformed JSON, media types, GET mutations, batches, persisted queries).

use billing_gateway::Config;
use serde_json::{Value, json};

use crate::support::{self, Reply, Server};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// A gateway on its embedded simulator (demo credentials applied).
async fn embedded(configure: impl FnOnce(&mut Config)) -> Server {
    let mut config = Config::defaults();
    config.sim = true;
    configure(&mut config);
    Server::start(config).await
}

fn demo_org(server: &Server) -> String {
    server.gateway.demo().unwrap().organization_id.clone()
}

/// Asserts a refusal: status, media type, a JSON body with one error of this code and no `data`.
fn assert_refused(reply: &Reply, status: u16, media: &str, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert!(reply.content_type().starts_with(media), "{} for {}", reply.content_type(), reply.text);
    let body = reply.json();
    assert_eq!(reply.error_codes(), [code], "{body:#}");
    assert!(body.get("data").is_none(), "{body:#}");
    let message = support::errors(&body)[0]["message"].as_str().unwrap().to_owned();
    assert!(!message.is_empty());
    // Client-facing text, never a Rust `Debug` rendering.
    for debug in ["Error {", "Error(", "Syntax", "kind:", "Some(", "Bytes"] {
        assert!(!message.contains(debug), "{message}");
    }
}

#[tokio::test]
async fn get_and_post_answer_the_same() {
    let sim = support::sim().await;
    let mut config = support::config_for(&sim.base_url());
    config.elastic_api_key = Some(support::elastic_auth(&sim));
    config.talkdesk_token = Some(support::talkdesk_auth(&sim));
    let server = Server::start(config).await;
    let query = format!(
        "query Q($n: Int!) {{ organization(id: \"{}\") {{ costs(from: \"2026-10-01T00:00:00Z\", to: \"2026-11-01T00:00:00Z\") {{ total }} }} usageAggregates(first: $n) {{ nodes {{ id }} }} }}",
        sim.dataset().demo_org().id
    );
    let variables = json!({ "n": 2 });

    let post = server.post_json(&json!({ "query": query, "variables": variables }), &[]).await;
    let get = server
        .client
        .get(server.endpoint())
        .query(&[("query", query.as_str()), ("variables", &variables.to_string())])
        .send()
        .await
        .unwrap();
    let get = Reply::read(get).await;

    for reply in [&post, &get] {
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert!(reply.content_type().starts_with("application/json"), "{}", reply.content_type());
        let body = reply.json();
        assert!(support::errors(&body).is_empty(), "{body:#}");
        assert!(body["data"]["organization"]["costs"]["total"].as_f64().unwrap() > 0.0);
        assert_eq!(body["data"]["usageAggregates"]["nodes"].as_array().unwrap().len(), 2);
    }
    // The same data; the second, warm, says it cost no call.
    assert_eq!(post.json()["data"], get.json()["data"]);
    assert_eq!(get.json()["extensions"]["cost"]["actual"]["calls"], 0, "{}", get.text);

    // The spec's own media type when asked for.
    let reply = server.query("{ __typename }", &[("accept", GRAPHQL_RESPONSE)]).await;
    assert_eq!(reply.status, 200);
    assert!(reply.content_type().starts_with(GRAPHQL_RESPONSE), "{}", reply.content_type());
    assert_eq!(reply.json()["data"], json!({ "__typename": "Query" }));
}

#[tokio::test]
async fn graphiql_is_served_at_the_root_and_can_be_turned_off() {
    let server = embedded(|_| {}).await;
    let page = server.get("/", &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.content_type().starts_with("text/html"), "{}", page.content_type());
    assert!(page.text.contains("GraphiQL"));
    // The example query, with the demo organization, in an attribute of the page (the page has
    // no inline script; tests/browser runs it).
    let example = billing_gateway::example_query(&demo_org(&server));
    let attribute = example.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;");
    assert!(page.text.contains(&format!("data-query=\"{attribute}\"")), "{}", page.text);
    assert!(page.text.contains("usageAggregates(first: 5)"));
    assert_eq!(server.get("/dashboard", &[]).await.status, 200);

    let server = embedded(|c| c.no_graphiql = true).await;
    let page = server.get("/", &[]).await;
    assert_eq!(page.status, 404);
    assert!(!page.text.contains("GraphiQL"));
    assert_eq!(server.get("/dashboard", &[]).await.status, 200, "the dashboard has its own switch");
    let server = embedded(|c| c.no_dashboard = true).await;
    assert_eq!(server.get("/dashboard", &[]).await.status, 404);
    // The API itself still answers.
    assert_eq!(server.query("{ __typename }", &[]).await.json()["data"]["__typename"], "Query");
}

#[tokio::test]
async fn introspection_can_be_turned_off() {
    let query = "{ __schema { queryType { name } } }";
    let server = embedded(|_| {}).await;
    let reply = server.query(query, &[]).await;
    assert_eq!(reply.json()["data"]["__schema"]["queryType"]["name"], "Query", "{}", reply.text);

    let server = embedded(|c| c.no_introspection = true).await;
    // async-graphql answers the introspection fields with null rather than an error.
    let reply = server.query(query, &[]).await;
    let body = reply.json();
    assert!(body["data"].is_null() || body["data"]["__schema"].is_null(), "{body:#}");
    let reply = server.query("{ __type(name: \"Query\") { name fields { name } } }", &[]).await;
    let body = reply.json();
    assert!(body["data"].is_null() || body["data"]["__type"].is_null(), "{body:#}");
    assert!(!reply.text.contains("usageAggregates"), "{}", reply.text);
    // Other queries are unaffected.
    assert_eq!(server.query("{ __typename }", &[]).await.json()["data"]["__typename"], "Query");
}

#[tokio::test]
async fn health_and_readiness_follow_the_upstreams() {
    let sim = support::sim().await;
    let server = Server::start(support::config_for(&sim.base_url())).await;

    let health = server.get("/healthz", &[]).await;
    assert_eq!((health.status, health.text.as_str()), (200, "ok"));
    let ready = server.get("/readyz", &[]).await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(
        ready.json(),
        json!({ "ready": true, "upstreams": { "elastic_v1": "reachable", "elastic_v2": "reachable", "talkdesk": "reachable" } })
    );
    // Readiness sends no credential and calls no endpoint: it only connects.
    assert_eq!(sim.stats().total(), 0);

    sim.shutdown().await;
    let ready = server.get("/readyz", &[]).await;
    assert_eq!(ready.status, 503, "{}", ready.text);
    let body = ready.json();
    assert_eq!(body["ready"], false);
    assert_eq!(body["upstreams"]["talkdesk"], "unreachable");
    // Liveness does not depend on the upstreams.
    assert_eq!(server.get("/healthz", &[]).await.status, 200);
}

/// The sum of a metric's samples whose labels contain every one of `labels`.
fn metric_sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn metrics_count_graphql_upstream_and_cache_requests() {
    let server = embedded(|_| {}).await;
    let before = server.get("/metrics", &[]).await.text;

    // The same query twice: one upstream call, then a cache hit.
    let query = format!(
        "{{ organization(id: \"{}\") {{ costs(from: \"2026-09-01T00:00:00Z\", to: \"2026-10-01T00:00:00Z\") {{ total }} }} }}",
        demo_org(&server)
    );
    for _ in 0..2 {
        let reply = server.query(&query, &[]).await;
        assert!(support::errors(&reply.json()).is_empty(), "{}", reply.text);
    }

    let metrics = server.get("/metrics", &[]).await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.content_type().starts_with("text/plain"), "{}", metrics.content_type());
    let after = metrics.text;
    let graphql = ("billing_graphql_requests_total", &["outcome=\"ok\""][..]);
    let upstream = (
        "billing_upstream_requests_total",
        &["upstream=\"elastic_v1\"", "endpoint=\"/billing/costs/{organization_id}\"", "status=\"200\""][..],
    );
    let cache = ("billing_cache_requests_total", &[][..]);
    for (name, labels) in [graphql, upstream, cache] {
        assert!(after.contains(&format!("# TYPE {name} counter")), "{name} missing:\n{after}");
        let (was, is) = (metric_sum(&before, name, labels), metric_sum(&after, name, labels));
        assert!(is > was, "{name}{labels:?} did not increase ({was} -> {is}):\n{after}");
    }
}

/// A repeat of a complete answer is answered from its kept bytes, by POST or by GET, with no
/// upstream call and no execution.
#[tokio::test]
async fn a_repeat_is_answered_from_its_kept_bytes_by_post_or_get() {
    let server = embedded(|_| {}).await;
    let query = format!(
        "{{ organization(id: \"{}\") {{ costs(from: \"2026-09-01T00:00:00Z\", to: \"2026-10-01T00:00:00Z\") {{ total }} }} }}",
        demo_org(&server)
    );
    let first = server.query(&query, &[]).await.json();
    assert!(support::errors(&first).is_empty(), "{first:#}");
    assert_eq!(first["extensions"]["cost"]["actual"]["calls"], 1);
    let by_get = {
        let url = reqwest::Url::parse_with_params("http://x/graphql", [("query", query.as_str())]).unwrap();
        server.get(&format!("/graphql?{}", url.query().unwrap()), &[]).await
    };
    for again in [server.query(&query, &[]).await, by_get] {
        assert_eq!(again.status, 200, "{}", again.text);
        let body = again.json();
        assert_eq!(body["data"], first["data"]);
        assert_eq!(
            body["extensions"]["cost"]["actual"],
            serde_json::json!({ "calls": 0, "cacheHits": 1, "byEndpoint": {} })
        );
    }
    assert_eq!(server.gateway.graph().executions_started(), 1);
}

/// With the cache off, a planned answer goes out as it is written: a chunked body without a
/// length, the same JSON; the request is counted by its outcome once its body has been read.
#[tokio::test]
async fn a_planned_answer_with_the_cache_off_is_streamed_and_counted_once_read() {
    let server = embedded(|c| c.cache_ttl_secs = 0).await;
    let before = server.get("/metrics", &[]).await.text;
    let query = format!(
        "{{ organization(id: \"{}\") {{ deployments(from: \"2026-09-01T00:00:00Z\", to: \"2026-10-01T00:00:00Z\") \
         {{ id charts(bucketing: DAILY) {{ points {{ timestamp total }} }} }} }} }}",
        demo_org(&server)
    );
    let reply = server.query(&query, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("transfer-encoding"), Some("chunked"), "{:?}", reply.headers);
    assert_eq!(reply.header("content-length"), None);
    assert!(reply.content_type().starts_with("application/json"), "{}", reply.content_type());
    let body = reply.json();
    assert!(support::errors(&body).is_empty(), "{body:#}");
    let deployments = body["data"]["organization"]["deployments"].as_array().unwrap();
    assert!(deployments.len() > 1 && deployments.iter().all(|d| d["charts"]["points"].as_array().unwrap().len() == 30));
    assert!(body["extensions"]["cost"]["actual"]["calls"].as_u64().unwrap() > deployments.len() as u64);

    let after = server.get("/metrics", &[]).await.text;
    let ok = ["outcome=\"ok\"", "operation_type=\"query\""];
    let (was, is) = (
        metric_sum(&before, "billing_graphql_requests_total", &ok),
        metric_sum(&after, "billing_graphql_requests_total", &ok),
    );
    // At least this one: the tests of this binary share the process's metrics.
    assert!(is >= was + 1.0, "the streamed request counted once it was read ({was} -> {is}):\n{after}");
}

#[tokio::test]
async fn an_oversized_body_is_413_in_graphql_form() {
    let server = embedded(|c| c.body_limit = 1024).await;
    let big = json!({ "query": format!("{{ __typename }} # {}", "x".repeat(4096)) });
    for accept in ["application/json", GRAPHQL_RESPONSE] {
        let reply = server.post_json(&big, &[("accept", accept)]).await;
        assert_refused(&reply, 413, accept, "PAYLOAD_TOO_LARGE");
    }
    // Without Content-Length too: a chunked body is cut off at the limit.
    let (status, text) = post_chunked(&server, &big.to_string()).await;
    assert_eq!(status, 413, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "PAYLOAD_TOO_LARGE", "{text}");
    // Just under the limit is fine.
    let reply = server.query("{ __typename }", &[]).await;
    assert_eq!(reply.json()["data"]["__typename"], "Query");
}

/// POSTs `body` to `/graphql` with `Transfer-Encoding: chunked` over a raw socket; returns the
/// status and the (unchunked) body.
async fn post_chunked(server: &Server, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut request = format!(
        "POST /graphql HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        server.addr
    );
    for chunk in body.as_bytes().chunks(512) {
        request.push_str(&format!("{:x}\r\n{}\r\n", chunk.len(), std::str::from_utf8(chunk).unwrap()));
    }
    request.push_str("0\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    // The server may answer and close before reading the whole body; a reset then is fine.
    let _ = socket.read_to_end(&mut raw).await;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let status = raw.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let text = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        // Drop the chunk size lines.
        rest.split("\r\n").skip(1).step_by(2).collect::<String>()
    } else {
        rest.to_owned()
    };
    (status, text)
}

#[tokio::test]
async fn malformed_json_is_a_request_error_with_a_json_body() {
    let server = embedded(|_| {}).await;
    for body in [r#"{"query": "{ __typename }""#, "{query}", "", "[1, 2"] {
        let reply = server.post_raw("application/json", body.to_owned(), &[("accept", GRAPHQL_RESPONSE)]).await;
        assert_refused(&reply, 400, GRAPHQL_RESPONSE, "BAD_REQUEST");
        // Not a well-formed GraphQL-over-HTTP request: 400 under application/json too (the
        // spec's SHOULD, audited by graphql-http).
        let reply = server.post_raw("application/json", body.to_owned(), &[("accept", "application/json")]).await;
        assert_refused(&reply, 400, "application/json", "BAD_REQUEST");
    }
    // Well-formed JSON of the wrong shape is refused the same way.
    let reply = server.post_raw("application/json", r#"{"query": 42}"#, &[("accept", GRAPHQL_RESPONSE)]).await;
    assert_refused(&reply, 400, GRAPHQL_RESPONSE, "BAD_REQUEST");
    // A document that does not parse is a request error: 400 without `data` under the spec's
    // media type, 200 with errors under application/json.
    let reply = server.query("{ organization(", &[("accept", GRAPHQL_RESPONSE)]).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(reply.json().get("data").is_none());
    assert!(!support::errors(&reply.json()).is_empty());
    let reply = server.query("{ organization(", &[("accept", "application/json")]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(!support::errors(&reply.json()).is_empty());
}

#[tokio::test]
async fn only_json_posts_are_accepted() {
    let server = embedded(|_| {}).await;
    let cases = [
        ("text/plain", r#"{"query": "{ __typename }"}"#),
        ("text/plain;charset=UTF-8", r#"{"query": "{ __typename }"}"#),
        ("application/x-www-form-urlencoded", "query=%7B+__typename+%7D"),
        (
            "multipart/form-data; boundary=x",
            "--x\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\n{ __typename }\r\n--x--\r\n",
        ),
        ("application/graphql", "{ __typename }"),
    ];
    for (content_type, body) in cases {
        let reply = server.post_raw(content_type, body, &[]).await;
        assert_refused(&reply, 415, "application/json", "UNSUPPORTED_MEDIA_TYPE");
    }
    // And an Accept nothing can satisfy is 406.
    let reply = server.query("{ __typename }", &[("accept", "text/html")]).await;
    assert_eq!(reply.status, 406, "{}", reply.text);
}

#[tokio::test]
async fn a_mutation_by_get_is_405() {
    let server = embedded(|_| {}).await;
    let get = |query: &str| {
        let request = server.client.get(server.endpoint()).query(&[("query", query)]);
        async move { Reply::read(request.send().await.unwrap()).await }
    };
    let reply = get("mutation { __typename }").await;
    assert_refused(&reply, 405, "application/json", "METHOD_NOT_ALLOWED");
    assert_eq!(reply.headers.get("allow").unwrap(), "POST");
    // A query by GET is fine.
    assert_eq!(get("{ __typename }").await.json()["data"]["__typename"], "Query");
}

#[tokio::test]
async fn batches_are_refused() {
    let server = embedded(|_| {}).await;
    let batch = json!([{ "query": "{ __typename }" }, { "query": "{ __typename }" }]);
    let reply = server.post_json(&batch, &[("accept", GRAPHQL_RESPONSE)]).await;
    assert_refused(&reply, 400, GRAPHQL_RESPONSE, "BATCH_NOT_SUPPORTED");
    let reply = server.post_json(&batch, &[]).await;
    assert_refused(&reply, 400, "application/json", "BATCH_NOT_SUPPORTED");
}

/// The hex SHA-256 of a query, as APQ clients compute it.
fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn automatic_persisted_queries() {
    let server = embedded(|_| {}).await;
    assert_eq!(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    let query = "{ __typename apq: __typename }";
    let hash = sha256_hex(query);
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });

    // The hash alone, before registration.
    let reply = server.post_json(&json!({ "extensions": extensions }), &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.error_codes(), ["PERSISTED_QUERY_NOT_FOUND"], "{}", reply.text);

    // Query and hash register it.
    let reply = server.post_json(&json!({ "query": query, "extensions": extensions }), &[]).await;
    assert_eq!(reply.json()["data"], json!({ "__typename": "Query", "apq": "Query" }));

    // Then the hash alone runs it, by POST and by GET.
    let reply = server.post_json(&json!({ "extensions": extensions }), &[]).await;
    assert_eq!(reply.json()["data"], json!({ "__typename": "Query", "apq": "Query" }));
    let get = server.client.get(server.endpoint()).query(&[("extensions", extensions.to_string())]);
    let reply = Reply::read(get.send().await.unwrap()).await;
    assert_eq!(reply.json()["data"], json!({ "__typename": "Query", "apq": "Query" }));

    // A hash that is not the query's is refused and registers nothing.
    let wrong = sha256_hex("{ something { else } }");
    let wrong_ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": wrong } });
    let reply = server.post_json(&json!({ "query": query, "extensions": wrong_ext }), &[]).await;
    assert_eq!(reply.error_codes(), ["PERSISTED_QUERY_HASH_MISMATCH"], "{}", reply.text);
    assert!(reply.json().get("data").is_none_or(Value::is_null));
    let reply = server.post_json(&json!({ "extensions": wrong_ext }), &[]).await;
    assert_eq!(reply.error_codes(), ["PERSISTED_QUERY_NOT_FOUND"], "{}", reply.text);
}

#[tokio::test]
async fn server_credentials_never_reach_the_embedded_simulator() {
    let server = embedded(|config| {
        config.elastic_api_key = Some("ApiKey real-production-key".to_owned());
        config.talkdesk_token = Some("Bearer real-production-token".to_owned());
    })
    .await;
    let sim = server.gateway.sim().expect("the embedded simulator runs");
    let org = sim.dataset().demo_org().id.clone();
    let query = format!(
        r#"{{ organization(id: "{org}") {{ costs {{ total }} }} usageAggregates(first: 1) {{ totalCount }} }}"#
    );
    let reply = server.query(&query, &[]).await;
    assert_eq!(reply.status, 200);
    assert!(reply.json().get("errors").is_none(), "the demo credentials applied: {}", reply.text);
    let seen: Vec<String> = sim.requests().into_iter().filter_map(|r| r.authorization).collect();
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|a| !a.contains("real-production")), "{seen:?}");
}

#[tokio::test]
async fn a_loopback_gateway_answers_only_to_localhost_names() {
    let server = embedded(|_| {}).await;
    let query = json!({ "query": "{ __typename }" });
    let foreign = server.post_json(&query, &[("host", "attacker.example")]).await;
    assert_eq!(foreign.status, 421, "a DNS-rebinding page is refused: {}", foreign.text);
    assert_eq!(foreign.json()["errors"][0]["extensions"]["code"], "MISDIRECTED_REQUEST");
    for host in ["localhost", "127.0.0.1:8080", "[::1]:9", "LOCALHOST:1"] {
        let reply = server.post_json(&query, &[("host", host)]).await;
        assert_eq!(reply.status, 200, "{host}: {}", reply.text);
    }
    let configured = embedded(|config| config.allowed_hosts = vec!["billing.example.com".into()]).await;
    assert_eq!(configured.post_json(&query, &[("host", "billing.example.com")]).await.status, 200);
    assert_eq!(configured.post_json(&query, &[("host", "localhost")]).await.status, 421);
}
