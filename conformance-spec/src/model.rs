//! The spec model: what a loaded, validated scenario is. Built by the loader, read by the runner.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// A position in a scenario file. `line` and `column` count from 1.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The file as it should be shown to a person (relative to the spec root's parent when known).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A whole spec: every scenario of one spec root, and the canonical snapshots beside them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spec {
    /// Scenarios ordered by id.
    pub scenarios: Vec<Scenario>,
    /// Snapshot name (file stem, e.g. `diagnostics__counts_after_commit`) to the `.snap` file's text.
    pub snapshots: BTreeMap<String, String>,
    /// Seed name to the seed, from `seeds/<name>.yaml`.
    pub seeds: BTreeMap<String, SeedSet>,
}

/// One conformance scenario: one YAML file, one generated test.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Stable id, `<area>/<name>`, equal to the file's path under `scenarios/` without `.yaml`.
    pub id: String,
    /// The area (first half of the id); the generated test lives in a module of that name.
    pub area: String,
    /// The name (second half of the id); the generated test function's name.
    pub name: String,
    /// One line saying what it checks.
    pub summary: String,
    /// The `docs/store-contract.md` anchor it checks, without the `store-contract#` prefix.
    pub clause: String,
    /// Capabilities an adapter must declare for this scenario to run.
    pub requires: Vec<String>,
    /// Capabilities an adapter must *not* declare for this scenario to run (YAML `excludes`):
    /// scenarios that check what a store without the capability does (e.g. `unsupported`).
    pub excludes: Vec<String>,
    /// The state the store is put in before the first step.
    pub given: Given,
    /// The steps, run in order.
    pub steps: Vec<Step>,
    /// Where the scenario's `id` key is (file and line for messages).
    pub location: Location,
}

impl Scenario {
    /// The insta snapshot name for this scenario's `n`-th snapshot step (0-based).
    pub fn snapshot_name(&self, n: usize) -> String {
        let base = format!("{}__{}", self.area, self.name);
        if n == 0 {
            base
        } else {
            format!("{base}-{}", n + 1)
        }
    }
}

/// Seed state, set up through the store's own public operations before the steps run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Given {
    /// Migrate before the steps (implied by `seed` or `records`).
    pub migrated: bool,
    /// The named seed (`given: {seed: NAME}`): a file `seeds/NAME.yaml` of the spec root.
    pub seed: Option<String>,
    /// The named seed's records, filled in by the loader from `seeds/NAME.yaml`; committed first.
    pub seed_records: Vec<RecordSpec>,
    /// Extra records, committed in the same transaction after the seed's.
    pub records: Vec<RecordSpec>,
}

/// A named seed: one file `seeds/<name>.yaml` of a spec root, a data set scenarios start from
/// with `given: {seed: <name>}`.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedSet {
    /// The name, equal to the file's stem.
    pub name: String,
    /// One line saying what the data set is for.
    pub summary: String,
    /// The records, committed in this order in one transaction.
    pub records: Vec<RecordSpec>,
    /// Where the file's `seed` key is.
    pub location: Location,
}

/// A record as written in YAML: `{tenant, kind, id, user?, data?}`.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordSpec {
    /// Tenant id.
    pub tenant: String,
    /// Record kind name.
    pub kind: String,
    /// Record id.
    pub id: String,
    /// Owning user id.
    pub user: Option<String>,
    /// Payload; strings may contain `${canary}`.
    pub data: Value,
}

/// One step: an operation and what it must return.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// 0-based position in `steps`.
    pub index: usize,
    /// Where the step starts (its `-`).
    pub location: Location,
    /// The step exactly as written in the file (its lines, dedented), for failure messages.
    pub text: String,
    /// What to do.
    pub operation: Operation,
    /// What must come back.
    pub expect: Expect,
    /// `as: NAME` — remember this step's result (a page's next cursor) under NAME.
    pub capture: Option<String>,
    /// `session: NAME` — the session (a thread of its own, with its own transactions) that runs
    /// the step; `None` is the default session. Steps still run one at a time, in file order.
    pub session: Option<String>,
    /// `background: true` — start the step and go on without waiting for it (it may block, e.g.
    /// on a lock another session holds); a later `await: SESSION` step waits for it and checks
    /// its `expect`. Until then its session takes no other step.
    pub background: bool,
}

/// A write's expectation as written in YAML (`if: absent`, `if: {version: 2}`; default any).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum VersionCondition {
    /// No condition.
    #[default]
    Any,
    /// Must not exist.
    Absent,
    /// Must be at this version.
    Version(u64),
}

/// A record key as written in YAML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySpec {
    /// Tenant id.
    pub tenant: String,
    /// Kind name.
    pub kind: String,
    /// Record id.
    pub id: String,
}

/// Every operation a step can perform. `tx: None` on a write means "in its own transaction,
/// committed at once"; on a read, "committed state".
#[derive(Clone, Debug, PartialEq)]
pub enum Operation {
    /// `migrate: {}`
    Migrate,
    /// `readiness: {}`
    Readiness,
    /// `diagnostics: {}`
    Diagnostics,
    /// `begin: NAME`
    Begin {
        /// Transaction name.
        tx: String,
    },
    /// `commit: NAME`
    Commit {
        /// Transaction name.
        tx: String,
    },
    /// `rollback: NAME`
    Rollback {
        /// Transaction name.
        tx: String,
    },
    /// `drop: NAME` — let the transaction go out of scope without commit or rollback.
    Drop {
        /// Transaction name.
        tx: String,
    },
    /// `panic_in: NAME` — panic while the transaction is open; it unwinds and is dropped.
    PanicIn {
        /// Transaction name.
        tx: String,
    },
    /// `save: {tx?, tenant, kind, id, user?, data?, if?}`
    Save {
        /// Transaction name, or auto-commit.
        tx: Option<String>,
        /// The record.
        key: KeySpec,
        /// Owning user.
        user: Option<String>,
        /// Payload (default `{}`); strings may contain `${canary}`.
        data: Value,
        /// Expectation.
        condition: VersionCondition,
    },
    /// `delete: {tx?, tenant, kind, id, if?}`
    Delete {
        /// Transaction name, or auto-commit.
        tx: Option<String>,
        /// The record.
        key: KeySpec,
        /// Expectation.
        condition: VersionCondition,
    },
    /// `get: {tx?, tenant, kind, id}`
    Get {
        /// Transaction name, or committed state.
        tx: Option<String>,
        /// The record.
        key: KeySpec,
    },
    /// `list: {tenant, kind?, limit?, after?}` — `after` names a cursor captured with `as`.
    List {
        /// Tenant id.
        tenant: String,
        /// Kind filter.
        kind: Option<String>,
        /// Page size.
        limit: Option<usize>,
        /// Captured cursor name.
        after: Option<String>,
    },
    /// `list_user: {tenant, user}`
    ListUser {
        /// Tenant id.
        tenant: String,
        /// User id.
        user: String,
    },
    /// `audit: {tx?, tenant, action, actor?, target?}` — target is `kind/id` in the same tenant.
    Audit {
        /// Transaction name, or auto-commit.
        tx: Option<String>,
        /// Tenant id.
        tenant: String,
        /// Action name.
        action: String,
        /// Acting user.
        actor: Option<String>,
        /// `kind/id`.
        target: Option<String>,
    },
    /// `list_audit: {tenant}`
    ListAudit {
        /// Tenant id.
        tenant: String,
    },
    /// `enqueue: {tx?, tenant, topic, key, data?}`
    Enqueue {
        /// Transaction name, or auto-commit.
        tx: Option<String>,
        /// Tenant id.
        tenant: String,
        /// Topic.
        topic: String,
        /// Partition key.
        key: String,
        /// Payload (default `{}`).
        data: Value,
    },
    /// `outbox_pending: {limit?}` (default limit 100)
    OutboxPending {
        /// Page size.
        limit: Option<usize>,
    },
    /// `acknowledge: {events: [tenant/topic/key, ...]}`, `acknowledge: {first: N}` or
    /// `acknowledge: {again: true}` — acknowledges the named pending events, the first N pending
    /// ones, or once more exactly the events the previous `acknowledge` step acknowledged. Any of
    /// the three may add `twice: true` (every id given twice in the one call), `unknown: true` (an
    /// id no store issued, past the signed 64-bit range, after the others) and `unissued: true`
    /// (an id inside that range that no store issues in a test, after the others), for C21's
    /// harmless repeats and all-or-nothing refusals.
    Acknowledge {
        /// Events by `tenant/topic/key`.
        events: Vec<String>,
        /// Or the first N pending.
        first: Option<usize>,
        /// Or the previous step's events again.
        again: bool,
        /// Every id given twice in the call.
        twice: bool,
        /// An id no store issued, after the others.
        unknown: bool,
        /// An id inside the signed 64-bit range that no store issues in a test, after the others.
        unissued: bool,
    },
    /// `migrate_to: {version}` — migrate up to this schema version only, as an older release
    /// would have; needs capability `stepwise_migration`.
    MigrateTo {
        /// The schema version to stop at.
        version: u32,
    },
    /// `tamper_migration: {version}` — needs capability `migration_tamper`.
    TamperMigration {
        /// Migration version.
        version: u32,
    },
    /// `await: SESSION` — wait (up to a time limit) for the session's background step to finish,
    /// then check that step's `expect`. The `await` step itself takes no `expect`.
    Await {
        /// The session whose background step to wait for.
        session: String,
    },
    /// `deliver: {limit?, acknowledge?}` — act as the outbox relay: read up to `limit` pending
    /// events (default 100), add them to the run's delivery log, and acknowledge them unless
    /// `acknowledge: false` (a relay that crashes before acknowledging).
    Deliver {
        /// Page size.
        limit: Option<usize>,
        /// Acknowledge what was read (default true).
        acknowledge: bool,
    },
    /// `delivered: {}` — every event the relay has delivered so far, in delivery order,
    /// duplicates included (at-least-once delivery shows as repeats).
    Delivered,
    /// `inject_fault: {commit_fails_at: K}` or `{terminate_backend_at: K}` — arm a fault for the
    /// store's next commit. Needs capability `fault_injection` (`backend_termination` for the
    /// second form).
    InjectFault {
        /// The fault.
        fault: FaultSpec,
    },
    /// `reopen: {}` — drop every open transaction (as a crash would), close the store and open it
    /// again from its durable storage. Needs capability `durable_reopen`.
    Reopen,
    /// `concurrently: {times: N, step: {OPERATION: ARGS}}` — run N copies of one auto-commit
    /// operation at the same moment from N threads; expect `{outcomes: {...}}` (or `{applied}`
    /// for `migrate`, the versions applied by all copies together).
    Concurrently {
        /// How many copies.
        times: usize,
        /// The operation each copy runs (never inside a named transaction).
        operation: Box<Operation>,
    },
    /// `check_redaction: {}` — the canary must not appear in the store's `Debug`, diagnostics
    /// (`Debug` and `Display`), any record, audit entry or outbox event (`Debug` and `Display`),
    /// nor in any error message seen so far in the scenario.
    CheckRedaction,
}

impl Operation {
    /// The step keyword, e.g. `save`.
    pub fn keyword(&self) -> &'static str {
        match self {
            Operation::Migrate => "migrate",
            Operation::Readiness => "readiness",
            Operation::Diagnostics => "diagnostics",
            Operation::Begin { .. } => "begin",
            Operation::Commit { .. } => "commit",
            Operation::Rollback { .. } => "rollback",
            Operation::Drop { .. } => "drop",
            Operation::PanicIn { .. } => "panic_in",
            Operation::Save { .. } => "save",
            Operation::Delete { .. } => "delete",
            Operation::Get { .. } => "get",
            Operation::List { .. } => "list",
            Operation::ListUser { .. } => "list_user",
            Operation::Audit { .. } => "audit",
            Operation::ListAudit { .. } => "list_audit",
            Operation::Enqueue { .. } => "enqueue",
            Operation::OutboxPending { .. } => "outbox_pending",
            Operation::Acknowledge { .. } => "acknowledge",
            Operation::TamperMigration { .. } => "tamper_migration",
            Operation::MigrateTo { .. } => "migrate_to",
            Operation::CheckRedaction => "check_redaction",
            Operation::Await { .. } => "await",
            Operation::Deliver { .. } => "deliver",
            Operation::Delivered => "delivered",
            Operation::InjectFault { .. } => "inject_fault",
            Operation::Reopen => "reopen",
            Operation::Concurrently { .. } => "concurrently",
        }
    }
}

/// A fault armed for the store's next commit. Changes are counted 1-based in the order the store
/// applies them; a K past the last change fails the commit just before it would complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultSpec {
    /// The commit fails with `unavailable` just before applying its K-th change.
    CommitFailsAt(usize),
    /// The store's connection to its server is terminated just before the K-th change.
    TerminateBackendAt(usize),
}

/// What a step must return. Omitted `expect` means [`Expect::Ok`].
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    /// `ok` — succeeds (any value).
    Ok,
    /// `absent` — `get` finds nothing.
    Absent,
    /// `{error: KIND}` — fails with this error kind (`not_found`, `conflict`, ...).
    Error(String),
    /// `{version?, user?, data?}` — a record with these fields (`user: null` = no owner).
    Record {
        /// Version.
        version: Option<u64>,
        /// Owner; `Some(None)` = no owner.
        user: Option<Option<String>>,
        /// Exact payload.
        data: Option<Value>,
    },
    /// `[a, b, ...]` — exactly these items, in this order. Records render as `tenant/kind/id`,
    /// outbox events as `tenant/topic/key`, audit entries as `action` or `action kind/id`.
    List(Vec<String>),
    /// `{count: N}` — a list of N items, or N events acknowledged.
    Count(u64),
    /// `{applied: [1, ...]}` — `migrate` applied exactly these versions.
    Applied(Vec<u32>),
    /// `ready`
    Ready,
    /// `{not_ready: REASON}` — `not_migrated`, `behind`, `ahead`, `drift`, `unavailable`.
    NotReady(String),
    /// `snapshot` — `diagnostics` rendering equals the canonical snapshot.
    Snapshot,
    /// `{counts: {records: N, records.KIND: N, tenants: N, audit_entries: N, outbox.pending: N,
    /// outbox.acknowledged: N, schema_version: N}}` — these diagnostics counters equal these values.
    Counts(BTreeMap<String, u64>),
    /// `{outcomes: {ok: N, conflict: M, ...}}` — of a `concurrently` step's copies, exactly N
    /// succeeded and M failed with `conflict` (error kinds by name; kinds not listed: none).
    Outcomes(BTreeMap<String, u64>),
    /// `{one_of: [EXPECT, ...]}` — any one of these: the outcomes the contract allows where
    /// correct stores of different designs end differently (a locking store makes a second writer
    /// wait and fail at its write; an optimistic one fails it at commit).
    OneOf(Vec<Expect>),
}
