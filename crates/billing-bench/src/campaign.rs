//! The fault and load campaign of "No request takes the gateway down": a simulator with random
//! faults, a gateway in front of it, and a mix of every query shape sent by four tenants at once,
//! each answer checked against the simulator's dataset.
//!
//! The end-to-end suite runs a few hundred probes of it (`tests/e2e/campaign.rs`) and
//! `billing-bench soak` runs it for minutes while sampling the gateway's RSS. Both use this one
//! module, so the mix and the checks cannot drift apart; it depends on the simulator and the
//! gateway's `Config` only, as the bench already does.
//!
//! A *probe* is one client action: one GraphQL request, or two for the paged usage shape (the
//! second follows the first page's `endCursor`). Every answer must be complete (data, no error)
//! or partial (data, and every error has an `extensions.code` and a `path` to a null); a refusal
//! is fair only for an invalid variable, or as a 429 shedding a caller past its rate. Every value
//! that is there must be the value the probe's own credential reads in the dataset: a tenant that
//! may not read an organization must see its fields fail, never another tenant's numbers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use billing_model::{DateRange, Month};
use billing_sim::usage::{deployment_cost, organization_cost};
use billing_sim::{Dataset, Deployment, FaultRates, Organization, Scale, SimConfig};
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde_json::{Value, json};

/// The environment variable that sets how many probes the end-to-end campaign sends.
pub const REQUESTS_ENV: &str = "BILLING_CAMPAIGN_REQUESTS";

/// One upstream attempt, in the campaign's gateway: a stall is cut off after this long.
pub const UPSTREAM_TIMEOUT_MS: u64 = 300;

/// The whole GraphQL request, in the campaign's gateway.
pub const REQUEST_TIMEOUT_SECS: u64 = 5;

/// How late after the request timeout an answer may still arrive before it counts as a hang:
/// room for a loaded machine to schedule the client, not for the gateway to keep working.
pub const ANSWER_MARGIN: Duration = Duration::from_secs(3);

/// How long a stalled upstream request is held: far past both timeouts, so only the gateway's
/// upstream timeout ends it.
pub const STALL: Duration = Duration::from_secs(30);

/// The longest a client waits for an answer before counting it as a hang.
pub fn answer_bound() -> Duration {
    Duration::from_secs(REQUEST_TIMEOUT_SECS) + ANSWER_MARGIN
}

/// The simulator's fixed clock, the end-to-end suite's: every range of the mix lies before it.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 15, 12, 0, 0).single().unwrap_or_default()
}

/// The campaign's random faults: 10 % 500s, 5 % 429s with `Retry-After: 1`, 1 % stalls.
pub fn fault_rates() -> FaultRates {
    FaultRates {
        server_error: 0.10,
        too_many_requests: 0.05,
        retry_after: Duration::from_secs(1),
        timeout: 0.01,
        stall: STALL,
        malformed: 0.0,
    }
}

/// The simulator of the campaign: four regular organizations (so four Elastic keys, each of the
/// last three reading only its own) and four Talkdesk organizations, small enough that a
/// deployments-and-charts query costs about ten upstream calls, with [`fault_rates`] on.
pub fn sim_config() -> SimConfig {
    SimConfig {
        scale: Scale {
            organizations: 4,
            deployments_per_org: 10,
            big_org_deployments: 10,
            talkdesk_organizations: 4,
            ..Scale::default()
        },
        faults: fault_rates(),
        ..SimConfig::at(now())
    }
}

/// The gateway of the campaign in front of the simulator at `sim_base`: no server-side
/// credentials (every probe sends its own), a stall cut by [`UPSTREAM_TIMEOUT_MS`], the request
/// by [`REQUEST_TIMEOUT_SECS`], and the cache on but small, so that it fills during a soak's
/// warm-up and the soak then watches a bounded cache evicting rather than one still growing.
pub fn gateway_config(sim_base: &str) -> billing_gateway::Config {
    let mut config = billing_gateway::Config::defaults();
    config.elastic_v1_url = Some(format!("{sim_base}/api/v1"));
    config.elastic_v2_url = Some(format!("{sim_base}/api/v2"));
    config.talkdesk_url = Some(sim_base.to_owned());
    config.upstream_timeout_ms = UPSTREAM_TIMEOUT_MS;
    config.request_timeout_secs = REQUEST_TIMEOUT_SECS;
    config.cache_ttl_secs = 60;
    config.cache_max_mib = 16;
    config.no_graphiql = true;
    config
}

/// How varied the mix is: more ranges mean more distinct upstream calls, so more cache misses
/// and more faults reaching the gateway.
#[derive(Debug, Clone, Copy)]
pub struct Variety {
    /// Ranges start on one of this many days before the clock's day.
    pub start_days: u32,
    /// Ranges last 1 to this many days.
    pub max_days: u32,
}

impl Variety {
    /// A few hundred probes: enough repeats for cache hits and identical requests in flight.
    pub const SUITE: Variety = Variety { start_days: 20, max_days: 3 };
    /// Minutes of load: the cache keeps missing, so faults keep coming.
    pub const SOAK: Variety = Variety { start_days: 360, max_days: 7 };
}

/// One caller: an Elastic key and a Talkdesk token, and what they may read.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// A short label for messages.
    pub name: String,
    /// The `Authorization` header value.
    pub authorization: String,
    /// The `X-Talkdesk-Authorization` header value.
    pub talkdesk: String,
    /// The tenant's own organization, an index into the campaign's organizations.
    org: usize,
    /// Which of the campaign's organizations the key may read.
    readable: Vec<bool>,
    /// The Talkdesk organization the token reads, an index into the dataset's.
    talkdesk_org: usize,
}

/// The query shapes of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shape {
    /// An organization's cost overview with dimensions.
    OrgCosts,
    /// Every deployment with dimensions and a daily chart each.
    Deployments,
    /// An organization's itemized costs.
    Items,
    /// One deployment with its v2 line items.
    Deployment,
    /// Two pages of usage aggregates, the second after the first's `endCursor`.
    UsagePages,
    /// Elastic and Talkdesk fields in one request.
    Mixed,
    /// An organization id that does not exist.
    UnknownOrg,
    /// A range whose end is before its start.
    ReversedRange,
    /// A `DateTime` variable that is not a date: refused, or its field fails as `BAD_USER_INPUT`.
    BadDateLiteral,
    /// A cursor the API never returned.
    BadCursor,
    /// A usage filter naming another tenant's account.
    ForeignAccounts,
}

/// The shapes with their weights, out of 100.
const WEIGHTS: [(Shape, u64); 11] = [
    (Shape::OrgCosts, 18),
    (Shape::Deployments, 12),
    (Shape::Items, 10),
    (Shape::Deployment, 14),
    (Shape::UsagePages, 14),
    (Shape::Mixed, 12),
    (Shape::UnknownOrg, 4),
    (Shape::ReversedRange, 4),
    (Shape::BadDateLiteral, 4),
    (Shape::BadCursor, 4),
    (Shape::ForeignAccounts, 4),
];

const ORG_COSTS: &str = "query OrgCosts($org: ID!, $from: DateTime!, $to: DateTime!) { organization(id: $org) { \
    id costs(from: $from, to: $to) { total hourlyRate dimensions { type cost } } } }";

const DEPLOYMENTS: &str = "query Deployments($org: ID!, $from: DateTime!, $to: DateTime!) { organization(id: $org) { \
    id deployments(from: $from, to: $to) { id name totalCost dimensions { type cost } \
    charts(bucketing: DAILY) { points { timestamp total } } } } }";

const ITEMS: &str = "query Items($org: ID!, $from: DateTime!, $to: DateTime!) { organization(id: $org) { \
    id items(from: $from, to: $to) { total dimensions { type cost } resources { sku price } } } }";

const DEPLOYMENT: &str = "query Deployment($org: ID!, $id: ID!, $from: DateTime!, $to: DateTime!) { \
    organization(id: $org) { id deployment(id: $id, from: $from, to: $to) { id name totalCost hourlyRate \
    lineItems { sku type quantity totalEcu } } } }";

const USAGE: &str = "query Usage($first: Int!, $after: String, $months: [String!]) { \
    usageAggregates(first: $first, after: $after, filter: { months: $months }) { \
    totalCount pageInfo { hasNextPage endCursor } nodes { id accountId month totalAmount } } }";

const MIXED: &str = "query Mixed($org: ID!, $from: DateTime!, $to: DateTime!, $months: [String!]) { \
    organization(id: $org) { id costs(from: $from, to: $to) { total } } \
    usageAggregates(first: 3, filter: { months: $months }) { nodes { id accountId } } }";

const FOREIGN_ACCOUNTS: &str = "query ForeignAccounts($accounts: [ID!]) { \
    usageAggregates(first: 5, filter: { accountIds: $accounts }) { nodes { id accountId } } }";

/// The code of the gateway's 429 to a caller past its request rate.
const CALLER_RATE_LIMITED: &str = "CALLER_RATE_LIMITED";

/// An organization id the dataset does not have (theirs have ten digits).
const UNKNOWN_ORG: &str = "999";

/// One client action of the mix, derived from its sequence number alone.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Its sequence number.
    pub n: u64,
    /// Who sends it, an index into [`Campaign::tenants`].
    pub tenant: usize,
    pub shape: Shape,
    /// The organization it reads, an index into the campaign's organizations.
    org: usize,
    range: DateRange,
    /// The deployment of [`Shape::Deployment`]: one of the organization's, or an unknown id.
    deployment: String,
    months: Vec<Month>,
    /// The page size of the usage shapes.
    first: usize,
    /// The account of [`Shape::ForeignAccounts`].
    foreign_account: String,
}

/// How an answer came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Data and no error.
    Complete,
    /// Data, and errors on the fields that failed.
    Partial,
    /// No data: the request was refused as a whole.
    Refused,
}

/// The rules an answer must keep; a problem names the one it breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// Every error has an `extensions.code`.
    Coded,
    /// Every field error has a `path`, and it leads to a null.
    PathToNull,
    /// A field that is null because it failed has an error naming it (of the expected code).
    FailureNamed,
    /// A valid request is answered with data, or shed with a 429 when its caller is past its
    /// request rate.
    Refusal,
    /// Every value is one the probe's own credential reads: never another tenant's.
    OwnTenant,
    /// Every value agrees with the dataset and with the other values of the answer.
    Correct,
}

/// A broken rule, and how.
#[derive(Debug, Clone)]
struct Problem {
    rule: Rule,
    what: String,
}

/// What one answer showed.
#[derive(Debug, Default)]
struct Verdict {
    outcome: Option<Outcome>,
    codes: Vec<String>,
    problems: Vec<Problem>,
    /// The first page's `endCursor`, when a second page should follow.
    next: Option<String>,
}

impl Verdict {
    fn problem(&mut self, rule: Rule, what: String) {
        self.problems.push(Problem { rule, what });
    }
}

/// The campaign: the dataset the answers are checked against, the tenants and the mix.
#[derive(Debug)]
pub struct Campaign {
    ds: Dataset,
    now: DateTime<Utc>,
    tenants: Vec<Tenant>,
    /// The tenants' own organizations' ids, in tenant order.
    orgs: Vec<String>,
    ranges: Vec<DateRange>,
    months: Vec<Month>,
}

impl Campaign {
    /// Builds the campaign over a simulator's dataset (from [`sim_config`]) and clock. Fails when
    /// the dataset has fewer than four Elastic identities or Talkdesk organizations.
    pub fn new(ds: &Dataset, now: DateTime<Utc>, variety: Variety) -> Result<Campaign, String> {
        let creds = ds.credentials();
        let mut elastic: Vec<(String, String)> = vec![
            (creds.elastic_demo_key.clone(), ds.demo_org().id.to_string()),
            (creds.elastic_other_key.clone(), ds.other_org().id.to_string()),
        ];
        elastic.extend(creds.elastic_regular_keys.iter().cloned().zip(ds.regular_orgs().map(|o| o.id.to_string())));
        let talkdesk = ds.talkdesk_organizations();
        if elastic.len() < 4 || talkdesk.len() < 4 {
            return Err(format!(
                "the campaign needs four Elastic keys and four Talkdesk organizations, the dataset has {} and {} \
                 (see campaign::sim_config)",
                elastic.len(),
                talkdesk.len()
            ));
        }
        elastic.truncate(4);
        let orgs: Vec<String> = elastic.iter().map(|(_, org)| org.clone()).collect();
        let names = ["demo", "other", "regular-2", "regular-3"];
        let tenants = elastic
            .iter()
            .enumerate()
            .map(|(i, (key, _))| {
                let may = ds.elastic_orgs_for(key).unwrap_or_default();
                Tenant {
                    name: names[i].to_owned(),
                    authorization: format!("ApiKey {key}"),
                    talkdesk: format!("Bearer {}", talkdesk[i].token),
                    org: i,
                    readable: orgs.iter().map(|o| may.iter().any(|m| m.as_str() == o)).collect(),
                    talkdesk_org: i,
                }
            })
            .collect();

        // Day ranges that end before the clock's day, so every answer is a closed one.
        let today = now.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let mut ranges = Vec::new();
        for back in 1..=variety.start_days.max(1) {
            for days in 1..=variety.max_days.max(1) {
                let from = today - chrono::Duration::days(i64::from(back) + i64::from(days));
                let to = from + chrono::Duration::days(i64::from(days));
                ranges.extend(DateRange::new(from, to).ok());
            }
        }
        // The twelve months before the clock's, all with usage.
        let mut months = Vec::new();
        let mut month = Month::of(now);
        for _ in 0..12 {
            month = month.pred();
            months.push(month);
        }
        Ok(Campaign { ds: ds.clone(), now, tenants, orgs, ranges, months })
    }

    /// The four tenants.
    pub fn tenants(&self) -> &[Tenant] {
        &self.tenants
    }

    /// The probe of sequence number `n`: a pure function of `n`, so a failure names its input.
    pub fn probe(&self, n: u64) -> Probe {
        let h = |salt: u64| mix(n.wrapping_mul(0x9E37_79B9).wrapping_add(salt));
        let pick = |salt: u64, len: usize| usize::try_from(h(salt) % (len.max(1) as u64)).unwrap_or(0);
        let tenant = pick(1, self.tenants.len());
        let roll = h(2) % 100;
        let mut cumulative = 0;
        let shape = WEIGHTS
            .iter()
            .find(|(_, w)| {
                cumulative += w;
                roll < cumulative
            })
            .map_or(Shape::OrgCosts, |(s, _)| *s);
        // Mostly the tenant's own organization; otherwise any tenant's, readable or not.
        let org = if h(3) % 10 < 6 { self.tenants[tenant].org } else { pick(4, self.orgs.len()) };
        // A quarter of the probes use the first range and month: every tenant then sends some
        // identical documents with identical variables, which must still not share answers.
        let hot = h(5) % 4 == 0;
        let range = if hot { self.ranges[0] } else { self.ranges[pick(6, self.ranges.len())] };
        let month = if hot { 0 } else { pick(7, self.months.len()) };
        let mut months = vec![self.months[month]];
        if h(8) % 3 == 0 {
            months.push(self.months[(month + 1) % self.months.len()]);
        }
        let deployments = self.org(org).map_or(&[][..], |o| &o.deployments[..]);
        let deployment = match pick(9, deployments.len() + 1) {
            i if i < deployments.len() => deployments[i].id.to_string(),
            _ => "0123456789abcdef0123456789abcdef".to_owned(),
        };
        let other = (tenant + 1 + pick(10, self.tenants.len() - 1)) % self.tenants.len();
        let accounts = &self.ds.talkdesk_organizations()[self.tenants[other].talkdesk_org].accounts;
        let foreign_account = accounts.get(pick(11, accounts.len())).map(ToString::to_string).unwrap_or_default();
        let first = if hot { 5 } else { 5 + pick(12, 21) };
        Probe { n, tenant, shape, org, range, deployment, months, first, foreign_account }
    }

    fn org(&self, index: usize) -> Option<&Organization> {
        self.ds.organization(&self.orgs[index])
    }

    /// The JSON body of a probe's request; `after` continues a paged probe.
    pub fn body(&self, probe: &Probe, after: Option<&str>) -> Value {
        let from = rfc3339(probe.range.from());
        let to = rfc3339(probe.range.to());
        let org = &self.orgs[probe.org];
        let months: Vec<String> = probe.months.iter().map(ToString::to_string).collect();
        let (query, variables) = match probe.shape {
            Shape::OrgCosts => (ORG_COSTS, json!({ "org": org, "from": from, "to": to })),
            Shape::Deployments => (DEPLOYMENTS, json!({ "org": org, "from": from, "to": to })),
            Shape::Items => (ITEMS, json!({ "org": org, "from": from, "to": to })),
            Shape::Deployment => (DEPLOYMENT, json!({ "org": org, "id": probe.deployment, "from": from, "to": to })),
            Shape::UsagePages => (USAGE, json!({ "first": probe.first, "after": after, "months": months })),
            Shape::Mixed => (MIXED, json!({ "org": org, "from": from, "to": to, "months": months })),
            Shape::UnknownOrg => (ORG_COSTS, json!({ "org": UNKNOWN_ORG, "from": from, "to": to })),
            Shape::ReversedRange => (ORG_COSTS, json!({ "org": org, "from": to, "to": from })),
            Shape::BadDateLiteral => (ORG_COSTS, json!({ "org": org, "from": "the first of October", "to": to })),
            Shape::BadCursor => (USAGE, json!({ "first": probe.first, "after": "not-a-cursor", "months": months })),
            Shape::ForeignAccounts => (FOREIGN_ACCOUNTS, json!({ "accounts": [probe.foreign_account] })),
        };
        json!({ "query": query, "variables": variables })
    }

    /// Checks one answer of a probe (`page` 0, or 1 for the second usage page).
    fn check(&self, probe: &Probe, page: usize, status: u16, body: &Value) -> Verdict {
        let mut v = Verdict::default();
        let errors = body.get("errors").and_then(Value::as_array).cloned().unwrap_or_default();
        for e in &errors {
            match e.pointer("/extensions/code").and_then(Value::as_str) {
                Some(code) => v.codes.push(code.to_owned()),
                None => v.problem(Rule::Coded, format!("an error without extensions.code: {e}")),
            }
        }
        let data = match body.get("data") {
            Some(d) if d.is_object() => d,
            _ => {
                v.outcome = Some(Outcome::Refused);
                if errors.is_empty() {
                    v.problem(Rule::Refusal, format!("HTTP {status} without data or errors"));
                }
                // Shedding load is a fair answer to a caller past its request rate; any other
                // refusal of a valid request lost the data of every field that would have resolved.
                let shed = status == 429 && !v.codes.is_empty() && v.codes.iter().all(|c| c == CALLER_RATE_LIMITED);
                if probe.shape != Shape::BadDateLiteral && !shed {
                    v.problem(Rule::Refusal, format!("a valid request was refused (HTTP {status})"));
                }
                return v;
            }
        };
        for e in &errors {
            match e.get("path").and_then(Value::as_array) {
                Some(path) if resolves_to_null(data, path) => {}
                Some(path) => v.problem(Rule::PathToNull, format!("an error's path does not lead to a null: {path:?}")),
                None => v.problem(Rule::PathToNull, format!("a field error without a path: {e}")),
            }
        }
        v.outcome = Some(if errors.is_empty() { Outcome::Complete } else { Outcome::Partial });
        let mut c = Checker { body, errors: &errors, problems: &mut v.problems };
        let tenant = &self.tenants[probe.tenant];
        match probe.shape {
            Shape::OrgCosts => self.check_costs(&mut c, probe, tenant, true),
            Shape::Mixed => {
                self.check_costs(&mut c, probe, tenant, false);
                self.check_usage(&mut c, probe, tenant, 0, 3, false);
            }
            Shape::Deployments => self.check_deployments(&mut c, probe, tenant),
            Shape::Items => self.check_items(&mut c, probe, tenant),
            Shape::Deployment => self.check_deployment(&mut c, probe, tenant),
            Shape::UsagePages => {
                v.next = self.check_usage(&mut c, probe, tenant, page * probe.first, probe.first, true);
                if page > 0 {
                    v.next = None;
                }
            }
            Shape::UnknownOrg => {
                c.must_fail(&["organization", "costs"], None);
            }
            Shape::ReversedRange => {
                c.must_fail(&["organization", "costs"], Some("BAD_USER_INPUT"));
            }
            Shape::BadCursor => {
                c.must_fail(&["usageAggregates"], Some("BAD_USER_INPUT"));
            }
            Shape::ForeignAccounts => match c.value(&["usageAggregates"]) {
                Some(usage) => c.cross_tenant(format!("{} filtered on another tenant's account: {usage}", tenant.name)),
                None => c.must_fail(&["usageAggregates"], None),
            },
            // The spec makes an invalid variable a request error (refused above, which passes);
            // answered instead, the field that reads it must fail, coded as the caller's fault.
            // `tests/e2e/campaign.rs` pins the spec's way on its own.
            Shape::BadDateLiteral => c.must_fail(&["organization", "costs"], Some("BAD_USER_INPUT")),
        }
        v
    }

    /// Whether the probe's tenant may read the probe's organization.
    fn readable(&self, probe: &Probe, tenant: &Tenant) -> bool {
        tenant.readable[probe.org]
    }

    /// Checks `organization.id`, and returns the organization when the tenant may read it. When
    /// it may not, `field` must fail: any value there is another tenant's.
    fn own_org(&self, c: &mut Checker<'_>, probe: &Probe, tenant: &Tenant, field: &str) -> Option<&Organization> {
        let id = c.value(&["organization", "id"]).and_then(Value::as_str);
        if id != Some(self.orgs[probe.org].as_str()) {
            c.problem(Rule::Correct, format!("organization.id is {id:?}, asked for {}", self.orgs[probe.org]));
        }
        if self.readable(probe, tenant) {
            return self.org(probe.org);
        }
        if let Some(value) = c.value(&["organization", field]) {
            c.cross_tenant(format!(
                "{} may not read organization {} but got its {field}: {}",
                tenant.name,
                self.orgs[probe.org],
                truncate(value)
            ));
        } else {
            c.must_fail(&["organization", field], None);
        }
        None
    }

    fn check_costs(&self, c: &mut Checker<'_>, probe: &Probe, tenant: &Tenant, dimensions: bool) {
        let Some(org) = self.own_org(c, probe, tenant, "costs") else { return };
        let Some(costs) = c.value_or_failure(&["organization", "costs"]) else { return };
        let expected = organization_cost(&self.ds, org, &probe.range, self.now);
        let total = number(costs, "total");
        if !close(total, expected) {
            c.mismatch(tenant, format!("organization {} costs.total {total}, its own is {expected}", org.id));
        }
        if dimensions {
            let sum: f64 = list(costs, "dimensions").iter().map(|d| number(d, "cost")).sum();
            if !close(sum, total) {
                c.problem(Rule::Correct, format!("costs.dimensions add up to {sum}, total {total}"));
            }
        }
    }

    fn check_items(&self, c: &mut Checker<'_>, probe: &Probe, tenant: &Tenant) {
        let Some(org) = self.own_org(c, probe, tenant, "items") else { return };
        let Some(items) = c.value_or_failure(&["organization", "items"]) else { return };
        let expected = organization_cost(&self.ds, org, &probe.range, self.now);
        let total = number(items, "total");
        if !close(total, expected) {
            c.mismatch(tenant, format!("organization {} items.total {total}, its own is {expected}", org.id));
        }
        let sum: f64 = list(items, "dimensions").iter().map(|d| number(d, "cost")).sum();
        if !close(sum, total) {
            c.problem(Rule::Correct, format!("items.dimensions add up to {sum}, total {total}"));
        }
    }

    fn check_deployments(&self, c: &mut Checker<'_>, probe: &Probe, tenant: &Tenant) {
        let Some(org) = self.own_org(c, probe, tenant, "deployments") else { return };
        let Some(listed) = c.value_or_failure(&["organization", "deployments"]) else { return };
        let listed = listed.as_array().cloned().unwrap_or_default();
        let expected: BTreeMap<&str, (&Deployment, f64)> = org
            .deployments
            .iter()
            .filter_map(|d| deployment_cost(&self.ds, d, &probe.range, self.now).map(|c| (d.id.as_str(), (d, c))))
            .collect();
        let mut ids: Vec<&str> = listed.iter().filter_map(|d| d.get("id").and_then(Value::as_str)).collect();
        ids.sort_unstable();
        if ids != expected.keys().copied().collect::<Vec<_>>() {
            c.mismatch(
                tenant,
                format!("organization {} lists deployments {ids:?}, its own are {:?}", org.id, expected.keys()),
            );
            return;
        }
        for (i, d) in listed.iter().enumerate() {
            let id = d.get("id").and_then(Value::as_str).unwrap_or_default();
            let Some((dep, cost)) = expected.get(id) else { continue };
            let total = number(d, "totalCost");
            if d.get("name").and_then(Value::as_str) != Some(dep.name.as_str()) || !close(total, *cost) {
                c.mismatch(tenant, format!("deployment {id}: {}, its own is {} costing {cost}", truncate(d), dep.name));
            }
            let sum: f64 = list(d, "dimensions").iter().map(|x| number(x, "cost")).sum();
            if !close(sum, total) {
                c.problem(Rule::Correct, format!("deployment {id}: dimensions add up to {sum}, totalCost {total}"));
            }
            let index = Value::from(i);
            let path = [json!("organization"), json!("deployments"), index, json!("charts")];
            match d.get("charts") {
                Some(Value::Null) | None => c.must_fail_at(&path, None),
                Some(chart) => {
                    let points = list(chart, "points");
                    let sum: f64 = points.iter().map(|p| number(p, "total")).sum();
                    if !close(sum, total) {
                        c.mismatch(
                            tenant,
                            format!("deployment {id}: chart points add up to {sum}, its cost is {total}"),
                        );
                    }
                    for p in points {
                        let at = p
                            .get("timestamp")
                            .and_then(Value::as_str)
                            .and_then(|t| DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&Utc)));
                        if !at.is_some_and(|t| probe.range.from() <= t && t < probe.range.to()) {
                            c.problem(
                                Rule::Correct,
                                format!("deployment {id}: chart point {p} outside {:?}", probe.range),
                            );
                        }
                    }
                }
            }
        }
    }

    fn check_deployment(&self, c: &mut Checker<'_>, probe: &Probe, tenant: &Tenant) {
        let Some(org) = self.own_org(c, probe, tenant, "deployment") else { return };
        let dep = org.deployment(&probe.deployment);
        let expected = dep.and_then(|d| deployment_cost(&self.ds, d, &probe.range, self.now));
        let path = ["organization", "deployment"];
        let (Some(dep), Some(cost)) = (dep, expected) else {
            // Not in the organization, or not running in the range: null, failed or not.
            if let Some(value) = c.value(&path) {
                c.mismatch(tenant, format!("deployment {} should be null: {}", probe.deployment, truncate(value)));
            }
            return;
        };
        let Some(d) = c.value_or_failure(&path) else { return };
        let total = number(d, "totalCost");
        if d.get("id").and_then(Value::as_str) != Some(dep.id.as_str())
            || d.get("name").and_then(Value::as_str) != Some(dep.name.as_str())
            || !close(total, cost)
        {
            c.mismatch(
                tenant,
                format!("deployment {}: {}, its own is {} costing {cost}", dep.id, truncate(d), dep.name),
            );
        }
        let items_path = [json!("organization"), json!("deployment"), json!("lineItems")];
        match d.get("lineItems") {
            Some(Value::Null) | None => c.must_fail_at(&items_path, None),
            Some(items) => {
                // One capacity line per resource of this deployment: another deployment's lines
                // would name other SKUs.
                let mut skus: Vec<&str> = items
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter(|l| l.get("type").and_then(Value::as_str) == Some("capacity"))
                            .filter_map(|l| l.get("sku").and_then(Value::as_str))
                            .collect()
                    })
                    .unwrap_or_default();
                let mut own: Vec<&str> = dep.resources.iter().map(|r| r.sku.as_str()).collect();
                skus.sort_unstable();
                own.sort_unstable();
                if skus != own {
                    c.mismatch(tenant, format!("deployment {}: capacity lines {skus:?}, its own are {own:?}", dep.id));
                }
            }
        }
    }

    /// Checks a page of usage at `offset` against the token's own rows; returns the `endCursor`
    /// when another page follows.
    fn check_usage(
        &self,
        c: &mut Checker<'_>,
        probe: &Probe,
        tenant: &Tenant,
        offset: usize,
        first: usize,
        paged: bool,
    ) -> Option<String> {
        let path = ["usageAggregates"];
        let usage = c.value_or_failure(&path)?;
        let org = &self.ds.talkdesk_organizations()[tenant.talkdesk_org];
        let mut expected: Vec<_> =
            org.rows().iter().filter(|r| r.month.is_some_and(|m| probe.months.contains(&m))).collect();
        expected.sort_by(|a, b| b.id.cmp(&a.id));
        let window: Vec<&str> = expected.iter().skip(offset).take(first).map(|r| r.id.as_str()).collect();
        let nodes = list(usage, "nodes");
        let ids: Vec<&str> = nodes.iter().filter_map(|n| n.get("id").and_then(Value::as_str)).collect();
        if ids != window {
            let foreign: Vec<&&str> = ids.iter().filter(|id| !org.rows().iter().any(|r| r.id == **id)).collect();
            let what = format!("usage rows {ids:?} at offset {offset}, its own are {window:?}");
            if foreign.is_empty() {
                c.mismatch(tenant, what);
            } else {
                c.cross_tenant(format!(
                    "{} got rows of another Talkdesk organization {foreign:?}: {what}",
                    tenant.name
                ));
            }
        }
        for node in nodes {
            let account = node.get("accountId").and_then(Value::as_str).unwrap_or_default();
            if !org.accounts.iter().any(|a| a.as_str() == account) {
                c.cross_tenant(format!("{} got a row of account {account}, not one of its own", tenant.name));
            }
        }
        if !paged {
            return None;
        }
        match usage.get("totalCount") {
            Some(Value::Null) | None => c.must_fail_at(&[json!("usageAggregates"), json!("totalCount")], None),
            Some(n) if n.as_u64() == Some(expected.len() as u64) => {}
            Some(n) => c.mismatch(tenant, format!("usage totalCount {n}, its own is {}", expected.len())),
        }
        let more = usage.pointer("/pageInfo/hasNextPage").and_then(Value::as_bool);
        if more != Some(offset + first < expected.len()) {
            c.problem(Rule::Correct, format!("usage hasNextPage {more:?} at offset {offset} of {}", expected.len()));
        }
        let next = usage.pointer("/pageInfo/endCursor").and_then(Value::as_str).map(str::to_owned);
        if more == Some(true) { next } else { None }
    }
}

/// Reads fields of one answer and records what is wrong with it.
struct Checker<'a> {
    body: &'a Value,
    errors: &'a [Value],
    problems: &'a mut Vec<Problem>,
}

impl<'a> Checker<'a> {
    fn problem(&mut self, rule: Rule, what: String) {
        self.problems.push(Problem { rule, what });
    }

    fn cross_tenant(&mut self, what: String) {
        self.problem(Rule::OwnTenant, what);
    }

    /// A value that differs from the tenant's own data: another tenant's when it is theirs, but
    /// a wrong value either way.
    fn mismatch(&mut self, tenant: &Tenant, what: String) {
        self.problem(Rule::Correct, format!("{}: {what}", tenant.name));
    }

    /// The non-null value at a path of `data`.
    fn value(&self, path: &[&str]) -> Option<&'a Value> {
        let mut at = self.body.get("data")?;
        for key in path {
            at = at.get(key)?;
        }
        (!at.is_null()).then_some(at)
    }

    /// The value at a path, or `None` after checking that its null comes with an error.
    fn value_or_failure(&mut self, path: &[&str]) -> Option<&'a Value> {
        let body = self.body;
        let found = {
            let mut at = body.get("data");
            for key in path {
                at = at.and_then(|v| v.get(key));
            }
            at.filter(|v| !v.is_null())
        };
        if found.is_none() {
            self.must_fail(path, None);
        }
        found
    }

    /// The field at `path` must be null with an error at it (of `code`, when given).
    fn must_fail(&mut self, path: &[&str], code: Option<&str>) {
        let path: Vec<Value> = path.iter().map(|k| json!(k)).collect();
        self.must_fail_at(&path, code);
    }

    fn must_fail_at(&mut self, path: &[Value], code: Option<&str>) {
        let mut at = self.body.get("data");
        for key in path {
            at = at.and_then(|v| match key {
                Value::String(k) => v.get(k),
                Value::Number(i) => i.as_u64().and_then(|i| v.get(usize::try_from(i).ok()?)),
                _ => None,
            });
        }
        if let Some(value) = at.filter(|v| !v.is_null()) {
            self.problem(Rule::FailureNamed, format!("{path:?} should have failed: {}", truncate(value)));
            return;
        }
        // The error names the field, or a field below it whose failure made it null.
        let error = self.errors.iter().find(|e| {
            e.get("path").and_then(Value::as_array).is_some_and(|p| p.len() >= path.len() && p[..path.len()] == *path)
        });
        match (error, code) {
            (None, _) => self.problem(Rule::FailureNamed, format!("{path:?} is null without an error naming it")),
            (Some(e), Some(code)) if e.pointer("/extensions/code").and_then(Value::as_str) != Some(code) => {
                self.problem(
                    Rule::FailureNamed,
                    format!("{path:?} failed with {}, expected {code}", e["extensions"]["code"]),
                );
            }
            _ => {}
        }
    }
}

/// Whether following an error's path through `data` reaches a null (the failed field, or a
/// nullable parent its failure nulled).
fn resolves_to_null(data: &Value, path: &[Value]) -> bool {
    let mut at = data;
    for key in path {
        let next = match key {
            Value::String(k) => at.get(k),
            Value::Number(i) => i.as_u64().and_then(|i| at.get(usize::try_from(i).ok()?)),
            _ => None,
        };
        match next {
            Some(Value::Null) => return true,
            Some(v) => at = v,
            // A path into a parent that is already null stops at that null.
            None => return at.is_null(),
        }
    }
    at.is_null()
}

fn number(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

fn list<'v>(v: &'v Value, key: &str) -> &'v [Value] {
    v.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// Equal but for the order of a floating-point sum.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn truncate(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 200 {
        let mut cut = 200;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// Mixes a sequence number into a well-spread 64-bit value (splitmix64's finalizer).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// What a campaign (or part of one) saw.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Probes run.
    pub probes: u64,
    /// HTTP requests sent.
    pub requests: u64,
    pub complete: u64,
    pub partial: u64,
    pub refused: u64,
    /// Error codes over every answer.
    pub by_code: BTreeMap<String, u64>,
    /// Requests not answered within [`answer_bound`].
    pub hangs: u64,
    /// Requests whose connection failed: a panicking handler shows up as one.
    pub transport_errors: u64,
    /// Answers with a value another tenant's credential reads.
    pub cross_tenant: u64,
    /// Answers that broke any other rule.
    pub wrong: u64,
    /// Problems found, by the rule they break (an answer may break several).
    pub by_rule: BTreeMap<Rule, u64>,
    /// The first few problems, with the probe that showed them.
    pub examples: Vec<String>,
    /// The slowest answer.
    pub slowest: Duration,
}

/// Problems kept verbatim in a report.
const EXAMPLES: usize = 20;

impl Report {
    /// Whether every rule held.
    pub fn is_clean(&self) -> bool {
        self.hangs == 0 && self.transport_errors == 0 && self.cross_tenant == 0 && self.wrong == 0
    }

    fn merge(&mut self, other: Report) {
        self.probes += other.probes;
        self.requests += other.requests;
        self.complete += other.complete;
        self.partial += other.partial;
        self.refused += other.refused;
        for (code, n) in other.by_code {
            *self.by_code.entry(code).or_insert(0) += n;
        }
        self.hangs += other.hangs;
        self.transport_errors += other.transport_errors;
        self.cross_tenant += other.cross_tenant;
        self.wrong += other.wrong;
        for (rule, n) in other.by_rule {
            *self.by_rule.entry(rule).or_insert(0) += n;
        }
        let room = EXAMPLES.saturating_sub(self.examples.len());
        self.examples.extend(other.examples.into_iter().take(room));
        self.slowest = self.slowest.max(other.slowest);
    }

    fn example(&mut self, what: String) {
        if self.examples.len() < EXAMPLES {
            self.examples.push(what);
        }
    }

    /// One line: requests, outcomes, the rule counters and the error codes seen.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "campaign: {} probes, {} requests: {} complete, {} partial, {} refused; {} hangs, {} transport errors, \
             {} cross-tenant, {} other violations; slowest {} ms; by code:",
            self.probes,
            self.requests,
            self.complete,
            self.partial,
            self.refused,
            self.hangs,
            self.transport_errors,
            self.cross_tenant,
            self.wrong,
            self.slowest.as_millis()
        );
        for (code, n) in &self.by_code {
            let _ = write!(line, " {code}={n}");
        }
        if !self.by_rule.is_empty() {
            line.push_str("; problems by rule:");
            for (rule, n) in &self.by_rule {
                let _ = write!(line, " {rule:?}={n}");
            }
        }
        line
    }
}

/// When a run stops claiming probes.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// After this many probes.
    Probes(u64),
    /// At this instant (probes in flight finish).
    At(Instant),
}

/// Counters a run updates as it goes, for a sampler to read.
#[derive(Debug, Default)]
pub struct Progress {
    /// HTTP requests answered (or given up on) so far.
    pub requests: AtomicU64,
}

/// Runs the campaign with `clients` concurrent clients against the GraphQL endpoint `url`.
pub async fn run(
    campaign: Arc<Campaign>,
    client: reqwest::Client,
    url: String,
    clients: usize,
    stop: Stop,
    progress: Arc<Progress>,
) -> Report {
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..clients.max(1))
        .map(|_| {
            let (campaign, client, url, next, progress) =
                (campaign.clone(), client.clone(), url.clone(), next.clone(), progress.clone());
            tokio::spawn(async move {
                let mut report = Report::default();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let more = match stop {
                        Stop::Probes(limit) => n < limit,
                        Stop::At(at) => Instant::now() < at,
                    };
                    if !more {
                        break;
                    }
                    run_probe(&campaign, &client, &url, &campaign.probe(n), &mut report, &progress).await;
                }
                report
            })
        })
        .collect();
    let mut report = Report::default();
    for worker in futures::future::join_all(workers).await {
        match worker {
            Ok(r) => report.merge(r),
            Err(e) => {
                report.wrong += 1;
                report.example(format!("a client task failed: {e}"));
            }
        }
    }
    report
}

async fn run_probe(
    campaign: &Campaign,
    client: &reqwest::Client,
    url: &str,
    probe: &Probe,
    report: &mut Report,
    progress: &Progress,
) {
    report.probes += 1;
    let tenant = &campaign.tenants[probe.tenant];
    let mut after: Option<String> = None;
    for page in 0..2 {
        let body = campaign.body(probe, after.as_deref());
        let what = || format!("probe {} ({:?}, {}, page {page})", probe.n, probe.shape, tenant.name);
        report.requests += 1;
        let started = Instant::now();
        let sent = client
            .post(url)
            .timeout(answer_bound())
            .header("content-type", "application/json")
            .header("authorization", &tenant.authorization)
            .header("x-talkdesk-authorization", &tenant.talkdesk)
            .body(serde_json::to_vec(&body).unwrap_or_default())
            .send()
            .await;
        let answer = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                response.bytes().await.map(|b| (status, retry_after, b))
            }
            Err(e) => Err(e),
        };
        let elapsed = started.elapsed();
        progress.requests.fetch_add(1, Ordering::Relaxed);
        report.slowest = report.slowest.max(elapsed);
        let (status, retry_after, bytes) = match answer {
            Ok(a) => a,
            Err(e) if e.is_timeout() => {
                report.hangs += 1;
                report.example(format!("{}: no answer within {:?}", what(), answer_bound()));
                return;
            }
            Err(e) => {
                report.transport_errors += 1;
                report.example(format!("{}: {e}", what()));
                return;
            }
        };
        if elapsed > answer_bound() {
            // Too late is a hang, whatever the answer says.
            report.hangs += 1;
            report.example(format!("{}: answered after {elapsed:?}", what()));
            return;
        }
        let Ok(json) = serde_json::from_slice::<Value>(&bytes) else {
            report.wrong += 1;
            report.refused += 1;
            *report.by_code.entry(format!("HTTP_{status}")).or_insert(0) += 1;
            *report.by_rule.entry(Rule::Coded).or_insert(0) += 1;
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
            report.example(format!("{}: HTTP {status}, not JSON: {text:?}", what()));
            return;
        };
        let verdict = campaign.check(probe, page, status, &json);
        match verdict.outcome {
            Some(Outcome::Complete) => report.complete += 1,
            Some(Outcome::Partial) => report.partial += 1,
            Some(Outcome::Refused) | None => report.refused += 1,
        }
        for code in verdict.codes {
            *report.by_code.entry(code).or_insert(0) += 1;
        }
        if !verdict.problems.is_empty() {
            for p in &verdict.problems {
                *report.by_rule.entry(p.rule).or_insert(0) += 1;
            }
            if verdict.problems.iter().any(|p| p.rule == Rule::OwnTenant) {
                report.cross_tenant += 1;
            } else {
                report.wrong += 1;
            }
            let problems: Vec<String> = verdict.problems.iter().map(|p| format!("{:?}: {}", p.rule, p.what)).collect();
            report.example(format!("{}: {} | answer: {}", what(), problems.join("; "), truncate(&json)));
        }
        if status == 429 {
            // A shed caller waits as told, as a well-behaved client does, rather than spending
            // the run on refusals; a longer wait than the answer bound would stall the client.
            tokio::time::sleep(retry_after.unwrap_or(Duration::from_secs(1)).min(answer_bound())).await;
            return;
        }
        match verdict.next {
            Some(cursor) if probe.shape == Shape::UsagePages => after = Some(cursor),
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn campaign() -> Campaign {
        let config = sim_config();
        let ds = Dataset::generate(config.seed, &config.scale, now());
        Campaign::new(&ds, now(), Variety::SUITE).unwrap()
    }

    #[test]
    fn four_tenants_each_read_their_own_organization_and_not_all_others() {
        let c = campaign();
        assert_eq!(c.tenants().len(), 4);
        for (i, t) in c.tenants().iter().enumerate() {
            assert!(t.readable[t.org], "{}", t.name);
            assert_eq!(t.org, i);
        }
        // Only the demo key reads more than its own: the regular organizations too.
        assert_eq!(c.tenants[0].readable, [true, false, true, true]);
        assert_eq!(c.tenants[1].readable, [false, true, false, false]);
        assert_eq!(c.tenants[2].readable, [false, false, true, false]);
        let tokens: std::collections::BTreeSet<&str> = c.tenants().iter().map(|t| t.talkdesk.as_str()).collect();
        assert_eq!(tokens.len(), 4);
    }

    #[test]
    fn the_mix_covers_every_shape_and_tenant_and_ranges_are_closed() {
        let c = campaign();
        let probes: Vec<Probe> = (0..300).map(|n| c.probe(n)).collect();
        for (shape, _) in WEIGHTS {
            assert!(probes.iter().any(|p| p.shape == shape), "{shape:?}");
        }
        for t in 0..4 {
            assert!(probes.iter().filter(|p| p.tenant == t).count() > 40);
            assert!(probes.iter().any(|p| p.tenant == t && !c.tenants[t].readable[p.org]));
        }
        assert!(probes.iter().all(|p| p.range.to() < now()));
        assert_eq!(c.probe(7).n, 7);
        assert_eq!(c.body(&c.probe(7), None), c.body(&c.probe(7), None), "a probe is a function of its number");
    }

    #[test]
    fn an_answer_with_another_tenants_numbers_is_caught() {
        let c = campaign();
        let mut probe = c.probe(0);
        probe.shape = Shape::OrgCosts;
        probe.tenant = 1;
        probe.org = 0;
        let leaked = json!({ "data": { "organization": { "id": c.orgs[0], "costs": { "total": 1.0, "hourlyRate": 0.1, "dimensions": [] } } } });
        let v = c.check(&probe, 0, 200, &leaked);
        assert!(v.problems.iter().any(|p| p.rule == Rule::OwnTenant), "{:?}", v.problems);

        let failed = json!({
            "data": { "organization": { "id": c.orgs[0], "costs": null } },
            "errors": [{ "message": "no", "path": ["organization", "costs"], "extensions": { "code": "organization.invalid_access" } }]
        });
        let v = c.check(&probe, 0, 200, &failed);
        assert!(v.problems.is_empty(), "{:?}", v.problems);
        assert_eq!(v.outcome, Some(Outcome::Partial));

        let uncoded = json!({
            "data": { "organization": { "id": c.orgs[0], "costs": null } },
            "errors": [{ "message": "no", "path": ["organization", "id"] }]
        });
        let v = c.check(&probe, 0, 200, &uncoded);
        assert_eq!(
            v.problems.len(),
            3,
            "no code, a path to a value, and costs null without its error: {:?}",
            v.problems
        );
    }

    #[test]
    fn own_usage_rows_pass_and_foreign_ones_are_caught() {
        let c = campaign();
        let mut probe = c.probe(0);
        probe.shape = Shape::UsagePages;
        probe.tenant = 2;
        let rows_of = |t: usize| {
            let org = &c.ds.talkdesk_organizations()[t];
            let mut rows: Vec<_> =
                org.rows().iter().filter(|r| r.month.is_some_and(|m| probe.months.contains(&m))).collect();
            rows.sort_by(|a, b| b.id.cmp(&a.id));
            rows.iter()
                .take(probe.first)
                .map(|r| json!({ "id": r.id, "accountId": r.account_id.as_ref().map(ToString::to_string) }))
                .collect::<Vec<_>>()
        };
        let total = c.ds.talkdesk_organizations()[2]
            .rows()
            .iter()
            .filter(|r| r.month.is_some_and(|m| probe.months.contains(&m)))
            .count();
        let page = |nodes: Vec<Value>| {
            json!({ "data": { "usageAggregates": {
                "totalCount": total,
                "pageInfo": { "hasNextPage": true, "endCursor": "usage:4" },
                "nodes": nodes,
            } } })
        };
        let v = c.check(&probe, 0, 200, &page(rows_of(2)));
        assert!(v.problems.is_empty(), "{:?}", v.problems);
        assert_eq!(v.next.as_deref(), Some("usage:4"));
        let v = c.check(&probe, 0, 200, &page(rows_of(3)));
        assert!(v.problems.iter().any(|p| p.rule == Rule::OwnTenant), "{:?}", v.problems);
    }
}
