//! Connecting: a bad URL or an unreachable server is one readable error, never a panic, and
//! never repeats the password. These run without a server.

use user_engine::ErrorKind;
use user_engine_postgres::PostgresUserEngineStore;

#[test]
fn a_malformed_url_is_invalid() {
    for url in [
        "host=127.0.0.1 port=notaport",
        "postgres://root@127.0.0.1:99999999/test",
        "=",
        "user=root dbname=test",
    ] {
        let err = PostgresUserEngineStore::connect(url, "user_engine").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{url}: {err}");
        assert!(
            err.to_string().contains("postgresql connection string"),
            "{err}"
        );
    }
}

#[test]
fn an_unreachable_server_is_unavailable_and_names_where_not_the_password() {
    let err = PostgresUserEngineStore::connect(
        "postgres://root:hunter2-canary@127.0.0.1:1/test",
        "user_engine",
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(
        err.to_string(),
        "store unavailable: cannot connect to postgresql at 127.0.0.1:1: connection refused"
    );
    assert!(!format!("{err:?}").contains("hunter2"));
}

#[test]
fn an_unresolvable_host_is_unavailable() {
    let err = PostgresUserEngineStore::connect(
        "host=no-such-host.invalid user=root connect_timeout=5",
        "s",
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        err.to_string().starts_with(
            "store unavailable: cannot connect to postgresql at no-such-host.invalid:5432: "
        ),
        "{err}"
    );
}

#[test]
fn bad_schema_names_and_tls_requirements_are_refused_before_connecting() {
    let url = "host=127.0.0.1 port=1 user=root";
    assert_eq!(
        PostgresUserEngineStore::connect(url, "")
            .unwrap_err()
            .kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        PostgresUserEngineStore::connect(url, &"s".repeat(64))
            .unwrap_err()
            .kind(),
        ErrorKind::Invalid
    );
    let tls =
        PostgresUserEngineStore::connect("host=127.0.0.1 port=1 user=root sslmode=require", "s")
            .unwrap_err();
    assert!(tls.to_string().contains("sslmode=require"), "{tls}");
}

#[test]
fn the_store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PostgresUserEngineStore>();
    assert_send_sync::<user_engine_postgres::testing::IsolatedSchema>();
}
