//! The SQL this crate ships (`migrations/*.sql` inside the package, what `include_str!` reads) is a
//! byte-identical copy of the repository's `migrations/mysql/`, the files people read and review. A
//! published crate cannot include files above its package root, hence the copy; this test keeps it
//! honest. Packaged alone (no repository around it) there is nothing to compare with, and it says so.

#[test]
fn shipped_migrations_are_the_repository_files() {
    if let Err(problem) =
        user_engine::testing::check_shipped_migrations(env!("CARGO_MANIFEST_DIR"), "mysql")
    {
        panic!("{problem}");
    }
}
