//! End-to-end benchmarks (placeholder while being written).
fn main() {}
