//! Mounts the Billing Graph schema in someone else's axum app: their router keeps its own routes
//! and adds a `POST /graphql` handler built on `async-graphql-axum`, the integration every
//! async-graphql user knows (`GraphQLRequest` in, `GraphQLResponse` out), reading the caller's
//! credentials from the headers and calling `BillingGraph::execute`. No `billing-gateway`
//! involved, and no glue: `BillingGraph` takes and gives async-graphql's own types.
//!
//! ```text
//! cargo run -p billing-examples --example embed_schema
//! ```
//!
//! It starts an embedded simulator for the upstreams, serves the app on an ephemeral port, sends
//! one query to itself the way any client would (credentials in headers), prints the answer, and
//! exits: non-zero if the query came back with errors. With `--serve` it keeps serving until
//! Ctrl-C, for a look with curl or a conformance audit.

#![allow(clippy::print_stdout)]

use std::time::Duration;

use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use billing_graphql::{BillingGraph, Credentials, SchemaConfig, Upstreams};
use billing_http::{ElasticBillingV1, ElasticBillingV2, TalkdeskBillingInsights, Transport, TransportConfig};
use serde_json::json;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The host application's state: whatever it had before, plus the schema.
#[derive(Clone, Debug)]
struct AppState {
    graph: BillingGraph,
}

/// `POST /graphql`: the caller's `Authorization` goes to Elastic only, its
/// `X-Talkdesk-Authorization` to Talkdesk only; a field whose credential is missing fails alone.
async fn graphql(State(app): State<AppState>, headers: HeaderMap, request: GraphQLRequest) -> GraphQLResponse {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let credentials = Credentials::none()
        .with_elastic_header(header("authorization"))
        .with_talkdesk_header(header("x-talkdesk-authorization"));
    app.graph.execute(request.into_inner(), credentials).await.into()
}

/// The host's router: its own routes, and the schema at `/graphql`.
fn app(graph: BillingGraph) -> Router {
    Router::new()
        .route("/", get(|| async { "Acme internal tools. Billing data: POST /graphql" }))
        .route("/api/status", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/graphql", post(graphql))
        .with_state(AppState { graph })
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(err) => {
            eprintln!("embed_schema: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<bool, BoxError> {
    // The upstreams: an embedded simulator here; the real base URLs in production.
    let sim = billing_sim::spawn(billing_sim::SimConfig::default()).await?;
    let transport = Transport::new(TransportConfig::default())?;
    let upstreams = Upstreams {
        elastic_v1: ElasticBillingV1::new(transport.clone(), &sim.elastic_v1_url())?,
        elastic_v2: ElasticBillingV2::new(transport.clone(), &sim.elastic_v2_url())?,
        talkdesk: TalkdeskBillingInsights::new(transport, &sim.talkdesk_url())?,
    };
    let graph = BillingGraph::new(upstreams, SchemaConfig::default());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app(graph))
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    println!("serving on {url} (GET / and /api/status are the host's own routes; POST /graphql is the schema)\n");
    if std::env::args().any(|a| a == "--serve") {
        tokio::signal::ctrl_c().await?;
        let _ = stop.send(());
        server.await??;
        return Ok(true);
    }

    // One query, as a client of the host app would send it.
    let ds = sim.dataset();
    let creds = ds.credentials();
    let query = format!(
        "{{ organization(id: \"{}\") {{ costs {{ total hourlyRate }} }} usageAggregates(first: 2) {{ totalCount nodes {{ accountId month type totalAmount currency }} }} }}",
        ds.demo_org().id
    );
    println!("POST {url}/graphql\n{query}\n");
    #[allow(clippy::disallowed_methods, reason = "the example's client of its own server")]
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build()?;
    let status = client.get(format!("{url}/api/status")).send().await?.error_for_status()?.text().await?;
    println!("GET {url}/api/status -> {status}\n");
    let response: serde_json::Value = client
        .post(format!("{url}/graphql"))
        .header("authorization", format!("ApiKey {}", creds.elastic_demo_key))
        .header("x-talkdesk-authorization", format!("Bearer {}", creds.talkdesk_token))
        .json(&json!({ "query": query }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    println!("{}", serde_json::to_string_pretty(&response)?);

    let _ = stop.send(());
    server.await??;
    sim.shutdown().await;
    Ok(response.get("errors").is_none() && response["data"]["organization"]["costs"]["total"].is_number())
}
