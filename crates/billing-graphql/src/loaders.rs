//! Per-request DataLoaders, one per upstream query type.
//!
//! `dataloader`'s loader holds its state lock while a batch runs, so a batch must not issue its
//! calls one after another: each batch starts every call at once and the transport's concurrency
//! limit paces them. Loaders live in the request's data, never in the schema's, so they are
//! never shared across requests or callers; each also keys by the query's arguments, and the
//! cache below them keys by credential.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::Context;
use dataloader::BatchFn;
use dataloader::cached::Loader;
use tracing::Instrument;

use crate::context::RequestState;
use crate::error::{GraphError, Result};
use crate::upstream::{self, UpstreamCall};

type Answer<Q> = Result<Arc<<Q as UpstreamCall>::Output>, GraphError>;

/// The batch function of a query type: every key of a batch fetched concurrently.
pub(crate) struct Batch<Q> {
    state: Arc<RequestState>,
    _q: std::marker::PhantomData<fn() -> Q>,
}

impl<Q: UpstreamCall> BatchFn<Q, Answer<Q>> for Batch<Q> {
    async fn load(&mut self, keys: &[Q]) -> HashMap<Q, Answer<Q>> {
        let state = &self.state;
        let answers =
            futures::future::join_all(keys.iter().map(|k| async move { (k.clone(), upstream::fetch(state, k).await) }));
        let span = tracing::debug_span!(
            "loader_batch",
            upstream = Q::ENDPOINT.upstream.as_str(),
            endpoint = Q::ENDPOINT.template,
            keys = keys.len(),
        );
        answers.instrument(span).await.into_iter().collect()
    }
}

/// The loader of one query type.
pub(crate) struct QueryLoader<Q: UpstreamCall>(Loader<Q, Answer<Q>, Batch<Q>>);

impl<Q: UpstreamCall> QueryLoader<Q> {
    pub(crate) fn new(state: Arc<RequestState>) -> Self {
        // A few yields gather the keys resolvers register in the same execution wave.
        QueryLoader(
            Loader::new(Batch { state, _q: std::marker::PhantomData }).with_yield_count(8).with_max_batch_size(1000),
        )
    }
}

/// Adds a loader of every query type to a request.
pub(crate) fn attach(request: async_graphql::Request, state: &Arc<RequestState>) -> async_graphql::Request {
    use crate::upstream::*;
    request
        .data(QueryLoader::<V1Overview>::new(state.clone()))
        .data(QueryLoader::<V1Charts>::new(state.clone()))
        .data(QueryLoader::<V1Deployments>::new(state.clone()))
        .data(QueryLoader::<V1DeploymentCharts>::new(state.clone()))
        .data(QueryLoader::<V1DeploymentItems>::new(state.clone()))
        .data(QueryLoader::<V1Items>::new(state.clone()))
        .data(QueryLoader::<V2Instances>::new(state.clone()))
        .data(QueryLoader::<V2InstanceItems>::new(state.clone()))
        .data(QueryLoader::<V2Items>::new(state.clone()))
        .data(QueryLoader::<V2Charts>::new(state.clone()))
        .data(QueryLoader::<V2InstanceCharts>::new(state.clone()))
        .data(QueryLoader::<UsagePageQuery>::new(state.clone()))
        .data(state.clone())
}

/// Loads one query through the request's loader of its type.
pub(crate) async fn load<Q: UpstreamCall>(ctx: &Context<'_>, q: Q) -> Result<Arc<Q::Output>> {
    let loader = ctx.data_unchecked::<QueryLoader<Q>>();
    // Every key gets an answer from `Batch::load`, so `try_load` cannot miss; map it anyway.
    loader.0.try_load(q).await.unwrap_or(Err(GraphError::Internal("a loader lost a key")))
}

/// The request's state.
pub(crate) fn state<'a>(ctx: &'a Context<'_>) -> &'a Arc<RequestState> {
    ctx.data_unchecked::<Arc<RequestState>>()
}
