//! `billing-sim`: serves the simulated billing upstreams until Ctrl-C, printing where and with what
//! credentials to reach them.

use std::net::SocketAddr;
use std::time::Duration;

use billing_sim::{FaultRates, Latency, Scale, SimConfig};
use chrono::{DateTime, Utc};
use clap::Parser;

/// A seeded simulator of the Elastic Cloud billing v1/v2 and Talkdesk usage APIs.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000", env = "BILLING_SIM_LISTEN")]
    listen: SocketAddr,
    /// Seed of the dataset and of the random faults.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// A fixed "now" (RFC 3339); the system clock when absent.
    #[arg(long)]
    now: Option<DateTime<Utc>>,
    /// Regular Elastic organizations (at least 2).
    #[arg(long, default_value_t = Scale::default().organizations)]
    organizations: usize,
    /// Deployments per regular organization.
    #[arg(long, default_value_t = Scale::default().deployments_per_org)]
    deployments_per_org: usize,
    /// Deployments of the big organization.
    #[arg(long, default_value_t = Scale::default().big_org_deployments)]
    big_org_deployments: usize,
    /// Months of history.
    #[arg(long, default_value_t = Scale::default().months)]
    months: u32,
    /// Talkdesk accounts per Talkdesk organization.
    #[arg(long, default_value_t = Scale::default().accounts_per_org)]
    accounts_per_org: usize,
    /// Fixed latency, or the minimum of a uniform one with --latency-max-ms.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Maximum of a uniform latency.
    #[arg(long)]
    latency_max_ms: Option<u64>,
    /// Share of requests answered 500.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Share of requests answered 429 with Retry-After.
    #[arg(long, default_value_t = 0.0)]
    throttle_rate: f64,
    /// Share of requests held without an answer.
    #[arg(long, default_value_t = 0.0)]
    timeout_rate: f64,
    /// Share of requests answered with truncated JSON.
    #[arg(long, default_value_t = 0.0)]
    malformed_rate: f64,
    /// Requests per second per credential before 429s.
    #[arg(long)]
    rate_limit: Option<u32>,
    /// Lifetime of the Talkdesk access tokens `POST /oauth/token` issues, in seconds.
    #[arg(long, default_value_t = 600)]
    token_lifetime_secs: u64,
}

impl Args {
    fn config(&self) -> SimConfig {
        let min = Duration::from_millis(self.latency_ms);
        let latency = match self.latency_max_ms.map(Duration::from_millis) {
            Some(max) => Latency::Uniform { min, max },
            None if min.is_zero() => Latency::None,
            None => Latency::Fixed(min),
        };
        SimConfig {
            listen: self.listen,
            seed: self.seed,
            now: self.now,
            scale: Scale {
                organizations: self.organizations,
                deployments_per_org: self.deployments_per_org,
                big_org_deployments: self.big_org_deployments,
                months: self.months,
                accounts_per_org: self.accounts_per_org,
                ..Scale::default()
            },
            latency,
            faults: FaultRates {
                server_error: self.error_rate,
                too_many_requests: self.throttle_rate,
                timeout: self.timeout_rate,
                malformed: self.malformed_rate,
                ..FaultRates::default()
            },
            rate_limit: self.rate_limit,
            token_lifetime: Duration::from_secs(self.token_lifetime_secs.max(1)),
            ..SimConfig::default()
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let args = Args::parse();
    let sim = billing_sim::spawn(args.config()).await?;
    print_banner(&sim);
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}

/// The binary's whole point is to tell a newcomer where to point the gateway.
#[allow(clippy::print_stdout)]
fn print_banner(sim: &billing_sim::SimHandle) {
    let ds = sim.dataset();
    let creds = ds.credentials();
    println!("billing-sim listening on {}", sim.base_url());
    println!("  Elastic v1: {}", sim.elastic_v1_url());
    println!("  Elastic v2: {}", sim.elastic_v2_url());
    println!("  Talkdesk:   {}", sim.talkdesk_url());
    println!("Elastic keys (Authorization: ApiKey <key>):");
    println!("  {}  reads every organization except {}", creds.elastic_demo_key, ds.other_org().id);
    println!("  {}  reads only {}", creds.elastic_other_key, ds.other_org().id);
    for (key, org) in creds.elastic_regular_keys.iter().zip(ds.regular_orgs()) {
        println!("  {key}  reads only {}", org.id);
    }
    println!("Organizations:");
    for org in ds.organizations() {
        println!(
            "  {}  {:<24} {:>4} deployments, {} projects",
            org.id,
            org.name,
            org.deployments.len(),
            org.projects.len()
        );
    }
    println!("Talkdesk tokens (Authorization: Bearer <token>):");
    for org in ds.talkdesk_organizations() {
        let accounts: Vec<&str> = org.accounts.iter().map(|a| a.as_str()).collect();
        println!("  {}  accounts {}", org.token, accounts.join(", "));
    }
    println!("Talkdesk OAuth clients (POST {} with Authorization: Basic base64(id:secret)):", sim.talkdesk_token_url());
    for client in sim.talkdesk_clients() {
        println!("  {}:{}  scopes {}", client.id, client.secret, client.scopes.join(" "));
    }
    println!("Stats: {}/__sim/stats", sim.base_url());
}
