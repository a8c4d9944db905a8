//! The binary's log lines, as an operator reads them from a file or a pipe: no ANSI colour codes
//! when stdout is not a terminal, one JSON object per line with `--log-format json`, and the
//! request id in the lines of a request.

// Test helpers fail the test that calls them, as the tests themselves do.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The gateway binary on an ephemeral port, its stdout a pipe read line by line.
struct Gateway {
    child: Child,
    lines: Receiver<String>,
    url: String,
}

impl Gateway {
    fn start(args: &[&str]) -> Gateway {
        let mut child = Command::new(env!("CARGO_BIN_EXE_billing-gateway"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .env_remove("NO_COLOR")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut gateway = Gateway { child, lines, url: String::new() };
        let banner = gateway.line_with("is listening on http://");
        gateway.url = banner.split_once("is listening on ").unwrap().1.trim().to_owned();
        gateway
    }

    /// The next line containing `needle`, within 20 s.
    fn line_with(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    panic!("no line with {needle:?} from the gateway")
                }
            }
        }
    }

    async fn query(&self, request_id: &str) {
        #[allow(clippy::disallowed_methods, reason = "a test's client of the gateway")]
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let response = client
            .post(format!("{}/graphql", self.url))
            .header("content-type", "application/json")
            .header("x-request-id", request_id)
            .body(r#"{"query": "{ __typename }"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-request-id"], request_id);
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn text_logs_to_a_pipe_have_no_colour_codes_and_carry_the_request_id() {
    let mut gateway = Gateway::start(&[]);
    gateway.query("probe-text-1").await;
    let line = gateway.line_with("graphql request");
    assert!(!line.contains('\u{1b}'), "an ANSI escape in {line:?}");
    assert!(line.contains(r#"request_id="probe-text-1""#), "{line}");
    assert!(line.contains(r#"graphql.operation.type="query""#), "{line}");
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_request_id() {
    let mut gateway = Gateway::start(&["--log-format", "json"]);
    gateway.query("probe-json-1").await;
    let line = gateway.line_with("graphql request");
    assert!(!line.contains('\u{1b}'), "an ANSI escape in {line:?}");
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["message"], "graphql request", "{line}");
    let spans = event["spans"].as_array().unwrap();
    assert!(spans.iter().any(|s| s["request_id"] == "probe-json-1"), "{line}");
}
