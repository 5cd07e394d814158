//! Marks the build `postgres_url_unset` when `USER_ENGINE_POSTGRES_URL` is not set, and
//! `mysql_url_unset` when `USER_ENGINE_MYSQL_URL` is not set, so the tests that need a PostgreSQL
//! (MySQL/MariaDB) server are generated `#[ignore]` with that reason rather than passing without
//! running. Setting or clearing a variable rebuilds them.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    for (var, cfg) in [
        ("USER_ENGINE_POSTGRES_URL", "postgres_url_unset"),
        ("USER_ENGINE_MYSQL_URL", "mysql_url_unset"),
    ] {
        println!("cargo::rerun-if-env-changed={var}");
        if std::env::var_os(var).is_none_or(|url| url.is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
