//! Store microbenchmarks (placeholder while being written).
fn main() {}
