//! The spec loader's scaling: generated scenario files at 1×, 2×, 4× and 8× a base size, loaded
//! through `parse_scenario`, reported as the time ratio per doubling (linear is 2×, the target is
//! at most 2.2×) and the peak memory each load adds. Ratios, because absolute times move with
//! whatever else the shared machine runs; the fastest of the rounds, because interference only
//! ever adds time. Peak memory is measured in a child process per file (the bench binary run
//! with `--loader-peak`), since a process's peak never goes down.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use user_engine::conformance::spec::{MAX_FILE_BYTES, MAX_STEPS, parse_scenario};

/// The largest time ratio per doubling that still counts as linear.
pub const DOUBLING_TARGET: f64 = 2.2;

/// One shape of generated file, measured at every size.
pub struct Scaling {
    pub shape: &'static str,
    /// (file bytes, fastest load time, peak resident memory the load added, if measurable).
    pub sizes: Vec<(usize, Duration, Option<u64>)>,
}

impl Scaling {
    /// Time at each size over time at the size before.
    pub fn ratios(&self) -> Vec<f64> {
        self.sizes
            .windows(2)
            .map(|w| w[1].1.as_secs_f64() / w[0].1.as_secs_f64().max(1e-9))
            .collect()
    }

    /// Whether every doubling stays within [`DOUBLING_TARGET`].
    pub fn holds(&self) -> bool {
        self.ratios().iter().all(|r| *r <= DOUBLING_TARGET)
    }
}

const HEAD: &str =
    "id: bench/loader\nsummary: a generated file\nclause: store-contract#tx-rollback\n";

/// A block-style scenario: `steps` saves, each carrying `payload` numbers.
fn block_file(steps: usize, payload: usize) -> String {
    let mut text = format!("{HEAD}steps:\n  - migrate: {{}}\n");
    let data: Vec<String> = (0..payload).map(|n| n.to_string()).collect();
    for n in 1..steps {
        text.push_str(&format!(
            "  - save:\n      tenant: acme\n      kind: profile\n      id: p{n}\n      data:\n        values: [{}]\n",
            data.join(", ")
        ));
    }
    text
}

/// The same on one line: a flow list of steps (where a per-node walk of the line is quadratic).
fn flow_file(steps: usize, payload: usize) -> String {
    let data: Vec<String> = (0..payload).map(|n| n.to_string()).collect();
    let mut items = vec!["{migrate: {}}".to_owned()];
    for n in 1..steps {
        items.push(format!(
            "{{save: {{tenant: acme, kind: profile, id: p{n}, data: {{values: [{}]}}}}}}",
            data.join(", ")
        ));
    }
    format!("{HEAD}steps: [{}]\n", items.join(", "))
}

/// A field of `/proc/self/status` in kB (Linux), e.g. `VmHWM` (the peak) or `VmRSS`.
fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The child's side of `--loader-peak SHAPE K`: generates the file, loads it once and prints how
/// far the peak resident memory rose above what the process held before the load, in kB.
pub fn peak_child(shape: &str, k: usize) -> Result<()> {
    let generate = shapes()
        .into_iter()
        .find(|(name, _)| name.replace(' ', "-") == shape)
        .map(|(_, generate)| generate)
        .ok_or_else(|| anyhow::anyhow!("unknown shape {shape:?}"))?;
    let text = generate(MAX_STEPS / 8 * k, PAYLOAD);
    let before = status_kb("VmRSS:").unwrap_or(0);
    load(&text)?;
    let peak = status_kb("VmHWM:").unwrap_or(0);
    println!("{}", peak.saturating_sub(before));
    Ok(())
}

/// Runs [`peak_child`] in a fresh process.
fn peak_in_child(shape: &str, k: usize) -> Option<u64> {
    let output = std::process::Command::new(std::env::current_exe().ok()?)
        .args(["--loader-peak", &shape.replace(' ', "-"), &k.to_string()])
        .output()
        .ok()?;
    String::from_utf8(output.stdout).ok()?.trim().parse().ok()
}

/// Numbers per saved payload.
const PAYLOAD: usize = 48;

type Generate = fn(usize, usize) -> String;

fn shapes() -> [(&'static str, Generate); 2] {
    [("block steps", block_file), ("one-line flow", flow_file)]
}

fn load(text: &str) -> Result<()> {
    let loaded = parse_scenario("bench.yaml", "scenarios/bench/loader.yaml", text);
    ensure!(
        loaded.is_ok(),
        "the generated file does not load: {:?}",
        loaded.err()
    );
    Ok(())
}

/// Loads each size `rounds` times, the sizes interleaved round by round so a burst of load
/// elsewhere on the machine lands on all of them alike; medians per size.
pub fn measure(rounds: usize) -> Result<Vec<Scaling>> {
    // 8× must stay under both limits: MAX_STEPS steps and MAX_FILE_BYTES bytes.
    let steps = MAX_STEPS / 8;
    let mut out = Vec::new();
    for (shape, generate) in shapes() {
        let files: Vec<String> = [1, 2, 4, 8]
            .iter()
            .map(|k| generate(steps * k, PAYLOAD))
            .collect();
        ensure!(
            files.last().is_some_and(|f| f.len() <= MAX_FILE_BYTES),
            "the 8× file is over the size limit"
        );
        let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); files.len()];
        for _ in 0..rounds {
            for (i, file) in files.iter().enumerate() {
                let started = Instant::now();
                load(file)?;
                samples[i].push(started.elapsed());
            }
        }
        let mut sizes = Vec::new();
        for (i, (file, times)) in files.iter().zip(samples).enumerate() {
            let fastest = times.into_iter().min().unwrap_or_default();
            sizes.push((file.len(), fastest, peak_in_child(shape, 1 << i)));
        }
        out.push(Scaling { shape, sizes });
    }
    Ok(out)
}

/// The report lines for one shape.
pub fn report(scaling: &Scaling) -> Vec<String> {
    let mut lines = vec![format!("  {}:", scaling.shape)];
    for (i, (bytes, time, memory)) in scaling.sizes.iter().enumerate() {
        let ratio = match i {
            0 => "      ".to_owned(),
            _ => format!("{:>5.2}×", scaling.ratios()[i - 1]),
        };
        let memory = memory.map_or_else(
            || "n/a".to_owned(),
            |kb| format!("{:.1} MB", kb as f64 / 1024.0),
        );
        lines.push(format!(
            "    {:>2}× {:>7.1} kB  {:>9.2?}  {ratio} per doubling  peak +{memory}",
            1 << i,
            *bytes as f64 / 1024.0,
            time
        ));
    }
    lines.push(format!(
        "    doubling target (≤{DOUBLING_TARGET:.1}×): {}",
        if scaling.holds() { "holds" } else { "MISSED" }
    ));
    lines
}
