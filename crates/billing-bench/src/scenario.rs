//! The scenarios: the GraphQL document each sends, its variables, and what it must cost upstream.

use billing_model::{DateRange, Month};
use chrono::Utc;
use clap::ValueEnum;
use serde_json::{Value, json};

/// Rows the `usage` scenario reads through the connection.
pub(crate) const USAGE_ROWS: u64 = 500;
/// Rows per Talkdesk page (the API's maximum, which the gateway uses).
pub(crate) const USAGE_PAGE: u64 = 250;

/// What a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Scenario {
    /// Organization costs and deployment names and totals: 2 upstream calls, 1 round.
    Overview,
    /// Deployments with dimensions, daily charts for a month and v2 line items: 1 + n + 1 calls, 2 rounds.
    Dashboard,
    /// Deployments with dimensions and their daily charts, every value of every point (the
    /// query a cost dashboard sends): 1 + n calls, 2 rounds.
    Charts,
    /// 500 usage aggregates through the connection: 2 Talkdesk pages.
    Usage,
    /// `dashboard` at 10, 100 and 1,000 deployments.
    Scale,
}

impl Scenario {
    /// The query name as it appears in the table and as the baseline's path.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Overview => "overview",
            Scenario::Dashboard | Scenario::Scale => "dashboard",
            Scenario::Charts => "charts",
            Scenario::Usage => "usage",
        }
    }

    /// The GraphQL document.
    pub(crate) fn query(self) -> &'static str {
        match self {
            Scenario::Overview => OVERVIEW,
            Scenario::Dashboard | Scenario::Scale => DASHBOARD,
            Scenario::Charts => CHARTS,
            Scenario::Usage => USAGE,
        }
    }
}

const OVERVIEW: &str = "query Overview($org: ID!) { organization(id: $org) { \
    costs { total hourlyRate dimensions { type cost } } deployments { id name totalCost } } }";

const DASHBOARD: &str = "query Dashboard($org: ID!, $from: DateTime!, $to: DateTime!) { organization(id: $org) { \
    deployments(from: $from, to: $to) { id name totalCost dimensions { type cost } \
    charts(bucketing: DAILY) { points { timestamp total } } \
    lineItems { name sku type quantity rate totalEcu } } } }";

const CHARTS: &str = "query Charts($org: ID!, $from: DateTime!, $to: DateTime!) { organization(id: $org) { \
    deployments(from: $from, to: $to) { id name totalCost dimensions { type cost } \
    charts(bucketing: DAILY) { points { timestamp total values { id name value } } } } } }";

const USAGE: &str = "query Usage { usageAggregates(first: 500) { totalCount pageInfo { hasNextPage endCursor } \
    nodes { id accountId month type totalAmount currency } } }";

/// The month the dashboard charts: the last full calendar month, so its answers are closed.
pub(crate) fn dashboard_range() -> DateRange {
    DateRange::month(Month::of(Utc::now()).pred())
}

/// The POST bodies of `clients` clients: one shared body, or with `distinct` one per client whose
/// document differs by a comment only (same upstream calls and cache entries, but no two
/// requests are identical, so none share an execution).
pub(crate) fn bodies(scenario: Scenario, org: &str, clients: usize, distinct: bool) -> Vec<Vec<u8>> {
    if !distinct {
        return vec![body(scenario, org)];
    }
    (0..clients.max(1)).map(|i| body_with(scenario, org, &format!("{}\n# client {i}", scenario.query()))).collect()
}

/// The POST body of a scenario against an organization.
pub(crate) fn body(scenario: Scenario, org: &str) -> Vec<u8> {
    body_with(scenario, org, scenario.query())
}

fn body_with(scenario: Scenario, org: &str, query: &str) -> Vec<u8> {
    let range = dashboard_range();
    let variables = match scenario {
        Scenario::Overview => json!({ "org": org }),
        Scenario::Dashboard | Scenario::Scale | Scenario::Charts => json!({
            "org": org,
            "from": range.from().to_rfc3339(),
            "to": range.to().to_rfc3339(),
        }),
        Scenario::Usage => json!({}),
    };
    let body = json!({ "query": query, "operationName": op_name(scenario), "variables": variables });
    serde_json::to_vec(&body).unwrap_or_default()
}

fn op_name(scenario: Scenario) -> &'static str {
    match scenario {
        Scenario::Overview => "Overview",
        Scenario::Dashboard | Scenario::Scale => "Dashboard",
        Scenario::Charts => "Charts",
        Scenario::Usage => "Usage",
    }
}

/// What a scenario must cost, read off one answer (the number of deployments in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cost {
    /// The fewest upstream calls that answer it, cold.
    pub(crate) min_calls: u64,
    /// Dependent upstream rounds: the critical path is this many upstream latencies.
    pub(crate) rounds: u64,
    /// Calls on the busiest upstream (each upstream has its own concurrency limit).
    pub(crate) busiest: u64,
    /// Deployments in the answer (0 for usage).
    pub(crate) deployments: u64,
}

/// The cost of a scenario given one of its answers, or why the answer is wrong.
pub(crate) fn cost(scenario: Scenario, answer: &Value) -> Result<Cost, String> {
    if let Some(errors) = answer.get("errors") {
        return Err(format!("the answer has errors: {errors}"));
    }
    let data = answer.get("data").ok_or("the answer has no data")?;
    match scenario {
        Scenario::Overview => {
            let n = count(&data["organization"]["deployments"])?;
            Ok(Cost { min_calls: 2, rounds: 1, busiest: 2, deployments: n })
        }
        Scenario::Dashboard | Scenario::Scale => {
            let n = count(&data["organization"]["deployments"])?;
            // 1 /deployments, then n charts (v1) and 1 /costs/instances (v2) at once.
            Ok(Cost { min_calls: n + 2, rounds: 2, busiest: n + 1, deployments: n })
        }
        Scenario::Charts => {
            let n = count(&data["organization"]["deployments"])?;
            // 1 /deployments, then n charts, all v1.
            Ok(Cost { min_calls: n + 1, rounds: 2, busiest: n + 1, deployments: n })
        }
        Scenario::Usage => {
            let rows = count(&data["usageAggregates"]["nodes"])?;
            let pages = rows.max(1).div_ceil(USAGE_PAGE);
            // The first page tells the total; the rest follow it at once.
            let rounds = if pages > 1 { 2 } else { 1 };
            Ok(Cost { min_calls: pages, rounds, busiest: pages, deployments: 0 })
        }
    }
}

fn count(v: &Value) -> Result<u64, String> {
    v.as_array().map(|a| a.len() as u64).ok_or_else(|| format!("expected a list, got {v}"))
}

/// How long one upstream call takes as a client sees it, in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CallTime {
    /// The fastest call: the floor of a dependent round.
    pub(crate) min: f64,
    /// The mean: how long a call holds a slot, at the least, for Little's law.
    pub(crate) mean: f64,
}

impl CallTime {
    /// The nominal latency, as if calls took exactly what the simulator is set to.
    pub(crate) fn nominal(latency_ms: u64) -> Self {
        CallTime { min: latency_ms as f64, mean: latency_ms as f64 }
    }
}

/// The critical-path bound of a closed loop of `clients` over an upstream limit of `limit` calls
/// in flight: no request finishes before its dependent rounds (each at least the fastest call),
/// and, by Little's law, the busiest upstream serves at most `limit` calls per mean call time,
/// so `clients` requests each needing `busiest` calls there take at least
/// `clients × busiest / limit` mean call times.
pub(crate) fn bound_ms(cost: Cost, call: CallTime, clients: usize, limit: usize) -> f64 {
    let rounds = cost.rounds as f64 * call.min;
    let queueing = clients as f64 * cost.busiest as f64 / limit.max(1) as f64 * call.mean;
    rounds.max(queueing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashboard_cost_is_read_off_the_answer() {
        let answer = json!({ "data": { "organization": { "deployments": [{}, {}, {}] } } });
        let c = cost(Scenario::Dashboard, &answer).unwrap();
        assert_eq!((c.min_calls, c.rounds, c.busiest), (5, 2, 4));
        assert!(cost(Scenario::Dashboard, &json!({ "errors": [] })).is_err());
    }

    #[test]
    fn usage_needs_the_fewest_pages() {
        let nodes: Vec<Value> = (0..500).map(|_| json!({})).collect();
        let c = cost(Scenario::Usage, &json!({ "data": { "usageAggregates": { "nodes": nodes } } })).unwrap();
        assert_eq!((c.min_calls, c.rounds), (2, 2));
    }

    #[test]
    fn the_bound_is_the_larger_of_rounds_and_queueing() {
        let c = Cost { min_calls: 52, rounds: 2, busiest: 51, deployments: 50 };
        assert!((bound_ms(c, CallTime::nominal(20), 1, 64) - 40.0).abs() < 1e-9);
        assert!((bound_ms(c, CallTime::nominal(20), 16, 64) - 255.0).abs() < 1e-9);
        let measured = CallTime { min: 20.2, mean: 21.0 };
        assert!((bound_ms(c, measured, 1, 64) - 40.4).abs() < 1e-9);
        assert!((bound_ms(c, measured, 16, 64) - 267.75).abs() < 1e-9);
    }

    #[test]
    fn bodies_are_json() {
        for s in [Scenario::Overview, Scenario::Dashboard, Scenario::Charts, Scenario::Usage] {
            let v: Value = serde_json::from_slice(&body(s, "1")).unwrap();
            assert!(v["query"].as_str().unwrap().contains(op_name(s)));
        }
    }
}
