//! The behaviour checks written in Rust: what a YAML scenario cannot say (real threads racing on
//! one store, panics inside a transaction, canary values searched for in every rendering), run by
//! `conformance_suite!` beside the scenarios as `conformance_checks::<name>`. The table is here so
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
    BehaviourCheck {
        migrated: false,
        ..check(
            "migrate_and_readiness",
            "before migration not ready, work refused, diagnostics answer; migrate applies once",
        )
    },
    check(
        "round_trip",
        "payload, owner and version come back exactly as written; versions grow by one",
    ),
    check(
        "versions_and_conflicts",
        "expectations, deletes and the typed errors they produce",
    ),
    // These two hold transactions open on one thread while another writes the same record,
    // which a store that locks rows cannot serve without waiting on itself.
    BehaviourCheck {
        requires: &["commit_time_conflicts"],
        ..check(
            "refused_writes_change_nothing",
            "a refused write changes nothing, not even at commit",
        )
    },
    BehaviourCheck {
        requires: &["commit_time_conflicts"],
        ..check(
            "concurrent_commits",
            "a guarded write whose record moved fails to commit; unguarded writes keep counting",
        )
    },
    check(
        "rollback_drop_and_panic",
        "rollback, drop and a panic inside a transaction leave nothing; the store keeps serving",
    ),
    check(
        "tenant_isolation_and_pagination",
        "two tenants with identical ids: listings, pages and audit never cross",
    ),
    check(
        "outbox_order_ack_and_redelivery",
        "pending events come in commit order; acknowledged ones never come back",
    ),
    check(
        "audit_in_commit_order",
        "audit entries commit with their transaction and list in commit order, per tenant",
    ),
    BehaviourCheck {
        requires: &["migration_tamper"],
        ..check(
            "drift",
            "a tampered applied migration: readiness says drift, migrate and work are refused",
        )
    },
    check(
        "nothing_leaks",
        "canary values never reach Debug, Display, diagnostics or errors",
    ),
    BehaviourCheck {
        requires: &["fault_injection"],
        ..check(
            "a_fault_at_every_change_leaves_nothing",
            "a commit failing before any one of its changes leaves none of them; the fault is used up",
        )
    },
    BehaviourCheck {
        requires: &["fault_injection"],
        ..check(
            "a_fault_is_used_up_by_the_next_commit",
            "an armed fault strikes the next commit only, whatever it holds",
        )
    },
    BehaviourCheck {
        requires: &["durable_reopen", "migration_tamper"],
        ..check(
            "reopen_keeps_committed_work_only",
            "closing and reopening keeps committed work, drops open work, and sees drift",
        )
    },
];
