//! The terminal report: per store a table per area, a compliance matrix when several stores ran,
//! the skipped scenarios with their reasons, every failure as the located message the generated
//! tests print, and a closing count.

use std::fmt::Write as _;

use user_engine::conformance::{Status, Tally};

use super::{Report, StoreRun, word};

/// Renders the report.
pub fn render(report: &Report<'_>) -> String {
    let mut out = String::new();
    let stores = report.stores.len();
    let _ = writeln!(
        out,
        "user-engine conformance: {} {} against {} {} (spec: {}{})",
        report.scenarios.len(),
        plural(report.scenarios.len(), "scenario", "scenarios"),
        stores,
        plural(stores, "store", "stores"),
        report.spec_source,
        report
            .filter
            .as_deref()
            .map(|f| format!(", filter {f:?}"))
            .unwrap_or_default(),
    );
    for run in &report.stores {
        out.push('\n');
        store_section(&mut out, run);
    }
    if stores > 1 {
        out.push('\n');
        matrix(&mut out, report);
    }
    skipped(&mut out, report);
    failures(&mut out, report);
    let total = report.total();
    let verdict = if total.failed == 0 { "ok" } else { "FAILED" };
    let _ = writeln!(
        out,
        "\nresult: {verdict}. {total} in {:.2}s",
        report.elapsed.as_secs_f64()
    );
    out
}

fn store_section(out: &mut String, run: &StoreRun<'_>) {
    let store = run.store;
    let url = store.url.to_string();
    match url == store.label {
        true => _ = writeln!(out, "{}: {}", store.label, store.place),
        false => _ = writeln!(out, "{} ({url}): {}", store.label, store.place),
    }
    let capabilities = if store.capabilities.is_empty() {
        "none".to_owned()
    } else {
        store.capabilities.join(", ")
    };
    let _ = writeln!(out, "  capabilities: {capabilities}");
    let mut rows: Vec<(String, Tally)> = run
        .by_area()
        .into_iter()
        .map(|(area, t)| (area.to_owned(), t))
        .collect();
    rows.push(("total".to_owned(), run.tally()));
    let width = rows
        .iter()
        .map(|(area, _)| area.len())
        .max()
        .unwrap_or(0)
        .max("area".len());
    let _ = writeln!(out, "  {:<width$}  passed  failed  skipped", "area");
    for (i, (area, t)) in rows.iter().enumerate() {
        if i + 1 == rows.len() {
            let _ = writeln!(out, "  {}", "-".repeat(width + 25));
        }
        let _ = writeln!(
            out,
            "  {area:<width$}  {:>6}  {:>6}  {:>7}",
            t.passed, t.failed, t.skipped
        );
    }
}

/// Scenario × store, one word per cell.
fn matrix(out: &mut String, report: &Report<'_>) {
    let _ = writeln!(out, "compliance matrix (scenario × store)");
    let width = report
        .scenarios
        .iter()
        .map(|s| s.id.len())
        .max()
        .unwrap_or(0)
        .max("scenario".len());
    let columns: Vec<usize> = report
        .stores
        .iter()
        .map(|r| r.store.label.len().max(4))
        .collect();
    let mut header = format!("  {:<width$}", "scenario");
    for (run, w) in report.stores.iter().zip(&columns) {
        let _ = write!(header, "  {:<w$}", run.store.label);
    }
    let _ = writeln!(out, "{}", header.trim_end());
    for (i, scenario) in report.scenarios.iter().enumerate() {
        let mut line = format!("  {:<width$}", scenario.id);
        for (run, w) in report.stores.iter().zip(&columns) {
            let cell = match &run.results[i].outcome.status {
                Status::Failed(_) => "FAIL",
                other => word(other),
            };
            let _ = write!(line, "  {cell:<w$}");
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

fn skipped(out: &mut String, report: &Report<'_>) {
    let rows: Vec<String> = report
        .stores
        .iter()
        .flat_map(|run| {
            run.results
                .iter()
                .filter_map(move |r| match &r.outcome.status {
                    Status::Skipped { reason } => {
                        Some(format!("  {}: {}: {reason}", run.store.label, r.outcome.id))
                    }
                    _ => None,
                })
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nskipped (not run, and why)");
    for row in rows {
        let _ = writeln!(out, "{row}");
    }
}

fn failures(out: &mut String, report: &Report<'_>) {
    let failed: Vec<String> = report
        .stores
        .iter()
        .flat_map(|run| {
            run.results.iter().filter_map(move |r| {
                r.outcome
                    .failure()
                    .map(|f| format!("{}: {f}", run.store.label))
            })
        })
        .collect();
    if failed.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nfailures");
    for failure in failed {
        let _ = writeln!(out, "\n{failure}");
    }
}

fn plural<'w>(n: usize, one: &'w str, many: &'w str) -> &'w str {
    if n == 1 { one } else { many }
}
