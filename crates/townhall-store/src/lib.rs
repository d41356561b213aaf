//! Townhall's storage: one [`Db`] that is either an embedded SQLite file or a
//! PostgreSQL server, chosen by URL, with the same behaviour on both.
//!
//! This crate owns all SQL: the schema and its migrations per backend, full-text
//! search, the job queue and the append-only audit log. It holds no business rule:
//! decisions (what an incoming post means, whether a case may move) are made by
//! `townhall-core`, and this crate writes their results atomically. Every public
//! method is exercised on both backends by the conformance suite in `tests/`.

mod audit;
mod cases;
mod cursors;
mod directory;
mod enrichments;
mod error;
mod inbox;
mod jobs;
mod metrics;
mod posts;
mod public;
mod quarantine;
mod replies;
mod rows;
#[cfg(feature = "testing")]
pub mod testing;

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use cases::{Access, Breach, CaseQuery, DeadlineKind, Load, NewCase, PeriodCount, TeamLoad};
pub use directory::{NewAccount, NewUser, UserChange};
pub use enrichments::{Analysis, NewEnrichment};
pub use error::StoreError;
pub use inbox::AccountCredentials;
pub use jobs::{Job, JobCounts, NewJob};
pub use posts::{ANALYZE_JOB, EventOutcome, IngestOutcome, PostFilter, PostStats, SEARCH_WINDOW};
pub use public::Responsiveness;
pub use quarantine::QuarantinedRecord;
pub use replies::{NewReply, SEND_REPLY_JOB};

/// Result of every store call.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file, the default.
    Sqlite,
    /// A PostgreSQL server, the scale path.
    Postgres,
}

/// How to open a database.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// `sqlite://path.db` or `postgres://user@host/db`.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// How long to wait for a connection before giving up.
    pub connect_timeout: Duration,
}

impl DbOptions {
    /// Options with Townhall's defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), max_connections: 8, connect_timeout: Duration::from_secs(10) }
    }
}

/// The database: a pool of SQLite or PostgreSQL connections. Cheap to clone.
#[derive(Debug, Clone)]
pub enum Db {
    /// SQLite.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// Runs one body against whichever pool `db` holds. The body is compiled once per
/// backend, so SQL written once (with `$1` placeholders, which both accept) serves both.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::Db::Sqlite($pool) => $body,
            $crate::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Opens a write transaction. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`), so two writers queue on the busy timeout instead of one
/// failing with "database is locked" when its read turns into a write.
pub(crate) trait BeginWrite {
    type Database: sqlx::Database;
    fn begin_write(&self) -> impl Future<Output = Result<WriteTx<Self::Database>, sqlx::Error>> + Send;
}

/// A write transaction, used as its connection (`&mut *tx`) and ended by
/// [`WriteTx::commit`] (dropped, it rolls back).
///
/// On SQLite it also holds this process's turn to write: the writers of one process
/// take turns in arrival order. SQLite's busy timeout alone lets a writer that commits
/// and begins again at once starve the others, which sleep and retry (an import
/// storing batches back to back kept its own analysis waiting until it had finished).
pub(crate) struct WriteTx<DB: sqlx::Database> {
    tx: sqlx::Transaction<'static, DB>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl<DB: sqlx::Database> WriteTx<DB> {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        // The turn is given up after the commit, when the lock is free.
        let WriteTx { tx, _turn } = self;
        tx.commit().await
    }
}

impl<DB: sqlx::Database> std::ops::Deref for WriteTx<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        &self.tx
    }
}

impl<DB: sqlx::Database> std::ops::DerefMut for WriteTx<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.tx
    }
}

/// The queue of writers to one SQLite file in this process.
fn write_turns(pool: &SqlitePool) -> Arc<tokio::sync::Mutex<()>> {
    static TURNS: OnceLock<std::sync::Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let file = pool.connect_options().get_filename().to_path_buf();
    let mut turns = TURNS.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(turns.entry(file).or_default())
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<WriteTx<sqlx::Sqlite>, sqlx::Error> {
        let turn = write_turns(self).lock_owned().await;
        Ok(WriteTx { tx: self.begin_with("BEGIN IMMEDIATE").await?, _turn: Some(turn) })
    }
}

impl BeginWrite for PgPool {
    type Database = sqlx::Postgres;
    async fn begin_write(&self) -> Result<WriteTx<sqlx::Postgres>, sqlx::Error> {
        Ok(WriteTx { tx: self.begin().await?, _turn: None })
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Connects to the database named by `options.url` without migrating it.
    ///
    /// A SQLite file is created if missing and opened in WAL mode. Errors name the
    /// database with any password removed.
    pub async fn connect(options: &DbOptions) -> Result<Db> {
        let url = options.url.as_str();
        let shown = redact_url(url);
        let unavailable = |source: sqlx::Error| StoreError::unavailable(&shown, source);
        if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)
                .map_err(unavailable)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30))
                .pragma("cache_size", "-16384");
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.connect_timeout)
                .connect_with(connect)
                .await
                .map_err(unavailable)?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // Plan every statement for its values: a generic plan cached while a table
            // was still empty can choose the wrong index and keep it, which made ingest
            // slow down as posts grew (measured in docs/BENCHMARKS.md).
            let connect = PgConnectOptions::from_str(url)
                .map_err(unavailable)?
                .options([("plan_cache_mode", "force_custom_plan")]);
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.connect_timeout)
                .connect_with(connect)
                .await
                .map_err(unavailable)?;
            Ok(Db::Postgres(pool))
        } else {
            Err(StoreError::Invalid(format!(
                "unsupported database URL {shown}: use sqlite://FILE or postgres://USER@HOST/DATABASE"
            )))
        }
    }

    /// Connects and brings the schema up to date: what `serve` and every command do.
    pub async fn open(options: &DbOptions) -> Result<Db> {
        let db = Db::connect(options).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// Applies the migrations this build has and the database lacks, and returns
    /// how many it applied. Idempotent.
    pub async fn migrate(&self) -> Result<usize> {
        // The bookkeeping table does not exist before the first migration.
        let before: Vec<i64> = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(pool).await
        })
        .unwrap_or_default();
        let migrator = match self {
            Db::Sqlite(_) => &SQLITE_MIGRATIONS,
            Db::Postgres(_) => &POSTGRES_MIGRATIONS,
        };
        on_pool!(self, |pool| migrator.run(pool).await).map_err(StoreError::from_migrate)?;
        Ok(migrator.iter().filter(|m| !before.contains(&m.version)).count())
    }

    /// The engine behind this database.
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Whether no institution exists yet (a fresh install, where `--demo` may load data).
    pub async fn is_empty(&self) -> Result<bool> {
        let count: i64 =
            on_pool!(self, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM institutions").fetch_one(pool).await)?;
        Ok(count == 0)
    }

    /// Checks the database answers, for `/healthz`.
    pub async fn ping(&self) -> Result<()> {
        let _: i32 = on_pool!(self, |pool| sqlx::query_scalar("SELECT 1").fetch_one(pool).await)?;
        Ok(())
    }

    /// Waits for open connections to finish and closes the pool.
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }
}

/// The URL with any password replaced, fit for logs and error messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            let query_hidden = if path.contains("password=") {
                path.split('?').next().unwrap_or("").to_owned() + "?***"
            } else {
                path.to_owned()
            };
            format!("{scheme}://{user}{hidden}@{host}{query_hidden}")
        }
        None if path.contains("password=") => {
            format!("{scheme}://{authority}{}?***", path.split('?').next().unwrap_or(""))
        }
        None => url.to_owned(),
    }
}

/// Ids as a JSON array, bound as one parameter and read as a set by SQLite's
/// `json_each` or PostgreSQL's `jsonb_array_elements_text`: one statement for any
/// number of ids.
pub(crate) fn json_list(ids: impl Iterator<Item = i64>) -> Result<String> {
    serde_json::to_string(&ids.collect::<Vec<_>>()).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// A text as the store keeps it: NUL, which PostgreSQL text refuses, replaced, so both
/// backends store the same text. Raw payloads are bytes and keep their NULs.
pub fn storable_text(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_appear_in_shown_urls() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/townhall"), "postgres://app:***@db:5432/townhall");
        assert_eq!(redact_url("postgres://app@db/townhall?password=s3cret"), "postgres://app@db/townhall?***");
        assert_eq!(redact_url("postgres://db/townhall?password=s3cret&x=1"), "postgres://db/townhall?***");
        assert_eq!(redact_url("sqlite://townhall.db"), "sqlite://townhall.db");
    }
}
