//! Records a platform sent that could not be read, kept as received.

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt, stream::BoxStream};

use crate::{BeginWrite, Db, Result, StoreError, on_pool, storable_text};

/// One quarantined record.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct QuarantinedRecord {
    /// Its id.
    pub id: i64,
    /// Where it came from, e.g. `webhook:meta` or `listen:bluesky`.
    pub source: String,
    /// The parser's stable error code.
    pub code: String,
    /// Why it could not be read.
    pub reason: String,
    /// The bytes as received.
    pub raw: Vec<u8>,
    /// When.
    pub received_at: DateTime<Utc>,
}

impl Db {
    /// Keeps a record that could not be read, durably, before it is acknowledged.
    pub async fn quarantine(&self, source: &str, code: &str, reason: &str, raw: &[u8]) -> Result<i64> {
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO quarantine (source, code, reason, raw, received_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(source)
            .bind(code)
            .bind(storable_text(reason))
            .bind(raw)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Quarantined records, newest first.
    pub async fn quarantined(&self, limit: i64) -> Result<Vec<QuarantinedRecord>> {
        on_pool!(self, |pool| {
            Ok(sqlx::query_as(
                "SELECT id, source, code, reason, raw, received_at FROM quarantine ORDER BY id DESC LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Every quarantined record, oldest first, row by row, for export.
    pub fn stream_quarantine(&self) -> BoxStream<'_, Result<QuarantinedRecord>> {
        on_pool!(self, |pool| {
            sqlx::query_as::<_, QuarantinedRecord>(
                "SELECT id, source, code, reason, raw, received_at FROM quarantine ORDER BY id",
            )
            .fetch(pool)
            .map_err(StoreError::from)
            .boxed()
        })
    }
}
