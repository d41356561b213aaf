//! The outbox worker: delivers queued replies on their platform (`deliver`), records
//! each delivery with the case's `respond` transition, retries what may succeed
//! later with backoff, and surfaces the rest as failed for an agent to decide. It
//! also flags missed deadlines. `serve` runs it; `townhall worker` will too.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use townhall_core::reply::{self, Reply, ReplyKind, ReplyStatus};
use townhall_core::{CaseAction, Platform, ReplyId, transition};
use townhall_store::{Db, Job, SEND_REPLY_JOB, StoreError};

use crate::config::Secret;
use crate::deliver::{self, Credentials, DeliveryError, ReplyTarget};
use crate::listen::Shutdown;

/// Jobs claimed at once: one, so a lease never runs out while earlier deliveries of
/// the same batch take their time.
const BATCH: i64 = 1;
/// How long a claimed delivery is ours before another worker may take it: well over
/// the longest delivery (a Bluesky sign-in, a post and a read-back, 30 s each at most).
const LEASE: Duration = Duration::from_secs(300);
/// Attempts to record a delivery when the case keeps changing under it.
const RECORD_ATTEMPTS: usize = 5;
/// Pause when there is nothing to send.
const IDLE_POLL: Duration = Duration::from_millis(250);
/// How often missed deadlines are looked for.
const BREACH_SWEEP: Duration = Duration::from_secs(5);

/// The worker's identity and HTTP client.
#[derive(Debug, Clone)]
pub struct Outbox {
    name: String,
    client: deliver::Client,
}

impl Outbox {
    /// A worker named `name` (unique per process: it owns the jobs it claims) that
    /// delivers with `client` (`deliver::client()` outside tests).
    pub fn new(name: &str, client: deliver::Client) -> Outbox {
        Outbox { name: name.to_owned(), client }
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
        let Some(reply) = reply else {
            db.complete_job(job.id, &self.name).await?;
            return Ok(());
        };
        match reply.status {
            ReplyStatus::Queued => {
                if let Some(why) = obsolete(db, &reply).await? {
                    db.reply_failed(&reply, job.attempts, "reply.obsolete", why, true).await?;
                    db.complete_job(job.id, &self.name).await?;
                    return Ok(());
                }
                if !db.start_sending(reply.id, job.attempts).await? {
                    db.complete_job(job.id, &self.name).await?;
                    return Ok(());
                }
            }
            // An earlier attempt stopped mid-delivery (a crash, a lost lease): the reply
            // may be online. Only a platform that deduplicates may be asked again.
            ReplyStatus::Sending if !deduplicates(reply.platform) => {
                let why = "an earlier attempt was interrupted; check the platform before sending it again";
                db.reply_failed(&reply, job.attempts, DeliveryError::UNKNOWN, why, true).await?;
                db.complete_job(job.id, &self.name).await?;
                return Ok(());
            }
            ReplyStatus::Sending => {}
            // Sent or failed meanwhile (a replayed job): nothing to do.
            ReplyStatus::Sent | ReplyStatus::Failed | ReplyStatus::AwaitingApproval => {
                db.complete_job(job.id, &self.name).await?;
                return Ok(());
            }
        }
        match self.attempt(db, &reply).await {
            Ok(delivered) => {
                record(db, &reply, &delivered, job.attempts).await?;
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

/// Records a delivery, with the case's `respond` transition for an agent's answer
/// (an automatic message is not a response). If the case keeps changing under it, the
/// delivery is recorded alone rather than lost.
async fn record(db: &Db, reply: &Reply, delivered: &deliver::Delivered, attempts: i32) -> anyhow::Result<()> {
    let (id, url) = (delivered.external_id.as_str(), delivered.url.as_deref());
    for _ in 0..RECORD_ATTEMPTS {
        let case = db.case_by_id(reply.case_id).await?.context("the reply's case is gone")?;
        let respond = match reply.kind {
            ReplyKind::Answer => transition(&case, &CaseAction::Respond, Utc::now()).ok(),
            _ => None,
        };
        let change = respond.as_ref().map(|(after, events)| (&case, after, events.as_slice()));
        match db.reply_sent(reply, id, url, attempts, change).await {
            Err(StoreError::Conflict(_)) if change.is_some() => continue,
            other => return Ok(other?),
        }
    }
    db.reply_sent(reply, id, url, attempts, None).await?;
    Ok(())
}

/// Whether the platform recognises a repeated post (Mastodon's idempotency key,
/// Bluesky's record key), so that sending again cannot publish twice.
fn deduplicates(platform: Platform) -> bool {
    matches!(platform, Platform::Mastodon | Platform::Bluesky)
}

/// Why an automatic message should no longer go out: the outcome and the
/// satisfaction question belong to a resolution the case no longer has.
async fn obsolete(db: &Db, reply: &Reply) -> anyhow::Result<Option<&'static str>> {
    if !matches!(reply.kind, ReplyKind::Outcome | ReplyKind::Satisfaction) {
        return Ok(None);
    }
    let case = db.case_by_id(reply.case_id).await?;
    Ok(case.filter(|c| c.resolved_at.is_none()).map(|_| "the case was reopened before this was sent"))
}

/// The code of a reply that cannot be sent because no account can send it.
const NO_ACCOUNT: &str = "deliver.no_account";

/// The background worker of `serve`: delivers replies as they are queued with
/// `client`, and flags missed deadlines, until `shutdown`.
pub async fn run(db: Db, client: deliver::Client, mut shutdown: Shutdown) {
    let outbox = Outbox::new(&format!("outbox:{}", std::process::id()), client);
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
