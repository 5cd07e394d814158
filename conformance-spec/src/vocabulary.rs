//! The words a scenario may use: step keywords, record kinds, error kinds, capabilities, the
//! store contract's clause anchors, and the identifier alphabet.

/// The store contract that every scenario's `clause` points into (`store-contract#ANCHOR`).
pub const STORE_CONTRACT: &str = include_str!("../contract/store-contract.md");

/// The prefix of every `clause` value.
pub const CLAUSE_PREFIX: &str = "store-contract#";

/// A capability: a promise an adapter makes by declaring it, which scenarios may require
/// (`requires: [...]`) or exclude (`excludes: [...]`). Adapters declare them by name (their
/// `CAPABILITIES` lists and the macro's `capabilities: [...]`); [`Capability::parse`] reads one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// `migration_tamper`
    MigrationTamper,
    /// `commit_time_conflicts`
    CommitTimeConflicts,
    /// `fault_injection`
    FaultInjection,
    /// `durable_reopen`
    DurableReopen,
    /// `backend_termination`
    BackendTermination,
    /// `stepwise_migration`
    StepwiseMigration,
}

impl Capability {
    /// Every capability, in the order the documentation lists them.
    pub const ALL: &'static [Capability] = &[
        Capability::MigrationTamper,
        Capability::CommitTimeConflicts,
        Capability::FaultInjection,
        Capability::DurableReopen,
        Capability::BackendTermination,
        Capability::StepwiseMigration,
    ];

    /// The name scenarios and adapters write.
    pub const fn name(self) -> &'static str {
        match self {
            Capability::MigrationTamper => "migration_tamper",
            Capability::CommitTimeConflicts => "commit_time_conflicts",
            Capability::FaultInjection => "fault_injection",
            Capability::DurableReopen => "durable_reopen",
            Capability::BackendTermination => "backend_termination",
            Capability::StepwiseMigration => "stepwise_migration",
        }
    }

    /// What declaring it promises, in one line.
    pub const fn meaning(self) -> &'static str {
        match self {
            Capability::MigrationTamper => {
                "the store exposes `ConformanceHooks::tamper_applied_migration`: a scenario can modify an applied migration and watch the store refuse it"
            }
            Capability::CommitTimeConflicts => {
                "writers never wait for each other: a guard another transaction broke fails the later commit with `conflict`, so two transactions may be open on one thread"
            }
            Capability::FaultInjection => {
                "the store implements `ConformanceHooks::inject_fault` for `commit_fails_at`: a commit can be made to fail just before its K-th change"
            }
            Capability::DurableReopen => {
                "the store implements `ConformanceHooks::reopen`: committed data survives closing and reopening the store"
            }
            Capability::BackendTermination => {
                "the store implements `ConformanceHooks::inject_fault` for `terminate_backend_at`: its server connection can be killed mid-commit"
            }
            Capability::StepwiseMigration => {
                "the store implements `ConformanceHooks::migrate_to`: it can be migrated to an older schema version, then upgraded"
            }
        }
    }

    /// The capability named `name`, if any.
    pub fn parse(name: &str) -> Option<Capability> {
        Capability::ALL.iter().copied().find(|c| c.name() == name)
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

const fn capability_names() -> [&'static str; Capability::ALL.len()] {
    let mut out = [""; Capability::ALL.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = Capability::ALL[i].name();
        i += 1;
    }
    out
}

const CAPABILITY_NAMES: [&str; Capability::ALL.len()] = capability_names();

/// The names of every [`Capability`], in [`Capability::ALL`] order.
pub const KNOWN_CAPABILITIES: &[&str] = &CAPABILITY_NAMES;

/// What declaring the capability named `capability` promises ([`Capability::meaning`]).
pub fn capability_meaning(capability: &str) -> Option<&'static str> {
    Capability::parse(capability).map(Capability::meaning)
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

/// Every step keyword, in the order the format documentation lists them (the keywords of
/// [`STEPS`](crate::STEPS)).
pub const STEP_KEYWORDS: &[&str] = &crate::grammar::ALL_KEYWORDS;

/// Keys a step may have besides its operation.
pub const STEP_KEYS: &[&str] = &["expect", "as", "session", "background"];

/// The operations `concurrently` may run copies of (each in a transaction of its own): the
/// [`STEPS`](crate::STEPS) rows marked `concurrent`.
pub const CONCURRENT_OPERATIONS: &[&str] = &crate::grammar::COPYABLE_KEYWORDS;

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

/// Why `scenario` does not run, if it does not: the one rule the macro (which generates its test
/// `#[ignore]` with this reason) and the runner (which reports it skipped with it) share. In
/// order: an environment variable the tests need is unset (`unset_env`, the macro's
/// `ignore_unless_env`), the scenario is on the invocation's or the run's skip list with this
/// reason (`listed`), a capability it excludes is declared, one it requires is not
/// ([`capability_skip`]).
pub fn skip_reason<D: AsRef<str>>(
    scenario: &crate::Scenario,
    listed: Option<&str>,
    declared: &[D],
    unset_env: Option<&str>,
) -> Option<String> {
    if let Some(name) = unset_env {
        return Some(env_unset_reason(name));
    }
    if let Some(reason) = listed {
        return Some(reason.to_owned());
    }
    capability_skip(&scenario.requires, &scenario.excludes, declared)
}

/// The reason a test that needs the environment variable `name` is ignored while it is unset or
/// empty — generated (`ignore_unless_env`) and hand-written (`#[needs_env]`) tests alike.
pub fn env_unset_reason(name: &str) -> String {
    format!("skipped: {name} is not set; set it when running `cargo test` to run this test")
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
    fn one_skip_rule_in_its_order_env_then_list_then_capabilities() {
        let yaml = "id: a/b\nsummary: s\nclause: store-contract#tx-rollback\nrequires: [fault_injection]\nsteps: [migrate: {}]\n";
        let scenario = crate::parse_scenario("b.yaml", "scenarios/a/b.yaml", yaml).unwrap();
        let none: &[&str] = &[];
        let has = &["fault_injection"];
        assert_eq!(skip_reason(&scenario, None, has, None), None);
        assert_eq!(
            skip_reason(&scenario, None, none, None).as_deref(),
            Some("requires capability `fault_injection`, which this adapter does not declare")
        );
        assert_eq!(
            skip_reason(&scenario, Some("flaky here"), none, None).as_deref(),
            Some("flaky here")
        );
        assert_eq!(
            skip_reason(&scenario, Some("flaky here"), has, Some("DB_URL")),
            Some(env_unset_reason("DB_URL"))
        );
    }

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
