//! Any bytes as a scenario file, and as a seed file: the loader returns a scenario or located
//! errors, never panics, and its work stays bounded by the limits (size, nesting, steps, seed
//! records) whatever the input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use user_engine_conformance_spec::{MAX_FILE_BYTES, load_texts, parse_scenario};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match parse_scenario("fuzz.yaml", "scenarios/fuzz/input.yaml", &text) {
        Ok(scenario) => assert!(!scenario.steps.is_empty()),
        Err(errors) => {
            for error in &errors {
                assert!(error.location.line >= 1 && error.location.column >= 1);
            }
            let _ = errors.render_pretty(&[("fuzz.yaml".to_owned(), text.to_string())].into());
        }
    }
    if text.len() <= MAX_FILE_BYTES {
        let _ = load_texts("spec", &[("scenarios/fuzz/input.yaml", &text)], &[]);
        // The same bytes as a seed, named by a scenario that starts from it.
        let scenario = "id: fuzz/seeded\nsummary: s\nclause: store-contract#tx-rollback\ngiven: {seed: input}\nsteps: [migrate: {}]\n";
        if let Err(errors) = load_texts(
            "spec",
            &[("scenarios/fuzz/seeded.yaml", scenario), ("seeds/input.yaml", &text)],
            &[],
        ) {
            for error in &errors {
                assert!(error.location.line >= 1 && error.location.column >= 1);
            }
        }
    }
});
