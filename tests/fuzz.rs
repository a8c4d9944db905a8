//! A fuzz campaign on the HTTP request path: no request takes the gateway down.
//!
//! One simulator and one gateway are built once. Every generated request goes through the real
//! router with `tower::ServiceExt::oneshot` (the real handler, real JSON, the simulator over real
//! HTTP behind it), spawned on a multi-thread tokio runtime whose workers keep the default stack
//! size, so a document that makes the gateway recurse too deep overflows here as it would in
//! production. For every case the handler must answer within a time bound, with one of the
//! statuses the GraphQL-over-HTTP surface uses, a JSON body, and a string `extensions.code` on
//! every error (never `INTERNAL`, which is what a panic during execution turns into). Where the
//! input is known to be bad (a document that cannot parse, a fragment cycle, a fan-out bomb, an
//! organization id that cannot be put in a path, a malformed body) the answer must name it with
//! the expected code; where a well-formed document is known to be valid, it must not be refused as
//! unparsable, invalid or too complex. After each property the gateway must still answer
//! `GET /healthz`.
//!
//! Why proptest rather than cargo-fuzz: it runs inside `cargo test` on stable with no extra
//! toolchain (cargo-fuzz needs nightly and libFuzzer), it shrinks a failure to a minimal case, and
//! its strategies generate *structured* hostile GraphQL documents (real schema fields with hostile
//! arguments, fragment cycles and fan-outs, deep nesting, directives and variables) inside
//! structured hostile HTTP requests, rather than random bytes the parser rejects at once.
//!
//! The bounded run is part of the suite (a few thousand cases in all):
//!
//! ```sh
//! cargo test -p billing-e2e --test fuzz
//! ```
//!
//! The longer campaign:
//!
//! ```sh
//! BILLING_FUZZ_CASES=200000 cargo test -p billing-e2e --release --test fuzz
//! ```
//!
//! `BILLING_FUZZ_CASES` is the total number of cases, shared among the properties. Seeds of
//! failures are kept in `target/tmp/fuzz-*.proptest-regressions` and replayed first on the next
//! run. A stack overflow aborts the process before proptest can report it, so each property first
//! writes the request it is about to send to `target/tmp/fuzz-last-case-*.txt`. Every crash or
//! wrong answer found becomes a named regression test at the end of this file.

// Test helpers fail the test that calls them, as the tests themselves do.
#![allow(clippy::unwrap_used)]

#[path = "support/mod.rs"]
mod support;

use std::fmt;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use billing_gateway::Gateway;
use billing_sim::SimHandle;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};
use tower::ServiceExt;

// ---------------------------------------------------------------------------------------------
// Codes, limits and the bound on each case.
// ---------------------------------------------------------------------------------------------

const PARSE: &str = "GRAPHQL_PARSE_FAILED";
const INVALID: &str = "GRAPHQL_VALIDATION_FAILED";
const COMPLEX: &str = "QUERY_TOO_COMPLEX";
const DEEP: &str = "QUERY_TOO_DEEP";
const BAD_INPUT: &str = "BAD_USER_INPUT";
const TOKENS: &str = "TOKEN_LIMIT_EXCEEDED";
const ALIASES: &str = "ALIAS_LIMIT_EXCEEDED";
const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
const BAD_REQUEST: &str = "BAD_REQUEST";

/// The gateway's defaults (`Config::defaults()`), which the generators aim at and around.
const MAX_TOKENS: usize = 10_000;
const MAX_ALIASES: usize = 30;
const MAX_COMPLEXITY: usize = 20_000;
const MAX_DEPTH: usize = 12;
const BODY_LIMIT: usize = 1024 * 1024;
/// serde_json's nesting limit for the request body.
const JSON_DEPTH_LIMIT: usize = 128;

/// Generous for a loaded two-core CI machine in a debug build: the point is catching the
/// multi-second CPU blowups (an exponential fragment expansion), not measuring latency.
const CASE_TIMEOUT: Duration = Duration::from_secs(5);

/// Every status the GraphQL-over-HTTP surface may answer a request to `/graphql` with.
const STATUSES: [u16; 8] = [200, 400, 405, 406, 413, 415, 429, 504];

/// Stands for a generated part's own prefix in names (fragments, variables, aliases), so parts
/// generated independently never collide once assembled into one document.
const P: &str = "\u{24c5}";

/// The total number of cases when `BILLING_FUZZ_CASES` is not set: keeps the whole binary under
/// about a minute in a debug build on a two-core machine.
const DEFAULT_CASES: u32 = 5_000;

// ---------------------------------------------------------------------------------------------
// One simulator, one gateway, one runtime for every property.
// ---------------------------------------------------------------------------------------------

/// What the properties share: built once, on first use.
struct World {
    runtime: tokio::runtime::Runtime,
    router: Router,
    fx: Fixtures,
    // Kept alive for the router: the gateway's clients call this simulator.
    _sim: SimHandle,
    _gateway: Gateway,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    // Worker threads keep tokio's default stack size: a stack overflow is a finding.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (sim, gateway) = runtime.block_on(async {
        let sim = support::sim().await;
        let mut config = support::config_for(&sim.base_url());
        // Every case comes from a handful of credentials, far faster than a person: the
        // per-caller rate limit would answer most of them 429 before the document is read.
        config.caller_rps = 0;
        let gateway = Gateway::build(config).await.unwrap();
        (sim, gateway)
    });
    let router = gateway.router();
    let fx = Fixtures::of(&sim);
    World { runtime, router, fx, _sim: sim, _gateway: gateway }
});

/// Real ids and credentials of the simulator's dataset, mixed into the generated requests.
#[derive(Debug, Clone)]
struct Fixtures {
    org: String,
    other_org: String,
    /// Every organization id of the dataset.
    orgs: Vec<String>,
    deployments: Vec<String>,
    account: String,
    elastic_key: String,
    elastic_other_key: String,
    talkdesk_token: String,
}

impl Fixtures {
    fn of(sim: &SimHandle) -> Self {
        let data = sim.dataset();
        let creds = data.credentials();
        let demo = data.demo_org();
        let talkdesk = &data.talkdesk_organizations()[0];
        Fixtures {
            org: demo.id.to_string(),
            other_org: data.other_org().id.to_string(),
            orgs: data.organizations().iter().map(|o| o.id.to_string()).collect(),
            deployments: demo.deployments.iter().take(4).map(|d| d.id.to_string()).collect(),
            account: talkdesk.accounts[0].to_string(),
            elastic_key: creds.elastic_demo_key.clone(),
            elastic_other_key: creds.elastic_other_key.clone(),
            talkdesk_token: creds.talkdesk_token.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sending a request and checking the answer.
// ---------------------------------------------------------------------------------------------

/// A whole answer of the router.
#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

/// Sends `request` through `router` on a task of the current runtime, as a connection of the
/// real server would be served: a panic in the handler fails the caller, and an answer later than
/// [`CASE_TIMEOUT`] is an error.
async fn send(router: &Router, request: Request<Body>) -> Result<Reply, String> {
    let router = router.clone();
    let task = tokio::spawn(async move {
        let response = router.oneshot(request).await.unwrap_or_else(|never| match never {});
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(Reply { status, content_type, body: body.to_vec() })
    });
    let abort = task.abort_handle();
    let started = Instant::now();
    match tokio::time::timeout(CASE_TIMEOUT, task).await {
        Err(_) => {
            abort.abort();
            Err(format!("no answer within {:?}", started.elapsed()))
        }
        Ok(Err(join)) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Ok(Err(join)) => Err(format!("the handler task was cancelled: {join}")),
        Ok(Ok(reply)) => reply,
    }
}

/// The media type a response should have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    Json,
    GraphQlResponse,
}

impl Media {
    fn essence(self) -> &'static str {
        match self {
            Media::Json => "application/json",
            Media::GraphQlResponse => "application/graphql-response+json",
        }
    }
}

/// How a credential header is received: what the gateway can tell before sending anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cred {
    /// Reads the demo organization.
    Valid,
    /// Well formed but not the demo's: only the upstream can refuse it.
    Sent,
    /// Missing, or refused by the gateway itself (empty, bad characters, another scheme).
    Local,
}

/// Something the answer must show.
#[derive(Debug, Clone)]
enum Want {
    /// An error with one of these codes.
    Code(&'static [&'static str]),
    /// Some error, whatever its code (which must still be a string).
    AnyError,
    /// An organization id that cannot be put in a path: `BAD_USER_INPUT`, or `UNAUTHENTICATED`
    /// when the gateway could refuse the credential before sending anything.
    BadOrgId,
    /// The organization under this alias is unknown: every field of it that calls an upstream is
    /// null (no other organization's data through a crafted id).
    OrgNull { alias: String },
    /// The usage rows under this alias match the filter (no filter injection).
    UsageWithin { alias: String, accounts: Option<Vec<String>>, months: Option<Vec<String>> },
    /// The response key is present (or absent, when skipped) in `data`.
    Key { alias: String, present: bool },
}

impl Want {
    /// Replaces the part placeholder in aliases.
    fn retag(self, tag: &str) -> Want {
        match self {
            Want::OrgNull { alias } => Want::OrgNull { alias: alias.replace(P, tag) },
            Want::UsageWithin { alias, accounts, months } => {
                Want::UsageWithin { alias: alias.replace(P, tag), accounts, months }
            }
            Want::Key { alias, present } => Want::Key { alias: alias.replace(P, tag), present },
            other => other,
        }
    }
}

/// What a document may be refused for, beyond its wants: known to the generators that made it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct May {
    parse: bool,
    invalid: bool,
    complex: bool,
}

impl May {
    const ALL: May = May { parse: true, invalid: true, complex: true };

    fn or(self, other: May) -> May {
        May {
            parse: self.parse || other.parse,
            invalid: self.invalid || other.invalid,
            complex: self.complex || other.complex,
        }
    }
}

/// A generated GraphQL document with its variables, and what its answer must show.
#[derive(Clone, Default)]
struct Doc {
    text: String,
    variables: Map<String, Value>,
    operation_name: Option<String>,
    /// Wants about the document as a whole (parse, validation, limits).
    doc_wants: Vec<Want>,
    /// Wants about fields, which hold only when the main operation executes.
    field_wants: Vec<Want>,
    may: May,
    aliases: usize,
    /// Whether the document has a mutation or subscription, which a GET may be refused for (405).
    mutation: bool,
}

impl fmt::Debug for Doc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Doc")
            .field("text", &Clip(&self.text))
            .field("variables", &Clip(&Value::Object(self.variables.clone()).to_string()))
            .field("operation_name", &self.operation_name)
            .field("doc_wants", &self.doc_wants)
            .field("field_wants", &self.field_wants)
            .field("may", &self.may)
            .finish_non_exhaustive()
    }
}

/// Debug-prints a string, cut short when long, so a shrunk failure stays readable.
struct Clip<'a>(&'a str);

impl fmt::Debug for Clip<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 4_000;
        if self.0.len() <= MAX {
            return fmt::Debug::fmt(self.0, f);
        }
        let mut end = MAX;
        while !self.0.is_char_boundary(end) {
            end -= 1;
        }
        write!(f, "{:?}... ({} bytes)", &self.0[..end], self.0.len())
    }
}

/// What the answer to a request must be.
#[derive(Debug, Clone)]
enum Expect {
    /// Refused before the document is executed, with this status and one error of this code.
    Refused { status: u16, code: &'static str, media: Media },
    /// The document reaches the GraphQL layer.
    Runs { doc: Doc, media: Media, elastic: Cred, get: bool },
    /// Either (around a limit whose exact edge the test does not pin).
    Either(Box<Expect>, Box<Expect>),
}

/// One generated request and what its answer must be.
#[derive(Clone)]
struct Case {
    method: Method,
    uri: String,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
    expect: Expect,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, String)> =
            self.headers.iter().map(|(n, v)| (*n, String::from_utf8_lossy(v).into_owned())).collect();
        f.debug_struct("Case")
            .field("method", &self.method)
            .field("uri", &Clip(&self.uri))
            .field("headers", &headers)
            .field("body", &Clip(&String::from_utf8_lossy(&self.body)))
            .field("expect", &self.expect)
            .finish()
    }
}

impl Case {
    fn request(&self) -> Request<Body> {
        let mut request = Request::builder().method(self.method.clone()).uri(&self.uri).header("host", "localhost");
        for (name, value) in &self.headers {
            request = request.header(*name, value.as_slice());
        }
        request.body(Body::from(self.body.clone())).unwrap()
    }

    /// The request in full, for the last-case file.
    fn describe(&self) -> String {
        let mut out = format!("{} {}\n", self.method, self.uri);
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(value)));
        }
        out.push('\n');
        out.push_str(&String::from_utf8_lossy(&self.body));
        out
    }
}

/// The `extensions.code` of every error, or why the body is not a well-formed answer.
fn codes_of(body: &Value) -> Result<Vec<String>, String> {
    let Some(errors) = body.get("errors") else { return Ok(Vec::new()) };
    let errors = errors.as_array().ok_or("`errors` is not an array")?;
    if errors.is_empty() {
        return Err("`errors` is present but empty".into());
    }
    errors
        .iter()
        .map(|e| match e.pointer("/extensions/code").and_then(Value::as_str) {
            Some(code) => Ok(code.to_owned()),
            None => Err(format!("an error without a string extensions.code: {e}")),
        })
        .collect()
}

/// Checks an answer against every rule and the case's expectation.
fn check(expect: &Expect, reply: Result<Reply, String>) -> Result<(), String> {
    let reply = reply?;
    let text = String::from_utf8_lossy(&reply.body);
    let context = || format!("status {}, content-type {:?}, body {:?}", reply.status, reply.content_type, Clip(&text));
    if !STATUSES.contains(&reply.status) {
        return Err(format!("unexpected status: {}", context()));
    }
    let body: Value =
        serde_json::from_slice(&reply.body).map_err(|e| format!("the body is not JSON ({e}): {}", context()))?;
    let codes = codes_of(&body).map_err(|e| format!("{e}: {}", context()))?;
    if codes.iter().any(|c| c == "INTERNAL") {
        return Err(format!("INTERNAL (a panic or broken invariant during execution): {}", context()));
    }
    check_expect(expect, &reply, &body, &codes).map_err(|e| format!("{e}: {}", context()))
}

fn check_expect(expect: &Expect, reply: &Reply, body: &Value, codes: &[String]) -> Result<(), String> {
    match expect {
        Expect::Either(a, b) => check_expect(a, reply, body, codes)
            .or_else(|ea| check_expect(b, reply, body, codes).map_err(|eb| format!("neither: {ea}; nor: {eb}"))),
        Expect::Refused { status, code, media } => {
            if reply.status != *status || codes != [*code] {
                return Err(format!("expected a refusal {status} {code}, got {} {codes:?}", reply.status));
            }
            if !reply.content_type.starts_with(media.essence()) {
                return Err(format!("expected {} for a refusal", media.essence()));
            }
            if body.get("data").is_some() {
                return Err("a refusal with `data`".into());
            }
            Ok(())
        }
        Expect::Runs { doc, media, elastic, get } => check_run(doc, *media, *elastic, *get, reply, body, codes),
    }
}

fn check_run(
    doc: &Doc,
    media: Media,
    elastic: Cred,
    get: bool,
    reply: &Reply,
    body: &Value,
    codes: &[String],
) -> Result<(), String> {
    let has = |code: &str| codes.iter().any(|c| c == code);
    if reply.status == 405 {
        return if get && doc.mutation && codes == ["METHOD_NOT_ALLOWED"] {
            Ok(())
        } else {
            Err(format!("405 {codes:?} for a document that is not a mutation sent by GET"))
        };
    }
    if reply.status == 429 {
        return if codes == ["CALLER_RATE_LIMITED"] { Ok(()) } else { Err(format!("429 {codes:?}")) };
    }
    if reply.status != 200 && reply.status != 400 {
        return Err(format!("status {} for a well-formed request", reply.status));
    }
    if !reply.content_type.starts_with(media.essence()) {
        return Err(format!("expected {}", media.essence()));
    }
    // Request errors (no `data`) are 400 under the spec's media type and 200 under
    // application/json; an executed operation is always 200.
    let request_error = body.get("data").is_none();
    let status = match (request_error, media) {
        (true, Media::GraphQlResponse) => 400,
        _ => 200,
    };
    if reply.status != status {
        return Err(format!("status {} where {status} was due (request error: {request_error})", reply.status));
    }
    if request_error && codes.is_empty() {
        return Err("neither data nor errors".into());
    }
    // Every root field of the schema is nullable: a field error nulls that field, never `data`.
    if body.get("data").is_some_and(Value::is_null) {
        return Err("`data` is null after execution, where only the failed root fields should be".into());
    }

    // Refusals of the whole document are allowed only when the generator says they may happen.
    let tokens = doc.text.len() > MAX_TOKENS;
    let aliases = doc.aliases > MAX_ALIASES;
    let refusals: [(&str, bool); 6] = [
        (PARSE, doc.may.parse),
        (INVALID, doc.may.invalid),
        (COMPLEX, doc.may.complex),
        (DEEP, doc.may.complex),
        (TOKENS, tokens),
        (ALIASES, aliases),
    ];
    for (code, allowed) in refusals {
        if has(code) && !allowed {
            return Err(format!("refused with {code}, which this document gives no reason for"));
        }
    }
    let masked = refusals.iter().any(|(code, allowed)| *allowed && has(code));

    let mut wants = doc.doc_wants.clone();
    if aliases && !doc.may.parse {
        wants.push(Want::Code(&[ALIASES]));
    }
    wants.extend(doc.field_wants.iter().cloned());
    for want in &wants {
        if masked && !matches!(want, Want::OrgNull { .. } | Want::UsageWithin { .. } | Want::Key { .. }) {
            continue;
        }
        check_want(want, elastic, body, codes)?;
    }
    Ok(())
}

fn check_want(want: &Want, elastic: Cred, body: &Value, codes: &[String]) -> Result<(), String> {
    let has_any = |set: &[&str]| codes.iter().any(|c| set.contains(&c.as_str()));
    let data = body.get("data").filter(|d| d.is_object());
    match want {
        Want::Code(set) if !has_any(set) => Err(format!("expected an error with a code in {set:?}, got {codes:?}")),
        Want::AnyError if codes.is_empty() => Err("expected an error, got none".into()),
        Want::BadOrgId => {
            let mut set = vec![BAD_INPUT];
            if elastic == Cred::Local {
                set.push(UNAUTHENTICATED);
            }
            if has_any(&set) {
                Ok(())
            } else {
                Err(format!("an organization id that cannot be put in a path: expected {set:?}, got {codes:?}"))
            }
        }
        Want::OrgNull { alias } => {
            let Some(org) = data.and_then(|d| d.get(alias)).and_then(Value::as_object) else { return Ok(()) };
            for (key, value) in org {
                if key != "id" && key != "__typename" && !value.is_null() {
                    return Err(format!("`{alias}.{key}` of an unknown organization is not null: {value}"));
                }
            }
            Ok(())
        }
        Want::UsageWithin { alias, accounts, months } => {
            let nodes = data.and_then(|d| d.pointer(&format!("/{alias}/nodes"))).and_then(Value::as_array);
            for node in nodes.into_iter().flatten() {
                let within = |field: &str, allowed: &Option<Vec<String>>| match (allowed, node.get(field)) {
                    (Some(list), Some(Value::String(v))) => list.contains(v),
                    _ => true,
                };
                if !within("accountId", accounts) || !within("month", months) {
                    return Err(format!("`{alias}` has a row outside its filter: {node}"));
                }
            }
            Ok(())
        }
        Want::Key { alias, present } => match data {
            Some(d) if d.get(alias).is_some() != *present => {
                Err(format!("`{alias}` should be {}", if *present { "present" } else { "left out" }))
            }
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Running a property.
// ---------------------------------------------------------------------------------------------

/// The cases of a property: its share (in percent) of `BILLING_FUZZ_CASES`.
fn cases(share: u32) -> u32 {
    let total =
        std::env::var("BILLING_FUZZ_CASES").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(DEFAULT_CASES.into());
    u32::try_from(total * u64::from(share) / 100).unwrap_or(u32::MAX).max(1)
}

/// Runs `strategy` against the shared gateway; `persistence` is where failing seeds are kept
/// (under `target/`, never in the source tree).
fn run_property(name: &str, persistence: &'static str, share: u32, strategy: impl Strategy<Value = Case>) {
    let world = &*WORLD;
    let config = ProptestConfig {
        cases: cases(share),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(persistence))),
        source_file: Some(file!()),
        max_shrink_time: 60_000,
        ..ProptestConfig::default()
    };
    let last_case = format!("{}/fuzz-last-case-{name}.txt", env!("CARGO_TARGET_TMPDIR"));
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |case| {
        // Written first: a stack overflow aborts the process without a report.
        let _ = std::fs::write(&last_case, case.describe());
        let reply = world.runtime.block_on(send(&world.router, case.request()));
        check(&case.expect, reply).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    let health = world.runtime.block_on(send(&world.router, get("/healthz"))).unwrap();
    assert_eq!((health.status, health.body.as_slice()), (200, &b"ok"[..]), "{name}: the gateway is not healthy");
}

fn get(uri: &str) -> Request<Body> {
    Request::builder().uri(uri).header("host", "localhost").body(Body::empty()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Strings: odd characters and GraphQL literals.
// ---------------------------------------------------------------------------------------------

/// Characters that have tripped parsers, path builders and logs. No braces: comments are
/// inserted after braces, and truncation counts them (see [`apply`]).
const ODD: &[&str] = &[
    "\u{0}",
    "\u{1}",
    "\u{1b}[31m",
    "\t",
    "\n",
    "\r\n",
    "\u{7f}",
    "\u{85}",
    "\u{202e}",
    "\u{200f}",
    "\u{200b}",
    "\u{feff}",
    "\u{fffd}",
    "\u{10ffff}",
    "😀",
    "👩‍👩‍👧",
    "é",
    "\u{301}",
    "\"",
    "\\",
    "'",
    "%",
    "%2e",
    "%2F",
    "%00",
    "/",
    "..",
    "?",
    "#",
    "&",
    "=",
    " ",
    "+",
    ";",
    "$",
    "@",
    ":",
    "*",
    "usage:",
    "\" OR accountId=\"",
    "' OR 1=1 --",
];

/// A string of odd characters and plain words.
fn odd_string() -> BoxedStrategy<String> {
    proptest::collection::vec(prop_oneof![2 => select(ODD).prop_map(str::to_owned), 1 => "[a-z0-9]{1,6}"], 0..6)
        .prop_map(|parts| parts.concat())
        .boxed()
}

/// Whether an id cannot name anything in a path: empty, a dot segment, a slash, a control
/// character, or longer than the schema documents (128 bytes; real ids are 10 to 32).
fn is_bad_id(id: &str) -> bool {
    id.is_empty() || id == "." || id == ".." || id.contains('/') || id.chars().any(char::is_control) || id.len() > 128
}

/// A GraphQL string literal: quotes, backslashes and control characters escaped.
fn gql_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A value passed as an argument: written in the document, or through a variable.
#[derive(Debug, Clone)]
struct Arg {
    text: String,
    var_def: Option<String>,
    var: Option<(String, Value)>,
}

impl Arg {
    fn literal(text: impl Into<String>) -> Arg {
        Arg { text: text.into(), var_def: None, var: None }
    }

    /// `$<part><name>: ty`, with `value` sent in `variables`.
    fn variable(name: &str, ty: &str, value: Value) -> Arg {
        Arg {
            text: format!("${P}{name}"),
            var_def: Some(format!("${P}{name}: {ty}")),
            var: Some((format!("{P}{name}"), value)),
        }
    }

    /// A string, as a literal or a variable.
    fn string(name: &str, ty: &str, value: &str, by_variable: bool) -> Arg {
        if by_variable {
            Arg::variable(name, ty, Value::String(value.to_owned()))
        } else {
            Arg::literal(gql_str(value))
        }
    }

    fn add_to(&self, part: &mut Part) {
        part.var_defs.extend(self.var_def.clone());
        part.vars.extend(self.var.clone());
    }
}

// ---------------------------------------------------------------------------------------------
// Parts of a document.
// ---------------------------------------------------------------------------------------------

/// A piece of a document's operation: a selection with the fragments, variables and wants it
/// brings, and its complexity and depth as async-graphql counts them.
#[derive(Debug, Clone, Default)]
struct Part {
    sel: String,
    fragments: String,
    var_defs: Vec<String>,
    vars: Vec<(String, Value)>,
    doc_wants: Vec<Want>,
    field_wants: Vec<Want>,
    may: May,
    aliases: usize,
    /// async-graphql's complexity.
    cost: usize,
    /// Fields nested in fields, as async-graphql's depth limit counts them.
    depth: usize,
    /// Fields selected once fragments are expanded, every fragment definition counted too,
    /// when fragments make it more than the names in the text (see [`assemble`]).
    fields: usize,
    /// Nesting of selection sets, inline fragments and spreads once fragments are expanded,
    /// when fragments make it more than the brackets in the text.
    nesting: usize,
}

impl Part {
    fn leaf(name: &str) -> Part {
        Part { sel: name.to_owned(), cost: 1, depth: 1, ..Part::default() }
    }

    fn leaves(names: &[&str]) -> Part {
        Part::join(names.iter().map(|n| Part::leaf(n)).collect())
    }

    /// Siblings in one selection set.
    fn join(parts: Vec<Part>) -> Part {
        let mut out = Part::default();
        for p in parts {
            if !out.sel.is_empty() && !p.sel.is_empty() {
                out.sel.push(' ');
            }
            out.sel.push_str(&p.sel);
            out.fragments.push_str(&p.fragments);
            out.var_defs.extend(p.var_defs);
            out.vars.extend(p.vars);
            out.doc_wants.extend(p.doc_wants);
            out.field_wants.extend(p.field_wants);
            out.may = out.may.or(p.may);
            out.aliases += p.aliases;
            out.cost = out.cost.saturating_add(p.cost);
            out.depth = out.depth.max(p.depth);
            out.fields = out.fields.saturating_add(p.fields);
            out.nesting = out.nesting.max(p.nesting);
        }
        out
    }

    /// `head { inner }`, costing `cost(inner's complexity)`.
    fn field(head: impl Into<String>, inner: Part, cost: impl Fn(usize) -> usize) -> Part {
        let head = head.into();
        Part {
            sel: format!("{head} {{ {} }}", inner.sel),
            cost: cost(inner.cost),
            depth: inner.depth + 1,
            nesting: inner.nesting.saturating_add(1),
            aliases: inner.aliases + usize::from(head.split('(').next().unwrap_or("").contains(':')),
            ..inner
        }
    }

    fn with_doc_want(mut self, want: Want) -> Part {
        self.doc_wants.push(want);
        self
    }

    fn with_may(mut self, may: May) -> Part {
        self.may = self.may.or(may);
        self
    }
}

/// async-graphql's complexity of a field with none of its own.
fn plain(child: usize) -> usize {
    child.saturating_add(1)
}

/// `CALL + child`: a field that calls an upstream.
fn call(child: usize) -> usize {
    child.saturating_add(10)
}

/// `CALL + LIST * child`: a list field that calls an upstream.
fn call_list(child: usize) -> usize {
    10usize.saturating_add(child.saturating_mul(20))
}

const MAY_INVALID: May = May { parse: false, invalid: true, complex: false };
const MAY_PARSE: May = May { parse: true, invalid: false, complex: false };
const MAY_COMPLEX: May = May { parse: false, invalid: false, complex: true };

/// The `from`/`to` arguments of a field, with what they should cause.
fn range_args(site: &'static str) -> BoxedStrategy<Part> {
    let valid =
        vec!["2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z", "2026-10-03T12:30:00+02:00", "2026-09-30T23:59:59.999Z"];
    let unparsable = vec![
        "2026-13-45T00:00:00Z",
        "",
        "9999999-01-01T00:00:00Z",
        "2026-10-01",
        "yesterday",
        "2026-10-01T25:00:00Z",
        "2026-02-30T00:00:00Z",
        "\u{0}",
        "2026-10-01T00:00:00",
    ];
    let edge = vec!["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "2262-04-12T00:00:00Z"];
    let by_var = any::<bool>();
    let one = move |name: &'static str, value: String, by_variable: bool| {
        Arg::string(&format!("{name}_{site}"), "DateTime", &value, by_variable)
    };
    let args = move |args: Vec<(&'static str, Arg)>| {
        let mut part = Part::default();
        let texts: Vec<String> = args.iter().map(|(n, a)| format!("{n}: {}", a.text)).collect();
        part.sel = texts.join(", ");
        for (_, a) in &args {
            a.add_to(&mut part);
        }
        part
    };
    prop_oneof![
        3 => Just(Part::default()),
        // A valid range, or one side of one.
        3 => (select(valid.clone()), select(valid), 0..3u8, by_var).prop_map(move |(a, b, sides, v)| {
            let (from, to) = if a <= b { (a, b) } else { (b, a) };
            let mut list = Vec::new();
            if sides != 1 { list.push(("from", one("from", from.to_owned(), v))); }
            if sides != 2 { list.push(("to", one("to", to.to_owned(), v))); }
            // Equal ends, or one side in the future, are the resolver's to judge: any field error.
            args(list)
        }),
        // Reversed.
        2 => (by_var).prop_map(move |v| {
            args(vec![("from", one("from", "2026-11-01T00:00:00Z".into(), v)), ("to", one("to", "2026-10-01T00:00:00Z".into(), v))])
                .with_field_want(Want::Code(&[BAD_INPUT, INVALID]))
                .with_may(MAY_INVALID)
        }),
        // Not a date at all.
        3 => (select(unparsable), any::<bool>(), by_var).prop_map(move |(bad, on_from, v)| {
            let name = if on_from { "from" } else { "to" };
            args(vec![(name, one(name, bad.to_owned(), v))]).with_field_want(Want::Code(&[BAD_INPUT, INVALID])).with_may(MAY_INVALID)
        }),
        // Not even a string.
        1 => select(&["12345", "true", "[\"2026-10-01T00:00:00Z\"]", "{ a: 1 }", "null", "1e999", "ID_ASC"][..]).prop_map(move |lit| {
            let mut part = args(vec![("from", Arg::literal(lit))]);
            if lit != "null" {
                part = part.with_field_want(Want::Code(&[BAD_INPUT, INVALID, PARSE]));
            }
            // Past f64, a number does not even parse.
            part.with_may(May { parse: lit == "1e999", invalid: true, complex: false })
        }),
        // Far edges, in any order: any field error.
        1 => (select(edge.clone()), select(edge), by_var).prop_map(move |(a, b, v)| {
            args(vec![("from", one("from", a.to_owned(), v)), ("to", one("to", b.to_owned(), v))])
        }),
    ]
    .boxed()
}

impl Part {
    fn with_field_want(mut self, want: Want) -> Part {
        self.field_wants.push(want);
        self
    }

    /// `name(args) { inner }` where `args` is a part whose selection is the argument list.
    fn call(name: &str, args: &Part, inner: Part, cost: impl Fn(usize) -> usize) -> Part {
        let head = if args.sel.is_empty() { name.to_owned() } else { format!("{name}({})", args.sel) };
        let mut args = args.clone();
        args.sel.clear();
        Part::join(vec![args, Part::field(head, inner, cost)])
    }
}

/// An enum argument's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EnumValue {
    Valid,
    /// Not a value of the enum: the document is invalid.
    Invalid,
    /// A value of the enum as a string, `"DAILY"`: invalid to the spec, but async-graphql
    /// takes it, so the test asks for nothing.
    Quoted,
}

/// A bucketing argument (empty: left out).
fn bucketing() -> BoxedStrategy<(&'static str, EnumValue)> {
    prop_oneof![
        4 => select(&["DAILY", "MONTHLY", ""][..]).prop_map(|b| (b, EnumValue::Valid)),
        1 => select(&["HOURLY", "daily", "null", "1"][..]).prop_map(|b| (b, EnumValue::Invalid)),
        1 => Just(("\"DAILY\"", EnumValue::Quoted)),
    ]
    .boxed()
}

/// What an enum argument's value asks of the document.
fn with_enum(part: Part, value: EnumValue) -> Part {
    match value {
        EnumValue::Valid => part,
        EnumValue::Invalid => part.with_doc_want(Want::Code(&[INVALID])).with_may(MAY_INVALID),
        EnumValue::Quoted => part.with_may(MAY_INVALID),
    }
}

/// `args` with more arguments after its own.
fn more_args(args: &Part, more: &[String]) -> Part {
    let mut out = args.clone();
    out.sel = std::iter::once(args.sel.clone())
        .chain(more.iter().cloned())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    out
}

/// The fields of a deployment, with their complexity.
fn deployment_fields() -> BoxedStrategy<Part> {
    let all: Vec<(&'static str, Part)> = vec![
        ("id", Part::leaf("id")),
        ("name", Part::leaf("name")),
        ("totalCost", Part::leaf("totalCost")),
        ("hourlyRate", Part::leaf("hourlyRate")),
        ("period", Part::field("period", Part::leaves(&["start", "end"]), plain)),
        ("dimensions", Part::field("dimensions", Part::leaves(&["type", "cost"]), plain)),
        (
            "charts",
            Part::field(
                "charts(bucketing: DAILY)",
                Part::field("points", Part::leaves(&["timestamp", "total"]), plain),
                call,
            ),
        ),
        ("items", Part::field("items", Part::leaves(&["total"]), call)),
        ("lineItems", Part::field("lineItems", Part::leaves(&["name", "totalEcu"]), call_list)),
        ("products", Part::field("products", Part::leaves(&["type", "totalEcu"]), call_list)),
    ];
    subsequence(all, 1..=4).prop_map(|fields| Part::join(fields.into_iter().map(|(_, p)| p).collect())).boxed()
}

/// An organization id: real ones, and ones that cannot be put in a path or are merely odd.
fn org_id(fx: &Fixtures) -> BoxedStrategy<String> {
    prop_oneof![
        4 => Just(fx.org.clone()),
        1 => Just(fx.other_org.clone()),
        1 => "[0-9]{1,12}",
        2 => select(&["", ".", "..", "/", "a/b", "../..", "./.", "..%2F..", "%2e%2e", "%2E%2E%2F", "%00", " ..", "...", "\u{0}", "\n", "\u{85}"][..]).prop_map(str::to_owned),
        1 => (1usize..=3).prop_map(|k| "7".repeat(k * 10_000 / 3)),
        3 => odd_string(),
        1 => (Just(fx.org.clone()), select(ODD)).prop_map(|(org, odd)| format!("{org}{odd}")),
    ]
    .boxed()
}

/// `organization(id:)` with some of its fields, hostile arguments included.
fn org_part(fx: &Fixtures) -> BoxedStrategy<Part> {
    let deployment_ids = fx.deployments.clone();
    let known = fx.orgs.clone();
    let dep_id = prop_oneof![3 => select(deployment_ids), 1 => odd_string(), 1 => Just("x".repeat(10_000))];
    let fields = (
        range_args("costs"),
        (range_args("deployments"), deployment_fields()),
        (range_args("deployment"), deployment_fields(), dep_id, any::<bool>()),
        (range_args("charts"), bucketing()),
        range_args("items"),
        range_args("instances"),
        (
            range_args("products"),
            prop_oneof![
                6 => select(&["PRODUCT", "PRODUCT_FAMILY"][..]).prop_map(|g| (g, EnumValue::Valid)),
                1 => Just(("NOPE", EnumValue::Invalid)),
            ],
        ),
        (
            range_args("instancecharts"),
            bucketing(),
            prop_oneof![
                6 => select(&["ALL", "DEPLOYMENTS", "PROJECTS"][..]).prop_map(|k| (k, EnumValue::Valid)),
                1 => Just(("\"ALL\"", EnumValue::Quoted)),
            ],
        ),
        subsequence((0..10usize).collect::<Vec<_>>(), 1..=4),
    );
    (org_id(fx), any::<bool>(), fields)
        .prop_map(
            move |(
                id,
                id_by_var,
                (costs, deployments, deployment, charts, items, instances, products, icharts, picked),
            )| {
                let bad = is_bad_id(&id);
                let id_arg = Arg::string("id", "ID!", &id, id_by_var);
                let mut calls = false;
                let mut fields = Vec::new();
                for i in picked {
                    let field = match i {
                        0 => Part::leaf("id"),
                        1 => Part::leaf("__typename"),
                        2 => Part::call(
                            "costs",
                            &costs,
                            Part::join(vec![
                                Part::leaves(&["total", "hourlyRate"]),
                                Part::field("dimensions", Part::leaves(&["type", "cost"]), plain),
                            ]),
                            call,
                        ),
                        3 => Part::call("deployments", &deployments.0, deployments.1.clone(), call_list),
                        4 => {
                            let (range, inner, dep_value, dep_by_var) = &deployment;
                            let dep = Arg::string("dep", "ID!", dep_value, *dep_by_var);
                            let mut args = range.clone();
                            args.sel = if args.sel.is_empty() {
                                format!("id: {}", dep.text)
                            } else {
                                format!("id: {}, {}", dep.text, args.sel)
                            };
                            dep.add_to(&mut args);
                            let part = Part::call("deployment", &args, inner.clone(), call);
                            if is_bad_id(dep_value) { part.with_field_want(Want::Code(&[BAD_INPUT])) } else { part }
                        }
                        5 => {
                            let (range, (bucketing, value)) = &charts;
                            let args = if bucketing.is_empty() {
                                range.clone()
                            } else {
                                more_args(range, &[format!("bucketing: {bucketing}")])
                            };
                            let part = Part::call(
                                "charts",
                                &args,
                                Part::join(vec![
                                    Part::leaf("bucketing"),
                                    Part::field(
                                        "points",
                                        Part::join(vec![
                                            Part::leaves(&["timestamp", "total"]),
                                            Part::field("values", Part::leaves(&["id", "name", "value"]), plain),
                                        ]),
                                        plain,
                                    ),
                                ]),
                                call,
                            );
                            with_enum(part, *value)
                        }
                        6 => Part::call(
                            "items",
                            &items,
                            Part::join(vec![
                                Part::leaf("total"),
                                Part::field("resources", Part::leaves(&["name", "sku", "hours"]), plain),
                                Part::field("dataTransferAndStorage", Part::leaves(&["name", "cost"]), plain),
                            ]),
                            call,
                        ),
                        7 => Part::call(
                            "instances",
                            &instances,
                            Part::join(vec![
                                Part::leaves(&["id", "name", "type", "totalEcu"]),
                                Part::field("lineItems", Part::leaves(&["name", "totalEcu"]), plain),
                            ]),
                            call_list,
                        ),
                        8 => {
                            let (range, (group, value)) = &products;
                            let args = more_args(range, &[format!("serverlessGroupBy: {group}")]);
                            let part =
                                Part::call("productCosts", &args, Part::leaves(&["type", "totalEcu"]), call_list);
                            with_enum(part, *value)
                        }
                        _ => {
                            let (range, (bucketing, bucketing_value), (kind, kind_value)) = &icharts;
                            let mut more = vec![format!("instanceType: {kind}")];
                            if !bucketing.is_empty() {
                                more.push(format!("bucketing: {bucketing}"));
                            }
                            let args = more_args(range, &more);
                            let part = Part::call(
                                "instanceCharts",
                                &args,
                                Part::field("points", Part::leaves(&["total"]), plain),
                                call,
                            );
                            with_enum(with_enum(part, *bucketing_value), *kind_value)
                        }
                    };
                    calls |= i >= 2;
                    fields.push(field);
                }
                let alias = format!("o{P}");
                let mut part = Part::call(
                    &format!("{alias}: organization"),
                    &Part { sel: format!("id: {}", id_arg.text), ..Part::default() },
                    Part::join(fields),
                    plain,
                );
                id_arg.add_to(&mut part);
                if bad && calls {
                    part.field_wants.push(Want::BadOrgId);
                }
                if bad {
                    // Whether the gateway refuses a bad id in the document or in the resolver is its
                    // choice.
                    part.may = part.may.or(MAY_INVALID);
                }
                if !known.contains(&id) {
                    part.field_wants.push(Want::OrgNull { alias });
                }
                part
            },
        )
        .boxed()
}

/// `usageAggregates` with hostile paging and filters.
fn usage_part(fx: &Fixtures) -> BoxedStrategy<Part> {
    // (literal, value for complexity, bad, whether the literal may not even parse)
    let first = prop_oneof![
        8 => select(&[("0", 0_usize), ("1", 1), ("3", 3), ("50", 50), ("250", 250), ("5000", 5000), ("null", 50)][..])
            .prop_map(|(t, v)| (t.to_owned(), v, false, false)),
        2 => select(&[("-1", 0_usize), ("-2147483648", 0), ("5001", 5000), ("2147483647", 5000)][..])
            .prop_map(|(t, v)| (t.to_owned(), v, true, false)),
        1 => select(&["2147483648", "1.5", "1e3", "\"3\"", "[3]", "true", "FIRST"][..])
            .prop_map(|t| (t.to_owned(), 0_usize, true, false)),
        // Past any integer type: the parser itself may refuse it.
        1 => (10usize..2000).prop_map(|n| ("9".repeat(n + 10), 0_usize, true, true)),
    ];
    let after = prop_oneof![
        3 => Just(None),
        // Valid, past the end, or read leniently (`+1`, `01`): no want.
        2 => select(&["usage:0", "usage:2", "usage:12", "usage:+1", "usage:01", "usage:4294967295", "usage:1000000"][..])
            .prop_map(|c| Some((c.to_owned(), false))),
        3 => prop_oneof![
            select(&["", "usage:", "usage:-1", "usage:abc", "usage: 1", "usage:1e3", "USAGE:1", "usage:18446744073709551615", "usage:99999999999999999999999999"][..]).prop_map(str::to_owned),
            "[A-Za-z0-9+/]{1,40}={0,2}",
            (20usize..5000).prop_map(|n| format!("usage:{}", "9".repeat(n))),
            odd_string().prop_map(|s| format!("x{s}")),
        ]
        .prop_map(|c| Some((c, true))),
    ];
    let account = fx.account.clone();
    let accounts = prop_oneof![
        3 => Just(None),
        1 => Just(Some(Vec::new())),
        2 => Just(Some(vec![account.clone()])),
        3 => proptest::collection::vec(prop_oneof![Just(account), odd_string(), "[0-9a-f]{24}"], 1..4).prop_map(Some),
    ];
    let months = prop_oneof![
        3 => Just((None, false)),
        1 => Just((Some(Vec::new()), false)),
        2 => proptest::collection::vec(select(&["2026-10", "2026-09", "2025-11", "1999-01"][..]), 1..3)
            .prop_map(|m| (Some(m.into_iter().map(str::to_owned).collect()), false)),
        2 => select(&["2026-13", "2026-00", "", "abcd-ef", "2026/10", "9999999-01"][..])
            .prop_map(|m| (Some(vec![m.to_owned()]), true)),
    ];
    let order = prop_oneof![8 => Just(("", false)), 4 => Just(("ID_ASC", false)), 2 => Just(("ID_DESC", false)), 1 => select(&["NOPE", "id_asc", "null"][..]).prop_map(|o| (o, true))];
    let fields = subsequence((0..4usize).collect::<Vec<_>>(), 1..=4);
    (first, after, accounts, months, order, fields, any::<bool>())
        .prop_map(
            |(
                (first, first_value, bad_first, first_may_not_parse),
                after,
                accounts,
                (months, bad_month),
                (order, bad_order),
                picked,
                by_var,
            )| {
                let mut part = Part::default();
                let mut args = vec![format!("first: {first}")];
                if let Some((cursor, _)) = &after {
                    let arg = Arg::string("after", "String", cursor, by_var);
                    args.push(format!("after: {}", arg.text));
                    arg.add_to(&mut part);
                }
                if accounts.is_some() || months.is_some() {
                    let list = |l: &Vec<String>| l.iter().map(|s| gql_str(s)).collect::<Vec<_>>().join(", ");
                    let mut members = Vec::new();
                    if let Some(a) = &accounts {
                        members.push(format!("accountIds: [{}]", list(a)));
                    }
                    if let Some(m) = &months {
                        members.push(format!("months: [{}]", list(m)));
                    }
                    args.push(format!("filter: {{ {} }}", members.join(", ")));
                }
                if !order.is_empty() {
                    args.push(format!("orderBy: {order}"));
                }
                let mut selected = Vec::new();
                for i in picked {
                    selected.push(match i {
                        0 => Part::leaf("totalCount"),
                        1 => Part::field(
                            "pageInfo",
                            Part::leaves(&["hasNextPage", "hasPreviousPage", "startCursor", "endCursor"]),
                            plain,
                        ),
                        2 => Part::field(
                            "nodes",
                            Part::leaves(&["id", "accountId", "month", "type", "totalAmount", "currency"]),
                            plain,
                        ),
                        _ => Part::field(
                            "edges",
                            Part::join(vec![
                                Part::leaf("cursor"),
                                Part::field("node", Part::leaves(&["id", "accountId", "month"]), plain),
                            ]),
                            plain,
                        ),
                    });
                }
                let alias = format!("u{P}");
                let inner = Part::join(selected);
                let field = Part::field(format!("{alias}: usageAggregates({})", args.join(", ")), inner, |child| {
                    10usize.saturating_add(first_value.clamp(0, 5000).saturating_mul(child) / 10)
                });
                let mut part = Part::join(vec![part.clone(), field]);
                part.aliases = part.aliases.max(1);
                // Which bad argument is reported is the gateway's choice, and whether a literal of
                // the wrong type is refused by validation or by the resolver.
                if bad_first || matches!(after, Some((_, true))) || bad_month {
                    part = part.with_field_want(Want::Code(&[BAD_INPUT, INVALID])).with_may(MAY_INVALID);
                }
                if first_may_not_parse {
                    part = part.with_may(MAY_PARSE);
                }
                if bad_order {
                    part = part.with_doc_want(Want::Code(&[INVALID])).with_may(MAY_INVALID);
                }
                if accounts.iter().flatten().any(|a| is_bad_id(a)) {
                    part = part.with_field_want(Want::Code(&[BAD_INPUT]));
                }
                part.field_wants.push(Want::UsageWithin {
                    alias,
                    accounts: accounts.filter(|a| !a.is_empty()),
                    months: months.filter(|m| !m.is_empty()),
                });
                part
            },
        )
        .boxed()
}

/// Introspection and `__typename`.
fn meta_part() -> BoxedStrategy<Part> {
    prop_oneof![
        3 => Just(Part::leaf("__typename")),
        1 => Just(Part { aliases: 1, ..Part::leaf(&format!("t{P}: __typename")) }),
        1 => Just(Part::field("__schema", Part::join(vec![
            Part::field("queryType", Part::leaf("name"), plain),
            Part::field("types", Part::leaves(&["name", "kind"]), plain),
        ]), plain)),
        1 => (select(&["Query", "Deployment", "UsageFilter", "Nope", "", "\u{0}", "__Type"][..]))
            .prop_map(|name| Part::field(format!("s{P}: __type(name: {})", gql_str(name)), Part::join(vec![Part::leaf("name"), Part::field("fields", Part::leaf("name"), plain)]), plain)),
    ]
    .boxed()
}

/// Fragments: cycles, fan-out bombs, unknown or ill-typed spreads, and valid ones.
fn fragment_part(fx: &Fixtures) -> BoxedStrategy<Part> {
    let org = fx.org.clone();
    let org_for_fan = org.clone();
    let org_for_valid = org.clone();
    // A selection at the root that puts `body` in a selection set of type `on`, and its aliases.
    let cycle_on = move |on: &str, body: &str| -> (String, usize) {
        match on {
            "Organization" => (format!("o{P}: organization(id: {}) {{ {body} }}", gql_str(&org)), 1),
            "Deployment" => (format!("o{P}: organization(id: {}) {{ deployments {{ {body} }} }}", gql_str(&org)), 1),
            _ => (body.to_owned(), 0),
        }
    };
    let cycle_on2 = cycle_on.clone();
    let leaf_of = |on: &str| if on == "Query" || on == "Organization" { "__typename" } else { "id" };
    prop_oneof![
        // A fragment that spreads itself, directly, through an inline fragment, or under a
        // directive.
        2 => (select(&["Query", "Organization", "Deployment"][..]), 0..3u8, any::<bool>()).prop_map(move |(on, how, reached)| {
            let inner = match how {
                0 => format!("{} ...F{P}", leaf_of(on)),
                1 => format!("... on {on} {{ ...F{P} }}"),
                _ => format!("{} ...F{P} @include(if: true)", leaf_of(on)),
            };
            let spread = if reached { format!("...F{P}") } else { leaf_of(on).to_owned() };
            let (sel, aliases) = cycle_on(on, &spread);
            Part { sel, fragments: format!(" fragment F{P} on {on} {{ {inner} }}"), aliases, cost: 1, depth: 3, ..Part::default() }
                .with_doc_want(Want::Code(&[INVALID]))
                .with_may(MAY_INVALID)
        }),
        // A cycle through several fragments, entered anywhere (or not at all).
        2 => (select(&["Query", "Organization", "Deployment"][..]), 2usize..7, 0usize..8).prop_map(move |(on, len, entry)| {
            let mut fragments = String::new();
            for i in 0..len {
                fragments.push_str(&format!(" fragment F{P}{i} on {on} {{ {} ...F{P}{} }}", leaf_of(on), (i + 1) % len));
            }
            let spread = if entry < len { format!("...F{P}{entry}") } else { leaf_of(on).to_owned() };
            let (sel, aliases) = cycle_on2(on, &spread);
            Part { sel, fragments, aliases, cost: 1, depth: 3, ..Part::default() }
                .with_doc_want(Want::Code(&[INVALID]))
                .with_may(MAY_INVALID)
        }),
        // Fan-out: each fragment spreads the next `fan` times, `levels` deep.
        4 => (select(&["Query", "Organization", "Deployment"][..]), 1u32..=30, 2usize..=4, any::<bool>()).prop_map(move |(on, levels, fan, extra_field)| {
            let leaves = fan.saturating_pow(levels);
            let mut fragments = String::new();
            for i in 0..levels {
                let spreads = vec![format!("...D{P}{}", i + 1); fan].join(" ");
                let extra = if extra_field { leaf_of(on) } else { "" };
                fragments.push_str(&format!(" fragment D{P}{i} on {on} {{ {extra} {spreads} }}"));
            }
            fragments.push_str(&format!(" fragment D{P}{levels} on {on} {{ {} }}", leaf_of(on)));
            let (sel, cost, aliases) = match on {
                "Organization" => (format!("o{P}: organization(id: {}) {{ ...D{P}0 }}", gql_str(&org_for_fan)), plain(leaves), 1),
                "Deployment" => (format!("o{P}: organization(id: {}) {{ deployments {{ ...D{P}0 }} }}", gql_str(&org_for_fan)), plain(call_list(leaves)), 1),
                _ => (format!("...D{P}0"), leaves, 0),
            };
            // As the gateway counts it: every field and every spread once fragments are expanded,
            // each fragment definition counted too, the operation's own fields and spread as well.
            // D{levels} selects one leaf; D{i} its extra field and `fan` spreads of D{i+1}.
            let mut below = 1_usize;
            let mut definitions = 1_usize;
            for _ in 0..levels {
                below = usize::from(extra_field).saturating_add(fan.saturating_mul(below.saturating_add(1)));
                definitions = definitions.saturating_add(below);
            }
            let wrapping = match on { "Organization" => 1, "Deployment" => 2, _ => 0 };
            let fields = definitions.saturating_add(below).saturating_add(1 + wrapping);
            let nesting = levels as usize + 3;
            let mut part = Part { sel, fragments, aliases, cost, depth: 3, fields, nesting, ..Part::default() };
            // Well past any sane limit whatever the other parts: the gateway must refuse it
            // without expanding it.
            if leaves >= 1 << 16 {
                part = part.with_doc_want(Want::Code(&[COMPLEX]));
            }
            part
        }),
        // A spread of a fragment nobody defined.
        1 => Just(Part { sel: format!("...Nope{P}"), cost: 0, depth: 1, ..Part::default() }.with_doc_want(Want::Code(&[INVALID])).with_may(MAY_INVALID)),
        // Fragments on the wrong type, on a type that does not exist, on a scalar, selecting a
        // field that does not exist, or never used.
        2 => select(&[
            ("...W\u{24c5}", " fragment W\u{24c5} on Deployment { id }"),
            ("... on Deployment { id }", ""),
            ("...W\u{24c5}", " fragment W\u{24c5} on NoSuchType { id }"),
            ("...W\u{24c5}", " fragment W\u{24c5} on String { length }"),
            ("...W\u{24c5}", " fragment W\u{24c5} on Query { nope }"),
            ("__typename", " fragment W\u{24c5} on Query { __typename }"),
            ("... on Query { ... on Organization { id } }", ""),
            ("...W\u{24c5}", " fragment W\u{24c5} on Query { ...W\u{24c5}b } fragment W\u{24c5}b on UsageFilter { months }"),
        ][..]).prop_map(|(sel, fragments)| Part { sel: sel.to_owned(), fragments: fragments.to_owned(), cost: 1, depth: 2, ..Part::default() }.with_doc_want(Want::Code(&[INVALID])).with_may(MAY_INVALID)),
        // The same fragment name twice.
        1 => Just(Part { sel: format!("...W{P}"), fragments: format!(" fragment W{P} on Query {{ __typename }} fragment W{P} on Query {{ __typename }}"), cost: 1, depth: 1, ..Part::default() }
            .with_doc_want(Want::Code(&[PARSE, INVALID])).with_may(May { parse: true, invalid: true, complex: false })),
        // Valid fragments, named and inline.
        3 => select(&[0u8, 1, 2, 3, 4][..]).prop_map(move |which| match which {
            0 => Part { sel: format!("...V{P}"), fragments: format!(" fragment V{P} on Query {{ __typename }}"), cost: 1, depth: 1, ..Part::default() },
            1 => Part { sel: "... on Query { __typename }".into(), cost: 1, depth: 1, ..Part::default() },
            2 => Part { sel: "... { __typename }".into(), cost: 1, depth: 1, ..Part::default() },
            3 => Part { sel: format!("o{P}: organization(id: {}) {{ ...V{P} }}", gql_str(&org_for_valid)), fragments: format!(" fragment V{P} on Organization {{ id __typename }}"), aliases: 1, cost: 3, depth: 2, ..Part::default() },
            _ => Part { sel: format!("...V{P} ...V{P}"), fragments: format!(" fragment V{P} on Query {{ __typename ... on Query {{ __typename }} }}"), cost: 4, depth: 1, ..Part::default() },
        }),
    ]
    .boxed()
}

/// Deep nesting: of selection sets, inline fragments, and list and object literals; from a few
/// levels to thousands (as many as the token limit lets through, and past it).
fn nesting_part() -> BoxedStrategy<Part> {
    let depth = prop_oneof![4 => 1usize..80, 2 => 80usize..600, 1 => 600usize..5_000];
    prop_oneof![
        // `ofType` is valid at any depth: only a depth or nesting limit refuses it.
        2 => depth.clone().prop_map(|n| {
            let sel = format!("d{P}: __type(name: \"Query\") {{ {}name{} }}", "ofType { ".repeat(n), " }".repeat(n));
            let depth = n + 2;
            let mut part = Part { sel, aliases: 1, cost: depth, depth, ..Part::default() };
            part.may = May { parse: n > 60, invalid: false, complex: depth > MAX_DEPTH - 2 };
            if depth > MAX_DEPTH + 2 {
                part = part.with_doc_want(Want::Code(&[DEEP, COMPLEX, PARSE]));
            }
            part
        }),
        // Unknown fields all the way down.
        1 => depth.clone().prop_map(|n| {
            let sel = format!("{}a{}", "a { ".repeat(n), " }".repeat(n));
            Part { sel, cost: n, depth: n + 1, ..Part::default() }.with_doc_want(Want::Code(&[INVALID, DEEP, COMPLEX, PARSE])).with_may(May::ALL)
        }),
        // Inline fragments do not add depth: valid, unless a nesting limit (the gateway's or the
        // parser's) says no.
        1 => depth.clone().prop_map(|n| {
            let sel = format!("{}__typename{}", "... on Query { ".repeat(n), " }".repeat(n));
            Part { sel, cost: 1, depth: 1, nesting: n, may: May { parse: n > 60, invalid: false, complex: false }, ..Part::default() }
        }),
        // List literals where an id goes.
        2 => depth.clone().prop_map(|n| {
            let sel = format!("o{P}: organization(id: {}\"x\"{}) {{ id }}", "[".repeat(n), "]".repeat(n));
            Part { sel, aliases: 1, cost: 2, depth: 2, ..Part::default() }.with_doc_want(Want::Code(&[INVALID, PARSE, COMPLEX])).with_may(May::ALL)
        }),
        // Object literals in an input object, and lists nested past the argument's type.
        1 => (depth.clone(), any::<bool>()).prop_map(|(n, lists)| {
            let value = if lists {
                format!("{{ accountIds: {}\"x\"{} }}", "[".repeat(n + 1), "]".repeat(n + 1))
            } else {
                format!("{{ months: [\"2026-10\"], nope: {}1{} }}", "{ a: ".repeat(n), " }".repeat(n))
            };
            let sel = format!("u{P}: usageAggregates(first: 1, filter: {value}) {{ totalCount }}");
            let mut part = Part { sel, aliases: 1, cost: 11, depth: 2, ..Part::default() };
            part.may = May::ALL;
            part = part.with_doc_want(Want::Code(&[INVALID, PARSE, COMPLEX]));
            part
        }),
        // A deep list in a variable's default value.
        1 => depth.prop_map(|n| {
            let mut part = Part { sel: format!("o{P}: organization(id: $v{P}) {{ id }}"), aliases: 1, cost: 2, depth: 2, ..Part::default() };
            part.var_defs.push(format!("$v{P}: ID = {}1{}", "[".repeat(n), "]".repeat(n)));
            part.with_doc_want(Want::Code(&[INVALID, PARSE, COMPLEX])).with_may(May::ALL)
        }),
        // Many siblings, and many aliases.
        1 => (1usize..3_000).prop_map(|n| Part { sel: vec!["__typename"; n].join(" "), cost: n, depth: 1, ..Part::default() }.with_may(MAY_COMPLEX)),
        1 => (1usize..200).prop_map(|n| {
            let sel = (0..n).map(|i| format!("a{P}{i}: __typename")).collect::<Vec<_>>().join(" ");
            Part { sel, aliases: n, cost: n, depth: 1, ..Part::default() }
        }),
    ]
    .boxed()
}

/// Directives: `@skip`/`@include` on literals, variables and defaults, and invalid ones.
fn directive_part() -> BoxedStrategy<Part> {
    // (directives, present, variable definition, variable value)
    let valid = select(
        &[
            ("@skip(if: true)", false, "", None),
            ("@skip(if: false)", true, "", None),
            ("@include(if: true)", true, "", None),
            ("@include(if: false)", false, "", None),
            ("@skip(if: false) @include(if: true)", true, "", None),
            ("@skip(if: true) @include(if: true)", false, "", None),
            ("@skip(if: $b\u{24c5})", false, "$b\u{24c5}: Boolean!", Some(true)),
            ("@skip(if: $b\u{24c5})", true, "$b\u{24c5}: Boolean!", Some(false)),
            ("@include(if: $b\u{24c5})", false, "$b\u{24c5}: Boolean = false", None),
            ("@skip(if: $b\u{24c5})", false, "$b\u{24c5}: Boolean = true", None),
            ("@skip(if: $b\u{24c5})", true, "$b\u{24c5}: Boolean = true", Some(false)),
            ("@include(if: $b\u{24c5})", true, "$b\u{24c5}: Boolean! = false", Some(true)),
        ][..],
    );
    let invalid = select(
        &[
            ("@nope", ""),
            ("@skip(if: true) @skip(if: false)", ""),
            ("@skip", ""),
            ("@skip(if: \"yes\")", ""),
            ("@skip(if: $undefined\u{24c5})", ""),
            ("@deprecated", ""),
            ("@skip(if: true, unless: false)", ""),
            ("@include(if: $b\u{24c5})", "$b\u{24c5}: Boolean! = \"x\""),
        ][..],
    );
    let bad_values = select(vec![json!("yes"), json!(null), json!(1), json!([true]), json!({ "a": true })]);
    prop_oneof![
        4 => (valid, any::<bool>()).prop_map(|((directives, present, def, value), inline)| {
            let alias = format!("k{P}");
            let sel = if inline {
                format!("... {directives} {{ {alias}: __typename }}")
            } else {
                format!("{alias}: __type(name: \"Query\") {directives} {{ name }}")
            };
            let mut part = Part { sel, aliases: 1, cost: 2, depth: 2, ..Part::default() };
            if !def.is_empty() {
                part.var_defs.push(def.to_owned());
            }
            if let Some(v) = value {
                part.vars.push((format!("b{P}"), json!(v)));
            }
            part.with_field_want(Want::Key { alias, present })
        }),
        // On a field async-graphql validates: it skips `__typename`, its directives included.
        2 => invalid.prop_map(|(directives, def)| {
            let sel = format!("k{P}: __type(name: \"Query\") {directives} {{ name }}");
            let mut part = Part { sel, aliases: 1, cost: 2, depth: 2, ..Part::default() };
            if !def.is_empty() {
                part.var_defs.push(def.to_owned());
            }
            part.with_doc_want(Want::Code(&[INVALID])).with_may(MAY_INVALID)
        }),
        // A required variable missing, or of the wrong type.
        1 => proptest::option::of(bad_values).prop_map(|value| {
            let sel = format!("k{P}: __type(name: \"Query\") @skip(if: $b{P}) {{ name }}");
            let mut part = Part { sel, aliases: 1, cost: 2, depth: 2, ..Part::default() };
            part.var_defs.push(format!("$b{P}: Boolean!"));
            if let Some(v) = value {
                part.vars.push((format!("b{P}"), v));
            }
            // Variables are checked for the operation that runs.
            part.with_field_want(Want::Code(&[INVALID, BAD_INPUT])).with_may(MAY_INVALID)
        }),
    ]
    .boxed()
}

/// Variables: of the right type, the wrong type, undefined, unused, and deeply nested values.
fn variable_part(fx: &Fixtures) -> BoxedStrategy<Part> {
    let account = fx.account.clone();
    let usage = |arg: &str| format!("u{P}: usageAggregates({arg}) {{ totalCount }}");
    let part = move |sel: String, def: Option<String>, value: Option<(&str, Value)>| {
        let mut part = Part { sel, aliases: 1, cost: 20, depth: 2, ..Part::default() };
        part.var_defs.extend(def);
        if let Some((name, v)) = value {
            part.vars.push((format!("{name}{P}"), v));
        }
        part
    };
    let filters = select(vec![
        (json!({ "accountIds": [account], "months": ["2026-10"] }), None),
        (json!({ "months": ["2026-13"] }), Some(&[BAD_INPUT, INVALID][..])),
        (json!({ "nope": 1 }), Some(&[INVALID, BAD_INPUT][..])),
        (json!({ "months": [1] }), Some(&[INVALID, BAD_INPUT][..])),
        (json!({ "accountIds": "single" }), None),
        (json!("not an object"), Some(&[INVALID, BAD_INPUT][..])),
        (json!({ "accountIds": [null] }), Some(&[INVALID, BAD_INPUT][..])),
    ]);
    let ints = select(vec![
        (json!(3), None),
        (json!(null), None),
        (json!(-1), Some(&[BAD_INPUT, INVALID][..])),
        (json!("3"), Some(&[INVALID, BAD_INPUT][..])),
        (json!(1e20), Some(&[INVALID, BAD_INPUT][..])),
        (json!(2_147_483_648_i64), Some(&[INVALID, BAD_INPUT][..])),
        (json!(1.5), Some(&[INVALID, BAD_INPUT][..])),
        (json!([3]), Some(&[INVALID, BAD_INPUT][..])),
    ]);
    prop_oneof![
        3 => ints.prop_map(move |(value, want)| {
            let mut p = part(usage(&format!("first: $n{P}")), Some(format!("$n{P}: Int")), Some(("n", value)));
            if let Some(set) = want {
                p = p.with_field_want(Want::Code(set)).with_may(MAY_INVALID);
            }
            p
        }),
        3 => filters.prop_map(move |(value, want)| {
            let mut p = part(usage(&format!("first: 1, filter: $f{P}")), Some(format!("$f{P}: UsageFilter")), Some(("f", value)));
            if let Some(set) = want {
                p = p.with_field_want(Want::Code(set)).with_may(MAY_INVALID);
            }
            p
        }),
        // Nested past the type (a list of lists at least), but within serde_json's limit.
        1 => (2usize..120, any::<bool>()).prop_map(move |(n, lists)| {
            let mut value = json!("2026-10");
            for _ in 0..n {
                value = if lists { json!([value]) } else { json!({ "months": value }) };
            }
            part(usage(&format!("first: 1, filter: {{ months: $m{P} }}")), Some(format!("$m{P}: [String!]")), Some(("m", value)))
                .with_may(MAY_INVALID)
                .with_field_want(Want::Code(&[INVALID, BAD_INPUT]))
        }),
        // Defaults: valid, and of the wrong type.
        1 => select(&[("$n\u{24c5}: Int = 2", false), ("$n\u{24c5}: Int = \"x\"", true), ("$n\u{24c5}: Int! = null", true), ("$n\u{24c5}: Int = [1]", true)][..]).prop_map(move |(def, bad)| {
            let p = part(usage(&format!("first: $n{P}")), Some(def.to_owned()), None);
            if bad { p.with_doc_want(Want::Code(&[INVALID])).with_may(MAY_INVALID) } else { p }
        }),
        // Undefined, unused, of an output type, of an unknown type, in the wrong position.
        2 => select(vec![
            (format!("first: $undefined{P}"), None),
            ("first: 1".to_owned(), Some(format!("$unused{P}: Int"))),
            (format!("first: $n{P}"), Some(format!("$n{P}: Deployment"))),
            (format!("first: $n{P}"), Some(format!("$n{P}: Nope"))),
        ]).prop_map(move |(arg, def)| part(usage(&arg), def, None).with_doc_want(Want::Code(&[INVALID])).with_may(MAY_INVALID)),
        // A variable whose type does not fit where it is used, sent without a value:
        // async-graphql checks a variable's position by its value, not by its declared type, so
        // these run (a spec deviation of async-graphql's, not the gateway's): no want.
        1 => select(vec![format!("$n{P}: String"), format!("$n{P}: [Int]"), format!("$n{P}: Boolean")])
            .prop_map(move |def| part(usage(&format!("first: $n{P}")), Some(def), None).with_may(MAY_INVALID)),
    ]
    .boxed()
}

/// Any part.
fn any_part(fx: &Fixtures) -> BoxedStrategy<Part> {
    prop_oneof![
        4 => org_part(fx),
        3 => usage_part(fx),
        2 => meta_part(),
        4 => fragment_part(fx),
        2 => nesting_part(),
        2 => directive_part(),
        2 => variable_part(fx),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// Documents: parts assembled into operations, then lexical damage.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Anonymous,
    Query,
    Mutation,
    Subscription,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameSent {
    Absent,
    Main,
    Extra,
    Unknown,
}

/// The shape of the operations around the parts.
#[derive(Debug, Clone, Copy)]
struct OpShape {
    kind: OpKind,
    extra: Option<OpKind>,
    sent: NameSent,
}

fn op_shape() -> BoxedStrategy<OpShape> {
    let kind = prop_oneof![6 => Just(OpKind::Anonymous), 6 => Just(OpKind::Query), 1 => Just(OpKind::Mutation), 1 => Just(OpKind::Subscription)];
    let extra = prop_oneof![10 => Just(None), 2 => Just(Some(OpKind::Query)), 1 => Just(Some(OpKind::Mutation))];
    let sent = prop_oneof![6 => Just(NameSent::Absent), 4 => Just(NameSent::Main), 1 => Just(NameSent::Extra), 1 => Just(NameSent::Unknown)];
    (kind, extra, sent).prop_map(|(kind, extra, sent)| OpShape { kind, extra, sent }).boxed()
}

fn keyword(kind: OpKind) -> &'static str {
    match kind {
        OpKind::Anonymous | OpKind::Query => "query",
        OpKind::Mutation => "mutation",
        OpKind::Subscription => "subscription",
    }
}

/// Puts the parts in one operation (with the shape's other operations) and works out the wants.
fn assemble(parts: Vec<Part>, shape: OpShape) -> Doc {
    let mut tagged = Vec::new();
    for (i, p) in parts.into_iter().enumerate() {
        let tag = format!("p{i}_");
        let r = |s: &str| s.replace(P, &tag);
        tagged.push(Part {
            sel: r(&p.sel),
            fragments: r(&p.fragments),
            var_defs: p.var_defs.iter().map(|d| r(d)).collect(),
            vars: p.vars.iter().map(|(k, v)| (r(k), v.clone())).collect(),
            doc_wants: p.doc_wants,
            field_wants: p.field_wants.into_iter().map(|w| w.retag(&tag)).collect(),
            ..p
        });
    }
    let mut all = Part::join(tagged);
    if all.sel.is_empty() {
        all = Part::join(vec![all, Part::leaf("__typename")]);
    }
    let mut doc =
        Doc { variables: all.vars.into_iter().collect(), may: all.may, aliases: all.aliases, ..Doc::default() };
    let mut kind = shape.kind;
    if kind == OpKind::Anonymous && !all.var_defs.is_empty() {
        kind = OpKind::Query;
    }
    let defs = if all.var_defs.is_empty() { String::new() } else { format!("({})", all.var_defs.join(", ")) };
    let main = match kind {
        OpKind::Anonymous => format!("{{ {} }}", all.sel),
        k => format!("{} Main{defs} {{ {} }}", keyword(k), all.sel),
    };
    let extra = shape.extra.map(|k| format!(" {} Extra {{ __typename }}", keyword(k))).unwrap_or_default();
    doc.text = format!("{main}{extra}{}", all.fragments);
    doc.operation_name = match shape.sent {
        NameSent::Absent => None,
        NameSent::Main => Some("Main".into()),
        NameSent::Extra => Some("Extra".into()),
        NameSent::Unknown => Some("Nope".into()),
    };
    doc.doc_wants = all.doc_wants;

    // Whether the main operation is the one executed, and what stops it otherwise.
    let mut runs = true;
    let fails = |doc: &mut Doc, may: May| {
        doc.doc_wants.push(Want::AnyError);
        doc.may = doc.may.or(may);
        false
    };
    if kind == OpKind::Anonymous && shape.extra.is_some() {
        // An anonymous operation with another one is not a document.
        runs = fails(&mut doc, May { parse: true, invalid: true, complex: false });
        doc.doc_wants.push(Want::Code(&[PARSE, INVALID]));
    }
    if kind == OpKind::Mutation || kind == OpKind::Subscription || shape.extra == Some(OpKind::Mutation) {
        // No mutation or subscription type: the whole document is invalid.
        runs = fails(&mut doc, May { parse: false, invalid: true, complex: false });
    }
    match (shape.sent, shape.extra, kind) {
        // Which operation? None named, or not the one named.
        (NameSent::Absent, Some(_), _)
        | (NameSent::Unknown, _, _)
        | (NameSent::Main, _, OpKind::Anonymous)
        | (NameSent::Extra, None, _) => runs = fails(&mut doc, MAY_INVALID),
        (NameSent::Extra, Some(_), _) => runs = false,
        _ => {}
    }
    // A GET may be refused as a mutation whenever the document has one.
    doc.mutation = kind == OpKind::Mutation || kind == OpKind::Subscription || shape.extra == Some(OpKind::Mutation);
    if runs {
        doc.field_wants = all.field_wants;
    }
    // Well inside the limits (complexity, depth, fields and nesting once fragments are
    // expanded), a refusal for them would be a wrong answer. The main operation bounds the
    // others, which select `__typename` alone.
    let fields = all.fields.max(names_in(&doc.text));
    let nesting = all.nesting.max(brackets_in(&doc.text));
    if all.cost > MAX_COMPLEXITY * 3 / 4 || all.depth > MAX_DEPTH - 2 || fields > 1_500 || nesting > 24 {
        doc.may.complex = true;
    }
    doc
}

/// Visits the bytes of `text` outside string literals and comments.
fn outside_strings(text: &str, mut visit: impl FnMut(&[u8], usize)) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            _ => {
                visit(bytes, i);
                i += 1;
            }
        }
    }
}

/// Names in a document (an upper bound on its fields before fragments are expanded).
fn names_in(text: &str) -> usize {
    let mut n = 0;
    outside_strings(text, |bytes, i| {
        let name = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        if name(bytes[i]) && !bytes[i].is_ascii_digit() && (i == 0 || !name(bytes[i - 1])) {
            n += 1;
        }
    });
    n
}

/// How deep brackets nest in a document.
fn brackets_in(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    outside_strings(text, |bytes, i| match bytes[i] {
        b'{' | b'[' | b'(' => {
            depth += 1;
            max = max.max(depth);
        }
        b'}' | b']' | b')' => depth = depth.saturating_sub(1),
        _ => {}
    });
    max
}

/// Lexical damage to a document: comments, odd whitespace, truncation, stray characters.
#[derive(Debug, Clone)]
struct Damage {
    comments: Vec<(usize, &'static str)>,
    prefix: &'static str,
    truncate: Option<usize>,
    stray: Option<(usize, &'static str)>,
    surrogates: bool,
}

fn damage() -> BoxedStrategy<Damage> {
    let comment = select(
        &[
            "# a comment",
            "#",
            "# }",
            "# \u{202e}\u{200f} 😀",
            "# \u{0} nul",
            "# \u{1b}[2J",
            "# \"unterminated",
            "#\u{feff}",
        ][..],
    );
    let prefix = prop_oneof![
        6 => Just(""),
        1 => select(&[" \t\r\n", ",,,", "\u{feff}", "\u{0}", "\u{a0}", "\u{2028}"][..]),
    ];
    let stray = select(
        &[
            "\u{0}", "\u{1}", "\u{7f}", "\u{202e}", "😀", "\u{d7ff}", "\"", "\\", "$", "@", "!", "...", "{", "}", "(",
            "]", "\u{fffd}", "0x", "-",
        ][..],
    );
    let some = (
        prop_oneof![3 => Just(Vec::new()), 1 => proptest::collection::vec((any::<usize>(), comment), 1..4)],
        prefix,
        prop_oneof![6 => Just(None), 1 => any::<usize>().prop_map(Some)],
        prop_oneof![8 => Just(None), 1 => (any::<usize>(), stray).prop_map(Some)],
        prop_oneof![8 => Just(false), 1 => Just(true)],
    )
        .prop_map(|(comments, prefix, truncate, stray, surrogates)| Damage {
            comments,
            prefix,
            truncate,
            stray,
            surrogates,
        })
        .boxed();
    // Most documents go undamaged, so what they mean is tested too.
    let none = Damage { comments: Vec::new(), prefix: "", truncate: None, stray: None, surrogates: false };
    prop_oneof![2 => Just(none), 1 => some].boxed()
}

/// The char boundaries of `s` after an opening brace: where a comment fits.
fn after_braces(s: &str) -> Vec<usize> {
    s.char_indices().filter(|(_, c)| *c == '{').map(|(i, _)| i + 1).collect()
}

fn apply(mut doc: Doc, damage: &Damage) -> Doc {
    // Comments go after an opening brace, which the generators never put in a string literal,
    // and end with a line feed: the document means the same.
    let places = after_braces(&doc.text);
    if !places.is_empty() {
        let mut inserts: Vec<(usize, &str)> =
            damage.comments.iter().map(|(at, c)| (places[at % places.len()], *c)).collect();
        inserts.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        for (at, comment) in inserts {
            doc.text.insert_str(at, &format!(" {comment}\n"));
            if comment.chars().any(|c| c.is_control() && c != '\n') {
                doc.may = doc.may.or(MAY_PARSE);
            }
        }
    }
    if !damage.prefix.is_empty() {
        doc.text.insert_str(0, damage.prefix);
        if !matches!(damage.prefix, " \t\r\n" | ",,,") {
            doc.may = doc.may.or(MAY_PARSE);
        }
    }
    if damage.surrogates {
        // Escapes in a string literal: a lone surrogate, and a pair.
        doc.text.push_str(" # \"\\ud800\"\n");
        doc = Doc { text: doc.text.replacen("__typename", "__typename(x: \"\\ud800\\ud83d\\ude00\")", 1), ..doc };
        doc.may = May::ALL;
        doc.field_wants.clear();
    }
    if let Some((at, stray)) = damage.stray {
        let at = char_boundary(&doc.text, at % (doc.text.len() + 1));
        doc.text.insert_str(at, stray);
        // Anything may follow from a stray character: only the universal rules hold.
        doc.may = May::ALL;
        doc.doc_wants.clear();
        doc.field_wants.clear();
    }
    if let Some(at) = damage.truncate {
        let balanced = doc.text.matches('{').count() == doc.text.matches('}').count();
        let at = char_boundary(&doc.text, at % doc.text.len().max(1));
        doc.text.truncate(at);
        doc.may = May::ALL;
        doc.field_wants.clear();
        doc.doc_wants.clear();
        // A prefix with more opening than closing braces cannot parse, unless braces hide in
        // strings or comments (then the whole text would not balance either).
        if balanced && doc.text.matches('{').count() > doc.text.matches('}').count() {
            doc.doc_wants.push(Want::Code(&[PARSE]));
        }
    }
    doc
}

fn char_boundary(s: &str, mut at: usize) -> usize {
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// A document of one to four parts, maybe damaged.
fn document(fx: &Fixtures) -> BoxedStrategy<Doc> {
    (proptest::collection::vec(any_part(fx), 1..4), op_shape(), damage())
        .prop_map(|(parts, shape, damage)| apply(assemble(parts, shape), &damage))
        .boxed()
}

/// A document of schema fields only, undamaged, in a plain query.
fn schema_document(fx: &Fixtures) -> BoxedStrategy<Doc> {
    let part = prop_oneof![3 => org_part(fx), 2 => usage_part(fx), 1 => meta_part(), 1 => variable_part(fx)];
    let shape = OpShape { kind: OpKind::Query, extra: None, sent: NameSent::Absent };
    proptest::collection::vec(part, 1..4).prop_map(move |parts| assemble(parts, shape)).boxed()
}

// ---------------------------------------------------------------------------------------------
// HTTP envelopes.
// ---------------------------------------------------------------------------------------------

/// `Accept` values and the media type each negotiates (`None`: 406).
const ACCEPTS: &[(Option<&str>, Option<Media>)] = &[
    (None, Some(Media::Json)),
    (Some("application/json"), Some(Media::Json)),
    (Some("application/graphql-response+json"), Some(Media::GraphQlResponse)),
    (Some("application/graphql-response+json, application/json;q=0.9"), Some(Media::GraphQlResponse)),
    (Some("application/json;q=0.5, application/graphql-response+json;q=0.6"), Some(Media::GraphQlResponse)),
    (Some("*/*"), Some(Media::Json)),
    (Some("application/*;q=0.1"), Some(Media::Json)),
    (Some("APPLICATION/JSON"), Some(Media::Json)),
    (Some("text/html, */*;q=0.01"), Some(Media::Json)),
    (Some("application/json;q=abc"), Some(Media::Json)),
    (Some("application/json;q=NaN"), Some(Media::Json)),
    (Some("application/graphql-response+json;q=1e999"), Some(Media::GraphQlResponse)),
    (Some("text/html"), None),
    (Some("application/json;q=0"), None),
    (Some("*/*;q=-1"), None),
    (Some(""), None),
    (Some(",,,;;;q=,"), None),
];

/// `Content-Type` values and whether they are JSON.
const CONTENT_TYPES: &[(Option<&str>, bool)] = &[
    (Some("application/json"), true),
    (Some("application/json; charset=utf-8"), true),
    (Some("application/json;charset=\"UTF-8\""), true),
    (Some("Application/JSON"), true),
    (Some("application/json; boundary=x"), true),
    (Some("application/json;;;"), true),
    (Some("application/json; charset=latin1"), false),
    (Some("application/json; charset="), false),
    (Some("text/plain"), false),
    (Some("application/graphql"), false),
    (Some("application/x-www-form-urlencoded"), false),
    (Some("multipart/form-data; boundary=x"), false),
    (Some("application/jsonp"), false),
    (Some(""), false),
    (None, false),
];

/// A credential header: its bytes (`None`: not sent) and how the gateway receives it.
#[derive(Debug, Clone)]
struct Header {
    value: Option<Vec<u8>>,
    cred: Cred,
}

fn elastic_header(fx: &Fixtures) -> BoxedStrategy<Header> {
    let key = fx.elastic_key.clone();
    let h = |v: String, cred| Header { value: Some(v.into_bytes()), cred };
    let valid = vec![format!("ApiKey {key}"), key.clone(), format!("apikey   {key}"), format!("  ApiKey {key}  ")];
    let sent = vec![
        "ApiKey nope".to_owned(),
        format!("Bearer {key}"),
        format!("ApiKey {}", fx.elastic_other_key),
        "ApiKey".to_owned(),
    ];
    let local =
        vec!["".to_owned(), "Basic dXNlcjpwYXNz".to_owned(), "ApiKey a b".to_owned(), format!("ApiKey {key}\u{e9}")];
    prop_oneof![
        5 => select(valid).prop_map(move |v| h(v, Cred::Valid)),
        1 => select(sent).prop_map(move |v| h(v, Cred::Sent)),
        2 => Just(Header { value: None, cred: Cred::Local }),
        1 => select(local).prop_map(move |v| h(v, Cred::Local)),
        1 => Just(Header { value: Some(vec![b'A', b'p', b'i', b'K', b'e', b'y', b' ', 0xff, 0xfe]), cred: Cred::Local }),
        1 => (1usize..3).prop_map(|k| Header { value: Some(format!("ApiKey {}", "k".repeat(k * 8192)).into_bytes()), cred: Cred::Sent }),
    ]
    .boxed()
}

fn talkdesk_header(fx: &Fixtures) -> BoxedStrategy<Header> {
    let token = fx.talkdesk_token.clone();
    let h = |v: String| Header { value: Some(v.into_bytes()), cred: Cred::Valid };
    prop_oneof![
        4 => select(vec![format!("Bearer {token}"), token.clone(), format!("bearer {token}")]).prop_map(h),
        1 => select(vec!["Bearer nope".to_owned(), "ApiKey x".to_owned(), String::new(), "Bearer".to_owned()]).prop_map(h),
        2 => Just(Header { value: None, cred: Cred::Local }),
        1 => Just(Header { value: Some(vec![0x80, 0x81]), cred: Cred::Local }),
    ]
    .boxed()
}

/// How a document is put in a request, or what is sent instead.
#[derive(Debug, Clone)]
enum BodyShape {
    /// `{"query": ..., "variables": ..., "operationName": ...}`, with variations that mean the same.
    Json { variables_null_when_empty: bool, extra_keys: bool, surrogate_pair_comment: bool, duplicate_query: bool },
    /// Automatic persisted queries.
    Apq(Apq),
    /// A member of the wrong type.
    WrongType { key: &'static str, value: Value },
    /// A batch.
    Batch(usize),
    /// Not an object.
    Scalar(Value),
    /// The JSON text cut short.
    Truncated(usize),
    /// Bytes that are not UTF-8, or not JSON, at some place of the text.
    Garbage { at: usize, bytes: &'static [u8] },
    /// An extra variable nested this deep.
    DeepVariables { depth: usize, lists: bool },
    /// Larger than the body limit.
    Huge(usize),
    /// Nothing, or whitespace.
    Empty(&'static str),
}

#[derive(Debug, Clone, Copy)]
enum Apq {
    /// The right hash with the query: registers it.
    Register { uppercase: bool },
    /// A hash that is not the query's.
    Mismatch,
    /// A hash alone, never registered.
    Unknown,
    /// `persistedQuery` of the wrong shape: ignored.
    Junk,
}

/// Bytes spliced into a JSON body.
const GARBAGE: &[&[u8]] = &[
    &[0xff],
    &[0xc0, 0xaf],
    &[0xed, 0xa0, 0x80],
    &[0xf4, 0x90, 0x80, 0x80],
    &[0xef, 0xbb, 0xbf],
    b"\\ud800",
    b"\\udc00x",
    b"NaN",
    b"\x00",
    b"}",
];

fn body_shape() -> BoxedStrategy<BodyShape> {
    prop_oneof![
        20 => (any::<bool>(), prop::bool::weighted(0.2), prop::bool::weighted(0.1), prop::bool::weighted(0.1)).prop_map(|(n, e, s, d)| BodyShape::Json { variables_null_when_empty: n, extra_keys: e, surrogate_pair_comment: s, duplicate_query: d }),
        2 => select(&[Apq::Register { uppercase: false }, Apq::Register { uppercase: true }, Apq::Mismatch, Apq::Unknown, Apq::Junk][..]).prop_map(BodyShape::Apq),
        2 => select(vec![
            ("query", json!(42)), ("query", json!([])), ("query", json!({})), ("query", json!(true)),
            ("variables", json!("x")), ("variables", json!([1])), ("variables", json!(5)),
            ("operationName", json!(5)), ("operationName", json!([])), ("extensions", json!("x")), ("extensions", json!([]))
        ]).prop_map(|(key, value)| BodyShape::WrongType { key, value }),
        1 => (0usize..3).prop_map(BodyShape::Batch),
        1 => select(vec![json!(1), json!("x"), json!(null), json!(true), json!(-0.0)]).prop_map(BodyShape::Scalar),
        2 => any::<usize>().prop_map(BodyShape::Truncated),
        2 => (any::<usize>(), select(GARBAGE))
            .prop_map(|(at, bytes)| BodyShape::Garbage { at, bytes }),
        2 => (100usize..=160, any::<bool>()).prop_map(|(depth, lists)| BodyShape::DeepVariables { depth, lists }),
        1 => (BODY_LIMIT + 1..BODY_LIMIT + BODY_LIMIT / 2).prop_map(BodyShape::Huge),
        1 => select(&["", " ", "\n\t\r "][..]).prop_map(BodyShape::Empty),
    ]
    .boxed()
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The JSON body of a document.
fn json_body(doc: &Doc, variables_null_when_empty: bool) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("query".into(), Value::String(doc.text.clone()));
    if !doc.variables.is_empty() {
        body.insert("variables".into(), Value::Object(doc.variables.clone()));
    } else if variables_null_when_empty {
        body.insert("variables".into(), Value::Null);
    }
    if let Some(name) = &doc.operation_name {
        body.insert("operationName".into(), Value::String(name.clone()));
    }
    body
}

/// A value nested `depth` deep.
fn nested(depth: usize, lists: bool) -> String {
    if lists {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    } else {
        format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
    }
}

/// Whether a JSON text whose arrays and objects nest `total` deep parses, or `None` near the
/// limit, whose exact edge the test does not pin.
fn json_depth_ok(total: usize) -> Option<bool> {
    match total {
        t if t + 2 < JSON_DEPTH_LIMIT => Some(true),
        t if t > JSON_DEPTH_LIMIT => Some(false),
        _ => None,
    }
}

/// A POST of `doc` in the body `shape`: the bytes and what the body alone should cause
/// (`None`: the document runs).
fn post_body(doc: &Doc, shape: &BodyShape, media: Media, elastic: Cred) -> (Vec<u8>, Option<Expect>) {
    let refused = |status: u16, code: &'static str| Some(Expect::Refused { status, code, media });
    match shape {
        BodyShape::Json { variables_null_when_empty, extra_keys, surrogate_pair_comment, duplicate_query } => {
            // A private-use character marks where an escaped surrogate pair goes, in a comment at
            // the end of the document: serde_json writes the character as it is.
            let marked = Doc { text: format!("{}\n# \u{e000}", doc.text), ..doc.clone() };
            let mut body = json_body(if *surrogate_pair_comment { &marked } else { doc }, *variables_null_when_empty);
            if *extra_keys {
                body.insert("foo".into(), json!([1, { "query": 2 }]));
                body.insert("extensions".into(), json!({}));
            }
            let mut text = Value::Object(body).to_string().replace('\u{e000}', "\\ud83d\\ude00");
            if *duplicate_query {
                // serde_json keeps the last of duplicate keys.
                text = text.replacen('{', "{\"query\": 17, ", 1);
            }
            (text.into_bytes(), None)
        }
        BodyShape::Apq(apq) => {
            let hash = sha256_hex(&doc.text);
            let mut body = json_body(doc, false);
            let expect = match apq {
                Apq::Register { uppercase } => {
                    let hash = if *uppercase { hash.to_ascii_uppercase() } else { hash };
                    body.insert("extensions".into(), json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } }));
                    None
                }
                Apq::Mismatch => {
                    body.insert(
                        "extensions".into(),
                        json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex("other") } }),
                    );
                    refused(400, "PERSISTED_QUERY_HASH_MISMATCH")
                }
                Apq::Unknown => {
                    body.remove("query");
                    let unknown = sha256_hex(&format!("never registered {}", doc.text));
                    body.insert(
                        "extensions".into(),
                        json!({ "persistedQuery": { "version": 1, "sha256Hash": unknown } }),
                    );
                    Some(Expect::Refused { status: 200, code: "PERSISTED_QUERY_NOT_FOUND", media })
                }
                Apq::Junk => {
                    body.insert("extensions".into(), json!({ "persistedQuery": { "version": 1, "sha256Hash": 7 } }));
                    None
                }
            };
            (Value::Object(body).to_string().into_bytes(), expect)
        }
        BodyShape::WrongType { key, value } => {
            let mut body = json_body(doc, false);
            body.insert((*key).to_owned(), value.clone());
            (Value::Object(body).to_string().into_bytes(), refused(400, BAD_REQUEST))
        }
        BodyShape::Batch(n) => {
            let one = Value::Object(json_body(doc, false));
            (Value::Array(vec![one; *n]).to_string().into_bytes(), refused(400, "BATCH_NOT_SUPPORTED"))
        }
        BodyShape::Scalar(v) => (v.to_string().into_bytes(), refused(400, BAD_REQUEST)),
        BodyShape::Truncated(at) => {
            let text = Value::Object(json_body(doc, false)).to_string();
            // A strict prefix of a JSON object is never JSON: its closing brace is missing.
            let at = char_boundary(&text, at % text.len());
            (text.as_bytes()[..at].to_vec(), refused(400, BAD_REQUEST))
        }
        BodyShape::Garbage { at, bytes } => {
            let mut text = Value::Object(json_body(doc, false)).to_string().into_bytes();
            let at = at % (text.len() + 1);
            text.splice(at..at, bytes.iter().copied());
            // Bytes that are not UTF-8 (or a NUL) are not JSON wherever they land, and nothing
            // goes before or after a JSON object. Elsewhere an escape, a brace or a BOM may land
            // inside a string and change the document: then anything goes.
            let sure =
                matches!(bytes[0], 0xff | 0xc0 | 0xed | 0xf4 | 0x00) || at == 0 || at == text.len() - bytes.len();
            let expect = if sure { refused(400, BAD_REQUEST) } else { None };
            (
                text,
                expect.or(Some(Expect::Either(
                    Box::new(Expect::Refused { status: 400, code: BAD_REQUEST, media }),
                    Box::new(Expect::Runs {
                        doc: Doc { may: May::ALL, doc_wants: Vec::new(), field_wants: Vec::new(), ..doc.clone() },
                        media,
                        elastic,
                        get: false,
                    }),
                ))),
            )
        }
        BodyShape::DeepVariables { depth, lists } => {
            let body = Value::Object(json_body(doc, false)).to_string();
            let deep = nested(*depth, *lists);
            let text = match body.find("\"variables\":{") {
                Some(i) => {
                    let at = i + "\"variables\":{".len();
                    format!("{}\"deep\":{deep},{}", &body[..at], &body[at..])
                }
                None => format!("{{\"variables\":{{\"deep\":{deep}}},{}", &body[1..]),
            };
            // The outer object and `variables` are two levels.
            let expect = match json_depth_ok(*depth + 2) {
                Some(true) => None,
                Some(false) => refused(400, BAD_REQUEST),
                None => Some(Expect::Either(
                    Box::new(Expect::Refused { status: 400, code: BAD_REQUEST, media }),
                    Box::new(Expect::Runs { doc: doc.clone(), media, elastic, get: false }),
                )),
            };
            (text.into_bytes(), expect)
        }
        BodyShape::Huge(size) => {
            let text = json!({ "query": format!("{{ __typename }} #{}", "x".repeat(*size)) }).to_string();
            (text.into_bytes(), Some(Expect::Refused { status: 413, code: "PAYLOAD_TOO_LARGE", media }))
        }
        BodyShape::Empty(s) => (s.as_bytes().to_vec(), refused(400, BAD_REQUEST)),
    }
}

/// Percent-encodes everything but unreserved characters.
fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// How a GET carries a document.
#[derive(Debug, Clone)]
enum QueryShape {
    Plain { junk: &'static str },
    NoQuery,
    EmptyQuery,
    BadVariables(&'static str),
    DeepVariables { depth: usize, lists: bool },
    Mangled { at: usize, junk: &'static str },
}

fn query_shape() -> BoxedStrategy<QueryShape> {
    prop_oneof![
        10 => select(&["", "&", "&&", "&=", "&foo=%zz", "&%=%", "&a=b=c", "&;", "&operationName=", "&variables="][..]).prop_map(|junk| QueryShape::Plain { junk }),
        1 => Just(QueryShape::NoQuery),
        1 => Just(QueryShape::EmptyQuery),
        2 => select(&["%7B", "1", "%5B%5D", "%22x%22", "true", "%7B%22a%22%3A"][..]).prop_map(QueryShape::BadVariables),
        1 => (100usize..=160, any::<bool>()).prop_map(|(depth, lists)| QueryShape::DeepVariables { depth, lists }),
        2 => (any::<usize>(), select(&["%", "%zz", "%ff", "%00", "+", "%C0%AF", "%ED%A0%80"][..])).prop_map(|(at, junk)| QueryShape::Mangled { at, junk }),
    ]
    .boxed()
}

/// The URI of a GET of `doc` in the shape, and what the query string alone should cause.
fn get_uri(doc: &Doc, shape: &QueryShape, media: Media, elastic: Cred) -> (String, Option<Expect>) {
    let refused = |status: u16, code: &'static str| Some(Expect::Refused { status, code, media });
    let vars = if doc.variables.is_empty() {
        String::new()
    } else {
        format!("&variables={}", pct(&Value::Object(doc.variables.clone()).to_string()))
    };
    let name = doc.operation_name.as_ref().map(|n| format!("&operationName={}", pct(n))).unwrap_or_default();
    let query = format!("query={}", pct(&doc.text));
    match shape {
        QueryShape::Plain { junk } => {
            let expect = if *junk == "&variables=" && !doc.variables.is_empty() {
                // An empty `variables` after the real one replaces it with none.
                Some(Expect::Runs {
                    doc: Doc { may: May::ALL, doc_wants: Vec::new(), field_wants: Vec::new(), ..doc.clone() },
                    media,
                    elastic,
                    get: true,
                })
            } else if *junk == "&operationName=" && doc.operation_name.is_some() {
                Some(Expect::Runs {
                    doc: Doc { may: May::ALL, doc_wants: Vec::new(), field_wants: Vec::new(), ..doc.clone() },
                    media,
                    elastic,
                    get: true,
                })
            } else {
                None
            };
            (format!("/graphql?{query}{vars}{name}{junk}"), expect)
        }
        QueryShape::NoQuery => (format!("/graphql?{}{name}", vars.trim_start_matches('&')), refused(400, BAD_REQUEST)),
        QueryShape::EmptyQuery => {
            let empty =
                Doc { text: String::new(), doc_wants: vec![Want::Code(&[PARSE])], may: May::ALL, ..Doc::default() };
            (
                format!("/graphql?query={vars}"),
                Some(Expect::Either(
                    Box::new(Expect::Refused { status: 400, code: BAD_REQUEST, media }),
                    Box::new(Expect::Runs { doc: empty, media, elastic, get: true }),
                )),
            )
        }
        QueryShape::BadVariables(v) => (format!("/graphql?{query}&variables={v}{name}"), refused(400, BAD_REQUEST)),
        QueryShape::DeepVariables { depth, lists } => {
            let deep = format!("{{\"deep\":{}}}", nested(*depth, *lists));
            let expect = match json_depth_ok(*depth + 1) {
                Some(true) => Some(Expect::Runs {
                    doc: Doc { may: May::ALL, doc_wants: Vec::new(), field_wants: Vec::new(), ..doc.clone() },
                    media,
                    elastic,
                    get: true,
                }),
                Some(false) => refused(400, BAD_REQUEST),
                None => Some(Expect::Either(
                    Box::new(Expect::Refused { status: 400, code: BAD_REQUEST, media }),
                    Box::new(Expect::Runs {
                        doc: Doc { may: May::ALL, doc_wants: Vec::new(), field_wants: Vec::new(), ..doc.clone() },
                        media,
                        elastic,
                        get: true,
                    }),
                )),
            };
            (format!("/graphql?{query}&variables={}{name}", pct(&deep)), expect)
        }
        QueryShape::Mangled { at, junk } => {
            // Never inside an escape of the encoded document.
            let places: Vec<usize> = ("query=".len()..=query.len())
                .filter(|&i| !query.as_bytes()[..i].iter().rev().take(2).any(|b| *b == b'%'))
                .collect();
            let mut mangled = query.clone();
            mangled.insert_str(places[at % places.len()], junk);
            // The query string decodes to some other document: only the universal rules hold.
            let doc =
                Doc { may: May::ALL, mutation: true, doc_wants: Vec::new(), field_wants: Vec::new(), ..doc.clone() };
            (format!("/graphql?{mangled}{vars}{name}"), Some(Expect::Runs { doc, media, elastic, get: true }))
        }
    }
}

/// A whole request: method, headers and body around a document.
fn envelope(fx: &Fixtures, doc: BoxedStrategy<Doc>, hostile: bool) -> BoxedStrategy<Case> {
    let accept = if hostile {
        prop_oneof![6 => Just(0usize), 10 => 0..ACCEPTS.len(), 1 => Just(usize::MAX)].boxed()
    } else {
        prop_oneof![3 => Just(0usize), 1 => Just(1usize), 2 => Just(2usize)].boxed()
    };
    let content_type = if hostile {
        prop_oneof![8 => Just(0usize), 4 => 0..CONTENT_TYPES.len(), 1 => Just(usize::MAX)].boxed()
    } else {
        Just(0usize).boxed()
    };
    let body = if hostile {
        body_shape()
    } else {
        Just(BodyShape::Json {
            variables_null_when_empty: false,
            extra_keys: false,
            surrogate_pair_comment: false,
            duplicate_query: false,
        })
        .boxed()
    };
    let method = if hostile {
        prop_oneof![12 => Just("POST"), 5 => Just("GET"), 1 => select(&["PUT", "DELETE", "PATCH", "OPTIONS"][..])]
            .boxed()
    } else {
        prop_oneof![3 => Just("POST"), 1 => Just("GET")].boxed()
    };
    let query = if hostile { query_shape() } else { Just(QueryShape::Plain { junk: "" }).boxed() };
    let request_id = prop_oneof![8 => Just(None), 1 => select(&["x", "\u{e9}", "é", "", "a b"][..]).prop_map(Some)];
    (doc, method, accept, content_type, body, query, elastic_header(fx), talkdesk_header(fx), request_id)
        .prop_map(|(doc, method, accept, content_type, body, query, elastic, talkdesk, request_id)| {
            build_case(doc, method, accept, content_type, &body, &query, elastic, talkdesk, request_id)
        })
        .boxed()
}

#[allow(clippy::too_many_arguments)]
fn build_case(
    doc: Doc,
    method: &str,
    accept: usize,
    content_type: usize,
    body: &BodyShape,
    query: &QueryShape,
    elastic: Header,
    talkdesk: Header,
    request_id: Option<&str>,
) -> Case {
    let mut headers: Vec<(&'static str, Vec<u8>)> = Vec::new();
    // `usize::MAX` stands for header bytes that are not UTF-8, or a very long list.
    let media = match ACCEPTS.get(accept) {
        Some((value, media)) => {
            if let Some(v) = value {
                headers.push(("accept", v.as_bytes().to_vec()));
            }
            *media
        }
        None => {
            let mut long = "text/plain, ".repeat(2_000).into_bytes();
            long.extend_from_slice(b"application/json");
            headers.push(("accept", long));
            Some(Media::Json)
        }
    };
    let json = match CONTENT_TYPES.get(content_type) {
        Some((value, json)) => {
            if let Some(v) = value {
                headers.push(("content-type", v.as_bytes().to_vec()));
            }
            *json
        }
        None => {
            headers.push(("content-type", vec![b'a', 0xff]));
            false
        }
    };
    if let Some(v) = elastic.value {
        headers.push(("authorization", v));
    }
    if let Some(v) = talkdesk.value {
        headers.push(("x-talkdesk-authorization", v));
    }
    if let Some(id) = request_id {
        headers.push(("x-request-id", id.as_bytes().to_vec()));
    }
    let runs = |doc: Doc, media: Media, get: bool| Expect::Runs { doc, media, elastic: elastic.cred, get };

    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let Some(media) = media else {
        let graphql_method = method == Method::GET || method == Method::POST;
        // Refused before anything else is read: a short document will do for a GET.
        let body = if method == Method::GET {
            Vec::new()
        } else {
            Value::Object(json_body(&doc, false)).to_string().into_bytes()
        };
        let uri = if method == Method::GET { format!("/graphql?query={}", pct(&doc.text)) } else { "/graphql".into() };
        let uri = if uri.len() < 60_000 { uri } else { "/graphql?query=%7B%7D".into() };
        return Case {
            method,
            uri,
            headers,
            body,
            // A method `/graphql` does not take is refused as such, whatever it accepts.
            expect: if graphql_method {
                Expect::Refused { status: 406, code: "NOT_ACCEPTABLE", media: Media::Json }
            } else {
                Expect::Refused { status: 405, code: "METHOD_NOT_ALLOWED", media: Media::Json }
            },
        };
    };
    if method == Method::GET {
        let (uri, expect) = get_uri(&doc, query, media, elastic.cred);
        // The `http` crate refuses URIs longer than 64 KiB: such documents go by POST.
        if uri.len() < 60_000 {
            let expect = expect.unwrap_or_else(|| runs(doc, media, true));
            return Case { method, uri, headers, body: Vec::new(), expect };
        }
        let body = Value::Object(json_body(&doc, false)).to_string().into_bytes();
        headers.retain(|(n, _)| *n != "content-type");
        headers.push(("content-type", b"application/json".to_vec()));
        return Case { method: Method::POST, uri: "/graphql".into(), headers, body, expect: runs(doc, media, false) };
    }
    if method != Method::POST {
        let body = Value::Object(json_body(&doc, false)).to_string().into_bytes();
        return Case {
            method,
            uri: "/graphql".into(),
            headers,
            body,
            expect: Expect::Refused { status: 405, code: "METHOD_NOT_ALLOWED", media },
        };
    }
    let (bytes, expect) = post_body(&doc, body, media, elastic.cred);
    let expect = if !json {
        Expect::Refused { status: 415, code: "UNSUPPORTED_MEDIA_TYPE", media }
    } else if bytes.len() > BODY_LIMIT {
        Expect::Refused { status: 413, code: "PAYLOAD_TOO_LARGE", media }
    } else {
        expect.unwrap_or_else(|| runs(doc, media, false))
    };
    Case { method, uri: "/graphql".into(), headers, body: bytes, expect }
}

// ---------------------------------------------------------------------------------------------
// The properties.
// ---------------------------------------------------------------------------------------------

/// Hostile documents (fragments, nesting, directives, variables, lexical damage) in well-formed
/// requests.
#[test]
fn hostile_documents_never_take_the_gateway_down() {
    let fx = WORLD.fx.clone();
    run_property(
        "documents",
        concat!(env!("CARGO_TARGET_TMPDIR"), "/fuzz-documents.proptest-regressions"),
        45,
        envelope(&fx, document(&fx), false),
    );
}

/// Real schema fields with hostile arguments: ids, dates, cursors, paging, filters.
#[test]
fn hostile_arguments_never_take_the_gateway_down() {
    let fx = WORLD.fx.clone();
    run_property(
        "arguments",
        concat!(env!("CARGO_TARGET_TMPDIR"), "/fuzz-arguments.proptest-regressions"),
        30,
        envelope(&fx, schema_document(&fx), false),
    );
}

/// Hostile requests: methods, media types, bodies, query strings, credentials.
#[test]
fn hostile_requests_never_take_the_gateway_down() {
    let fx = WORLD.fx.clone();
    run_property(
        "requests",
        concat!(env!("CARGO_TARGET_TMPDIR"), "/fuzz-requests.proptest-regressions"),
        25,
        envelope(&fx, document(&fx), true),
    );
}

// ---------------------------------------------------------------------------------------------
// Regression tests: the known crashes, and every failure the properties found.
// ---------------------------------------------------------------------------------------------

/// A simulator and a gateway of one's own, so the simulator's counters see this test alone.
struct Fresh {
    sim: SimHandle,
    router: Router,
    _gateway: Gateway,
}

impl Fresh {
    async fn start() -> Fresh {
        let sim = support::sim().await;
        let gateway = Gateway::build(support::config_for(&sim.base_url())).await.unwrap();
        Fresh { router: gateway.router(), sim, _gateway: gateway }
    }

    /// POSTs `{"query": query}` with the demo credentials; returns the status, the body and how
    /// many upstream requests the simulator received for it.
    async fn post(&self, query: &str) -> (u16, Value, u64) {
        self.send(Method::POST, json!({ "query": query })).await
    }

    /// Sends `body` as JSON with the demo credentials, as [`Fresh::post`] does.
    async fn send(&self, method: Method, body: Value) -> (u16, Value, u64) {
        let before = self.sim.stats().total();
        let request = Request::builder()
            .method(method)
            .uri("/graphql")
            .header("host", "localhost")
            .header("content-type", "application/json")
            .header("authorization", support::elastic_auth(&self.sim))
            .header("x-talkdesk-authorization", support::talkdesk_auth(&self.sim))
            .body(Body::from(body.to_string()))
            .unwrap();
        let reply = send(&self.router, request).await.unwrap_or_else(|e| panic!("{e}"));
        let body = serde_json::from_slice(&reply.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {:?}", reply.status, String::from_utf8_lossy(&reply.body)));
        (reply.status, body, self.sim.stats().total() - before)
    }

    /// The `data` of an executed query, after checking that every error has a code.
    async fn data(&self, body: Value) -> (Value, Vec<String>) {
        let (status, body, _) = self.send(Method::POST, body).await;
        assert_eq!(status, 200, "{body}");
        let codes = codes_of(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        (body.get("data").cloned().unwrap_or_else(|| panic!("no data: {body}")), codes)
    }

    /// Asserts that `query` is refused with `code`, in time, without a call upstream.
    async fn assert_refused(&self, query: &str, code: &str) {
        let started = Instant::now();
        let (status, body, calls) = self.post(query).await;
        assert!(started.elapsed() < CASE_TIMEOUT, "took {:?}", started.elapsed());
        assert_eq!(status, 200, "{body}");
        let codes = codes_of(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert!(codes.iter().any(|c| c == code), "expected {code}: {body}");
        assert_eq!(calls, 0, "the simulator received {calls} requests for a refused document");
    }
}

/// `levels` fragments on `on`, each spreading the next twice, the last selecting `leaf`.
fn fan_out(on: &str, levels: usize, leaf: &str) -> String {
    let mut out = String::new();
    for i in 0..levels {
        out.push_str(&format!(" fragment F{i} on {on} {{ ...F{next} ...F{next} }}", next = i + 1));
    }
    out.push_str(&format!(" fragment F{levels} on {on} {{ {leaf} }}"));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_a_fragment_that_spreads_itself_is_invalid() {
    let gateway = Fresh::start().await;
    gateway.assert_refused("{ ...A } fragment A on Query { ...A }", INVALID).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_two_fragments_that_spread_each_other_are_invalid() {
    let gateway = Fresh::start().await;
    gateway.assert_refused("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }", INVALID).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_a_fragment_fan_out_bomb_on_query_is_too_complex() {
    let gateway = Fresh::start().await;
    let query = format!("{{ ...F0 }}{}", fan_out("Query", 23, "__typename"));
    gateway.assert_refused(&query, COMPLEX).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_a_fragment_fan_out_bomb_on_deployment_is_too_complex() {
    let gateway = Fresh::start().await;
    let query =
        format!("{{ organization(id: \"x\") {{ deployments {{ ...F0 }} }} }}{}", fan_out("Deployment", 23, "id"));
    gateway.assert_refused(&query, COMPLEX).await;
}

// Found by the properties: each with the minimal input proptest shrank it to.

/// Fragments of spreads alone, four per fragment and fifteen deep, the last fragment unknown,
/// spread by an operation that would not even run: no field is selected, so the expanded size
/// counted fields only and let it through, and async-graphql's recursion check then visited
/// 4^15 spreads (the case ran past its 5 s). Spreads count now. Found by
/// `hostile_documents_never_take_the_gateway_down`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_spreads_without_fields_cannot_fan_out_for_free() {
    let gateway = Fresh::start().await;
    let mut query = String::from("mutation Main { ...Dp0_0 } query Extra { __typename }");
    for i in 0..15 {
        let next = format!("...Dp0_{} ", i + 1).repeat(4);
        query.push_str(&format!(" fragment Dp0_{i} on Query {{ {next}}}"));
    }
    gateway.assert_refused(&query, COMPLEX).await;
}

/// An argument that async-graphql cannot coerce fails its field with an error that had no
/// `extensions.code`: a date that is no date, a literal of the wrong type. Found by
/// `hostile_arguments_never_take_the_gateway_down`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_an_argument_that_cannot_be_coerced_is_bad_user_input() {
    let gateway = Fresh::start().await;
    for field in ["instances(to: \"2026-13-45T00:00:00Z\") { id }", "items(from: 12345) { total }"] {
        let query = format!("{{ o: organization(id: \"1878943810\") {{ {field} }} }}");
        let (_, codes) = gateway.data(json!({ "query": query })).await;
        assert!(codes.iter().any(|c| c == BAD_INPUT || c == INVALID), "{query}: {codes:?}");
    }
}

/// The same for a variable of an input object type given a string. Found by
/// `hostile_requests_never_take_the_gateway_down`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_a_variable_that_cannot_be_coerced_is_bad_user_input() {
    let gateway = Fresh::start().await;
    let query = "query Main($f: UsageFilter) { u: usageAggregates(first: 1, filter: $f) { totalCount } }";
    let (status, body, _) =
        gateway.send(Method::POST, json!({ "query": query, "variables": { "f": "not an object" } })).await;
    assert_eq!(status, 200, "{body}");
    let codes = codes_of(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert!(codes.iter().any(|c| c == BAD_INPUT || c == INVALID), "{codes:?}");
}

/// Every root field is nullable, so a root field that fails is null in `data`; `data` itself
/// was null when it was the only root field. Found by `hostile_arguments_never_take_the_gateway_down`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_a_failed_root_field_is_null_in_data_not_data_itself() {
    let gateway = Fresh::start().await;
    for (query, key) in
        [("{ o: organization(id: \"\") { id } }", "o"), ("{ u: usageAggregates(first: -1) { totalCount } }", "u")]
    {
        let (data, codes) = gateway.data(json!({ "query": query })).await;
        assert_eq!(codes, [BAD_INPUT], "{query}");
        assert_eq!(data, json!({ key: null }), "{query}");
    }
}

/// A selection set whose every field is skipped is an empty object, not null: at the root
/// (`data` was null) and below (the organization was null). Found by
/// `hostile_documents_never_take_the_gateway_down`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_skipping_every_field_leaves_an_empty_object() {
    let gateway = Fresh::start().await;
    for (query, data) in [
        ("{ __typename @skip(if: true) }", json!({})),
        ("{ k: __type(name: \"Query\") @skip(if: true) { name } }", json!({})),
        ("{ o: organization(id: \"1878943810\") { id @skip(if: true) } }", json!({ "o": {} })),
    ] {
        assert_eq!(gateway.data(json!({ "query": query })).await, (data, Vec::new()), "{query}");
    }
}

/// A required variable left out is a request error, also when only a directive uses it:
/// async-graphql did not notice, and `@skip(if: $b)` did not skip. Found by
/// `hostile_documents_never_take_the_gateway_down`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_a_missing_required_variable_is_an_error_in_a_directive_too() {
    let gateway = Fresh::start().await;
    let query = "query Main($b: Boolean!) { k: __type(name: \"Query\") @skip(if: $b) { name } }";
    let (status, body, _) = gateway.send(Method::POST, json!({ "query": query })).await;
    assert_eq!(status, 200, "{body}");
    let codes = codes_of(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert!(codes.iter().any(|c| c == INVALID || c == BAD_INPUT), "{body}");
}

/// An empty `accountIds` list matches nothing, and the filter's other list was then not read:
/// an invalid month passed silently. Found by `hostile_arguments_never_take_the_gateway_down`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_an_invalid_month_is_refused_beside_an_empty_account_list() {
    let gateway = Fresh::start().await;
    let query = "{ u: usageAggregates(first: 0, filter: { accountIds: [], months: [\"2026-13\"] }) { totalCount } }";
    let (_, codes) = gateway.data(json!({ "query": query })).await;
    assert_eq!(codes, [BAD_INPUT]);
}

/// `PUT`, `DELETE`, `PATCH` and `OPTIONS` on `/graphql` answered 405 with an empty body, where
/// every other refusal is a GraphQL response with a code. Found by
/// `hostile_requests_never_take_the_gateway_down`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_other_methods_are_refused_in_graphql_form() {
    let gateway = Fresh::start().await;
    for method in [Method::PUT, Method::DELETE, Method::PATCH, Method::OPTIONS] {
        let (status, body, _) = gateway.send(method.clone(), json!({ "query": "{ __typename }" })).await;
        assert_eq!(status, 405, "{method} {body}");
        assert_eq!(codes_of(&body), Ok(vec!["METHOD_NOT_ALLOWED".to_owned()]), "{method} {body}");
    }
}

/// A document with several operations and no `operationName` is a request error (the spec's
/// GetOperation): the gateway ran one of them, picked in hash map order. Found by
/// `hostile_documents_never_take_the_gateway_down`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_several_operations_without_a_name_are_a_request_error() {
    let gateway = Fresh::start().await;
    let query = "query Main { a: __typename } query Extra { b: __typename } query Third { c: __typename }";
    let (status, body, _) = gateway.post(query).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("data").is_none(), "{body}");
    assert!(!codes_of(&body).unwrap_or_else(|e| panic!("{e}: {body}")).is_empty(), "{body}");
}

/// An `operationName` that names no operation is a request error, also when the only operation
/// is anonymous: the gateway ran it. Found by `hostile_requests_never_take_the_gateway_down`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_an_operation_name_that_names_no_operation_is_a_request_error() {
    let gateway = Fresh::start().await;
    for query in ["{ __typename }", "query Other { __typename }"] {
        let (status, body, _) = gateway.send(Method::POST, json!({ "query": query, "operationName": "Main" })).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("data").is_none(), "{query}: {body}");
        assert!(!codes_of(&body).unwrap_or_else(|e| panic!("{e}: {body}")).is_empty(), "{body}");
    }
}
