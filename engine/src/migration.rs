//! The ordered migration manifest: the single source of [`LATEST_SCHEMA_VERSION`].

use serde::Serialize;

use crate::ids::RecordKind;

/// One schema migration, as every backend must apply it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Migration {
    /// Position in the manifest; versions start at 1 and grow by one.
    pub version: u32,
    /// File stem of the SQL files, e.g. `0001_user_engine_store` in `migrations/<backend>/`.
    pub name: &'static str,
    /// What it does, in one line.
    pub description: &'static str,
    /// The logical record kinds this migration makes storable.
    pub kinds: &'static [RecordKind],
}

/// Every migration, in order. Append only: an applied migration is never edited (readiness
/// reports drift), a change ships as a new entry.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_user_engine_store",
        description: "schema versions, logical records, audit records and the transactional outbox",
        kinds: &[
            RecordKind::User,
            RecordKind::Profile,
            RecordKind::ContactPoint,
            RecordKind::AuthFactor,
            RecordKind::Consent,
            RecordKind::Preference,
        ],
    },
    Migration {
        version: 2,
        name: "0002_versions_survive_delete",
        description: "a deleted record keeps its key and last version, so versions never repeat",
        kinds: &[],
    },
];

/// The schema version a fully migrated store is at: the last manifest entry's.
pub const LATEST_SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

impl Migration {
    /// The SQL file name for this migration, e.g. `0001_user_engine_store.sql`.
    pub fn file_name(&self) -> String {
        format!("{}.sql", self.name)
    }

    /// A checksum of the manifest entry itself, for stores that run no SQL.
    pub fn manifest_checksum(&self) -> String {
        let kinds: Vec<&str> = self.kinds.iter().map(|k| k.as_str()).collect();
        checksum(&format!(
            "{}\n{}\n{}\n{}",
            self.version,
            self.name,
            self.description,
            kinds.join(",")
        ))
    }
}

/// Looks a migration up by version.
pub fn migration(version: u32) -> Option<&'static Migration> {
    MIGRATIONS.iter().find(|m| m.version == version)
}

/// The stable checksum recorded for an applied migration: FNV-1a (64-bit) as 16 hex digits.
///
/// It detects edits to an applied migration; it is not meant to resist deliberate collisions.
pub fn checksum(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// A migration that a store has applied, with the checksum recorded at the time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppliedMigration {
    /// Its version.
    pub version: u32,
    /// The checksum recorded when it was applied.
    pub checksum: String,
}

/// What one call to [`crate::UserEngineStore::migrate`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MigrationReport {
    /// Versions applied by this call, in order; empty when the store was already current.
    pub applied: Vec<u32>,
    /// The store's schema version afterwards.
    pub schema_version: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_versions_start_at_one_and_increase_by_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.name);
            assert!(
                m.name.starts_with(&format!("{:04}_", m.version)),
                "{}",
                m.name
            );
        }
        assert_eq!(LATEST_SCHEMA_VERSION as usize, MIGRATIONS.len());
    }

    #[test]
    fn every_record_kind_is_introduced_exactly_once() {
        for kind in RecordKind::ALL {
            let n = MIGRATIONS
                .iter()
                .filter(|m| m.kinds.contains(&kind))
                .count();
            assert_eq!(n, 1, "{kind} introduced {n} times");
        }
    }

    #[test]
    fn checksum_is_stable_and_sensitive() {
        assert_eq!(checksum(""), "cbf29ce484222325");
        assert_eq!(checksum("a"), "af63dc4c8601ec8c");
        assert_ne!(checksum("create table t;"), checksum("create table t ;"));
    }

    /// Each backend's SQL folder holds exactly one file per manifest entry, and nothing else.
    #[test]
    fn sql_folders_match_the_manifest() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
        if !root.is_dir() {
            // Packaged alone: the SQL lives in the repository and in each adapter's package.
            eprintln!(
                "note: {} is absent (packaged alone), so the SQL folders are not checked",
                root.display()
            );
            return;
        }
        let mut backends: Vec<std::path::PathBuf> = std::fs::read_dir(&root)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()))
            .map(|entry| entry.expect("directory entry").path())
            .collect();
        backends.sort();
        assert!(
            backends.len() >= 2,
            "no backend folders in {}",
            root.display()
        );
        for dir in backends {
            let backend = dir.file_name().unwrap().to_string_lossy().into_owned();
            let mut found: Vec<String> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
                .map(|entry| {
                    entry
                        .expect("directory entry")
                        .file_name()
                        .to_string_lossy()
                        .into_owned()
                })
                .collect();
            found.sort();
            let expected: Vec<String> = MIGRATIONS.iter().map(Migration::file_name).collect();
            assert_eq!(
                found, expected,
                "migrations/{backend} does not match the manifest"
            );
        }
    }
}
