//! Injected latency and faults: scripted queues for tests, seeded random rates, and a per-credential
//! rate limit. Everything here decides what happens to a request before its handler runs.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use crate::config::{FaultRates, Latency, SimConfig};

/// One scripted fault, for [`crate::Sim::push_faults`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status in the endpoint's error shape, with `Retry-After` when given.
    Status { status: u16, retry_after: Option<Duration> },
    /// Hold the request this long, then answer it normally (a timeout, seen from a patient client).
    Stall(Duration),
    /// Answer 200 `application/json` with the real body cut in half.
    Malformed,
    /// Answer normally after this delay.
    Latency(Duration),
}

impl Fault {
    /// A 500 without `Retry-After`.
    pub fn server_error() -> Self {
        Fault::Status { status: 500, retry_after: None }
    }

    /// A 429 with `Retry-After`.
    pub fn too_many_requests(retry_after: Duration) -> Self {
        Fault::Status { status: 429, retry_after: Some(retry_after) }
    }
}

/// What to do with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Waited before anything else.
    pub(crate) delay: Duration,
    pub(crate) action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Run the handler.
    Serve,
    /// Answer this error instead.
    Status { status: u16, retry_after: Option<Duration> },
    /// Wait, then run the handler.
    Stall(Duration),
    /// Run the handler and truncate its body.
    Malformed,
}

/// The fault settings and their mutable state.
#[derive(Debug)]
pub(crate) struct Faults {
    latency: Latency,
    endpoint_latency: BTreeMap<String, Latency>,
    rates: FaultRates,
    endpoint_rates: BTreeMap<String, FaultRates>,
    rate_limit: Option<u32>,
    /// Scripted faults, each for one endpoint template or any (`None`).
    script: VecDeque<(Option<String>, Fault)>,
    windows: HashMap<String, (Instant, u32)>,
    rng: ChaCha8Rng,
}

impl Faults {
    pub(crate) fn new(config: &SimConfig) -> Self {
        Faults {
            latency: config.latency,
            endpoint_latency: config.endpoint_latency.clone(),
            rates: config.faults,
            endpoint_rates: config.endpoint_faults.clone(),
            rate_limit: config.rate_limit,
            script: VecDeque::new(),
            windows: HashMap::new(),
            // A different stream from the dataset's, so adding faults never changes the data.
            rng: ChaCha8Rng::seed_from_u64(config.seed ^ 0xFA17_5EED),
        }
    }

    pub(crate) fn push(&mut self, endpoint: Option<&str>, faults: impl IntoIterator<Item = Fault>) {
        self.script.extend(faults.into_iter().map(|f| (endpoint.map(str::to_owned), f)));
    }

    pub(crate) fn clear_script(&mut self) {
        self.script.clear();
    }

    pub(crate) fn set_latency(&mut self, endpoint: Option<&str>, latency: Latency) {
        match endpoint {
            Some(t) => {
                self.endpoint_latency.insert(t.to_owned(), latency);
            }
            None => {
                self.latency = latency;
                self.endpoint_latency.clear();
            }
        }
    }

    pub(crate) fn set_rates(&mut self, endpoint: Option<&str>, rates: FaultRates) {
        match endpoint {
            Some(t) => {
                self.endpoint_rates.insert(t.to_owned(), rates);
            }
            None => {
                self.rates = rates;
                self.endpoint_rates.clear();
            }
        }
    }

    pub(crate) fn set_rate_limit(&mut self, per_second: Option<u32>) {
        self.rate_limit = per_second;
        self.windows.clear();
    }

    /// Decides the fate of a request: scripted faults first, then the rate limit, then chance.
    pub(crate) fn plan(&mut self, template: &str, credential: Option<&str>) -> Plan {
        let mut delay = match self.endpoint_latency.get(template).copied().unwrap_or(self.latency) {
            Latency::None => Duration::ZERO,
            Latency::Fixed(d) => d,
            Latency::Uniform { min, max } if max > min => min + (max - min).mul_f64(self.rng.random::<f64>()),
            Latency::Uniform { min, .. } => min,
        };

        let scripted = self.script.iter().position(|(t, _)| t.as_deref().is_none_or(|t| t == template));
        if let Some(fault) = scripted.and_then(|i| self.script.remove(i)).map(|(_, f)| f) {
            let action = match fault {
                Fault::Status { status, retry_after } => Action::Status { status, retry_after },
                Fault::Stall(d) => Action::Stall(d),
                Fault::Malformed => Action::Malformed,
                Fault::Latency(d) => {
                    delay += d;
                    Action::Serve
                }
            };
            return Plan { delay, action };
        }

        if let Some(limit) = self.rate_limit {
            let now = Instant::now();
            let window = self.windows.entry(credential.unwrap_or_default().to_owned()).or_insert((now, 0));
            if now.duration_since(window.0) >= Duration::from_secs(1) {
                *window = (now, 0);
            }
            if window.1 >= limit {
                let retry_after = Duration::from_secs(1).saturating_sub(now.duration_since(window.0));
                return Plan { delay, action: Action::Status { status: 429, retry_after: Some(retry_after) } };
            }
            window.1 += 1;
        }

        let rates = self.endpoint_rates.get(template).copied().unwrap_or(self.rates);
        let roll: f64 = self.rng.random();
        let mut cumulative = 0.0;
        let hit = [rates.server_error, rates.too_many_requests, rates.timeout, rates.malformed].iter().position(|r| {
            cumulative += r;
            roll < cumulative
        });
        let action = match hit {
            Some(0) => Action::Status { status: 500, retry_after: None },
            Some(1) => Action::Status { status: 429, retry_after: Some(rates.retry_after) },
            Some(2) => Action::Stall(rates.stall),
            Some(_) => Action::Malformed,
            None => Action::Serve,
        };
        Plan { delay, action }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_faults_come_at_their_rates_and_stalls_last_as_configured() {
        let stall = Duration::from_secs(30);
        let rates = FaultRates {
            server_error: 0.10,
            too_many_requests: 0.05,
            retry_after: Duration::from_secs(2),
            timeout: 0.01,
            stall,
            malformed: 0.0,
        };
        let mut faults = Faults::new(&SimConfig { faults: rates, ..SimConfig::default() });
        let draws = 100_000_u32;
        let (mut errors, mut throttled, mut stalled, mut served) = (0_u32, 0_u32, 0_u32, 0_u32);
        for _ in 0..draws {
            let plan = faults.plan("GET /any", Some("key"));
            assert_eq!(plan.delay, Duration::ZERO);
            match plan.action {
                Action::Status { status: 500, retry_after: None } => errors += 1,
                Action::Status { status: 429, retry_after } => {
                    assert_eq!(retry_after, Some(Duration::from_secs(2)));
                    throttled += 1;
                }
                Action::Stall(held) => {
                    assert_eq!(held, stall);
                    stalled += 1;
                }
                Action::Serve => served += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        let share = |n: u32| f64::from(n) / f64::from(draws);
        // Binomial standard deviations at 100 000 draws are under 0.1 %: these bounds are wide.
        assert!((share(errors) - 0.10).abs() < 0.005, "{errors}");
        assert!((share(throttled) - 0.05).abs() < 0.004, "{throttled}");
        assert!((share(stalled) - 0.01).abs() < 0.002, "{stalled}");
        assert_eq!(errors + throttled + stalled + served, draws);
    }
}
