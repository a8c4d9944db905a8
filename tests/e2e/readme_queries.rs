//! The README's example queries (`tests/queries/*.graphql`) answer what their golden files
//! (`*.expected.json`) hold, on a simulator with a fixed clock and seed.
//!
//! `UPDATE_EXPECT=1 cargo test -p billing-e2e --test e2e readme` rewrites the golden files.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{self, Server};

fn queries_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("queries")
}

/// Runs one query file and compares its answer with the golden file next to it.
async fn check(server: &Server, query_file: &Path) -> Result<(), String> {
    let query = std::fs::read_to_string(query_file).unwrap();
    let reply = server.query(&query, &[]).await;
    assert_eq!(reply.status, 200, "{}: {}", query_file.display(), reply.text);
    let actual = reply.json();
    // A golden file must show a working query, not an error someone forgot to read.
    assert!(support::errors(&actual).is_empty(), "{}: {actual:#}", query_file.display());
    assert!(actual["data"].is_object(), "{}: {actual:#}", query_file.display());

    let expected_file = query_file.with_extension("expected.json");
    let pretty = pretty(&reply.text);
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&expected_file, pretty).unwrap();
        return Ok(());
    }
    let expected: Value = match std::fs::read_to_string(&expected_file) {
        Ok(text) => serde_json::from_str(&text).unwrap(),
        Err(_) => return Err(format!("{} is missing; run with UPDATE_EXPECT=1", expected_file.display())),
    };
    if expected == actual {
        Ok(())
    } else {
        Err(format!(
            "{} differs from {} (UPDATE_EXPECT=1 rewrites it); actual:\n{pretty}",
            query_file.display(),
            expected_file.display()
        ))
    }
}

/// Indents compact JSON text two spaces a level, keeping its member order (the query's, which a
/// `serde_json::Value` would sort) so the golden files read like the README shows them.
fn pretty(compact: &str) -> String {
    let (mut out, mut depth, mut in_string, mut escaped) = (String::new(), 0usize, false, false);
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    let mut chars = compact.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                if matches!(chars.peek(), Some('}' | ']')) {
                    out.push(chars.next().unwrap_or(c));
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}

#[test]
fn pretty_keeps_member_order() {
    let text = r#"{"b":[1,{"a":"x,\"}{"}],"a":{},"c":[]}"#;
    let expected =
        "{\n  \"b\": [\n    1,\n    {\n      \"a\": \"x,\\\"}{\"\n    }\n  ],\n  \"a\": {},\n  \"c\": []\n}\n";
    assert_eq!(pretty(text), expected);
    let reparsed: Value = serde_json::from_str(&pretty(text)).unwrap();
    assert_eq!(reparsed, serde_json::from_str::<Value>(text).unwrap());
}

#[tokio::test]
async fn readme_queries_answer_their_golden_files() {
    let sim = support::sim().await;
    // As the README runs them: against a gateway with server-side credentials, so the queries
    // need no headers.
    let mut config = support::config_for(&sim.base_url());
    config.elastic_api_key = Some(support::elastic_auth(&sim));
    config.talkdesk_token = Some(support::talkdesk_auth(&sim));
    let server = Server::start(config).await;

    let mut files: Vec<PathBuf> = std::fs::read_dir(queries_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .collect();
    files.sort();
    let names: Vec<_> = files.iter().map(|f| f.file_stem().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["deployment_chart", "focus_usage", "org_costs", "talkdesk_usage"]);

    let mut failures = Vec::new();
    for file in &files {
        if let Err(e) = check(&server, file).await {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    // Each query went to the upstreams it names: v1 and v2 for the deployment, Talkdesk for usage.
    let stats = sim.stats();
    for endpoint in [
        billing_sim::endpoints::V1_OVERVIEW,
        billing_sim::endpoints::V1_DEPLOYMENTS,
        billing_sim::endpoints::V1_DEPLOYMENT_CHARTS,
        billing_sim::endpoints::V2_INSTANCES,
        billing_sim::endpoints::TALKDESK_USAGE,
    ] {
        assert!(stats.calls(endpoint) >= 1, "{endpoint} was not called: {stats:?}");
    }
}
