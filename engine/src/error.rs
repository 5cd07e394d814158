//! `StoreError`: the one error type of the store boundary, and `ErrorKind`, its stable names.

use std::fmt;

use crate::ids::RecordKey;
use crate::readiness::NotReadyReason;
use crate::record::Expectation;

/// Everything a store operation can fail with.
///
/// Messages name keys, versions and operations, never payload values. Adapters must keep it that
/// way when they map driver errors (a database's unique-violation detail quotes row values).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist.
    #[error("record {key} not found")]
    NotFound {
        /// The missing record.
        key: RecordKey,
    },
    /// A write's expectation did not hold, or a concurrent transaction changed the record first.
    #[error("conflict on {key}: expected {expected}, found {}", describe_version(*actual))]
    Conflict {
        /// The contested record.
        key: RecordKey,
        /// What the write expected.
        expected: Expectation,
        /// The version found (`None`: absent).
        actual: Option<u64>,
    },
    /// The store cannot serve requests yet (or any more); readiness says why.
    #[error("store not ready: {reason}")]
    NotReady {
        /// Why.
        reason: NotReadyReason,
    },
    /// The store does not implement this operation.
    #[error("operation `{operation}` is not supported by this store")]
    Unsupported {
        /// The operation's name.
        operation: &'static str,
    },
    /// The request was malformed: a bad id, a foreign cursor, a wrong expectation.
    #[error("invalid request: {reason}")]
    Invalid {
        /// What was wrong, without payload values.
        reason: String,
    },
    /// The backend could not be reached or failed; the operation had no effect.
    #[error("store unavailable: {reason}")]
    Unavailable {
        /// What failed, without payload values.
        reason: String,
    },
    /// A commit's outcome is unknown: the connection to the backend was lost after the commit was
    /// sent, and the store could not find out whether it took effect. The transaction committed
    /// whole or not at all (never in part); a caller that retries must first check which.
    #[error(
        "commit outcome unknown: {reason}; the transaction either committed whole or not at all"
    )]
    InDoubt {
        /// What failed, without payload values.
        reason: String,
    },
    /// An applied migration no longer matches the manifest; the store refuses to migrate.
    #[error(
        "applied migration {version} has checksum {recorded}, but the manifest's is {expected}; refusing to continue"
    )]
    MigrationDrift {
        /// The drifted migration's version.
        version: u32,
        /// The checksum recorded when it was applied.
        recorded: String,
        /// The checksum of the migration as shipped now.
        expected: String,
    },
}

fn describe_version(v: Option<u64>) -> String {
    match v {
        Some(v) => format!("version {v}"),
        None => "no record".to_owned(),
    }
}

impl StoreError {
    /// Shorthand for [`StoreError::Invalid`].
    pub fn invalid(reason: impl Into<String>) -> Self {
        StoreError::Invalid {
            reason: reason.into(),
        }
    }

    /// Shorthand for [`StoreError::InDoubt`].
    pub fn in_doubt(reason: impl Into<String>) -> Self {
        StoreError::InDoubt {
            reason: reason.into(),
        }
    }

    /// Shorthand for [`StoreError::Unavailable`].
    pub fn unavailable(reason: impl Into<String>) -> Self {
        StoreError::Unavailable {
            reason: reason.into(),
        }
    }

    /// The stable kind of this error, as scenarios name it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::NotFound { .. } => ErrorKind::NotFound,
            StoreError::Conflict { .. } => ErrorKind::Conflict,
            StoreError::NotReady { .. } => ErrorKind::NotReady,
            StoreError::Unsupported { .. } => ErrorKind::Unsupported,
            StoreError::Invalid { .. } => ErrorKind::Invalid,
            StoreError::Unavailable { .. } => ErrorKind::Unavailable,
            StoreError::MigrationDrift { .. } => ErrorKind::Drift,
            StoreError::InDoubt { .. } => ErrorKind::InDoubt,
        }
    }
}

/// The stable, named kinds of [`StoreError`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// `not_found`
    NotFound,
    /// `conflict`
    Conflict,
    /// `not_ready`
    NotReady,
    /// `unsupported`
    Unsupported,
    /// `invalid`
    Invalid,
    /// `unavailable`
    Unavailable,
    /// `drift`
    Drift,
    /// `in_doubt`: a commit whose outcome the store could not learn
    InDoubt,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::NotReady,
        ErrorKind::Unsupported,
        ErrorKind::Invalid,
        ErrorKind::Unavailable,
        ErrorKind::Drift,
        ErrorKind::InDoubt,
    ];

    /// The snake_case name scenarios use.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::NotReady => "not_ready",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Drift => "drift",
            ErrorKind::InDoubt => "in_doubt",
        }
    }

    /// Looks a kind up by its name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
