//! The Billing Graph GraphQL schema, framework-free: resolvers, per-request DataLoaders and a
//! credential-keyed response cache over `billing-http`.
//!
//! ```no_run
//! # async fn run(upstreams: billing_graphql::Upstreams) {
//! use billing_graphql::{BillingGraph, Credentials, SchemaConfig};
//!
//! let graph = BillingGraph::new(upstreams, SchemaConfig::default());
//! let creds = Credentials::none().with_elastic_header(Some("ApiKey my-key"));
//! let response = graph.execute("{ organization(id: \"42\") { costs { total } } }", creds).await;
//! # }
//! ```
//!
//! Mount it in any server: turn the HTTP request into an `async_graphql::Request`, read the
//! caller's credentials from its headers, and call [`BillingGraph::execute`] (or
//! [`BillingGraph::prepare`] and execute on [`BillingGraph::schema`] yourself).

mod answer;
mod bounds;
mod cache;
mod config;
mod context;
mod cost;
mod error;
mod flight;
mod loaders;
mod plan;
mod response_shape;
pub mod schema;
mod shared;
mod upstream;

use std::sync::Arc;

use async_graphql::parser::types::OperationType;
use async_graphql::{EmptyMutation, EmptySubscription, Schema, ServerError};
use chrono::Utc;

pub use answer::{Answer, AnswerKind, AnswerStream, Reply};
pub use cache::{Fingerprint, Fingerprinter, UpstreamCache};
pub use config::{CacheConfig, InsightsConfig, Limits, SchemaConfig};
pub use context::{Credential, Credentials, Upstreams};
pub use cost::{ASSUMED_LIST_SIZE, Actual, CostReport, Estimate, ListSize, SizeSource, Tally};
pub use error::{GraphError, codes};
pub use flight::CallerId;
pub use schema::{BillingSchema, Query};
pub use shared::{Shared, SharedConfig, SharedError, codec as shared_codec};

use context::{RequestState, Services};

/// The schema and what it runs on: clients, cache, limits. Cheap to clone.
#[derive(Clone)]
pub struct BillingGraph {
    schema: BillingSchema,
    /// The same schema, which only validates: the planned executor's way to have a document
    /// checked by async-graphql's rules without async-graphql running it.
    validator: BillingSchema,
    services: Arc<Services>,
    flights: Arc<flight::Flights<async_graphql::Response>>,
    answers: Arc<flight::Flights<Answer>>,
    field_types: Arc<response_shape::FieldTypes>,
    /// Requests the planned executor has answered.
    planned: Arc<std::sync::atomic::AtomicU64>,
    /// Validated plans of repeated documents.
    plans: Arc<plan::PlanCache>,
    /// Whole answers of complete responses, for repeats.
    answer_cache: answer::AnswerCache,
}

impl std::fmt::Debug for BillingGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillingGraph").field("services", &self.services).finish_non_exhaustive()
    }
}

impl BillingGraph {
    /// Builds the schema over `upstreams`.
    pub fn new(upstreams: Upstreams, config: SchemaConfig) -> Self {
        Self::with_shared(upstreams, config, Fingerprinter::default(), None)
    }

    /// Builds the schema over `upstreams`, deriving credential fingerprints with `fingerprinter`
    /// and, with `shared`, keeping upstream answers in it too, behind this process's cache, for
    /// the other replicas (whose fingerprinter must have the same key: [`Fingerprinter::from_secret`]).
    /// The upstream clients' transport should take `shared` as its
    /// [`SharedLimit`](billing_http::SharedLimit) for the replicas to share a rate budget.
    pub fn with_shared(
        upstreams: Upstreams,
        config: SchemaConfig,
        fingerprinter: Fingerprinter,
        shared: Option<Shared>,
    ) -> Self {
        let services = Arc::new(Services {
            upstreams,
            cache: UpstreamCache::new(config.cache.clone()).with_shared(shared),
            fingerprinter,
            callers: context::CallerSlots::new(config.limits.caller_concurrency),
            config: config.clone(),
            sizes: cost::Sizes::default(),
            windows: plan::Windows::default(),
        });
        let schema = build_schema(&config);
        let validator = builder(&config).extension(validate::ValidateOnly).finish();
        let field_types = Arc::new(response_shape::FieldTypes::of::<Query>());
        BillingGraph {
            schema,
            validator,
            services,
            flights: Arc::default(),
            answers: Arc::default(),
            field_types,
            planned: Arc::default(),
            plans: Arc::new(plan::PlanCache::new(config.plan_cache_fields)),
            answer_cache: answer::AnswerCache::new(&config.cache),
        }
    }

    /// The async-graphql schema (for SDL export, or to execute prepared requests).
    pub fn schema(&self) -> &BillingSchema {
        &self.schema
    }

    /// The response cache shared by all requests.
    pub fn cache(&self) -> &UpstreamCache {
        &self.services.cache
    }

    /// Attaches a request's state: the caller's credentials, a clock reading, an upstream call
    /// budget, and fresh DataLoaders; and gives variables the request leaves out their default
    /// values. Every request must go through this (or [`execute`](Self::execute)).
    ///
    /// Prefer [`execute`](Self::execute): it also applies the alias limit and shapes the
    /// response as the GraphQL spec says (query order, failed fields null), which a prepared
    /// request executed on [`schema`](Self::schema) does without.
    pub fn prepare(
        &self,
        request: impl Into<async_graphql::Request>,
        credentials: Credentials,
    ) -> async_graphql::Request {
        self.prepare_with_state(request.into(), credentials, self.now()).0
    }

    /// Prepares a request for execution at `now`: the instant its estimate was made at, so
    /// both name the same month-to-date and finality.
    fn prepare_with_state(
        &self,
        mut request: async_graphql::Request,
        credentials: Credentials,
        now: chrono::DateTime<Utc>,
    ) -> (async_graphql::Request, Arc<RequestState>) {
        fill_variable_defaults(&mut request);
        let state = Arc::new(RequestState::new(self.services.clone(), credentials, now));
        let request = loaders::attach(request, &state);
        (schema::attach_usage(request, &state), state)
    }

    /// The FOCUS rows of an organization over `[from, to)` (RFC 3339; each defaults as the
    /// `focus` field's), one charge period at a time, for a streamed export. The arguments are
    /// checked here; each [`FocusExport::next_period`] makes that period's one upstream call,
    /// through the response cache and within one request's budget.
    pub fn focus_export(
        &self,
        credentials: Credentials,
        organization: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<FocusExport, GraphError> {
        let org = billing_model::OrganizationId::parse(organization)
            .map_err(|e| GraphError::BadInput(format!("organization: {e}")))?;
        let now = self.now();
        let range = billing_model::DateRange::parse(from, to, now)?;
        let periods = schema::focus::periods(&range)?;
        let state = Arc::new(RequestState::new(self.services.clone(), credentials, now));
        Ok(FocusExport { state, org, periods: periods.into() })
    }

    /// The request clock: [`SchemaConfig::now`] if fixed, else the system's.
    fn now(&self) -> chrono::DateTime<Utc> {
        self.services.config.now.unwrap_or_else(Utc::now)
    }

    /// Empties both caches: upstream answers and whole responses.
    pub fn clear_caches(&self) {
        self.services.cache.clear();
        self.answer_cache.clear();
    }

    /// Executions that shared their answer with identical concurrent requests are counted once:
    /// the number of single-flight executions started (0 while the cache is off, when every
    /// request executes on its own).
    pub fn executions_started(&self) -> u64 {
        self.flights.started() + self.answers.started()
    }

    /// Requests the planned executor has answered (the others took async-graphql's path).
    pub fn planned_executions(&self) -> u64 {
        self.planned.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Plans compiled so far: the planned executions that a plan kept for a repeated document
    /// (same document, operation and variables, validated once) did not serve.
    pub fn plans_compiled(&self) -> u64 {
        self.plans.compiled()
    }

    /// Who a caller is, for keeping callers apart (a rate limit per caller, say): derived from
    /// the identities of its credentials with the cache's fingerprint key, never the secrets.
    pub fn caller_id(&self, credentials: &Credentials) -> CallerId {
        flight::caller(credentials, &self.services.fingerprinter)
    }

    /// Shared executions running now. One whose callers have all gone is stopped and no longer
    /// counts.
    pub fn executions_in_flight(&self) -> usize {
        self.flights.in_flight() + self.answers.in_flight()
    }

    /// Executes a request with the caller's credentials.
    ///
    /// With the cache on, identical requests in flight at once (same document, operation name,
    /// variables and credential identities) share one execution, and each gets its answer.
    pub async fn execute(
        &self,
        request: impl Into<async_graphql::Request>,
        credentials: Credentials,
    ) -> async_graphql::Response {
        let request = request.into();
        if !self.services.config.cache.enabled {
            return billing_http::with_deadline(self.calls_deadline(), self.run(request, credentials)).await;
        }
        let key = flight::key(&request, &credentials, &self.services.fingerprinter);
        let graph = self.clone();
        let start = move || {
            Box::pin(async move {
                billing_http::with_deadline(graph.calls_deadline(), graph.run(request, credentials)).await
            }) as futures::future::BoxFuture<'static, _>
        };
        let shared = self.flights.run(key, self.services.config.limits.execution_timeout, start).await;
        // A request that shared with nobody owns the answer; the others get a copy.
        Arc::try_unwrap(shared).unwrap_or_else(|shared| flight::copy(&shared))
    }

    /// Executes a request and answers the response as JSON bytes, ready to send: the way a
    /// server should call the schema.
    ///
    /// Documents the planned executor covers (the cost views of organizations, deployments and
    /// charts) are validated by async-graphql and then written straight from the upstream
    /// answers, without a response tree; the others take [`execute`](Self::execute)'s path.
    /// Both give the same bytes. Identical requests in flight at once share one execution, as
    /// with `execute`.
    ///
    /// The answer carries `extensions.cost`: the upstream calls estimated before it ran (with
    /// the cache as it was, and cold) and those it made. A document whose estimate is over the
    /// budget of upstream calls is refused before any call with `COST_ESTIMATED_TOO_EXPENSIVE`.
    pub async fn execute_json(&self, request: impl Into<async_graphql::Request>, credentials: Credentials) -> Answer {
        self.execute_json_with(request, credentials, CostOptions::default()).await
    }

    /// [`execute_json`](Self::execute_json) with the cost options: a dry run answers the
    /// estimate alone without executing; `report: false` leaves `extensions.cost` out.
    pub async fn execute_json_with(
        &self,
        request: impl Into<async_graphql::Request>,
        credentials: Credentials,
        options: CostOptions,
    ) -> Answer {
        let request = request.into();
        if !options.dry_run {
            return self.answer(request, credentials, options.report).await;
        }
        let answer = self.dry_run(request, credentials).await;
        if options.report { answer.reported() } else { answer }
    }

    /// The estimate of a request, validated, without executing it: no upstream call.
    async fn dry_run(&self, mut request: async_graphql::Request, credentials: Credentials) -> Answer {
        if let Err(error) = self.ensure_checked(&mut request) {
            return Answer::request_errors(&[error]);
        }
        fill_variable_defaults(&mut request);
        let estimate = self.estimate(&mut request, &credentials, self.now()).await;
        let report = CostReport { estimated: estimate, actual: cost::Actual::default() };
        let validation = self.validator.execute(request).await;
        if !validate::passed(&validation) {
            let mut refused = validation;
            add_request_error_codes(&mut refused);
            return Answer::request_errors(&refused.errors).with_cost(report);
        }
        Answer::new(&b"{}"[..], AnswerKind::DryRun).with_cost(report)
    }

    /// The estimate of a checked request whose variable defaults are filled.
    async fn estimate(
        &self,
        request: &mut async_graphql::Request,
        credentials: &Credentials,
        now: chrono::DateTime<Utc>,
    ) -> Estimate {
        let operation_name = request.operation_name.clone();
        let variables = std::mem::take(&mut request.variables);
        let estimate = match request.parsed_query() {
            Ok(doc) => {
                cost::estimate(&self.services, doc, operation_name.as_deref(), &variables, credentials, now).await
            }
            Err(_) => Estimate { limit: self.services.config.limits.upstream_calls, ..Estimate::default() },
        };
        request.variables = variables;
        estimate
    }

    /// The errors refusing a request whose estimate is over its budget: validation's, if the
    /// document is not valid (the spec's order), else `COST_ESTIMATED_TOO_EXPENSIVE`.
    async fn too_expensive(&self, request: async_graphql::Request, estimate: &Estimate) -> Vec<ServerError> {
        let validation = self.validator.execute(request).await;
        if !validate::passed(&validation) {
            let mut refused = validation;
            add_request_error_codes(&mut refused);
            return refused.errors;
        }
        metrics::counter!("billing_cost_refusals_total").increment(1);
        vec![cost::too_expensive(estimate)]
    }

    /// The answer kept whole for this very request (document, operation name, variables and
    /// caller), if the cache holds one, as [`execute_json_with`](Self::execute_json_with)
    /// would answer it; nothing is parsed or checked, so a server can look here first: only
    /// the complete answer of a query that ran is kept. `None` for a dry run or with the cache
    /// off. A miss is remembered in the request, which then is not looked up again.
    pub async fn kept_answer(
        &self,
        request: &mut async_graphql::Request,
        credentials: &Credentials,
        options: CostOptions,
    ) -> Option<Answer> {
        if options.dry_run || !self.services.config.cache.enabled {
            return None;
        }
        let key = flight::key(request, credentials, &self.services.fingerprinter);
        let kept = self.answer_cache.get(&key, options.report).await;
        if kept.is_none() {
            request.data.insert(LookedUp(key));
        }
        kept
    }

    /// The answer of a request, shared with identical ones in flight or kept whole, with its
    /// cost report, in its body too when `report`.
    async fn answer(&self, request: async_graphql::Request, credentials: Credentials, report: bool) -> Answer {
        let reported = |answer: Answer| if report { answer.reported() } else { answer };
        if !self.services.config.cache.enabled {
            let run = self.run_json(request, credentials);
            return reported(billing_http::with_deadline(self.calls_deadline(), run).await.0);
        }
        let key = flight::key(&request, &credentials, &self.services.fingerprinter);
        let looked_up =
            request.data.get(&std::any::TypeId::of::<LookedUp>()).and_then(|d| d.downcast_ref::<LookedUp>());
        // Not looked up (nor counted) again if the server looked this very request up a moment
        // ago ([`kept_answer`](Self::kept_answer)); the key is made afresh, so a request or
        // credentials changed since are looked up under their own.
        if looked_up.is_none_or(|LookedUp(earlier)| *earlier != key)
            && let Some(answer) = self.answer_cache.get(&key, report).await
        {
            return answer;
        }
        let graph = self.clone();
        let start = move || {
            Box::pin(async move {
                let run = graph.run_json(request, credentials);
                let (answer, closed) = billing_http::with_deadline(graph.calls_deadline(), run).await;
                graph.answer_cache.put(key, &answer, closed).await;
                answer
            }) as futures::future::BoxFuture<'static, _>
        };
        let shared = self.answers.run(key, self.services.config.limits.execution_timeout, start).await;
        reported(Arc::unwrap_or_clone(shared))
    }

    /// When the upstream calls of an execution starting now must end: a tenth of the execution's
    /// time before it does, so a call that would outlive the request fails alone (a timeout on
    /// its field, the rest of the answer kept) and the answer is still written in time.
    fn calls_deadline(&self) -> std::time::Instant {
        let time = self.services.config.limits.execution_timeout;
        std::time::Instant::now() + time.saturating_sub(time / 10)
    }

    /// Runs a request on the planned executor when it covers it, else on async-graphql's path;
    /// the answer, and whether every range its upstream answers cover is closed.
    async fn run_json(&self, request: async_graphql::Request, credentials: Credentials) -> (Answer, bool) {
        match self.start(request, credentials).await {
            Started::Answered(answer, closed) => (answer, closed),
            Started::Planned(ready) => {
                let mut sink = plan::Sink::buffer();
                let has_errors = plan::execute(&ready.plan, &ready.state, &mut sink).await;
                sink.send(b"}".to_vec()).await;
                let report = ready.report();
                (Answer::new(sink.into_buffer(), answer::kind(has_errors)).with_cost(report), ready.state.all_closed())
            }
        }
    }

    /// Takes a request as far as it goes before the planned executor writes anything: checked,
    /// priced, compiled and validated, ready to run; or answered already (refused, or run on
    /// async-graphql's path), with whether every range it covers is closed.
    async fn start(&self, mut request: async_graphql::Request, credentials: Credentials) -> Started {
        if let Err(error) = self.ensure_checked(&mut request) {
            return Started::Answered(Answer::request_errors(&[error]), false);
        }
        fill_variable_defaults(&mut request);
        let now = self.now();
        // Priced the same way on either path, so both report the same bytes.
        let estimate = self.estimate(&mut request, &credentials, now).await;
        if estimate.calls > estimate.limit && self.services.config.limits.enforce_estimate {
            let errors = self.too_expensive(request, &estimate).await;
            let report = CostReport { estimated: estimate, actual: cost::Actual::default() };
            return Started::Answered(Answer::request_errors(&errors).with_cost(report), false);
        }
        let unrun = |estimate: Estimate| CostReport { estimated: estimate, actual: cost::Actual::default() };
        if self.services.config.planned {
            let key = plan::PlanCache::key(&request);
            if let Some(plan) = self.plans.get(&key) {
                // Validated when it was kept: the same document, operation and variables.
                let state = RequestState::new(self.services.clone(), credentials, now);
                self.planned.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Started::Planned(Box::new(Ready { plan, state, estimate }));
            }
            let operation_name = request.operation_name.clone();
            let variables = std::mem::take(&mut request.variables);
            let compiled = match request.parsed_query() {
                Ok(doc) => self.plans.compile(doc, operation_name.as_deref(), &variables, now),
                Err(_) => None,
            };
            request.variables = variables;
            if let Some(compiled) = compiled {
                let missing = missing_variable(&mut request);
                let validation = self.validator.execute(request).await;
                if !validate::passed(&validation) {
                    let mut refused = validation;
                    add_request_error_codes(&mut refused);
                    return Started::Answered(
                        Answer::request_errors(&refused.errors).with_cost(unrun(estimate)),
                        false,
                    );
                }
                if let Some(error) = missing {
                    return Started::Answered(Answer::request_errors(&[error]).with_cost(unrun(estimate)), false);
                }
                let plan = self.plans.insert(key, compiled);
                let state = RequestState::new(self.services.clone(), credentials, now);
                self.planned.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Started::Planned(Box::new(Ready { plan, state, estimate }));
            }
        }
        let (response, state) = self.run_with_state(request, credentials, now).await;
        let actual = state.as_ref().map(|s| s.meter.actual());
        let report = CostReport { estimated: estimate, actual: actual.clone().unwrap_or_default() };
        // Only an execution's calls are worth a histogram sample.
        if actual.is_some() {
            report.record();
        }
        Started::Answered(Answer::from_response(&response).with_cost(report), state.is_some_and(|s| s.all_closed()))
    }

    /// [`execute_json_with`](Self::execute_json_with), with the response sent as it is written
    /// where that is possible, so a large answer is never held whole: a planned execution with
    /// the cache off (with it on, the answer is shared with identical requests and kept whole
    /// for repeats, so it is held anyway). The bytes are the same either way.
    ///
    /// The stream is the execution: it runs as the reader reads (a reader that stops reading
    /// holds it back; one that drops the stream cancels it), under the current span.
    pub async fn respond(
        &self,
        request: impl Into<async_graphql::Request>,
        credentials: Credentials,
        options: CostOptions,
    ) -> Reply {
        if options.dry_run || self.services.config.cache.enabled {
            return Reply::Whole(self.execute_json_with(request, credentials, options).await);
        }
        let deadline = self.calls_deadline();
        match billing_http::with_deadline(deadline, self.start(request.into(), credentials)).await {
            Started::Answered(answer, _) => Reply::Whole(if options.report { answer.reported() } else { answer }),
            Started::Planned(ready) => {
                let (tx, rx) = tokio::sync::mpsc::channel(1);
                let run = async move {
                    let mut sink = plan::Sink::channel(tx);
                    let has_errors =
                        billing_http::with_deadline(deadline, plan::execute(&ready.plan, &ready.state, &mut sink))
                            .await;
                    let report = ready.report();
                    sink.send(if options.report { answer::cost_member(&report) } else { b"}".to_vec() }).await;
                    answer::kind(has_errors)
                };
                Reply::Streamed(AnswerStream::new(tracing::Instrument::in_current_span(run), rx))
            }
        }
    }

    /// Checks a request's document before anything runs, and parses it once (the request keeps
    /// the parse for execution): token and nesting limits on the text, then fragment cycles, the
    /// size and nesting the document would have with its fragments expanded (counted without
    /// expanding them), and aliases. Linear in the document's length; no upstream is called.
    ///
    /// Gives the type of the operation the request would run, when the document names it, so a
    /// server can refuse, say, a mutation sent by `GET` without parsing again. The error is a
    /// request error with an `extensions.code` ([`codes`]). [`execute`](Self::execute) checks
    /// by itself; call this only to look at the operation first.
    pub fn check(&self, request: &mut async_graphql::Request) -> Result<Option<OperationType>, ServerError> {
        let limits = self.document_limits();
        bounds::check_text(&request.query, &limits)?;
        let operation_name = request.operation_name.clone();
        let doc = request.parsed_query().map_err(|e| bounds::error(codes::GRAPHQL_PARSE_FAILED, e.message))?;
        bounds::check(doc, &limits)?;
        let ty = response_shape::operation(doc, operation_name.as_deref()).map(|op| op.node.ty);
        request.data.insert(Checked);
        Ok(ty)
    }

    /// [`check`](Self::check), unless the request passed it already (a server that looked at
    /// the operation first): each request is scanned and bounded once.
    fn ensure_checked(&self, request: &mut async_graphql::Request) -> Result<(), ServerError> {
        if request.data.contains_key(&std::any::TypeId::of::<Checked>()) {
            return Ok(());
        }
        self.check(request).map(drop)
    }

    fn document_limits(&self) -> bounds::DocumentLimits {
        let limits = &self.services.config.limits;
        bounds::DocumentLimits {
            tokens: limits.tokens,
            nesting: limits.nesting,
            selections: limits.expanded_fields,
            aliases: limits.aliases,
        }
    }

    /// Checks the document, executes, and shapes the response.
    ///
    /// The checks and the response pass run here rather than as async-graphql extensions: any
    /// extension makes async-graphql wrap the resolution of every field.
    /// The response carries `extensions.cost`, as [`execute_json`](Self::execute_json)'s do.
    async fn run(&self, mut request: async_graphql::Request, credentials: Credentials) -> async_graphql::Response {
        if let Err(error) = self.ensure_checked(&mut request) {
            return async_graphql::Response::from_errors(vec![error]);
        }
        fill_variable_defaults(&mut request);
        let now = self.now();
        let estimate = self.estimate(&mut request, &credentials, now).await;
        let (mut response, actual) = if estimate.calls > estimate.limit && self.services.config.limits.enforce_estimate
        {
            (async_graphql::Response::from_errors(self.too_expensive(request, &estimate).await), None)
        } else {
            let (response, state) = self.run_with_state(request, credentials, now).await;
            (response, state.map(|s| s.meter.actual()))
        };
        let report = CostReport { estimated: estimate, actual: actual.clone().unwrap_or_default() };
        if actual.is_some() {
            report.record();
        }
        if let Ok(value) = async_graphql::to_value(&report) {
            response.extensions.insert("cost".to_owned(), value);
        }
        response
    }

    /// Executes a checked and priced request, and gives its state when it got as far as
    /// executing.
    async fn run_with_state(
        &self,
        mut request: async_graphql::Request,
        credentials: Credentials,
        now: chrono::DateTime<Utc>,
    ) -> (async_graphql::Response, Option<Arc<RequestState>>) {
        if let Err(error) = self.ensure_checked(&mut request) {
            return (async_graphql::Response::from_errors(vec![error]), None);
        }
        // The check parsed it: this is the request's own parse, kept for execution.
        let doc = match request.parsed_query() {
            Ok(doc) => doc.clone(),
            Err(error) => return (async_graphql::Response::from_errors(vec![error]), None),
        };
        let operation_name = request.operation_name.clone();
        if let Some(error) = missing_variable(&mut request) {
            // Validation comes first, as the spec orders them: validate alone, then refuse.
            let mut validation = self.validator.execute(request).await;
            if validate::passed(&validation) {
                return (async_graphql::Response::from_errors(vec![error]), None);
            }
            add_request_error_codes(&mut validation);
            return (validation, None);
        }
        let (prepared, state) = self.prepare_with_state(request, credentials, now);
        let mut response = self.schema.execute(prepared).await;
        if refused_before_execution(&response) {
            // Validation failed: nothing ran, and no pass of ours walks an invalid document.
            add_request_error_codes(&mut response);
            return (response, None);
        }
        add_field_error_codes(&mut response);
        response_shape::shape(&mut response, &doc, operation_name.as_deref(), &self.field_types);
        response_shape::sort_errors(&mut response);
        (response, Some(state))
    }
}

/// How [`BillingGraph::execute_json_with`] treats a request's cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CostOptions {
    /// Answer the estimate alone (validated), without executing: no upstream call is made.
    pub dry_run: bool,
    /// Add `extensions.cost` to the answer's body (on by default).
    pub report: bool,
}

impl Default for CostOptions {
    fn default() -> Self {
        CostOptions { dry_run: false, report: true }
    }
}

/// How far [`BillingGraph::start`] took a request.
enum Started {
    /// Answered already: refused, or run on async-graphql's path; and whether every range its
    /// answers cover is closed.
    Answered(Answer, bool),
    /// Ready for the planned executor (boxed: a plan and a request's state are large).
    Planned(Box<Ready>),
}

/// A planned execution that passed every check, ready to write.
struct Ready {
    plan: Arc<plan::Plan>,
    state: RequestState,
    estimate: Estimate,
}

impl Ready {
    /// The cost report once it has run (and a histogram sample of its calls).
    fn report(&self) -> CostReport {
        let report = CostReport { estimated: self.estimate.clone(), actual: self.state.meter.actual() };
        report.record();
        report
    }
}

/// Marks a request that passed [`BillingGraph::check`].
struct Checked;

/// A request looked up among the kept answers and not found: the key it was looked up under.
struct LookedUp([u8; 32]);

/// Whether async-graphql refused the request before executing it: no data, and only errors
/// without a path (parse, validation and limits; a resolver's error always has one).
pub(crate) fn refused_before_execution(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// The error for an operation whose required variable has no value and no default, if it has
/// one. async-graphql notices one only where a field argument reads it, so one that only
/// `@skip`/`@include` read would pass as false. Variables are coerced after validation (the
/// spec's order), so this is reported only for a valid document.
fn missing_variable(request: &mut async_graphql::Request) -> Option<ServerError> {
    let operation_name = request.operation_name.clone();
    let variables = std::mem::take(&mut request.variables);
    let error = request.parsed_query().ok().and_then(|doc| {
        let op = response_shape::operation(doc, operation_name.as_deref())?;
        required_variables(op, &variables).err()
    });
    request.variables = variables;
    error
}

fn required_variables(
    op: &async_graphql::Positioned<async_graphql::parser::types::OperationDefinition>,
    variables: &async_graphql::Variables,
) -> Result<(), ServerError> {
    for definition in &op.node.variable_definitions {
        let d = &definition.node;
        let name = &d.name.node;
        let given = variables.get(name).filter(|v| **v != async_graphql::Value::Null);
        if !d.var_type.node.nullable && given.is_none() && d.default_value().is_none() {
            return Err(bounds::error(
                codes::BAD_USER_INPUT,
                format!("variable \"${name}\" of required type \"{}\" was not provided", d.var_type.node),
            ));
        }
    }
    Ok(())
}

/// Gives the errors async-graphql raises while executing a stable code, as every error must
/// have: its own, about an argument or variable that does not coerce to its type, are the
/// caller's; any other error without a code is a fault of ours.
fn add_field_error_codes(response: &mut async_graphql::Response) {
    add_codes(response, |m| {
        let caller = m.starts_with("Failed to parse")
            || m.starts_with("Invalid value for argument")
            || m.starts_with("Expected input type")
            || m.contains("argument");
        if caller { codes::BAD_USER_INPUT } else { codes::INTERNAL }
    });
}

/// Gives async-graphql's own request errors a stable code, as every error must have. It has
/// none of its own, so the two limit messages are recognized by their text (pinned by a test).
fn add_request_error_codes(response: &mut async_graphql::Response) {
    add_codes(response, |m| match m {
        "Query is too complex." => codes::QUERY_TOO_COMPLEX,
        "Query is nested too deep." => codes::QUERY_TOO_DEEP,
        m if m.starts_with("The recursion depth of the query") => codes::QUERY_TOO_COMPLEX,
        _ => codes::GRAPHQL_VALIDATION_FAILED,
    });
}

/// Sets `code(message)` on every error that has no code yet.
fn add_codes(response: &mut async_graphql::Response, code: impl Fn(&str) -> &'static str) {
    for error in &mut response.errors {
        let ext = error.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", code(&error.message));
        }
    }
}

/// Gives each variable the request leaves out its default value. async-graphql reads defaults
/// for arguments, but evaluates `@skip(if: $v)` and `@include(if: $v)` on the request's
/// variables alone, so a left-out `$v` with a default of `true` did not skip. The document is
/// parsed once: the request keeps it for execution.
fn fill_variable_defaults(request: &mut async_graphql::Request) {
    let operation_name = request.operation_name.clone();
    let Ok(doc) = request.parsed_query() else { return };
    let Some(op) = response_shape::operation(doc, operation_name.as_deref()) else { return };
    let defaults: Vec<_> = op
        .node
        .variable_definitions
        .iter()
        .filter_map(|d| Some((d.node.name.node.clone(), d.node.default_value()?.clone())))
        .collect();
    for (name, default) in defaults {
        request.variables.entry(name).or_insert(default);
    }
}

/// Builds the schema with the configured limits. It holds no per-request or per-user data:
/// loaders and credentials are attached to each request by [`BillingGraph::prepare`].
pub fn build_schema(config: &SchemaConfig) -> BillingSchema {
    builder(config).finish()
}

fn builder(config: &SchemaConfig) -> async_graphql::SchemaBuilder<Query, EmptyMutation, EmptySubscription> {
    let limits = &config.limits;
    let mut builder = Schema::build(Query::default(), EmptyMutation, EmptySubscription)
        .limit_depth(limits.depth)
        .limit_complexity(limits.complexity)
        .limit_recursive_depth(limits.nesting)
        .disable_suggestions();
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    builder
}

/// Validation alone: an extension that, once async-graphql's rules pass, stops the request
/// before it runs, with a marker the caller recognizes.
mod validate {
    use std::sync::Arc;

    use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation};
    use async_graphql::{ServerError, ValidationResult};

    const PASSED: &str = "billing-graph: the document is valid";

    pub(crate) struct ValidateOnly;

    impl ExtensionFactory for ValidateOnly {
        fn create(&self) -> Arc<dyn Extension> {
            Arc::new(ValidateOnly)
        }
    }

    #[async_graphql::async_trait::async_trait]
    impl Extension for ValidateOnly {
        async fn validation(
            &self,
            ctx: &ExtensionContext<'_>,
            next: NextValidation<'_>,
        ) -> Result<ValidationResult, Vec<ServerError>> {
            next.run(ctx).await?;
            Err(vec![ServerError::new(PASSED, None)])
        }
    }

    /// Whether the validator's answer says the document passed.
    pub(crate) fn passed(response: &async_graphql::Response) -> bool {
        matches!(response.errors.as_slice(), [e] if e.message == PASSED)
    }
}

/// The SDL of the schema, as `schema.graphql` holds it.
pub fn sdl() -> String {
    build_schema(&SchemaConfig::default()).sdl()
}

/// A FOCUS export in progress: the charge periods left, each fetched when asked for.
#[derive(Debug)]
pub struct FocusExport {
    state: Arc<RequestState>,
    org: billing_model::OrganizationId,
    periods: std::collections::VecDeque<billing_model::DateRange>,
}

impl FocusExport {
    /// The next charge period's rows; `None` once every period was served.
    pub async fn next_period(&mut self) -> Option<Result<Vec<billing_insights::focus::FocusRow>, GraphError>> {
        let period = self.periods.pop_front()?;
        Some(schema::focus::period_rows(&self.state, &self.org, &period).await)
    }
}
