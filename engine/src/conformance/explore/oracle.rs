//! The oracle: runs a history step by step on a fresh reference store and a fresh store under
//! test, through the scenario runner's own session interpreter, and compares every observable
//! result. The first step whose results differ is the divergence.

use std::panic::{AssertUnwindSafe, catch_unwind};

use user_engine_conformance_spec::{Given, Location, Operation, Scenario};

use super::history::{Action, History};
use crate::conformance::actual::Actual;
use crate::conformance::coordinator::panic_text;
use crate::conformance::session::Session;
use crate::conformance::shared::{Shared, StepFailure};
use crate::{
    AuditEntry, Diagnostics, ErrorKind, InMemoryUserEngineStore, MigrationReport, NotReadyReason,
    OutboxMessage, Readiness, Record, RecordKind, StoreError, TenantId, TenantQuery,
    UserEngineStore,
};

/// Everything a step lets a caller observe, with the store's private choices (event ids, audit
/// sequence numbers, cursor tokens, error messages) left out.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Observation {
    Done,
    Failed(ErrorKind),
    Record(Option<Record>),
    /// A tenant page and, when it has a next cursor, the page that cursor leads to. `next` is
    /// `None` when the step captured no cursor (no limit).
    Page {
        records: Vec<Record>,
        next: Option<Option<Result<Vec<Record>, ErrorKind>>>,
    },
    Records(Vec<Record>),
    /// The entries, and whether their sequence numbers increase in listing order (C18; the
    /// numbers themselves are the store's to choose).
    Audit(Vec<AuditEntry>, bool),
    Events(Vec<OutboxMessage>),
    Acknowledged(usize),
    Migration(MigrationReport),
    Readiness(Readiness),
    /// With every kind counted, so two equal states compare equal whichever kinds a store
    /// leaves out at zero.
    Diagnostics(Diagnostics),
    /// The step could not be carried out (a transaction or cursor missing, an event not
    /// pending). From the reference, the history is not a valid one.
    Unusable(String),
    Panicked(String),
}

impl Observation {
    /// A one-line description without payload values.
    pub(crate) fn describe(&self) -> String {
        let keys = |records: &[Record]| {
            let items: Vec<String> = records.iter().map(describe_record).collect();
            format!("[{}]", items.join(", "))
        };
        match self {
            Observation::Done => "success".to_owned(),
            Observation::Failed(kind) => format!("error `{kind}`"),
            Observation::Record(None) => "no record".to_owned(),
            Observation::Record(Some(r)) => describe_record(r),
            Observation::Page { records, next } => {
                let next = match next {
                    None => String::new(),
                    Some(None) => ", no next cursor".to_owned(),
                    Some(Some(Ok(page))) => format!(", next page {}", keys(page)),
                    Some(Some(Err(kind))) => format!(", next page fails with `{kind}`"),
                };
                format!("{}{next}", keys(records))
            }
            Observation::Records(records) => keys(records),
            Observation::Audit(entries, increasing) => {
                let items: Vec<String> = entries
                    .iter()
                    .map(|e| {
                        let actor = e
                            .actor
                            .as_ref()
                            .map_or("none".to_owned(), |a| a.to_string());
                        let target = e
                            .target
                            .as_ref()
                            .map_or("none".to_owned(), |t| t.to_string());
                        format!("{} by {actor} on {target}", e.action)
                    })
                    .collect();
                let order = if *increasing {
                    ""
                } else {
                    ", sequence numbers out of order"
                };
                format!("[{}]{order}", items.join(", "))
            }
            Observation::Events(events) => {
                let items: Vec<String> = events
                    .iter()
                    .map(|m| format!("{}/{}/{} ({})", m.tenant, m.topic, m.key, m.payload))
                    .collect();
                format!("[{}]", items.join(", "))
            }
            Observation::Acknowledged(n) => format!("{n} acknowledged"),
            Observation::Migration(r) => format!(
                "applied {:?}, schema version {}",
                r.applied, r.schema_version
            ),
            Observation::Readiness(r) => r.to_string(),
            Observation::Diagnostics(d) => {
                let kinds: Vec<String> = d
                    .records
                    .iter()
                    .filter(|(_, n)| **n > 0)
                    .map(|(kind, n)| format!("{kind} {n}"))
                    .collect();
                let schema = d
                    .schema_version
                    .map_or("none".to_owned(), |v| v.to_string());
                format!(
                    "schema version {schema}, {} records ({}), {} tenants, {} audit entries, {} pending and {} acknowledged events",
                    d.total_records(),
                    kinds.join(", "),
                    d.tenants,
                    d.audit_entries,
                    d.outbox_pending,
                    d.outbox_acknowledged
                )
            }
            Observation::Unusable(why) => format!("not carried out: {why}"),
            Observation::Panicked(why) => format!("panic: {why}"),
        }
    }
}

/// Key, version and owner; the payload only by its shape (`Payload`'s `Display` hides values).
fn describe_record(r: &Record) -> String {
    let owner = r
        .user
        .as_ref()
        .map_or("no user".to_owned(), |u| format!("user {u}"));
    format!("{} v{} ({owner}, {})", r.key, r.version, r.payload)
}

/// One store driven through the runner's session interpreter.
pub(crate) struct Side<'s, T: UserEngineStore> {
    store: &'s T,
    shared: &'s Shared,
    session: Session<'s, T>,
}

impl<'s, T: UserEngineStore> Side<'s, T> {
    pub(crate) fn store(&self) -> &'s T {
        self.store
    }

    /// Performs one step and observes its result. A panic is caught and observed, so a store
    /// that panics is a divergence rather than the end of the run.
    pub(crate) fn perform(&mut self, action: &Action) -> Observation {
        let caught = catch_unwind(AssertUnwindSafe(|| self.perform_unguarded(action)));
        caught.unwrap_or_else(|panic| Observation::Panicked(panic_text(&panic)))
    }

    fn perform_unguarded(&mut self, action: &Action) -> Observation {
        let Action::Spec { operation, capture } = action;
        match self.session.perform(operation, capture.as_deref()) {
            Err(StepFailure::Broken(why)) => Observation::Unusable(why),
            Err(StepFailure::Mismatch(m)) => {
                Observation::Unusable(format!("expected {}, found {}", m.expected, m.actual))
            }
            Ok(result) => self.observe(operation, capture.as_deref(), result),
        }
    }

    fn observe(
        &self,
        operation: &Operation,
        capture: Option<&str>,
        result: Result<Actual, StoreError>,
    ) -> Observation {
        let actual = match result {
            Ok(actual) => actual,
            Err(e) => return Observation::Failed(e.kind()),
        };
        match actual {
            Actual::Unit => Observation::Done,
            Actual::Record(r) => Observation::Record(r),
            Actual::Records(records) => match operation {
                Operation::List {
                    tenant,
                    kind,
                    limit,
                    ..
                } => Observation::Page {
                    records,
                    next: capture.map(|name| self.follow(name, tenant, kind.as_deref(), *limit)),
                },
                _ => Observation::Records(records),
            },
            Actual::Audit(entries) => {
                let increasing = entries.windows(2).all(|w| w[0].sequence < w[1].sequence);
                Observation::Audit(entries.into_iter().map(|a| a.entry).collect(), increasing)
            }
            Actual::Events(events) => {
                Observation::Events(events.into_iter().map(|e| e.message).collect())
            }
            Actual::Acknowledged(n) => Observation::Acknowledged(n),
            Actual::Migration(report) => Observation::Migration(report),
            Actual::Readiness(readiness) => Observation::Readiness(normalized(readiness)),
            Actual::Diagnostics(mut d) => {
                for kind in RecordKind::ALL {
                    d.records.entry(kind).or_insert(0);
                }
                Observation::Diagnostics(d)
            }
            Actual::Delivered(_) => Observation::Unusable("`delivered` is not explored".to_owned()),
        }
    }

    /// The page a captured cursor leads to: cursors are compared by where they go, never by
    /// their token text.
    fn follow(
        &self,
        name: &str,
        tenant: &str,
        kind: Option<&str>,
        limit: Option<usize>,
    ) -> Option<Result<Vec<Record>, ErrorKind>> {
        let cursor = self.shared.cursor(name)?;
        let query = TenantId::new(tenant).and_then(|tenant| {
            Ok(TenantQuery {
                tenant,
                kind: kind.map(str::parse).transpose()?,
                after: Some(cursor),
                limit,
            })
        });
        Some(
            query
                .and_then(|q| self.store.list_tenant(&q))
                .map(|page| page.records)
                .map_err(|e| e.kind()),
        )
    }
}

/// Readiness without free text a store words its own way.
fn normalized(readiness: Readiness) -> Readiness {
    match readiness {
        Readiness::NotReady {
            reason: NotReadyReason::Unavailable { .. },
        } => Readiness::NotReady {
            reason: NotReadyReason::Unavailable {
                detail: String::new(),
            },
        },
        other => other,
    }
}

/// The scenario a session belongs to; sessions read nothing from it while performing steps.
fn placeholder_scenario() -> Scenario {
    Scenario {
        id: "explore/history".to_owned(),
        area: "explore".to_owned(),
        name: "history".to_owned(),
        summary: "an explored history".to_owned(),
        clause: "records-round-trip".to_owned(),
        requires: Vec::new(),
        excludes: Vec::new(),
        given: Given::default(),
        steps: Vec::new(),
        location: Location {
            file: "explore".to_owned(),
            line: 1,
            column: 1,
        },
    }
}

/// Runs `body` with a fresh reference and a fresh store from `factory`, each in a session of
/// its own. Open transactions are dropped before the stores are.
pub(crate) fn lockstep<S: UserEngineStore, R>(
    factory: &dyn Fn() -> S,
    body: impl FnOnce(&mut Side<'_, InMemoryUserEngineStore>, &mut Side<'_, S>) -> R,
) -> R {
    let scenario = placeholder_scenario();
    let reference = InMemoryUserEngineStore::new();
    let store = factory();
    let (reference_shared, store_shared) = (Shared::new(), Shared::new());
    let mut left = Side {
        store: &reference,
        shared: &reference_shared,
        session: Session::new(&reference, &reference_shared, &scenario),
    };
    let mut right = Side {
        store: &store,
        shared: &store_shared,
        session: Session::new(&store, &store_shared, &scenario),
    };
    body(&mut left, &mut right)
}

/// Where and how a history's results parted.
#[derive(Clone, Debug)]
pub(crate) struct Divergence {
    /// The step, 0-based.
    pub(crate) index: usize,
    pub(crate) keyword: &'static str,
    pub(crate) reference: Observation,
    pub(crate) store: Observation,
}

/// What replaying a history found.
pub(crate) enum Replay {
    /// Every step agreed.
    Agreed,
    /// The reference's observations up to the divergence (exclusive), and the divergence.
    Diverged(Vec<Observation>, Box<Divergence>),
    /// The reference could not carry a step out: not a valid history.
    Invalid,
}

/// Replays `history` on a fresh reference and a fresh store from `factory`.
pub(crate) fn replay<S: UserEngineStore>(history: &History, factory: &dyn Fn() -> S) -> Replay {
    lockstep(factory, |reference, store| {
        let mut seen = Vec::with_capacity(history.steps.len());
        for (index, action) in history.steps.iter().enumerate() {
            let expected = reference.perform(action);
            if let Observation::Unusable(_) = expected {
                return Replay::Invalid;
            }
            let found = store.perform(action);
            if found != expected {
                let divergence = Divergence {
                    index,
                    keyword: action.keyword(),
                    reference: expected,
                    store: found,
                };
                return Replay::Diverged(seen, Box::new(divergence));
            }
            seen.push(expected);
        }
        Replay::Agreed
    })
}

/// Counts of each observation kind, for tests that check the generator reaches every corner.
#[cfg(test)]
pub(crate) fn tally(
    observations: &[Observation],
    into: &mut std::collections::BTreeMap<String, usize>,
) {
    for o in observations {
        let name = match o {
            Observation::Failed(kind) => format!("error {kind}"),
            Observation::Page {
                next: Some(Some(_)),
                ..
            } => "page with next".to_owned(),
            other => format!("{other:?}")
                .split(['(', ' ', '{'])
                .next()
                .unwrap_or("")
                .to_owned(),
        };
        *into.entry(name).or_insert(0) += 1;
    }
}
