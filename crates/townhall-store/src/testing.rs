//! Scratch PostgreSQL databases for tests (feature `testing`): the conformance suite
//! and the binary's tests both use them, so "run on PostgreSQL when configured, and
//! always in CI" is decided in one place.

use rand::Rng;

use crate::{Db, DbOptions};

/// The variable that names a PostgreSQL server for tests, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres`.
pub const POSTGRES_URL_VAR: &str = "TOWNHALL_TEST_POSTGRES_URL";

/// A database created for one test; drop it with [`ScratchDatabase::drop_database`].
#[derive(Debug)]
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    /// URL of the new, empty database.
    pub url: String,
}

/// Creates an empty PostgreSQL database on the configured server, or returns `None`
/// when none is configured. Under `CI=true` a missing server is a failure, never a skip.
pub async fn scratch_postgres() -> Option<ScratchDatabase> {
    let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true but {POSTGRES_URL_VAR} is not set: the PostgreSQL tests must run in CI"
        );
        eprintln!("skipped: set {POSTGRES_URL_VAR} to run this test on PostgreSQL");
        return None;
    };
    let name = format!("townhall_test_{:016x}", rand::rng().random::<u64>());
    admin_execute(&admin_url, &format!("CREATE DATABASE {name}")).await;
    let url = with_database(&admin_url, &name);
    Some(ScratchDatabase { admin_url, name, url })
}

impl ScratchDatabase {
    /// Drops the database, closing any connection still open to it.
    pub async fn drop_database(self) {
        admin_execute(&self.admin_url, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).await;
    }
}

async fn admin_execute(admin_url: &str, sql: &str) {
    let admin = Db::connect(&DbOptions::new(admin_url)).await.expect("connect to the test PostgreSQL server");
    let Db::Postgres(pool) = &admin else { panic!("{POSTGRES_URL_VAR} must be a postgres:// URL") };
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(pool).await.expect(sql);
    admin.close().await;
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_name_is_replaced_and_options_kept() {
        assert_eq!(super::with_database("postgres://u@h:5432/postgres", "t1"), "postgres://u@h:5432/t1");
        assert_eq!(super::with_database("postgres://u@h?sslmode=disable", "t1"), "postgres://u@h/t1?sslmode=disable");
    }
}
