//! The outbox worker: delivers queued replies on their platform (`deliver`), records
//! each delivery with the case's `respond` transition, retries what may succeed
//! later with backoff, and surfaces the rest as failed for an agent to decide. It
//! also flags missed deadlines. `serve` runs it; `townhall worker` will too.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use townhall_core::reply::{self, Reply, ReplyKind, ReplyStatus};
use townhall_core::{CaseAction, ReplyId, transition};
use townhall_store::{Db, Job, SEND_REPLY_JOB};

use crate::config::Secret;
use crate::deliver::{self, Credentials, DeliveryError, ReplyTarget};
use crate::listen::Shutdown;

/// Jobs claimed at once.
const BATCH: i64 = 16;
/// How long a claimed delivery is ours before another worker may take it.
const LEASE: Duration = Duration::from_secs(120);
/// Pause when there is nothing to send.
const IDLE_POLL: Duration = Duration::from_millis(250);
/// How often missed deadlines are looked for.
const BREACH_SWEEP: Duration = Duration::from_secs(15);

/// The worker's identity and HTTP client.
#[derive(Debug, Clone)]
pub struct Outbox {
    name: String,
    client: reqwest::Client,
}

impl Outbox {
    /// A worker named `name` (unique per process: it owns the jobs it claims).
    pub fn new(name: &str) -> Outbox {
        Outbox { name: name.to_owned(), client: deliver::client() }
    }

    /// Delivers one batch of due replies; returns how many jobs it handled.
    pub async fn run_batch(&self, db: &Db) -> anyhow::Result<usize> {
        let jobs = db.claim_jobs(&self.name, &[SEND_REPLY_JOB], LEASE, Utc::now(), BATCH).await?;
        for job in &jobs {
            self.send(db, job).await?;
        }
        Ok(jobs.len())
    }

    async fn send(&self, db: &Db, job: &Job) -> anyhow::Result<()> {
        let reply = match job.payload["reply_id"].as_i64() {
            Some(id) => db.reply(ReplyId(id)).await?,
            None => None,
        };
        let Some(reply) = reply.filter(|r| r.status == ReplyStatus::Queued) else {
            // Sent or failed meanwhile (a replayed job): nothing to do.
            db.complete_job(job.id, &self.name).await?;
            return Ok(());
        };
        match self.attempt(db, &reply).await {
            Ok(delivered) => {
                let case = db.case_by_id(reply.case_id).await?.context("the reply's case is gone")?;
                // Only an agent's answer is a response; the automatic messages are not.
                let respond = (reply.kind == ReplyKind::Answer)
                    .then(|| transition(&case, &CaseAction::Respond, Utc::now()).ok())
                    .flatten();
                let change = respond.as_ref().map(|(after, events)| (&case, after, events.as_slice()));
                db.reply_sent(&reply, &delivered.external_id, delivered.url.as_deref(), job.attempts, change).await?;
                tracing::info!(reply = %reply.id, case = %reply.case_id, platform = %reply.platform, "reply delivered");
                db.complete_job(job.id, &self.name).await?;
            }
            Err(error) => {
                let last = !error.retryable || job.attempts >= reply::MAX_ATTEMPTS;
                db.reply_failed(&reply, job.attempts, error.code, &error.message, last).await?;
                tracing::warn!(reply = %reply.id, code = error.code, attempts = job.attempts, last, "reply not delivered");
                if last {
                    db.complete_job(job.id, &self.name).await?;
                } else {
                    let wait = reply::retry_delay(job.attempts - 1, error.retry_after);
                    let retry_at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                    db.fail_job(job.id, &self.name, &error.to_string(), retry_at).await?;
                }
            }
        }
        Ok(())
    }

    async fn attempt(&self, db: &Db, reply: &Reply) -> Result<deliver::Delivered, DeliveryError> {
        let refuse = |code, message: &str| DeliveryError {
            code,
            message: message.to_owned(),
            retryable: false,
            retry_after: None,
        };
        let store = |error: townhall_store::StoreError| DeliveryError {
            code: DeliveryError::UNAVAILABLE,
            message: format!("database: {}", error.code()),
            retryable: true,
            retry_after: None,
        };
        let account =
            reply.account_id.ok_or_else(|| refuse(NO_ACCOUNT, "no account of the institution to send from"))?;
        let credentials = db
            .account_credentials(account)
            .await
            .map_err(store)?
            .ok_or_else(|| refuse(NO_ACCOUNT, "the sending account has no credentials; an admin sets them"))?;
        let post =
            db.post(reply.post_id).await.map_err(store)?.ok_or_else(|| refuse(NO_ACCOUNT, "the post is gone"))?;
        let credentials = Credentials {
            endpoint: credentials.endpoint,
            identifier: credentials.identifier,
            secret: Secret::new(credentials.secret),
        };
        let target = ReplyTarget { platform: post.platform, external_id: &post.external_id, raw: &post.raw };
        let key = format!("townhall-reply-{}", reply.id);
        deliver::deliver(&self.client, &credentials, &target, &reply.body, &key).await
    }
}

/// The code of a reply that cannot be sent because no account can send it.
const NO_ACCOUNT: &str = "deliver.no_account";

/// The background worker of `serve`: delivers replies as they are queued and flags
/// missed deadlines, until `shutdown`.
pub async fn run(db: Db, mut shutdown: Shutdown) {
    let outbox = Outbox::new(&format!("outbox:{}", std::process::id()));
    let mut last_sweep: Option<std::time::Instant> = None;
    loop {
        if last_sweep.is_none_or(|at| at.elapsed() >= BREACH_SWEEP) {
            match db.flag_breaches(Utc::now()).await {
                Ok(breaches) if !breaches.is_empty() => tracing::info!(count = breaches.len(), "deadlines missed"),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "could not look for missed deadlines"),
            }
            last_sweep = Some(std::time::Instant::now());
        }
        let idle = match outbox.run_batch(&db).await {
            Ok(0) => true,
            Ok(_) => false,
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "outbox batch failed; its jobs are retried");
                true
            }
        };
        if shutdown.is_raised() || (idle && shutdown.sleep(IDLE_POLL).await) {
            return;
        }
    }
}
