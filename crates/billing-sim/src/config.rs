//! How a simulator is set up: seed, clock, dataset scale, latency, faults and rate limit.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use billing_model::talkdesk::oauth::USAGE_SCOPE;
use chrono::{DateTime, Utc};

/// Everything a simulator is built from. [`SimConfig::default`] is the demo setup on the system clock.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where [`crate::spawn`] listens. Defaults to `127.0.0.1:0`, an ephemeral port.
    pub listen: SocketAddr,
    /// Seeds the dataset and the random faults: the same seed gives the same data and fault sequence.
    pub seed: u64,
    /// A fixed "now" for deterministic tests; `None` reads the system clock on every request.
    pub now: Option<DateTime<Utc>>,
    /// How much data to generate.
    pub scale: Scale,
    /// Latency added to every endpoint without its own entry in `endpoint_latency`.
    pub latency: Latency,
    /// Latency per endpoint template (see [`crate::endpoints`]).
    pub endpoint_latency: BTreeMap<String, Latency>,
    /// Random faults on every endpoint without its own entry in `endpoint_faults`.
    pub faults: FaultRates,
    /// Random faults per endpoint template.
    pub endpoint_faults: BTreeMap<String, FaultRates>,
    /// At most this many requests per second per credential (the `Authorization` header), then 429.
    pub rate_limit: Option<u32>,
    /// How long a Talkdesk access token from `POST /oauth/token` is accepted: whole seconds, at
    /// least one (`expires_in`). Tests set a few seconds, or end lifetimes with
    /// [`crate::Sim::expire_tokens`].
    pub token_lifetime: Duration,
    /// The OAuth clients `POST /oauth/token` knows; [`TalkdeskClient::demo`] by default.
    pub talkdesk_clients: Vec<TalkdeskClient>,
    /// Whether Talkdesk usage pages carry their counters (`count`, `page`, `per_page`, `total`,
    /// `total_pages`). Sibling endpoints document them; the usage page's own table lists none,
    /// so a client must page by the `next` links alone: `false` serves pages without them.
    pub talkdesk_page_counters: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: 42,
            now: None,
            scale: Scale::default(),
            latency: Latency::None,
            endpoint_latency: BTreeMap::new(),
            faults: FaultRates::default(),
            endpoint_faults: BTreeMap::new(),
            rate_limit: None,
            token_lifetime: Duration::from_secs(600),
            talkdesk_clients: TalkdeskClient::demo(),
            talkdesk_page_counters: true,
        }
    }
}

/// A Talkdesk OAuth client: what it authenticates with, whose data its tokens read, and the
/// scopes it may ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TalkdeskClient {
    pub id: String,
    pub secret: String,
    /// The Talkdesk organization its tokens read, an index into
    /// [`crate::Dataset::talkdesk_organizations`].
    pub organization: usize,
    /// The scopes it may be granted; a request for any other is refused with `invalid_scope`.
    pub scopes: Vec<String>,
}

impl TalkdeskClient {
    /// A client of `organization` allowed these scopes.
    pub fn new(id: &str, secret: &str, organization: usize, scopes: &[&str]) -> Self {
        TalkdeskClient {
            id: id.to_owned(),
            secret: secret.to_owned(),
            organization,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// The demo clients: one per organization of the first two with the usage scope, and a
    /// "limited" one of the first organization without it (its tokens get 403 on usage).
    pub fn demo() -> Vec<TalkdeskClient> {
        let full = [USAGE_SCOPE, "express-accounts:read"];
        vec![
            TalkdeskClient::new("sim-talkdesk-client", "sim-talkdesk-client-secret", 0, &full),
            TalkdeskClient::new("sim-talkdesk-other-client", "sim-talkdesk-other-client-secret", 1, &full),
            TalkdeskClient::new(
                "sim-talkdesk-limited-client",
                "sim-talkdesk-limited-client-secret",
                0,
                &["express-accounts:read"],
            ),
        ]
    }
}

impl SimConfig {
    /// The demo config with a fixed clock, the usual start of a deterministic test.
    pub fn at(now: DateTime<Utc>) -> Self {
        SimConfig { now: Some(now), ..SimConfig::default() }
    }
}

/// The size of the generated dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scale {
    /// Regular Elastic organizations (at least 2): the first is the demo organization, the second
    /// the "other" one that only the second key reads.
    pub organizations: usize,
    /// Deployments in each regular organization.
    pub deployments_per_org: usize,
    /// Deployments in the big organization, for benchmarks.
    pub big_org_deployments: usize,
    /// Serverless projects in the demo organization (v2 only).
    pub projects: usize,
    /// Months of usage history before "now" (at least 1), Elastic and Talkdesk alike.
    pub months: u32,
    /// Talkdesk organizations (at least 2), each with its own token.
    pub talkdesk_organizations: usize,
    /// Talkdesk accounts in each Talkdesk organization.
    pub accounts_per_org: usize,
}

impl Default for Scale {
    fn default() -> Self {
        Scale {
            organizations: 2,
            deployments_per_org: 30,
            big_org_deployments: 500,
            projects: 3,
            months: 13,
            talkdesk_organizations: 2,
            accounts_per_org: 4,
        }
    }
}

/// How long after a request comes in its answer leaves (at least the time to compute it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Latency {
    /// Answer at once.
    #[default]
    None,
    /// Always this long.
    Fixed(Duration),
    /// Uniformly distributed in `[min, max]`, drawn from the seeded generator.
    Uniform { min: Duration, max: Duration },
}

/// Random fault probabilities, each in `[0, 1]`; at most one fault hits a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultRates {
    /// Share of requests answered 500.
    pub server_error: f64,
    /// Share of requests answered 429 with `Retry-After`.
    pub too_many_requests: f64,
    /// The `Retry-After` of those 429s (whole seconds on the wire, at least 1).
    pub retry_after: Duration,
    /// Share of requests held without an answer for `stall` (a timeout, seen from the client).
    pub timeout: f64,
    /// How long a timed-out request is held before it is answered normally.
    pub stall: Duration,
    /// Share of requests answered 200 `application/json` with a truncated body.
    pub malformed: f64,
}

impl Default for FaultRates {
    fn default() -> Self {
        FaultRates {
            server_error: 0.0,
            too_many_requests: 0.0,
            retry_after: Duration::from_secs(1),
            timeout: 0.0,
            stall: Duration::from_secs(3600),
            malformed: 0.0,
        }
    }
}

impl FaultRates {
    /// No faults at all.
    pub fn none() -> Self {
        FaultRates::default()
    }
}
