//! `--store` values: `memory`, `sqlite:PATH`, `postgres:CONNINFO` (or a `postgres://` URL), parsed
//! into a [`StoreUrl`], and their display with any password redacted.

use std::fmt;
use std::path::PathBuf;

use anyhow::{Result, bail};

/// Where a command finds its store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    /// The in-memory reference store (a new, empty one per use).
    Memory,
    /// The embedded SQLite store. For `conformance`, the directory under which a temporary
    /// directory holds one database file per scenario (`None`: the system temp directory); for
    /// the other commands, the database file.
    Sqlite(Option<PathBuf>),
    /// A PostgreSQL server: a libpq key/value string (`host=... user=...`) or a `postgres://` URL.
    Postgres(String),
}

const SHAPES: &str = "memory, sqlite:PATH or postgres:CONNINFO (a `postgres://` URL works too)";

impl StoreUrl {
    /// Parses a `--store` value.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if text == "memory" {
            return Ok(StoreUrl::Memory);
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(text.to_owned()));
        }
        let Some((scheme, rest)) = text.split_once(':') else {
            if text.is_empty() {
                bail!("empty store; expected {SHAPES}");
            }
            bail!("unknown store {text:?}; expected {SHAPES}");
        };
        match scheme {
            "memory" => bail!("store {text:?}: `memory` takes no argument; write `memory`"),
            "sqlite" if rest.is_empty() => Ok(StoreUrl::Sqlite(None)),
            "sqlite" => Ok(StoreUrl::Sqlite(Some(PathBuf::from(rest)))),
            "postgres" | "postgresql" if rest.trim().is_empty() => {
                bail!(
                    "store {text:?} names no server; write e.g. `postgres:host=127.0.0.1 user=root dbname=test`"
                )
            }
            "postgres" | "postgresql" => Ok(StoreUrl::Postgres(rest.trim().to_owned())),
            other => bail!("unknown store scheme {other:?} in {text:?}; expected {SHAPES}"),
        }
    }

    /// The scheme alone: `memory`, `sqlite` or `postgres`; used as the column name in reports.
    pub fn scheme(&self) -> &'static str {
        match self {
            StoreUrl::Memory => "memory",
            StoreUrl::Sqlite(_) => "sqlite",
            StoreUrl::Postgres(_) => "postgres",
        }
    }
}

/// Shows the store as the user wrote it, except that a password never appears.
impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Memory => f.write_str("memory"),
            StoreUrl::Sqlite(None) => f.write_str("sqlite"),
            StoreUrl::Sqlite(Some(path)) => write!(f, "sqlite:{}", path.display()),
            StoreUrl::Postgres(url) if url.contains("://") => f.write_str(&redact_password(url)),
            StoreUrl::Postgres(conninfo) => write!(f, "postgres:{}", redact_password(conninfo)),
        }
    }
}

/// `password=secret` → `password=***`; `postgres://user:secret@host` → `postgres://user:***@host`.
pub fn redact_password(conninfo: &str) -> String {
    if let Some((scheme, rest)) = conninfo.split_once("://") {
        let (authority, tail) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let authority = match authority.rsplit_once('@') {
            Some((credentials, host)) => match credentials.split_once(':') {
                Some((user, _password)) => format!("{user}:***@{host}"),
                None => format!("{credentials}@{host}"),
            },
            None => authority.to_owned(),
        };
        let tail = redact_query_password(tail);
        return format!("{scheme}://{authority}{tail}");
    }
    conninfo
        .split_whitespace()
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn redact_query_password(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_scheme() {
        assert_eq!(StoreUrl::parse("memory").unwrap(), StoreUrl::Memory);
        assert_eq!(StoreUrl::parse("sqlite:").unwrap(), StoreUrl::Sqlite(None));
        assert_eq!(
            StoreUrl::parse("sqlite:/tmp/x.db").unwrap(),
            StoreUrl::Sqlite(Some("/tmp/x.db".into()))
        );
        assert_eq!(
            StoreUrl::parse("postgres:host=127.0.0.1 user=root").unwrap(),
            StoreUrl::Postgres("host=127.0.0.1 user=root".into())
        );
        assert_eq!(
            StoreUrl::parse("postgres://root@localhost/test").unwrap(),
            StoreUrl::Postgres("postgres://root@localhost/test".into())
        );
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        let err = StoreUrl::parse("mysql://x").unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown store scheme \"mysql\" in \"mysql://x\"; expected memory, sqlite:PATH or postgres:CONNINFO (a `postgres://` URL works too)"
        );
        assert!(
            StoreUrl::parse("redis")
                .unwrap_err()
                .to_string()
                .starts_with("unknown store \"redis\"")
        );
        assert!(StoreUrl::parse("postgres:").is_err());
        assert!(StoreUrl::parse("memory:x").is_err());
        assert!(StoreUrl::parse("").is_err());
    }

    #[test]
    fn passwords_never_display() {
        let keyword =
            StoreUrl::parse("postgres:host=db user=app password=hunter2 dbname=x").unwrap();
        assert_eq!(
            keyword.to_string(),
            "postgres:host=db user=app password=*** dbname=x"
        );
        let url =
            StoreUrl::parse("postgres://app:hunter2@db:5432/x?sslmode=disable&password=hunter2")
                .unwrap();
        assert_eq!(
            url.to_string(),
            "postgres://app:***@db:5432/x?sslmode=disable&password=***"
        );
        assert!(!url.to_string().contains("hunter2"));
    }
}
