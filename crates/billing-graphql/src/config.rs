//! What the schema can be tuned with: cache, limits, upstream call budget.

use std::time::Duration;

/// The response cache across requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// Off: every request calls the upstreams (loaders still dedupe within a request).
    pub enabled: bool,
    /// How long an answer about a range that includes the present is kept.
    pub ttl: Duration,
    /// How long an answer about a range wholly in the past (ended over a day ago) is kept:
    /// billing data for closed days no longer changes.
    pub closed_ttl: Duration,
    /// At most this many entries.
    pub max_entries: u64,
    /// At most this many bytes of answers (as serialized JSON).
    pub max_bytes: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            enabled: true,
            ttl: Duration::from_secs(60),
            closed_ttl: Duration::from_secs(3600),
            max_entries: 10_000,
            max_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Limits applied before any upstream call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Maximum selection depth.
    pub depth: usize,
    /// Maximum complexity, with list fields costed by their expected size.
    pub complexity: usize,
    /// Maximum number of aliases in a document.
    pub aliases: usize,
    /// Maximum lexical tokens in a document, counted before it is parsed.
    pub tokens: usize,
    /// Maximum nesting: of brackets in the text, and of selection sets, inline fragments and
    /// fragment spreads once fragments are expanded.
    pub nesting: usize,
    /// Maximum fields in a document once its fragments are expanded, over every operation and
    /// fragment definition (counted without expanding).
    pub expanded_fields: usize,
    /// Time for one execution shared by identical requests: past it, it stops and its callers
    /// get `REQUEST_TIMEOUT`. (A request that runs alone stops when its caller drops it.)
    pub execution_timeout: Duration,
    /// Upstream calls one caller (one credential) may have in flight at once, per upstream, so
    /// that a heavy caller leaves room for the others (0: no per-caller share).
    pub caller_concurrency: usize,
    /// Maximum upstream calls one request may make (cache hits are free).
    pub upstream_calls: u32,
    /// Whether a request whose estimated upstream calls are over `upstream_calls` is refused
    /// before it runs (`COST_ESTIMATED_TOO_EXPENSIVE`); off, the estimate is only measured and
    /// reported, and the budget is held while the request runs, as it always is.
    pub enforce_estimate: bool,
    /// Whether introspection queries are answered.
    pub introspection: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            depth: 12,
            complexity: 20_000,
            aliases: 30,
            tokens: 10_000,
            nesting: 32,
            expanded_fields: 2_000,
            execution_timeout: Duration::from_secs(30),
            caller_concurrency: 8,
            upstream_calls: 200,
            enforce_estimate: true,
            introspection: true,
        }
    }
}

/// Everything `build_schema` needs besides the clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaConfig {
    pub cache: CacheConfig,
    pub limits: Limits,
    /// Whether `BillingGraph::execute_json` runs the documents it covers on the planned
    /// executor (on by default); off, every document takes async-graphql's path, the reference.
    pub planned: bool,
    /// How much the validated plans kept for repeated documents may weigh in all: a plan
    /// weighs one per field, one for its root and one per 64 bytes of its document and
    /// variables (0: none kept, every request compiled and validated afresh). A dashboard's
    /// query weighs some forty.
    pub plan_cache_fields: u64,
    /// The analytics fields' settings (FOCUS currency, anomaly window, tolerances).
    pub insights: InsightsConfig,
    /// A fixed "now" for deterministic tests and examples (beside a simulator on a fixed clock);
    /// `None` (the default) reads the system clock for every request. Month to date, the
    /// forecast's "today" and the anomalies' default range all follow it.
    pub now: Option<chrono::DateTime<chrono::Utc>>,
}

/// The analytics fields' settings.
#[derive(Debug, Clone, PartialEq)]
pub struct InsightsConfig {
    /// How ECU becomes the FOCUS `BillingCurrency` (default 1 ECU = 1 USD).
    pub ecu: billing_insights::focus::EcuConversion,
    /// Previous days an anomaly's baseline is taken over (N).
    pub anomaly_window: usize,
    /// How far v1 and v2 may disagree before reconciliation flags it.
    pub tolerance: billing_insights::reconcile::Tolerance,
}

impl Default for InsightsConfig {
    fn default() -> Self {
        InsightsConfig {
            ecu: billing_insights::focus::EcuConversion::default(),
            anomaly_window: billing_insights::anomaly::AnomalyConfig::default().window,
            tolerance: billing_insights::reconcile::Tolerance::default(),
        }
    }
}

// Every float in it is checked finite where it is set (`EcuConversion::new`, the gateway's flags).
impl Eq for InsightsConfig {}

impl Default for SchemaConfig {
    fn default() -> Self {
        SchemaConfig {
            cache: CacheConfig::default(),
            limits: Limits::default(),
            planned: true,
            plan_cache_fields: 50_000,
            insights: InsightsConfig::default(),
            now: None,
        }
    }
}
