//! Mapping `rusqlite` errors to [`StoreError`] without ever echoing a value.
//!
//! SQLite's messages can quote row values (a constraint message, a conversion failure, a JSON
//! error), so no driver message is ever carried: a mapped error says which operation failed, in
//! fixed words, and names SQLite's result code.

use rusqlite::ffi;
use user_engine::StoreError;

/// Maps a driver error met while doing `operation` (a fixed phrase such as "reading a record").
pub(crate) fn map(operation: &'static str, err: &rusqlite::Error) -> StoreError {
    match err {
        rusqlite::Error::SqliteFailure(code, _message_may_quote_values) => match code.code {
            ffi::ErrorCode::DatabaseBusy | ffi::ErrorCode::DatabaseLocked => {
                StoreError::unavailable(format!(
                    "sqlite database stayed locked by another writer while {operation} ({}); retry",
                    code_name(code)
                ))
            }
            ffi::ErrorCode::ConstraintViolation
            | ffi::ErrorCode::TooBig
            | ffi::ErrorCode::TypeMismatch => StoreError::invalid(format!(
                "sqlite refused a value while {operation} ({})",
                code_name(code)
            )),
            _ => StoreError::unavailable(format!(
                "sqlite failed while {operation} ({})",
                code_name(code)
            )),
        },
        other => StoreError::unavailable(format!(
            "sqlite failed while {operation} ({})",
            variant_name(other)
        )),
    }
}

/// Whether the error is a UNIQUE or PRIMARY KEY violation (mapped to a conflict by record writes).
pub(crate) fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(code, _)
            if matches!(code.extended_code, ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
    )
}

/// SQLite's name for a result code, e.g. `SQLITE_CONSTRAINT_UNIQUE`.
fn code_name(code: &ffi::Error) -> String {
    let extended = match code.extended_code {
        ffi::SQLITE_CONSTRAINT_UNIQUE => Some("SQLITE_CONSTRAINT_UNIQUE"),
        ffi::SQLITE_CONSTRAINT_PRIMARYKEY => Some("SQLITE_CONSTRAINT_PRIMARYKEY"),
        ffi::SQLITE_CONSTRAINT_CHECK => Some("SQLITE_CONSTRAINT_CHECK"),
        ffi::SQLITE_CONSTRAINT_NOTNULL => Some("SQLITE_CONSTRAINT_NOTNULL"),
        _ => None,
    };
    if let Some(name) = extended {
        return name.to_owned();
    }
    let primary = match code.code {
        ffi::ErrorCode::InternalMalfunction => "SQLITE_INTERNAL",
        ffi::ErrorCode::PermissionDenied => "SQLITE_PERM",
        ffi::ErrorCode::OperationAborted => "SQLITE_ABORT",
        ffi::ErrorCode::DatabaseBusy => "SQLITE_BUSY",
        ffi::ErrorCode::DatabaseLocked => "SQLITE_LOCKED",
        ffi::ErrorCode::OutOfMemory => "SQLITE_NOMEM",
        ffi::ErrorCode::ReadOnly => "SQLITE_READONLY",
        ffi::ErrorCode::OperationInterrupted => "SQLITE_INTERRUPT",
        ffi::ErrorCode::SystemIoFailure => "SQLITE_IOERR",
        ffi::ErrorCode::DatabaseCorrupt => "SQLITE_CORRUPT",
        ffi::ErrorCode::NotFound => "SQLITE_NOTFOUND",
        ffi::ErrorCode::DiskFull => "SQLITE_FULL",
        ffi::ErrorCode::CannotOpen => "SQLITE_CANTOPEN",
        ffi::ErrorCode::FileLockingProtocolFailed => "SQLITE_PROTOCOL",
        ffi::ErrorCode::SchemaChanged => "SQLITE_SCHEMA",
        ffi::ErrorCode::TooBig => "SQLITE_TOOBIG",
        ffi::ErrorCode::ConstraintViolation => "SQLITE_CONSTRAINT",
        ffi::ErrorCode::TypeMismatch => "SQLITE_MISMATCH",
        ffi::ErrorCode::ApiMisuse => "SQLITE_MISUSE",
        ffi::ErrorCode::NoLargeFileSupport => "SQLITE_NOLFS",
        ffi::ErrorCode::AuthorizationForStatementDenied => "SQLITE_AUTH",
        ffi::ErrorCode::ParameterOutOfRange => "SQLITE_RANGE",
        ffi::ErrorCode::NotADatabase => "SQLITE_NOTADB",
        _ => "SQLITE_ERROR",
    };
    format!("{primary}, extended code {}", code.extended_code)
}

/// A fixed name for the non-SQLite error variants (their payloads can hold values).
fn variant_name(err: &rusqlite::Error) -> &'static str {
    match err {
        rusqlite::Error::FromSqlConversionFailure(..) => "a stored value has an unexpected type",
        rusqlite::Error::IntegralValueOutOfRange(..) => "a stored integer is out of range",
        rusqlite::Error::Utf8Error(..) => "a stored text is not UTF-8",
        rusqlite::Error::NulError(..) => "a text contains a NUL byte",
        rusqlite::Error::InvalidPath(..) => "the database path is not valid",
        rusqlite::Error::QueryReturnedNoRows => "a query returned no row",
        rusqlite::Error::InvalidColumnType(..) => "a stored value has an unexpected column type",
        _ => "unexpected driver error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use user_engine::ErrorKind;

    #[test]
    fn driver_messages_that_quote_values_are_never_carried() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (v TEXT UNIQUE);
             CREATE TRIGGER t_guard BEFORE INSERT ON t WHEN NEW.v LIKE '%refuse%'
             BEGIN SELECT RAISE(ABORT, 'refused ' || NEW.v); END;",
        )
        .unwrap();
        let canary = "canary-sqlite-4b1e-refuse";
        let err = conn
            .execute("INSERT INTO t VALUES (?1)", [canary])
            .unwrap_err();
        // The raw driver error does quote the value: the mapping below has something to hide.
        assert!(err.to_string().contains(canary), "{err}");
        let mapped = map("saving a record", &err);
        assert_eq!(mapped.kind(), ErrorKind::Invalid);
        for text in [mapped.to_string(), format!("{mapped:?}")] {
            assert!(!text.contains("canary"), "{text}");
        }

        conn.execute("INSERT INTO t VALUES ('canary-unique')", [])
            .unwrap();
        let err = conn
            .execute("INSERT INTO t VALUES ('canary-unique')", [])
            .unwrap_err();
        assert!(is_unique_violation(&err));
        let mapped = map("saving a record", &err);
        assert!(
            mapped.to_string().contains("SQLITE_CONSTRAINT_UNIQUE"),
            "{mapped}"
        );
        assert!(!format!("{mapped:?}").contains("canary"));
    }
}
