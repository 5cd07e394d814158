//! Connecting: a bad URL or an unreachable server is one readable error, never a panic, and
//! never repeats the password. Most of these run without a server.

use user_engine::ErrorKind;
use user_engine_mysql::MysqlUserEngineStore;
use user_engine_mysql::testing::IsolatedDatabase;

#[test]
fn a_malformed_url_is_invalid() {
    for url in [
        "postgres://root@127.0.0.1/test",
        "mysql://root@127.0.0.1:99999999/test",
        "mysql://root:hunter2@[::1/test",
        "",
    ] {
        let err = MysqlUserEngineStore::connect(url).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{url}: {err}");
        assert!(err.to_string().contains("mysql connection url"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}

#[test]
fn a_url_without_a_database_is_invalid() {
    let err = MysqlUserEngineStore::connect("mysql://root@127.0.0.1:1").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.to_string().contains("names no database"), "{err}");
}

#[test]
fn an_unreachable_server_is_one_unavailable_line_naming_where_not_the_password() {
    let err =
        MysqlUserEngineStore::connect("mysql://root:hunter2-canary@127.0.0.1:1/test").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(
        err.to_string(),
        "store unavailable: cannot connect to mysql at 127.0.0.1:1: connection refused"
    );
    assert!(!format!("{err:?}").contains("hunter2"));
}

#[test]
fn the_isolation_helper_reports_an_unusable_server_as_one_line() {
    for url in [
        "mysql://root:hunter2-canary@127.0.0.1:1/test",
        "not a url at all",
    ] {
        let err = IsolatedDatabase::create(url).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{url}: {err}");
        let text = err.to_string();
        assert!(!text.contains('\n') && !text.contains("hunter2"), "{text}");
    }
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn an_unknown_database_is_unavailable_and_says_so() {
    let db = crate::support::database();
    let url = user_engine_mysql::testing::url_from_env().unwrap();
    let opts = mysql::OptsBuilder::from_opts(mysql::Opts::from_url(&url).unwrap())
        .db_name(Some(format!("{}_missing", db.name())));
    let err = MysqlUserEngineStore::with_opts(opts.into()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(
        err.to_string()
            .ends_with("the database does not exist (error 1049)"),
        "{err}"
    );
}

#[test]
fn the_store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<MysqlUserEngineStore>();
    assert_send_sync::<IsolatedDatabase>();
}
