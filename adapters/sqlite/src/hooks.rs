//! The conformance hooks (`user_engine::ConformanceHooks`): tampering with a recorded migration,
//! failing the next commit part-way (`fault_injection`) and closing and reopening the file
//! (`durable_reopen`). An embedded store has no server connection, so `terminate_backend_at` is
//! `unsupported`.

use rusqlite::OptionalExtension;
use user_engine::kit;
use user_engine::migration::MigrationReport;
use user_engine::{ConformanceHooks, InjectedFault, StoreError};

use crate::error::map;
use crate::rows;
use crate::store::SqliteUserEngineStore;

impl ConformanceHooks for SqliteUserEngineStore {
    fn tamper_applied_migration(&self, version: u32) -> Result<(), StoreError> {
        let conn = self.connection();
        let not_applied =
            || StoreError::invalid(format!("migration {version} has not been applied"));
        if rows::applied_migrations(&conn)?.is_none() {
            return Err(not_applied());
        }
        let recorded: String = conn
            .prepare_cached("SELECT checksum FROM user_engine_schema_versions WHERE version = ?1")
            .and_then(|mut s| s.query_row([version], |r| r.get(0)).optional())
            .map_err(|e| map("tampering with a migration", &e))?
            .ok_or_else(not_applied)?;
        conn.prepare_cached(
            "UPDATE user_engine_schema_versions SET checksum = ?1 WHERE version = ?2",
        )
        .and_then(|mut s| {
            s.execute(rusqlite::params![
                kit::tampered_checksum(&recorded),
                version
            ])
        })
        .map_err(|e| map("tampering with a migration", &e))?;
        Ok(())
    }

    /// Arms a commit failure: the next commit fails with `unavailable` just before its K-th
    /// change, inside its `BEGIN IMMEDIATE` transaction, which then rolls back
    /// (`transaction.rs`). `TerminateBackendAt` is `unsupported` and arms nothing.
    fn inject_fault(&self, fault: InjectedFault) -> Result<(), StoreError> {
        self.fault().arm(fault, |fault| {
            matches!(fault, InjectedFault::CommitFailsAt { .. })
        })
    }

    fn migrate_to(&self, version: u32) -> Result<MigrationReport, StoreError> {
        self.latch()
            .migrating(version, || crate::lifecycle::migrate(self, version))
    }

    /// Closes the connection and opens the same file again. Transactions hold nothing in the
    /// file before commit, so what survives is exactly what was committed; an armed fault does
    /// not survive either.
    fn reopen(&self) -> Result<(), StoreError> {
        self.reopen_connection()
    }
}
