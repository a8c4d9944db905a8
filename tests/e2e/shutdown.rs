//! Graceful shutdown: a request in flight when the signal comes still completes, while the
//! listener closes at once.

use std::time::Duration;

use billing_sim::Latency;
use billing_sim::endpoints::V1_OVERVIEW;
use tokio::time::{Instant, sleep};

use crate::support::{self, Reply, Server};

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_refuses_new_connections() {
    let sim = support::sim().await;
    sim.set_latency(Some(V1_OVERVIEW), Latency::Fixed(Duration::from_millis(1500)));
    let mut config = support::config_for(&sim.base_url());
    config.elastic_api_key = Some(support::elastic_auth(&sim));
    let mut server = Server::start(config).await;

    let query = format!(
        "{{ organization(id: \"{}\") {{ costs(from: \"2026-10-01T00:00:00Z\", to: \"2026-11-01T00:00:00Z\") {{ total }} }} }}",
        sim.dataset().demo_org().id
    );
    let request = server.client.post(server.endpoint()).json(&serde_json::json!({ "query": query }));
    let in_flight = tokio::spawn(async move { Reply::read(request.send().await.unwrap()).await });

    // In flight: the gateway's upstream call has reached the slow endpoint and is unanswered.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !sim.requests().iter().any(|r| r.template == V1_OVERVIEW && r.status.is_none()) {
        assert!(Instant::now() < deadline, "the request never reached the simulator");
        sleep(Duration::from_millis(10)).await;
    }

    server.shutdown();
    // New connections are refused as soon as the listener is dropped, while the request is
    // still being served.
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        // Until the accept loop sees the signal, a connection may still land in the backlog
        // (and be reset when the listener goes); after it, connecting is refused.
        match tokio::net::TcpStream::connect(server.addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            other => {
                assert!(Instant::now() < deadline, "the gateway still accepts connections after shutdown: {other:?}");
                sleep(Duration::from_millis(10)).await;
            }
        }
    }
    assert!(!in_flight.is_finished(), "the slow request finished before the listener closed");
    let refused = support::client().get(format!("{}/healthz", server.url)).send().await;
    assert!(refused.is_err_and(|e| e.is_connect()), "a new request was served after shutdown");

    // The in-flight request completes normally, and then `serve` returns.
    let reply = in_flight.await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert!(support::errors(&body).is_empty(), "{body:#}");
    assert!(body["data"]["organization"]["costs"]["total"].as_f64().unwrap() > 0.0);
    tokio::time::timeout(Duration::from_secs(5), server.stopped()).await.unwrap().unwrap();
}
