//! `billing-gateway`: parse the configuration, start, print a banner, serve until SIGTERM.

use std::process::ExitCode;

use billing_gateway::{Config, Gateway, serve, shutdown_signal, telemetry};

/// mimalloc: under a long load glibc's per-thread arenas kept freed memory, and RSS crept up while
/// the heap stayed bounded; mimalloc returns it (BENCHMARKS.md, "Fault and load soak").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Before the runtime's threads start.
    billing_gateway::allocator::return_freed_memory_at_once();
    run()
}

#[tokio::main]
async fn run() -> ExitCode {
    let config = Config::from_env();
    if config.print_schema {
        #[allow(clippy::print_stdout)]
        {
            print!("{}", billing_graphql::sdl());
        }
        return ExitCode::SUCCESS;
    }
    // Traces only when a collector is named: otherwise no layer, no propagation, no export.
    let traces = match telemetry::Traces::from_config(&config) {
        Ok(traces) => traces,
        Err(e) => {
            telemetry::init_logging(config.log_format);
            tracing::error!(error = %e, source = ?std::error::Error::source(&e).map(ToString::to_string), "could not start");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(config.log_format, traces.as_ref());
    let listen = config.listen;
    let gateway = match Gateway::build(config).await {
        Ok(g) => g,
        Err(e) => {
            tracing::error!(error = %e, source = ?std::error::Error::source(&e).map(ToString::to_string), "could not start");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, %listen, "could not listen");
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().unwrap_or(listen);
    banner(&gateway, addr);
    let served = serve(listener, gateway.router(), shutdown_signal()).await;
    if let Some(traces) = traces {
        traces.shutdown().await;
    }
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server error");
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stdout)]
fn banner(gateway: &Gateway, addr: std::net::SocketAddr) {
    println!();
    println!("  Billing Graph is listening on http://{addr}");
    for (name, path) in gateway.pages() {
        println!("  {:<10} http://{addr}{path}", format!("{name}:"));
    }
    println!("  GraphQL:   http://{addr}/graphql   health: /healthz /readyz   metrics: /metrics");
    if let Some(demo) = gateway.demo() {
        println!();
        println!("  Running on the embedded simulator ({}).", demo.simulator_url);
        println!("  Demo organization id: {}", demo.organization_id);
        println!("  Demo credentials are applied automatically: paste a query into GraphiQL and run it.");
        println!("  Point it at the real services with --elastic-v1-url/--elastic-v2-url/--talkdesk-url (see --help).");
    }
    println!();
}
