//! `user-engine conformance`: runs the selected scenarios against every store, one fresh store per
//! scenario, through the library runner the generated tests use, then renders the report.

use std::time::Instant;

use anyhow::Result;
use user_engine::conformance::SnapshotCheck;
use user_engine::conformance::spec::Scenario;

use crate::args::{ConformanceArgs, ReportFormat};
use crate::output::{ProgressLine, QuietPanics, Verdict, emit};
use crate::report::{self, Report, ScenarioRun, StoreRun};
use crate::spec_source::{self, Filter};
use crate::store_url::StoreUrl;
use crate::stores::{self, StoreUnderTest};

/// Runs the command.
pub fn run(args: &ConformanceArgs) -> Result<Verdict> {
    stores::watch_interrupts();
    let urls: Vec<StoreUrl> = if args.stores.is_empty() {
        vec![StoreUrl::Memory, StoreUrl::Sqlite(None)]
    } else {
        args.stores
            .iter()
            .map(|s| StoreUrl::parse(s))
            .collect::<Result<_>>()?
    };
    let spec = spec_source::load(args.spec.as_deref())?;
    let filter = args.filter.as_deref().map(Filter::new);
    let scenarios = Filter::select(filter.as_ref(), &spec)?;
    let stores = stores::prepare_all(urls)?;

    let snapshots = SnapshotCheck::Loaded(&spec.snapshots);
    let mut progress = ProgressLine::new(scenarios.len() * stores.len());
    let started = Instant::now();
    let runs: Vec<StoreRun<'_>> = stores
        .iter()
        .map(|store| run_store(store, &scenarios, &snapshots, &mut progress))
        .collect();
    stores::hold_if_interrupted();
    progress.finish();

    let report = Report {
        spec_source: match &args.spec {
            Some(dir) => dir.display().to_string(),
            None => "embedded".to_owned(),
        },
        filter: args.filter.clone(),
        scenarios,
        stores: runs,
        elapsed: started.elapsed(),
    };
    let text = match args.format {
        ReportFormat::Human => report::human::render(&report),
        ReportFormat::Json => report::json::render(&report),
        ReportFormat::Junit => report::junit::render(&report),
        ReportFormat::Markdown => report::markdown::render(&report),
    };
    emit(&text)?;
    Ok(Verdict::from_findings(report.total().failed > 0))
}

fn run_store<'a>(
    store: &'a StoreUnderTest,
    scenarios: &[&Scenario],
    snapshots: &SnapshotCheck<'_>,
    progress: &mut ProgressLine,
) -> StoreRun<'a> {
    let options = store.options();
    let started = Instant::now();
    let results = scenarios
        .iter()
        .map(|scenario| {
            stores::hold_if_interrupted();
            progress.step(&format!("{}  {}", store.label, scenario.id));
            let started = Instant::now();
            let outcome = {
                let _quiet = QuietPanics::begin();
                store.run(scenario, &options, snapshots)
            };
            ScenarioRun {
                outcome,
                elapsed: started.elapsed(),
            }
        })
        .collect();
    StoreRun {
        store,
        results,
        elapsed: started.elapsed(),
    }
}
