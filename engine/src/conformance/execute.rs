//! The step interpreter: runs one scenario's seed and steps against one store.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::Value;
use user_engine_conformance_spec::{
    Expect, KeySpec, Operation, RecordSpec, Scenario, Seed, Step, VersionCondition,
};

use super::actual::{Actual, Mismatch, check};
use super::snapshot::SnapshotCheck;
use crate::{
    AuditEntry, Cursor, Expectation, OutboxMessage, Payload, RecordKey, RecordWrite, StoreError,
    StoreTransaction, TenantId, TenantQuery, UserEngineStore, UserId,
};

/// How a step failed, before it is located in the file.
pub(crate) enum StepFailure {
    Mismatch(Mismatch),
    /// The scenario could not be carried out (an unknown transaction name, a missing hook).
    Broken(String),
}

impl From<Mismatch> for StepFailure {
    fn from(m: Mismatch) -> Self {
        StepFailure::Mismatch(m)
    }
}

/// The state of one scenario run.
pub(crate) struct Execution<'s, S: UserEngineStore> {
    store: &'s S,
    scenario: &'s Scenario,
    canary: String,
    transactions: BTreeMap<String, Box<dyn StoreTransaction + 's>>,
    cursors: BTreeMap<String, Cursor>,
    tenants: BTreeSet<String>,
    /// `Display` and `Debug` of every error seen, for `check_redaction`.
    error_texts: Vec<String>,
    snapshots_taken: usize,
}

impl<'s, S: UserEngineStore> Execution<'s, S> {
    pub(crate) fn new(store: &'s S, scenario: &'s Scenario, canary: String) -> Self {
        Self {
            store,
            scenario,
            canary,
            transactions: BTreeMap::new(),
            cursors: BTreeMap::new(),
            tenants: BTreeSet::new(),
            error_texts: Vec::new(),
            snapshots_taken: 0,
        }
    }

    /// Puts the store in the scenario's `given` state through its public operations.
    pub(crate) fn seed(&mut self) -> Result<(), String> {
        let given = &self.scenario.given;
        if !(given.migrated || given.seed.is_some() || !given.records.is_empty()) {
            return Ok(());
        }
        self.store
            .migrate()
            .map_err(|e| format!("seed: migrate failed: {e}"))?;
        let mut records: Vec<RecordSpec> = match given.seed {
            Some(Seed::TwoTenants) => two_tenants(),
            None => Vec::new(),
        };
        records.extend(given.records.iter().cloned());
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self
            .store
            .begin()
            .map_err(|e| format!("seed: begin failed: {e}"))?;
        for spec in &records {
            self.tenants.insert(spec.tenant.clone());
            let write = self.write(
                &KeySpec {
                    tenant: spec.tenant.clone(),
                    kind: spec.kind.clone(),
                    id: spec.id.clone(),
                },
                spec.user.as_deref(),
                &spec.data,
            );
            let write = write.map_err(|e| format!("seed: bad record: {e}"))?;
            tx.save(write, Expectation::Any)
                .map_err(|e| format!("seed: save failed: {e}"))?;
        }
        tx.commit().map_err(|e| format!("seed: commit failed: {e}"))
    }

    /// Runs one step and checks its expectation.
    pub(crate) fn step(
        &mut self,
        step: &Step,
        snapshots: &SnapshotCheck,
    ) -> Result<(), StepFailure> {
        let result = self.perform(step)?;
        if let Err(e) = &result {
            self.error_texts.push(format!("{e}"));
            self.error_texts.push(format!("{e:?}"));
        }
        let expected_data = match &step.expect {
            Expect::Record {
                data: Some(data), ..
            } => Some(self.substitute(data)),
            _ => None,
        };
        check(&step.expect, expected_data.as_ref(), &result)?;
        if let (Expect::Snapshot, Ok(Actual::Diagnostics(d))) = (&step.expect, &result) {
            let name = self.scenario.snapshot_name(self.snapshots_taken);
            self.snapshots_taken += 1;
            snapshots.compare(&name, self.scenario, &d.render())?;
        }
        Ok(())
    }

    fn perform(&mut self, step: &Step) -> Result<Result<Actual, StoreError>, StepFailure> {
        let store = self.store;
        Ok(match &step.operation {
            Operation::Migrate => store.migrate().map(Actual::Migration),
            Operation::Readiness => Ok(Actual::Readiness(store.readiness())),
            Operation::Diagnostics => store.diagnostics().map(Actual::Diagnostics),
            Operation::Begin { tx } => match store.begin() {
                Ok(t) => {
                    self.transactions.insert(tx.clone(), t);
                    Ok(Actual::Unit)
                }
                Err(e) => Err(e),
            },
            Operation::Commit { tx } => self.take(tx)?.commit().map(|()| Actual::Unit),
            Operation::Rollback { tx } => self.take(tx)?.rollback().map(|()| Actual::Unit),
            Operation::Drop { tx } => {
                drop(self.take(tx)?);
                Ok(Actual::Unit)
            }
            Operation::PanicIn { tx } => {
                let open = self.take(tx)?;
                let unwound = catch_unwind(AssertUnwindSafe(move || {
                    let _open = open;
                    panic!("deliberate panic inside transaction `{tx}` (conformance scenario)");
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
                self.tenants.insert(tenant.clone());
                let after = match after {
                    Some(name) => Some(self.cursors.get(name).cloned().ok_or_else(|| {
                        StepFailure::Broken(format!(
                            "no cursor was captured as `{name}` (the previous page was the last)"
                        ))
                    })?),
                    None => None,
                };
                let query = (|| {
                    Ok::<_, StoreError>(TenantQuery {
                        tenant: TenantId::new(tenant.as_str())?,
                        kind: kind.as_deref().map(str::parse).transpose()?,
                        after,
                        limit: *limit,
                    })
                })();
                match query.and_then(|q| store.list_tenant(&q)) {
                    Ok(page) => {
                        if let (Some(name), Some(next)) = (&step.capture, &page.next) {
                            self.cursors.insert(name.clone(), next.clone());
                        } else if let Some(name) = &step.capture {
                            self.cursors.remove(name);
                        }
                        Ok(Actual::Records(page.records))
                    }
                    Err(e) => Err(e),
                }
            }
            Operation::ListUser { tenant, user } => {
                self.tenants.insert(tenant.clone());
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
                let entry = (|| {
                    let tenant = TenantId::new(tenant.as_str())?;
                    let target = match target {
                        Some(t) => Some(RecordKey::parse(&format!("{tenant}/{t}"))?),
                        None => None,
                    };
                    Ok::<_, StoreError>(AuditEntry {
                        tenant,
                        actor: actor.as_deref().map(UserId::new).transpose()?,
                        action: action.clone(),
                        target,
                    })
                })();
                match entry {
                    Ok(entry) => self.in_transaction(tx.as_deref(), |t| {
                        t.append_audit(entry).map(|()| Actual::Unit)
                    })?,
                    Err(e) => Err(e),
                }
            }
            Operation::ListAudit { tenant } => TenantId::new(tenant.as_str())
                .and_then(|t| store.list_audit(&t))
                .map(Actual::Audit),
            Operation::Enqueue {
                tx,
                tenant,
                topic,
                key,
                data,
            } => {
                self.tenants.insert(tenant.clone());
                let payload = Payload::new(self.substitute(data));
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
            Operation::Acknowledge { events, first } => self.acknowledge(events, *first)?,
            Operation::TamperMigration { version } => match store.conformance_hooks() {
                Some(hooks) => hooks
                    .tamper_applied_migration(*version)
                    .map(|()| Actual::Unit),
                None => Err(StoreError::Unsupported {
                    operation: "tamper_applied_migration",
                }),
            },
            Operation::CheckRedaction => {
                self.check_redaction()?;
                Ok(Actual::Unit)
            }
        })
    }

    fn acknowledge(
        &mut self,
        events: &[String],
        first: Option<usize>,
    ) -> Result<Result<Actual, StoreError>, StepFailure> {
        let pending = match self.store.outbox_pending(first.unwrap_or(10_000)) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let ids = if first.is_some() {
            pending.iter().map(|e| e.id).collect::<Vec<_>>()
        } else {
            let mut ids = Vec::new();
            let mut taken = BTreeSet::new();
            for name in events {
                let found = pending
                    .iter()
                    .find(|e| &e.to_string() == name && !taken.contains(&e.id));
                match found {
                    Some(event) => {
                        taken.insert(event.id);
                        ids.push(event.id);
                    }
                    None => {
                        let listed: Vec<String> = pending.iter().map(ToString::to_string).collect();
                        return Err(StepFailure::Mismatch(Mismatch {
                            expected: format!("event {name} to be pending"),
                            actual: format!("pending: [{}]", listed.join(", ")),
                        }));
                    }
                }
            }
            ids
        };
        Ok(self.store.acknowledge(&ids).map(Actual::Acknowledged))
    }

    fn check_redaction(&self) -> Result<(), StepFailure> {
        let mut places: Vec<(String, String)> =
            vec![("Debug of the store".to_owned(), format!("{:?}", self.store))];
        match self.store.diagnostics() {
            Ok(d) => {
                places.push(("diagnostics (Display)".to_owned(), d.to_string()));
                places.push(("diagnostics (Debug)".to_owned(), format!("{d:?}")));
            }
            Err(e) => places.push(("diagnostics error".to_owned(), format!("{e} {e:?}"))),
        }
        for tenant in &self.tenants {
            let Ok(tenant) = TenantId::new(tenant.as_str()) else {
                continue;
            };
            if let Ok(page) = self.store.list_tenant(&TenantQuery::all(tenant.clone())) {
                for r in &page.records {
                    places.push((
                        format!("record {} (Debug and Display)", r.key),
                        format!("{r:?} {r} {r:#?}"),
                    ));
                }
            }
            if let Ok(entries) = self.store.list_audit(&tenant) {
                places.push((
                    format!("audit entries of {tenant} (Debug)"),
                    format!("{entries:?}"),
                ));
            }
        }
        if let Ok(events) = self.store.outbox_pending(10_000) {
            for e in &events {
                places.push((
                    format!("outbox event {e} (Debug and Display)"),
                    format!("{e:?} {e}"),
                ));
            }
        }
        for (i, text) in self.error_texts.iter().enumerate() {
            places.push((
                format!("error message #{} seen in this scenario", i / 2 + 1),
                text.clone(),
            ));
        }
        let leaks: Vec<&str> = places
            .iter()
            .filter(|(_, text)| text.contains(&self.canary))
            .map(|(place, _)| place.as_str())
            .collect();
        if leaks.is_empty() {
            Ok(())
        } else {
            Err(StepFailure::Mismatch(Mismatch {
                expected: "the canary value nowhere in printed output".to_owned(),
                actual: format!("the canary value appears in: {}", leaks.join("; ")),
            }))
        }
    }

    fn take(&mut self, name: &str) -> Result<Box<dyn StoreTransaction + 's>, StepFailure> {
        self.transactions.remove(name).ok_or_else(|| {
            StepFailure::Broken(format!(
                "transaction `{name}` is not open (did `begin: {name}` fail?)"
            ))
        })
    }

    fn open(&mut self, name: &str) -> Result<&mut Box<dyn StoreTransaction + 's>, StepFailure> {
        self.transactions.get_mut(name).ok_or_else(|| {
            StepFailure::Broken(format!(
                "transaction `{name}` is not open (did `begin: {name}` fail?)"
            ))
        })
    }

    /// Runs `op` in the named transaction, or in one of its own that commits at once.
    fn in_transaction(
        &mut self,
        tx: Option<&str>,
        op: impl FnOnce(&mut dyn StoreTransaction) -> Result<Actual, StoreError>,
    ) -> Result<Result<Actual, StoreError>, StepFailure> {
        if let Some(name) = tx {
            return Ok(op(self.open(name)?.as_mut()));
        }
        let mut own = match self.store.begin() {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        Ok(match op(own.as_mut()) {
            Ok(actual) => own.commit().map(|()| actual),
            Err(e) => Err(e),
        })
    }

    fn write(
        &mut self,
        key: &KeySpec,
        user: Option<&str>,
        data: &Value,
    ) -> Result<RecordWrite, StoreError> {
        self.tenants.insert(key.tenant.clone());
        Ok(RecordWrite {
            key: record_key(key)?,
            user: user.map(UserId::new).transpose()?,
            payload: Payload::new(self.substitute(data)),
        })
    }

    /// Replaces `${canary}` in every string of `value` with this run's canary.
    fn substitute(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(s.replace("${canary}", &self.canary)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.substitute(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.substitute(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

fn record_key(key: &KeySpec) -> Result<RecordKey, StoreError> {
    Ok(RecordKey::new(
        TenantId::new(key.tenant.as_str())?,
        key.kind.parse()?,
        crate::RecordId::new(key.id.as_str())?,
    ))
}

fn expectation(condition: VersionCondition) -> Expectation {
    match condition {
        VersionCondition::Any => Expectation::Any,
        VersionCondition::Absent => Expectation::Absent,
        VersionCondition::Version(v) => Expectation::Version(v),
    }
}

/// The `two_tenants` seed: `acme` and `globex` with identical ids, so leaks across tenants show.
fn two_tenants() -> Vec<RecordSpec> {
    let mut records = Vec::new();
    for (tenant, name) in [("acme", "Ada"), ("globex", "Grace")] {
        let mut add = |kind: &str, id: &str, user: &str, data: Value| {
            records.push(RecordSpec {
                tenant: tenant.to_owned(),
                kind: kind.to_owned(),
                id: id.to_owned(),
                user: Some(user.to_owned()),
                data,
            });
        };
        add("user", "u1", "u1", serde_json::json!({"status": "active"}));
        add("user", "u2", "u2", serde_json::json!({"status": "active"}));
        add(
            "profile",
            "p1",
            "u1",
            serde_json::json!({"display_name": name}),
        );
        add(
            "contact_point",
            "c1",
            "u1",
            serde_json::json!({"email": format!("{}@{tenant}.example", name.to_lowercase())}),
        );
        add(
            "auth_factor",
            "f1",
            "u2",
            serde_json::json!({"type": "totp", "secret": "${canary}"}),
        );
        add(
            "preference",
            "pr1",
            "u2",
            serde_json::json!({"locale": "en"}),
        );
    }
    records
}
