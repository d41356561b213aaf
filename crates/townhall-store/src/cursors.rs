//! Where each live listener stopped: one named value, so a restart resumes there.

use chrono::Utc;

use crate::{BeginWrite, Db, Result, on_pool};

impl Db {
    /// The cursor saved under `name`, if any.
    pub async fn cursor(&self, name: &str) -> Result<Option<String>> {
        on_pool!(self, |pool| {
            Ok(sqlx::query_scalar("SELECT value FROM cursors WHERE name = $1").bind(name).fetch_optional(pool).await?)
        })
    }

    /// Saves the cursor `name`. A listener saves it only after the events before it
    /// are stored, so a crash replays (idempotently) rather than skips.
    pub async fn set_cursor(&self, name: &str, value: &str) -> Result<()> {
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO cursors (name, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(name)
            .bind(value)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }
}
