//! Printing: the machine, the ratio table, the suite's cost, each against its target.

use std::fmt::Write as _;
use std::time::Duration;

use crate::suite::{IsolatedDatabaseSetup, IsolatedSetup, SuiteCost};
use crate::timing::Comparison;
use crate::workload::Operation;

/// Adapters within this factor of the raw driver on every operation (SQLite, PostgreSQL and
/// MySQL).
pub const RATIO_TARGET: f64 = 1.10;
/// An interquartile range of the per-round ratios wider than this share of the median marks a
/// row as noisy.
pub const NOISY_SPREAD: f64 = 0.2;
/// Median cost of setting up one isolated PostgreSQL test.
pub const ISOLATED_SETUP_TARGET: Duration = Duration::from_millis(10);

/// One line of the ratio table.
pub struct Row {
    pub backend: &'static str,
    pub operation: Operation,
    pub comparison: Comparison,
    /// The adapter against a second adapter of its own (the same code, its own store and
    /// sessions), measured the same way in the same run: how far a ratio moves with nothing to
    /// find.
    pub same: Option<Comparison>,
}

impl Row {
    /// Whether the ratio target applies to this backend (not to the in-memory store).
    pub fn has_target(&self) -> bool {
        self.backend != "memory"
    }

    pub fn holds(&self) -> bool {
        self.comparison.ratio <= RATIO_TARGET
    }

    /// Whether this run can tell the target on this row: the adapter against itself came out
    /// within the target's margin of 1.00× (between 1/1.10× and 1.10×). Otherwise the machine
    /// alone moved the row further than the target allows, and its verdict, either way, says
    /// nothing about the adapter. A row without a self-comparison counts as resolved.
    pub fn resolved(&self) -> bool {
        self.same
            .as_ref()
            .is_none_or(|same| (1.0 / RATIO_TARGET..=RATIO_TARGET).contains(&same.ratio))
    }
}

/// A duration with a unit that keeps three significant figures.
pub fn duration(d: Duration) -> String {
    let ns = d.as_secs_f64() * 1e9;
    let (value, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$} {unit}")
}

/// The machine and how busy it was: absolute figures from a busy machine are not comparable.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown", |(_, m)| m.trim())
        .to_owned();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or_else(
            || "unknown".to_owned(),
            |kb| format!("{:.1} GiB", kb / 1_048_576.0),
        );
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cores} cores, {memory} memory, CPU {model}; load average {}",
        load_average()
    )
}

/// `/proc/loadavg`'s first three fields.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

pub fn table_header() -> String {
    format!(
        "{:<9} {:<34} {:>10} {:>10} {:>7} {:>13} {:>10}  {}",
        "adapter",
        "operation",
        "adapter",
        "raw",
        "ratio",
        "ratio IQR",
        "rounds×ops",
        "target ≤1.10×; the adapter against itself"
    )
}

pub fn table_row(row: &Row) -> String {
    let c = &row.comparison;
    let verdict = match (row.has_target(), row.holds(), row.resolved()) {
        (false, _, _) => "(no target)",
        (true, true, true) => "holds",
        (true, true, false) => "holds, unresolved",
        (true, false, true) => "MISSED",
        (true, false, false) => "MISSED, unresolved",
    };
    // Rounds that disagree this much mean the machine was busy: say so next to the verdict.
    let (low, high) = c.ratio_quartiles;
    let noisy = if (high - low) > NOISY_SPREAD * c.ratio {
        " (noisy)"
    } else {
        ""
    };
    let same = row.same.as_ref().map_or_else(String::new, |same| {
        format!(
            "; itself {:.2}× ({:.2}–{:.2})",
            same.ratio, same.ratio_quartiles.0, same.ratio_quartiles.1
        )
    });
    format!(
        "{:<9} {:<34} {:>10} {:>10} {:>6.2}× {:>13} {:>10}  {}{}{}",
        row.backend,
        row.operation.label(),
        duration(c.adapter),
        duration(c.raw),
        c.ratio,
        format!("{:.2}–{:.2}", c.ratio_quartiles.0, c.ratio_quartiles.1),
        format!("{}×{}", c.rounds, c.iterations),
        verdict,
        noisy,
        same
    )
}

/// One suite's cost; with `reference` (the in-memory reference store's, measured in the same run),
/// also its run and median scenario as multiples of the reference's.
pub fn suite(cost: &SuiteCost, reference: Option<&SuiteCost>) -> String {
    let mut out = format!(
        "{:<9} {:>3} scenarios ({} passed, {} skipped, {} failed): run_spec {} (median of {}), \
         median scenario {}, slowest {} {}",
        cost.adapter,
        cost.scenarios,
        cost.passed,
        cost.skipped,
        cost.failed.len(),
        duration(cost.wall),
        cost.wall_runs,
        duration(cost.per_scenario),
        cost.slowest.0,
        duration(cost.slowest.1),
    );
    if let Some(reference) = reference.filter(|r| r.adapter != cost.adapter) {
        let times = |a: Duration, r: Duration| a.as_secs_f64() / r.as_secs_f64().max(1e-12);
        let _ = write!(
            out,
            "; against the reference: run_spec {:.1}×, median scenario {:.1}×",
            times(cost.wall, reference.wall),
            times(cost.per_scenario, reference.per_scenario)
        );
    }
    if !cost.failed.is_empty() {
        let _ = write!(
            out,
            "\n          FAILED (timings above are not the suite's cost): {}",
            cost.failed.join(", ")
        );
    }
    out
}

pub fn isolated(setup: &IsolatedSetup) -> String {
    let verdict = |d: Duration| {
        if d < ISOLATED_SETUP_TARGET {
            "holds"
        } else {
            "MISSED"
        }
    };
    format!(
        "postgres isolated test setup, median of {}, target < {}:\n\
         \x20   a test that starts migrated (IsolatedSchema::migrated, from the pool): {} — {}; \
         its teardown on the test's path {} (emptied and pooled after it, off its path, in {})\n\
         \x20   a test that needs an unmigrated store (IsolatedSchema::create): {} — {} \
         (of which one bare connect {}); teardown on the test's path {} (the drop after it, off \
         its path, {})\n\
         \x20   without the pool, create + migrate: {} (migrate {}); alternatives on one open \
         connection: CREATE SCHEMA + migration as one batch {} ({} with synchronous_commit off); \
         emptying a pre-migrated schema: TRUNCATE {}, DELETE + sequence restarts \
         (synchronous_commit off) {}",
        setup.samples,
        duration(ISOLATED_SETUP_TARGET),
        duration(setup.pooled),
        verdict(setup.pooled),
        duration(setup.pooled_teardown),
        duration(setup.pooled_teardown_job),
        duration(setup.create),
        verdict(setup.create),
        duration(setup.connect),
        duration(setup.teardown),
        duration(setup.teardown_job),
        duration(setup.setup),
        duration(setup.migrate),
        duration(setup.one_batch),
        duration(setup.one_batch_async),
        duration(setup.truncate),
        duration(setup.delete),
    )
}

pub fn isolated_database(setup: &IsolatedDatabaseSetup) -> String {
    let verdict = |d: Duration| {
        if d < ISOLATED_SETUP_TARGET {
            "holds"
        } else {
            "MISSED"
        }
    };
    format!(
        "mysql isolated test setup, median of {}, target < {}:\n\
         \x20   a test that starts migrated (IsolatedDatabase::migrated, from the pool): {} — {}; \
         its teardown on the test's path {} (emptied and pooled after it, off its path, in {})\n\
         \x20   a test that needs an unmigrated store (IsolatedDatabase::create): {} — {} \
         (of which one bare connect {}); teardown on the test's path {} (the drop after it, off \
         its path, {})\n\
         \x20   without the pool, create + migrate: {} (migrate {})",
        setup.samples,
        duration(ISOLATED_SETUP_TARGET),
        duration(setup.pooled),
        verdict(setup.pooled),
        duration(setup.pooled_teardown),
        duration(setup.pooled_teardown_job),
        duration(setup.create),
        verdict(setup.create),
        duration(setup.connect),
        duration(setup.teardown),
        duration(setup.teardown_job),
        duration(setup.setup),
        duration(setup.migrate),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_keep_three_figures_and_pick_a_unit() {
        assert_eq!(duration(Duration::from_nanos(950)), "950 ns");
        assert_eq!(duration(Duration::from_nanos(12_340)), "12.3 µs");
        assert_eq!(duration(Duration::from_micros(1_500)), "1.50 ms");
        assert_eq!(duration(Duration::from_millis(2_500)), "2.50 s");
    }

    fn row(ratio: f64, itself: Option<f64>) -> Row {
        let comparison = |ratio| Comparison {
            adapter: Duration::from_micros(110),
            raw: Duration::from_micros(100),
            ratio,
            ratio_quartiles: (ratio, ratio),
            iterations: 10,
            rounds: 11,
        };
        Row {
            backend: "sqlite",
            operation: crate::workload::Operation::Save,
            comparison: comparison(ratio),
            same: itself.map(comparison),
        }
    }

    #[test]
    fn a_row_whose_self_comparison_strays_past_the_target_is_unresolved_either_way() {
        for (ratio, itself, verdict) in [
            (1.05, Some(1.02), "holds"),
            (1.20, Some(0.95), "MISSED"),
            (1.20, None, "MISSED"),
            (0.40, Some(0.45), "holds, unresolved"),
            (1.30, Some(1.25), "MISSED, unresolved"),
            (1.00, Some(0.90), "holds, unresolved"),
            (1.00, Some(0.91), "holds"),
        ] {
            let line = table_row(&row(ratio, itself));
            let shown = line
                .split("  ")
                .find(|part| part.starts_with("holds") || part.starts_with("MISSED"))
                .unwrap_or_default();
            assert!(
                shown.starts_with(verdict) && !shown[verdict.len()..].starts_with(','),
                "{ratio} with itself {itself:?}: expected {verdict:?} in {line:?}"
            );
        }
    }
}
