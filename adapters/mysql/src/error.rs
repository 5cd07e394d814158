//! Mapping `mysql` driver errors to [`StoreError`] without ever echoing a value.
//!
//! MySQL's messages quote row values: a duplicate key is `Duplicate entry 'acme-profile-p1' for
//! key 'PRIMARY'`, a bad string value quotes the bytes, and the driver's own `FromValueError` and
//! `FromRowError` carry the value or row itself. None of them is ever formatted here. A mapped
//! error names the operation in fixed words and the server's error number and SQLSTATE, nothing
//! else.

use std::io;

use mysql::{DriverError, Error};
use user_engine::StoreError;

/// Server error numbers this adapter acts on.
pub(crate) mod code {
    /// `ER_DUP_ENTRY`: a unique index refused a row.
    pub(crate) const DUPLICATE_ENTRY: u16 = 1062;
    /// `ER_LOCK_WAIT_TIMEOUT`: a row lock was not granted in time; the statement was rolled back.
    pub(crate) const LOCK_WAIT_TIMEOUT: u16 = 1205;
    /// `ER_LOCK_DEADLOCK`: InnoDB chose this transaction as a deadlock victim and rolled it back.
    pub(crate) const DEADLOCK: u16 = 1213;
    /// `ER_NO_SUCH_TABLE`: the store is not migrated (yet).
    pub(crate) const NO_SUCH_TABLE: u16 = 1146;
    /// `ER_BAD_FIELD_ERROR`: a column is missing (a store at an older schema version).
    pub(crate) const BAD_FIELD: u16 = 1054;
    /// `ER_SERVER_SHUTDOWN`.
    pub(crate) const SERVER_SHUTDOWN: u16 = 1053;
    /// `ER_CONNECTION_KILLED` (MariaDB): the session was ended with `KILL`.
    pub(crate) const CONNECTION_KILLED: u16 = 1927;
    /// `ER_QUERY_INTERRUPTED`: the statement was ended with `KILL`.
    pub(crate) const QUERY_INTERRUPTED: u16 = 1317;
}

/// The server's error number, when the error came from the server.
pub(crate) fn server_code(err: &Error) -> Option<u16> {
    match err {
        Error::MySqlError(e) => Some(e.code),
        _ => None,
    }
}

/// Whether the error means the session is gone, not just this statement: the connection is then
/// never used again.
pub(crate) fn loses_session(err: &Error) -> bool {
    match err {
        Error::MySqlError(e) => matches!(
            e.code,
            code::SERVER_SHUTDOWN | code::CONNECTION_KILLED | code::QUERY_INTERRUPTED
        ),
        Error::FromValueError(_) | Error::FromRowError(_) | Error::UrlError(_) => false,
        // I/O, codec and driver errors leave the protocol in an unknown state.
        _ => true,
    }
}

/// Maps a driver error met while doing `operation` (a fixed phrase such as "reading a record").
pub(crate) fn map(operation: &'static str, err: &Error) -> StoreError {
    match err {
        Error::MySqlError(e) => {
            let code = format!("error {}, SQLSTATE {}", e.code, sqlstate(&e.state));
            match e.code {
                code::DUPLICATE_ENTRY => StoreError::invalid(format!(
                    "mysql refused a write while {operation}: a unique key is taken ({code})"
                )),
                code::DEADLOCK | code::LOCK_WAIT_TIMEOUT => StoreError::unavailable(format!(
                    "mysql gave up waiting for a lock while {operation} ({code}); retry"
                )),
                code::NO_SUCH_TABLE | code::BAD_FIELD => StoreError::unavailable(format!(
                    "the mysql schema does not match this adapter while {operation} ({code}); run migrate"
                )),
                code::SERVER_SHUTDOWN | code::CONNECTION_KILLED | code::QUERY_INTERRUPTED => {
                    StoreError::unavailable(format!(
                        "the mysql session ended while {operation} ({code})"
                    ))
                }
                1044 | 1045 | 1142 | 1227 => StoreError::unavailable(format!(
                    "mysql refused the credentials or the privilege while {operation} ({code})"
                )),
                // Constraint and value errors: the check's or column's rule, never the value.
                3819 | 4025 | 1048 | 1264 | 1366 | 1406 | 3140 => {
                    StoreError::invalid(format!("mysql refused a value while {operation} ({code})"))
                }
                _ => StoreError::unavailable(format!("mysql failed while {operation} ({code})")),
            }
        }
        // The value (or row) the driver could not convert is in the error: never shown.
        Error::FromValueError(_) | Error::FromRowError(_) => StoreError::invalid(format!(
            "mysql returned a column of an unexpected type while {operation}"
        )),
        Error::UrlError(_) => StoreError::invalid("malformed mysql connection url"),
        Error::IoError(io) => StoreError::unavailable(format!(
            "the connection to mysql failed while {operation} ({})",
            transport(io.kind())
        )),
        Error::DriverError(driver) => StoreError::unavailable(format!(
            "the mysql driver failed while {operation} ({})",
            describe_driver(driver)
        )),
        Error::CodecError(_) => StoreError::unavailable(format!(
            "the connection to mysql broke while {operation} (malformed packet)"
        )),
    }
}

/// Maps a failure to connect, naming where it tried (host and port, never the password).
pub(crate) fn connect(place: &str, err: &Error) -> StoreError {
    let reason = match err {
        Error::MySqlError(e) => match e.code {
            1045 => "the server refused the credentials (error 1045)".to_owned(),
            1044 => "the user may not use that database (error 1044)".to_owned(),
            1049 => "the database does not exist (error 1049)".to_owned(),
            1040 => "the server has too many connections (error 1040)".to_owned(),
            1129 | 1130 => format!("the server refuses this host (error {})", e.code),
            code => format!("the server refused the connection (error {code})"),
        },
        Error::IoError(io) => transport(io.kind()).to_owned(),
        Error::DriverError(DriverError::CouldNotConnect(Some((_, _, kind)))) => {
            transport(*kind).to_owned()
        }
        Error::DriverError(driver) => describe_driver(driver),
        Error::UrlError(_) => "malformed url".to_owned(),
        _ => "connection failed".to_owned(),
    };
    StoreError::unavailable(format!("cannot connect to mysql at {place}: {reason}"))
}

/// Fixed words for a failure below the SQL level.
fn transport(kind: io::ErrorKind) -> &'static str {
    match kind {
        io::ErrorKind::ConnectionRefused => "connection refused",
        io::ErrorKind::TimedOut => "timed out",
        io::ErrorKind::NotFound => "no server socket found",
        io::ErrorKind::PermissionDenied => "permission denied",
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => "connection lost",
        io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::AddrNotAvailable => "host unreachable",
        _ => "the host could not be resolved or reached",
    }
}

/// Fixed words for a driver error (some carry parameter values: never shown).
fn describe_driver(err: &DriverError) -> String {
    match err {
        DriverError::ConnectTimeout | DriverError::Timeout => "timed out".to_owned(),
        DriverError::CouldNotConnect(Some((_, _, kind))) => transport(*kind).to_owned(),
        DriverError::CouldNotConnect(None) => "could not connect".to_owned(),
        DriverError::PacketOutOfSync | DriverError::UnexpectedPacket => {
            "the protocol went out of step".to_owned()
        }
        DriverError::PacketTooLarge => "a packet exceeded max_allowed_packet".to_owned(),
        DriverError::UnknownAuthPlugin(_) => "unsupported authentication plugin".to_owned(),
        DriverError::TlsNotSupported => {
            "the server requires TLS, which this build lacks".to_owned()
        }
        _ => "driver error".to_owned(),
    }
}

/// A SQLSTATE as sent: five ASCII characters, or a placeholder if the server sent anything else.
fn sqlstate(state: &str) -> &str {
    if state.len() == 5 && state.bytes().all(|b| b.is_ascii_alphanumeric()) {
        state
    } else {
        "?????"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql::MySqlError;

    fn server(code: u16, message: &str) -> Error {
        Error::MySqlError(MySqlError {
            state: "23000".to_owned(),
            message: message.to_owned(),
            code,
        })
    }

    #[test]
    fn server_messages_are_never_carried() {
        let err = server(
            1062,
            "Duplicate entry 'acme-canary-secret' for key 'PRIMARY'",
        );
        let mapped = map("writing a record", &err);
        assert_eq!(
            mapped.to_string(),
            "invalid request: mysql refused a write while writing a record: a unique key is taken (error 1062, SQLSTATE 23000)"
        );
        let check = map(
            "writing a record",
            &server(4025, "CONSTRAINT `x` failed for 'canary'"),
        );
        assert!(!check.to_string().contains("canary"), "{check}");
        let value = Error::FromValueError(mysql::Value::from("canary-7"));
        assert!(
            !map("reading a record", &value)
                .to_string()
                .contains("canary")
        );
    }

    #[test]
    fn lost_sessions_are_told_apart_from_failed_statements() {
        assert!(loses_session(&server(1927, "killed")));
        assert!(loses_session(&Error::IoError(io::Error::from(
            io::ErrorKind::BrokenPipe
        ))));
        assert!(!loses_session(&server(1213, "deadlock")));
        assert_eq!(server_code(&server(1205, "timeout")), Some(1205));
    }

    #[test]
    fn connect_errors_name_the_place_not_the_password() {
        let refused = Error::IoError(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(
            connect("127.0.0.1:1", &refused).to_string(),
            "store unavailable: cannot connect to mysql at 127.0.0.1:1: connection refused"
        );
        assert_eq!(sqlstate("HY000"), "HY000");
        assert_eq!(sqlstate("bad state"), "?????");
    }
}
