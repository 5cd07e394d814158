//! Broken adapters that get records wrong: keys, versions, expectations, deletes, round trips
//! (store-contract C1–C5).

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::Value;
use user_engine::{
    Expectation, Page, Payload, Record, RecordKey, RecordKind, RecordWrite, StoreError, TenantId,
    TenantQuery, UserEngineStore, UserId,
};

use super::base::{Broken, BrokenTx, Change, Fault, lock, race_window};

/// Breaks `store-contract#records-key`: `get` finds a record by tenant and id under whichever kind
/// holds that id first, as if the kind were not part of the key.
#[derive(Default)]
pub(crate) struct GetIgnoresKind;

impl Fault for GetIgnoresKind {
    const BREAKS: &'static str = "records-key";

    fn get(&self, store: &Broken<Self>, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        for kind in RecordKind::ALL {
            if let Some(found) =
                store
                    .inner
                    .get(&RecordKey::new(key.tenant.clone(), kind, key.id.clone()))?
            {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }
}

/// Breaks `store-contract#records-version`: every write skips a version (1, 3, 5 ...), so a
/// record's versions do not grow by exactly one.
#[derive(Default)]
pub(crate) struct VersionNotIncremented;

impl Fault for VersionNotIncremented {
    const BREAKS: &'static str = "records-version";

    fn save(
        &self,
        tx: &mut BrokenTx<'_, Self>,
        write: RecordWrite,
        expect: Expectation,
    ) -> Result<Record, StoreError> {
        let exists = tx.inner().get(&write.key)?.is_some();
        let first = tx.inner().save(write.clone(), expect)?;
        if !exists {
            return Ok(first);
        }
        tx.inner().save(write, Expectation::Any)
    }
}

/// Breaks `store-contract#records-expectation`: expectations are dropped, every write is
/// last-writer-wins.
#[derive(Default)]
pub(crate) struct ExpectationsIgnored;

impl Fault for ExpectationsIgnored {
    const BREAKS: &'static str = "records-expectation";

    fn save(
        &self,
        tx: &mut BrokenTx<'_, Self>,
        write: RecordWrite,
        _expect: Expectation,
    ) -> Result<Record, StoreError> {
        tx.inner().save(write, Expectation::Any)
    }

    fn delete(
        &self,
        tx: &mut BrokenTx<'_, Self>,
        key: &RecordKey,
        _expect: Expectation,
    ) -> Result<(), StoreError> {
        tx.inner().delete(key, Expectation::Any)
    }
}

/// Breaks `store-contract#records-expectation`: a write's expectation is checked when the write is
/// made but not again at commit, so two transactions racing on `if: absent` can both win.
#[derive(Default)]
pub(crate) struct NoCommitTimeRecheck;

impl Fault for NoCommitTimeRecheck {
    const BREAKS: &'static str = "records-expectation";

    fn save(
        &self,
        tx: &mut BrokenTx<'_, Self>,
        write: RecordWrite,
        expect: Expectation,
    ) -> Result<Record, StoreError> {
        let actual = tx.inner().get(&write.key)?.map(|r| r.version);
        if !expect.admits(actual) {
            return Err(StoreError::Conflict {
                key: write.key,
                expected: expect,
                actual,
            });
        }
        if expect != Expectation::Any {
            // The round trip between checking a guarded write and making it: a writer started at
            // the same moment (a `concurrently` copy) passes the same check.
            race_window();
        }
        tx.inner().save(write, Expectation::Any)
    }
}

/// Breaks `store-contract#records-delete`: deleting a missing record quietly succeeds.
#[derive(Default)]
pub(crate) struct DeleteMissingSucceeds;

impl Fault for DeleteMissingSucceeds {
    const BREAKS: &'static str = "records-delete";

    fn delete(
        &self,
        tx: &mut BrokenTx<'_, Self>,
        key: &RecordKey,
        expect: Expectation,
    ) -> Result<(), StoreError> {
        match tx.inner().delete(key, expect) {
            Err(StoreError::NotFound { .. }) => Ok(()),
            other => other,
        }
    }
}

/// Breaks `store-contract#records-delete`: deletes are soft, and the tenant and user listings
/// forget to filter the tombstones out (`get` still says the record is gone).
#[derive(Default)]
pub(crate) struct DeletedStillListed {
    tombstones: Mutex<BTreeMap<RecordKey, Record>>,
}

impl DeletedStillListed {
    fn with_tombstones(
        &self,
        mut records: Vec<Record>,
        keep: impl Fn(&Record) -> bool,
    ) -> Vec<Record> {
        records.extend(lock(&self.tombstones).values().filter(|r| keep(r)).cloned());
        records.sort_by(|a, b| a.key.cmp(&b.key));
        records
    }
}

impl Fault for DeletedStillListed {
    const BREAKS: &'static str = "records-delete";

    fn commit(&self, tx: &mut BrokenTx<'_, Self>) -> Result<(), StoreError> {
        let mut doomed = Vec::new();
        for change in &tx.log.changes {
            match change {
                Change::Deleted(key) => doomed.extend(tx.store.inner.get(key)?),
                Change::Saved(write) => doomed.retain(|r: &Record| r.key != write.key),
            }
        }
        tx.take().commit()?;
        let mut tombstones = lock(&self.tombstones);
        for change in &tx.log.changes {
            if let Change::Saved(write) = change {
                tombstones.remove(&write.key);
            }
        }
        tombstones.extend(doomed.into_iter().map(|r| (r.key.clone(), r)));
        Ok(())
    }

    fn list_tenant(&self, store: &Broken<Self>, query: &TenantQuery) -> Result<Page, StoreError> {
        let page = store.inner.list_tenant(query)?;
        if query.after.is_some() || query.limit.is_some() {
            return Ok(page);
        }
        let keep =
            |r: &Record| r.key.tenant == query.tenant && query.kind.is_none_or(|k| r.key.kind == k);
        Ok(Page {
            records: self.with_tombstones(page.records, keep),
            next: None,
        })
    }

    fn list_user(
        &self,
        store: &Broken<Self>,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<Vec<Record>, StoreError> {
        let listed = store.inner.list_user(tenant, user)?;
        Ok(self.with_tombstones(listed, |r| {
            &r.key.tenant == tenant && r.user.as_ref() == Some(user)
        }))
    }
}

/// Breaks `store-contract#records-round-trip`: rewriting a record keeps its first owner.
#[derive(Default)]
pub(crate) struct OwnerNeverChanges;

impl Fault for OwnerNeverChanges {
    const BREAKS: &'static str = "records-round-trip";

    fn save(
        &self,
        tx: &mut BrokenTx<'_, Self>,
        mut write: RecordWrite,
        expect: Expectation,
    ) -> Result<Record, StoreError> {
        if let Some(current) = tx.inner().get(&write.key)? {
            write.user = current.user;
        }
        tx.inner().save(write, expect)
    }
}

/// Breaks `store-contract#records-round-trip`: numbers in a payload are stored as text, as a
/// careless mapping onto a text-only column would do.
#[derive(Default)]
pub(crate) struct NumbersStoredAsText;

/// `value` with `change` applied to every scalar in it, however deep.
fn map_scalars(value: Value, change: &impl Fn(Value) -> Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| map_scalars(item, change))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, map_scalars(v, change)))
                .collect(),
        ),
        scalar => change(scalar),
    }
}

impl NumbersStoredAsText {
    fn as_text(value: Value) -> Value {
        map_scalars(value, &|scalar| match scalar {
            Value::Number(n) => Value::String(n.to_string()),
            other => other,
        })
    }
}

/// Breaks `store-contract#records-round-trip`: a string longer than 1 MiB is cut to its first
/// MiB, as a column of limited size would keep it. A scenario file holds at most 1 MiB, so no
/// scenario can write such a string; the behaviour check of large payloads does.
#[derive(Default)]
pub(crate) struct LongTextCutAtOneMiB;

impl LongTextCutAtOneMiB {
    const LIMIT: usize = 1024 * 1024;

    fn cut(value: Value) -> Value {
        map_scalars(value, &|scalar| match scalar {
            Value::String(text) if text.len() > Self::LIMIT => {
                let mut end = Self::LIMIT;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                Value::String(text[..end].to_owned())
            }
            other => other,
        })
    }
}

impl Fault for LongTextCutAtOneMiB {
    const BREAKS: &'static str = "records-round-trip";

    fn save(
        &self,
        tx: &mut BrokenTx<'_, Self>,
        mut write: RecordWrite,
        expect: Expectation,
    ) -> Result<Record, StoreError> {
        write.payload = Payload::new(Self::cut(write.payload.into_exposed()));
        tx.inner().save(write, expect)
    }
}

impl Fault for NumbersStoredAsText {
    const BREAKS: &'static str = "records-round-trip";

    fn save(
        &self,
        tx: &mut BrokenTx<'_, Self>,
        mut write: RecordWrite,
        expect: Expectation,
    ) -> Result<Record, StoreError> {
        write.payload = Payload::new(Self::as_text(write.payload.into_exposed()));
        tx.inner().save(write, expect)
    }
}
