//! The step grammar as one table: every step keyword, its arguments (name, type, whether
//! required), the expectation forms that apply to it, the capability it needs, whether it takes a
//! transaction and whether `concurrently` may run it. The validator's keyword lists, argument
//! checks and expectation rules, the JSON Schema (`user-engine spec schema`) and the step
//! reference in `docs/spec-format.md` ([`step_reference`]) are all read from [`STEPS`]; adding a
//! step argument means a row here, a line in the operation builder, and a scenario that uses it.

use crate::vocabulary::Capability;

/// One step keyword and everything the loader knows about it.
#[derive(Clone, Copy, Debug)]
pub struct StepRule {
    /// The keyword, e.g. `save`.
    pub keyword: &'static str,
    /// The section of the step reference it is listed under.
    pub group: &'static str,
    /// One line saying what the step does.
    pub summary: &'static str,
    /// What follows the keyword.
    pub arguments: Arguments,
    /// What `expect:` may say.
    pub expects: Expects,
    /// The capability a scenario must require (or exclude) to use the step at all.
    pub capability: Option<Capability>,
    /// Whether `concurrently` may run copies of it.
    pub concurrent: bool,
    /// Forms a `concurrently` of this step may expect besides its own (`migrate`: `applied`, the
    /// versions all copies applied together).
    pub copy_expects: &'static [Form],
    /// `None` when the step may name a `session` and run in the `background`; otherwise why not
    /// (the runner performs it itself, across sessions).
    pub no_session: Option<&'static str>,
    /// Whether `as: NAME` may capture the step's next-page cursor.
    pub captures: bool,
}

impl StepRule {
    /// Whether the step takes a `tx` argument (runs inside a named transaction when given).
    pub fn takes_tx(&self) -> bool {
        self.argument("tx").is_some()
    }

    /// The argument named `name`, for the mapping form.
    pub fn argument(&self, name: &str) -> Option<&'static Argument> {
        match self.arguments {
            Arguments::Map { args, .. } => args.iter().find(|a| a.name == name),
            _ => None,
        }
    }

    /// The capability a step with these argument names needs: the step's own, or that of the
    /// argument chosen (`inject_fault: {terminate_backend_at: K}` needs `backend_termination`).
    pub fn capability_for<'a>(
        &self,
        given: impl IntoIterator<Item = &'a str>,
    ) -> Option<Capability> {
        self.capability.or_else(|| {
            given
                .into_iter()
                .find_map(|name| self.argument(name).and_then(|a| a.capability))
        })
    }

    /// Whether `expect` may use `form` on this step.
    pub fn accepts(&self, form: Form) -> bool {
        matches!(self.expects, Expects::Forms(forms) if forms.contains(&form))
    }

    /// The argument shape as written in messages: `{tx?, tenant, kind, id}`, `NAME`, `{}`.
    pub fn shape(&self) -> String {
        match self.arguments {
            Arguments::None => "{}".to_owned(),
            Arguments::Name { .. } => "NAME".to_owned(),
            Arguments::Map { args, .. } => {
                let keys: Vec<String> = args.iter().map(Argument::shape_key).collect();
                format!("{{{}}}", keys.join(", "))
            }
        }
    }
}

/// What follows a step keyword.
#[derive(Clone, Copy, Debug)]
pub enum Arguments {
    /// Nothing: `migrate: {}` (or `migrate:`).
    None,
    /// A bare name: `begin: tx`, `await: a`; `name` is the field it fills.
    Name {
        /// The operation field the name fills.
        name: &'static str,
        /// The word messages use for it (`transaction name`).
        word: &'static str,
        /// What it means, for the reference.
        meaning: &'static str,
    },
    /// A mapping of named arguments.
    Map {
        /// The arguments, in the order the reference lists them.
        args: &'static [Argument],
        /// When not empty: exactly one of these keys must be given.
        exactly_one_of: &'static [&'static str],
    },
}

/// One named argument of a step.
#[derive(Clone, Copy, Debug)]
pub struct Argument {
    /// The key, e.g. `tenant`.
    pub name: &'static str,
    /// What its value must be.
    pub ty: ArgType,
    /// Whether a step must give it.
    pub required: bool,
    /// A capability giving it needs (the step's own capability, if any, comes first).
    pub capability: Option<Capability>,
    /// What it means, for the reference.
    pub meaning: &'static str,
}

impl Argument {
    /// `tx?` for an optional argument, `tenant` for a required one.
    pub fn shape_key(&self) -> String {
        if self.required {
            self.name.to_owned()
        } else {
            format!("{}?", self.name)
        }
    }
}

/// The value an argument takes. The word in a variant is what messages call the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgType {
    /// An identifier (see `identifier_problem`).
    Name(&'static str),
    /// A record kind.
    Kind,
    /// A JSON payload; strings may hold `${canary}`.
    Payload,
    /// A write's guard: `absent`, `any` or `{version: N}`.
    Condition,
    /// A whole number, 0 or more.
    Count(&'static str),
    /// A schema or migration version, 1 or more.
    Version(&'static str),
    /// A 1-based position, 1 or more.
    Position(&'static str),
    /// `true` or `false`.
    Flag(&'static str),
    /// Only `true`; leave it out otherwise.
    True(&'static str),
    /// `kind/id` in the step's tenant.
    Target,
    /// A list of `tenant/topic/key`.
    Events,
    /// How many copies `concurrently` runs: 2 to `MAX_CONCURRENT_TIMES`.
    Copies,
    /// The one operation `concurrently` copies: `{OPERATION: ARGS}`.
    CopyStep,
}

impl ArgType {
    /// A placeholder for the value in a shape: `N`, `true`, `[tenant/topic/key, ...]`.
    pub fn placeholder(self) -> &'static str {
        match self {
            ArgType::Name(_) => "NAME",
            ArgType::Kind => "KIND",
            ArgType::Payload => "JSON",
            ArgType::Condition => "absent | any | {version: N}",
            ArgType::Count(_) | ArgType::Copies => "N",
            ArgType::Version(_) | ArgType::Position(_) => "K",
            ArgType::Flag(_) => "true | false",
            ArgType::True(_) => "true",
            ArgType::Target => "kind/id",
            ArgType::Events => "[tenant/topic/key, ...]",
            ArgType::CopyStep => "{OPERATION: ARGS}",
        }
    }

    /// What the value is, for the reference.
    pub fn describe(self) -> String {
        match self {
            ArgType::Name(word) => format!("identifier ({word})"),
            ArgType::Kind => "record kind".to_owned(),
            ArgType::Payload => "JSON payload".to_owned(),
            ArgType::Condition => "`absent`, `any` or `{version: N}`".to_owned(),
            ArgType::Count(_) => "integer ≥ 0".to_owned(),
            ArgType::Version(_) | ArgType::Position(_) => "integer ≥ 1".to_owned(),
            ArgType::Flag(_) => "boolean".to_owned(),
            ArgType::True(_) => "`true`".to_owned(),
            ArgType::Target => "`kind/id`".to_owned(),
            ArgType::Events => "list of `tenant/topic/key`".to_owned(),
            ArgType::Copies => format!("integer 2 to {}", crate::MAX_CONCURRENT_TIMES),
            ArgType::CopyStep => "`{OPERATION: ARGS}`".to_owned(),
        }
    }
}

/// What `expect:` may say on a step.
#[derive(Clone, Copy, Debug)]
pub enum Expects {
    /// These forms.
    Forms(&'static [Form]),
    /// No `expect` at all, for this reason.
    Nothing(&'static str),
}

/// One form an expectation can take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `ok`
    Ok,
    /// `absent`
    Absent,
    /// `ready`
    Ready,
    /// `snapshot`
    Snapshot,
    /// `[...]`
    List,
    /// `{error: KIND}`
    Error,
    /// `{not_ready: REASON}`
    NotReady,
    /// `{applied: [N, ...]}`
    Applied,
    /// `{count: N}`
    Count,
    /// `{counts: {NAME: N}}`
    Counts,
    /// `{outcomes: {ok: N, KIND: N}}`
    Outcomes,
    /// `{one_of: [EXPECT, ...]}`
    OneOf,
    /// `{version?, user?, data?}`
    Record,
}

impl Form {
    /// Every form, in the order messages list them.
    pub const ALL: &'static [Form] = &[
        Form::Ok,
        Form::Absent,
        Form::Ready,
        Form::Snapshot,
        Form::List,
        Form::Error,
        Form::NotReady,
        Form::Applied,
        Form::Count,
        Form::Counts,
        Form::Outcomes,
        Form::OneOf,
        Form::Record,
    ];

    /// The word that introduces the form: the scalar itself, or the single key of a mapping form;
    /// `None` for a list and a record.
    pub fn word(self) -> Option<&'static str> {
        Some(match self {
            Form::Ok => "ok",
            Form::Absent => "absent",
            Form::Ready => "ready",
            Form::Snapshot => "snapshot",
            Form::Error => "error",
            Form::NotReady => "not_ready",
            Form::Applied => "applied",
            Form::Count => "count",
            Form::Counts => "counts",
            Form::Outcomes => "outcomes",
            Form::OneOf => "one_of",
            Form::List | Form::Record => return None,
        })
    }

    /// Whether the form is a bare word (`ok`, `absent`, ...).
    pub fn is_scalar(self) -> bool {
        matches!(self, Form::Ok | Form::Absent | Form::Ready | Form::Snapshot)
    }

    /// Whether a `one_of` may list it as an alternative.
    pub fn may_be_alternative(self) -> bool {
        !matches!(self, Form::OneOf | Form::Snapshot | Form::Outcomes)
    }

    /// The form as messages write it: `absent`, `a list [...]`, `{error: KIND}`.
    pub fn shape(self) -> &'static str {
        match self {
            Form::Ok => "ok",
            Form::Absent => "absent",
            Form::Ready => "ready",
            Form::Snapshot => "snapshot",
            Form::List => "a list [...]",
            Form::Error => "{error: KIND}",
            Form::NotReady => "{not_ready: REASON}",
            Form::Applied => "{applied: [N, ...]}",
            Form::Count => "{count: N}",
            Form::Counts => "{counts: {NAME: N}}",
            Form::Outcomes => "{outcomes: {ok: N, KIND: N}}",
            Form::OneOf => "{one_of: [EXPECT, ...]}",
            Form::Record => "a record {version?, user?, data?}",
        }
    }

    /// What the form requires of the step's result.
    pub fn meaning(self) -> &'static str {
        match self {
            Form::Ok => "the step succeeds (the default)",
            Form::Absent => "`get` finds nothing",
            Form::Ready => "the store is ready",
            Form::Snapshot => "the diagnostics rendering equals the canonical snapshot",
            Form::List => {
                "exactly these items, in order: records as tenant/kind/id (optionally ` vN`), events as tenant/topic/key, audit entries as `action` or `action kind/id`"
            }
            Form::Error => "the step fails with this error kind",
            Form::NotReady => "the store is not ready, for this reason",
            Form::Applied => "migration applied exactly these versions",
            Form::Count => "a list of N items, or N events acknowledged",
            Form::Counts => "these diagnostics counters equal these values",
            Form::Outcomes => {
                "how many copies succeeded (`ok`) or failed with each error kind; they add up to `times`"
            }
            Form::OneOf => {
                "any one of these: the outcomes the contract allows where correct stores of different designs end differently"
            }
            Form::Record => {
                "a record with these fields (`user: null`: no owner; `data`: the exact payload)"
            }
        }
    }
}

/// Every expectation form, in message order: `ok, absent, ..., or a record {...}`.
pub(crate) fn all_forms_text() -> String {
    let shapes: Vec<&str> = Form::ALL.iter().map(|f| f.shape()).collect();
    match shapes.split_last() {
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

const fn arg(name: &'static str, ty: ArgType, meaning: &'static str) -> Argument {
    Argument {
        name,
        ty,
        required: true,
        capability: None,
        meaning,
    }
}

const fn opt(name: &'static str, ty: ArgType, meaning: &'static str) -> Argument {
    Argument {
        required: false,
        ..arg(name, ty, meaning)
    }
}

const TX: Argument = opt(
    "tx",
    ArgType::Name("transaction name"),
    "the open transaction to run in; without it a write commits at once and a read sees committed state",
);
const TENANT: Argument = arg("tenant", ArgType::Name("tenant"), "the tenant");
const KIND: Argument = arg("kind", ArgType::Kind, "the record kind");
const ID: Argument = arg("id", ArgType::Name("id"), "the record id");
const GUARD: Argument = opt("if", ArgType::Condition, "the guard (C3); default `any`");
const LIMIT: Argument = opt(
    "limit",
    ArgType::Count("limit"),
    "the page size; default 100",
);

use Form as F;

const NO_ARGUMENTS: Arguments = Arguments::None;
const OK_ERROR: &[Form] = &[F::Ok, F::Error, F::OneOf];
const LISTING: &[Form] = &[F::Ok, F::List, F::Count, F::Error, F::OneOf];
const TRANSACTION: Arguments = Arguments::Name {
    name: "tx",
    word: "transaction name",
    meaning: "the transaction's name",
};

const fn step(
    keyword: &'static str,
    group: &'static str,
    summary: &'static str,
    arguments: Arguments,
    expects: &'static [Form],
) -> StepRule {
    StepRule {
        keyword,
        group,
        summary,
        arguments,
        expects: Expects::Forms(expects),
        capability: None,
        concurrent: false,
        copy_expects: &[],
        no_session: None,
        captures: false,
    }
}

const SETUP: &str = "Migrations, readiness, diagnostics";
const TRANSACTIONS: &str = "Transactions";
const RECORDS: &str = "Records and queries";
const AUDIT_AND_OUTBOX: &str = "Audit and outbox";
const RUNNER: &str = "Sessions, faults and the runner";

/// Every step, in the order the format documentation lists them.
pub const STEPS: &[StepRule] = &[
    StepRule {
        concurrent: true,
        copy_expects: &[F::Applied],
        ..step(
            "migrate",
            SETUP,
            "apply every pending migration",
            NO_ARGUMENTS,
            &[F::Ok, F::Applied, F::Error, F::OneOf],
        )
    },
    StepRule {
        concurrent: true,
        ..step(
            "readiness",
            SETUP,
            "ask whether the store is ready to serve",
            NO_ARGUMENTS,
            &[F::Ok, F::Ready, F::NotReady, F::Error, F::OneOf],
        )
    },
    step(
        "diagnostics",
        SETUP,
        "read the store's diagnostics (counts only)",
        NO_ARGUMENTS,
        &[F::Ok, F::Snapshot, F::Counts, F::Error, F::OneOf],
    ),
    step(
        "check_redaction",
        SETUP,
        "search every rendering the store offers, and every error seen so far, for the run's canary",
        NO_ARGUMENTS,
        OK_ERROR,
    ),
    step(
        "begin",
        TRANSACTIONS,
        "open a transaction under this name",
        TRANSACTION,
        OK_ERROR,
    ),
    step(
        "commit",
        TRANSACTIONS,
        "commit the named transaction",
        TRANSACTION,
        OK_ERROR,
    ),
    step(
        "rollback",
        TRANSACTIONS,
        "roll the named transaction back",
        TRANSACTION,
        OK_ERROR,
    ),
    step(
        "drop",
        TRANSACTIONS,
        "let the named transaction go out of scope without commit or rollback",
        TRANSACTION,
        OK_ERROR,
    ),
    step(
        "panic_in",
        TRANSACTIONS,
        "panic while the named transaction is open; it unwinds and is dropped",
        TRANSACTION,
        OK_ERROR,
    ),
    StepRule {
        concurrent: true,
        ..step(
            "save",
            RECORDS,
            "write a record; the result is the record as stored",
            Arguments::Map {
                args: &[
                    TX,
                    TENANT,
                    KIND,
                    ID,
                    opt("user", ArgType::Name("user"), "the owning user"),
                    opt("data", ArgType::Payload, "the payload; default `{}`"),
                    GUARD,
                ],
                exactly_one_of: &[],
            },
            &[F::Ok, F::Record, F::Error, F::OneOf],
        )
    },
    StepRule {
        concurrent: true,
        ..step(
            "delete",
            RECORDS,
            "delete a record",
            Arguments::Map {
                args: &[TX, TENANT, KIND, ID, GUARD],
                exactly_one_of: &[],
            },
            OK_ERROR,
        )
    },
    step(
        "get",
        RECORDS,
        "read one record by key",
        Arguments::Map {
            args: &[TX, TENANT, KIND, ID],
            exactly_one_of: &[],
        },
        &[F::Ok, F::Absent, F::Record, F::Error, F::OneOf],
    ),
    StepRule {
        captures: true,
        ..step(
            "list",
            RECORDS,
            "one page of a tenant's records in key order; `as: NAME` keeps its next cursor",
            Arguments::Map {
                args: &[
                    TENANT,
                    opt("kind", ArgType::Kind, "only records of this kind"),
                    opt("limit", ArgType::Count("limit"), "the page size"),
                    opt(
                        "after",
                        ArgType::Name("cursor name"),
                        "a cursor captured with `as` on an earlier `list`",
                    ),
                ],
                exactly_one_of: &[],
            },
            LISTING,
        )
    },
    step(
        "list_user",
        RECORDS,
        "every record of a tenant owned by one user",
        Arguments::Map {
            args: &[
                TENANT,
                arg("user", ArgType::Name("user"), "the owning user"),
            ],
            exactly_one_of: &[],
        },
        LISTING,
    ),
    StepRule {
        concurrent: true,
        ..step(
            "audit",
            AUDIT_AND_OUTBOX,
            "append an audit entry",
            Arguments::Map {
                args: &[
                    TX,
                    TENANT,
                    arg("action", ArgType::Name("action"), "what happened"),
                    opt("actor", ArgType::Name("actor"), "the acting user"),
                    opt(
                        "target",
                        ArgType::Target,
                        "the record it concerns, in the same tenant",
                    ),
                ],
                exactly_one_of: &[],
            },
            OK_ERROR,
        )
    },
    step(
        "list_audit",
        AUDIT_AND_OUTBOX,
        "a tenant's audit entries in commit order",
        Arguments::Map {
            args: &[TENANT],
            exactly_one_of: &[],
        },
        LISTING,
    ),
    StepRule {
        concurrent: true,
        ..step(
            "enqueue",
            AUDIT_AND_OUTBOX,
            "add an event to the transactional outbox",
            Arguments::Map {
                args: &[
                    TX,
                    TENANT,
                    arg("topic", ArgType::Name("topic"), "the event's topic"),
                    arg("key", ArgType::Name("key"), "the event's partition key"),
                    opt("data", ArgType::Payload, "the payload; default `{}`"),
                ],
                exactly_one_of: &[],
            },
            OK_ERROR,
        )
    },
    step(
        "outbox_pending",
        AUDIT_AND_OUTBOX,
        "the pending events in commit order",
        Arguments::Map {
            args: &[LIMIT],
            exactly_one_of: &[],
        },
        LISTING,
    ),
    step(
        "acknowledge",
        AUDIT_AND_OUTBOX,
        "acknowledge pending events; the result is how many were newly acknowledged",
        Arguments::Map {
            args: &[
                opt("events", ArgType::Events, "the named pending events"),
                opt(
                    "first",
                    ArgType::Count("\"first\""),
                    "the first N pending events",
                ),
                opt(
                    "again",
                    ArgType::True("again"),
                    "exactly the events the previous `acknowledge` acknowledged",
                ),
                opt(
                    "twice",
                    ArgType::True("twice"),
                    "every id given twice in the one call",
                ),
                opt(
                    "unknown",
                    ArgType::True("unknown"),
                    "and, last, an id no store issued",
                ),
                opt(
                    "unissued",
                    ArgType::True("unissued"),
                    "and, last, an id a signed 64-bit column holds that no store issues in a test",
                ),
            ],
            exactly_one_of: &["events", "first", "again"],
        },
        &[F::Ok, F::Count, F::Error, F::OneOf],
    ),
    StepRule {
        capability: Some(Capability::MigrationTamper),
        ..step(
            "tamper_migration",
            SETUP,
            "alter an applied migration's recorded checksum",
            Arguments::Map {
                args: &[arg(
                    "version",
                    ArgType::Version("migration version"),
                    "the applied migration to alter",
                )],
                exactly_one_of: &[],
            },
            OK_ERROR,
        )
    },
    StepRule {
        capability: Some(Capability::StepwiseMigration),
        ..step(
            "migrate_to",
            SETUP,
            "migrate up to one schema version only, as an older release would have",
            Arguments::Map {
                args: &[arg(
                    "version",
                    ArgType::Version("schema version"),
                    "the version to stop at",
                )],
                exactly_one_of: &[],
            },
            &[F::Ok, F::Applied, F::Error, F::OneOf],
        )
    },
    StepRule {
        expects: Expects::Nothing("put the expectation on the background step it waits for"),
        no_session: Some("it waits, from the scenario's own thread, for the session it names"),
        ..step(
            "await",
            RUNNER,
            "wait for the named session's background step and check its `expect`",
            Arguments::Name {
                name: "session",
                word: "session name",
                meaning: "the session whose background step to wait for",
            },
            &[],
        )
    },
    StepRule {
        concurrent: true,
        ..step(
            "deliver",
            AUDIT_AND_OUTBOX,
            "a relay pass: read pending events into the delivery log and acknowledge them",
            Arguments::Map {
                args: &[
                    LIMIT,
                    opt(
                        "acknowledge",
                        ArgType::Flag("\"acknowledge\""),
                        "`false`: a relay that crashes before acknowledging; default `true`",
                    ),
                ],
                exactly_one_of: &[],
            },
            LISTING,
        )
    },
    step(
        "delivered",
        AUDIT_AND_OUTBOX,
        "every event the relay delivered so far, in delivery order, repeats included",
        NO_ARGUMENTS,
        LISTING,
    ),
    step(
        "inject_fault",
        RUNNER,
        "arm a fault for the store's next commit",
        Arguments::Map {
            args: &[
                Argument {
                    capability: Some(Capability::FaultInjection),
                    ..opt(
                        "commit_fails_at",
                        ArgType::Position("\"commit_fails_at\""),
                        "fail the commit with `unavailable` just before its K-th change",
                    )
                },
                Argument {
                    capability: Some(Capability::BackendTermination),
                    ..opt(
                        "terminate_backend_at",
                        ArgType::Position("\"terminate_backend_at\""),
                        "kill the store's server connection just before the K-th change",
                    )
                },
            ],
            exactly_one_of: &["commit_fails_at", "terminate_backend_at"],
        },
        OK_ERROR,
    ),
    StepRule {
        capability: Some(Capability::DurableReopen),
        no_session: Some(
            "it runs on the scenario's own thread and drops every session's open transactions",
        ),
        ..step(
            "reopen",
            RUNNER,
            "drop every open transaction, close the store and open it again from durable storage",
            NO_ARGUMENTS,
            OK_ERROR,
        )
    },
    StepRule {
        no_session: Some("each copy runs on a thread of its own"),
        ..step(
            "concurrently",
            RUNNER,
            "run copies of one auto-commit operation at the same moment, each on a thread of its own",
            Arguments::Map {
                args: &[
                    arg("times", ArgType::Copies, "how many copies"),
                    arg(
                        "step",
                        ArgType::CopyStep,
                        "the operation each copy runs, in a transaction of its own (no `tx`)",
                    ),
                ],
                exactly_one_of: &[],
            },
            &[F::Ok, F::Outcomes, F::Error],
        )
    },
];

/// The row of `keyword`.
pub fn step_rule(keyword: &str) -> Option<&'static StepRule> {
    STEPS.iter().find(|s| s.keyword == keyword)
}

const fn count_where(concurrent_only: bool) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < STEPS.len() {
        if !concurrent_only || STEPS[i].concurrent {
            n += 1;
        }
        i += 1;
    }
    n
}

const fn keywords<const N: usize>(concurrent_only: bool) -> [&'static str; N] {
    let mut out = [""; N];
    let mut n = 0;
    let mut i = 0;
    while i < STEPS.len() {
        if !concurrent_only || STEPS[i].concurrent {
            out[n] = STEPS[i].keyword;
            n += 1;
        }
        i += 1;
    }
    out
}

pub(crate) const ALL_KEYWORDS: [&str; count_where(false)] = keywords(false);
pub(crate) const COPYABLE_KEYWORDS: [&str; count_where(true)] = keywords(true);

/// The step reference of `docs/spec-format.md`: one table per group, one row per step with its
/// arguments, expectations and capability, then every expectation form and every capability.
/// Generated from [`STEPS`], [`Form::ALL`] and [`Capability::ALL`]; a test keeps the document in
/// sync.
pub fn step_reference() -> String {
    let mut out = String::new();
    let mut groups: Vec<&str> = Vec::new();
    for rule in STEPS {
        if !groups.contains(&rule.group) {
            groups.push(rule.group);
        }
    }
    for group in groups {
        out.push_str(&format!("### {group}\n\n"));
        out.push_str("| step | arguments | `expect` | notes |\n|---|---|---|---|\n");
        for rule in STEPS.iter().filter(|r| r.group == group) {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                rule.keyword,
                arguments_cell(rule),
                expects_cell(rule),
                notes_cell(rule)
            ));
        }
        out.push('\n');
    }
    out.push_str("### Expectation forms\n\n| form | means |\n|---|---|\n");
    for form in Form::ALL {
        out.push_str(&format!("| `{}` | {} |\n", form.shape(), form.meaning()));
    }
    out.push_str(
        "\n### Capabilities\n\n\
         A scenario that `requires` a capability runs only on adapters that declare it; one that \
         `excludes` it runs only on adapters that do not (a capability may not be in both). Every \
         capability is required or excluded by at least one scenario — a test of the spec crate \
         checks it.\n\n| capability | declaring it promises |\n|---|---|\n",
    );
    for capability in Capability::ALL {
        out.push_str(&format!(
            "| `{}` | {} |\n",
            capability.name(),
            capability.meaning()
        ));
    }
    out
}

fn arguments_cell(rule: &StepRule) -> String {
    match rule.arguments {
        Arguments::None => "`{}`".to_owned(),
        Arguments::Name { meaning, .. } => format!("`NAME`: {meaning}"),
        Arguments::Map {
            args,
            exactly_one_of,
        } => {
            let mut items: Vec<String> = args
                .iter()
                .map(|a| {
                    format!(
                        "`{}` {}: {}",
                        a.shape_key(),
                        a.ty.describe(),
                        a.meaning.replace('|', "\\|")
                    )
                })
                .collect();
            if !exactly_one_of.is_empty() {
                let keys: Vec<String> = exactly_one_of.iter().map(|k| format!("`{k}`")).collect();
                items.push(format!("exactly one of {}", keys.join(", ")));
            }
            items.join("<br>")
        }
    }
}

fn expects_cell(rule: &StepRule) -> String {
    match rule.expects {
        Expects::Nothing(why) => format!("none: {why}"),
        Expects::Forms(forms) => {
            let mut shapes: Vec<String> =
                forms.iter().map(|f| format!("`{}`", f.shape())).collect();
            for form in rule.copy_expects {
                shapes.push(format!("in `concurrently`: `{}`", form.shape()));
            }
            shapes.join(", ")
        }
    }
}

fn notes_cell(rule: &StepRule) -> String {
    let mut notes = Vec::new();
    if let Some(capability) = rule.capability {
        notes.push(format!("requires `{}`", capability.name()));
    }
    if let Arguments::Map { args, .. } = rule.arguments {
        for a in args {
            if let Some(capability) = a.capability {
                notes.push(format!("`{}` requires `{}`", a.name, capability.name()));
            }
        }
    }
    if rule.concurrent {
        notes.push("`concurrently` may run it".to_owned());
    }
    if rule.captures {
        notes.push("takes `as: NAME`".to_owned());
    }
    if let Some(why) = rule.no_session {
        notes.push(format!("no `session`/`background`: {why}"));
    }
    notes.join("; ")
}
