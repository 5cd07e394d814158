//! `Readiness`: whether a store can serve, and if not, the typed reason why.

use std::fmt;

use serde::Serialize;

/// A store's answer to "can you serve requests?". Asking never writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Readiness {
    /// At [`crate::LATEST_SCHEMA_VERSION`], migrations intact.
    Ready {
        /// The schema version.
        schema_version: u32,
    },
    /// Not able to serve.
    NotReady {
        /// Why.
        reason: NotReadyReason,
    },
}

impl Readiness {
    /// Whether the store is ready.
    pub fn is_ready(&self) -> bool {
        matches!(self, Readiness::Ready { .. })
    }

    /// Ready at `current` if it is the latest version, otherwise not migrated, behind or ahead.
    pub fn from_schema_version(current: Option<u32>) -> Self {
        let latest = crate::LATEST_SCHEMA_VERSION;
        match current {
            None | Some(0) => Readiness::NotReady {
                reason: NotReadyReason::NotMigrated,
            },
            Some(v) if v < latest => Readiness::NotReady {
                reason: NotReadyReason::Behind { current: v, latest },
            },
            Some(v) if v > latest => Readiness::NotReady {
                reason: NotReadyReason::Ahead { current: v, latest },
            },
            Some(v) => Readiness::Ready { schema_version: v },
        }
    }
}

impl fmt::Display for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Readiness::Ready { schema_version } => {
                write!(f, "ready at schema version {schema_version}")
            }
            Readiness::NotReady { reason } => write!(f, "not ready: {reason}"),
        }
    }
}

/// Why a store is not ready.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum NotReadyReason {
    /// No migration has been applied.
    NotMigrated,
    /// Some migrations are missing.
    Behind {
        /// Applied version.
        current: u32,
        /// Manifest's latest.
        latest: u32,
    },
    /// The store was migrated by a newer release than this one.
    Ahead {
        /// Applied version.
        current: u32,
        /// Manifest's latest.
        latest: u32,
    },
    /// An applied migration differs from the manifest.
    Drift {
        /// The drifted migration.
        version: u32,
    },
    /// The backend cannot be reached.
    Unavailable {
        /// What failed, without payload values.
        detail: String,
    },
}

impl NotReadyReason {
    /// The stable snake_case name scenarios use.
    pub fn name(&self) -> &'static str {
        match self {
            NotReadyReason::NotMigrated => "not_migrated",
            NotReadyReason::Behind { .. } => "behind",
            NotReadyReason::Ahead { .. } => "ahead",
            NotReadyReason::Drift { .. } => "drift",
            NotReadyReason::Unavailable { .. } => "unavailable",
        }
    }
}

impl fmt::Display for NotReadyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotReadyReason::NotMigrated => write!(
                f,
                "not migrated (latest schema version is {})",
                crate::LATEST_SCHEMA_VERSION
            ),
            NotReadyReason::Behind { current, latest } => {
                write!(f, "schema version {current} is behind {latest}")
            }
            NotReadyReason::Ahead { current, latest } => write!(
                f,
                "schema version {current} is ahead of {latest}, the latest this release knows"
            ),
            NotReadyReason::Drift { version } => {
                write!(f, "applied migration {version} differs from the manifest")
            }
            NotReadyReason::Unavailable { detail } => write!(f, "unavailable: {detail}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LATEST_SCHEMA_VERSION as LATEST;

    #[test]
    fn schema_versions_map_to_reasons() {
        assert_eq!(
            Readiness::from_schema_version(None).to_string(),
            format!("not ready: not migrated (latest schema version is {LATEST})")
        );
        assert!(Readiness::from_schema_version(Some(LATEST)).is_ready());
        let ahead = Readiness::from_schema_version(Some(LATEST + 1));
        assert!(matches!(
            ahead,
            Readiness::NotReady {
                reason: NotReadyReason::Ahead { .. }
            }
        ));
    }
}
