//! The end-to-end harness: a simulator on a fixed clock, a gateway serving on an ephemeral port in
//! front of it, a recording proxy for headers the simulator's log does not keep, and an HTTP client.
//!
//! Every test binary includes this module and uses part of it, hence the `dead_code` allowance.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod redis;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use billing_gateway::{Config, Gateway};
use billing_sim::{SimConfig, SimHandle};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The simulators' clock: golden files and assertions depend on it.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 15, 12, 0, 0).unwrap()
}

/// A simulator with the demo dataset (seed 42) on the fixed clock.
pub async fn sim() -> SimHandle {
    billing_sim::spawn(SimConfig::at(now())).await.unwrap()
}

/// `Authorization` for the simulator's demo Elastic key.
pub fn elastic_auth(sim: &SimHandle) -> String {
    format!("ApiKey {}", sim.dataset().credentials().elastic_demo_key)
}

/// `Bearer …` for the simulator's first Talkdesk organization.
pub fn talkdesk_auth(sim: &SimHandle) -> String {
    format!("Bearer {}", sim.dataset().credentials().talkdesk_token)
}

/// A gateway configuration pointing at `base` (a simulator's or a proxy's origin), with no
/// server-side credentials.
pub fn config_for(base: &str) -> Config {
    let mut config = Config::defaults();
    config.elastic_v1_url = Some(format!("{base}/api/v1"));
    config.elastic_v2_url = Some(format!("{base}/api/v2"));
    config.talkdesk_url = Some(base.to_owned());
    config
}

/// An HTTP client that never goes through a proxy from the environment.
#[allow(clippy::disallowed_methods, reason = "a test's client of the simulator or the gateway")]
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A gateway serving on `127.0.0.1:0` until shut down or dropped.
#[derive(Debug)]
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub addr: SocketAddr,
    pub gateway: Gateway,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// Builds the gateway from `config` and serves it.
    pub async fn start(config: Config) -> Server {
        let gateway = Gateway::build(config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(billing_gateway::serve(listener, gateway.router(), async {
            let _ = rx.await;
        }));
        Server { url: format!("http://{addr}"), addr, gateway, client: client(), shutdown: Some(tx), task: Some(task) }
    }

    /// Whether `serve` is still running: it returns only after a shutdown, or when it fails.
    pub fn is_serving(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// `{url}/graphql`.
    pub fn endpoint(&self) -> String {
        format!("{}/graphql", self.url)
    }

    /// Asks the server to stop accepting connections and finish what is in flight.
    pub fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Waits for `serve` to return after [`Server::shutdown`].
    pub async fn stopped(&mut self) -> std::io::Result<()> {
        match self.task.take() {
            Some(task) => task.await.unwrap(),
            None => Ok(()),
        }
    }

    /// POSTs `{"query": query}` as JSON with extra headers.
    pub async fn query(&self, query: &str, headers: &[(&str, &str)]) -> Reply {
        self.post_json(&serde_json::json!({ "query": query }), headers).await
    }

    /// POSTs a JSON body to `/graphql`.
    pub async fn post_json(&self, body: &Value, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.client.post(self.endpoint()).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::read(request.send().await.unwrap()).await
    }

    /// POSTs raw bytes to `/graphql` with this content type.
    pub async fn post_raw(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.client.post(self.endpoint()).header("content-type", content_type).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::read(request.send().await.unwrap()).await
    }

    /// GETs a path (with its query string) of the server.
    pub async fn get(&self, path_and_query: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.client.get(format!("{}{path_and_query}", self.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::read(request.send().await.unwrap()).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A whole HTTP response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub async fn read(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        Reply { status, headers, text }
    }

    /// The `Content-Type`, or "".
    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// The value of a response header, if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text))
    }

    /// `extensions.code` of every error, in order.
    pub fn error_codes(&self) -> Vec<String> {
        errors(&self.json()).iter().map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_owned()).collect()
    }
}

/// The `errors` array of a GraphQL response (empty when absent).
pub fn errors(body: &Value) -> Vec<Value> {
    body.get("errors").and_then(Value::as_array).cloned().unwrap_or_default()
}

/// One request as the recording proxy received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Every header, names lower case.
    pub headers: Vec<(String, String)>,
}

impl Seen {
    /// The value of a header, if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Whether this is an Elastic request (v1 or v2) rather than a Talkdesk one.
    pub fn is_elastic(&self) -> bool {
        self.uri.starts_with("/api/v1/") || self.uri.starts_with("/api/v2/")
    }
}

#[derive(Debug, Clone)]
struct ProxyState {
    target: String,
    /// Substring replacements applied to request header values before forwarding.
    rewrites: Arc<Vec<(String, String)>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    client: reqwest::Client,
}

/// A forwarding proxy in front of a simulator that records every header the gateway sends
/// (the simulator's own log keeps only `Authorization`), and can translate credentials.
#[derive(Debug)]
pub struct Proxy {
    /// `http://127.0.0.1:PORT`: use as the gateway's upstream origin.
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Forwards to `target` (an origin), replacing each `(from, to)` in header values.
    pub async fn start(target: &str, rewrites: Vec<(String, String)>) -> Proxy {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = ProxyState {
            target: target.to_owned(),
            rewrites: Arc::new(rewrites),
            seen: seen.clone(),
            client: client(),
        };
        let app = axum::Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Proxy { url, seen, task }
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(proxy): State<ProxyState>, request: Request) -> Response {
    let uri = request.uri().path_and_query().map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    proxy.seen.lock().unwrap().push(Seen {
        method: request.method().to_string(),
        uri: uri.clone(),
        headers: headers.clone(),
    });

    let method = reqwest::Method::from_bytes(request.method().as_str().as_bytes()).unwrap();
    let mut upstream = proxy.client.request(method, format!("{}{uri}", proxy.target));
    for (name, mut value) in headers {
        if name == "host" {
            continue;
        }
        for (from, to) in proxy.rewrites.iter() {
            value = value.replace(from, to);
        }
        upstream = upstream.header(name, value);
    }
    let body = axum::body::to_bytes(request.into_body(), usize::MAX).await.unwrap();
    let response = match upstream.body(body).send().await {
        Ok(r) => r,
        Err(_) => return StatusCode::BAD_GATEWAY.into_response(),
    };
    let mut out = Response::builder().status(response.status().as_u16());
    for (name, value) in response.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            out = out.header(name.as_str(), value.as_bytes());
        }
    }
    let bytes = response.bytes().await.unwrap_or_default();
    out.body(Body::from(bytes)).unwrap()
}

/// One span as an OTLP receiver got it, flattened: ids in hex, every value as text.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    /// `SpanKind` as the protocol numbers it: 2 server, 3 client.
    pub kind: i32,
    pub attributes: Vec<(String, String)>,
    /// Each event's name and attributes.
    pub events: Vec<(String, Vec<(String, String)>)>,
    pub status_message: String,
    /// The resource and scope the span was exported under.
    pub resource: Vec<(String, String)>,
    pub scope: String,
}

impl ReceivedSpan {
    /// An attribute's value, as text.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every piece of text the span carries: name, keys, values, events, status, resource.
    pub fn texts(&self) -> Vec<&str> {
        fn pairs(kv: &[(String, String)]) -> impl Iterator<Item = &str> {
            kv.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()])
        }
        let mut out = vec![self.name.as_str(), self.status_message.as_str(), self.scope.as_str()];
        out.extend(pairs(&self.attributes));
        out.extend(pairs(&self.resource));
        for (name, attributes) in &self.events {
            out.push(name);
            out.extend(pairs(attributes));
        }
        out
    }
}

/// A minimal OpenTelemetry collector: `POST /v1/traces` with an OTLP/HTTP protobuf
/// `ExportTraceServiceRequest`, decoded with `opentelemetry-proto`'s types and kept.
#[derive(Debug)]
pub struct OtlpReceiver {
    /// `http://127.0.0.1:PORT`: the base URL, as `--otlp-endpoint` takes it.
    pub url: String,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    task: JoinHandle<()>,
}

impl OtlpReceiver {
    pub async fn start() -> OtlpReceiver {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new().route("/v1/traces", axum::routing::post(receive)).with_state(spans.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        OtlpReceiver { url, spans, task }
    }

    /// The traces endpoint: `{url}/v1/traces`.
    pub fn traces_url(&self) -> String {
        format!("{}/v1/traces", self.url)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().unwrap().clone()
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(spans): State<Arc<Mutex<Vec<ReceivedSpan>>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;

    // OTLP/HTTP protobuf only: anything else is refused, and the test sees no span.
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if content_type != "application/x-protobuf" {
        return StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response();
    }
    let mut received = Vec::new();
    for resource_spans in request.resource_spans {
        let resource: Vec<(String, String)> =
            resource_spans.resource.map(|r| key_values(&r.attributes)).unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            let scope = scope_spans.scope.map(|s| s.name).unwrap_or_default();
            for span in scope_spans.spans {
                received.push(ReceivedSpan {
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    kind: span.kind,
                    attributes: key_values(&span.attributes),
                    events: span.events.iter().map(|e| (e.name.clone(), key_values(&e.attributes))).collect(),
                    status_message: span.status.map(|s| s.message).unwrap_or_default(),
                    resource: resource.clone(),
                    scope: scope.clone(),
                });
            }
        }
    }
    spans.lock().unwrap().extend(received);
    // An empty `ExportTraceServiceResponse`: everything accepted.
    ([("content-type", "application/x-protobuf")], Vec::<u8>::new()).into_response()
}

fn key_values(kvs: &[opentelemetry_proto::tonic::common::v1::KeyValue]) -> Vec<(String, String)> {
    kvs.iter().map(|kv| (kv.key.clone(), kv.value.as_ref().map(any_value).unwrap_or_default())).collect()
}

fn any_value(value: &opentelemetry_proto::tonic::common::v1::AnyValue) -> String {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    match &value.value {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::ArrayValue(a)) => a.values.iter().map(any_value).collect::<Vec<_>>().join(","),
        Some(Value::KvlistValue(l)) => {
            key_values(&l.values).into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
        }
        Some(Value::BytesValue(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
