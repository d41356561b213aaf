//! The job queue, in the database: a job is enqueued by the same transaction as the
//! write that causes it, so a crash can never keep the write and lose the job.
//! Workers claim jobs under a lease; a crashed worker's job is claimed again when its
//! lease runs out, so handlers must be idempotent.

use std::time::Duration;

use chrono::{DateTime, Utc};
use townhall_core::JobId;

use crate::{BeginWrite, Db, Result, StoreError, json_list, on_pool};

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// What to do, e.g. `analyze_post`.
    pub kind: String,
    /// Its arguments.
    pub payload: serde_json::Value,
    /// While a job with this key is queued or running, enqueueing another is a no-op.
    pub dedupe_key: Option<String>,
    /// Not before this time; now when `None`.
    pub run_at: Option<DateTime<Utc>>,
    /// Failures after which the job is marked dead instead of retried.
    pub max_attempts: i32,
}

/// A claimed job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// What to do.
    pub kind: String,
    /// Its arguments.
    pub payload: serde_json::Value,
    /// Claims so far, this one included.
    pub attempts: i32,
}

/// How many jobs are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    /// Waiting (including those scheduled later).
    pub queued: i64,
    /// Claimed by a worker.
    pub running: i64,
    /// Failed `max_attempts` times; kept for an operator to inspect.
    pub dead: i64,
}

/// Enqueues `NewJob`s (a non-empty slice) inside the transaction `$tx` in one
/// statement, each at `$now` unless it says later; a job whose dedupe key is already
/// queued is left out.
macro_rules! enqueue_all_in_tx {
    ($tx:expr, $now:expr, $jobs:expr) => {{
        let jobs: &[$crate::NewJob] = $jobs;
        let now: chrono::DateTime<chrono::Utc> = $now;
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT INTO jobs (kind, payload, dedupe_key, state, attempts, max_attempts, run_at, created_at) ",
        );
        insert.push_values(jobs, |mut values, job| {
            values
                .push_bind(job.kind.as_str())
                .push_bind(job.payload.to_string())
                .push_bind(job.dedupe_key.as_deref())
                .push("'queued'")
                .push("0")
                .push_bind(job.max_attempts)
                .push_bind(job.run_at.unwrap_or(now))
                .push_bind(now);
        });
        insert.push(" ON CONFLICT (dedupe_key) DO NOTHING");
        let conn = &mut *$tx;
        async move { insert.build().execute(conn).await }
    }};
}
pub(crate) use enqueue_all_in_tx;

impl Db {
    /// Enqueues a job on its own, for work not caused by a write.
    pub async fn enqueue(&self, job: &NewJob) -> Result<()> {
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            enqueue_all_in_tx!(tx, now, std::slice::from_ref(job)).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Claims the oldest due job of one of `kinds` for `worker`, for `lease`.
    ///
    /// A job is due when queued and its time has come, or when running under an
    /// expired lease (its worker died). On PostgreSQL the claim locks the row with
    /// `FOR UPDATE SKIP LOCKED`, so concurrent workers never claim the same job.
    pub async fn claim_job(
        &self,
        worker: &str,
        kinds: &[&str],
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>> {
        Ok(self.claim_jobs(worker, kinds, lease, now, 1).await?.pop())
    }

    /// Claims up to `limit` due jobs at once, oldest first, like [`Db::claim_job`]:
    /// a worker with many small jobs (analysing posts) pays one round trip per batch.
    pub async fn claim_jobs(
        &self,
        worker: &str,
        kinds: &[&str],
        lease: Duration,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Job>> {
        let kinds = serde_json::to_string(kinds).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let until = now + chrono::Duration::from_std(lease).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let sql = match self {
            Db::Sqlite(_) => {
                "UPDATE jobs SET state = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM jobs WHERE kind IN (SELECT value FROM json_each($3)) \
                 AND ((state = 'queued' AND run_at <= $4) OR (state = 'running' AND locked_until < $4)) \
                 ORDER BY run_at, id LIMIT $5) RETURNING id, kind, payload, attempts"
            }
            Db::Postgres(_) => {
                "UPDATE jobs SET state = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM jobs WHERE kind IN (SELECT jsonb_array_elements_text($3::jsonb)) \
                 AND ((state = 'queued' AND run_at <= $4) OR (state = 'running' AND locked_until < $4)) \
                 ORDER BY run_at, id LIMIT $5 FOR UPDATE SKIP LOCKED) RETURNING id, kind, payload, attempts"
            }
        };
        let mut rows: Vec<(i64, String, String, i32)> = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let rows = sqlx::query_as(sql)
                .bind(worker)
                .bind(until)
                .bind(&kinds)
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            rows
        });
        // RETURNING follows no ORDER BY: hand them out in id order.
        rows.sort_by_key(|(id, ..)| *id);
        rows.into_iter()
            .map(|(id, kind, payload, attempts)| {
                let payload = serde_json::from_str(&payload).map_err(|e| StoreError::corrupt_row("job payload", e))?;
                Ok(Job { id: JobId(id), kind, payload, attempts })
            })
            .collect()
    }

    /// Marks jobs `worker` holds as done, in one statement; returns how many were
    /// still held (a job whose lease ran out and was claimed again is not counted).
    pub async fn complete_jobs(&self, ids: &[JobId], worker: &str) -> Result<u64> {
        let ids = json_list(ids.iter().map(|id| id.0))?;
        let sql = match self {
            Db::Sqlite(_) => {
                "DELETE FROM jobs WHERE id IN (SELECT value FROM json_each($1)) AND locked_by = $2 AND state = 'running'"
            }
            Db::Postgres(_) => {
                "DELETE FROM jobs WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint) \
                 AND locked_by = $2 AND state = 'running'"
            }
        };
        Ok(on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let done = sqlx::query(sql).bind(&ids).bind(worker).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            done
        }))
    }

    /// Marks a job done (deletes it). Refused if `worker` no longer holds it.
    pub async fn complete_job(&self, id: JobId, worker: &str) -> Result<()> {
        let done = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let done = sqlx::query("DELETE FROM jobs WHERE id = $1 AND locked_by = $2 AND state = 'running'")
                .bind(id.0)
                .bind(worker)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            done
        });
        if done == 1 { Ok(()) } else { Err(StoreError::Conflict(format!("job {id} is not held by {worker}"))) }
    }

    /// Records a failed attempt: the job runs again at `retry_at`, or is marked dead
    /// once it has used its attempts. Returns whether it is dead.
    pub async fn fail_job(&self, id: JobId, worker: &str, error: &str, retry_at: DateTime<Utc>) -> Result<bool> {
        let error: String = crate::storable_text(error).chars().take(2000).collect();
        let state: Option<String> = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let state = sqlx::query_scalar(
                "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END, \
                 run_at = $1, last_error = $2, locked_by = NULL, locked_until = NULL \
                 WHERE id = $3 AND locked_by = $4 AND state = 'running' RETURNING state",
            )
            .bind(retry_at)
            .bind(&error)
            .bind(id.0)
            .bind(worker)
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            state
        });
        match state {
            Some(state) => Ok(state == "dead"),
            None => Err(StoreError::Conflict(format!("job {id} is not held by {worker}"))),
        }
    }

    /// How many jobs are queued, running and dead, for `/metrics` and operators.
    pub async fn job_counts(&self) -> Result<JobCounts> {
        let rows: Vec<(String, i64)> =
            on_pool!(self, |pool| sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                .fetch_all(pool)
                .await?);
        let mut counts = JobCounts::default();
        for (state, n) in rows {
            match state.as_str() {
                "queued" => counts.queued = n,
                "running" => counts.running = n,
                "dead" => counts.dead = n,
                other => return Err(StoreError::corrupt_row("job state", other)),
            }
        }
        Ok(counts)
    }
}
