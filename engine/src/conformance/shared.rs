//! State every session of one scenario run shares: the canary, captured cursors, the tenants
//! touched, the error texts seen and the relay's delivery log.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde_json::Value;

use crate::Cursor;

/// How a step failed, before it is located in the file.
pub(crate) enum StepFailure {
    /// The step returned something other than its `expect`.
    Mismatch(super::actual::Mismatch),
    /// The scenario could not be carried out (an unknown transaction, a time limit, a panic).
    Broken(String),
}

impl From<super::actual::Mismatch> for StepFailure {
    fn from(m: super::actual::Mismatch) -> Self {
        StepFailure::Mismatch(m)
    }
}

/// Shared by every session (thread) of one run.
pub(crate) struct Shared {
    canary: String,
    cursors: Mutex<BTreeMap<String, Cursor>>,
    tenants: Mutex<BTreeSet<String>>,
    /// `Display` and `Debug` of every error seen, for `check_redaction`.
    error_texts: Mutex<Vec<String>>,
    /// Every event the relay delivered, in order, duplicates included.
    delivered: Mutex<Vec<String>>,
    /// The events the last `acknowledge` step acknowledged, for `acknowledge: {again: true}`.
    last_acknowledged: Mutex<Vec<crate::EventId>>,
    snapshots_taken: AtomicUsize,
}

/// A poisoned lock here only means another session's step panicked; the data is still whole.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub(crate) fn new() -> Self {
        Self {
            canary: new_canary(),
            cursors: Mutex::default(),
            tenants: Mutex::default(),
            error_texts: Mutex::default(),
            delivered: Mutex::default(),
            last_acknowledged: Mutex::default(),
            snapshots_taken: AtomicUsize::new(0),
        }
    }

    pub(crate) fn canary(&self) -> &str {
        &self.canary
    }

    pub(crate) fn touch_tenant(&self, tenant: &str) {
        lock(&self.tenants).insert(tenant.to_owned());
    }

    pub(crate) fn tenants(&self) -> Vec<String> {
        lock(&self.tenants).iter().cloned().collect()
    }

    pub(crate) fn set_cursor(&self, name: &str, cursor: Option<Cursor>) {
        let mut cursors = lock(&self.cursors);
        match cursor {
            Some(c) => cursors.insert(name.to_owned(), c),
            None => cursors.remove(name),
        };
    }

    pub(crate) fn cursor(&self, name: &str) -> Option<Cursor> {
        lock(&self.cursors).get(name).cloned()
    }

    pub(crate) fn record_error(&self, error: &crate::StoreError) {
        let mut texts = lock(&self.error_texts);
        texts.push(format!("{error}"));
        texts.push(format!("{error:?}"));
    }

    pub(crate) fn error_texts(&self) -> Vec<String> {
        lock(&self.error_texts).clone()
    }

    pub(crate) fn deliver(&self, events: impl IntoIterator<Item = String>) {
        lock(&self.delivered).extend(events);
    }

    pub(crate) fn delivered(&self) -> Vec<String> {
        lock(&self.delivered).clone()
    }

    pub(crate) fn set_last_acknowledged(&self, ids: Vec<crate::EventId>) {
        *lock(&self.last_acknowledged) = ids;
    }

    pub(crate) fn last_acknowledged(&self) -> Vec<crate::EventId> {
        lock(&self.last_acknowledged).clone()
    }

    /// The 0-based index of the next snapshot step.
    pub(crate) fn next_snapshot(&self) -> usize {
        self.snapshots_taken.fetch_add(1, Ordering::SeqCst)
    }

    /// Replaces `${canary}` in every string of `value` with this run's canary.
    pub(crate) fn substitute(&self, value: &Value) -> Value {
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

/// A value unique to this run that no store would produce by itself.
fn new_canary() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("cnry{:x}q{n:x}z", std::process::id())
}
