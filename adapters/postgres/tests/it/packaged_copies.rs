//! The SQL this crate ships (`migrations/*.sql` inside the package, what `include_str!` reads) is a
//! byte-identical copy of the repository's `migrations/postgres/`, the files people read and review. A
//! published crate cannot include files above its package root, hence the copy; this test keeps it
//! honest. Packaged alone (no repository around it) there is nothing to compare with, and it says so.

use std::path::Path;

#[test]
fn shipped_migrations_are_the_repository_files() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let upstream = manifest.join("../../migrations/postgres");
    if !upstream.is_dir() {
        eprintln!(
            "note: {} is absent (packaged alone), so the shipped copy is not compared",
            upstream.display()
        );
        return;
    }
    let names = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .map(|entry| {
                entry
                    .expect("directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    };
    let shipped = manifest.join("migrations");
    assert_eq!(
        names(&shipped),
        names(&upstream),
        "{} and {} hold different files: copy migrations/postgres/*.sql into the crate",
        shipped.display(),
        upstream.display()
    );
    for name in names(&upstream) {
        let ours = std::fs::read(shipped.join(&name)).expect("shipped copy");
        let theirs = std::fs::read(upstream.join(&name)).expect("repository file");
        assert!(
            ours == theirs,
            "adapters/postgres/migrations/{name} differs from migrations/postgres/{name}:              copy the repository file over it (cp migrations/postgres/*.sql adapters/postgres/migrations/)"
        );
    }
}
