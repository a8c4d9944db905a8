//! Operable in production: a query's trace reaches an OTLP/HTTP collector (a receiver in this
//! test) as children of the caller's trace, down to each upstream call, and its trace id reaches
//! the upstreams; `/metrics` is Prometheus text with duration histograms and the counters
//! operators need; request ids never repeat across gateways; and without a collector no trace
//! context is read or sent.
//!
//! Its own test binary: the trace test installs the process-global subscriber.

// Test helpers fail the test that calls them, as the tests themselves do.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use billing_gateway::telemetry::{CALL_BUCKETS, DURATION_BUCKETS, Traces};
use billing_sim::Latency;
use serde_json::json;
use sha2::{Digest, Sha256};
use support::{OtlpReceiver, ReceivedSpan, Server};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The caller's span: the gateway's request span must be its child.
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn traceparent(trace_id: &str) -> String {
    format!("00-{trace_id}-{CALLER_SPAN}-01")
}

const DASHBOARD: &str = r#"query Dashboard($org: ID!, $from: DateTime = "2026-10-01T00:00:00Z") {
  organization(id: $org) {
    costs(from: $from, to: "2026-11-01T00:00:00Z") { total }
    deployments(from: $from, to: "2026-11-01T00:00:00Z") { name }
  }
}"#;

/// The spans of one trace, once `done` says they are all there (the exporter sends batches).
async fn trace(
    traces: &Traces,
    receiver: &OtlpReceiver,
    trace_id: &str,
    done: impl Fn(&[ReceivedSpan]) -> bool,
) -> Vec<ReceivedSpan> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        traces.flush().await;
        let spans: Vec<ReceivedSpan> = receiver.spans().into_iter().filter(|s| s.trace_id == trace_id).collect();
        if done(&spans) {
            return spans;
        }
        assert!(tokio::time::Instant::now() < deadline, "the trace {trace_id} never arrived whole: {spans:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn named<'a>(spans: &'a [ReceivedSpan], name: &str) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|s| s.name == name).collect()
}

/// The names of a span's ancestors, nearest first, within `spans`.
fn ancestors<'a>(spans: &'a [ReceivedSpan], span: &ReceivedSpan) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut parent = span.parent_span_id.clone();
    while let Some(p) = spans.iter().find(|s| s.span_id == parent) {
        out.push(p.name.as_str());
        parent = p.parent_span_id.clone();
    }
    out
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_is_one_trace_from_the_caller_to_the_upstreams() {
    let receiver = OtlpReceiver::start().await;
    let traces = Traces::to_url(&receiver.traces_url()).unwrap();
    tracing_subscriber::registry().with(traces.layer()).try_init().unwrap();

    let sim = support::sim().await;
    let mut config = support::config_for(&sim.base_url());
    config.otlp_endpoint = Some(receiver.url.clone());
    let server = Server::start(config).await;
    let auth = support::elastic_auth(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    let body = json!({ "query": DASHBOARD, "operationName": "Dashboard", "variables": { "org": org } });

    // A cold query: every field calls its upstream.
    let first = "4bf92f3577b34da6a3ce929d0e0e4736";
    let headers = [
        ("authorization", auth.as_str()),
        ("traceparent", &traceparent(first)),
        ("tracestate", "vendor=opaque"),
        ("x-request-id", "trace-test-1"),
    ];
    let reply = server.post_json(&body, &headers).await;
    assert_eq!((reply.status, reply.error_codes()), (200, vec![]), "{}", reply.text);
    assert_eq!(reply.headers["x-request-id"], "trace-test-1", "a valid incoming id is kept and echoed");
    let spans = trace(&traces, &receiver, first, |s| !named(s, "http").is_empty()).await;

    let [http] = named(&spans, "http")[..] else { panic!("one request span: {spans:#?}") };
    assert_eq!(http.parent_span_id, CALLER_SPAN, "the request continues the caller's trace");
    assert_eq!(http.kind, 2, "a server span");
    assert_eq!(
        (http.attr("method"), http.attr("path"), http.attr("status")),
        (Some("POST"), Some("/graphql"), Some("200"))
    );
    let [graphql] = named(&spans, "graphql_request")[..] else { panic!("one GraphQL span: {spans:#?}") };
    assert_eq!(graphql.parent_span_id, http.span_id);
    assert_eq!(graphql.attr("graphql.operation.type"), Some("query"));
    assert_eq!(graphql.attr("graphql.operation.name"), Some("Dashboard"));
    assert_eq!(graphql.attr("graphql.document.hash"), Some(sha256_hex(DASHBOARD).as_str()));
    assert_eq!(graphql.attr("outcome"), Some("ok"));

    // One child per upstream call (overview, deployments), under its fetch (a cache miss), its
    // loader's batch, the GraphQL request and the HTTP request.
    let calls = named(&spans, "upstream_call");
    let upstream = sim.requests();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_eq!(upstream.len(), 2, "{upstream:#?}");
    for call in &calls {
        assert_eq!(call.kind, 3, "a client span");
        assert_eq!(call.attr("upstream"), Some("elastic_v1"));
        assert!(call.attr("endpoint").unwrap().starts_with("/billing/costs/{organization_id}"), "{call:?}");
        assert_eq!((call.attr("status"), call.attr("attempt")), (Some("200"), Some("1")));
        assert!(call.attr("bytes").unwrap().parse::<u64>().unwrap() > 0, "{call:?}");
        assert_eq!(ancestors(&spans, call), ["upstream_fetch", "loader_batch", "graphql_request", "http"]);
        let fetch = spans.iter().find(|s| s.span_id == call.parent_span_id).unwrap();
        assert_eq!(fetch.attr("cache"), Some("miss"));
    }
    assert_eq!(named(&spans, "loader_batch").len(), 2);
    // Every span carries the request id; the upstreams got the trace, each call as its parent.
    for span in &spans {
        assert_eq!(span.attr("request_id"), Some("trace-test-1"), "{span:?}");
    }
    for request in &upstream {
        let parent = request.traceparent.as_deref().unwrap_or_else(|| panic!("no traceparent upstream: {request:?}"));
        let parts: Vec<&str> = parent.split('-').collect();
        assert_eq!((parts[0], parts[1], parts[3]), ("00", first, "01"), "{parent}");
        assert!(calls.iter().any(|c| c.span_id == parts[2]), "the upstream's parent is one of the calls: {parent}");
    }

    // Another document over the same calls: its fetches are the response cache's hits and call
    // nothing. (The same document again would be answered whole, without a fetch.)
    sim.reset_stats();
    let second = "0af7651916cd43dd8448eb211c80319c";
    let headers = [("authorization", auth.as_str()), ("traceparent", &traceparent(second))];
    let other = DASHBOARD.replace("{ total }", "{ total hourlyRate }");
    let body = json!({ "query": other, "operationName": "Dashboard", "variables": { "org": org } });
    let reply = server.post_json(&body, &headers).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let generated = reply.headers["x-request-id"].to_str().unwrap().to_owned();
    let spans = trace(&traces, &receiver, second, |s| !named(s, "http").is_empty()).await;
    let fetches = named(&spans, "upstream_fetch");
    assert_eq!(fetches.len(), 2, "{spans:#?}");
    assert!(fetches.iter().all(|f| f.attr("cache") == Some("hit")), "{fetches:#?}");
    assert!(named(&spans, "upstream_call").is_empty() && sim.requests().is_empty());
    assert!(spans.iter().all(|s| s.attr("request_id") == Some(generated.as_str())), "{spans:#?}");

    // Two identical requests at once share one execution: the second joins the first's.
    sim.set_latency(None, Latency::Fixed(Duration::from_millis(800)));
    let body = json!({ "query": DASHBOARD, "variables": { "org": org, "from": "2026-10-02T00:00:00Z" } });
    let (lead, join) = ("11111111111111111111111111111111", "22222222222222222222222222222222");
    let (a, b) = (traceparent(lead), traceparent(join));
    let (first_headers, second_headers) = (
        [("authorization", auth.as_str()), ("traceparent", &a)],
        [("authorization", auth.as_str()), ("traceparent", &b)],
    );
    let first_in = server.post_json(&body, &first_headers);
    let second_in = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        server.post_json(&body, &second_headers).await
    };
    let (r1, r2) = tokio::join!(first_in, second_in);
    assert_eq!((r1.status, r2.status, &r1.text), (200, 200, &r2.text));
    let led = trace(&traces, &receiver, lead, |s| named(s, "upstream_call").len() == 2).await;
    let joined = trace(&traces, &receiver, join, |s| !named(s, "http").is_empty()).await;
    let [joining] = named(&joined, "single_flight_join")[..] else { panic!("one join: {joined:#?}") };
    assert_eq!(ancestors(&joined, joining), ["graphql_request", "http"]);
    assert!(named(&joined, "upstream_call").is_empty(), "the joiner calls nothing itself");
    assert!(named(&led, "single_flight_join").is_empty());
    for call in named(&led, "upstream_call") {
        assert_eq!(ancestors(&led, call), ["upstream_fetch", "loader_batch", "graphql_request", "http"]);
    }
}

#[tokio::test]
async fn without_a_collector_no_trace_context_is_read_or_sent() {
    let sim = support::sim().await;
    let server = Server::start(support::config_for(&sim.base_url())).await;
    let auth = support::elastic_auth(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    let body = json!({ "query": DASHBOARD, "variables": { "org": org } });
    let parent = traceparent("4bf92f3577b34da6a3ce929d0e0e4736");
    let reply = server.post_json(&body, &[("authorization", &auth), ("traceparent", &parent)]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let upstream = sim.requests();
    assert!(!upstream.is_empty());
    assert!(upstream.iter().all(|r| r.traceparent.is_none()), "{upstream:#?}");
}

/// One sample line of the Prometheus text format.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the Prometheus text exposition format (0.0.4) strictly: `# HELP`/`# TYPE` lines,
/// comments, blank lines, and samples `name{label="value",...} value [timestamp]`. Returns
/// the declared types and the samples, or what is wrong with which line.
fn parse_exposition(text: &str) -> Result<(BTreeMap<String, String>, Vec<Sample>), String> {
    fn is_name(s: &str, colon: bool) -> bool {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
    }
    fn value(s: &str) -> Result<f64, String> {
        match s {
            "+Inf" => Ok(f64::INFINITY),
            "-Inf" => Ok(f64::NEG_INFINITY),
            "NaN" => Ok(f64::NAN),
            _ => s.parse::<f64>().map_err(|_| format!("bad value {s:?}")),
        }
    }
    let mut types = BTreeMap::new();
    let mut samples = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let bad = |why: &str| format!("line {}: {why}: {line:?}", n + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("TYPE"), Some(name), Some(ty)) => {
                    if !is_name(name, true) || !["counter", "gauge", "histogram", "summary", "untyped"].contains(&ty) {
                        return Err(bad("bad TYPE"));
                    }
                    if types.insert(name.to_owned(), ty.to_owned()).is_some() {
                        return Err(bad("a second TYPE"));
                    }
                }
                (Some("HELP"), Some(name), _) if !is_name(name, true) => return Err(bad("bad HELP")),
                _ => {}
            }
            continue;
        }
        let end = line.find(['{', ' ']).ok_or_else(|| bad("no value"))?;
        let name = &line[..end];
        if !is_name(name, true) {
            return Err(bad("bad metric name"));
        }
        let mut rest = &line[end..];
        let mut labels = BTreeMap::new();
        if let Some(inner) = rest.strip_prefix('{') {
            rest = parse_labels(inner, &mut labels).map_err(&bad)?;
        }
        let mut fields = rest.split_ascii_whitespace();
        let value = value(fields.next().ok_or_else(|| bad("no value"))?).map_err(|e| bad(&e))?;
        if let Some(timestamp) = fields.next() {
            timestamp.parse::<i64>().map_err(|_| bad("bad timestamp"))?;
        }
        if fields.next().is_some() || !rest.starts_with(' ') {
            return Err(bad("junk after the value"));
        }
        samples.push(Sample { name: name.to_owned(), labels, value });
    }
    Ok((types, samples))
}

/// Reads `name="value",...}` into `labels`; gives what follows the `}`.
fn parse_labels<'a>(mut rest: &'a str, labels: &mut BTreeMap<String, String>) -> Result<&'a str, &'static str> {
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok(after);
        }
        let eq = rest.find('=').ok_or("a label without =")?;
        let name = &rest[..eq];
        let mut chars = name.chars();
        let named = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        let quoted = rest[eq + 1..].strip_prefix('"').ok_or("an unquoted label value")?;
        if !named {
            return Err("a bad label name");
        }
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let end = loop {
            match chars.next().ok_or("an unclosed label value")? {
                (_, '\\') => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    _ => return Err("a bad escape"),
                },
                (j, '"') => break j,
                (_, c) => value.push(c),
            }
        };
        if labels.insert(name.to_owned(), value).is_some() {
            return Err("a label twice");
        }
        rest = &quoted[end + 1..];
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return Err("no , or } after a label");
        }
    }
}

/// Checks every series of a histogram: the configured buckets and `+Inf`, cumulative counts,
/// `+Inf` equal to `_count`, and a `_sum`. Returns the label sets of its series.
fn check_histogram(types: &BTreeMap<String, String>, samples: &[Sample], name: &str) -> Vec<BTreeMap<String, String>> {
    check_histogram_of(types, samples, name, DURATION_BUCKETS)
}

/// [`check_histogram`] with these buckets.
fn check_histogram_of(
    types: &BTreeMap<String, String>,
    samples: &[Sample],
    name: &str,
    bucket_bounds: &[f64],
) -> Vec<BTreeMap<String, String>> {
    assert_eq!(types.get(name).map(String::as_str), Some("histogram"), "{name} is not a histogram");
    // Each series (its labels but `le`) and its buckets: (`le`, count).
    type Series = BTreeMap<Vec<(String, String)>, Vec<(f64, f64)>>;
    let mut series = Series::new();
    for s in samples.iter().filter(|s| s.name == format!("{name}_bucket")) {
        let le = value_of(&s.labels["le"]);
        let key = s.labels.iter().filter(|(k, _)| *k != "le").map(|(k, v)| (k.clone(), v.clone())).collect();
        series.entry(key).or_default().push((le, s.value));
    }
    assert!(!series.is_empty(), "{name} has no series");
    let mut expected: Vec<f64> = bucket_bounds.to_vec();
    expected.push(f64::INFINITY);
    for (labels, mut buckets) in series.clone() {
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(buckets.iter().map(|b| b.0).collect::<Vec<_>>(), expected, "{name}{labels:?}");
        assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{name}{labels:?} is not cumulative: {buckets:?}");
        let find = |suffix: &str| {
            samples
                .iter()
                .find(|s| {
                    s.name == format!("{name}_{suffix}")
                        && s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>() == labels
                })
                .unwrap_or_else(|| panic!("{name}_{suffix}{labels:?} is missing"))
                .value
        };
        assert_eq!(find("count"), buckets.last().unwrap().1, "{name}{labels:?}: +Inf is the count");
        // A histogram whose buckets go below zero may sum below zero.
        let floor = if bucket_bounds.first().is_some_and(|b| *b < 0.0) { f64::NEG_INFINITY } else { 0.0 };
        assert!(find("sum") >= floor && find("sum").is_finite());
    }
    series.into_keys().map(|k| k.into_iter().collect()).collect()
}

fn value_of(le: &str) -> f64 {
    if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_prometheus_text_with_histograms_and_counters() {
    let sim = support::sim().await;
    let mut config = support::config_for(&sim.base_url());
    // One upstream call per second (the second waits), two calls per request, and retries.
    config.upstream_rps = 1;
    config.upstream_budget = 2;
    // Measured, not enforced: the in-flight budget is what this request meets.
    config.no_cost_enforcement = true;
    let server = Server::start(config).await;
    let auth = support::elastic_auth(&sim);
    let org = sim.dataset().demo_org().id.to_string();
    // First, an estimate that was low: the organization's deployments unseen, assumed 20, and
    // it has more, each wanting its chart; the budget refuses the rest, and the miss is counted.
    let low = format!(
        r#"{{ organization(id: "{org}") {{ deployments(from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z") {{ charts {{ bucketing }} }} }} }}"#
    );
    let reply = server.query(&low, &[("authorization", &auth)]).await;
    assert!(reply.error_codes().iter().all(|c| c == "UPSTREAM_BUDGET_EXCEEDED"), "{}", reply.text);

    let three =
        format!(r#"{{ organization(id: "{org}") {{ costs {{ total }} deployments {{ name }} instances {{ id }} }} }}"#);
    let reply = server.query(&three, &[("authorization", &auth)]).await;
    assert_eq!(reply.error_codes(), ["UPSTREAM_BUDGET_EXCEEDED"], "{}", reply.text);
    let unavailable = billing_sim::Fault::Status { status: 503, retry_after: None };
    sim.push_faults(Some(billing_sim::endpoints::V1_ITEMS), [unavailable]);
    let retried = format!(r#"{{ organization(id: "{org}") {{ items {{ total }} }} }}"#);
    let reply = server.query(&retried, &[("authorization", &auth)]).await;
    assert!(reply.error_codes().is_empty(), "the retry succeeds: {}", reply.text);

    // A document sent twice: compiled the first time, its plan kept for the second (its answer,
    // an error, is not kept whole, so the second runs).
    for _ in 0..2 {
        let reply = server.query(r#"{ organization(id: "") { id } }"#, &[("authorization", &auth)]).await;
        assert_eq!(reply.error_codes(), ["BAD_USER_INPUT"], "{}", reply.text);
    }

    let reply = server.get("/metrics", &[]).await;
    assert_eq!(reply.status, 200);
    assert!(reply.content_type().starts_with("text/plain; version=0.0.4"), "{}", reply.content_type());
    let (types, samples) = parse_exposition(&reply.text).unwrap_or_else(|e| panic!("{e}\n{}", reply.text));

    let graphql = check_histogram(&types, &samples, "billing_graphql_request_duration_seconds");
    assert!(
        graphql.iter().any(|l| l.get("operation_type").map(String::as_str) == Some("query")
            && l.get("outcome").map(String::as_str) == Some("field_errors")),
        "{graphql:?}"
    );
    let upstream = check_histogram(&types, &samples, "billing_upstream_request_duration_seconds");
    assert!(
        upstream.iter().any(|l| l.get("upstream").map(String::as_str) == Some("elastic_v1")
            && l.get("endpoint").map(String::as_str) == Some("/billing/costs/{organization_id}/deployments")
            && l.get("status").map(String::as_str) == Some("200")),
        "{upstream:?}"
    );
    // What each request cost in upstream calls, estimated and made, and the difference (whose
    // buckets go below zero).
    for name in ["billing_cost_estimated_calls", "billing_cost_actual_calls", "billing_cost_estimate_error_calls"] {
        check_histogram_of(&types, &samples, name, CALL_BUCKETS);
    }
    let counter = |name: &str, labels: &[(&str, &str)]| {
        assert_eq!(types.get(name).map(String::as_str), Some("counter"), "{name}");
        samples
            .iter()
            .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
            .map(|s| s.value)
            .sum::<f64>()
    };
    assert!(
        counter("billing_graphql_requests_total", &[("operation_type", "query"), ("outcome", "field_errors")]) >= 1.0
    );
    assert!(counter("billing_upstream_requests_total", &[("upstream", "elastic_v1"), ("status", "200")]) >= 2.0);
    assert!(counter("billing_upstream_budget_refusals_total", &[]) >= 1.0);
    assert!(counter("billing_cost_estimate_misses_total", &[]) >= 1.0);
    assert!(counter("billing_upstream_rate_limit_waits_total", &[("upstream", "elastic_v1")]) >= 1.0);
    assert!(counter("billing_cache_requests_total", &[("result", "miss")]) >= 2.0);
    assert!(counter("billing_upstream_retries_total", &[("upstream", "elastic_v1"), ("cause", "503")]) >= 1.0);
    assert!(counter("billing_plan_cache_requests_total", &[("result", "miss")]) >= 1.0);
    assert!(counter("billing_plan_cache_requests_total", &[("result", "hit")]) >= 1.0);
}

#[test]
fn the_exposition_parser_refuses_what_prometheus_would() {
    assert!(parse_exposition("# TYPE a counter\na 1\na{b=\"c\\\"d\",e=\"\"} 2 1700000000\n").is_ok());
    for bad in ["a", "a{b=c} 1", "a{b=\"c\" 1", "1a 1", "a 1 2 3", "a{b=\"c\"}1", "# TYPE a nonsense", "a x"] {
        assert!(parse_exposition(bad).is_err(), "{bad:?}");
    }
}

/// The ids a gateway gives 500 requests, 50 at a time.
async fn issued_ids(server: &Server) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..10 {
        let replies = futures::future::join_all((0..50).map(|_| server.get("/healthz", &[]))).await;
        ids.extend(replies.into_iter().map(|r| r.headers["x-request-id"].to_str().unwrap().to_owned()));
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_never_repeat_across_gateways() {
    let sim = support::sim().await;
    let one = Server::start(support::config_for(&sim.base_url())).await;
    let two = Server::start(support::config_for(&sim.base_url())).await;
    let (a, b) = tokio::join!(issued_ids(&one), issued_ids(&two));
    let all: Vec<&String> = a.iter().chain(&b).collect();
    let distinct: HashSet<&&String> = all.iter().collect();
    assert_eq!(distinct.len(), 1000, "a request id repeated");
    for id in all {
        // UUID v7: 8-4-4-4-12 lower-case hex, version 7, RFC 4122 variant.
        let bytes = id.as_bytes();
        assert_eq!(bytes.len(), 36, "{id}");
        assert!(id.split('-').map(str::len).eq([8, 4, 4, 4, 12]), "{id}");
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{id}");
        assert_eq!(bytes[14], b'7', "{id}");
        assert!(matches!(bytes[19], b'8' | b'9' | b'a' | b'b'), "{id}");
    }

    // A caller's own id is kept when it is a plain token; anything else is replaced.
    let echoed = |reply: &support::Reply| reply.headers["x-request-id"].to_str().unwrap().to_owned();
    let kept = "01HZX3R9-caller.id:42_ok";
    assert_eq!(echoed(&one.get("/healthz", &[("x-request-id", kept)]).await), kept);
    let long = "a".repeat(129);
    for bad in ["has space", "semi;colon", "quote\"", long.as_str(), ""] {
        let id = echoed(&one.get("/healthz", &[("x-request-id", bad)]).await);
        assert!(id != bad && id.len() == 36 && id.as_bytes()[14] == b'7', "{bad:?} became {id:?}");
    }
    let twice =
        one.client.get(format!("{}/healthz", one.url)).header("x-request-id", "a1").header("x-request-id", "b2");
    let reply = support::Reply::read(twice.send().await.unwrap()).await;
    let id = echoed(&reply);
    assert!(id.len() == 36 && id.as_bytes()[14] == b'7', "two ids: one of ours instead, got {id:?}");
}
