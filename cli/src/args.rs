//! The command line: every subcommand and option, as clap derive types. Their doc comments are the
//! `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Run the user-engine conformance spec against stores, lint and render the spec, and migrate,
/// probe and describe a store.
///
/// With no subcommand it runs `conformance` with its defaults: the in-memory reference store and
/// the embedded SQLite store (in a temporary directory) against the embedded spec.
#[derive(Debug, Parser)]
#[command(name = "user-engine", version, propagate_version = true)]
#[command(after_help = "\
Stores (--store):
  memory                 the in-memory reference store
  sqlite:PATH            the embedded SQLite store (a database file; for `conformance`, a directory
                         under which each scenario gets a fresh file; `sqlite:` alone: a temporary one)
  postgres:CONNINFO      a PostgreSQL server, e.g. `postgres:host=127.0.0.1 user=root dbname=test`
                         (a `postgres://user@host/db` URL works too)
  mysql://USER@HOST[:PORT]/DATABASE
                         a MySQL or MariaDB server (`mariadb://` works too), e.g.
                         `mysql://root@127.0.0.1:3306/test`; for `conformance`, each scenario gets
                         a fresh database beside DATABASE

Exit status: 0 clean, 1 something found (a failed scenario, not ready, spec problems),
2 could not run (bad arguments, unknown store, unreachable server, unreadable or invalid file).")]
pub struct Cli {
    /// What to do (default: `conformance`).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the conformance spec against one or more stores and report per area, per scenario and,
    /// with several stores, as a compliance matrix. Exits 1 if any scenario fails.
    #[command(after_help = "\
Examples:
  user-engine conformance
  user-engine conformance --store memory --store sqlite:./target
  user-engine conformance --store 'postgres:host=127.0.0.1 user=root dbname=test' --format junit > conformance.xml
  user-engine conformance --store memory --store mysql://root@127.0.0.1:3306/test
  user-engine conformance --filter 'outbox/*' --format markdown >> \"$GITHUB_STEP_SUMMARY\"")]
    Conformance(ConformanceArgs),
    /// Inspect the conformance spec: lint it, list or document its scenarios, print its JSON Schema.
    Spec {
        /// What to do with the spec.
        #[command(subcommand)]
        command: SpecCommand,
    },
    /// Apply every pending migration of the manifest to a store (creating a SQLite file if needed).
    #[command(after_help = "Example:\n  user-engine migrate --store sqlite:./users.db")]
    Migrate {
        /// The store.
        #[command(flatten)]
        store: StoreArg,
    },
    /// Ask a store whether it can serve: exit 0 when ready, 1 when not (and say why). Never writes.
    #[command(
        after_help = "Example:\n  user-engine readiness --store 'postgres:host=127.0.0.1 user=root dbname=test'"
    )]
    Readiness {
        /// The store.
        #[command(flatten)]
        store: StoreArg,
    },
    /// Print a store's diagnostics: schema version and counts only, never a payload value.
    #[command(after_help = "Example:\n  user-engine diagnostics --store sqlite:./users.db")]
    Diagnostics {
        /// The store.
        #[command(flatten)]
        store: StoreArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DiagnosticsFormat::Text)]
        format: DiagnosticsFormat,
    },
    /// Run seeded random histories on a store and on the reference store, compare every result,
    /// and write the first divergence, shrunk, as a scenario. Exits 1 when the store diverges.
    #[command(after_help = "\
Examples:
  user-engine explore --store sqlite: --cases 2000 --seed 7
  user-engine explore --store mysql://root@127.0.0.1:3306/test --cases 200 --out ./found
  user-engine explore --store sqlite: --seed 7 --first-case 41 --cases 1    # replay one case")]
    Explore(ExploreArgs),
}

impl Default for Command {
    fn default() -> Self {
        Command::Conformance(ConformanceArgs::default())
    }
}

/// Options of `conformance`.
#[derive(Debug, Default, Args)]
pub struct ConformanceArgs {
    /// A store to run against; repeat for a compliance matrix. Default: `memory` and `sqlite:`.
    #[arg(long = "store", value_name = "STORE")]
    pub stores: Vec<String>,
    /// Run only scenarios whose id contains PATTERN, or matches it when it has `*` (e.g. `outbox/*`).
    #[arg(long, value_name = "PATTERN")]
    pub filter: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
    /// Run the spec in DIR (holding `scenarios/` and `snapshots/`) instead of the embedded one.
    #[arg(long, value_name = "DIR")]
    pub spec: Option<PathBuf>,
}

/// Options of `explore`.
#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// The store: `memory`, `sqlite:` (or `sqlite:DIR`), `postgres:CONNINFO` or
    /// `mysql://USER@HOST/DATABASE`. Each history gets a fresh one.
    #[arg(long, value_name = "STORE")]
    pub store: String,
    /// How many histories to run; the run stops at the first that diverges.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub cases: u64,
    /// The seed (default: one taken from the clock, and printed); the same seed draws the same
    /// histories.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Write the failing history's scenario under DIR (`DIR/scenarios/explore/...yaml`, so DIR is
    /// a spec root); without it the scenario is printed.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The longest history, in steps; each case draws its length up to this.
    #[arg(long, value_name = "M", default_value_t = 40, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_steps: u64,
    /// The index of the first case, so a reported case replays alone (with `--cases 1`).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub first_case: u64,
    /// Sessions per history. 1 compares every step with the reference; 2 or more run that many
    /// sessions on threads of their own, interleaved in a seeded order, and check the end
    /// against what the isolation clause allows (`--max-steps` then counts all their steps).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=8))]
    pub sessions: u64,
}

/// How `conformance` reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Tables per area, a compliance matrix, located failures.
    #[default]
    Human,
    /// One JSON document.
    Json,
    /// JUnit XML, one test suite per store.
    Junit,
    /// A Markdown report (e.g. for a CI job summary).
    Markdown,
}

/// How `diagnostics` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticsFormat {
    /// The canonical text rendering the conformance snapshots pin.
    Text,
    /// The same facts as JSON.
    Json,
}

/// `--store STORE` for the single-store commands.
#[derive(Debug, Args)]
pub struct StoreArg {
    /// The store: `memory`, `sqlite:PATH`, `postgres:CONNINFO` or `mysql://USER@HOST/DATABASE`.
    #[arg(long, value_name = "STORE")]
    pub store: String,
    /// PostgreSQL only: the schema holding the tables (default `user_engine`).
    #[arg(long, value_name = "NAME")]
    pub schema: Option<String>,
}

/// `spec` subcommands.
#[derive(Debug, Subcommand)]
pub enum SpecCommand {
    /// Validate a spec root and print every problem with file:line:col, the source line and a
    /// caret. Exits 1 when there are problems.
    #[command(
        after_help = "Examples:\n  user-engine spec lint\n  user-engine spec lint ./conformance-spec"
    )]
    Lint {
        /// A spec root holding `scenarios/` (default: the embedded spec).
        dir: Option<PathBuf>,
    },
    /// List the scenarios: id, clause, required capabilities, summary.
    #[command(after_help = "Example:\n  user-engine spec list --filter outbox")]
    List {
        /// A spec root holding `scenarios/` (default: the embedded spec).
        dir: Option<PathBuf>,
        /// Only scenarios whose id contains PATTERN (or matches it, with `*`).
        #[arg(long, value_name = "PATTERN")]
        filter: Option<String>,
    },
    /// Render the Markdown catalogue of every scenario (committed as docs/scenarios.md).
    #[command(after_help = "Example:\n  user-engine spec docs > docs/scenarios.md")]
    Docs {
        /// A spec root holding `scenarios/` (default: the embedded spec).
        dir: Option<PathBuf>,
    },
    /// Print the JSON Schema of the scenario format (committed as conformance-spec/scenario.schema.json).
    #[command(
        after_help = "Example:\n  user-engine spec schema > conformance-spec/scenario.schema.json"
    )]
    Schema,
}
