//! Fresh databases for each test, on each backend.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use rand::Rng;
use townhall_store::{Db, DbOptions};

/// Runs `scenario` on a new SQLite file in a temporary directory.
pub async fn on_sqlite<F, Fut>(scenario: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("townhall.db").display());
    let db = Db::open(&DbOptions::new(url)).await.expect("open SQLite");
    scenario(db.clone()).await;
    db.close().await;
}

/// Runs `scenario` on a new PostgreSQL database, dropped afterwards even if the
/// scenario fails. Skips (with a note) when no server is configured, except in CI.
pub async fn on_postgres<F, Fut>(scenario: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let Ok(admin_url) = std::env::var("TOWNHALL_TEST_POSTGRES_URL") else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "CI=true but TOWNHALL_TEST_POSTGRES_URL is not set: the PostgreSQL conformance tests must run in CI"
            );
        }
        eprintln!("skipped: set TOWNHALL_TEST_POSTGRES_URL to run the PostgreSQL half");
        return;
    };
    let name = format!("townhall_test_{:016x}", rand::rng().random::<u64>());
    let admin = Db::connect(&DbOptions::new(&admin_url)).await.expect("connect to TOWNHALL_TEST_POSTGRES_URL");
    let Db::Postgres(admin_pool) = &admin else { panic!("TOWNHALL_TEST_POSTGRES_URL must be a postgres:// URL") };
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin_pool)
        .await
        .expect("create test database");

    let result = AssertUnwindSafe(async {
        let db = Db::open(&DbOptions::new(with_database(&admin_url, &name))).await.expect("open PostgreSQL");
        scenario(db.clone()).await;
        db.close().await;
    })
    .catch_unwind()
    .await;

    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(admin_pool)
        .await
        .expect("drop test database");
    admin.close().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// The same server URL with another database name.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    format!("{}/{database}{query}", &base[..host_end])
}
