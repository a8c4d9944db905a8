//! The request builder every endpoint method returns: optional parameters, then `.send()`.
//!
//! The options an endpoint takes are fixed by its marker type, so `.bucketing(...)` exists only
//! where the upstream reads `bucketing_strategy`. [`Request::query_string`] shows exactly what
//! would be sent, so a unit test can pin a request without HTTP.

use std::marker::PhantomData;

use billing_model::{Bucketing, DateRange, InstanceTypeFilter, ServerlessGroupBy};
use serde::de::DeserializeOwned;
use url::Url;

use crate::endpoint::Endpoint;
use crate::error::{Error, ErrorKind};
use crate::transport::{Call, Transport};

/// A request ready to send, with the options its endpoint allows.
#[must_use = "a request does nothing until it is sent"]
pub struct Request<'a, T, O> {
    transport: &'a Transport,
    call: Call,
    /// Why the request cannot be sent (an id no path can carry), reported by `send`.
    refused: Option<&'static str>,
    query: Vec<(&'static str, String)>,
    _marker: PhantomData<fn() -> (T, O)>,
}

impl<T, O> std::fmt::Debug for Request<'_, T, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL path carries ids, never a credential; the Authorization header is left out.
        f.debug_struct("Request").field("endpoint", &self.call.endpoint).field("query", &self.query).finish()
    }
}

impl<'a, T: DeserializeOwned, O> Request<'a, T, O> {
    pub(crate) fn new(transport: &'a Transport, call: Call) -> Self {
        Request { transport, call, refused: None, query: Vec::new(), _marker: PhantomData }
    }

    /// A request whose path could not be built: `send` fails with a build error, sending nothing.
    pub(crate) fn refused(transport: &'a Transport, call: Call, why: &'static str) -> Self {
        Request { refused: Some(why), ..Request::new(transport, call) }
    }

    fn set(mut self, key: &'static str, value: String) -> Self {
        self.query.retain(|(k, _)| *k != key);
        self.query.push((key, value));
        self
    }

    pub(crate) fn with_range(self, range: DateRange) -> Self {
        self.set("from", range.from_param()).set("to", range.to_param())
    }

    /// The query string this request sends, e.g. `from=...&to=...&bucketing_strategy=daily`.
    pub fn query_string(&self) -> String {
        self.url().query().unwrap_or_default().to_owned()
    }

    /// The endpoint this request calls.
    pub fn endpoint(&self) -> Endpoint {
        self.call.endpoint
    }

    fn url(&self) -> Url {
        let mut url = self.call.url.clone();
        if !self.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &self.query {
                pairs.append_pair(k, v);
            }
        }
        url
    }

    /// Sends the request and decodes the answer.
    pub async fn send(self) -> Result<T, Error> {
        if let Some(why) = self.refused {
            return Err(Error::new(ErrorKind::Build, self.call.endpoint).with_message(why));
        }
        let call = Call { url: self.url(), ..self.call };
        self.transport.send(&call).await
    }
}

/// Markers for what each endpoint accepts.
pub mod options {
    /// v1 endpoints: an optional range.
    #[derive(Debug)]
    pub enum V1 {}
    /// v1 charts: an optional range and bucketing.
    #[derive(Debug)]
    pub enum V1Charts {}
    /// v2 `/costs/instances`: `include_names`.
    #[derive(Debug)]
    pub enum V2Instances {}
    /// v2 `/costs/instances/{id}/items`: nothing beyond the range.
    #[derive(Debug)]
    pub enum V2InstanceItems {}
    /// v2 `/costs/items`: `serverless_group_by`.
    #[derive(Debug)]
    pub enum V2Items {}
    /// v2 charts: bucketing and `instance_type`.
    #[derive(Debug)]
    pub enum V2Charts {}

    /// Endpoints whose range is optional (v1's); v2 takes it as an argument instead.
    pub trait OptionalRange: sealed::Sealed {}
    impl OptionalRange for V1 {}
    impl OptionalRange for V1Charts {}

    mod sealed {
        pub trait Sealed {}
        impl Sealed for super::V1 {}
        impl Sealed for super::V1Charts {}
    }
}

use options::*;

impl<T: DeserializeOwned, O: OptionalRange> Request<'_, T, O> {
    /// `from` and `to`; without it the upstream uses the current month to date.
    pub fn range(self, range: DateRange) -> Self {
        self.with_range(range)
    }

    /// [`range`](Self::range) when given; the upstream's default otherwise.
    pub fn range_opt(self, range: Option<DateRange>) -> Self {
        match range {
            Some(r) => self.with_range(r),
            None => self,
        }
    }
}

impl<T: DeserializeOwned> Request<'_, T, V1Charts> {
    /// `bucketing_strategy`, always sent lowercase (the spec's default is spelled `Daily`).
    pub fn bucketing(self, bucketing: Bucketing) -> Self {
        self.set("bucketing_strategy", bucketing.as_str().to_owned())
    }
}

impl<T: DeserializeOwned> Request<'_, T, V2Instances> {
    /// `include_names`: resolve serverless project names through the control plane.
    pub fn include_names(self, include: bool) -> Self {
        self.set("include_names", include.to_string())
    }
}

impl<T: DeserializeOwned> Request<'_, T, V2Items> {
    /// `serverless_group_by`: `product` or `product_family`.
    pub fn serverless_group_by(self, group_by: ServerlessGroupBy) -> Self {
        self.set("serverless_group_by", group_by.as_str().to_owned())
    }
}

impl<T: DeserializeOwned> Request<'_, T, V2Charts> {
    /// `bucketing_strategy`.
    pub fn bucketing(self, bucketing: Bucketing) -> Self {
        self.set("bucketing_strategy", bucketing.as_str().to_owned())
    }

    /// `instance_type`: `all`, `deployments` or `projects`.
    pub fn instance_type(self, instance_type: InstanceTypeFilter) -> Self {
        self.set("instance_type", instance_type.as_str().to_owned())
    }
}

#[cfg(test)]
impl<T: DeserializeOwned, O> Request<'_, T, O> {
    pub(crate) fn call_url_for_test(&self) -> String {
        self.url().to_string()
    }
}
