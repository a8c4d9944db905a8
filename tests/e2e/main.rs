//! End-to-end tests of the gateway over real sockets: a simulator and a gateway on ephemeral
//! ports, in process, driven with an HTTP client.

// Test helpers fail the test that calls them, as the tests themselves do.
#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod campaign;
mod cost;
mod credentials;
mod fairness;
mod http_surface;
mod oauth;
mod readme_queries;
mod shutdown;
