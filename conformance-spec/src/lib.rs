//! The user-engine conformance spec: YAML scenarios, canonical snapshots, and the model,
//! loader and validator that turn them into [`Spec`] values.
//!
//! The same code path serves the `conformance_suite!` macro (at compile time), the runner and the
//! command-line `spec lint`: [`load_dir`] reads a spec root, [`parse_scenario`] one file, and
//! [`load_texts`] files already in memory. This crate holds no compiled-in copy of its own
//! files: `embedded()`, in `user-engine-conformance-spec-embedded` (under `embedded/`), does, so
//! that editing a scenario does not rebuild this crate. Every problem comes back as a
//! [`SpecError`] located at `file:line:col`, all of them at once in [`SpecErrors`].
//!
//! ```
//! use user_engine_conformance_spec::{Expect, Operation, parse_scenario};
//!
//! let yaml = "\
//! id: transactions/rollback_discards_records
//! summary: a rolled-back transaction leaves no record behind
//! clause: store-contract#tx-rollback
//! steps:
//!   - migrate: {}
//!   - begin: tx
//!   - save: {tx: tx, tenant: acme, kind: profile, id: p1}
//!   - rollback: tx
//!   - get: {tenant: acme, kind: profile, id: p1}
//!     expect: absent
//! ";
//! let scenario = parse_scenario(
//!     "rollback.yaml",
//!     "scenarios/transactions/rollback_discards_records.yaml",
//!     yaml,
//! )
//! .unwrap();
//! assert_eq!(scenario.area, "transactions");
//! assert_eq!(scenario.steps[4].expect, Expect::Absent);
//! assert!(matches!(scenario.steps[3].operation, Operation::Rollback { .. }));
//!
//! let typo = yaml.replace("rollback: tx", "rolback: tx");
//! let errors = parse_scenario(
//!     "rollback.yaml",
//!     "scenarios/transactions/rollback_discards_records.yaml",
//!     &typo,
//! )
//! .unwrap_err();
//! assert_eq!(
//!     errors.to_string().lines().next().unwrap(),
//!     "rollback.yaml:8:5: unknown step \"rolback\" (did you mean \"rollback\"?); expected one of: \
//!      migrate, readiness, diagnostics, check_redaction, begin, commit, rollback, drop, panic_in, \
//!      save, delete, get, list, list_user, audit, list_audit, enqueue, outbox_pending, acknowledge, \
//!      tamper_migration, migrate_to, await, deliver, delivered, inject_fault, reopen, concurrently \
//!      (scenario transactions/rollback_discards_records)"
//! );
//! ```

mod arguments;
mod check;
mod checks;
mod error;
mod expect;
mod flow;
mod grammar;
mod limits;
mod lines;
mod load;
mod model;
mod operations;
mod seeds;
mod source;
mod spans;
mod steps;
mod validate;
mod vocabulary;

pub use checks::{BEHAVIOUR_CHECKS, BehaviourCheck};
pub use error::{SpecError, SpecErrors};
pub use grammar::{
    ArgType, Argument, Arguments, Expects, Form, STEPS, StepRule, step_reference, step_rule,
};
pub use limits::{MAX_CONCURRENT_TIMES, MAX_FILE_BYTES, MAX_NESTING_DEPTH, MAX_STEPS};
pub use load::{
    SPEC_ROOT, load_dir, load_dir_as, load_texts, parse_scenario, parse_scenario_with_seeds,
    read_scenario_sources,
};
pub use model::*;
pub use seeds::{MAX_SEED_RECORDS, SEED_KEYS, seed_reference};
pub use vocabulary::{
    CLAUSE_PREFIX, CONCURRENT_OPERATIONS, COUNTER_NAMES, Capability, ERROR_KINDS,
    KNOWN_CAPABILITIES, NOT_READY_REASONS, RECORD_KINDS, SCENARIO_KEYS, STEP_KEYS, STEP_KEYWORDS,
    STORE_CONTRACT, capability_meaning, capability_skip, contract_clauses, did_you_mean,
    env_unset_reason, identifier_problem, skip_reason,
};
