//! Clients for Elastic Cloud billing, v1 and v2.

pub(crate) mod v1;
pub(crate) mod v2;
