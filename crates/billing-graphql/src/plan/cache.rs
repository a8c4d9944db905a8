//! Plans kept for repeats: a dashboard sends the same few documents with the same variables
//! over and over, and each one's plan (and async-graphql's validation of it) is the same every
//! time, so it is made once and shared.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Compiled, Plan};

/// Validated plans by (document, operation name, variables), bounded by their weight: a plan
/// weighs one for its root, one per field, and one per 64 bytes of the document and variables
/// it came from (which its names and messages may repeat: a long alias is a short plan). A plan
/// is kept only once async-graphql has validated its request, so a hit skips both compiling
/// and validation; a plan that read the clock is never kept.
pub(crate) struct PlanCache {
    inner: Option<moka::sync::Cache<[u8; 32], KeptPlan>>,
    compiled: AtomicU64,
}

/// Where a plan is kept: the hash of its document, operation name and variables, and their
/// size in bytes (part of its weight).
#[derive(Clone, Copy)]
pub(crate) struct PlanKey {
    hash: [u8; 32],
    input: usize,
}

/// A plan kept, and its weight.
#[derive(Clone)]
struct KeptPlan {
    plan: Arc<Plan>,
    weight: u32,
}

impl PlanCache {
    /// A cache of plans weighing at most `max_weight` in all (0: none kept).
    pub(crate) fn new(max_weight: u64) -> Self {
        let inner = (max_weight > 0).then(|| {
            moka::sync::Cache::builder().max_capacity(max_weight).weigher(|_, kept: &KeptPlan| kept.weight).build()
        });
        PlanCache { inner, compiled: AtomicU64::new(0) }
    }

    /// What makes two requests run the same plan: document, operation name, variables. (Not
    /// the caller: a plan holds no answer, and the same document runs the same way for anyone.)
    pub(crate) fn key(request: &async_graphql::Request) -> PlanKey {
        let (hasher, input) = crate::flight::document_key(request);
        PlanKey { hash: *hasher.finalize().as_bytes(), input }
    }

    /// The plan kept for `key`.
    pub(crate) fn get(&self, key: &PlanKey) -> Option<Arc<Plan>> {
        let plan = self.inner.as_ref()?.get(&key.hash).map(|kept| kept.plan);
        metrics::counter!("billing_plan_cache_requests_total", "result" => if plan.is_some() { "hit" } else { "miss" })
            .increment(1);
        plan
    }

    /// [`compile`](super::compile)s, counting it.
    pub(crate) fn compile(
        &self,
        doc: &async_graphql::parser::types::ExecutableDocument,
        operation_name: Option<&str>,
        variables: &async_graphql::Variables,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<Compiled> {
        let compiled = super::compile(doc, operation_name, variables, now)?;
        self.compiled.fetch_add(1, Ordering::Relaxed);
        Some(compiled)
    }

    /// Keeps a freshly compiled plan, whose request passed validation, unless it read the clock;
    /// gives it to run.
    pub(crate) fn insert(&self, key: PlanKey, compiled: Compiled) -> Arc<Plan> {
        let plan = Arc::new(compiled.plan);
        if let Some(cache) = &self.inner
            && !compiled.read_clock
        {
            let weight = compiled.nodes.saturating_add(1).saturating_add(key.input / 64);
            let weight = u32::try_from(weight).unwrap_or(u32::MAX);
            cache.insert(key.hash, KeptPlan { plan: Arc::clone(&plan), weight });
        }
        plan
    }

    /// Plans compiled so far.
    pub(crate) fn compiled(&self) -> u64 {
        self.compiled.load(Ordering::Relaxed)
    }

    /// Plans kept now (moka counts lazily: pending maintenance is run first).
    #[cfg(test)]
    fn kept(&self) -> (u64, u64) {
        self.inner.as_ref().map_or((0, 0), |c| {
            c.run_pending_tasks();
            (c.entry_count(), c.weighted_size())
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use async_graphql::Variables;
    use chrono::{TimeZone, Utc};

    use super::*;

    fn compiled(cache: &PlanCache, query: &str, variables: serde_json::Value) -> Compiled {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        let now = Utc.with_ymd_and_hms(2025, 3, 15, 12, 0, 0).unwrap();
        cache.compile(&doc, None, &Variables::from_json(variables), now).unwrap()
    }

    #[test]
    fn a_plan_is_kept_by_document_operation_and_variables_and_shared() {
        let cache = PlanCache::new(1_000);
        let query = "query($org: ID!) { organization(id: $org) { id costs { total } } }";
        let request = |org: &str| {
            async_graphql::Request::new(query).variables(Variables::from_json(serde_json::json!({"org": org})))
        };
        let key = PlanCache::key(&request("42"));
        let hash = |r: async_graphql::Request| PlanCache::key(&r).hash;
        assert_eq!(key.hash, hash(request("42")));
        assert_ne!(key.hash, hash(request("43")));
        assert_ne!(key.hash, hash(request("42").operation_name("Other")));
        // An empty operation name is refused where none is not: not the same request.
        assert_ne!(key.hash, hash(request("42").operation_name("")));
        assert_eq!(key.input, query.len() + r#"{"org":"42"}"#.len());
        assert!(cache.get(&key).is_none());
        let run = cache.insert(key, compiled(&cache, query, serde_json::json!({"org": "42"})));
        let kept = cache.get(&key).unwrap();
        assert!(Arc::ptr_eq(&run, &kept), "the plan run is the plan kept");
        assert_eq!(cache.compiled(), 1);
        // Four fields (organization, id, costs, total), the root, and 1 per 64 bytes of input.
        assert_eq!(cache.kept(), (1, 5 + 1));
    }

    #[test]
    fn a_plan_that_read_the_clock_is_never_kept() {
        let cache = PlanCache::new(1_000);
        let query = r#"{ organization(id: "42") { costs(from: "2025-03-01T00:00:00Z") { total } } }"#;
        let plan = compiled(&cache, query, serde_json::json!({}));
        assert!(plan.read_clock, "`to` defaults to now");
        let key = PlanCache::key(&async_graphql::Request::new(query));
        cache.insert(key, plan);
        assert!(cache.get(&key).is_none());
        assert_eq!(cache.kept(), (0, 0));
        // Both bounds, or neither (month to date, resolved as the plan runs), read no clock.
        for range in [r#"(from: "2025-03-01T00:00:00Z", to: "2025-03-02T00:00:00Z")"#, ""] {
            let query = format!(r#"{{ organization(id: "42") {{ costs{range} {{ total }} }} }}"#);
            assert!(!compiled(&cache, &query, serde_json::json!({})).read_clock, "{query}");
        }
    }

    #[test]
    fn the_cache_holds_at_most_its_bound_in_weight() {
        let cache = PlanCache::new(100);
        for i in 0..200 {
            let query = format!(r#"{{ organization(id: "{i}") {{ id costs {{ total trials }} }} }}"#);
            let key = PlanCache::key(&async_graphql::Request::new(query.as_str()));
            cache.insert(key, compiled(&cache, &query, serde_json::json!({})));
        }
        let (entries, weight) = cache.kept();
        assert!(weight <= 100, "{weight} kept in {entries} plans");
        assert!(entries > 0);
        assert_eq!(cache.compiled(), 200);
        // A long alias is a short plan, weighed by its bytes: one of 64 KiB weighs over 1,000,
        // more than the whole bound, so it is not kept.
        let query = format!("{{ {}: __typename }}", "a".repeat(64 * 1024));
        let key = PlanCache::key(&async_graphql::Request::new(query.as_str()));
        let heavy = compiled(&cache, &query, serde_json::json!({}));
        assert_eq!(heavy.nodes, 1);
        cache.insert(key, heavy);
        assert!(cache.kept().1 <= 100);
        assert!(cache.get(&key).is_none());
        // Nothing kept at all when the bound is 0.
        let off = PlanCache::new(0);
        let query = r#"{ organization(id: "1") { id } }"#;
        off.insert(PlanCache::key(&async_graphql::Request::new(query)), compiled(&off, query, serde_json::json!({})));
        assert!(off.get(&PlanCache::key(&async_graphql::Request::new(query))).is_none());
    }
}
