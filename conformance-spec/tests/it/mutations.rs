//! A few thousand deterministically mutated copies of the real scenarios and seeds go through the
//! loader:
//! byte flips, truncations, deep nesting, huge numbers, spliced lines. None may panic, and none may
//! take much longer than the clean file it came from — measured as a ratio to the clean load, so
//! the check holds on a slow machine as on a fast one.

use std::path::Path;
use std::time::{Duration, Instant};

use user_engine_conformance_spec::{SPEC_ROOT, load_texts, parse_scenario, read_scenario_sources};

/// Loads one file as the loader would: a scenario by itself, a seed (`seeds/...`) as a spec of
/// that one file.
fn load(shown: &str, relative: &str, text: &str) {
    if relative.starts_with("seeds/") {
        let _ = load_texts("spec", &[(relative, text)], &[]);
    } else {
        let _ = parse_scenario(shown, relative, text);
    }
}

/// The file's path under the spec root, from the name the sources give it.
fn relative(shown: &str) -> &str {
    let at = ["scenarios/", "seeds/"]
        .iter()
        .filter_map(|dir| shown.find(dir))
        .min()
        .expect("a scenario or seed file");
    &shown[at..]
}

/// Mutants per scenario file.
const PER_FILE: usize = 32;
/// How many times slower than its clean file (per byte) a mutant may load.
const SLOWDOWN_BUDGET: u32 = 50;

/// xorshift64*: a fixed seed gives the same mutants on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(text: &str, rng: &mut Rng) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    let at = rng.below(bytes.len());
    match rng.below(8) {
        0 => {
            for _ in 0..=rng.below(4) {
                let i = rng.below(bytes.len());
                bytes[i] ^= 1 << rng.below(8);
            }
        }
        1 => bytes.truncate(at),
        2 => {
            let nest: Vec<u8> = b"- ".repeat(1 + rng.below(5_000));
            bytes.splice(at..at, nest);
        }
        3 => {
            let open = "[".repeat(1 + rng.below(5_000));
            bytes.splice(at..at, open.bytes());
        }
        4 => {
            let number = format!(" {}", "9".repeat(1 + rng.below(400)));
            bytes.splice(at..at, number.bytes());
        }
        5 => {
            let special = [
                &b"{"[..],
                b"}",
                b"]",
                b":",
                b"&a",
                b"*a",
                b"!!",
                b"\t",
                b"\r",
                b"'",
                b"\"",
                b"|",
                b"? ",
            ];
            bytes.splice(at..at, special[rng.below(special.len())].iter().copied());
        }
        6 => {
            // Repeat one line many times: long flat documents.
            let start = bytes[..at]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1);
            let end = bytes[at..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(bytes.len(), |i| at + i + 1);
            let line = bytes[start..end].to_vec();
            for _ in 0..rng.below(200) {
                bytes.splice(end..end, line.iter().copied());
            }
        }
        _ => {
            let end = (at + rng.below(64)).min(bytes.len());
            bytes.drain(at..end);
        }
    }
    bytes
}

/// The fastest of a few loads, to keep a scheduler hiccup from counting as slowness.
fn load_time(relative: &str, text: &str) -> Duration {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            load("mutant.yaml", relative, text);
            start.elapsed()
        })
        .min()
        .unwrap()
}

#[test]
fn mutated_scenarios_never_panic_nor_load_slowly() {
    let sources = read_scenario_sources(Path::new(SPEC_ROOT));
    assert!(sources.len() > 10, "found only {} scenarios", sources.len());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Warm up whatever the first error computes once (the contract's clause list, suggestions).
    for (shown, text) in sources.iter().take(3) {
        let relative = relative(shown);
        let _ = parse_scenario("warm.yaml", relative, &text.replace("steps", "stesp"));
        let _ = parse_scenario("warm.yaml", relative, text);
    }
    let mut mutants = 0;
    for (shown, text) in &sources {
        let relative = relative(shown);
        let clean = load_time(relative, text);
        let per_byte = clean / text.len().max(1) as u32;
        for _ in 0..PER_FILE {
            let bytes = mutate(text, &mut rng);
            let mutant = String::from_utf8_lossy(&bytes);
            let start = Instant::now();
            load("mutant.yaml", relative, &mutant);
            let elapsed = start.elapsed();
            mutants += 1;
            // Budget by size: a mutant may be larger than its source; a small floor of one clean
            // load keeps truncated files from being held to nothing.
            let budget = (per_byte * mutant.len() as u32).max(clean) * SLOWDOWN_BUDGET;
            if elapsed > budget {
                let retried = load_time(relative, &mutant);
                assert!(
                    retried <= budget,
                    "a mutant of {shown} ({} bytes) loads in {retried:?}, over {SLOWDOWN_BUDGET}× its clean load ({clean:?} for {} bytes):\n{}",
                    mutant.len(),
                    text.len(),
                    mutant.chars().take(2_000).collect::<String>()
                );
            }
        }
    }
    assert_eq!(mutants, sources.len() * PER_FILE);
}
