//! `user-engine explore`: seeded random histories run on a store and on the reference through
//! the library's explorer (`user_engine::conformance::explore`), a fresh store per history, and
//! the first divergence, shrunk, written as a scenario under `--out`. SIGINT and SIGTERM remove
//! what the run made (as for `conformance`, see `stores::watch_interrupts`).

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, anyhow, bail};
use user_engine::conformance::explore::{
    ExploreOptions, ExploreReport, Progress, explore_with_progress,
};
use user_engine::testing::scratch;
use user_engine::{InMemoryUserEngineStore, UserEngineStore};
use user_engine_mysql::testing::IsolatedDatabase;
use user_engine_postgres::testing::IsolatedSchema;
use user_engine_sqlite::SqliteUserEngineStore;

use crate::args::ExploreArgs;
use crate::output::{ProgressLine, QuietPanics, Verdict, emit};
use crate::store_url::{StoreUrl, mysql_driver_url};
use crate::stores::{self, StoreUnderTest};

/// Runs the command.
pub fn run(args: &ExploreArgs) -> Result<Verdict> {
    stores::watch_interrupts();
    let url = StoreUrl::parse(&args.store)?;
    // The conformance run's checks (the directory exists, the server answers and lets us create
    // a schema or database) and its declared capabilities.
    let declared = StoreUnderTest::prepare(url.clone(), url.scheme().to_owned())?;
    let options = ExploreOptions {
        seed: args.seed.unwrap_or_else(seed_from_clock),
        cases: usize::try_from(args.cases).context("--cases is too large")?,
        first_case: usize::try_from(args.first_case).context("--first-case is too large")?,
        max_steps: usize::try_from(args.max_steps).context("--max-steps is too large")?,
        sessions: usize::try_from(args.sessions).context("--sessions is too large")?,
        capabilities: declared
            .capabilities
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>(),
        ..ExploreOptions::default()
    };
    drop(declared);
    if let Some(out) = &args.out {
        check_out_dir(out)?;
    }

    let sessions = if options.sessions >= 2 {
        format!(" in {} sessions", options.sessions)
    } else {
        String::new()
    };
    let text = format!(
        "user-engine explore: {} histories of up to {} steps{sessions} against {url} from seed {}\n  capabilities: {}\n",
        options.cases,
        options.max_steps,
        options.seed,
        capabilities_line(&options.capabilities),
    );
    emit(&text)?;
    let report = match &url {
        StoreUrl::Memory => explore_on(&InMemoryUserEngineStore::new, &options)?,
        StoreUrl::Sqlite(parent) => {
            let files = ScratchFiles::create(parent.as_deref())?;
            explore_on(&|| files.open(), &options)?
        }
        StoreUrl::Postgres(conninfo) => explore_on(
            &|| {
                IsolatedSchema::create(conninfo)
                    .unwrap_or_else(|e| panic!("cannot create a fresh schema: {e}"))
            },
            &options,
        )?,
        StoreUrl::Mysql(written) => {
            let driver =
                mysql_driver_url(written).ok_or_else(|| anyhow!("{url} is not a mysql:// url"))?;
            explore_on(
                &|| {
                    IsolatedDatabase::create(&driver)
                        .unwrap_or_else(|e| panic!("cannot create a fresh database: {e}"))
                },
                &options,
            )?
        }
    };

    stores::hold_if_interrupted();
    emit(&conclusion(&report, args, &options)?)?;
    Ok(Verdict::from_findings(!report.passed()))
}

/// The report, how to replay the run, and on a failure its scenario: written under `--out`
/// (which then is a spec root), else printed.
fn conclusion(
    report: &ExploreReport,
    args: &ExploreArgs,
    options: &ExploreOptions,
) -> Result<String> {
    let mut text = format!("{report}\n");
    let replay = replay_command(args, options);
    match &report.failure {
        None => text.push_str(&format!("replay: {replay}\n")),
        Some(failure) => {
            text.push_str(&format!(
                "replay: {replay}\nreplay this case alone: user-engine explore --store {} --seed {} --first-case {} --cases 1 --max-steps {}{}\n",
                shell_word(&args.store),
                options.seed,
                failure.case,
                options.max_steps,
                if options.sessions >= 2 {
                    format!(" --sessions {}", options.sessions)
                } else {
                    String::new()
                }
            ));
            // The report says why when there is no scenario, or when it does not reproduce.
            match (&failure.scenario_yaml, &args.out) {
                (Some(yaml), Some(out)) if failure.reproduces() => {
                    let path = out.join(&failure.scenario_path);
                    write_scenario(&path, yaml)?;
                    text.push_str(&format!(
                        "wrote {}; check it with `user-engine spec lint {}`, run it with `user-engine conformance --store {} --spec {}`\n",
                        path.display(),
                        shell_word(&out.display().to_string()),
                        shell_word(&args.store),
                        shell_word(&out.display().to_string()),
                    ));
                }
                (Some(yaml), None) if failure.reproduces() => text.push_str(&format!(
                    "scenario {} (pass --out DIR to write it):\n{yaml}",
                    failure.scenario_path
                )),
                _ => {}
            }
        }
    }
    Ok(text)
}

/// Explores with `factory`, showing progress on a terminal. The explorer catches the store's
/// panics (some histories panic inside a transaction on purpose), so the hook stays quiet; a
/// panic that escapes is the factory failing to make a store, an error of the run.
fn explore_on<S: UserEngineStore>(
    factory: &dyn Fn() -> S,
    options: &ExploreOptions,
) -> Result<ExploreReport> {
    let mut progress = ExploreProgress(ProgressLine::new(options.cases));
    let outcome = {
        let _quiet = QuietPanics::begin();
        catch_unwind(AssertUnwindSafe(|| {
            explore_with_progress(factory, options, &mut |p| {
                // After a signal, no further history: the signal's thread cleans up and exits.
                stores::hold_if_interrupted();
                progress.show(p);
            })
        }))
    };
    // A factory that failed because a signal is ending the run is not the run's error.
    stores::hold_if_interrupted();
    progress.0.finish();
    outcome.map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("a non-text panic payload");
        anyhow!("exploring stopped: {message}")
    })
}

/// A seed for a run that names none: the clock's microseconds, printed so the run replays.
fn seed_from_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn capabilities_line(capabilities: &BTreeSet<String>) -> String {
    if capabilities.is_empty() {
        return "none".to_owned();
    }
    let names: Vec<&str> = capabilities.iter().map(String::as_str).collect();
    names.join(", ")
}

/// The command that replays this run exactly.
fn replay_command(args: &ExploreArgs, options: &ExploreOptions) -> String {
    let mut command = format!(
        "user-engine explore --store {} --seed {} --cases {} --max-steps {}",
        shell_word(&args.store),
        options.seed,
        options.cases,
        options.max_steps
    );
    if options.first_case != 0 {
        command.push_str(&format!(" --first-case {}", options.first_case));
    }
    if options.sessions >= 2 {
        command.push_str(&format!(" --sessions {}", options.sessions));
    }
    command
}

/// `text` quoted for a POSIX shell when it holds anything but plain characters.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@=,+".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// `--out` must be a directory or not exist yet (it is created when there is something to
/// write); checked before the run, so a typo does not cost the run.
fn check_out_dir(out: &Path) -> Result<()> {
    if out.exists() && !out.is_dir() {
        bail!(
            "--out {:?} is not a directory; name a directory to hold `scenarios/explore/`",
            out.display().to_string()
        );
    }
    Ok(())
}

fn write_scenario(path: &Path, yaml: &str) -> Result<()> {
    let shown = path.display().to_string();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| {
            format!("cannot create directory {:?}", parent.display().to_string())
        })?;
    }
    std::fs::write(path, yaml).with_context(|| format!("cannot write {shown:?}"))
}

/// The SQLite side: one temporary directory for the run (under `sqlite:DIR`, or the system's),
/// and in it a database file per history, removed when the history's store is dropped.
struct ScratchFiles {
    // Fields drop in order: the registration goes before the directory does.
    _on_interrupt: scratch::Registration,
    dir: tempfile::TempDir,
    next: AtomicUsize,
}

impl ScratchFiles {
    fn create(parent: Option<&Path>) -> Result<Self> {
        // Named as `conformance` names its scratch folder, so that one left by a run killed
        // outright is removed by the next run in the same place, as `conformance` leaves it.
        let prefix = format!("user-engine-conformance-{}-explore-", std::process::id());
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix);
        let dir = match parent {
            Some(parent) => builder.tempdir_in(parent),
            None => builder.tempdir(),
        }
        .context("cannot create a temporary directory for the sqlite stores")?;
        let path = dir.path().to_path_buf();
        let on_interrupt = scratch::register(path.display().to_string(), move || {
            stores::remove_scratch_dir(&path)
        });
        Ok(Self {
            _on_interrupt: on_interrupt,
            dir,
            next: AtomicUsize::new(0),
        })
    }

    /// A fresh store in a file of its own. The explorer's factory cannot fail, so a file that
    /// cannot be opened is a panic, which [`explore_on`] turns into the run's error.
    fn open(&self) -> ScratchSqlite {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let file = self.dir.path().join(format!("{n:06}.db"));
        match SqliteUserEngineStore::open(&file) {
            Ok(store) => ScratchSqlite {
                store,
                _file: RemoveOnDrop(file),
            },
            Err(e) => panic!("cannot open a fresh sqlite store {}: {e}", file.display()),
        }
    }
}

/// A SQLite store whose files go when it does.
#[derive(Debug)]
struct ScratchSqlite {
    // Fields drop in order: the connection closes before its files are removed.
    store: SqliteUserEngineStore,
    _file: RemoveOnDrop,
}

user_engine::delegate_store!(ScratchSqlite => |scratch| &scratch.store);

#[derive(Debug)]
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = self.0.as_os_str().to_owned();
            name.push(suffix);
            // Best effort: the run's directory goes when the run ends.
            let _ = std::fs::remove_file(PathBuf::from(name));
        }
    }
}

/// What the progress line says of one report from the explorer.
struct ExploreProgress(ProgressLine);

impl ExploreProgress {
    fn show(&mut self, progress: &Progress<'_>) {
        let (line, counts) = match progress {
            Progress::Agreed { case, steps } => {
                (format!("case {case}: {steps} steps agreed"), true)
            }
            Progress::Diverged {
                case,
                step,
                keyword,
            } => (
                format!(
                    "case {case} diverged at step {} (`{keyword}`); shrinking",
                    step + 1
                ),
                true,
            ),
            Progress::Shrinking { steps, runs } => (
                format!("shrinking: {steps} steps after {runs} replays"),
                false,
            ),
            _ => return,
        };
        if counts {
            self.0.step(&line);
        } else {
            self.0.show(&line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store that comes migrated: a bug every unmigrated history shows (its reads must fail
    /// with `not_ready`).
    fn migrated_store() -> InMemoryUserEngineStore {
        let store = InMemoryUserEngineStore::new();
        store.migrate().expect("the reference migrates");
        store
    }

    fn args(out: Option<PathBuf>) -> ExploreArgs {
        ExploreArgs {
            store: "memory".to_owned(),
            cases: 200,
            seed: Some(3),
            out,
            max_steps: 40,
            first_case: 0,
            sessions: 1,
        }
    }

    #[test]
    fn a_failure_is_written_under_out_as_a_spec_root() {
        let out = tempfile::tempdir().unwrap();
        let args = args(Some(out.path().join("found")));
        let options = ExploreOptions {
            seed: 3,
            cases: 200,
            ..ExploreOptions::default()
        };
        let report = explore_on(&migrated_store, &options).unwrap();
        let failure = report.failure.as_ref().expect("a migrated store is caught");
        assert!(failure.reproduces(), "{report}");

        let text = conclusion(&report, &args, &options).unwrap();
        let written = out.path().join("found").join(&failure.scenario_path);
        assert!(
            text.contains(&format!("wrote {}", written.display())),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "replay this case alone: user-engine explore --store memory --seed 3 --first-case {} --cases 1",
                failure.case
            )),
            "{text}"
        );
        assert_eq!(
            std::fs::read_to_string(&written).unwrap(),
            *failure.scenario_yaml.as_ref().unwrap()
        );
        let spec = match crate::spec_source::try_load(Some(&out.path().join("found"))).unwrap() {
            Ok(spec) => spec,
            Err(problems) => panic!("the written spec root has problems:\n{}", problems.text),
        };
        let ids: Vec<&str> = spec.scenarios.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, [failure.scenario_id.as_str()]);
    }

    #[test]
    fn without_out_the_scenario_is_printed() {
        let options = ExploreOptions {
            seed: 3,
            cases: 200,
            ..ExploreOptions::default()
        };
        let report = explore_on(&migrated_store, &options).unwrap();
        let failure = report.failure.as_ref().unwrap();
        let text = conclusion(&report, &args(None), &options).unwrap();
        assert!(
            text.ends_with(failure.scenario_yaml.as_ref().unwrap()),
            "{text}"
        );
    }

    #[test]
    fn a_factory_that_panics_is_an_error_of_the_run() {
        let options = ExploreOptions::new(1);
        let error = explore_on(
            &|| -> InMemoryUserEngineStore { panic!("cannot create a fresh schema: gone") },
            &options,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "exploring stopped: cannot create a fresh schema: gone"
        );
    }

    #[test]
    fn replay_commands_quote_what_a_shell_would_split() {
        assert_eq!(shell_word("sqlite:"), "sqlite:");
        assert_eq!(
            shell_word("postgres:host=db user=it's"),
            r"'postgres:host=db user=it'\''s'"
        );
    }
}
