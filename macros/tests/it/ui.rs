//! trybuild UI tests: every compile error of the macro, pinned in `tests/ui/*.stderr`.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test -p user-engine-macros ui`,
//! never by hand, and read the diff.

use std::path::{Path, PathBuf};
use std::process::Command;

/// trybuild compiles the cases in its own project under `<target>/tests/trybuild/<crate>/`, whose
/// `CARGO_MANIFEST_DIR` is that directory; the fixture spec roots are linked into it so the
/// cases can say `spec: "specs/..."` wherever the target directory is.
fn link_fixture_specs() {
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["metadata", "--no-deps", "--format-version=1"])
        .output()
        .expect("run cargo metadata");
    assert!(output.status.success(), "{output:?}");
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let target = PathBuf::from(metadata["target_directory"].as_str().unwrap());
    let project = target.join("tests/trybuild").join(env!("CARGO_PKG_NAME"));
    std::fs::create_dir_all(&project).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui/specs");
    let link = project.join("specs");
    if std::fs::canonicalize(&link).ok() != std::fs::canonicalize(&fixtures).ok() {
        let _ = std::fs::remove_file(&link);
        link_dir(&fixtures, &link);
    }
}

#[cfg(unix)]
fn link_dir(original: &Path, link: &Path) {
    std::os::unix::fs::symlink(original, link).unwrap();
}

#[cfg(windows)]
fn link_dir(original: &Path, link: &Path) {
    std::os::windows::fs::symlink_dir(original, link).unwrap();
}

#[test]
fn ui() {
    link_fixture_specs();
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
