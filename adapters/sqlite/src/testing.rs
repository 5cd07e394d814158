//! Test support: [`TempSqliteStore`], a store in a temporary file that is deleted afterwards.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::SqliteUserEngineStore;

/// A fresh, unmigrated [`SqliteUserEngineStore`] in its own temporary directory, removed on drop.
///
/// It is a store itself (every call is forwarded, through `user_engine::delegate_store!`), so it fits the
/// conformance suite's factory:
/// `conformance_suite!(TempSqliteStore::new)`.
///
/// ```
/// use user_engine::UserEngineStore;
/// use user_engine_sqlite::testing::TempSqliteStore;
///
/// let store = TempSqliteStore::new();
/// store.migrate().unwrap();
/// assert!(store.readiness().is_ready());
/// ```
pub struct TempSqliteStore {
    // Fields drop in order: the connection closes before the directory is removed.
    store: SqliteUserEngineStore,
    _dir: RemoveOnDrop,
}

/// Removes a directory tree when dropped.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        // Best effort: a leftover directory in the temp folder is not worth a panic in a test.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TempSqliteStore {
    /// Creates the directory and opens `store.db` in it.
    ///
    /// # Panics
    /// When the temporary directory or the database cannot be created: it is meant for tests.
    pub fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "user-engine-sqlite-{}-{n}-{nanos:08x}",
            std::process::id()
        ));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("cannot create temporary directory {}: {e}", dir.display());
        }
        match SqliteUserEngineStore::open(dir.join("store.db")) {
            Ok(store) => Self {
                store,
                _dir: RemoveOnDrop(dir),
            },
            Err(e) => panic!("cannot open a temporary sqlite store: {e}"),
        }
    }

    /// The store.
    pub fn store(&self) -> &SqliteUserEngineStore {
        &self.store
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        self.store.path()
    }
}

impl Default for TempSqliteStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for TempSqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TempSqliteStore").field(&self.store).finish()
    }
}

user_engine::delegate_store!(TempSqliteStore => |temp| &temp.store);
