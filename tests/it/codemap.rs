//! `docs/architecture.md`'s codemap names every top-level folder and every doc, so a new one
//! cannot land without a line saying what it is for.

use std::path::Path;

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
}

#[test]
fn the_codemap_names_every_folder_and_doc() {
    let root = workspace();
    let map = std::fs::read_to_string(root.join("docs/architecture.md")).unwrap();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(root).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let skipped = name == "target" || name == ".git" || name.starts_with(".git");
        if entry.path().is_dir() && !skipped && !map.contains(&format!("`{name}/`")) {
            missing.push(format!("{name}/"));
        }
    }
    for dir in ["docs", "docs/adapters"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".md") && name != "architecture.md" && !map.contains(&name) {
                missing.push(format!("{dir}/{name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/architecture.md does not name: {}",
        missing.join(", ")
    );
}
