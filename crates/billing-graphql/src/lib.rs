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

mod bounds;
mod cache;
mod config;
mod context;
mod error;
mod flight;
mod loaders;
mod ordering;
mod query;
pub mod schema;

use std::sync::Arc;

use async_graphql::parser::types::OperationType;
use async_graphql::{EmptyMutation, EmptySubscription, Schema, ServerError};
use chrono::Utc;

pub use cache::{Fingerprint, Fingerprinter, ResponseCache};
pub use config::{CacheConfig, Limits, SchemaConfig};
pub use context::{Credential, Credentials, Upstreams};
pub use error::{GatewayError, codes};
pub use flight::CallerId;
pub use schema::{BillingSchema, Query};

use context::{RequestState, Services};

/// The schema and what it runs on: clients, cache, limits. Cheap to clone.
#[derive(Clone)]
pub struct BillingGraph {
    schema: BillingSchema,
    services: Arc<Services>,
    flights: Arc<flight::Flights>,
    field_types: Arc<ordering::FieldTypes>,
}

impl std::fmt::Debug for BillingGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillingGraph").field("services", &self.services).finish_non_exhaustive()
    }
}

impl BillingGraph {
    /// Builds the schema over `upstreams`.
    pub fn new(upstreams: Upstreams, config: SchemaConfig) -> Self {
        let services = Arc::new(Services {
            upstreams,
            cache: ResponseCache::new(config.cache.clone()),
            fingerprinter: Fingerprinter::default(),
            callers: context::CallerSlots::new(config.limits.caller_concurrency),
            config: config.clone(),
        });
        let schema = build_schema(&config);
        let field_types = Arc::new(ordering::FieldTypes::from_sdl(&schema.sdl()));
        BillingGraph { schema, services, flights: Arc::default(), field_types }
    }

    /// The async-graphql schema (for SDL export, or to execute prepared requests).
    pub fn schema(&self) -> &BillingSchema {
        &self.schema
    }

    /// The response cache shared by all requests.
    pub fn cache(&self) -> &ResponseCache {
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
        let mut request = request.into();
        fill_variable_defaults(&mut request);
        let state = Arc::new(RequestState::new(self.services.clone(), credentials, Utc::now()));
        let request = loaders::attach(request, &state);
        schema::attach_usage(request, &state)
    }

    /// Executions that shared their answer with identical concurrent requests are counted once:
    /// the number of single-flight executions started (0 while the cache is off, when every
    /// request executes on its own).
    pub fn shared_executions(&self) -> u64 {
        self.flights.started()
    }

    /// Who a caller is, for keeping callers apart (a rate limit per caller, say): derived from
    /// the identities of its credentials with the cache's fingerprint key, never the secrets.
    pub fn caller_id(&self, credentials: &Credentials) -> CallerId {
        flight::caller(credentials, &self.services.fingerprinter)
    }

    /// Shared executions running now. One whose callers have all gone is stopped and no longer
    /// counts.
    pub fn executions_in_flight(&self) -> usize {
        self.flights.in_flight()
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
            return self.run(request, credentials).await;
        }
        let key = flight::key(&request, &credentials, &self.services.fingerprinter);
        let graph = self.clone();
        let start = move || {
            Box::pin(async move { graph.run(request, credentials).await }) as futures::future::BoxFuture<'static, _>
        };
        self.flights.run(key, self.services.config.limits.execution_timeout, start).await
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
        let doc = request
            .parsed_query()
            .map_err(|e| bounds::error(codes::GRAPHQL_PARSE_FAILED, e.message))?;
        bounds::check(doc, &limits)?;
        Ok(ordering::operation(doc, operation_name.as_deref()).map(|op| op.node.ty))
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
    async fn run(&self, mut request: async_graphql::Request, credentials: Credentials) -> async_graphql::Response {
        if let Err(error) = self.check(&mut request) {
            return async_graphql::Response::from_errors(vec![error]);
        }
        // The check parsed it: this is the request's own parse, kept for execution.
        let doc = match request.parsed_query() {
            Ok(doc) => doc.clone(),
            Err(error) => return async_graphql::Response::from_errors(vec![error]),
        };
        let operation_name = request.operation_name.clone();
        let mut response = self.schema.execute(self.prepare(request, credentials)).await;
        if refused_before_execution(&response) {
            // Validation failed: nothing ran, and no pass of ours walks an invalid document.
            add_request_error_codes(&mut response);
            return response;
        }
        ordering::shape(&mut response, &doc, operation_name.as_deref(), &self.field_types);
        response
    }
}

/// Whether async-graphql refused the request before executing it: no data, and only errors
/// without a path (parse, validation and limits; a resolver's error always has one).
fn refused_before_execution(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// Gives async-graphql's own request errors a stable code, as every error must have. It has
/// none of its own, so the two limit messages are recognized by their text (pinned by a test).
fn add_request_error_codes(response: &mut async_graphql::Response) {
    for error in &mut response.errors {
        let ext = error.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_some() {
            continue;
        }
        let code = match error.message.as_str() {
            "Query is too complex." => codes::QUERY_TOO_COMPLEX,
            "Query is nested too deep." => codes::QUERY_TOO_DEEP,
            m if m.starts_with("The recursion depth of the query") => codes::QUERY_TOO_COMPLEX,
            _ => codes::GRAPHQL_VALIDATION_FAILED,
        };
        ext.set("code", code);
    }
}

/// Gives each variable the request leaves out its default value. async-graphql reads defaults
/// for arguments, but evaluates `@skip(if: $v)` and `@include(if: $v)` on the request's
/// variables alone, so a left-out `$v` with a default of `true` did not skip. The document is
/// parsed once: the request keeps it for execution.
fn fill_variable_defaults(request: &mut async_graphql::Request) {
    let operation_name = request.operation_name.clone();
    let Ok(doc) = request.parsed_query() else { return };
    let Some(op) = ordering::operation(doc, operation_name.as_deref()) else { return };
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
    let limits = &config.limits;
    let mut builder = Schema::build(Query::default(), EmptyMutation, EmptySubscription)
        .limit_depth(limits.depth)
        .limit_complexity(limits.complexity)
        .limit_recursive_depth(limits.nesting)
        .disable_suggestions();
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The SDL of the schema, as `schema.graphql` holds it.
pub fn sdl() -> String {
    build_schema(&SchemaConfig::default()).sdl()
}
