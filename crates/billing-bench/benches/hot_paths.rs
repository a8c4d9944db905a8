//! Criterion micro-benchmarks of the gateway's hot paths (filled in below).

fn main() {}
