//! The user-engine conformance spec: YAML scenarios, canonical snapshots, and the model,
//! loader and validator that turn them into [`Spec`] values.

mod model;

pub use model::*;
