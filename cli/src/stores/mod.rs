//! The stores a conformance run drives: each `--store` becomes a [`StoreUnderTest`] that declares
//! its capabilities and makes a fresh, isolated store for every scenario (memory: a new one;
//! sqlite: a new file in a temporary directory; postgres: a new schema, mysql: a new database,
//! each dropped afterwards).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;
use user_engine::conformance::spec::Scenario;
use user_engine::conformance::{RunOptions, ScenarioOutcome, SnapshotCheck, run_scenario};
use user_engine::testing::scratch;
use user_engine::{InMemoryUserEngineStore, UserEngineStore};
use user_engine_sqlite::SqliteUserEngineStore;

use crate::store_url::StoreUrl;

mod interrupt;
mod mysql;
mod postgres;

pub use interrupt::{hold_if_interrupted, watch as watch_interrupts};

/// What the reference store declares (the same list `tests/it/reference.rs` gives the macro).
const MEMORY_CAPABILITIES: &[&str] = user_engine::InMemoryUserEngineStore::CAPABILITIES;

/// One store a conformance run is checking.
pub struct StoreUnderTest {
    /// As given on the command line, password redacted.
    pub url: StoreUrl,
    /// Short, unique column name for reports (`memory`, `sqlite`, `postgres`, `sqlite#2`).
    pub label: String,
    /// A phrase saying where scenarios run (`in memory`, `a fresh database file per scenario under /tmp`).
    pub place: String,
    /// Declared capabilities, sorted.
    pub capabilities: Vec<String>,
    backend: Backend,
}

enum Backend {
    Memory,
    Sqlite {
        dir: TempDir,
        next: AtomicUsize,
        /// Removes `dir` if a signal ends the run.
        _on_interrupt: scratch::Registration,
    },
    Postgres(postgres::PostgresBackend),
    Mysql(mysql::MysqlBackend),
}

impl StoreUnderTest {
    /// Checks that the store can be used at all (the directory exists, the server answers), so a
    /// bad `--store` is one error up front instead of a failure in every scenario.
    pub fn prepare(url: StoreUrl, label: String) -> Result<Self> {
        let (backend, place, capabilities) = match &url {
            StoreUrl::Memory => (Backend::Memory, "in memory".to_owned(), MEMORY_CAPABILITIES),
            StoreUrl::Sqlite(path) => {
                let (dir, on_interrupt) = sqlite_scratch_dir(path.as_deref())?;
                let place = format!(
                    "a fresh database file per scenario under {}",
                    shown_dir(path.as_deref(), dir.path())
                );
                let backend = Backend::Sqlite {
                    dir,
                    next: AtomicUsize::new(0),
                    _on_interrupt: on_interrupt,
                };
                (backend, place, user_engine_sqlite::CAPABILITIES)
            }
            StoreUrl::Postgres(conninfo) => {
                let backend = postgres::PostgresBackend::connect(conninfo)?;
                let place = "a fresh schema per scenario, dropped afterwards".to_owned();
                (
                    Backend::Postgres(backend),
                    place,
                    user_engine_postgres::CAPABILITIES,
                )
            }
            StoreUrl::Mysql(url) => {
                let backend = mysql::MysqlBackend::connect(url)?;
                let place = "a fresh database per scenario, dropped afterwards".to_owned();
                (
                    Backend::Mysql(backend),
                    place,
                    user_engine_mysql::CAPABILITIES,
                )
            }
        };
        let mut capabilities: Vec<String> = capabilities.iter().map(|c| (*c).to_owned()).collect();
        capabilities.sort();
        Ok(Self {
            url,
            label,
            place,
            capabilities,
            backend,
        })
    }

    /// The run options this store declares.
    pub fn options(&self) -> RunOptions {
        RunOptions::with_capabilities(self.capabilities.iter().map(String::as_str))
    }

    /// Runs one scenario against a fresh store.
    pub fn run(
        &self,
        scenario: &Scenario,
        options: &RunOptions,
        snapshots: &SnapshotCheck<'_>,
    ) -> ScenarioOutcome {
        match &self.backend {
            Backend::Memory => {
                run_scenario(scenario, &InMemoryUserEngineStore::new, options, snapshots)
            }
            Backend::Sqlite { dir, next, .. } => {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let file = dir
                    .path()
                    .join(format!("{n:03}-{}-{}.db", scenario.area, scenario.name));
                let factory = || open_sqlite_or_panic(&file);
                let outcome = run_scenario(scenario, &factory, options, snapshots);
                remove_database(&file);
                outcome
            }
            Backend::Postgres(backend) => backend.run(scenario, options, snapshots),
            Backend::Mysql(backend) => backend.run(scenario, options, snapshots),
        }
    }
}

/// The runner's factory cannot return an error; a store that cannot be made is a failure of that
/// scenario, reported (the runner catches the panic) with this message.
fn open_sqlite_or_panic(file: &Path) -> SqliteUserEngineStore {
    match SqliteUserEngineStore::open(file) {
        Ok(store) => store,
        Err(e) => panic!("cannot open a fresh sqlite store: {e}"),
    }
}

fn remove_database(file: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        // Best effort: the whole directory goes when the run ends.
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

/// What every run's scratch directory is called before its process id.
const SCRATCH_PREFIX: &str = "user-engine-conformance-";

/// A temporary directory for one run's database files: under `parent` when given (which must be
/// an existing directory), else in the system temp directory. Removed when the run ends; named
/// with the run's process id, so that one left by a run that was killed is removed by the next
/// run in the same place (see [`remove_abandoned_scratch_dirs`]).
///
/// The directory is registered with `scratch::drop_live` as soon as it exists, so a signal removes
/// it (see `interrupt`); the registration lasts as long as the returned guard.
/// Removes a run's SQLite folder when a signal ends the run. The run's thread may still be
/// opening a history's database there (SQLite creates the `-wal` and `-shm` files as it switches
/// to write-ahead logging), so a file can appear after the folder was listed and the folder is
/// not empty when it is removed: try again until it is gone, for at most a second.
pub fn remove_scratch_dir(path: &Path) {
    for _ in 0..50 {
        if std::fs::remove_dir_all(path).is_ok() || !path.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn sqlite_scratch_dir(parent: Option<&Path>) -> Result<(TempDir, scratch::Registration)> {
    let prefix = format!("{SCRATCH_PREFIX}{}-", std::process::id());
    let builder = {
        let mut b = tempfile::Builder::new();
        b.prefix(&prefix);
        b
    };
    remove_abandoned_scratch_dirs(&parent.map_or_else(std::env::temp_dir, Path::to_path_buf));
    let dir = match parent {
        None => builder
            .tempdir()
            .context("cannot create a temporary directory for the sqlite store")?,
        Some(parent) => {
            let shown = parent.display().to_string();
            if !parent.exists() {
                bail!(
                    "sqlite directory {shown:?} does not exist; create it, or write `sqlite:` for a temporary one"
                );
            }
            if !parent.is_dir() {
                bail!(
                    "sqlite path {shown:?} is not a directory; `conformance` needs a directory to hold a fresh database file per scenario"
                );
            }
            builder
                .tempdir_in(parent)
                .with_context(|| format!("cannot create a directory under {shown:?}"))?
        }
    };
    let registration = {
        let path = dir.path().to_path_buf();
        scratch::register(path.display().to_string(), move || {
            remove_scratch_dir(&path)
        })
    };
    // One probe file proves the directory is writable and SQLite works there.
    let probe = dir.path().join("probe.db");
    let opened = SqliteUserEngineStore::open(&probe).map(|store| store.readiness());
    remove_database(&probe);
    opened.with_context(|| {
        format!(
            "cannot use {:?} for sqlite databases",
            dir.path().display().to_string()
        )
    })?;
    Ok((dir, registration))
}

/// How long a scratch directory must have been left alone before it counts as abandoned. A run
/// creates and removes a file in it for every scenario, so a live run's directory is always newer;
/// the age also covers a process id from another PID namespace sharing the directory.
const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the scratch directories under `parent` whose run has ended without removing them (it
/// was killed): named `user-engine-conformance-PID-...` for a process id that no longer runs, and
/// untouched for [`ABANDONED_AFTER`]. Any other directory is never touched. Linux only: elsewhere
/// there is no cheap way to ask whether a process id runs.
fn remove_abandoned_scratch_dirs(parent: &Path) {
    let proc_root = Path::new("/proc/self");
    if !proc_root.exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(SCRATCH_PREFIX)
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let idle = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|idle| idle >= ABANDONED_AFTER);
        if is_dir && idle && !Path::new("/proc").join(pid.to_string()).exists() {
            // Best effort: what cannot be removed now is tried again by the next run.
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// One line on stderr for the scratch a run found and dropped, if any.
fn report_abandoned(dropped: &[String], what: &str) {
    if !dropped.is_empty() {
        eprintln!(
            "dropped {} test {what}{} left by runs that are gone: {}",
            dropped.len(),
            if dropped.len() == 1 { "" } else { "s" },
            dropped.join(", ")
        );
    }
}

fn shown_dir(parent: Option<&Path>, dir: &Path) -> String {
    match parent {
        Some(parent) => parent.display().to_string(),
        None => dir.parent().unwrap_or(dir).display().to_string(),
    }
}

/// Turns the `--store` values into stores under test, labelled uniquely.
pub fn prepare_all(urls: Vec<StoreUrl>) -> Result<Vec<StoreUnderTest>> {
    let mut stores = Vec::with_capacity(urls.len());
    for url in urls {
        let scheme = url.scheme();
        let same = stores
            .iter()
            .filter(|s: &&StoreUnderTest| s.url.scheme() == scheme)
            .count();
        let label = if same == 0 {
            scheme.to_owned()
        } else {
            format!("{scheme}#{}", same + 1)
        };
        stores.push(StoreUnderTest::prepare(url, label)?);
    }
    Ok(stores)
}

/// Opens one store for `migrate`, `readiness` and `diagnostics`.
pub fn open_single(
    url: &StoreUrl,
    schema: Option<&str>,
    creating: bool,
) -> Result<Box<dyn UserEngineStore>> {
    match url {
        StoreUrl::Postgres(_) => {}
        StoreUrl::Mysql(_) if schema.is_some() => bail!(
            "--schema applies to postgres stores only; a mysql store uses the database its url names ({url})"
        ),
        _ if schema.is_some() => bail!("--schema applies to postgres stores only, not to {url}"),
        _ => {}
    }
    Ok(match url {
        StoreUrl::Memory => Box::new(InMemoryUserEngineStore::new()),
        StoreUrl::Sqlite(None) => {
            bail!("`sqlite:` needs a database file here, e.g. `sqlite:./users.db`")
        }
        StoreUrl::Sqlite(Some(path)) => {
            let shown = path.display().to_string();
            if path.is_dir() {
                bail!("sqlite path {shown:?} is a directory; name the database file");
            }
            if !path.exists() {
                if !creating {
                    bail!(
                        "sqlite database {shown:?} does not exist; create it with `user-engine migrate --store sqlite:{shown}`"
                    );
                }
                let parent = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                if !parent.is_dir() {
                    bail!(
                        "cannot create sqlite database {shown:?}: directory {:?} does not exist",
                        parent.display().to_string()
                    );
                }
            }
            if creating {
                Box::new(SqliteUserEngineStore::open(path)?)
            } else {
                // readiness and diagnostics only read: no journal-mode change, nothing created.
                Box::new(SqliteUserEngineStore::open_read_only(path)?)
            }
        }
        StoreUrl::Postgres(conninfo) => postgres::open_single(conninfo, schema)?,
        StoreUrl::Mysql(url) => mysql::open_single(url)?,
    })
}
