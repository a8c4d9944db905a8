//! The library half of `billing-bench`: the fault and load campaign, shared by the binary's
//! `soak` command and the end-to-end suite (`tests/e2e/campaign.rs`), so both send the same mix
//! and hold the answers to the same rules. The rest of the bench lives in the binary.

pub mod campaign;
