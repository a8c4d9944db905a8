//! billing-gateway
fn main() {}
