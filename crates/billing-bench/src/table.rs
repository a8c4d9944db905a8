//! What a run prints: the table's header and rows, and the targets, each met or not.

use std::fmt::Write as _;

use crate::{Cache, Row, RunArgs};

pub(crate) fn print_header(args: &RunArgs) {
    println!(
        "billing-bench: {} s per run, {} clients ({}), upstream concurrency {} per upstream, {} cores",
        args.duration,
        args.concurrency,
        if args.distinct { "each its own document" } else { "one identical document" },
        args.upstream_concurrency,
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!();
    println!(
        "| scenario | deps | upstream ms | server | cache | req/s | p50 ms | p90 ms | p99 ms | upstream calls/req (min) | server CPU ms/req | server CPU % | RSS MiB (peak) | × baseline | p50 / bound |"
    );
    println!("|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
}

pub(crate) fn print_row(r: &Row) {
    let cache = match r.cache {
        None => "-",
        Some(Cache::On) => "on",
        Some(Cache::Off) => "off",
    };
    let mut line = format!(
        "| {} | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} ({}) | {:.2} | {:.0} | {:.1} ({:.1}) |",
        r.scenario,
        r.deployments,
        r.latency_ms,
        r.server,
        cache,
        r.per_second,
        r.p50,
        r.p90,
        r.p99,
        r.calls_per_request,
        r.cost.min_calls,
        r.cpu_ms_per_request,
        r.cpu_share * 100.0,
        r.rss_mib,
        r.peak_mib,
    );
    match r.versus_baseline {
        Some(v) => {
            let _ = write!(line, " {v:.2} |");
        }
        None => line.push_str(" |"),
    }
    if r.latency_ms > 0 && r.bound_ms > 0.0 {
        let _ = write!(
            line,
            " {:.2} (bound {:.0} ms, calls {:.1}/{:.1} ms; nominal {:.2}) |",
            r.p50 / r.bound_ms,
            r.bound_ms,
            r.call.min,
            r.call.mean,
            r.p50 / r.nominal_bound_ms
        );
    } else {
        line.push_str(" |");
    }
    if r.failed > 0 {
        let _ = write!(line, " {} failed", r.failed);
    }
    println!("{line}");
}

/// The median of some figures; `None` when there are none.
pub(crate) fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

pub(crate) fn print_checks(args: &RunArgs, rows: &[Row]) {
    println!();
    println!("Targets:");
    let gateway = |s: &'static str, cache: Cache| {
        rows.iter().filter(move |r| r.server == "gateway" && r.scenario == s && r.cache == Some(cache))
    };
    let check = |name: String, ok: bool| println!("- [{}] {name}", if ok { "met" } else { "NOT met" });
    let exact = |r: &Row| (r.calls_per_request - r.cost.min_calls as f64).abs() < 1e-9;
    let cold: Vec<&Row> = rows.iter().filter(|r| r.server == "gateway" && r.cache == Some(Cache::Off)).collect();
    if !cold.is_empty() {
        check("cold upstream calls per request equal the minimum".to_owned(), cold.iter().all(|r| exact(r)));
    }
    let warm: Vec<&Row> = rows.iter().filter(|r| r.server == "gateway" && r.cache == Some(Cache::On)).collect();
    if !warm.is_empty() {
        check(
            "warm cache: zero upstream calls per request".to_owned(),
            warm.iter().all(|r| r.calls_per_request == 0.0),
        );
    }
    // With --repeat, a figure is the median over the repeats of one scenario and latency.
    let runs = if args.repeat > 1 { format!(", median of {} runs", args.repeat) } else { String::new() };
    let clients = args.concurrency;
    for &latency in args.latency_ms.iter().filter(|&&l| l > 0) {
        for s in ["overview", "dashboard", "charts", "usage"] {
            let at = || gateway(s, Cache::Off).filter(move |r| r.latency_ms == latency);
            let (Some(ratio), Some(nominal)) =
                (median(at().map(|r| r.p50 / r.bound_ms)), median(at().map(|r| r.p50 / r.nominal_bound_ms)))
            else {
                continue;
            };
            check(
                format!(
                    "{s} p50 at {latency} ms, {clients} client(s), cache off: {ratio:.2} × the critical-path bound \
                     at the measured call time (≤ 1.10; {nominal:.2} × at the nominal latency{runs})"
                ),
                ratio <= 1.10,
            );
        }
    }
    for s in ["overview", "dashboard", "charts", "usage"] {
        for &latency in &args.latency_ms {
            let at = || gateway(s, Cache::Off).filter(move |r| r.latency_ms == latency);
            let Some(v) = median(at().filter_map(|r| r.versus_baseline)) else { continue };
            let cpu = median(at().filter_map(|r| r.baseline_cpu_ms.map(|b| r.cpu_ms_per_request / b.max(1e-9))));
            let targeted = latency == 0 && matches!(s, "dashboard" | "charts");
            let line = format!(
                "{s} at {latency} ms, cache off: {v:.2} of the baseline's throughput, {:.2} × its CPU per request \
                 (≥ 0.80 and ≤ 1.30{runs})",
                cpu.unwrap_or(f64::NAN)
            );
            if targeted {
                check(line, v >= 0.8 && cpu.is_some_and(|c| c <= 1.3));
            } else {
                println!("- [info] {line}");
            }
        }
    }
    for s in ["overview", "dashboard", "charts", "usage", "scale"] {
        for &latency in &args.latency_ms {
            let Some(v) =
                median(gateway(s, Cache::On).filter(|r| r.latency_ms == latency).filter_map(|r| r.versus_baseline))
            else {
                continue;
            };
            check(
                format!("{s} at {latency} ms, warm: {v:.1} × the cold baseline's throughput (≥ 10{runs})"),
                v >= 10.0,
            );
        }
    }
    if let Some(cpu) = median(gateway("charts", Cache::On).map(|r| r.cpu_ms_per_request)) {
        check(format!("charts warm: {cpu:.3} ms of server CPU per request (≤ 1 ms{runs})"), cpu <= 1.0);
    }
    let mut scale: Vec<&Row> = gateway("scale", Cache::Off).filter(|r| r.latency_ms == 0).collect();
    scale.sort_by_key(|r| r.deployments);
    if let Some(largest) = scale.last().map(|r| r.deployments) {
        let peak = scale.iter().filter(|r| r.deployments == largest).map(|r| r.peak_mib).fold(0.0, f64::max);
        check(
            format!("peak RSS at {largest} deployments, {clients} cold requests in flight: {peak:.1} MiB (≤ 128 MiB)"),
            peak <= 128.0,
        );
    }
    let per_deployment = |d: u64| {
        median(scale.iter().filter(|r| r.deployments == d).map(|r| r.cpu_ms_per_request / r.deployments.max(1) as f64))
    };
    let mut sizes: Vec<u64> = scale.iter().map(|r| r.deployments).collect();
    sizes.dedup();
    if sizes.len() >= 2 {
        let per: Vec<(u64, f64)> = sizes.iter().filter_map(|&d| per_deployment(d).map(|c| (d, c))).collect();
        let lo = per.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let hi = per.iter().map(|p| p.1).fold(0.0, f64::max);
        let text: Vec<String> = per.iter().map(|(d, c)| format!("{d}: {:.1} µs", c * 1000.0)).collect();
        let mid = (hi + lo) / 2.0;
        check(
            format!(
                "CPU per deployment flat, cold, 0 ms ({}): within ±{:.0} % of the middle (≤ ±15 %)",
                text.join(", "),
                (hi - mid) / mid.max(1e-9) * 100.0
            ),
            hi - mid <= 0.15 * mid,
        );
    }
}
