//! Prints an organization's Elastic Cloud costs with `billing-http` alone: its deployments sorted by
//! total cost (name, id, total ECU, hourly rate), then the split of the total by dimension.
//!
//! ```text
//! cargo run -p billing-examples --example costs_report
//! ELASTIC_API_KEY=... cargo run -p billing-examples --example costs_report -- \
//!     --url https://api.elastic-cloud.com/api/v1 --org 3166899605 --from 2025-05-01T00:00:00Z
//! ```
//!
//! Without `--url` it starts the embedded simulator and reads its demo organization with its demo
//! key, so it runs out of the box. The key is read from `ELASTIC_API_KEY` only, never from the
//! command line, where other users of the machine could see it.

#![allow(clippy::print_stdout)]

use billing_http::{ElasticBillingV1, ElasticCredentials, Transport, TransportConfig};
use billing_model::elastic::v1::{CostsOverview, DeploymentsCosts};
use billing_model::{DateRange, OrganizationId};
use chrono::Utc;
use clap::Parser;

/// Prints an organization's Elastic Cloud costs.
#[derive(Debug, Parser)]
struct Args {
    /// Elastic billing v1 base URL, such as https://api.elastic-cloud.com/api/v1. Without it, an
    /// embedded simulator is started.
    #[arg(long)]
    url: Option<String>,
    /// The organization id. Defaults to the simulator's demo organization.
    #[arg(long)]
    org: Option<String>,
    /// Start of the range (RFC 3339). Defaults to the start of the current month.
    #[arg(long)]
    from: Option<String>,
    /// End of the range (RFC 3339). Defaults to now.
    #[arg(long)]
    to: Option<String>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // The error, then each cause once (billing-http's messages never hold the key).
            eprint!("costs_report: {err}");
            let mut source = err.source();
            while let Some(cause) = source {
                eprint!(": {cause}");
                source = cause.source();
            }
            eprintln!();
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), BoxError> {
    let range = DateRange::parse(args.from.as_deref(), args.to.as_deref(), Utc::now())?;

    // Either the real API (URL, organization and key given) or an embedded simulator.
    let (sim, url, org, creds) = match args.url {
        Some(url) => {
            let org = args.org.ok_or("--org is required with --url")?;
            let key =
                std::env::var("ELASTIC_API_KEY").map_err(|_| "set ELASTIC_API_KEY to an Elastic Cloud API key")?;
            (None, url, OrganizationId::new(org), ElasticCredentials::api_key(key)?)
        }
        None => {
            let sim = billing_sim::spawn(billing_sim::SimConfig::default()).await?;
            let ds = sim.dataset();
            let org = args.org.map_or_else(|| ds.demo_org().id.clone(), OrganizationId::new);
            let creds = ElasticCredentials::api_key(&ds.credentials().elastic_demo_key)?;
            println!("(no --url: reading the embedded simulator at {})\n", sim.base_url());
            let url = sim.elastic_v1_url();
            (Some(sim), url, org, creds)
        }
    };

    let v1 = ElasticBillingV1::new(Transport::new(TransportConfig::default())?, &url)?;
    let (overview, deployments) = tokio::try_join!(
        v1.overview(&creds, &org).range(range).send(),
        v1.deployments(&creds, &org).range(range).send(),
    )?;
    print_report(&org, range, &overview, &deployments);

    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    Ok(())
}

fn print_report(org: &OrganizationId, range: DateRange, overview: &CostsOverview, costs: &DeploymentsCosts) {
    println!("Elastic Cloud costs of organization {org}, {} to {}", range.from_param(), range.to_param());
    println!("Total {:.4} ECU, now {:.4} ECU/hour\n", overview.costs.total, overview.hourly_rate);

    let mut deployments: Vec<_> = costs.deployments.iter().collect();
    deployments.sort_by(|a, b| b.costs.total.total_cmp(&a.costs.total).then(a.deployment_name.cmp(&b.deployment_name)));
    let name_width = deployments.iter().map(|d| d.deployment_name.len()).max().unwrap_or(0).max("deployment".len());
    let id_width = deployments.iter().map(|d| d.deployment_id.as_str().len()).max().unwrap_or(0).max("id".len());
    println!("{:>3}  {:<name_width$}  {:<id_width$}  {:>14}  {:>10}", "#", "deployment", "id", "total ECU", "ECU/hour");
    for (i, d) in deployments.iter().enumerate() {
        println!(
            "{:>3}  {:<name_width$}  {:<id_width$}  {:>14.4}  {:>10.4}",
            i + 1,
            d.deployment_name,
            d.deployment_id,
            d.costs.total,
            d.hourly_rate
        );
    }
    let hourly: f64 = deployments.iter().map(|d| d.hourly_rate).sum();
    println!("{:>3}  {:<name_width$}  {:<id_width$}  {:>14.4}  {:>10.4}\n", "", "total", "", costs.total_cost, hourly);

    println!("{:<16}  {:>14}  {:>7}", "dimension", "ECU", "share");
    for dim in &overview.costs.dimensions {
        let share = if overview.costs.total > 0.0 { dim.cost / overview.costs.total * 100.0 } else { 0.0 };
        println!("{:<16}  {:>14.4}  {:>6.2}%", dim.kind.as_str(), dim.cost, share);
    }
    if let Some(balance) = &overview.balance {
        println!("\nPrepaid balance: {:.4} ECU remaining of {:.4} available", balance.remaining, balance.available);
    }
}
