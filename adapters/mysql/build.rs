//! Marks the build `mysql_url_unset` when `USER_ENGINE_MYSQL_URL` is not set, so the tests that
//! need a MySQL/MariaDB server are generated `#[ignore]` with that reason rather than passing
//! without running. Setting or clearing the variable rebuilds them.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=USER_ENGINE_MYSQL_URL");
    if std::env::var_os("USER_ENGINE_MYSQL_URL").is_none_or(|url| url.is_empty()) {
        println!("cargo::rustc-cfg=mysql_url_unset");
    }
}
