//! The compiled-in spec is valid and is exactly the files on disk.

use std::path::Path;

use user_engine_conformance_spec::{SPEC_ROOT, load_dir};
use user_engine_conformance_spec_embedded::embedded;

#[test]
fn the_embedded_spec_is_valid_and_matches_the_files_on_disk() {
    let embedded =
        embedded().unwrap_or_else(|e| panic!("the spec in conformance-spec/ is invalid:\n{e}"));
    let on_disk = load_dir(Path::new(SPEC_ROOT)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        embedded, &on_disk,
        "build.rs's compiled-in copy differs from the files"
    );
}

#[test]
fn snapshots_are_compiled_in_too() {
    let spec = embedded().unwrap();
    assert!(!spec.scenarios.is_empty());
    assert!(!spec.snapshots.is_empty(), "no snapshot was compiled in");
}
