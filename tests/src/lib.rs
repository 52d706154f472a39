//! Test harness: a real PostgreSQL database per test and the real app on a free port.
