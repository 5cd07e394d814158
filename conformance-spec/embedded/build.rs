//! Compiles the spec into the crate: writes `$OUT_DIR/embedded_spec.rs` with one
//! `(relative path, include_str!(absolute path))` entry per scenario, seed and snapshot file of the
//! parent package, `user-engine-conformance-spec` (`../scenarios`, `../seeds`, `../snapshots`).
//!
//! `rerun-if-changed` on the directories makes cargo rescan them, so an edited, *added* or removed
//! scenario file reruns this script and rebuilds this crate — and every crate depending on it,
//! which is how a crate invoking `conformance_suite!` with the default spec picks up an added file
//! with no Rust edit (the macro reads the folder at expansion; cargo cannot see that). Nothing
//! upstream depends on this crate: not the spec library, not the macro, not the engine.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    // The spec package's folder, announced by its build script (`links`); in the repository that
    // is the parent folder, and from the registry the unpacked `user-engine-conformance-spec`.
    let root = env::var_os("DEP_USER_ENGINE_CONFORMANCE_SPEC_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            manifest_dir
                .parent()
                .expect("a parent folder")
                .to_path_buf()
        });
    println!("cargo:rerun-if-changed=build.rs");
    let mut out = String::new();
    // Seed files (`seeds/*.yaml`) travel with the scenarios: the loader tells them apart by path.
    for (constant, dirs, extension) in [
        ("SCENARIO_FILES", &["scenarios", "seeds"][..], ".yaml"),
        ("SNAPSHOT_FILES", &["snapshots"][..], ".snap"),
    ] {
        let mut files = Vec::new();
        for dir in dirs {
            println!("cargo:rerun-if-changed={}", root.join(dir).display());
            collect(&root.join(dir), dir, &mut files);
        }
        files.retain(|(relative, _)| relative.ends_with(extension));
        files.sort();
        writeln!(out, "pub(crate) const {constant}: &[(&str, &str)] = &[").unwrap();
        for (relative, path) in files {
            let Some(path) = path.to_str() else {
                println!("cargo:warning=skipping {relative}: its path is not UTF-8");
                continue;
            };
            writeln!(out, "    ({relative:?}, include_str!({path:?})),").unwrap();
        }
        writeln!(out, "];").unwrap();
    }
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out_dir.join("embedded_spec.rs"), out).expect("write embedded_spec.rs");
}

/// Every file under `dir` (recursively), as (`relative/with/slashes`, absolute path).
fn collect(dir: &Path, relative: &str, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let child = format!("{relative}/{name}");
        let path = entry.path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(&path, &child, files);
        } else {
            files.push((child, path));
        }
    }
}
