//! `Diagnostics`: schema version and counts, nothing else, with the stable rendering snapshots pin.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::ids::RecordKind;

/// What a store reports about itself: the schema version and counts.
///
/// It holds numbers only, so it cannot carry a payload value by construction. `render` (and
/// `Display`) is the stable text the conformance snapshots pin; every adapter must produce the
/// same text for the same logical state.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize)]
pub struct Diagnostics {
    /// Applied schema version (`None`: not migrated).
    pub schema_version: Option<u32>,
    /// Live records per kind; kinds without records may be absent (they render as 0).
    pub records: BTreeMap<RecordKind, u64>,
    /// Distinct tenants holding at least one live record.
    pub tenants: u64,
    /// Committed audit entries.
    pub audit_entries: u64,
    /// Committed outbox events not yet acknowledged.
    pub outbox_pending: u64,
    /// Outbox events acknowledged by the relay.
    pub outbox_acknowledged: u64,
}

impl Diagnostics {
    /// The count for one kind (0 when absent).
    pub fn records_of(&self, kind: RecordKind) -> u64 {
        self.records.get(&kind).copied().unwrap_or(0)
    }

    /// The total of live records.
    pub fn total_records(&self) -> u64 {
        self.records.values().sum()
    }

    /// The stable text rendering, one fact per line, every kind listed.
    pub fn render(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.schema_version {
            Some(v) => writeln!(
                f,
                "schema_version: {v} (latest {})",
                crate::LATEST_SCHEMA_VERSION
            )?,
            None => writeln!(
                f,
                "schema_version: none (latest {})",
                crate::LATEST_SCHEMA_VERSION
            )?,
        }
        writeln!(f, "tenants: {}", self.tenants)?;
        writeln!(f, "records: {}", self.total_records())?;
        for kind in RecordKind::ALL {
            writeln!(f, "  {}: {}", kind, self.records_of(kind))?;
        }
        writeln!(f, "audit_entries: {}", self.audit_entries)?;
        writeln!(f, "outbox:")?;
        writeln!(f, "  pending: {}", self.outbox_pending)?;
        write!(f, "  acknowledged: {}", self.outbox_acknowledged)
    }
}
