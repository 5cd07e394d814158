//! The workspace's `rust-version` is the truth: no member claims an older Rust than one of its
//! dependencies needs. Read from `cargo metadata`, which lists each package's `rust_version`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// `1.89` or `1.89.0` as comparable numbers; a missing patch is 0.
fn parse(version: &str) -> (u64, u64, u64) {
    let mut parts = version
        .split('.')
        .map(|part| part.parse::<u64>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

#[test]
fn parse_reads_two_and_three_part_versions() {
    assert_eq!(parse("1.89"), (1, 89, 0));
    assert_eq!(parse("1.85.1"), (1, 85, 1));
    assert!(parse("1.89") > parse("1.88.9"));
}

/// Every workspace member's `rust-version` is at least the highest `rust-version` among the
/// packages it builds with: normal and build dependencies transitively, and its own
/// dev-dependencies (its tests must build on the Rust it claims) with theirs.
#[test]
fn rust_version_covers_every_dependency() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = match Command::new(&cargo)
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
    {
        Ok(output) => output,
        Err(e) => {
            eprintln!(
                "skipped: cannot run `{cargo} metadata` ({e}), so rust-version is not checked"
            );
            return;
        }
    };
    assert!(
        output.status.success(),
        "`cargo metadata` failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata is JSON");

    let mut rust_version = BTreeMap::new();
    let mut name = BTreeMap::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let id = package["id"].as_str().expect("package id").to_owned();
        let label = format!("{} {}", package["name"], package["version"]).replace('"', "");
        rust_version.insert(id.clone(), package["rust_version"].as_str().map(parse));
        name.insert(id, label);
    }
    // Edges by kind: `null` is a normal dependency.
    let mut runtime: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut dev: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for node in metadata["resolve"]["nodes"]
        .as_array()
        .expect("resolve nodes")
    {
        let id = node["id"].as_str().expect("node id").to_owned();
        for dep in node["deps"].as_array().expect("deps") {
            let target = dep["pkg"].as_str().expect("dep pkg").to_owned();
            for kind in dep["dep_kinds"].as_array().expect("dep kinds") {
                let edges = if kind["kind"].as_str() == Some("dev") {
                    &mut dev
                } else {
                    &mut runtime
                };
                edges.entry(id.clone()).or_default().push(target.clone());
            }
        }
    }

    let mut problems = Vec::new();
    for member in metadata["workspace_members"].as_array().expect("members") {
        let member = member.as_str().expect("member id").to_owned();
        let claimed = rust_version[&member]
            .unwrap_or_else(|| panic!("{} sets no rust-version", name[&member]));
        let mut seen = BTreeSet::new();
        let mut queue: Vec<String> = runtime.get(&member).cloned().unwrap_or_default();
        queue.extend(dev.get(&member).cloned().unwrap_or_default());
        while let Some(id) = queue.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            queue.extend(runtime.get(&id).cloned().unwrap_or_default());
        }
        if let Some((needed, by)) = seen
            .iter()
            .filter_map(|id| rust_version[id].map(|v| (v, &name[id])))
            .max()
            && needed > claimed
        {
            problems.push(format!(
                "{} claims rust-version {}.{}.{} but {by} needs {}.{}.{}",
                name[&member], claimed.0, claimed.1, claimed.2, needed.0, needed.1, needed.2
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "raise `rust-version` in the root Cargo.toml (and the README):\n{}",
        problems.join("\n")
    );
}
