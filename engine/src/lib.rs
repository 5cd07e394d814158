//! Tenant-scoped user records behind one store boundary, and the executable contract for it.
//!
//! The boundary is [`UserEngineStore`]: records keyed by tenant, kind and id, written through
//! transactions together with audit entries and outbox events, read back by tenant or user,
//! migrated through the ordered [`MIGRATIONS`] manifest, and reported on by [`Diagnostics`] that
//! hold counts only. [`InMemoryUserEngineStore`] is the reference adapter.
//!
//! ```
//! use serde_json::json;
//! use user_engine::*;
//!
//! # fn main() -> Result<(), StoreError> {
//! let store = InMemoryUserEngineStore::new();
//! store.migrate()?;
//! let key = RecordKey::parse("acme/profile/p1")?;
//! let mut tx = store.begin()?;
//! let write = RecordWrite { key: key.clone(), user: Some(UserId::new("u1")?), payload: Payload::new(json!({"display_name": "Ada"})) };
//! tx.save(write, Expectation::Absent)?;
//! tx.commit()?;
//! assert_eq!(store.get(&key)?.map(|r| r.version), Some(1));
//! assert_eq!(store.diagnostics()?.records_of(RecordKind::Profile), 1);
//! # Ok(())
//! # }
//! ```

mod diagnostics;
mod error;
mod ids;
mod memory;
pub mod migration;
mod payload;
mod readiness;
mod record;
mod store;

pub use diagnostics::Diagnostics;
pub use error::{ErrorKind, StoreError};
pub use ids::{MAX_ID_LEN, RecordId, RecordKey, RecordKind, TenantId, UserId};
pub use memory::InMemoryUserEngineStore;
pub use migration::{LATEST_SCHEMA_VERSION, MIGRATIONS, Migration, MigrationReport};
pub use payload::Payload;
pub use readiness::{NotReadyReason, Readiness};
pub use record::{AuditEntry, AuditRecord, EventId, Expectation, OutboxEvent, OutboxMessage, Record, RecordWrite};
pub use store::{ConformanceHooks, Cursor, Page, StoreTransaction, TenantQuery, UserEngineStore};
