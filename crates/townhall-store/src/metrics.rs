//! Metric snapshots: an account's public counts over time.

use chrono::{DateTime, Utc};
use townhall_core::{AccountId, MetricSnapshot};

use crate::rows::MetricRow;
use crate::{BeginWrite, Db, Result, on_pool};

impl Db {
    /// Stores snapshots; one already stored for the same account and time is kept as
    /// it was. Returns how many were new.
    pub async fn record_metrics(&self, snapshots: &[MetricSnapshot]) -> Result<u64> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let mut added = 0;
            for s in snapshots {
                added += sqlx::query(
                    "INSERT INTO metric_snapshots (account_id, at, followers, following, posts, likes) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id, at) DO NOTHING",
                )
                .bind(s.account_id.0)
                .bind(s.at)
                .bind(s.followers)
                .bind(s.following)
                .bind(s.posts)
                .bind(s.likes)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
            Ok(added)
        })
    }

    /// An account's snapshots between two times, oldest first.
    pub async fn metric_series(
        &self,
        account: AccountId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<MetricSnapshot>> {
        let rows: Vec<MetricRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT account_id, at, followers, following, posts, likes FROM metric_snapshots \
                 WHERE account_id = $1 AND at >= $2 AND at <= $3 ORDER BY at",
            )
            .bind(account.0)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows.into_iter().map(MetricSnapshot::from).collect())
    }

    /// Every account's snapshots between two instants, by account then time: one query
    /// for a page that draws every account's series.
    pub async fn all_metric_series(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<MetricSnapshot>> {
        let rows: Vec<MetricRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT account_id, at, followers, following, posts, likes FROM metric_snapshots \
                 WHERE at >= $1 AND at <= $2 ORDER BY account_id, at",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows.into_iter().map(MetricSnapshot::from).collect())
    }

    /// The newest snapshot of an account, if any.
    pub async fn latest_metrics(&self, account: AccountId) -> Result<Option<MetricSnapshot>> {
        let row: Option<MetricRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT account_id, at, followers, following, posts, likes FROM metric_snapshots \
                 WHERE account_id = $1 ORDER BY at DESC LIMIT 1",
            )
            .bind(account.0)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row.map(MetricSnapshot::from))
    }
}
