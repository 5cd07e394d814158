//! `user-engine`: runs the conformance spec against stores and prints a compliance report, lints
//! and renders the spec, and migrates, probes and describes a store.
//!
//! Exit status: 0 when the command did what was asked and found nothing wrong; 1 when it ran and
//! found something (a failed scenario, a store that is not ready, a spec problem); 2 when it could
//! not run (bad arguments, an unknown store, an unreachable server, an unreadable or invalid file).

mod args;
mod catalogue;
mod conformance;
mod explore;
mod output;
mod report;
mod schema;
mod spec_source;
mod store_ops;
mod store_url;
mod stores;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command, SpecCommand};
use output::Verdict;

fn main() -> ExitCode {
    output::install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    // A panic is a bug; the hook has printed one `error:` line for it, and the status says "could
    // not run" rather than Rust's 101.
    let result = std::panic::catch_unwind(|| run(cli))
        .unwrap_or_else(|_| Err(output::Rendered(String::new()).into()));
    // Test schemas and databases are dropped after their scenario, on a thread of their own
    // (`scratch::later`): the run ends once they are gone.
    user_engine::testing::scratch::settle();
    match result {
        Ok(Verdict::Clean) => ExitCode::SUCCESS,
        Ok(Verdict::Findings) => ExitCode::from(1),
        Err(error) => {
            output::report_error(&error);
            ExitCode::from(2)
        }
    }
}

/// `--help` and `--version` print as clap prints them; every other argument error is one
/// `error: ...` line and exit 2, as the docs promise (clap's own is several lines with usage).
fn usage_error(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let words: Vec<String> = std::env::args().skip(1).collect();
            eprintln!(
                "error: `user-engine {}` needs a subcommand; see `user-engine {} --help`",
                words.join(" "),
                words.join(" ")
            );
            return ExitCode::from(2);
        }
        _ => {}
    }
    eprintln!("{}", one_line(&error.render().to_string()));
    ExitCode::from(2)
}

/// clap's message as one line: its first paragraph with the list lines folded in, then its tip.
fn one_line(rendered: &str) -> String {
    let mut paragraphs = rendered.split("\n\n");
    let first = paragraphs.next().unwrap_or_default();
    let mut line = first
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if !line.starts_with("error: ") {
        line = format!("error: {line}");
    }
    for tip in paragraphs.flat_map(str::lines).map(str::trim) {
        if let Some(tip) = tip.strip_prefix("tip: ") {
            line.push_str("; ");
            line.push_str(tip);
        }
    }
    line.push_str("; see `user-engine --help`");
    line
}

fn run(cli: Cli) -> anyhow::Result<Verdict> {
    match cli.command.unwrap_or_default() {
        Command::Conformance(args) => conformance::run(&args),
        Command::Spec { command } => match command {
            SpecCommand::Lint { dir } => catalogue::lint(dir.as_deref()),
            SpecCommand::List { dir, filter } => catalogue::list(dir.as_deref(), filter.as_deref()),
            SpecCommand::Docs { dir } => catalogue::docs(dir.as_deref()),
            SpecCommand::Schema => schema::print(),
        },
        Command::Migrate { store } => store_ops::migrate(&store),
        Command::Readiness { store } => store_ops::readiness(&store),
        Command::Diagnostics { store, format } => store_ops::diagnostics(&store, format),
        Command::Explore(args) => explore::run(&args),
    }
}
