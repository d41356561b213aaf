//! Fresh databases for each test, on each backend.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use townhall_store::testing::scratch_postgres;
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
/// scenario fails. Skips when no server is configured, except in CI.
pub async fn on_postgres<F, Fut>(scenario: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(scratch) = scratch_postgres().await else { return };
    let result = AssertUnwindSafe(async {
        let db = Db::open(&DbOptions::new(&scratch.url)).await.expect("open PostgreSQL");
        scenario(db.clone()).await;
        db.close().await;
    })
    .catch_unwind()
    .await;
    scratch.drop_database().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
