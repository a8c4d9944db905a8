//! `billing-bench soak`: the fault and load campaign of the end-to-end suite, for minutes, against
//! a gateway child process whose RSS is sampled, to show that no request takes it down and that
//! its memory stays flat under faults. See "Fault and load soak" in `BENCHMARKS.md`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use billing_bench::campaign::{self, Campaign, Progress, Stop, Variety};

use crate::child::Server;
use crate::table::median;
use crate::{AnyError, MIB, load};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SoakArgs {
    /// Minutes of load.
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// Concurrent closed-loop clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// How varied the mix is: `soak` keeps missing the cache (the default), `suite` is the
    /// end-to-end test's few ranges, which the caches hold whole after a few seconds.
    #[arg(long, value_enum, default_value = "soak")]
    variety: VarietyArg,
    /// Seconds between samples of the gateway's RSS.
    #[arg(long, default_value_t = 10)]
    sample_secs: u64,
    /// Seconds at the start left out of the flatness verdict, while the cache and the allocator
    /// fill up.
    #[arg(long, default_value_t = 60)]
    warmup_secs: u64,
    /// The gateway's client-side rate limit per upstream, in requests per second (0: none);
    /// the campaign's gateway, like the end-to-end test's, keeps the default.
    #[arg(long)]
    upstream_rps: Option<u32>,
    /// The gateway's request rate per caller (0: none); the campaign's gateway keeps the
    /// default, past which it sheds load with 429s.
    #[arg(long)]
    caller_rps: Option<u32>,
    /// Runs the gateway on async-graphql's executor (the reference) rather than the planned one,
    /// to tell which one a difference in memory comes from.
    #[arg(long)]
    reference_executor: bool,
    /// How far, in percent, the median RSS of the last third of the samples may be from that of
    /// the first third (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    tolerance_pct: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum VarietyArg {
    Suite,
    Soak,
}

/// One sample of the gateway.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    rss_mib: f64,
    peak_mib: f64,
}

#[allow(clippy::print_stdout)]
pub(crate) async fn soak(args: SoakArgs) -> Result<(), AnyError> {
    let sim = billing_sim::spawn(campaign::sim_config()).await?;
    let mut server_args = vec!["--sim-url".to_owned(), sim.base_url()];
    if let Some(rps) = args.upstream_rps {
        server_args.extend(["--upstream-rps".to_owned(), rps.to_string()]);
    }
    if let Some(rps) = args.caller_rps {
        server_args.extend(["--caller-rps".to_owned(), rps.to_string()]);
    }
    if args.reference_executor {
        server_args.push("--reference-executor".to_owned());
    }
    let mut server = Server::start("serve-campaign", &server_args).await?;
    let url = format!("http://{}/graphql", server.addr);
    let metrics_url = format!("http://{}/metrics", server.addr);
    let client = load::client();
    let variety = match args.variety {
        VarietyArg::Suite => Variety::SUITE,
        VarietyArg::Soak => Variety::SOAK,
    };
    let campaign = Arc::new(Campaign::new(sim.dataset(), sim.now(), variety)?);
    let duration = Duration::from_secs_f64(args.minutes.max(0.0) * 60.0);
    let every = Duration::from_secs(args.sample_secs.max(1));
    let rates = campaign::fault_rates();
    let defaults = campaign::gateway_config("");
    let rate = |rps: u32, per: &str| if rps == 0 { "none".to_owned() } else { format!("{rps}/s per {per}") };
    println!(
        "billing-bench soak: {:.1} min, {} clients, 4 tenants; upstream faults {:.0} % 500, {:.0} % 429 \
         (Retry-After {} s), {:.0} % stalls of {} s; gateway upstream timeout {} ms, request timeout {} s, \
         cache on ({} MiB), upstream rate limit {}, caller rate limit {}, {} executor; {} cores",
        args.minutes,
        args.clients,
        rates.server_error * 100.0,
        rates.too_many_requests * 100.0,
        rates.retry_after.as_secs(),
        rates.timeout * 100.0,
        rates.stall.as_secs(),
        campaign::UPSTREAM_TIMEOUT_MS,
        campaign::REQUEST_TIMEOUT_SECS,
        defaults.cache_max_mib,
        rate(args.upstream_rps.unwrap_or(defaults.upstream_rps), "upstream"),
        rate(args.caller_rps.unwrap_or(defaults.caller_rps), "caller"),
        if args.reference_executor { "reference (async-graphql)" } else { "planned" },
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!();
    // Evictions for size tell a cache still filling (none yet) from one at its bound.
    println!("| t s | RSS MiB | peak MiB | requests | req/s | gateway CPU % | cache evictions (size) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");

    let progress = Arc::new(Progress::default());
    let started = Instant::now();
    let mut run = tokio::spawn(campaign::run(
        campaign,
        client.clone(),
        url,
        args.clients,
        Stop::At(started + duration),
        progress.clone(),
    ));
    let mut samples: Vec<Sample> = Vec::new();
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let mut previous = (Duration::ZERO, 0_u64, server.cpu());
    let report = loop {
        tokio::select! {
            finished = &mut run => break finished?,
            _ = ticks.tick() => {
                let memory = server.memory();
                let evictions = size_evictions(&client, &metrics_url).await;
                let (at, requests, cpu) = (started.elapsed(), progress.requests.load(Ordering::Relaxed), server.cpu());
                let span = (at - previous.0).as_secs_f64().max(1e-9);
                let sample = Sample {
                    at,
                    rss_mib: memory.rss as f64 / MIB,
                    peak_mib: memory.peak as f64 / MIB,
                };
                println!(
                    "| {:.0} | {:.1} | {:.1} | {} | {:.0} | {:.0} | {} |",
                    at.as_secs_f64(),
                    sample.rss_mib,
                    sample.peak_mib,
                    requests,
                    (requests - previous.1) as f64 / span,
                    cpu.saturating_sub(previous.2).as_secs_f64() / span * 100.0,
                    evictions.map_or_else(|| "?".to_owned(), |n| n.to_string())
                );
                samples.push(sample);
                previous = (at, requests, cpu);
            }
        }
    };
    let elapsed = started.elapsed();

    // After the load: the process is alive, answers its health check, and printed no panic.
    let health =
        load::client().get(format!("http://{}/healthz", server.addr)).send().await.map(|r| r.status().as_u16());
    let alive = server.is_running();
    let panics = server.panics();
    let stats = sim.stats();
    let answered: u64 = stats.by_status().values().sum();
    let status = |s: u16| stats.by_status().get(&s).copied().unwrap_or(0);
    server.stop().await;
    sim.shutdown().await;

    println!();
    println!("{}", report.summary());
    println!(
        "throughput: {} requests in {:.0} s, {:.1} req/s; upstream: {} calls, {} answered 500, {} answered 429, \
         {} never answered (stalls the gateway gave up on)",
        report.requests,
        elapsed.as_secs_f64(),
        report.requests as f64 / elapsed.as_secs_f64().max(1e-9),
        stats.total(),
        status(500),
        status(429),
        stats.total().saturating_sub(answered)
    );
    for example in &report.examples {
        println!("  - {example}");
    }

    let checks = [
        (format!("the gateway process is alive after the load: {alive}"), alive),
        (format!("/healthz answers 200 after the load: {health:?}"), matches!(health, Ok(200))),
        (format!("panics printed by the gateway: {panics}"), panics == 0),
        (
            format!(
                "hangs (no answer within {} s): {}; transport errors: {}",
                campaign::answer_bound().as_secs(),
                report.hangs,
                report.transport_errors
            ),
            report.hangs == 0 && report.transport_errors == 0,
        ),
        (format!("cross-tenant answers: {}", report.cross_tenant), report.cross_tenant == 0),
        (format!("answers breaking another rule: {}", report.wrong), report.wrong == 0),
        flatness(&samples, &args),
    ];
    println!();
    println!("Verdict:");
    let mut ok = true;
    for (what, met) in &checks {
        println!("- [{}] {what}", if *met { "met" } else { "NOT met" });
        ok &= met;
    }
    if ok { Ok(()) } else { Err("the soak broke a rule (see the verdict above)".into()) }
}

/// Whether RSS stayed flat: the median of the last third of the samples after the warm-up
/// within the tolerance of the median of the first third.
fn flatness(samples: &[Sample], args: &SoakArgs) -> (String, bool) {
    let settled: Vec<&Sample> = samples.iter().filter(|s| s.at >= Duration::from_secs(args.warmup_secs)).collect();
    let third = settled.len() / 3;
    if third == 0 {
        return (format!("RSS flat: too few samples after the {} s warm-up to tell", args.warmup_secs), false);
    }
    let first = median(settled[..third].iter().map(|s| s.rss_mib)).unwrap_or(0.0);
    let last = median(settled[settled.len() - third..].iter().map(|s| s.rss_mib)).unwrap_or(0.0);
    let change = (last / first.max(1e-9) - 1.0) * 100.0;
    let all = settled.iter().map(|s| s.rss_mib);
    let (low, high) = all.fold((f64::INFINITY, 0.0_f64), |(l, h), r| (l.min(r), h.max(r)));
    (
        format!(
            "RSS flat after {} s: median {first:.1} MiB over the first third of the samples, {last:.1} MiB over the \
             last ({change:+.1} %, within ±{} %); range {low:.1}–{high:.1} MiB over {} samples",
            args.warmup_secs,
            args.tolerance_pct,
            settled.len()
        ),
        change.abs() <= args.tolerance_pct,
    )
}

/// The response cache's evictions for size so far, from the gateway's `/metrics`.
async fn size_evictions(client: &reqwest::Client, url: &str) -> Option<u64> {
    let text = client.get(url).send().await.ok()?.text().await.ok()?;
    text.lines()
        .filter(|l| l.starts_with("billing_cache_evictions_total") && l.contains("cause=\"size\""))
        .filter_map(|l| l.rsplit_once(' ')?.1.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .reduce(|a, b| a + b)
        .or(Some(0))
}
