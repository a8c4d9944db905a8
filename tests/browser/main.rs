//! GraphiQL and the cost dashboard in a real browser: Debian's `chromium`, headless, driven over
//! the DevTools protocol (`cdp.rs`), against the gateway on the simulator over a loopback port.
//! Every request a page makes to another origin is failed and recorded, and each test asserts
//! there was none, and no console error. Screenshots go to `target/browser/`;
//! `UPDATE_SCREENSHOTS=1` also rewrites `docs/dashboard.png`, the README's.
//!
//! Without `chromium` these tests skip with a message, except under `CI=true`, where they fail:
//! `cargo xtask test` installs it.

// Test helpers fail the test that calls them, as the tests themselves do.
#![allow(clippy::unwrap_used)]

mod cdp;
#[path = "../support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use billing_gateway::Config;
use billing_sim::endpoints;
use chrono::{Datelike, Days, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::support::Server;

/// One browser at a time: the machine has two cores, and each browser wants them.
static ONE_BROWSER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const WAIT: Duration = Duration::from_secs(60);

fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/browser")
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The browser, or `None` (the test skips, saying why) when there is none outside CI.
async fn browser() -> Option<cdp::Browser> {
    match cdp::find() {
        Some(program) => Some(cdp::Browser::launch(&program).await),
        None if ci() => panic!(
            "chromium is missing, and CI runs the browser tests: `cargo xtask install` installs it (Debian's `chromium`)"
        ),
        None => {
            eprintln!(
                "skipping: no `chromium` on PATH (or $CHROMIUM). `cargo xtask install` or `apt-get install chromium` \
                 installs it; under CI=true this test fails instead"
            );
            None
        }
    }
}

/// A gateway on its embedded simulator: the demo organization and credentials, the system clock.
async fn embedded() -> Server {
    let mut config = Config::defaults();
    config.sim = true;
    Server::start(config).await
}

/// Asserts the page made no request off its origin and logged no error.
fn assert_clean(page: &cdp::Page<'_>, origin: &str) {
    let log = page.log();
    assert!(log.blocked.is_empty(), "requests to other origins: {:#?}", log.blocked);
    for request in &log.requests {
        let url = request.split_once(' ').map_or(request.as_str(), |(_, u)| u);
        assert!(url.starts_with(&format!("{origin}/")), "{request} left {origin}");
    }
    assert!(log.errors.is_empty(), "console errors: {:#?}", log.errors);
}

/// Text as a reader sees it: the no-break spaces `Intl` puts in numbers as plain spaces.
fn plain(text: &str) -> String {
    text.replace(['\u{a0}', '\u{202f}'], " ").trim().to_owned()
}

/// Digits grouped by thousands: `30477` is "30,477".
fn grouped(digits: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Money as the page formats it in en-US: "ECU 30,477.53".
fn money(value: f64, currency: &str) -> String {
    let fixed = format!("{:.2}", value.abs());
    let (int, frac) = fixed.split_once('.').unwrap();
    let sign = if value < 0.0 && fixed != "0.00" { "-" } else { "" };
    format!("{sign}{currency} {}.{frac}", grouped(int))
}

/// A ratio as the page's signed percentage: "+12.3%", "-4.0%", "0.0%".
fn percent(ratio: f64) -> String {
    let fixed = format!("{:.1}", (ratio * 100.0).abs());
    let (int, frac) = fixed.split_once('.').unwrap();
    let text = format!("{}.{frac}%", grouped(int));
    if fixed == "0.0" {
        text
    } else if ratio > 0.0 {
        format!("+{text}")
    } else {
        format!("-{text}")
    }
}

/// The last full calendar month before today, in UTC, inclusive.
fn last_full_month() -> (NaiveDate, NaiveDate) {
    let today = Utc::now().date_naive();
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    let to = first.checked_sub_days(Days::new(1)).unwrap();
    (NaiveDate::from_ymd_opt(to.year(), to.month(), 1).unwrap(), to)
}

fn timestamp(day: NaiveDate) -> String {
    format!("{day}T00:00:00Z")
}

/// The months (`YYYY-MM`) a range touches.
fn months(from: NaiveDate, to: NaiveDate) -> Vec<String> {
    let mut out = vec![];
    let mut day = from;
    while day <= to {
        let month = day.format("%Y-%m").to_string();
        if out.last() != Some(&month) {
            out.push(month);
        }
        day = day.checked_add_days(Days::new(1)).unwrap();
    }
    out
}

/// Every panel's `data-state`, once none is loading.
async fn settled(page: &cdp::Page<'_>) -> BTreeMap<String, String> {
    let states = page
        .wait_for(
            "(() => { const p = [...document.querySelectorAll('main .panel')]; \
             return p.length && p.every(e => ['ready', 'empty', 'error'].includes(e.dataset.state)) \
             && Object.fromEntries(p.map(e => [e.id, e.dataset.state])); })()",
            WAIT,
        )
        .await;
    serde_json::from_value(states).unwrap()
}

/// The text of the element `selector` names.
async fn text(page: &cdp::Page<'_>, selector: &str) -> String {
    let selector = serde_json::to_string(selector).unwrap();
    let value = page.eval(&format!("document.querySelector({selector})?.textContent ?? null")).await;
    plain(value.as_str().unwrap_or_else(|| panic!("no element {selector}")))
}

/// The cells' texts of each row of the table body under `selector`.
async fn rows(page: &cdp::Page<'_>, selector: &str) -> Vec<Vec<String>> {
    let selector = serde_json::to_string(&format!("{selector} table tbody tr")).unwrap();
    let value = page
        .eval(&format!("[...document.querySelectorAll({selector})].map(tr => [...tr.cells].map(c => c.textContent))"))
        .await;
    let rows: Vec<Vec<String>> = serde_json::from_value(value).unwrap();
    rows.into_iter().map(|r| r.iter().map(|c| plain(c)).collect()).collect()
}

/// A GraphQL answer's `data`, asserting it has no error.
async fn data(server: &Server, query: &str) -> Value {
    let reply = server.query(query, &[]).await.json();
    assert!(support::errors(&reply).is_empty(), "{reply:#}");
    reply["data"].clone()
}

/// `value` with every number as a float, so `0` and `0.0` compare equal.
fn numbers_as_floats(value: &Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(items) => Value::Array(items.iter().map(numbers_as_floats).collect()),
        Value::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), numbers_as_floats(v))).collect()),
        other => other.clone(),
    }
}

/// What the page does wrong for a reader: visible text under WCAG AA contrast against its
/// background (4.5:1, 3:1 for large text), controls without a label, buttons and images
/// without a name.
const ACCESSIBILITY_PROBLEMS: &str = r#"(() => {
  const problems = [];
  const rgba = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (e) => {
    for (; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  for (const e of document.querySelectorAll('body *')) {
    if (![...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    const style = getComputedStyle(e);
    if (style.visibility === 'hidden' || !e.getClientRects().length) continue;
    const [hi, lo] = [luminance(rgba(style.color)), luminance(background(e))].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const needed = size >= 24 || (Number(style.fontWeight) >= 700 && size >= 18.66) ? 3 : 4.5;
    if (ratio < needed) problems.push(`contrast ${ratio.toFixed(2)} < ${needed}: ${e.tagName} "${e.textContent.trim().slice(0, 40)}"`);
  }
  for (const c of document.querySelectorAll('input, select, textarea')) {
    if (!c.labels?.length && !c.getAttribute('aria-label')) problems.push(`no label: ${c.outerHTML.slice(0, 80)}`);
  }
  for (const b of document.querySelectorAll('button, a')) {
    if (!b.textContent.trim() && !b.getAttribute('aria-label')) problems.push(`no name: ${b.outerHTML.slice(0, 80)}`);
  }
  for (const i of document.querySelectorAll('[role=img]')) {
    if (!i.getAttribute('aria-label')) problems.push(`no label: ${i.outerHTML.slice(0, 80)}`);
  }
  return problems;
})()"#;

/// Asserts the page as it stands has no accessibility problem the check above finds.
async fn assert_accessible(page: &cdp::Page<'_>, what: &str) {
    let problems = page.eval(ACCESSIBILITY_PROBLEMS).await;
    assert_eq!(problems, json!([]), "{what}");
}

/// The upstream calls the simulator received since its last reset, by endpoint template.
fn upstream_calls(server: &Server) -> (u64, BTreeMap<String, u64>) {
    let stats = server.gateway.sim().unwrap().sim().stats();
    (stats.total(), stats.endpoints.iter().map(|(t, e)| (t.clone(), e.calls)).collect())
}

fn reset_upstream_calls(server: &Server) {
    server.gateway.sim().unwrap().sim().reset_stats();
}

/// The `/graphql` requests the page made.
fn graphql_requests(page: &cdp::Page<'_>, origin: &str) -> usize {
    let endpoint = format!("POST {origin}/graphql");
    page.log().requests.iter().filter(|r| **r == endpoint).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_renders_offline_runs_the_example_and_browses_the_docs() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let Some(browser) = browser().await else { return };
    let started = Instant::now();
    let server = embedded().await;
    let page = browser.page(&server.url).await;
    page.goto(&format!("{}/", server.url)).await;

    // The editor opens on the example query, for the demo organization.
    let demo = server.gateway.demo().unwrap().organization_id.clone();
    let example = billing_gateway::example_query(&demo);
    let editor = "document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror?.getValue()";
    let shown = page.wait_for(editor, WAIT).await;
    assert_eq!(shown.as_str().unwrap(), example);

    // Run it: the result pane shows what `/graphql` answers.
    page.click(".graphiql-execute-button").await;
    let result = "document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror?.getValue()";
    let shown = page
        .wait_for(&format!("(() => {{ const v = {result}; return v && v.includes('\"data\"') && v; }})()"), WAIT)
        .await;
    let shown: Value = serde_json::from_str(shown.as_str().unwrap()).unwrap();
    assert!(support::errors(&shown).is_empty(), "{shown:#}");
    // Equal as JSON values: GraphiQL prints 0.0 as 0.
    let answer = server.query(&example, &[]).await.json();
    assert!(
        numbers_as_floats(&shown["data"]) == numbers_as_floats(&answer["data"]),
        "GraphiQL shows {shown}, /graphql answers {answer}"
    );
    // And the price: GraphiQL's run was cold; the same query again is served by the cache.
    let calls = |v: &Value| v["extensions"]["cost"]["actual"]["calls"].as_u64().unwrap();
    assert!(calls(&shown) > 0, "{shown:#}");
    assert_eq!(calls(&answer), 0, "{answer:#}");
    assert!(shown["data"]["organization"]["costs"]["total"].as_f64().unwrap() > 0.0);

    // The Docs explorer reads the schema by introspection: Query, then its fields.
    page.click(".graphiql-sidebar button[aria-label*='Documentation Explorer']").await;
    page.wait_for("document.querySelector('.graphiql-doc-explorer')?.textContent.includes('Query')", WAIT).await;
    page.click(".graphiql-doc-explorer a.graphiql-doc-explorer-type-name").await;
    let docs = page
        .wait_for(
            "(() => { const t = document.querySelector('.graphiql-doc-explorer')?.textContent ?? ''; \
             return t.includes('usageAggregates') && t.includes('organization') && t; })()",
            WAIT,
        )
        .await;
    assert!(docs.as_str().unwrap().contains("An Elastic Cloud organization by id"), "{docs}");
    page.screenshot(&artifacts().join("graphiql.png")).await;

    // Its dialogs open and close under the page's policy.
    page.click(".graphiql-sidebar button[aria-label='Open settings dialog']").await;
    page.wait_for("document.querySelector('[role=dialog]')?.textContent.includes('Theme')", WAIT).await;
    page.press("Escape").await;
    page.wait_for("!document.querySelector('[role=dialog]')", WAIT).await;

    assert_clean(&page, &server.url);
    assert!(page.log().requests.len() >= 6, "{:#?}", page.log().requests);
    browser.close().await;
    eprintln!("graphiql test: {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_the_graphql_answers_and_opens_a_deployment() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let Some(browser) = browser().await else { return };
    let started = Instant::now();
    let server = embedded().await;
    let origin = server.url.clone();
    let page = browser.page(&origin).await;
    reset_upstream_calls(&server);
    page.goto(&format!("{origin}/dashboard")).await;
    let states = settled(&page).await;
    assert!(states.values().all(|s| s == "ready"), "{states:?}");
    let (cold, cold_by_endpoint) = upstream_calls(&server);
    assert_eq!(graphql_requests(&page, &origin), 4, "one request per panel");
    // The page prints what the refresh cost, from the answers' `extensions.cost`: the billing
    // calls the simulator counted (the Talkdesk token request is not one).
    let cost_shown = "document.querySelector('#refresh-cost [data-field=calls]') !== null";
    page.wait_for(cost_shown, WAIT).await;
    let token_calls = cold_by_endpoint.get(endpoints::TALKDESK_TOKEN).copied().unwrap_or(0);
    let shown = |field: &'static str| {
        let page = &page;
        async move { text(page, &format!("#refresh-cost [data-field={field}]")).await.parse::<u64>().unwrap() }
    };
    assert_eq!(shown("calls").await, cold - token_calls, "{cold_by_endpoint:#?}");
    assert!(shown("cold").await > 0);

    // The defaults: the demo organization and the last full month.
    let org = server.gateway.demo().unwrap().organization_id.clone();
    let (from, to) = last_full_month();
    let form = page.eval("[org.value, from.value, to.value]").await;
    assert_eq!(form, json!([org, from.to_string(), to.to_string()]));
    let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
    let length = days.len() as u64;
    let previous_from = from.checked_sub_days(Days::new(length)).unwrap();
    let end = to.checked_add_days(Days::new(1)).unwrap();

    // The GraphQL answers for the same range, with documents of the test's own.
    let (f, t, p) = (timestamp(from), timestamp(end), timestamp(previous_from));
    let months = months(from, to);
    let expected = data(
        &server,
        &format!(
            r#"{{ organization(id: "{org}") {{
                current: costs(from: "{f}", to: "{t}") {{ total hourlyRate }}
                previous: costs(from: "{p}", to: "{f}") {{ total }}
                deployments(from: "{f}", to: "{t}") {{
                  id name totalCost hourlyRate
                  charts(bucketing: DAILY) {{ points {{ timestamp values {{ id value }} }} }}
                }}
              }}
              usageAggregates(first: 5000, filter: {{ months: {months:?} }}) {{
                nodes {{ month type description totalAmount currency }}
              }} }}"#
        ),
    )
    .await;
    let organization = &expected["organization"];

    // Summary: totals, the change, the rates.
    let total = organization["current"]["total"].as_f64().unwrap();
    let previous = organization["previous"]["total"].as_f64().unwrap();
    let hours = (length * 24) as f64;
    assert_eq!(text(&page, "#summary [data-field=total]").await, money(total, "ECU"));
    assert_eq!(text(&page, "#summary [data-field=previous-total]").await, money(previous, "ECU"));
    assert_eq!(text(&page, "#summary [data-field=total-change]").await, percent(total / previous - 1.0));
    assert_eq!(text(&page, "#summary [data-field=rate-change]").await, percent(total / previous - 1.0));
    assert_eq!(text(&page, "#summary [data-field=average-rate]").await, format!("{}/h", money(total / hours, "ECU")));
    assert_eq!(
        text(&page, "#summary [data-field=previous-rate]").await,
        format!("{}/h", money(previous / hours, "ECU"))
    );
    let rate = organization["current"]["hourlyRate"].as_f64().unwrap();
    assert_eq!(text(&page, "#summary [data-field=current-rate]").await, format!("{}/h", money(rate, "ECU")));

    // Daily: each day's total, summed as the page does (by dimension, in its order).
    let deployments = organization["deployments"].as_array().unwrap();
    let order = ["capacity", "data_in", "data_out", "data_internode", "storage_bytes", "storage_api"];
    let mut by_dimension: BTreeMap<(NaiveDate, String), f64> = BTreeMap::new();
    for deployment in deployments {
        for point in deployment["charts"]["points"].as_array().unwrap() {
            let day: NaiveDate = point["timestamp"].as_str().unwrap()[..10].parse().unwrap();
            for value in point["values"].as_array().unwrap() {
                let id = value["id"].as_str().unwrap().to_lowercase();
                *by_dimension.entry((day, id)).or_default() += value["value"].as_f64().unwrap();
            }
        }
    }
    let daily = rows(&page, "#daily").await;
    assert_eq!(daily.len(), days.len());
    for (row, day) in daily.iter().zip(&days) {
        assert_eq!(row[0], day.format("%b %-d").to_string());
        let sum = order.iter().fold(0.0, |sum, id| sum + by_dimension.get(&(*day, (*id).to_owned())).unwrap_or(&0.0));
        assert_eq!(row.last().unwrap(), &money(sum, "ECU"), "{day}");
    }

    // Deployments: the ten most expensive, in order, with their costs.
    let mut top: Vec<&Value> = deployments.iter().collect();
    top.sort_by(|a, b| b["totalCost"].as_f64().unwrap().total_cmp(&a["totalCost"].as_f64().unwrap()));
    top.truncate(10);
    let listed = rows(&page, "#deployments").await;
    let want: Vec<(String, String)> = top
        .iter()
        .map(|d| (d["name"].as_str().unwrap().to_owned(), money(d["totalCost"].as_f64().unwrap(), "ECU")))
        .collect();
    let got: Vec<(String, String)> = listed.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    assert_eq!(got, want);
    let sparklines = page.eval("document.querySelectorAll('#deployments svg.spark polyline').length").await;
    assert_eq!(sparklines, json!(top.len()));

    // Talkdesk: every product's amount per month, in the row's currency, and the totals.
    let mut usage: BTreeMap<(String, String), BTreeMap<String, f64>> = BTreeMap::new();
    let mut totals: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for row in expected["usageAggregates"]["nodes"].as_array().unwrap() {
        let product = row["description"].as_str().or(row["type"].as_str()).unwrap_or("Other").to_owned();
        let currency = row["currency"].as_str().unwrap().to_owned();
        let month = row["month"].as_str().unwrap().to_owned();
        let amount = row["totalAmount"].as_f64().unwrap_or(0.0);
        *usage.entry((product, currency.clone())).or_default().entry(month.clone()).or_default() += amount;
        *totals.entry(currency).or_default().entry(month).or_default() += amount;
    }
    assert!(!usage.is_empty(), "the demo has Talkdesk usage");
    let mut want: Vec<Vec<String>> = usage
        .iter()
        .map(|((product, currency), amounts)| {
            let cells = months.iter().map(|m| amounts.get(m).map_or("—".to_owned(), |a| money(*a, currency)));
            std::iter::once(product.clone()).chain(cells).collect()
        })
        .collect();
    for (currency, amounts) in &totals {
        let label = if totals.len() > 1 { format!("Total ({currency})") } else { "Total".to_owned() };
        let cells = months.iter().map(|m| money(amounts.get(m).copied().unwrap_or(0.0), currency));
        want.push(std::iter::once(label).chain(cells).collect());
    }
    let mut got = rows(&page, "#talkdesk").await;
    want.sort();
    got.sort();
    assert_eq!(got, want);
    page.screenshot(&artifacts().join("dashboard.png")).await;
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(artifacts().join("dashboard.png"), docs.join("dashboard.png")).unwrap();
    }
    page.click("#daily details.data summary").await;
    page.click(".credentials summary").await;
    assert_accessible(&page, "the dashboard, its table and credentials open").await;

    // The drill-down opens on a click: the deployment's total, chart, dimensions, line items.
    reset_upstream_calls(&server);
    let first = top[0];
    let first_id = first["id"].as_str().unwrap();
    page.click(&format!("#deployments tr[data-deployment='{first_id}'] td:last-child")).await;
    page.wait_for("document.getElementById('deployment').open && document.getElementById('deployment-panel').dataset.state === 'ready'", WAIT).await;
    assert_eq!(text(&page, "#deployment-title").await, first["name"].as_str().unwrap());
    assert_eq!(
        text(&page, "#deployment-panel [data-field=deployment-total]").await,
        money(first["totalCost"].as_f64().unwrap(), "ECU")
    );
    let detail = data(
        &server,
        &format!(
            r#"{{ organization(id: "{org}") {{ deployment(id: "{first_id}", from: "{f}", to: "{t}") {{
                dimensions {{ cost }} lineItems {{ name totalEcu }} }} }} }}"#
        ),
    )
    .await;
    let items = detail["organization"]["deployment"]["lineItems"].as_array().unwrap();
    let tables =
        page.eval("[...document.querySelectorAll('#deployment-panel table')].map(t => t.tBodies[0].rows.length)").await;
    let dimensions = detail["organization"]["deployment"]["dimensions"].as_array().unwrap().len();
    assert_eq!(tables, json!([dimensions, items.len()]));
    let shown_items = rows(&page, "#deployment-panel .line-items").await;
    for (row, item) in shown_items.iter().zip(items) {
        assert_eq!(row[0], item["name"].as_str().unwrap());
        assert_eq!(row.last().unwrap(), &money(item["totalEcu"].as_f64().unwrap(), "ECU"));
    }
    assert!(
        page.eval("document.querySelectorAll('#deployment-panel .chart canvas').length").await.as_u64().unwrap() >= 1
    );
    assert_accessible(&page, "the drill-down").await;
    page.screenshot(&artifacts().join("dashboard-deployment.png")).await;
    let (drilldown_calls, drilldown_by_endpoint) = upstream_calls(&server);

    // Escape closes it, and the focus goes back to the deployment's button.
    page.press("Escape").await;
    page.wait_for("!document.getElementById('deployment').open", WAIT).await;
    let focused = page.wait_for("document.activeElement?.closest('tr')?.dataset.deployment", WAIT).await;
    assert_eq!(focused, json!(first_id));

    // The keyboard opens one too: Tab to the next deployment's button, then Enter.
    page.press("Tab").await;
    let second = top[1]["name"].as_str().unwrap();
    assert_eq!(page.eval("document.activeElement.textContent").await, json!(second));
    page.press("Enter").await;
    page.wait_for("document.getElementById('deployment').open && document.getElementById('deployment-panel').dataset.state === 'ready'", WAIT).await;
    assert_eq!(text(&page, "#deployment-title").await, second);
    page.press("Escape").await;
    page.wait_for("!document.getElementById('deployment').open", WAIT).await;
    assert_eq!(graphql_requests(&page, &origin), 6, "one request per drill-down");

    // Warm: the same page again, within the cache's time, calls no upstream.
    reset_upstream_calls(&server);
    page.goto(&format!("{origin}/dashboard")).await;
    let states = settled(&page).await;
    assert!(states.values().all(|s| s == "ready"), "{states:?}");
    let (warm, warm_by_endpoint) = upstream_calls(&server);
    page.wait_for(cost_shown, WAIT).await;
    assert_eq!(shown("calls").await, 0, "a warm refresh costs no call");
    assert!(shown("cache-hits").await >= cold - token_calls, "every answer it used came from the cache");

    assert_clean(&page, &origin);
    browser.close().await;
    eprintln!(
        "upstream calls for {} deployments: cold page {cold} {cold_by_endpoint:#?}, drill-down {drilldown_calls} \
         {drilldown_by_endpoint:#?}, warm page {warm} {warm_by_endpoint:#?}",
        deployments.len()
    );
    // What the README says a page costs: two overviews, the deployments, each deployment's
    // chart, the organization's chart, and the Talkdesk pages (with a token on first use).
    let talkdesk = cold_by_endpoint.get(endpoints::TALKDESK_USAGE).copied().unwrap_or(0)
        + cold_by_endpoint.get(endpoints::TALKDESK_TOKEN).copied().unwrap_or(0);
    assert_eq!(cold, 2 + 1 + deployments.len() as u64 + 1 + talkdesk, "{cold_by_endpoint:#?}");
    assert_eq!(cold_by_endpoint.get(endpoints::TALKDESK_USAGE), Some(&1), "{cold_by_endpoint:#?}");
    assert_eq!(drilldown_calls, 1, "only the v2 line items are new: {drilldown_by_endpoint:#?}");
    assert_eq!(warm, 0, "{warm_by_endpoint:#?}");
    eprintln!("dashboard test: {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_fault_fails_its_panel_alone_with_its_code() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let Some(browser) = browser().await else { return };
    let server = embedded().await;
    let origin = server.url.clone();
    let sim = server.gateway.sim().unwrap().sim();
    // The costs overview (the summary panel's only endpoint) fails, retries included.
    let faults = || std::iter::repeat_n(billing_sim::Fault::server_error(), 12);
    sim.push_faults(Some(endpoints::V1_OVERVIEW), faults());

    let page = browser.page(&origin).await;
    page.goto(&format!("{origin}/dashboard")).await;
    let states = settled(&page).await;
    assert_eq!(states["summary"], "error", "{states:?}");
    for panel in ["daily", "deployments", "talkdesk"] {
        assert_eq!(states[panel], "ready", "{states:?}");
    }
    // The codes shown are those the endpoint answers for the same fault.
    let shown = page.eval("[...document.querySelectorAll('#summary .error code')].map(c => c.textContent)").await;
    let mut shown: Vec<String> = serde_json::from_value(shown).unwrap();
    shown.dedup();
    sim.clear_faults();
    sim.push_faults(Some(endpoints::V1_OVERVIEW), faults());
    let org = server.gateway.demo().unwrap().organization_id.clone();
    let (from, _) = last_full_month();
    let reply = server
        .query(&format!(r#"{{ organization(id: "{org}") {{ costs(from: "{}") {{ total }} }} }}"#, timestamp(from)), &[])
        .await;
    let mut codes = reply.error_codes();
    codes.dedup();
    assert!(!codes.is_empty(), "{}", reply.text);
    assert_eq!(shown, codes);
    assert!(text(&page, "#summary .error").await.contains("could not be loaded"));
    assert_accessible(&page, "an error").await;
    page.screenshot(&artifacts().join("dashboard-fault.png")).await;
    assert_clean(&page, &origin);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_credentials_stay_in_the_tab_and_go_to_this_origin_only() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let Some(browser) = browser().await else { return };
    // A gateway with a server-side Elastic key and no Talkdesk credential, on a simulator
    // whose clock is fixed: October 2026 is the README's month.
    let sim = support::sim().await;
    let mut config = support::config_for(&sim.base_url());
    config.elastic_api_key = Some(support::elastic_auth(&sim));
    let server = Server::start(config).await;
    let origin = server.url.clone();
    let org = sim.dataset().demo_org().id.to_string();
    let page = browser.page(&origin).await;
    page.goto(&format!("{origin}/dashboard?org={org}&from=2026-10-01&to=2026-10-31")).await;
    let states = settled(&page).await;
    assert_eq!(states["talkdesk"], "empty", "{states:?}");
    assert!(text(&page, "#talkdesk").await.contains("No Talkdesk token"));
    assert_eq!(text(&page, "#summary [data-field=total]").await, "ECU 30,477.53", "the README's October");

    // The reader types a token and shows the costs again.
    let token = support::talkdesk_auth(&sim).trim_start_matches("Bearer ").to_owned();
    page.click(".credentials summary").await;
    page.click("#talkdesk-token").await;
    page.type_text(&token).await;
    page.press("Enter").await;
    page.wait_for("document.getElementById('talkdesk').dataset.state === 'ready'", WAIT).await;
    settled(&page).await;

    let storage = page
        .eval(
            "({ session: Object.entries(sessionStorage), local: Object.entries(localStorage), cookie: document.cookie })",
        )
        .await;
    assert_eq!(storage["session"], json!([["billing-graph.talkdesk-token", token]]), "{storage}");
    assert_eq!(storage["local"], json!([]), "{storage}");
    assert_eq!(storage["cookie"], json!(""), "{storage}");
    // It reached Talkdesk through the gateway, as the caller's own.
    let talkdesk: Vec<_> =
        sim.sim().requests().into_iter().filter(|r| r.template == endpoints::TALKDESK_USAGE).collect();
    assert!(!talkdesk.is_empty());
    assert!(talkdesk.iter().all(|r| r.authorization.as_deref() == Some(&format!("Bearer {token}"))), "{talkdesk:#?}");

    // It is forgotten on request.
    page.click("#forget").await;
    page.wait_for("document.getElementById('talkdesk').dataset.state === 'empty'", WAIT).await;
    assert_eq!(page.eval("sessionStorage.length").await, json!(0));
    assert_clean(&page, &origin);
    browser.close().await;
}
