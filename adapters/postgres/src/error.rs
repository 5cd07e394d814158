//! Mapping `postgres` errors to [`StoreError`] without ever echoing a value.
//!
//! PostgreSQL's messages, details and contexts quote row values: a unique violation's DETAIL is
//! `Key (email)=(ada@example.org) already exists.`, a JSON error's CONTEXT quotes the document.
//! None of them is ever carried. A mapped error names the operation in fixed words, the SQLSTATE
//! code (and, for constraint violations, the constraint's name, which is schema, not data).

use std::error::Error as _;
use std::io;

use postgres::Config;
use postgres::config::Host;
use postgres::error::Severity;
use user_engine::StoreError;

/// Maps a driver error met while doing `operation` (a fixed phrase such as "reading a record").
pub(crate) fn map(operation: &'static str, err: &postgres::Error) -> StoreError {
    if let Some(db) = err.as_db_error() {
        let code = db.code().code();
        let state = sqlstate(code);
        return match &code[..2] {
            // Integrity constraint violations: the constraint's name says which rule, not which value.
            "23" => {
                let constraint = db
                    .constraint()
                    .map(|c| format!(" \"{c}\""))
                    .unwrap_or_default();
                StoreError::invalid(format!(
                    "postgresql refused a write while {operation}: constraint{constraint} violated ({state})"
                ))
            }
            "22" => StoreError::invalid(format!(
                "postgresql refused a value while {operation} ({state})"
            )),
            "40" => StoreError::unavailable(format!(
                "postgresql aborted the transaction while {operation} ({state}); it had no effect, retry"
            )),
            "08" | "53" | "57" | "58" => StoreError::unavailable(format!(
                "postgresql is unavailable while {operation} ({state})"
            )),
            "28" => StoreError::unavailable(format!(
                "postgresql refused the credentials while {operation} ({state})"
            )),
            "42" | "3F" => StoreError::unavailable(format!(
                "the postgresql schema does not match this adapter while {operation} ({state}); run migrate"
            )),
            _ => StoreError::unavailable(format!("postgresql failed while {operation} ({state})")),
        };
    }
    if err.is_closed() {
        return StoreError::unavailable(format!(
            "the connection to postgresql closed while {operation}"
        ));
    }
    StoreError::unavailable(format!(
        "postgresql could not be reached while {operation} ({})",
        transport(err)
    ))
}

/// Maps a failure to connect, naming where it tried (hosts and ports, never the password).
pub(crate) fn connect(config: &Config, err: &postgres::Error) -> StoreError {
    let reason = match err.as_db_error() {
        Some(db) => match db.code().code() {
            "28P01" | "28000" => format!(
                "the server refused the credentials ({})",
                sqlstate(db.code().code())
            ),
            "3D000" => format!("the database does not exist ({})", sqlstate("3D000")),
            "53300" => format!(
                "the server has too many connections ({})",
                sqlstate("53300")
            ),
            "57P03" => format!(
                "the server is starting up or shutting down ({})",
                sqlstate("57P03")
            ),
            code => format!("the server refused the connection ({})", sqlstate(code)),
        },
        None => transport(err),
    };
    StoreError::unavailable(format!(
        "cannot connect to postgresql at {}: {reason}",
        describe_hosts(config)
    ))
}

/// Whether a failure of a statement that commits — `COMMIT`, or a statement that is its own
/// transaction — leaves the outcome unknown. Only an ERROR the server reported is definite: the
/// server aborted the transaction and said so (an error past the commit point is a PANIC). A
/// FATAL or PANIC report (the backend was terminated or crashed, possibly after writing the
/// commit record), a closed socket or an I/O failure say nothing about how far the server got.
pub(crate) fn outcome_unknown(err: &postgres::Error) -> bool {
    match err.as_db_error() {
        Some(db) => match db.parsed_severity() {
            Some(severity) => severity != Severity::Error,
            // Servers before 9.6 send only the severity in their own language.
            None => db.severity() != "ERROR",
        },
        None => true,
    }
}

/// The reason a mapped error gives, for a message that goes on from it.
pub(crate) fn reason(err: StoreError) -> String {
    match err {
        StoreError::Unavailable { reason } | StoreError::Invalid { reason } => reason,
        other => other.to_string(),
    }
}

/// Whether the error is a unique violation (mapped to a conflict by record writes).
pub(crate) fn is_unique_violation(err: &postgres::Error) -> bool {
    err.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
}

/// Whether the error says a table does not exist (the store is not migrated yet).
pub(crate) fn is_undefined_table(err: &postgres::Error) -> bool {
    err.code() == Some(&postgres::error::SqlState::UNDEFINED_TABLE)
}

/// Fixed words for a failure below the SQL level.
fn transport(err: &postgres::Error) -> String {
    let mut source = err.source();
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<io::Error>() {
            return match io.kind() {
                io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                io::ErrorKind::TimedOut => "timed out".to_owned(),
                io::ErrorKind::NotFound => "no server socket found".to_owned(),
                io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe => "connection lost".to_owned(),
                io::ErrorKind::HostUnreachable
                | io::ErrorKind::NetworkUnreachable
                | io::ErrorKind::AddrNotAvailable => "host unreachable".to_owned(),
                _ => "the host could not be resolved or reached".to_owned(),
            };
        }
        source = inner.source();
    }
    "connection failed".to_owned()
}

/// `host:port` for each configured host.
fn describe_hosts(config: &Config) -> String {
    let ports = config.get_ports();
    let port = |i: usize| {
        ports
            .get(i)
            .or_else(|| ports.first())
            .copied()
            .unwrap_or(5432)
    };
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| match host {
            Host::Tcp(name) => format!("{name}:{}", port(i)),
            Host::Unix(dir) => format!("{}/.s.PGSQL.{}", dir.display(), port(i)),
        })
        .collect();
    if hosts.is_empty() {
        let addrs: Vec<String> = config
            .get_hostaddrs()
            .iter()
            .enumerate()
            .map(|(i, a)| format!("{a}:{}", port(i)))
            .collect();
        return addrs.join(", ");
    }
    hosts.join(", ")
}

/// `SQLSTATE 23505 unique_violation`: the code and, for common ones, its condition name.
fn sqlstate(code: &str) -> String {
    let name = match code {
        "23505" => "unique_violation",
        "23503" => "foreign_key_violation",
        "23502" => "not_null_violation",
        "23514" => "check_violation",
        "22P02" => "invalid_text_representation",
        "22P05" => "untranslatable_character",
        "22021" => "character_not_in_repertoire",
        "22003" => "numeric_value_out_of_range",
        "40001" => "serialization_failure",
        "40P01" => "deadlock_detected",
        "42P01" => "undefined_table",
        "42703" => "undefined_column",
        "3F000" => "invalid_schema_name",
        "3D000" => "invalid_catalog_name",
        "28P01" => "invalid_password",
        "28000" => "invalid_authorization_specification",
        "53300" => "too_many_connections",
        "57P01" => "admin_shutdown",
        "57P03" => "cannot_connect_now",
        "57014" => "query_canceled",
        "08006" => "connection_failure",
        _ => return format!("SQLSTATE {code}"),
    };
    format!("SQLSTATE {code} {name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_named_when_common() {
        assert_eq!(sqlstate("23505"), "SQLSTATE 23505 unique_violation");
        assert_eq!(sqlstate("XX000"), "SQLSTATE XX000");
    }

    #[test]
    fn hosts_are_described_without_credentials() {
        let config: Config = "postgres://root:hunter2@db.example:6543/test"
            .parse()
            .unwrap();
        assert_eq!(describe_hosts(&config), "db.example:6543");
        let config: Config = "host=127.0.0.1 user=root password=hunter2".parse().unwrap();
        assert_eq!(describe_hosts(&config), "127.0.0.1:5432");
    }
}
