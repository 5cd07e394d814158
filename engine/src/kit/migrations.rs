//! Migration planning and readiness from the migrations a store has recorded: drift first, then
//! the schema version, and the plan of what `migrate` still has to apply.
//!
//! Every store keeps a list of [`AppliedMigration`]s (version and checksum). A
//! [`MigrationSource`] says what each manifest migration runs as on one backend — SQL files, or
//! nothing for a store that runs no SQL — and so which checksum a recorded migration must carry.

use std::borrow::Cow;
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::error::StoreError;
use crate::migration::{
    AppliedMigration, LATEST_SCHEMA_VERSION, MIGRATIONS, Migration, MigrationReport, checksum,
};
use crate::readiness::{NotReadyReason, Readiness};

/// What each manifest migration runs as on one backend.
///
/// ```
/// use user_engine::kit::MigrationSource;
/// use user_engine::migration::AppliedMigration;
///
/// const SQL: MigrationSource = MigrationSource::Sql {
///     package: "my-adapter",
///     files: &[
///         ("0001_user_engine_store", "CREATE TABLE user_engine_records (id TEXT);"),
///         ("0002_versions_survive_delete", "ALTER TABLE user_engine_records ADD deleted INT;"),
///     ],
/// };
/// let plan = SQL.plan(&[])?;
/// let report = plan.apply(|step| {
///     // run step.sql, then record (step.migration.version, step.migration.name, step.checksum)
///     Ok(())
/// })?;
/// assert_eq!(report.applied, [1, 2]);
/// let applied: Vec<AppliedMigration> = user_engine::MIGRATIONS
///     .iter()
///     .map(|m| AppliedMigration { version: m.version, checksum: SQL.checksum_of(m).unwrap() })
///     .collect();
/// assert!(SQL.readiness(Some(&applied)).is_ready());
/// # Ok::<(), user_engine::StoreError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrationSource {
    /// A store that runs no SQL: each migration is recorded with its manifest entry's checksum
    /// ([`Migration::manifest_checksum`]).
    Manifest,
    /// SQL files by manifest name (`Migration::name`), included in the adapter, run verbatim and
    /// recorded with [`checksum`] of their exact text.
    Sql {
        /// The adapter's package name, for the error when a file is missing from a build.
        package: &'static str,
        /// `(manifest name, SQL text)`, one per manifest entry, in manifest order.
        files: &'static [(&'static str, &'static str)],
    },
}

impl MigrationSource {
    /// The text a migration runs as: its SQL file, or `""` for [`MigrationSource::Manifest`];
    /// `unavailable` when this build has no file for it.
    pub fn sql_of(&self, migration: &Migration) -> Result<&'static str, StoreError> {
        match self {
            MigrationSource::Manifest => Ok(""),
            MigrationSource::Sql { package, files } => files
                .iter()
                .find(|(name, _)| *name == migration.name)
                .map(|(_, sql)| *sql)
                .ok_or_else(|| {
                    StoreError::unavailable(format!(
                        "migration {} ({}) has no SQL file in this build of {package}",
                        migration.version, migration.name
                    ))
                }),
        }
    }

    /// The checksum an applied migration must carry; `None` when this build cannot say (no file).
    pub fn checksum_of(&self, migration: &Migration) -> Option<String> {
        self.expected_checksum(migration).map(Cow::into_owned)
    }

    /// [`checksum_of`](Self::checksum_of), borrowed from the memo: each text is hashed once per
    /// process, not on every readiness check (`docs/performance.md`).
    fn expected_checksum(&self, migration: &Migration) -> Option<Cow<'static, str>> {
        let index = MIGRATIONS
            .iter()
            .position(|m| std::ptr::eq(m, migration) || m == migration);
        match index {
            Some(index) => self.expected().checksums[index]
                .as_deref()
                .map(Cow::Borrowed),
            // Not a manifest entry (a hand-built `Migration`): nothing memoized, hash it now.
            None => Some(Cow::Owned(match self {
                MigrationSource::Manifest => migration.manifest_checksum(),
                MigrationSource::Sql { .. } => checksum(self.sql_of(migration).ok()?),
            })),
        }
    }

    /// What the recorded migrations of a ready store read as, `version:checksum` for every
    /// manifest migration in version order, joined by `,` (SQL: `string_agg(version || ':' ||
    /// checksum, ',' ORDER BY version)`); `None` when this build lacks a file.
    ///
    /// A store whose recorded migrations read exactly so is ready; one that reads otherwise may
    /// still be, and is asked properly ([`readiness`](Self::readiness)). So a SQL adapter can fold
    /// the readiness check into the statement doing the work and compare one string.
    ///
    /// ```
    /// use user_engine::kit::MigrationSource;
    /// use user_engine::migration::AppliedMigration;
    ///
    /// let signature = MigrationSource::Manifest.ready_signature().unwrap();
    /// let checksum = MigrationSource::Manifest.checksum_of(&user_engine::MIGRATIONS[0]).unwrap();
    /// assert!(signature.starts_with(&format!("1:{checksum},2:")));
    /// ```
    pub fn ready_signature(&self) -> Option<&'static str> {
        self.expected().signature.as_deref()
    }

    /// The memoized checksums of this source, computed on first use.
    fn expected(&self) -> &'static Expected {
        static MANIFEST: OnceLock<Expected> = OnceLock::new();
        // Keyed by the files' content: two sources with the same files share one entry, so the
        // leak is bounded by the distinct sources a process builds (one per adapter).
        static SQL: Mutex<Vec<(FileList, &'static Expected)>> = Mutex::new(Vec::new());
        let files = match self {
            MigrationSource::Manifest => {
                return MANIFEST.get_or_init(|| Expected::of(*self));
            }
            MigrationSource::Sql { files, .. } => *files,
        };
        let mut memo = SQL.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, expected)) = memo
            .iter()
            .find(|(known, _)| std::ptr::eq(*known, files))
            .or_else(|| memo.iter().find(|(known, _)| *known == files))
        {
            return expected;
        }
        let expected: &'static Expected = Box::leak(Box::new(Expected::of(*self)));
        memo.push((files, expected));
        expected
    }

    /// The first applied migration (in the order given) whose recorded checksum differs from the
    /// expected one, as the `drift` error `migrate` refuses with.
    pub fn drift(&self, applied: &[AppliedMigration]) -> Option<StoreError> {
        applied.iter().find_map(|a| {
            let expected = self.expected_checksum(crate::migration::migration(a.version)?)?;
            (expected != a.checksum).then(|| StoreError::MigrationDrift {
                version: a.version,
                recorded: a.checksum.clone(),
                expected: expected.into_owned(),
            })
        })
    }

    /// Readiness from the recorded migrations (`None`: the store has no record of any, e.g. the
    /// versions table does not exist yet): drift first, then not migrated, behind, ahead or ready.
    pub fn readiness(&self, applied: Option<&[AppliedMigration]>) -> Readiness {
        let applied = applied.unwrap_or_default();
        if let Some(StoreError::MigrationDrift { version, .. }) = self.drift(applied) {
            return Readiness::NotReady {
                reason: NotReadyReason::Drift { version },
            };
        }
        Readiness::from_schema_version(schema_version(applied))
    }

    /// [`readiness`](Self::readiness) of what reading the recorded migrations returned; an error
    /// that kept the store from looking makes it not ready, `unavailable` with the error's words.
    pub fn readiness_or_unavailable(
        &self,
        read: Result<Option<Vec<AppliedMigration>>, StoreError>,
    ) -> Readiness {
        match read {
            Ok(applied) => self.readiness(applied.as_deref()),
            Err(err) => Readiness::NotReady {
                reason: NotReadyReason::Unavailable {
                    detail: match err {
                        StoreError::Unavailable { reason } | StoreError::Invalid { reason } => {
                            reason
                        }
                        other => other.to_string(),
                    },
                },
            },
        }
    }

    /// What `migrate` applies after `applied`: refuses drift (`drift`) and a schema newer than
    /// this release (`not_ready`, ahead) before anything runs; `unavailable` if a file is missing.
    pub fn plan(&self, applied: &[AppliedMigration]) -> Result<MigrationPlan, StoreError> {
        if let Some(err) = self.drift(applied) {
            return Err(err);
        }
        let current = schema_version(applied).unwrap_or(0);
        if current > LATEST_SCHEMA_VERSION {
            return Err(StoreError::NotReady {
                reason: NotReadyReason::Ahead {
                    current,
                    latest: LATEST_SCHEMA_VERSION,
                },
            });
        }
        let steps = MIGRATIONS
            .iter()
            .filter(|m| m.version > current)
            .map(|migration| {
                let sql = self.sql_of(migration)?;
                // A file was found, so the memo has its checksum.
                let checksum = self.checksum_of(migration).unwrap_or_else(|| checksum(sql));
                Ok(MigrationStep {
                    migration,
                    sql,
                    checksum,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(MigrationPlan { current, steps })
    }

    /// Checks that the source has exactly one entry per manifest migration, in manifest order, and
    /// that no SQL text manages its own transaction (the store runs each inside its own).
    /// Adapters call it from a unit test.
    pub fn verify(&self) -> Result<(), String> {
        let MigrationSource::Sql { package, files } = self else {
            return Ok(());
        };
        let names: Vec<&str> = files.iter().map(|(name, _)| *name).collect();
        let manifest: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
        if names != manifest {
            return Err(format!(
                "{package} ships SQL files {names:?}, but the manifest lists {manifest:?}"
            ));
        }
        match files
            .iter()
            .find(|(_, sql)| sql.to_ascii_uppercase().contains("\nBEGIN"))
        {
            Some((name, _)) => Err(format!("{name} must not manage its own transaction")),
            None => Ok(()),
        }
    }
}

/// `(manifest name, SQL text)` pairs of a [`MigrationSource::Sql`].
type FileList = &'static [(&'static str, &'static str)];

/// A source's expected checksums, one per manifest entry (`None`: no file), and its
/// [`ready_signature`](MigrationSource::ready_signature).
struct Expected {
    checksums: Vec<Option<String>>,
    signature: Option<String>,
}

impl Expected {
    fn of(source: MigrationSource) -> Self {
        let checksums: Vec<Option<String>> = MIGRATIONS
            .iter()
            .map(|migration| match source {
                MigrationSource::Manifest => Some(migration.manifest_checksum()),
                MigrationSource::Sql { .. } => source.sql_of(migration).ok().map(checksum),
            })
            .collect();
        let signature = MIGRATIONS
            .iter()
            .zip(&checksums)
            .map(|(m, c)| c.as_ref().map(|c| format!("{}:{c}", m.version)))
            .collect::<Option<Vec<_>>>()
            .map(|parts| parts.join(","));
        Self {
            checksums,
            signature,
        }
    }
}

/// The highest recorded version (`None`: nothing recorded).
pub fn schema_version(applied: &[AppliedMigration]) -> Option<u32> {
    applied.iter().map(|a| a.version).max()
}

/// The checksum `ConformanceHooks::tamper_applied_migration` records: stable, and different from
/// the `recorded` one and from any real migration's.
pub fn tampered_checksum(recorded: &str) -> String {
    checksum(&format!("tampered {recorded}"))
}

/// The migrations `migrate` still has to apply, from [`MigrationSource::plan`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationPlan {
    current: u32,
    steps: Vec<MigrationStep>,
}

/// One migration to apply: run `sql`, then record the version, name and `checksum`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationStep {
    /// The manifest entry.
    pub migration: &'static Migration,
    /// The text to run (`""` for a store that runs no SQL).
    pub sql: &'static str,
    /// The checksum to record with it.
    pub checksum: String,
}

impl MigrationPlan {
    /// The schema version before the plan runs (0: not migrated).
    pub fn current(&self) -> u32 {
        self.current
    }

    /// The steps, in manifest order; empty when the store is current.
    pub fn steps(&self) -> &[MigrationStep] {
        &self.steps
    }

    /// The plan stopped at schema version `target`: the steps past it are dropped (a store
    /// migrated so is `behind` until it migrates the rest). For
    /// `ConformanceHooks::migrate_to`, which upgrade scenarios use.
    pub fn up_to(mut self, target: u32) -> Self {
        self.steps.retain(|step| step.migration.version <= target);
        self
    }

    /// Runs `apply` for each step in order, stopping at the first error, and reports what ran.
    /// The caller runs it inside one transaction and commits only on `Ok`.
    pub fn apply(
        self,
        mut apply: impl FnMut(&MigrationStep) -> Result<(), StoreError>,
    ) -> Result<MigrationReport, StoreError> {
        let mut report = MigrationReport {
            applied: Vec::new(),
            schema_version: self.current,
        };
        for step in &self.steps {
            apply(step)?;
            report.applied.push(step.migration.version);
            report.schema_version = step.migration.version;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILES: &[(&str, &str)] = &[
        ("0001_user_engine_store", "CREATE TABLE t (v TEXT);"),
        (
            "0002_versions_survive_delete",
            "ALTER TABLE t ADD COLUMN d INTEGER;",
        ),
    ];

    const SQL: MigrationSource = MigrationSource::Sql {
        package: "user-engine-test",
        files: FILES,
    };

    /// Every manifest migration, recorded as `source` records it.
    fn applied(source: MigrationSource) -> Vec<AppliedMigration> {
        MIGRATIONS
            .iter()
            .map(|m| AppliedMigration {
                version: m.version,
                checksum: source.checksum_of(m).unwrap(),
            })
            .collect()
    }

    #[test]
    fn drift_is_reported_before_the_version() {
        for source in [MigrationSource::Manifest, SQL] {
            let ok = applied(source);
            assert!(source.readiness(Some(&ok)).is_ready());
            assert!(!source.readiness(None).is_ready());
            assert_eq!(
                source.readiness(Some(&ok[..1])),
                Readiness::NotReady {
                    reason: NotReadyReason::Behind {
                        current: 1,
                        latest: LATEST_SCHEMA_VERSION
                    }
                }
            );
            let mut bad = ok.clone();
            bad[0].checksum = tampered_checksum(&ok[0].checksum);
            assert_eq!(
                source.readiness(Some(&bad)),
                Readiness::NotReady {
                    reason: NotReadyReason::Drift { version: 1 }
                }
            );
            assert!(matches!(
                source.plan(&bad),
                Err(StoreError::MigrationDrift { version: 1, .. })
            ));
        }
    }

    #[test]
    fn plans_apply_what_is_missing_and_refuse_a_newer_schema() {
        let plan = SQL.plan(&[]).unwrap();
        assert_eq!(plan.current(), 0);
        assert_eq!(
            plan.steps()[0].checksum,
            checksum("CREATE TABLE t (v TEXT);")
        );
        let mut ran = Vec::new();
        let report = plan
            .apply(|step| {
                ran.push(step.sql);
                Ok(())
            })
            .unwrap();
        let texts: Vec<&str> = FILES.iter().map(|(_, sql)| *sql).collect();
        assert_eq!(ran, texts);
        assert_eq!(
            (report.applied, report.schema_version),
            (vec![1, 2], LATEST_SCHEMA_VERSION)
        );

        let done = applied(SQL);
        let report = SQL.plan(&done).unwrap().apply(|_| unreachable!()).unwrap();
        assert_eq!(
            (report.applied.len(), report.schema_version),
            (0, LATEST_SCHEMA_VERSION)
        );

        // Stepwise: up to 1, then the rest.
        let first = SQL.plan(&[]).unwrap().up_to(1).apply(|_| Ok(())).unwrap();
        assert_eq!((first.applied, first.schema_version), (vec![1], 1));
        let rest = SQL.plan(&done[..1]).unwrap().apply(|_| Ok(())).unwrap();
        assert_eq!(rest.applied, [2]);

        let mut ahead = done.clone();
        ahead.push(AppliedMigration {
            version: LATEST_SCHEMA_VERSION + 1,
            checksum: "x".into(),
        });
        let err = SQL.plan(&ahead).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::NotReady);
    }

    #[test]
    fn a_missing_file_or_a_transaction_in_a_file_is_reported() {
        let empty = MigrationSource::Sql {
            package: "user-engine-test",
            files: &[],
        };
        assert_eq!(
            empty.plan(&[]).unwrap_err().kind(),
            crate::ErrorKind::Unavailable
        );
        assert!(empty.verify().unwrap_err().contains("the manifest lists"));
        assert_eq!(empty.checksum_of(&MIGRATIONS[0]), None);
        let managing = MigrationSource::Sql {
            package: "user-engine-test",
            files: &[("0001_user_engine_store", "SELECT 1;\nbegin;")],
        };
        assert!(managing.verify().is_err());
        assert_eq!(SQL.verify(), Ok(()));
        assert_eq!(MigrationSource::Manifest.verify(), Ok(()));
    }

    #[test]
    fn checksums_are_memoized_per_source_and_signed_in_version_order() {
        let hashed = checksum(FILES[0].1);
        let second = checksum(FILES[1].1);
        assert_eq!(SQL.checksum_of(&MIGRATIONS[0]), Some(hashed.clone()));
        assert_eq!(SQL.checksum_of(&MIGRATIONS[0]), Some(hashed.clone()));
        assert_eq!(
            SQL.ready_signature(),
            Some(format!("1:{hashed},2:{second}").as_str())
        );
        // Same files at another address: the same memo entry answers.
        let copy = MigrationSource::Sql {
            package: "user-engine-test",
            files: Box::leak(Box::new([FILES[0], FILES[1]])),
        };
        assert!(std::ptr::eq(
            copy.ready_signature().unwrap(),
            SQL.ready_signature().unwrap()
        ));
        assert_eq!(
            MigrationSource::Manifest.checksum_of(&MIGRATIONS[0]),
            Some(MIGRATIONS[0].manifest_checksum())
        );
        let empty = MigrationSource::Sql {
            package: "user-engine-test",
            files: &[],
        };
        assert_eq!(empty.ready_signature(), None);
        let other = Migration {
            version: 99,
            ..MIGRATIONS[0]
        };
        assert_eq!(
            MigrationSource::Manifest.checksum_of(&other),
            Some(other.manifest_checksum())
        );
    }

    #[test]
    fn an_error_reading_the_versions_is_unavailable_in_its_own_words() {
        let readiness =
            SQL.readiness_or_unavailable(Err(StoreError::unavailable("connection refused")));
        assert_eq!(
            readiness.to_string(),
            "not ready: unavailable: connection refused"
        );
        assert!(
            SQL.readiness_or_unavailable(Ok(Some(applied(SQL))))
                .is_ready()
        );
    }
}
