//! End-to-end tests of the gateway over real sockets: a simulator and a gateway on ephemeral
//! ports, in process, driven with an HTTP client.

#[path = "../support/mod.rs"]
mod support;

mod credentials;
mod http_surface;
mod readme_queries;
mod shutdown;
