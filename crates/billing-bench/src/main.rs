//! `billing-bench`: what a query costs, measured. Starts the simulator in-process, the gateway and
//! the no-GraphQL baseline as child processes, drives them over HTTP and prints one table row per
//! run. See `BENCHMARKS.md` at the repository root.
#![allow(clippy::print_stdout)]

mod baseline;
mod child;
mod load;
mod replicas;
mod scenario;
mod soak;
mod table;

/// The gateway binary's allocator, so the gateway child runs as it does in production (and the
/// baseline child on the same one). `--features system-allocator` measures glibc's instead.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::time::Duration;

use billing_http::{
    ElasticBillingV1, ElasticBillingV2, ElasticCredentials, Limit, TalkdeskBillingInsights, TalkdeskToken, Transport,
    TransportConfig,
};
use billing_sim::{FaultRates, Latency, Scale, SimConfig, SimHandle};
use bytes::Bytes;
use clap::{Parser, Subcommand, ValueEnum};

use child::Server;
use scenario::{CallTime, Cost, Scenario};
use table::{print_checks, print_header, print_row};

/// Benchmarks the gateway against the simulator and a no-GraphQL baseline.
#[derive(Debug, Parser)]
#[command(name = "billing-bench", about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    role: Option<Role>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Role {
    /// Run the fault and load campaign against a gateway for minutes, sampling its RSS.
    Soak(soak::SoakArgs),
    /// (internal) Serve the gateway against a simulator; stops when stdin closes.
    #[command(hide = true)]
    ServeGateway(ServerArgs),
    /// (internal) Serve the campaign's gateway against a simulator; stops when stdin closes.
    #[command(hide = true)]
    ServeCampaign(CampaignServerArgs),
    /// (internal) Serve the baseline against a simulator; stops when stdin closes.
    #[command(hide = true)]
    ServeBaseline(ServerArgs),
}

#[derive(Debug, Clone, clap::Args)]
struct ServerArgs {
    #[arg(long)]
    sim_url: String,
    #[arg(long)]
    elastic_key: String,
    #[arg(long)]
    talkdesk_token: String,
    #[arg(long, default_value_t = 0)]
    cache_ttl_secs: u64,
    #[arg(long, default_value_t = 64)]
    upstream_concurrency: usize,
    /// Shares this Redis with the other replicas (the bench's own key secret).
    #[arg(long)]
    redis_url: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
struct CampaignServerArgs {
    #[arg(long)]
    sim_url: String,
    /// Overrides the campaign's client-side upstream rate limit (the gateway's default).
    #[arg(long)]
    upstream_rps: Option<u32>,
    /// Overrides the campaign's per-caller request rate (the gateway's default).
    #[arg(long)]
    caller_rps: Option<u32>,
    /// Runs every query on async-graphql's executor, the reference, not the planned one.
    #[arg(long)]
    reference_executor: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Cache {
    On,
    Off,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RunArgs {
    /// Scenarios to run.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["overview", "dashboard", "charts", "usage", "scale"])]
    scenario: Vec<Scenario>,
    /// Upstream latencies to run each scenario at, in milliseconds.
    #[arg(long, value_delimiter = ',', default_values_t = [0_u64, 20])]
    latency_ms: Vec<u64>,
    /// Gateway response cache settings to run.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["off", "on"])]
    cache: Vec<Cache>,
    /// Seconds of load per run.
    #[arg(long, default_value_t = 3.0)]
    duration: f64,
    /// Closed-loop clients.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Deployments of the organization `dashboard` reads.
    #[arg(long, default_value_t = 50)]
    deployments: usize,
    /// Deployment counts of `scale`.
    #[arg(long, value_delimiter = ',', default_values_t = [10_usize, 100, 1000])]
    scale_deployments: Vec<usize>,
    /// Upstream requests in flight at once, per upstream (gateway and baseline alike).
    #[arg(long, default_value_t = 64)]
    upstream_concurrency: usize,
    /// Share of upstream requests the simulator answers 500 (retried by both sides).
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Share of upstream requests the simulator answers 429.
    #[arg(long, default_value_t = 0.0)]
    throttle_rate: f64,
    /// Skip the baseline runs.
    #[arg(long)]
    no_baseline: bool,
    /// Give each client its own document (differing by a comment), so no two requests in flight
    /// are identical and none share an execution: the gateway's cost per request without single flight.
    #[arg(long)]
    distinct: bool,
    /// Runs of each baseline/gateway group, interleaved (baseline, gateway, baseline, ...): each
    /// gateway row is compared with the baseline run just before it, and the targets take the
    /// median over the repeats, so a burst of noise on a shared machine moves one pair, not the verdict.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Identical cold requests sent at once to check that they cost one execution (0: skip).
    #[arg(long, default_value_t = 16)]
    burst: usize,
    /// Runs the replica bench instead (see `replicas.rs`): this many gateway replicas, each
    /// request sent to one of them (0: the usual runs).
    #[arg(long, default_value_t = 0)]
    replicas: usize,
    /// With --replicas: the replicas share a redis-server, started on a free loopback port.
    #[arg(long)]
    redis: bool,
    /// With --replicas: distinct queries (date ranges) sent in each phase.
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// With --replicas: passes over the queries in the warm phase.
    #[arg(long, default_value_t = 10)]
    warm_rounds: usize,
}

fn main() -> std::process::ExitCode {
    // Every role (the gateway's and the baseline's servers alike) with the gateway's allocator
    // setting, before the runtime's threads start.
    billing_gateway::allocator::return_freed_memory_at_once();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("billing-bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.role {
            Some(Role::Soak(args)) => soak::soak(args).await,
            Some(Role::ServeGateway(args)) => serve_gateway(args).await,
            Some(Role::ServeCampaign(args)) => serve_campaign(args).await,
            Some(Role::ServeBaseline(args)) => serve_baseline(args).await,
            None if cli.run.replicas > 0 => replicas::run(&cli.run).await,
            None => run(cli.run).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("billing-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

pub(crate) type AnyError = Box<dyn std::error::Error + Send + Sync>;

async fn serve_gateway(args: ServerArgs) -> Result<(), AnyError> {
    let mut config = billing_gateway::Config::defaults();
    config.elastic_v1_url = Some(format!("{}/api/v1", args.sim_url));
    config.elastic_v2_url = Some(format!("{}/api/v2", args.sim_url));
    config.talkdesk_url = Some(args.sim_url.clone());
    config.elastic_api_key = Some(format!("ApiKey {}", args.elastic_key));
    config.talkdesk_token = Some(format!("Bearer {}", args.talkdesk_token));
    config.cache_ttl_secs = args.cache_ttl_secs;
    config.upstream_concurrency = args.upstream_concurrency;
    config.upstream_rps = 0;
    config.upstream_budget = 5000;
    config.max_complexity = 1_000_000;
    config.no_graphiql = true;
    // One caller drives the whole load: per-caller shares would measure the share, not the
    // gateway (the baseline has none either).
    config.caller_rps = 0;
    config.caller_upstream_concurrency = 0;
    if let Some(url) = args.redis_url {
        config.redis_url = Some(url);
        config.cache_key_secret = Some("billing-bench replicas share this key".to_owned());
    }
    let gateway = billing_gateway::Gateway::build(config).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    child::announce(listener.local_addr()?);
    billing_gateway::serve(listener, gateway.router(), child::parent_gone()).await?;
    Ok(())
}

/// The gateway of the fault and load campaign: its configuration is the end-to-end test's.
async fn serve_campaign(args: CampaignServerArgs) -> Result<(), AnyError> {
    let mut config = billing_bench::campaign::gateway_config(&args.sim_url);
    if let Some(rps) = args.upstream_rps {
        config.upstream_rps = rps;
    }
    if let Some(rps) = args.caller_rps {
        config.caller_rps = rps;
    }
    config.reference_executor = args.reference_executor;
    let gateway = billing_gateway::Gateway::build(config).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    child::announce(listener.local_addr()?);
    billing_gateway::serve(listener, gateway.router(), child::parent_gone()).await?;
    Ok(())
}

async fn serve_baseline(args: ServerArgs) -> Result<(), AnyError> {
    // The same transport settings as the gateway's: no client rate limit, the same concurrency.
    let config = TransportConfig::default().with_limits(Limit::unlimited(args.upstream_concurrency));
    let transport = Transport::new(config)?;
    let baseline = baseline::Baseline {
        v1: ElasticBillingV1::new(transport.clone(), &format!("{}/api/v1", args.sim_url))?,
        v2: ElasticBillingV2::new(transport.clone(), &format!("{}/api/v2", args.sim_url))?,
        talkdesk: TalkdeskBillingInsights::new(transport, &args.sim_url)?,
        elastic: ElasticCredentials::api_key(args.elastic_key)?,
        token: TalkdeskToken::new(args.talkdesk_token)?,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    child::announce(listener.local_addr()?);
    axum::serve(listener, baseline::router(baseline)).with_graceful_shutdown(child::parent_gone()).await?;
    Ok(())
}

/// What one run measured.
#[derive(Debug, Clone)]
struct Row {
    scenario: &'static str,
    deployments: u64,
    latency_ms: u64,
    server: &'static str,
    cache: Option<Cache>,
    per_second: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    failed: u64,
    calls_per_request: f64,
    cost: Cost,
    cpu_ms_per_request: f64,
    cpu_share: f64,
    rss_mib: f64,
    peak_mib: f64,
    /// The critical-path bound at the measured call time, and at the nominal latency.
    bound_ms: f64,
    nominal_bound_ms: f64,
    /// One upstream call as a client sees it on an idle machine.
    call: CallTime,
    versus_baseline: Option<f64>,
    /// The CPU per request of the baseline row just before this one.
    baseline_cpu_ms: Option<f64>,
}

const MIB: f64 = 1024.0 * 1024.0;

async fn run(args: RunArgs) -> Result<(), AnyError> {
    let duration = Duration::from_secs_f64(args.duration);
    let client = load::client();
    // One simulator per organization size, reused across latencies and servers.
    let mut plans: Vec<(Scenario, usize)> = Vec::new();
    for s in &args.scenario {
        match s {
            Scenario::Scale => plans.extend(args.scale_deployments.iter().map(|&d| (Scenario::Scale, d))),
            other => plans.push((*other, args.deployments)),
        }
    }
    print_header(&args);
    let mut rows = Vec::new();
    let mut sims: BTreeMap<usize, SimHandle> = BTreeMap::new();
    for (scenario, deployments) in plans {
        let sim = match sims.entry(deployments) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(start_sim(&args, deployments).await?),
        };
        let sim = &*sim;
        for &latency_ms in &args.latency_ms {
            sim.set_latency(None, latency(latency_ms));
            let call = if latency_ms > 0 {
                // Timed with the faults off, so a fault neither ends the run nor skews the figure.
                sim.set_faults(None, FaultRates::none());
                let call = load::call_time(&client, sim).await;
                sim.set_faults(None, fault_rates(&args));
                call?
            } else {
                CallTime::nominal(0)
            };
            let org = match scenario {
                Scenario::Overview => sim.dataset().demo_org().id.to_string(),
                _ => sim.dataset().big_org().id.to_string(),
            };
            let bodies: Vec<Bytes> = scenario::bodies(scenario, &org, args.concurrency, args.distinct)
                .into_iter()
                .map(Bytes::from)
                .collect();
            for _ in 0..args.repeat.max(1) {
                let mut baseline_rate = None;
                let mut baseline_cpu = None;
                if !args.no_baseline {
                    let row = measure(&args, sim, &client, scenario, latency_ms, call, None, &bodies, duration).await?;
                    baseline_rate = Some(row.per_second);
                    baseline_cpu = Some(row.cpu_ms_per_request);
                    print_row(&row);
                    rows.push(row);
                }
                for &cache in &args.cache {
                    let mut row =
                        measure(&args, sim, &client, scenario, latency_ms, call, Some(cache), &bodies, duration)
                            .await?;
                    row.versus_baseline = baseline_rate.map(|b| row.per_second / b);
                    row.baseline_cpu_ms = baseline_cpu;
                    print_row(&row);
                    rows.push(row);
                }
            }
        }
    }
    if args.burst > 0 && args.scenario.contains(&Scenario::Dashboard) {
        let deployments = args.deployments;
        if let Some(sim) = sims.get(&deployments) {
            burst(&args, sim, &client).await?;
        }
    }
    print_checks(&args, &rows);
    for (_, sim) in sims {
        sim.shutdown().await;
    }
    Ok(())
}

pub(crate) fn latency(ms: u64) -> Latency {
    if ms == 0 { Latency::None } else { Latency::Fixed(Duration::from_millis(ms)) }
}

pub(crate) async fn start_sim(args: &RunArgs, deployments: usize) -> std::io::Result<SimHandle> {
    let config = SimConfig {
        scale: Scale { big_org_deployments: deployments, accounts_per_org: 8, ..Scale::default() },
        faults: fault_rates(args),
        ..SimConfig::default()
    };
    billing_sim::spawn(config).await
}

fn fault_rates(args: &RunArgs) -> FaultRates {
    FaultRates { server_error: args.error_rate, too_many_requests: args.throttle_rate, ..FaultRates::none() }
}

/// The arguments that point a server child at the simulator, with its demo credentials.
pub(crate) fn sim_args(sim: &SimHandle) -> Vec<String> {
    let creds = sim.dataset().credentials();
    vec![
        "--sim-url".to_owned(),
        sim.base_url(),
        "--elastic-key".to_owned(),
        creds.elastic_demo_key.clone(),
        "--talkdesk-token".to_owned(),
        creds.talkdesk_token.clone(),
    ]
}

async fn start_server(args: &RunArgs, sim: &SimHandle, cache: Option<Cache>) -> std::io::Result<Server> {
    let mut server_args = sim_args(sim);
    server_args.extend(["--upstream-concurrency".to_owned(), args.upstream_concurrency.to_string()]);
    match cache {
        None => Server::start("serve-baseline", &server_args).await,
        Some(cache) => {
            let ttl = if cache == Cache::On { 60 } else { 0 };
            server_args.extend(["--cache-ttl-secs".to_owned(), ttl.to_string()]);
            Server::start("serve-gateway", &server_args).await
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    args: &RunArgs,
    sim: &SimHandle,
    client: &reqwest::Client,
    scenario: Scenario,
    latency_ms: u64,
    call: CallTime,
    cache: Option<Cache>,
    bodies: &[Bytes],
    duration: Duration,
) -> Result<Row, AnyError> {
    let body = bodies.first().cloned().unwrap_or_default();
    let server = start_server(args, sim, cache).await?;
    let url = match cache {
        None => format!("http://{}/{}", server.addr, scenario.name()),
        Some(_) => format!("http://{}/graphql", server.addr),
    };
    // One request alone: checks the answer and counts its cold upstream calls.
    sim.reset_stats();
    let answer = load::once(client, &url, &body).await?;
    let cost = scenario::cost(scenario, &answer)?;
    let cold_calls = sim.stats().total();
    if args.error_rate == 0.0 && args.throttle_rate == 0.0 && cold_calls != cost.min_calls {
        eprintln!(
            "warning: {} cold cost {cold_calls} upstream calls, the minimum is {}",
            scenario.name(),
            cost.min_calls
        );
    }
    // A short warm-up at full concurrency: connections, allocator, and (cache on) a warm cache.
    let _ = load::drive(client, &url, bodies, args.concurrency, duration / 10).await;
    sim.reset_stats();
    let cpu0 = server.cpu();
    let sample = load::drive(client, &url, bodies, args.concurrency, duration).await;
    let cpu = server.cpu().saturating_sub(cpu0);
    let calls = sim.stats().total();
    let memory = server.memory();
    server.stop().await;
    let requests = sample.ok.max(1) as f64;
    Ok(Row {
        scenario: if scenario == Scenario::Scale { "scale" } else { scenario.name() },
        deployments: cost.deployments,
        latency_ms,
        server: if cache.is_some() { "gateway" } else { "baseline" },
        cache,
        per_second: sample.per_second(),
        p50: sample.ms(0.5),
        p90: sample.ms(0.9),
        p99: sample.ms(0.99),
        failed: sample.failed,
        calls_per_request: calls as f64 / requests,
        cost,
        cpu_ms_per_request: cpu.as_secs_f64() * 1000.0 / requests,
        cpu_share: cpu.as_secs_f64() / sample.elapsed.as_secs_f64(),
        rss_mib: memory.rss as f64 / MIB,
        peak_mib: memory.peak as f64 / MIB,
        bound_ms: scenario::bound_ms(cost, call, args.concurrency, args.upstream_concurrency),
        nominal_bound_ms: scenario::bound_ms(
            cost,
            CallTime::nominal(latency_ms),
            args.concurrency,
            args.upstream_concurrency,
        ),
        call,
        versus_baseline: None,
        baseline_cpu_ms: None,
    })
}

/// Sends `burst` identical dashboard requests at once to a cold gateway with the cache on.
async fn burst(args: &RunArgs, sim: &SimHandle, client: &reqwest::Client) -> Result<(), AnyError> {
    sim.set_latency(None, Latency::Fixed(Duration::from_millis(20)));
    let body = Bytes::from(scenario::body(Scenario::Dashboard, sim.dataset().big_org().id.as_str()));
    let server = start_server(args, sim, Some(Cache::On)).await?;
    let url = format!("http://{}/graphql", server.addr);
    sim.reset_stats();
    let cpu0 = server.cpu();
    let answers = futures::future::join_all((0..args.burst).map(|_| load::once(client, &url, &body))).await;
    let cpu = server.cpu().saturating_sub(cpu0);
    let calls = sim.stats().total();
    let metrics = client.get(format!("http://{}/metrics", server.addr)).send().await?.text().await?;
    server.stop().await;
    let ok = answers.iter().filter(|a| a.is_ok()).count();
    let executions = metric(&metrics, "billing_graphql_executions_total");
    println!();
    println!(
        "Burst: {} identical cold `dashboard` requests at once (cache on, 20 ms upstream): {ok} answered, \
         {calls} upstream calls in all, {} executions, gateway CPU {:.1} ms.",
        args.burst,
        executions.map_or_else(|| "?".to_owned(), |e| e.to_string()),
        cpu.as_secs_f64() * 1000.0
    );
    Ok(())
}

/// The value of an unlabelled Prometheus counter.
fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok()).map(|v| v as u64)
}
