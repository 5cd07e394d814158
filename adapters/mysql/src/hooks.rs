//! The conformance hooks (`user_engine::ConformanceHooks`): tampering with a recorded migration,
//! failing the next commit part-way (`fault_injection`), killing the committing session part-way
//! (`backend_termination`), migrating to an older schema version (`stepwise_migration`), and
//! dropping every connection to connect anew (`durable_reopen`). Where a fault strikes is
//! `commit.rs`'s business.

use user_engine::kit;
use user_engine::migration::MigrationReport;
use user_engine::{ConformanceHooks, InjectedFault, StoreError};

use crate::error::map;
use crate::lifecycle::{self, applied};
use crate::store::MysqlUserEngineStore;

impl ConformanceHooks for MysqlUserEngineStore {
    fn tamper_applied_migration(&self, version: u32) -> Result<(), StoreError> {
        let mut conn = self.connection()?;
        let not_applied =
            || StoreError::invalid(format!("migration {version} has not been applied"));
        let applied = applied(&mut conn)?.unwrap_or_default();
        let recorded = applied
            .iter()
            .find(|a| a.version == version)
            .ok_or_else(not_applied)?;
        conn.execute(
            "UPDATE user_engine_schema_versions SET checksum = ? WHERE version = ?",
            (kit::tampered_checksum(&recorded.checksum), version),
        )
        .map_err(|e| map("tampering with a migration", &e))?;
        Ok(())
    }

    /// Arms either fault for the next commit. Just before its K-th change that commit either
    /// fails (`CommitFailsAt`: the database transaction is rolled back, the connection is
    /// healthy and goes back to the pool) or has its session killed from a second connection
    /// (`TerminateBackendAt`: the server rolls the transaction back as the session dies, and the
    /// dead connection is dropped). Either way the commit fails with `unavailable`.
    fn inject_fault(&self, fault: InjectedFault) -> Result<(), StoreError> {
        self.fault().arm(fault, |_| true)
    }

    /// Applies the manifest up to `version` only, under the migration lock, as an older release
    /// of this adapter would have.
    fn migrate_to(&self, version: u32) -> Result<MigrationReport, StoreError> {
        self.latch()
            .migrating(version, || lifecycle::migrate(self, version))
    }

    /// Closes every pooled connection and connects again (so an unreachable server is reported
    /// here). Everything committed is on the server; the caller has dropped every open
    /// transaction (each rolled back, or ended with its session), and an armed fault is disarmed,
    /// so nothing else survives.
    fn reopen(&self) -> Result<(), StoreError> {
        self.pool().reset();
        self.fault().disarm();
        // A store opened again has checked nothing yet.
        self.latch().forget();
        drop(self.connection()?);
        Ok(())
    }
}
