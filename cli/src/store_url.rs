//! `--store` values: `memory`, `sqlite:PATH`, `postgres:CONNINFO` (or a `postgres://` URL) and
//! `mysql://` (or `mariadb://`) URLs, parsed into a [`StoreUrl`], and their display with any
//! password redacted.

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
    /// A MySQL or MariaDB server: `mysql://user[:password]@host[:port]/database` (or `mariadb://`),
    /// as written, checked to be a URL the driver accepts.
    Mysql(String),
}

const SHAPES: &str = "memory, sqlite:PATH, postgres:CONNINFO (a `postgres://` URL works too) \
     or mysql://user@host[:port]/database";

const MYSQL_SHAPE: &str =
    "mysql://user[:password]@host[:port]/database, e.g. mysql://root@127.0.0.1:3306/test";

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
        if text.starts_with("mysql:") || text.starts_with("mariadb:") {
            return parse_mysql(text);
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

    /// The scheme alone: `memory`, `sqlite`, `postgres` or `mysql` (for `mariadb://` too); used
    /// as the column name in reports.
    pub fn scheme(&self) -> &'static str {
        match self {
            StoreUrl::Memory => "memory",
            StoreUrl::Sqlite(_) => "sqlite",
            StoreUrl::Postgres(_) => "postgres",
            StoreUrl::Mysql(_) => "mysql",
        }
    }
}

/// `mysql://…` or `mariadb://…`: a URL the driver parses, naming a database (the adapter keeps
/// its tables there; `conformance` creates a database per scenario beside it).
fn parse_mysql(text: &str) -> Result<StoreUrl> {
    let shown = redact_password(text);
    let Some(driver_url) = mysql_driver_url(text) else {
        bail!("store {shown:?} is not a url; write {MYSQL_SHAPE}");
    };
    let opts = match user_engine_mysql::mysql::Opts::from_url(&driver_url) {
        Ok(opts) => opts,
        Err(_) => bail!("malformed mysql store {shown:?}; expected {MYSQL_SHAPE}"),
    };
    if opts.get_db_name().is_none_or(str::is_empty) {
        bail!("mysql store {shown:?} names no database; expected {MYSQL_SHAPE}");
    }
    Ok(StoreUrl::Mysql(text.to_owned()))
}

/// The URL the `mysql` driver is given: `mariadb://` is spelled `mysql://` (the same protocol);
/// `None` unless it is `mysql://` or `mariadb://` followed by something.
pub fn mysql_driver_url(text: &str) -> Option<String> {
    let rest = text
        .strip_prefix("mysql://")
        .or_else(|| text.strip_prefix("mariadb://"))?;
    (!rest.is_empty()).then(|| format!("mysql://{rest}"))
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
            StoreUrl::Mysql(url) => f.write_str(&redact_password(url)),
        }
    }
}

/// `password=secret` → `password=***`; `postgres://user:secret@host` → `postgres://user:***@host`
/// (and `mysql://` alike).
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
    fn parses_mysql_and_mariadb_urls() {
        assert_eq!(
            StoreUrl::parse("mysql://root@127.0.0.1:3306/test").unwrap(),
            StoreUrl::Mysql("mysql://root@127.0.0.1:3306/test".into())
        );
        let mariadb = StoreUrl::parse("mariadb://root@db/users").unwrap();
        assert_eq!(mariadb, StoreUrl::Mysql("mariadb://root@db/users".into()));
        assert_eq!(mariadb.scheme(), "mysql");
        assert_eq!(mariadb.to_string(), "mariadb://root@db/users");
        assert_eq!(
            mysql_driver_url("mariadb://root@db/users").as_deref(),
            Some("mysql://root@db/users")
        );
    }

    #[test]
    fn refuses_malformed_mysql_urls_without_showing_the_password() {
        let cases = [
            (
                "mysql://root@127.0.0.1:3306",
                "mysql store \"mysql://root@127.0.0.1:3306\" names no database; expected mysql://user[:password]@host[:port]/database, e.g. mysql://root@127.0.0.1:3306/test",
            ),
            (
                "mysql://app:hunter2@[::1/test",
                "malformed mysql store \"mysql://app:***@[::1/test\"; expected mysql://user[:password]@host[:port]/database, e.g. mysql://root@127.0.0.1:3306/test",
            ),
            (
                "mysql:",
                "store \"mysql:\" is not a url; write mysql://user[:password]@host[:port]/database, e.g. mysql://root@127.0.0.1:3306/test",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(StoreUrl::parse(text).unwrap_err().to_string(), expected);
        }
        assert!(StoreUrl::parse("mysql:host=db").is_err());
        assert!(StoreUrl::parse("mariadb://").is_err());
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        let err = StoreUrl::parse("redis://x").unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown store scheme \"redis\" in \"redis://x\"; expected memory, sqlite:PATH, postgres:CONNINFO (a `postgres://` URL works too) or mysql://user@host[:port]/database"
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
        let mysql = StoreUrl::parse("mysql://app:hunter2@db:3306/users").unwrap();
        assert_eq!(mysql.to_string(), "mysql://app:***@db:3306/users");
    }
}
