//! The user-engine conformance spec, compiled in: [`embedded`] is every scenario and snapshot of
//! `user-engine-conformance-spec` (the parent folder's `scenarios/` and `snapshots/`), parsed and
//! validated by that crate.
//!
//! The data lives in this small crate of its own so that editing a scenario rebuilds only it and
//! the crates that use the embedded spec (the CLI, the end-to-end tests, the benchmark) — not the
//! spec library, the `conformance_suite!` macro or the engine, none of which depend on it.
//!
//! ```
//! let spec = user_engine_conformance_spec_embedded::embedded().unwrap();
//! assert!(spec.scenarios.iter().any(|s| s.area == "records"));
//! ```

use std::sync::OnceLock;

use user_engine_conformance_spec::{Spec, SpecErrors, load_texts};

/// How the compiled-in files are named in messages: `conformance-spec/scenarios/...`.
const SHOWN_AS: &str = "conformance-spec";

mod compiled {
    //! `SCENARIO_FILES` and `SNAPSHOT_FILES`: `(relative path, text)` pairs written by build.rs.
    include!(concat!(env!("OUT_DIR"), "/embedded_spec.rs"));
}

/// The spec of `user-engine-conformance-spec`, compiled in (build.rs includes every scenario and
/// snapshot file, and reruns when one is added), parsed and validated once.
pub fn embedded() -> Result<&'static Spec, &'static SpecErrors> {
    static SPEC: OnceLock<Result<Spec, SpecErrors>> = OnceLock::new();
    SPEC.get_or_init(|| load_texts(SHOWN_AS, compiled::SCENARIO_FILES, compiled::SNAPSHOT_FILES))
        .as_ref()
}
