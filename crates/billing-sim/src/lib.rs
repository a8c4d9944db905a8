//! A faithful, seeded simulator of the three billing upstreams: Elastic Cloud billing v1 and v2 and
//! Talkdesk Billing Insights monthly usage, on one origin, quirks included.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = billing_sim::spawn(billing_sim::SimConfig::default()).await?;
//! let org = &sim.dataset().demo_org().id;
//! let key = &sim.dataset().credentials().elastic_demo_key;
//! println!("curl -H 'Authorization: ApiKey {key}' {}/billing/costs/{org}", sim.elastic_v1_url());
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! - Data: [`dataset`] generates organizations, deployments, projects, accounts and usage rows from
//!   a seed; [`usage`] computes every number per (deployment, day), see its range rule.
//! - Behaviour: auth like the real services (Talkdesk's OAuth client-credentials token endpoint
//!   included, with configurable lifetimes and scope checks), errors in each API's own shape,
//!   injectable latency and faults ([`Fault`], [`FaultRates`], [`Latency`]), a per-credential rate
//!   limit.
//! - Observability: [`Stats`] per endpoint template ([`endpoints`]), a request log, and
//!   `GET`/`DELETE /__sim/stats` over HTTP.

/// `?` for handlers that answer `Response`: the value of `Ok`, or the `Err` response returned at once.
macro_rules! answer_or_return {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(response) => return response,
        }
    };
}

mod auth;
mod catalog;
pub mod config;
pub mod dataset;
mod elastic_v1;
mod elastic_v2;
pub mod endpoints;
mod errors;
mod faults;
mod oauth;
mod params;
mod server;
pub mod stats;
mod talkdesk;
pub mod usage;

use std::net::SocketAddr;
use std::ops::Deref;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{FaultRates, Latency, Scale, SimConfig, TalkdeskClient};
pub use dataset::{Credentials, Dataset, Deployment, OrgRole, Organization, Project, Resource, TalkdeskOrganization};
pub use faults::Fault;
pub use server::Sim;
pub use stats::{EndpointStats, LoggedRequest, Stats};

/// The axum app of a simulator, for mounting in-process (`base_url` is where clients reach it).
pub fn router(config: &SimConfig, base_url: impl Into<String>) -> axum::Router {
    Sim::new(config, base_url).router()
}

/// Starts a simulator on `config.listen` (by default `127.0.0.1:0`, an ephemeral port).
pub async fn spawn(config: SimConfig) -> std::io::Result<SimHandle> {
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let sim = Sim::new(&config, format!("http://{addr}"));
    let app = sim.router();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = served.await {
            tracing::warn!(error = %e, "billing simulator stopped");
        }
    });
    tracing::debug!(%addr, "billing simulator listening");
    Ok(SimHandle { sim, addr, stop: Some(stop), task: Some(task) })
}

/// A running simulator. Derefs to [`Sim`] for data, stats and fault controls; stops on drop.
#[derive(Debug)]
pub struct SimHandle {
    sim: Sim,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// The socket it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.sim.base_url().to_owned()
    }

    /// The Elastic v1 base, `{base}/api/v1`.
    pub fn elastic_v1_url(&self) -> String {
        format!("{}/api/v1", self.sim.base_url())
    }

    /// The Elastic v2 base, `{base}/api/v2`.
    pub fn elastic_v2_url(&self) -> String {
        format!("{}/api/v2", self.sim.base_url())
    }

    /// The Talkdesk base (the origin itself: paths start with `/express`).
    pub fn talkdesk_url(&self) -> String {
        self.sim.base_url().to_owned()
    }

    /// The Talkdesk token endpoint, `{base}/oauth/token`.
    pub fn talkdesk_token_url(&self) -> String {
        format!("{}/oauth/token", self.sim.base_url())
    }

    /// The shared simulator state.
    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// Stops accepting connections and waits up to a second for in-flight requests; stalled
    /// requests are then cut off rather than waited for.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(1), &mut task).await.is_err()
        {
            task.abort();
        }
    }
}

impl Deref for SimHandle {
    type Target = Sim;

    fn deref(&self) -> &Sim {
        &self.sim
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Without waiting (drop cannot), abort so held connections do not outlive the handle.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
