//! The `conformance_suite!` macro.
