//! `migrate`, `readiness` and `diagnostics`: one store, opened from `--store`, asked one thing.

use std::fmt::Write as _;

use anyhow::Result;
use user_engine::{LATEST_SCHEMA_VERSION, StoreError, migration};

use crate::args::{DiagnosticsFormat, StoreArg};
use crate::output::{Verdict, emit};
use crate::store_url::StoreUrl;
use crate::stores;

/// `migrate --store URL`: applies what is pending and says what it applied.
pub fn migrate(arg: &StoreArg) -> Result<Verdict> {
    let url = StoreUrl::parse(&arg.store)?;
    let store = stores::open_single(&url, arg.schema.as_deref(), true)?;
    let report = match store.migrate() {
        Ok(report) => report,
        // The store answered, and refused: that is a finding about the store, not bad input.
        Err(refusal @ (StoreError::MigrationDrift { .. } | StoreError::NotReady { .. })) => {
            emit(&format!("{url}: migration refused: {refusal}\n"))?;
            return Ok(Verdict::Findings);
        }
        Err(other) => return Err(other.into()),
    };
    let mut out = String::new();
    if report.applied.is_empty() {
        let _ = writeln!(
            out,
            "{url}: nothing to apply; schema version {} is the latest",
            report.schema_version
        );
    } else {
        for version in &report.applied {
            match migration::migration(*version) {
                Some(m) => {
                    _ = writeln!(
                        out,
                        "{url}: applied migration {version} ({}): {}",
                        m.name, m.description
                    )
                }
                None => _ = writeln!(out, "{url}: applied migration {version}"),
            }
        }
        let _ = writeln!(
            out,
            "{url}: schema version {} (latest {LATEST_SCHEMA_VERSION})",
            report.schema_version
        );
    }
    emit(&out)?;
    Ok(Verdict::Clean)
}

/// `readiness --store URL`: `ready ...` (exit 0) or `not ready: why` (exit 1).
pub fn readiness(arg: &StoreArg) -> Result<Verdict> {
    let url = StoreUrl::parse(&arg.store)?;
    let store = stores::open_single(&url, arg.schema.as_deref(), false)?;
    let readiness = store.readiness();
    emit(&format!("{url}: {readiness}\n"))?;
    Ok(Verdict::from_findings(!readiness.is_ready()))
}

/// `diagnostics --store URL`: the canonical, redacted rendering (counts only), or JSON.
pub fn diagnostics(arg: &StoreArg, format: DiagnosticsFormat) -> Result<Verdict> {
    let url = StoreUrl::parse(&arg.store)?;
    let store = stores::open_single(&url, arg.schema.as_deref(), false)?;
    let diagnostics = store.diagnostics()?;
    let text = match format {
        DiagnosticsFormat::Text => format!("{}\n", diagnostics.render().trim_end()),
        DiagnosticsFormat::Json => format!("{}\n", serde_json::to_string_pretty(&diagnostics)?),
    };
    emit(&text)?;
    Ok(Verdict::Clean)
}
