//! The macro's integration tests: UI tests pinning every compile error, and a real expansion run
//! against the in-memory reference store.

mod expansion;
mod ui;
