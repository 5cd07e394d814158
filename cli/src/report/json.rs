//! The JSON report: one document with the run's totals, and per store its capabilities, counts per
//! area and every scenario's status (a failure with its location and the full located message).
//! Timings are left out so that two runs of the same code produce the same document.
//!
//! The document names its JSON Schema (`$schema`, the `$id` of
//! `conformance-spec/report.schema.json`) and its `format_version`. The version goes up by one
//! whenever a key is removed or renamed or a value changes meaning; new keys may be added within a
//! version, so a reader should ignore keys it does not know.

use serde_json::{Value, json};
use user_engine::conformance::{Failure, Status, Tally};

use super::{Report, StoreRun};

/// The report format's version (see the module docs for when it changes).
pub const FORMAT_VERSION: u64 = 1;

/// The `$id` of the report's JSON Schema, `conformance-spec/report.schema.json`.
pub const SCHEMA_ID: &str =
    "https://github.com/user-engine/user-engine/raw/main/conformance-spec/report.schema.json";

/// Renders the report, pretty-printed, with a trailing newline.
pub fn render(report: &Report<'_>) -> String {
    let document = json!({
        "$schema": SCHEMA_ID,
        "format_version": FORMAT_VERSION,
        "spec": report.spec_source,
        "filter": report.filter,
        "scenarios": report.scenarios.len(),
        "passed": report.total().failed == 0,
        "tally": tally(report.total()),
        "stores": report.stores.iter().map(|run| store(report, run)).collect::<Vec<_>>(),
    });
    let mut text = serde_json::to_string_pretty(&document)
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

fn store(report: &Report<'_>, run: &StoreRun<'_>) -> Value {
    let areas: serde_json::Map<String, Value> = run
        .by_area()
        .into_iter()
        .map(|(area, t)| (area.to_owned(), tally(t)))
        .collect();
    json!({
        "label": run.store.label,
        "store": run.store.url.to_string(),
        "capabilities": run.store.capabilities,
        "tally": tally(run.tally()),
        "areas": areas,
        "scenarios": run.results.iter().zip(&report.scenarios).map(|(r, scenario)| {
            let outcome = &r.outcome;
            let mut entry = json!({
                "id": outcome.id,
                "file": scenario.location.file,
                "line": scenario.location.line,
                "area": outcome.area,
                "clause": outcome.clause,
                "status": match outcome.status {
                    Status::Passed => "passed",
                    Status::Failed(_) => "failed",
                    Status::Skipped { .. } => "skipped",
                },
            });
            match &outcome.status {
                Status::Passed => {}
                Status::Skipped { reason } => entry["reason"] = json!(reason),
                Status::Failed(f) => entry["failure"] = failure(f),
            }
            entry
        }).collect::<Vec<_>>(),
    })
}

fn failure(f: &Failure) -> Value {
    json!({
        "location": f.location.to_string(),
        "file": f.location.file,
        "line": f.location.line,
        "column": f.location.column,
        "step": f.step_label,
        "step_text": f.step_text,
        "expected": f.expected,
        "actual": f.actual,
        "message": f.to_string(),
    })
}

fn tally(t: Tally) -> Value {
    json!({"passed": t.passed, "failed": t.failed, "skipped": t.skipped})
}
