//! The SQLite adapter's integration tests: one binary, modules by concern.

mod behaviour;
mod conformance;
mod durability;
mod store;
