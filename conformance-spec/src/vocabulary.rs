//! The words a scenario may use: step keywords, record kinds, error kinds, capabilities, the
//! store contract's clause anchors, and the identifier alphabet.

/// The store contract that every scenario's `clause` points into (`store-contract#ANCHOR`).
pub const STORE_CONTRACT: &str = include_str!("../contract/store-contract.md");

/// The prefix of every `clause` value.
pub const CLAUSE_PREFIX: &str = "store-contract#";

/// Capabilities a scenario may require (`requires: [...]`) or exclude (`excludes: [...]`) and an
/// adapter may declare.
///
/// - `migration_tamper`: the store exposes `ConformanceHooks::tamper_applied_migration`, so a
///   scenario can modify an applied migration and watch the store refuse it.
/// - `commit_time_conflicts`: writers never wait for each other (an optimistic design): a write
///   of a record another open transaction wrote proceeds, and a guard it broke fails the later
///   commit with `conflict` — so two transactions may be open on one thread. A store that locks
///   rows as it writes does not declare it; scenarios that exclude it check that design instead.
/// - `fault_injection`: the store implements `ConformanceHooks::inject_fault` for
///   `commit_fails_at`, so a scenario can fail a commit part-way through.
/// - `durable_reopen`: the store implements `ConformanceHooks::reopen`; committed data survives
///   closing and reopening it.
/// - `backend_termination`: the store implements `ConformanceHooks::inject_fault` for
///   `terminate_backend_at`; its server connection can be killed mid-commit.
/// - `stepwise_migration`: the store implements `ConformanceHooks::migrate_to`, so a scenario can
///   migrate it as an older release would have, then upgrade it.
pub const KNOWN_CAPABILITIES: &[&str] = &[
    "migration_tamper",
    "commit_time_conflicts",
    "fault_injection",
    "durable_reopen",
    "backend_termination",
    "stepwise_migration",
];

/// One line per entry of [`KNOWN_CAPABILITIES`]: what declaring it promises.
pub fn capability_meaning(capability: &str) -> Option<&'static str> {
    match capability {
        "migration_tamper" => {
            Some("the store exposes `ConformanceHooks::tamper_applied_migration`")
        }
        "commit_time_conflicts" => Some(
            "writers never wait for each other: a guard another transaction broke fails the later commit with `conflict`, so two transactions may be open on one thread",
        ),
        "fault_injection" => Some(
            "the store implements `ConformanceHooks::inject_fault` for `commit_fails_at`: a commit can be made to fail just before its K-th change",
        ),
        "durable_reopen" => Some(
            "the store implements `ConformanceHooks::reopen`: committed data survives closing and reopening the store",
        ),
        "backend_termination" => Some(
            "the store implements `ConformanceHooks::inject_fault` for `terminate_backend_at`: its server connection can be killed mid-commit",
        ),
        "stepwise_migration" => Some(
            "the store implements `ConformanceHooks::migrate_to`: it can be migrated to an older schema version, then upgraded",
        ),
        _ => None,
    }
}

/// The anchors of [`STORE_CONTRACT`] (`<a id="NAME"></a>`), in document order.
pub fn contract_clauses() -> Vec<String> {
    anchors(STORE_CONTRACT)
}

pub(crate) fn anchors(markdown: &str) -> Vec<String> {
    const OPEN: &str = "<a id=\"";
    let mut found = Vec::new();
    let mut rest = markdown;
    while let Some(start) = rest.find(OPEN) {
        rest = &rest[start + OPEN.len()..];
        if let Some(end) = rest.find('"') {
            found.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    found
}

/// Every step keyword, in the order the format documentation lists them.
pub const STEP_KEYWORDS: &[&str] = &[
    "migrate",
    "readiness",
    "diagnostics",
    "check_redaction",
    "begin",
    "commit",
    "rollback",
    "drop",
    "panic_in",
    "save",
    "delete",
    "get",
    "list",
    "list_user",
    "audit",
    "list_audit",
    "enqueue",
    "outbox_pending",
    "acknowledge",
    "tamper_migration",
    "migrate_to",
    "await",
    "deliver",
    "delivered",
    "inject_fault",
    "reopen",
    "concurrently",
];

/// Keys a step may have besides its operation.
pub const STEP_KEYS: &[&str] = &["expect", "as", "session", "background"];

/// The operations `concurrently` may run copies of (each in a transaction of its own).
pub const CONCURRENT_OPERATIONS: &[&str] = &[
    "migrate",
    "readiness",
    "save",
    "delete",
    "audit",
    "enqueue",
    "deliver",
];

/// Record kinds a scenario may name.
pub const RECORD_KINDS: &[&str] = &[
    "user",
    "profile",
    "contact_point",
    "auth_factor",
    "consent",
    "preference",
];

/// Error kinds `expect: {error: KIND}` may name.
pub const ERROR_KINDS: &[&str] = &[
    "not_found",
    "conflict",
    "not_ready",
    "unsupported",
    "invalid",
    "unavailable",
    "drift",
    "in_doubt",
];

/// Reasons `expect: {not_ready: REASON}` may name.
pub const NOT_READY_REASONS: &[&str] = &["not_migrated", "behind", "ahead", "drift", "unavailable"];

/// Diagnostics counters `expect: {counts: {...}}` may name, besides `records.<kind>`.
pub const COUNTER_NAMES: &[&str] = &[
    "records",
    "tenants",
    "audit_entries",
    "outbox.pending",
    "outbox.acknowledged",
    "schema_version",
];

/// Named seeds for `given: {seed: NAME}`.
pub const SEEDS: &[&str] = &["two_tenants"];

/// Top-level keys of a scenario file.
pub const SCENARIO_KEYS: &[&str] = &[
    "id", "summary", "clause", "requires", "excludes", "given", "steps",
];

/// Whether `counter` is a diagnostics counter name (`records.profile` included).
pub(crate) fn is_counter(counter: &str) -> bool {
    COUNTER_NAMES.contains(&counter)
        || counter
            .strip_prefix("records.")
            .is_some_and(|kind| RECORD_KINDS.contains(&kind))
}

/// Why `value` is not a valid tenant, record or user id (`[A-Za-z0-9_.@:-]{1,128}`), if it is not.
/// The engine's id types take exactly the values this accepts (a test in the engine checks).
pub fn identifier_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return Some("is empty".to_owned());
    }
    if value.len() > 128 {
        return Some(format!(
            "is {} bytes long; at most 128 are allowed",
            value.len()
        ));
    }
    value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | ':' | '-')))
        .map(|bad| {
            format!("contains {bad:?}; only ASCII letters, digits and `_ . @ : -` are allowed")
        })
}

/// Why `segment` cannot be one half of a scenario id (it becomes a Rust module or function name).
pub(crate) fn id_segment_problem(segment: &str) -> Option<String> {
    let mut chars = segment.chars();
    match chars.next() {
        None => return Some("is empty".to_owned()),
        Some(c) if !c.is_ascii_lowercase() => {
            return Some(format!(
                "starts with {c:?}; it must start with a lowercase letter"
            ));
        }
        Some(_) => {}
    }
    if let Some(bad) = segment
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Some(format!(
            "contains {bad:?}; only lowercase letters, digits and `_` are allowed"
        ));
    }
    if RUST_KEYWORDS.contains(&segment) {
        return Some("is a Rust keyword; it becomes a test module or function name".to_owned());
    }
    None
}

const RUST_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// `a, b, c` for messages.
pub(crate) fn one_of(words: &[&str]) -> String {
    words.join(", ")
}

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo (for
/// "did you mean" hints; the macro uses it for option names and skip ids).
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ` did you mean "x"?` or nothing.
pub(crate) fn suggestion(word: &str, candidates: &[&str]) -> String {
    match did_you_mean(word, candidates) {
        Some(c) => format!(" (did you mean \"{c}\"?)"),
        None => String::new(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// Why a scenario or behaviour check that needs `requires` and checks stores without `excludes`
/// does not run for an adapter declaring `declared`, if it does not: the one rule the macro (which
/// generates it `#[ignore]` with this reason) and the runner (which reports it skipped with it)
/// share. A capability it excludes and the adapter declares comes first.
pub fn capability_skip<R: AsRef<str>, E: AsRef<str>, D: AsRef<str>>(
    requires: &[R],
    excludes: &[E],
    declared: &[D],
) -> Option<String> {
    let declares = |c: &str| declared.iter().any(|d| d.as_ref() == c);
    if let Some(present) = excludes.iter().map(AsRef::as_ref).find(|c| declares(c)) {
        return Some(format!(
            "checks stores without capability `{present}`, which this adapter declares"
        ));
    }
    let missing: Vec<String> = requires
        .iter()
        .map(AsRef::as_ref)
        .filter(|c| !declares(c))
        .map(|c| format!("`{c}`"))
        .collect();
    match missing.as_slice() {
        [] => None,
        [one] => Some(format!(
            "requires capability {one}, which this adapter does not declare"
        )),
        many => Some(format!(
            "requires capabilities {}, which this adapter does not declare",
            many.join(" and ")
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_skip_rule_for_capabilities() {
        let none: &[&str] = &[];
        assert_eq!(capability_skip(&["a"], none, &["a", "b"]), None);
        assert_eq!(
            capability_skip(&["a", "c"], none, &["b"]).as_deref(),
            Some("requires capabilities `a` and `c`, which this adapter does not declare")
        );
        assert_eq!(
            capability_skip(&["c"], &["b"], &["b"]).as_deref(),
            Some("checks stores without capability `b`, which this adapter declares"),
            "an excluded capability the adapter declares comes first"
        );
    }

    use super::*;

    #[test]
    fn anchors_are_read_in_order() {
        let md = "# C\n### <a id=\"tx-rollback\"></a>C7\ntext <a id=\"x_y\"></a>";
        assert_eq!(anchors(md), ["tx-rollback", "x_y"]);
        assert!(contract_clauses().contains(&"tx-rollback".to_owned()));
    }

    #[test]
    fn typos_get_suggestions_and_strangers_do_not() {
        assert_eq!(did_you_mean("sav", STEP_KEYWORDS), Some("save"));
        assert_eq!(did_you_mean("comit", STEP_KEYWORDS), Some("commit"));
        assert_eq!(did_you_mean("frobnicate", STEP_KEYWORDS), None);
    }

    #[test]
    fn identifiers_and_id_segments() {
        assert_eq!(identifier_problem("u1@acme.example:x-y_z"), None);
        assert!(identifier_problem("a b").unwrap().contains("' '"));
        assert!(identifier_problem("").is_some());
        assert!(identifier_problem(&"x".repeat(129)).is_some());
        assert_eq!(id_segment_problem("commit_order2"), None);
        assert!(id_segment_problem("2fast").is_some());
        assert!(id_segment_problem("Outbox").is_some());
        assert!(id_segment_problem("type").unwrap().contains("Rust keyword"));
    }

    #[test]
    fn word_lists_agree() {
        for keyword in CONCURRENT_OPERATIONS {
            assert!(STEP_KEYWORDS.contains(keyword), "{keyword}");
        }
        for key in STEP_KEYS {
            assert!(!STEP_KEYWORDS.contains(key), "{key}");
        }
    }

    #[test]
    fn every_capability_has_a_meaning() {
        for capability in KNOWN_CAPABILITIES {
            assert!(capability_meaning(capability).is_some(), "{capability}");
        }
        assert!(is_counter("records.auth_factor") && is_counter("outbox.pending"));
        assert!(!is_counter("records.widget"));
    }
}
