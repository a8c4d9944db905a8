//! billing-sim
