//! Tells the crates that depend on this one where its data lives. With `links` set in the manifest,
//! `root` reaches their build scripts as `DEP_USER_ENGINE_CONFORMANCE_SPEC_ROOT`: this package's own
//! folder, in the repository or unpacked from the registry alike. That is how
//! `user-engine-conformance-spec-embedded` finds `scenarios/` and `snapshots/` without a path
//! above its package root.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:root={root}");
}
