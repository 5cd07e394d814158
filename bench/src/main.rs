//! `cargo run -p user-engine-bench --release`: what each adapter costs against the raw driver
//! doing the same work in the same run, and what the conformance suite itself costs.
//!
//! Every operation is measured as a ratio adapter / raw, interleaved sample by sample, because the
//! machine is shared and absolute timings move with whatever else is building. PostgreSQL is
//! measured only when `USER_ENGINE_POSTGRES_URL` is set, MySQL/MariaDB only when
//! `USER_ENGINE_MYSQL_URL` is. `docs/performance.md` holds the figures.
//!
//! Options: `--quick` (a smoke run), `--only memory,sqlite,postgres,mysql`,
//! `--op save,get,list,batch,drain`, `--skip-ops`, `--skip-suite`, `--skip-loader`,
//! `--no-spinners` (measure without the idle-class spinners of [`steady`]). Parsed by hand:
//! seven flags do not need a dependency.

mod copies;
mod explain;
mod explain_mysql;
mod loader;
mod raw_memory;
mod raw_mysql;
mod raw_postgres;
mod raw_sqlite;
mod report;
mod steady;
mod suite;
mod timing;
mod wire;
mod workload;

use anyhow::{Context, Result, bail, ensure};
use tempfile::TempDir;
use user_engine::InMemoryUserEngineStore;
use user_engine::conformance::Stores;
use user_engine_mysql::testing::{IsolatedDatabase, URL_VAR as MYSQL_URL_VAR};
use user_engine_postgres::testing::{IsolatedSchema, URL_VAR};
use user_engine_sqlite::SqliteUserEngineStore;
use user_engine_sqlite::testing::TempSqliteStore;

use crate::report::Row;
use crate::timing::{Plan, Workload, compare};
use crate::workload::{
    Adapter, DRAIN_BATCH, DrainSplit, OUTBOX_EVENTS, Operation, RECORDS, Subject, prepare,
};

const BACKENDS: [&str; 4] = ["memory", "sqlite", "postgres", "mysql"];

/// The servers the environment names; a backend whose server is not named is not measured.
struct Servers {
    postgres: Option<String>,
    mysql: Option<String>,
}

impl Servers {
    fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|u| !u.trim().is_empty());
        Self {
            postgres: var(URL_VAR),
            mysql: var(MYSQL_URL_VAR),
        }
    }

    /// The URL of a server backend, or why it is missing.
    fn url(&self, backend: &str) -> Result<&str> {
        let (url, var) = match backend {
            "postgres" => (&self.postgres, URL_VAR),
            "mysql" => (&self.mysql, MYSQL_URL_VAR),
            other => bail!("{other} has no server"),
        };
        url.as_deref()
            .with_context(|| format!("{backend} needs {var}"))
    }
}

struct Args {
    plan: Plan,
    backends: Vec<&'static str>,
    operations: Vec<Operation>,
    ops: bool,
    suite: bool,
    loader: bool,
    spinners: bool,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        plan: Plan::standard(),
        backends: BACKENDS.to_vec(),
        operations: Operation::ALL.to_vec(),
        ops: true,
        suite: true,
        loader: true,
        spinners: true,
    };
    let mut input = std::env::args().skip(1);
    while let Some(arg) = input.next() {
        match arg.as_str() {
            "--quick" => args.plan = Plan::quick(),
            "--skip-ops" => args.ops = false,
            "--skip-suite" => args.suite = false,
            "--skip-loader" => args.loader = false,
            "--no-spinners" => args.spinners = false,
            "--only" => {
                let list = input
                    .next()
                    .context("--only needs a list, e.g. `--only sqlite,postgres`")?;
                args.backends = list
                    .split(',')
                    .map(|name| {
                        BACKENDS.iter().copied().find(|b| *b == name.trim()).with_context(|| {
                            format!("unknown adapter {name:?} in --only; expected memory, sqlite, postgres or mysql")
                        })
                    })
                    .collect::<Result<_>>()?;
            }
            "--op" => {
                let list = input
                    .next()
                    .context("--op needs a list, e.g. `--op get,save`")?;
                args.operations = list
                    .split(',')
                    .map(|name| {
                        Operation::ALL
                            .into_iter()
                            .find(|o| o.name() == name.trim())
                            .with_context(|| {
                                format!(
                                    "unknown operation {name:?} in --op; expected save, get, list, batch or drain"
                                )
                            })
                    })
                    .collect::<Result<_>>()?;
            }
            "-h" | "--help" => {
                println!(
                    "usage: user-engine-bench [--quick] [--only memory,sqlite,postgres,mysql] [--op save,get,list,batch,drain] [--skip-ops] [--skip-suite] [--skip-loader] [--no-spinners]\n\
                     PostgreSQL is measured when {URL_VAR} is set, MySQL/MariaDB when {MYSQL_URL_VAR} is."
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}; try --help"),
        }
    }
    Ok(args)
}

fn main() -> Result<()> {
    let argv: Vec<String> = std::env::args().collect();
    if let [_, flag] = argv.as_slice() {
        if flag == steady::SPIN_FLAG {
            steady::spin();
        }
    }
    if let [_, flag, shape, k] = argv.as_slice() {
        if flag == "--loader-peak" {
            return loader::peak_child(shape, k.parse()?);
        }
    }
    let args = parse_args()?;
    println!("user-engine-bench — {}", report::machine());
    if cfg!(debug_assertions) {
        println!("warning: a debug build; run with --release for meaningful figures");
    }
    let servers = Servers::from_env();
    let url = servers.postgres.clone();
    let mut backends = args.backends.clone();
    if url.is_none() && backends.contains(&"postgres") {
        println!(
            "PostgreSQL: NOT benchmarked — {URL_VAR} is not set \
             (e.g. {URL_VAR}='host=127.0.0.1 user=root dbname=test')"
        );
        backends.retain(|b| *b != "postgres");
    }
    if servers.mysql.is_none() && backends.contains(&"mysql") {
        println!(
            "MySQL/MariaDB: NOT benchmarked — {MYSQL_URL_VAR} is not set \
             (e.g. {MYSQL_URL_VAR}=mysql://root@127.0.0.1:3306/test)"
        );
        backends.retain(|b| *b != "mysql");
    }
    // The suites and isolated setups run first, on servers as a test run finds them rather than
    // after minutes of the operations' commits (the PostgreSQL median scenario measured 18.7 ms
    // after them, 11.2 ms and 11.4 ms in runs of its own).
    if args.suite {
        println!("\nconformance suite cost (embedded spec, fresh store per scenario):");
        // Scenarios that panic on purpose would print a message and a backtrace each; the runner
        // catches the panic and reports it as a failure anyway.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let quick = args.plan.rounds < Plan::standard().rounds;
        // The reference store's cost, the first measured (`memory` comes first when selected).
        let mut reference = None;
        for backend in &backends {
            let cost = match *backend {
                "memory" => suite::measure(
                    "memory",
                    InMemoryUserEngineStore::CAPABILITIES,
                    &Stores::fresh(&InMemoryUserEngineStore::new),
                    if quick { 1 } else { 5 },
                )?,
                "sqlite" => suite::measure(
                    "sqlite",
                    user_engine_sqlite::CAPABILITIES,
                    &Stores::fresh(&TempSqliteStore::new),
                    if quick { 1 } else { 3 },
                )?,
                "mysql" => {
                    let url = servers.url("mysql")?.to_owned();
                    let fresh = || match IsolatedDatabase::create(&url) {
                        Ok(database) => database,
                        Err(err) => panic!("cannot create an isolated database: {err}"),
                    };
                    let migrated = || match IsolatedDatabase::migrated(&url) {
                        Ok(database) => database,
                        Err(err) => panic!("cannot make a migrated isolated database: {err}"),
                    };
                    let stores = Stores {
                        fresh: &fresh,
                        migrated: Some(&migrated),
                    };
                    let cost = suite::measure(
                        "mysql",
                        user_engine_mysql::CAPABILITIES,
                        &stores,
                        if quick { 1 } else { 2 },
                    )?;
                    user_engine_mysql::testing::drop_pooled();
                    cost
                }
                _ => {
                    let url = servers.url("postgres")?.to_owned();
                    let fresh = || match IsolatedSchema::create(&url) {
                        Ok(schema) => schema,
                        Err(err) => panic!("cannot create an isolated schema: {err}"),
                    };
                    let migrated = || match IsolatedSchema::migrated(&url) {
                        Ok(schema) => schema,
                        Err(err) => panic!("cannot make a migrated isolated schema: {err}"),
                    };
                    let stores = Stores {
                        fresh: &fresh,
                        migrated: Some(&migrated),
                    };
                    let cost = suite::measure(
                        "postgres",
                        user_engine_postgres::CAPABILITIES,
                        &stores,
                        if quick { 1 } else { 2 },
                    )?;
                    user_engine_postgres::testing::drop_pooled();
                    cost
                }
            };
            println!("{}", report::suite(&cost, reference.as_ref()));
            if *backend == "memory" {
                reference = Some(cost);
            }
        }
        std::panic::set_hook(hook);
        if let (Some(url), true) = (&url, backends.contains(&"postgres")) {
            let setup = suite::isolated_setup(url, if quick { 3 } else { 25 })?;
            println!("{}", report::isolated(&setup));
        }
        if let (Some(url), true) = (&servers.mysql, backends.contains(&"mysql")) {
            let setup = suite::isolated_database_setup(url, if quick { 3 } else { 25 })?;
            println!("{}", report::isolated_database(&setup));
        }
    }
    let mut rows = Vec::new();
    if args.ops {
        println!("\n{}", report::table_header());
        for backend in &backends {
            for &operation in &args.operations {
                // Reads from a server are measured with a spinner on every core (`steady`):
                // without them where each side's session sleeps decides what its round trip
                // costs. Writes are not: the spinners slow the disk's answer (a PostgreSQL
                // commit measured 3.9 ms with them, 0.97 ms without), which would bury the
                // adapter's own cost under the shared one.
                let _spinners = if args.spinners && operation.only_reads() && server(backend) {
                    match steady::Spinners::start() {
                        Ok(spinners) => Some(spinners),
                        Err(why) => {
                            println!("(no idle-class spinners: {why}; the next row is unsteadied)");
                            None
                        }
                    }
                } else {
                    None
                };
                let comparison = measure(backend, operation, &args.plan, &servers)
                    .with_context(|| format!("measuring {backend}: {}", operation.label()))?;
                let same = if *backend == "memory" {
                    None
                } else {
                    Some(
                        measure_same(backend, operation, &args.plan, &servers).with_context(
                            || format!("measuring {backend} against itself: {}", operation.label()),
                        )?,
                    )
                };
                let row = Row {
                    backend,
                    operation,
                    comparison,
                    same,
                };
                println!("{}", report::table_row(&row));
                rows.push(row);
            }
        }
        println!(
            "(medians per operation; ratio = median of per-round adapter/raw ratios; (noisy): their \
             interquartile range is wider than {:.0}% of the median; load average now {}; {})",
            report::NOISY_SPREAD * 100.0,
            report::load_average(),
            if args.spinners {
                "get and list on a server measured with an idle-class spinner on every core, \
                 --no-spinners to measure them without"
            } else {
                "no spinners (--no-spinners)"
            }
        );
    }
    if args.ops {
        println!("\nwhere the gaps come from (measured in this run):");
        if backends.contains(&"memory") {
            for line in explain::memory()? {
                println!("{line}");
            }
        }
        if backends.contains(&"sqlite") {
            for line in explain::sqlite(&rows, &args.plan)? {
                println!("{line}");
            }
        }
        if let (Some(url), true) = (&url, backends.contains(&"postgres")) {
            for line in explain::postgres(url, &rows)? {
                println!("{line}");
            }
        }
        if let (Some(url), true) = (&servers.mysql, backends.contains(&"mysql")) {
            for line in explain_mysql::mysql(url, &rows, &args.plan)? {
                println!("{line}");
            }
        }
    }
    if args.loader {
        println!(
            "\nspec loader scaling (one generated scenario file at 1×, 2×, 4×, 8×; median load, ratio per doubling):"
        );
        let quick = args.plan.rounds < Plan::standard().rounds;
        for scaling in loader::measure(if quick { 3 } else { 15 })? {
            for line in loader::report(&scaling) {
                println!("{line}");
            }
        }
    }
    let targeted: Vec<&Row> = rows.iter().filter(|r| r.has_target()).collect();
    if !targeted.is_empty() {
        let named = |r: &&Row| {
            format!(
                "{} {} {:.2}×",
                r.backend,
                r.operation.label(),
                r.comparison.ratio
            )
        };
        let missed: Vec<String> = targeted
            .iter()
            .filter(|r| !r.holds() && r.resolved())
            .map(named)
            .collect();
        let unresolved: Vec<String> = targeted
            .iter()
            .filter(|r| !r.resolved())
            .map(|r| {
                let itself = r.same.as_ref().map_or(1.0, |same| same.ratio);
                format!("{} (itself {itself:.2}×)", named(r))
            })
            .collect();
        let held = targeted
            .iter()
            .filter(|r| r.holds() && r.resolved())
            .count();
        println!(
            "\nratio target (≤{:.2}× raw): {held} of {} hold{}{}",
            report::RATIO_TARGET,
            targeted.len(),
            if missed.is_empty() {
                String::new()
            } else {
                format!("; missed: {}", missed.join("; "))
            },
            if unresolved.is_empty() {
                String::new()
            } else {
                format!(
                    "; not told by this run (the adapter against itself strayed past the target): {}",
                    unresolved.join("; ")
                )
            }
        );
    }
    Ok(())
}

/// A fresh adapter and its baseline for one operation, so no operation inherits another's
/// history. Fields drop in order: the stores close before their directory is removed.
struct Pair {
    adapter: Box<dyn Subject>,
    raw: Box<dyn Subject>,
    _dir: Option<TempDir>,
}

impl Pair {
    /// The adapter and its raw baseline.
    fn new(backend: &str, servers: &Servers) -> Result<Self> {
        Self::build(backend, servers, false)
    }

    /// The adapter and, in the baseline's place, a second fresh adapter of its own.
    fn twins(backend: &str, servers: &Servers) -> Result<Self> {
        Self::build(backend, servers, true)
    }

    fn build(backend: &str, servers: &Servers, twins: bool) -> Result<Self> {
        Ok(match backend {
            "memory" => {
                let adapter = || -> Result<Box<dyn Subject>> {
                    Ok(Box::new(Adapter::new(InMemoryUserEngineStore::new())?))
                };
                Pair {
                    adapter: adapter()?,
                    raw: if twins {
                        adapter()?
                    } else {
                        Box::new(raw_memory::RawMemory::new())
                    },
                    _dir: None,
                }
            }
            "sqlite" => {
                let dir = tempfile::tempdir()?;
                let adapter = |name: &str| -> Result<Box<dyn Subject>> {
                    let store = SqliteUserEngineStore::open(dir.path().join(name))?;
                    Ok(Box::new(Adapter::new(store)?))
                };
                let (adapter, raw) = if twins {
                    (adapter("adapter.db")?, adapter("twin.db")?)
                } else {
                    let raw = raw_sqlite::RawSqlite::open(&dir.path().join("raw.db"))?;
                    (adapter("adapter.db")?, Box::new(raw) as Box<dyn Subject>)
                };
                Pair {
                    adapter,
                    raw,
                    _dir: Some(dir),
                }
            }
            "mysql" => {
                let url = servers.url("mysql")?;
                let adapter = || -> Result<Box<dyn Subject>> {
                    Ok(Box::new(Adapter::new(IsolatedDatabase::create(url)?)?))
                };
                Pair {
                    adapter: adapter()?,
                    raw: if twins {
                        adapter()?
                    } else {
                        Box::new(raw_mysql::RawMysql::create(url)?)
                    },
                    _dir: None,
                }
            }
            _ => {
                let url = servers.url("postgres")?;
                let adapter = || -> Result<Box<dyn Subject>> {
                    Ok(Box::new(Adapter::new(IsolatedSchema::create(url)?)?))
                };
                Pair {
                    adapter: adapter()?,
                    raw: if twins {
                        adapter()?
                    } else {
                        Box::new(raw_postgres::RawPostgres::create(url)?)
                    },
                    _dir: None,
                }
            }
        })
    }
}

/// The adapter against a second adapter of its own, both fresh, measured as [`measure`] measures
/// it against its baseline: the ratio a run gives when there is nothing to find. On two cores,
/// where the scheduler runs each side's server session can move a round trip's cost by 2× or more,
/// and that lasts for the session's life.
fn measure_same(
    backend: &str,
    operation: Operation,
    plan: &Plan,
    servers: &Servers,
) -> Result<timing::Comparison> {
    let twins = Pair::twins(backend, servers)?;
    prepare(operation, twins.adapter.as_ref(), twins.raw.as_ref())?;
    let mut a = workload(operation, twins.adapter.as_ref());
    let mut b = workload(operation, twins.raw.as_ref());
    compare(plan, &mut a, &mut b)
}

/// Whether `backend` answers over a connection to a server.
fn server(backend: &str) -> bool {
    matches!(backend, "postgres" | "mysql")
}

fn measure(
    backend: &str,
    operation: Operation,
    plan: &Plan,
    servers: &Servers,
) -> Result<timing::Comparison> {
    let pair = Pair::new(backend, servers)?;
    prepare(operation, pair.adapter.as_ref(), pair.raw.as_ref())?;
    let mut a = workload(operation, pair.adapter.as_ref());
    let mut r = workload(operation, pair.raw.as_ref());
    compare(plan, &mut a, &mut r)
}

fn workload<'a>(operation: Operation, subject: &'a dyn Subject) -> Workload<'a> {
    match operation {
        Operation::Save => Workload::Repeat(Box::new(move |n| subject.save_one(n).map(drop))),
        Operation::Get => Workload::Repeat(Box::new(move |i| subject.get(i))),
        Operation::List => Workload::Repeat(Box::new(move |_| {
            let listed = subject.list_tenant()?;
            ensure!(
                listed == RECORDS,
                "listed {listed} records, expected {RECORDS}"
            );
            Ok(())
        })),
        Operation::Batch => Workload::Repeat(Box::new(move |n| subject.write_batch(n))),
        Operation::Drain => {
            // Every event seeded is drained before the step that finds none left.
            let drained = std::cell::Cell::new(0);
            Workload::Fresh {
                setup: Box::new(move || subject.seed_outbox(OUTBOX_EVENTS)),
                step: Box::new(move || {
                    let batch = subject.drain_batch(DRAIN_BATCH, &mut DrainSplit::default())?;
                    if batch > 0 {
                        drained.set(drained.get() + batch);
                        return Ok(true);
                    }
                    let total = drained.replace(0);
                    ensure!(
                        total == OUTBOX_EVENTS,
                        "drained {total} events, expected {OUTBOX_EVENTS}"
                    );
                    Ok(false)
                }),
            }
        }
    }
}
