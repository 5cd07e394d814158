//! [`check_shipped_migrations`]: an adapter's packaged copy of its SQL is the repository's.

use std::path::Path;

/// Checks that `<crate>/migrations/` holds byte-identical copies of the repository's
/// `migrations/<backend>/` — the files people read and review. A published crate cannot include
/// files above its package root, hence the copy; an adapter's test calls this to keep it honest.
/// Packaged alone (no repository around the crate) there is nothing to compare with: `Ok` with a
/// note on standard error. `Err` names the first difference and the command that mends it.
///
/// ```
/// // In an adapter's tests: `check_shipped_migrations(env!("CARGO_MANIFEST_DIR"), "sqlite")`.
/// let dir = std::env::temp_dir().join("user-engine-doc-no-repository");
/// assert!(user_engine::testing::check_shipped_migrations(&dir, "sqlite").is_ok());
/// ```
pub fn check_shipped_migrations(crate_dir: impl AsRef<Path>, backend: &str) -> Result<(), String> {
    let crate_dir = crate_dir.as_ref();
    let upstream = crate_dir.join("../../migrations").join(backend);
    if !upstream.is_dir() {
        eprintln!(
            "note: {} is absent (packaged alone), so the shipped copy is not compared",
            upstream.display()
        );
        return Ok(());
    }
    let shipped = crate_dir.join("migrations");
    let mend = format!("cp migrations/{backend}/*.sql adapters/{backend}/migrations/");
    let (ours, theirs) = (file_names(&shipped)?, file_names(&upstream)?);
    if ours != theirs {
        return Err(format!(
            "{} holds {ours:?} but {} holds {theirs:?}: {mend}",
            shipped.display(),
            upstream.display()
        ));
    }
    for name in theirs {
        let read = |dir: &Path| {
            std::fs::read(dir.join(&name))
                .map_err(|e| format!("cannot read {}: {e}", dir.join(&name).display()))
        };
        if read(&shipped)? != read(&upstream)? {
            return Err(format!(
                "adapters/{backend}/migrations/{name} differs from migrations/{backend}/{name}: {mend}"
            ));
        }
    }
    Ok(())
}

fn file_names(dir: &Path) -> Result<Vec<String>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}
