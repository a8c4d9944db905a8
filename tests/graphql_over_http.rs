//! The `graphql-http` package's server audits (GraphQL over HTTP spec conformance) against the
//! gateway on an ephemeral port: every audit must be `ok`.
//!
//! Needs Node.js and npm: `tests/audit/node_modules` is installed with `npm ci` from the
//! lockfile when missing. Without node or npm this test fails rather than skips.

// Test helpers fail the test that calls them, as the tests themselves do.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use billing_gateway::Config;

fn audit_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("audit")
}

fn run(program: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("could not run `{program}` ({e}): Node.js 18+ and npm are needed for this test"))
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_http_server_audits_all_pass() {
    let dir = audit_dir();
    if !dir.join("node_modules").join("graphql-http").exists() {
        let install = tokio::task::spawn_blocking({
            let dir = dir.clone();
            move || run("npm", &["ci", "--no-audit", "--no-fund"], &dir)
        })
        .await
        .unwrap();
        assert!(install.status.success(), "npm ci failed in {}:\n{}", dir.display(), text(&install));
    }

    let mut config = Config::defaults();
    config.sim = true;
    let server = support::Server::start(config).await;
    let url = server.endpoint();
    let audit = tokio::task::spawn_blocking(move || run("node", &["run.mjs", &url], &dir)).await.unwrap();
    let report = text(&audit);
    assert!(audit.status.success(), "graphql-http audits failed:\n{report}");
    // The runner's own summary, so a runner that audits nothing cannot pass.
    let summary = report.lines().last().unwrap_or_default();
    let (ok, total) = summary.trim_end_matches(" audits ok").split_once('/').unwrap();
    assert_eq!(ok, total, "{report}");
    assert!(total.parse::<u32>().unwrap() >= 50, "{report}");
}
