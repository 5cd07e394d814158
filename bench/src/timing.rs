//! The timing harness: warm-up, calibrated iterations per sample, adapter and raw samples
//! interleaved round by round, and medians.
//!
//! Other builds may be running on the same two cores, so no absolute figure is trusted on its own:
//! every adapter sample is taken next to a raw sample of the same workload (alternating which goes
//! first), and the figure reported is the median of the per-round ratios.

use std::time::{Duration, Instant};

use anyhow::Result;

/// How long one side runs before the other takes its turn, within a round.
const CHUNK: Duration = Duration::from_millis(1);

/// How long and how often to measure.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Rounds of one adapter sample and one raw sample each.
    pub rounds: usize,
    /// Rounds for workloads that need an untimed setup before every timed run (draining).
    pub fresh_rounds: usize,
    /// Target duration of one adapter sample of a repeated workload.
    pub sample_time: Duration,
    /// The fewest operations a sample of a repeated workload runs, however slow they are: a
    /// median of three multi-millisecond transactions says little.
    pub min_iterations: u64,
    /// How long each side runs before calibration.
    pub warmup: Duration,
}

impl Plan {
    /// The default plan: a few minutes for every operation of every adapter.
    pub fn standard() -> Self {
        Self {
            rounds: 11,
            fresh_rounds: 7,
            sample_time: Duration::from_millis(60),
            min_iterations: 10,
            warmup: Duration::from_millis(150),
        }
    }

    /// A quick look, for checking that everything runs.
    pub fn quick() -> Self {
        Self {
            rounds: 3,
            fresh_rounds: 1,
            sample_time: Duration::from_millis(10),
            min_iterations: 1,
            warmup: Duration::from_millis(20),
        }
    }
}

/// A repeated operation; gets the iteration number so keys can rotate.
pub type Step<'a> = Box<dyn FnMut(u64) -> Result<()> + 'a>;
/// An untimed preparation.
pub type Action<'a> = Box<dyn FnMut() -> Result<()> + 'a>;
/// One step of a run that ends by itself; returns whether there may be more to do.
pub type Stepper<'a> = Box<dyn FnMut() -> Result<bool> + 'a>;

/// One side of a comparison.
pub enum Workload<'a> {
    /// Run many times per sample; the per-operation time is the sample time / iterations.
    Repeat(Step<'a>),
    /// `setup` (untimed), then timed `step`s until one returns `false` (it found nothing left to
    /// do), per sample. The two sides' steps are interleaved one by one, so a slow spell of the
    /// disk or the server lands on both.
    Fresh {
        setup: Action<'a>,
        step: Stepper<'a>,
    },
}

/// The outcome of comparing an adapter with its raw baseline.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// Median time of one adapter operation.
    pub adapter: Duration,
    /// Median time of one raw operation.
    pub raw: Duration,
    /// Median of the per-round ratios adapter / raw.
    pub ratio: f64,
    /// Lower and upper quartile of the per-round ratios: how much the noise moved them.
    pub ratio_quartiles: (f64, f64),
    /// Operations per sample (the same for both sides, so both leave the same history behind).
    pub iterations: u64,
    /// Rounds taken.
    pub rounds: usize,
}

/// Measures `adapter` and `raw` interleaved, one sample of each per round.
pub fn compare(
    plan: &Plan,
    adapter: &mut Workload<'_>,
    raw: &mut Workload<'_>,
) -> Result<Comparison> {
    match (adapter, raw) {
        (Workload::Repeat(a), Workload::Repeat(b)) => compare_repeated(plan, a, b),
        (
            Workload::Fresh {
                setup: sa,
                step: ra,
            },
            Workload::Fresh {
                setup: sb,
                step: rb,
            },
        ) => compare_fresh(plan, (sa, ra), (sb, rb)),
        _ => anyhow::bail!("an adapter and its baseline must be measured the same way"),
    }
}

fn compare_repeated(plan: &Plan, a: &mut Step<'_>, b: &mut Step<'_>) -> Result<Comparison> {
    let mut counters = [0_u64; 2];
    // Both sides warm up with the same number of operations, and every sample runs the same count
    // on both, so their tables, logs and WAL files always hold the same history: a write that
    // appends to a growing WAL costs more than one that overwrites a recycled one.
    let (warmup_runs, warmup_a) = warm_up(plan.warmup, a, &mut counters[0])?;
    let per_op_a = warmup_a / warmup_runs;
    let per_op_b = sample(b, &mut counters[1], u64::from(warmup_runs))? / warmup_runs;
    let slower = per_op_a.max(per_op_b).as_secs_f64().max(1e-9);
    let iterations = ((plan.sample_time.as_secs_f64() / slower) as u64)
        .clamp(plan.min_iterations.max(1), 5_000_000);
    let mut times_a = Vec::with_capacity(plan.rounds);
    let mut times_b = Vec::with_capacity(plan.rounds);
    // Within a round the two sides alternate in chunks of about CHUNK: for an operation that
    // waits on fsync that is one operation at a time, so a slow spell of the disk lands on both.
    let chunk = ((CHUNK.as_secs_f64() / slower) as u64).clamp(1, iterations);
    let [counter_a, counter_b] = &mut counters;
    for round in 0..plan.rounds {
        let (mut total_a, mut total_b) = (Duration::ZERO, Duration::ZERO);
        let mut done = 0;
        let mut turn = round;
        while done < iterations {
            let n = chunk.min(iterations - done);
            if turn.is_multiple_of(2) {
                total_a += sample(a, counter_a, n)?;
                total_b += sample(b, counter_b, n)?;
            } else {
                total_b += sample(b, counter_b, n)?;
                total_a += sample(a, counter_a, n)?;
            }
            done += n;
            turn += 1;
        }
        let per_op = |total: Duration| total.div_f64(iterations as f64);
        times_a.push(per_op(total_a));
        times_b.push(per_op(total_b));
    }
    Ok(summarise(&times_a, &times_b, iterations))
}

fn compare_fresh(
    plan: &Plan,
    a: (&mut Action<'_>, &mut Stepper<'_>),
    b: (&mut Action<'_>, &mut Stepper<'_>),
) -> Result<Comparison> {
    let (setup_a, step_a) = a;
    let (setup_b, step_b) = b;
    let mut times_a = Vec::with_capacity(plan.fresh_rounds);
    let mut times_b = Vec::with_capacity(plan.fresh_rounds);
    // One untimed round warms caches, statements and connections.
    for round in 0..=plan.fresh_rounds {
        // Which side is seeded last (and so waits least before its drain) alternates too.
        if round.is_multiple_of(2) {
            setup_a()?;
            setup_b()?;
        } else {
            setup_b()?;
            setup_a()?;
        }
        let (total_a, total_b) = interleave(round, step_a, step_b)?;
        if round > 0 {
            times_a.push(total_a);
            times_b.push(total_b);
        }
    }
    Ok(summarise(&times_a, &times_b, 1))
}

/// Runs both steppers to their end, one step of each in turn (which side goes first alternates
/// from step to step, and `first` picks the first step's); returns each side's total time.
pub fn interleave(
    first: usize,
    a: &mut Stepper<'_>,
    b: &mut Stepper<'_>,
) -> Result<(Duration, Duration)> {
    let timed = |step: &mut Stepper<'_>, total: &mut Duration| -> Result<bool> {
        let start = Instant::now();
        let more = step()?;
        *total += start.elapsed();
        Ok(more)
    };
    let (mut total_a, mut total_b) = (Duration::ZERO, Duration::ZERO);
    let (mut more_a, mut more_b) = (true, true);
    let mut turn = first;
    while more_a || more_b {
        if turn.is_multiple_of(2) {
            if more_a {
                more_a = timed(a, &mut total_a)?;
            }
            if more_b {
                more_b = timed(b, &mut total_b)?;
            }
        } else {
            if more_b {
                more_b = timed(b, &mut total_b)?;
            }
            if more_a {
                more_a = timed(a, &mut total_a)?;
            }
        }
        turn += 1;
    }
    Ok((total_a, total_b))
}

/// `iterations` timed runs; returns their total time.
fn sample(step: &mut Step<'_>, counter: &mut u64, iterations: u64) -> Result<Duration> {
    let start = Instant::now();
    for _ in 0..iterations {
        step(*counter)?;
        *counter += 1;
    }
    Ok(start.elapsed())
}

/// Runs `step` for `duration` (at least three times); returns how many times it ran, and how long.
fn warm_up(duration: Duration, step: &mut Step<'_>, counter: &mut u64) -> Result<(u32, Duration)> {
    let start = Instant::now();
    let mut runs = 0_u32;
    while runs < 3 || start.elapsed() < duration {
        step(*counter)?;
        *counter += 1;
        runs += 1;
    }
    Ok((runs, start.elapsed()))
}

fn summarise(times_a: &[Duration], times_b: &[Duration], iterations: u64) -> Comparison {
    let ratios: Vec<f64> = times_a
        .iter()
        .zip(times_b)
        .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64().max(1e-12))
        .collect();
    Comparison {
        adapter: median_duration(times_a),
        raw: median_duration(times_b),
        ratio: quantile(&ratios, 0.5),
        ratio_quartiles: (quantile(&ratios, 0.25), quantile(&ratios, 0.75)),
        iterations,
        rounds: times_a.len(),
    }
}

/// The median of some durations (zero for none).
pub fn median_duration(times: &[Duration]) -> Duration {
    let seconds: Vec<f64> = times.iter().map(Duration::as_secs_f64).collect();
    Duration::from_secs_f64(quantile(&seconds, 0.5))
}

/// The `q` quantile (0..=1) of `values`, interpolating between neighbours; 0 for none.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return 0.0;
    }
    sorted.sort_by(f64::total_cmp);
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = position.ceil() as usize;
    let weight = position - low as f64;
    sorted[low] * (1.0 - weight) + sorted[high] * weight
}

/// Times one call.
pub fn time<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, Duration)> {
    let start = Instant::now();
    let value = f()?;
    Ok((value, start.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_and_ignore_order() {
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.5), 2.0);
        assert_eq!(quantile(&[4.0, 1.0, 2.0, 3.0], 0.5), 2.5);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.25), 2.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }

    #[test]
    fn fresh_workloads_run_every_step_of_both_sides_once_a_round() {
        let plan = Plan::quick();
        let (mut steps_a, mut steps_b) = (0, 0);
        let (left_a, left_b) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
        let comparison = {
            let mut a = Workload::Fresh {
                setup: Box::new(|| {
                    left_a.set(5);
                    Ok(())
                }),
                step: Box::new(|| {
                    steps_a += 1;
                    std::thread::sleep(Duration::from_micros(200));
                    left_a.set(left_a.get() - 1);
                    Ok(left_a.get() > 0)
                }),
            };
            let mut b = Workload::Fresh {
                setup: Box::new(|| {
                    left_b.set(2);
                    Ok(())
                }),
                step: Box::new(|| {
                    steps_b += 1;
                    left_b.set(left_b.get() - 1);
                    Ok(left_b.get() > 0)
                }),
            };
            compare(&plan, &mut a, &mut b).unwrap()
        };
        let rounds = plan.fresh_rounds + 1;
        assert_eq!((steps_a, steps_b), (5 * rounds, 2 * rounds));
        assert_eq!(comparison.rounds, plan.fresh_rounds);
        assert!(comparison.ratio > 1.0, "{comparison:?}");
    }

    #[test]
    fn repeated_workloads_run_the_same_count_on_both_sides() {
        let plan = Plan::quick();
        let (mut calls_a, mut calls_b) = (0_u64, 0_u64);
        let comparison = {
            let mut a = Workload::Repeat(Box::new(|_| {
                calls_a += 1;
                std::thread::sleep(Duration::from_micros(200));
                Ok(())
            }));
            let mut b = Workload::Repeat(Box::new(|_| {
                calls_b += 1;
                Ok(())
            }));
            compare(&plan, &mut a, &mut b).unwrap()
        };
        assert!(comparison.ratio > 1.0, "{comparison:?}");
        assert_eq!(comparison.rounds, plan.rounds);
        let timed = comparison.iterations * plan.rounds as u64;
        assert!(calls_a >= timed && calls_b >= timed);
    }
}
