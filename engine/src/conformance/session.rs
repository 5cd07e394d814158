//! A session: one thread's view of a scenario run — its open transactions — and the interpreter
//! for every step that runs inside one.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::Value;
use user_engine_conformance_spec::{
    Expect, FaultSpec, KeySpec, Operation, Scenario, Step, VersionCondition,
};

use super::actual::{Actual, Mismatch, check, describe_expect, describe_result};
use super::shared::{Shared, StepFailure};
use super::snapshot::SnapshotCheck;
use crate::{
    AuditEntry, EventId, Expectation, InjectedFault, OutboxMessage, Payload, RecordId, RecordKey,
    RecordWrite, StoreError, StoreTransaction, TenantId, TenantQuery, UserEngineStore, UserId,
};

/// The result of performing a step, before its expectation is checked.
pub(crate) type Performed = Result<Result<Actual, StoreError>, StepFailure>;

/// One session of a run: the transactions it has open.
pub(crate) struct Session<'s, S: UserEngineStore> {
    store: &'s S,
    shared: &'s Shared,
    scenario: &'s Scenario,
    transactions: BTreeMap<String, Box<dyn StoreTransaction + 's>>,
}

impl<'s, S: UserEngineStore> Session<'s, S> {
    pub(crate) fn new(store: &'s S, shared: &'s Shared, scenario: &'s Scenario) -> Self {
        Self {
            store,
            shared,
            scenario,
            transactions: BTreeMap::new(),
        }
    }

    /// Drops every open transaction (a rollback, as a crash would do).
    pub(crate) fn drop_transactions(&mut self) {
        self.transactions.clear();
    }

    /// Runs one step and checks its expectation.
    pub(crate) fn run(
        &mut self,
        step: &Step,
        snapshots: &SnapshotCheck<'_>,
    ) -> Result<(), StepFailure> {
        let result = self.perform(&step.operation, step.capture.as_deref())?;
        verify(self.shared, self.scenario, step, &result, snapshots)
    }

    pub(crate) fn perform(&mut self, operation: &Operation, capture: Option<&str>) -> Performed {
        let store = self.store;
        let shared = self.shared;
        Ok(match operation {
            Operation::Migrate => store.migrate().map(Actual::Migration),
            Operation::Readiness => Ok(Actual::Readiness(store.readiness())),
            Operation::Diagnostics => store.diagnostics().map(Actual::Diagnostics),
            Operation::Begin { tx } => store.begin().map(|t| {
                self.transactions.insert(tx.clone(), t);
                Actual::Unit
            }),
            Operation::Commit { tx } => self.take(tx)?.commit().map(|()| Actual::Unit),
            Operation::Rollback { tx } => self.take(tx)?.rollback().map(|()| Actual::Unit),
            Operation::Drop { tx } => {
                drop(self.take(tx)?);
                Ok(Actual::Unit)
            }
            Operation::PanicIn { tx } => {
                let open = self.take(tx)?;
                quiet_deliberate_panics();
                let unwound = catch_unwind(AssertUnwindSafe(move || {
                    let _open = open;
                    panic!("{DELIBERATE_PANIC} `{tx}` (conformance scenario)");
                }));
                if unwound.is_ok() {
                    return Err(StepFailure::Broken(
                        "the deliberate panic did not unwind".to_owned(),
                    ));
                }
                Ok(Actual::Unit)
            }
            Operation::Save {
                tx,
                key,
                user,
                data,
                condition,
            } => {
                let write = match self.write(key, user.as_deref(), data) {
                    Ok(w) => w,
                    Err(e) => return Ok(Err(e)),
                };
                let expect = expectation(*condition);
                self.in_transaction(tx.as_deref(), |t| {
                    t.save(write, expect).map(|r| Actual::Record(Some(r)))
                })?
            }
            Operation::Delete { tx, key, condition } => {
                let key = match record_key(key) {
                    Ok(k) => k,
                    Err(e) => return Ok(Err(e)),
                };
                let expect = expectation(*condition);
                self.in_transaction(tx.as_deref(), |t| {
                    t.delete(&key, expect).map(|()| Actual::Unit)
                })?
            }
            Operation::Get { tx, key } => {
                let key = match record_key(key) {
                    Ok(k) => k,
                    Err(e) => return Ok(Err(e)),
                };
                match tx {
                    Some(name) => self.open(name)?.get(&key).map(Actual::Record),
                    None => store.get(&key).map(Actual::Record),
                }
            }
            Operation::List {
                tenant,
                kind,
                limit,
                after,
            } => {
                shared.touch_tenant(tenant);
                let after = match after {
                    Some(name) => Some(shared.cursor(name).ok_or_else(|| {
                        StepFailure::Broken(format!("no cursor was captured as `{name}` (the page it came from was the last)"))
                    })?),
                    None => None,
                };
                let query = TenantId::new(tenant.as_str()).and_then(|tenant| {
                    Ok(TenantQuery {
                        tenant,
                        kind: kind.as_deref().map(str::parse).transpose()?,
                        after,
                        limit: *limit,
                    })
                });
                query.and_then(|q| store.list_tenant(&q)).map(|page| {
                    if let Some(name) = capture {
                        shared.set_cursor(name, page.next.clone());
                    }
                    Actual::Records(page.records)
                })
            }
            Operation::ListUser { tenant, user } => {
                shared.touch_tenant(tenant);
                TenantId::new(tenant.as_str())
                    .and_then(|t| Ok((t, UserId::new(user.as_str())?)))
                    .and_then(|(t, u)| store.list_user(&t, &u))
                    .map(Actual::Records)
            }
            Operation::Audit {
                tx,
                tenant,
                action,
                actor,
                target,
            } => {
                shared.touch_tenant(tenant);
                match audit_entry(tenant, action, actor.as_deref(), target.as_deref()) {
                    Ok(entry) => self.in_transaction(tx.as_deref(), |t| {
                        t.append_audit(entry).map(|()| Actual::Unit)
                    })?,
                    Err(e) => Err(e),
                }
            }
            Operation::ListAudit { tenant } => {
                shared.touch_tenant(tenant);
                TenantId::new(tenant.as_str())
                    .and_then(|t| store.list_audit(&t))
                    .map(Actual::Audit)
            }
            Operation::Enqueue {
                tx,
                tenant,
                topic,
                key,
                data,
            } => {
                shared.touch_tenant(tenant);
                let payload = Payload::new(shared.substitute(data));
                match TenantId::new(tenant.as_str()) {
                    Ok(tenant) => {
                        let message = OutboxMessage {
                            tenant,
                            topic: topic.clone(),
                            key: key.clone(),
                            payload,
                        };
                        self.in_transaction(tx.as_deref(), |t| {
                            t.enqueue(message).map(|()| Actual::Unit)
                        })?
                    }
                    Err(e) => Err(e),
                }
            }
            Operation::OutboxPending { limit } => store
                .outbox_pending(limit.unwrap_or(100))
                .map(Actual::Events),
            Operation::Acknowledge {
                events,
                first,
                again,
                twice,
                unknown,
                unissued,
            } => {
                let adjust = Adjust {
                    twice: *twice,
                    unknown: *unknown,
                    unissued: *unissued,
                };
                if *again {
                    store
                        .acknowledge(&adjust.apply(shared.last_acknowledged()))
                        .map(Actual::Acknowledged)
                } else {
                    self.acknowledge(events, *first, adjust)?
                }
            }
            Operation::Deliver { limit, acknowledge } => store
                .outbox_pending(limit.unwrap_or(100))
                .and_then(|events| {
                    shared.deliver(events.iter().map(ToString::to_string));
                    if *acknowledge && !events.is_empty() {
                        let ids: Vec<_> = events.iter().map(|e| e.id).collect();
                        store.acknowledge(&ids)?;
                    }
                    Ok(Actual::Events(events))
                }),
            Operation::Delivered => Ok(Actual::Delivered(shared.delivered())),
            Operation::MigrateTo { version } => match store.conformance_hooks() {
                Some(hooks) => hooks.migrate_to(*version).map(Actual::Migration),
                None => Err(StoreError::Unsupported {
                    operation: "migrate_to",
                }),
            },
            Operation::TamperMigration { version } => match store.conformance_hooks() {
                Some(hooks) => hooks
                    .tamper_applied_migration(*version)
                    .map(|()| Actual::Unit),
                None => Err(StoreError::Unsupported {
                    operation: "tamper_applied_migration",
                }),
            },
            Operation::InjectFault { fault } => {
                let fault = match *fault {
                    FaultSpec::CommitFailsAt(change) => InjectedFault::CommitFailsAt { change },
                    FaultSpec::TerminateBackendAt(change) => {
                        InjectedFault::TerminateBackendAt { change }
                    }
                };
                match store.conformance_hooks() {
                    Some(hooks) => hooks.inject_fault(fault).map(|()| Actual::Unit),
                    None => Err(StoreError::Unsupported {
                        operation: "inject_fault",
                    }),
                }
            }
            Operation::CheckRedaction => {
                super::redaction::check(store, shared)?;
                Ok(Actual::Unit)
            }
            Operation::Await { .. } | Operation::Reopen | Operation::Concurrently { .. } => {
                return Err(StepFailure::Broken(format!(
                    "`{}` is run by the coordinator, not inside a session",
                    operation.keyword()
                )));
            }
        })
    }

    fn acknowledge(
        &mut self,
        events: &[String],
        first: Option<usize>,
        adjust: Adjust,
    ) -> Performed {
        let pending = match self.store.outbox_pending(first.unwrap_or(10_000)) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let mut ids = Vec::new();
        if first.is_some() {
            ids.extend(pending.iter().map(|e| e.id));
        }
        let mut taken = BTreeSet::new();
        for name in events {
            let Some(event) = pending
                .iter()
                .find(|e| &e.to_string() == name && !taken.contains(&e.id))
            else {
                let listed: Vec<String> = pending.iter().map(ToString::to_string).collect();
                return Err(StepFailure::Mismatch(Mismatch {
                    expected: format!("event {name} to be pending"),
                    actual: format!("pending: [{}]", listed.join(", ")),
                }));
            };
            taken.insert(event.id);
            ids.push(event.id);
        }
        let ids = adjust.apply(ids);
        let result = self.store.acknowledge(&ids).map(Actual::Acknowledged);
        if result.is_ok() {
            self.shared.set_last_acknowledged(ids);
        }
        Ok(result)
    }

    fn take(&mut self, name: &str) -> Result<Box<dyn StoreTransaction + 's>, StepFailure> {
        self.transactions.remove(name).ok_or_else(|| not_open(name))
    }

    fn open(&mut self, name: &str) -> Result<&mut Box<dyn StoreTransaction + 's>, StepFailure> {
        self.transactions
            .get_mut(name)
            .ok_or_else(|| not_open(name))
    }

    /// Runs `op` in the named transaction, or in one of its own that commits at once.
    fn in_transaction(
        &mut self,
        tx: Option<&str>,
        op: impl FnOnce(&mut dyn StoreTransaction) -> Result<Actual, StoreError>,
    ) -> Performed {
        if let Some(name) = tx {
            return Ok(op(self.open(name)?.as_mut()));
        }
        Ok(self.store.begin().and_then(|mut own| {
            let actual = op(own.as_mut())?;
            own.commit().map(|()| actual)
        }))
    }

    fn write(
        &self,
        key: &KeySpec,
        user: Option<&str>,
        data: &Value,
    ) -> Result<RecordWrite, StoreError> {
        self.shared.touch_tenant(&key.tenant);
        Ok(RecordWrite {
            key: record_key(key)?,
            user: user.map(UserId::new).transpose()?,
            payload: Payload::new(self.shared.substitute(data)),
        })
    }
}

/// Checks a performed step against its `expect`, recording any error for `check_redaction`.
pub(crate) fn verify(
    shared: &Shared,
    scenario: &Scenario,
    step: &Step,
    result: &Result<Actual, StoreError>,
    snapshots: &SnapshotCheck<'_>,
) -> Result<(), StepFailure> {
    if let Err(e) = result {
        shared.record_error(e);
    }
    check_any(shared, &step.expect, result)?;
    if let (Expect::Snapshot, Ok(Actual::Diagnostics(d))) = (&step.expect, result) {
        let name = scenario.snapshot_name(shared.next_snapshot());
        snapshots.compare(&name, scenario, &d.render())?;
    }
    Ok(())
}

/// Checks `result` against `expect` (any alternative of a `one_of`), with the expectation's
/// payload after canary substitution.
fn check_any(
    shared: &Shared,
    expect: &Expect,
    result: &Result<Actual, StoreError>,
) -> Result<(), Mismatch> {
    match expect {
        Expect::OneOf(alternatives) => {
            if alternatives
                .iter()
                .any(|a| check_any(shared, a, result).is_ok())
            {
                Ok(())
            } else {
                Err(Mismatch {
                    expected: describe_expect(expect),
                    actual: describe_result(result),
                })
            }
        }
        Expect::Record {
            data: Some(data), ..
        } => check(expect, Some(&shared.substitute(data)), result),
        _ => check(expect, None, result),
    }
}

/// The message of the panic `panic_in` raises; the hook below keeps it out of test output.
const DELIBERATE_PANIC: &str = "deliberate panic inside transaction";

/// Installs, once per process, a panic hook that stays silent for `panic_in`'s own panics and
/// hands every other panic to the hook that was there before.
fn quiet_deliberate_panics() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied());
            if !message.is_some_and(|m| m.starts_with(DELIBERATE_PANIC)) {
                previous(info);
            }
        }));
    });
}

/// The id no store issues, for `acknowledge: {unknown: true}`: the largest there is, which no
/// signed 64-bit column holds, so an adapter that converts ids to its column type must refuse it
/// as unknown — one whose conversion maps it onto a real id (wrapping, or a fallback of 1) is
/// caught acknowledging that event.
pub(crate) const UNKNOWN_EVENT: EventId = EventId(u64::MAX);

/// The id for `acknowledge: {unissued: true}`: the largest a signed 64-bit column holds, which no
/// store's sequence reaches in a test. An adapter that refuses ids past its column's range but
/// checks the others only in some cases (say, only when it marked nothing) is caught marking the
/// listed pending events beside it.
pub(crate) const UNISSUED_EVENT: EventId = EventId(i64::MAX as u64);

/// What `twice`, `unknown` and `unissued` do to an acknowledgement's ids.
#[derive(Clone, Copy)]
struct Adjust {
    twice: bool,
    unknown: bool,
    unissued: bool,
}

impl Adjust {
    /// Every id twice (the list, then the list again), then the unknown one, then the unissued
    /// one.
    fn apply(self, mut ids: Vec<EventId>) -> Vec<EventId> {
        if self.twice {
            ids.extend(ids.clone());
        }
        if self.unknown {
            ids.push(UNKNOWN_EVENT);
        }
        if self.unissued {
            ids.push(UNISSUED_EVENT);
        }
        ids
    }
}

fn not_open(name: &str) -> StepFailure {
    StepFailure::Broken(format!(
        "transaction `{name}` is not open in this session (did `begin: {name}` fail?)"
    ))
}

pub(crate) fn record_key(key: &KeySpec) -> Result<RecordKey, StoreError> {
    Ok(RecordKey::new(
        TenantId::new(key.tenant.as_str())?,
        key.kind.parse()?,
        RecordId::new(key.id.as_str())?,
    ))
}

fn audit_entry(
    tenant: &str,
    action: &str,
    actor: Option<&str>,
    target: Option<&str>,
) -> Result<AuditEntry, StoreError> {
    let tenant = TenantId::new(tenant)?;
    let target = target
        .map(|t| RecordKey::parse(&format!("{tenant}/{t}")))
        .transpose()?;
    Ok(AuditEntry {
        tenant,
        actor: actor.map(UserId::new).transpose()?,
        action: action.to_owned(),
        target,
    })
}

fn expectation(condition: VersionCondition) -> Expectation {
    match condition {
        VersionCondition::Any => Expectation::Any,
        VersionCondition::Absent => Expectation::Absent,
        VersionCondition::Version(v) => Expectation::Version(v),
    }
}
