//! The behaviour checks written in Rust: what a YAML scenario cannot say (many real threads
//! committing against one store for a while, payloads past a scenario file's size and nesting
//! limits), run by `conformance_suite!` beside the scenarios as `conformance_checks::<name>`. The table is here so
//! the macro (which generates one test per row) and the engine (which runs them) read one list.

/// One behaviour check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BehaviourCheck {
    /// The generated test's name, and the engine's function.
    pub name: &'static str,
    /// What it checks, in one line.
    pub summary: &'static str,
    /// The capabilities a store must declare for the check to run.
    pub requires: &'static [&'static str],
    /// Whether the check starts from a migrated store (else from the factory's fresh one).
    pub migrated: bool,
}

const fn check(name: &'static str, summary: &'static str) -> BehaviourCheck {
    BehaviourCheck {
        name,
        summary,
        requires: &[],
        migrated: true,
    }
}

/// Every behaviour check, in the order a reader would take them.
pub const BEHAVIOUR_CHECKS: &[BehaviourCheck] = &[
    check(
        "racing_writers_lose_no_commit",
        "threads committing at once for a while lose no write, event or audit entry, and keep each one's commit order",
    ),
    check(
        "payloads_beyond_a_scenario_file",
        "payloads larger, deeper and wider than a scenario file may hold come back exactly as written",
    ),
];
