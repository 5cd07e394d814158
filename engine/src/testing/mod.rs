//! Test support for adapters: controls that exist so the conformance spec can reach states a
//! healthy store never enters by itself, and fixture plumbing. Not part of the stable API: a
//! store's production behaviour never depends on it.
//!
//! | piece | what it is for |
//! |---|---|
//! | [`ArmedFault`], [`FaultCountdown`] | which change of the next commit an injected fault strikes before (`ConformanceHooks::inject_fault`) |
//! | [`delegate_store!`](crate::delegate_store) | a fixture that owns a store (a temporary file, a throw-away schema) and forwards every call to it |
//! | [`check_shipped_migrations`] | an adapter's packaged copy of its SQL is byte for byte the repository's |
//! | [`scratch`] | names, owners and cleanup of per-test schemas and databases on a server: nothing outlives its run |

mod delegate;
mod faults;
mod packaged;
pub mod scratch;

pub use faults::{ArmedFault, FaultCountdown};
pub use packaged::check_shipped_migrations;
