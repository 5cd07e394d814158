//! The Markdown report, for a CI job summary or a pull-request comment: a table of stores, the
//! compliance matrix (scenario × store), the failures as located messages, the skips with reasons.

use std::fmt::Write as _;

use user_engine::conformance::Status;

use super::{Report, word};

/// Renders the report.
pub fn render(report: &Report<'_>) -> String {
    let mut out = String::from("# user-engine conformance\n\n");
    let total = report.total();
    let verdict = if total.failed == 0 {
        "**all scenarios passed**".to_owned()
    } else {
        format!("**{} failed**", total.failed)
    };
    let filter = report
        .filter
        .as_deref()
        .map(|f| format!(" · filter `{f}`"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Spec: {} · {} · {}{filter} · {verdict} ({total})\n",
        report.spec_source,
        count(report.scenarios.len(), "scenario"),
        count(report.stores.len(), "store"),
    );
    out.push_str("| store | where | capabilities | passed | failed | skipped |\n|---|---|---|---:|---:|---:|\n");
    for run in &report.stores {
        let t = run.tally();
        let capabilities = run
            .store
            .capabilities
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} |",
            cell(&run.store.url.to_string()),
            cell(&run.store.place),
            if capabilities.is_empty() {
                "none".to_owned()
            } else {
                capabilities
            },
            t.passed,
            t.failed,
            t.skipped
        );
    }

    out.push_str("\n## Compliance matrix\n\n| scenario | clause |");
    for run in &report.stores {
        let _ = write!(out, " {} |", cell(&run.store.label));
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(report.stores.len()));
    out.push('\n');
    for (i, scenario) in report.scenarios.iter().enumerate() {
        let _ = write!(out, "| `{}` | `{}` |", scenario.id, scenario.clause);
        for run in &report.stores {
            let cell = match &run.results[i].outcome.status {
                Status::Failed(_) => "**fail**",
                other => word(other),
            };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }

    let failures: Vec<String> = report
        .stores
        .iter()
        .flat_map(|run| {
            run.results.iter().filter_map(move |r| {
                r.outcome.failure().map(|f| {
                    format!(
                        "### `{}`: `{}`\n\n```text\n{f}\n```\n",
                        run.store.label, r.outcome.id
                    )
                })
            })
        })
        .collect();
    if !failures.is_empty() {
        out.push_str("\n## Failures\n");
        for failure in failures {
            let _ = write!(out, "\n{failure}");
        }
    }

    let skips: Vec<String> = report
        .stores
        .iter()
        .flat_map(|run| {
            run.results
                .iter()
                .filter_map(move |r| match &r.outcome.status {
                    Status::Skipped { reason } => Some(format!(
                        "- `{}` `{}`: {}",
                        run.store.label,
                        r.outcome.id,
                        cell(reason)
                    )),
                    _ => None,
                })
        })
        .collect();
    if !skips.is_empty() {
        out.push_str("\n## Skipped\n\n");
        out.push_str(&skips.join("\n"));
        out.push('\n');
    }
    out
}

fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Text safe inside a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
