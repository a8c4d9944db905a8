//! Elastic Cloud billing payloads: the deprecated-but-live v1 and its v2 successor.

pub mod v1;
pub mod v2;
