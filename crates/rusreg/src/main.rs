//! The rusreg binary.
fn main() {}
