//! The store's errors, each with a stable code.

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or opened.
    #[error("cannot open database {url}: {reason}")]
    Unavailable {
        /// The URL, password removed.
        url: String,
        /// What the driver said.
        reason: String,
    },
    /// The file or a stored row is not what Townhall wrote.
    #[error("database is corrupt or not a Townhall database: {0}")]
    Corrupt(String),
    /// A migration failed; the schema was left as it was before it.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// The object does not exist (or is not visible to the caller).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule or a concurrent change refused the write.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request itself is invalid.
    #[error("{0}")]
    Invalid(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Query(#[source] sqlx::Error),
}

impl StoreError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Unavailable { .. } => "store.unavailable",
            StoreError::Corrupt(_) => "store.corrupt",
            StoreError::Migration(_) => "store.migration",
            StoreError::NotFound(_) => "store.not_found",
            StoreError::Conflict(_) => "store.conflict",
            StoreError::Invalid(_) => "store.invalid",
            StoreError::Query(_) => "store.query",
        }
    }

    pub(crate) fn unavailable(url: &str, source: sqlx::Error) -> StoreError {
        if is_not_a_database(&source) {
            return StoreError::Corrupt(format!("{url}: {}", one_line(&source)));
        }
        StoreError::Unavailable { url: url.to_owned(), reason: one_line(&source) }
    }

    pub(crate) fn from_migrate(error: sqlx::migrate::MigrateError) -> StoreError {
        match error {
            sqlx::migrate::MigrateError::Execute(source) if is_not_a_database(&source) => {
                StoreError::Corrupt(one_line(&source))
            }
            other => StoreError::Migration(other.to_string()),
        }
    }

    pub(crate) fn corrupt_row(what: &str, detail: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt(format!("unreadable {what}: {detail}"))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error
            && db.is_unique_violation()
        {
            return StoreError::Conflict(db.message().to_owned());
        }
        if is_not_a_database(&error) {
            return StoreError::Corrupt(one_line(&error));
        }
        StoreError::Query(error)
    }
}

/// SQLite's SQLITE_NOTADB (26) and SQLITE_CORRUPT (11).
fn is_not_a_database(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("26") | Some("11")),
        _ => false,
    }
}

fn one_line(error: &sqlx::Error) -> String {
    error.to_string().lines().next().unwrap_or_default().to_owned()
}
