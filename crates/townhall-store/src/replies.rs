//! The outbox. A reply is stored with a unique idempotency key and its `send_reply`
//! job in one transaction; the outbox worker delivers it and records the result
//! together with the case's `respond` transition, so a sent reply and the case's
//! first-response time can never disagree.

use chrono::{DateTime, Utc};
use serde_json::json;
use townhall_core::reply::{Reply, ReplyKind, ReplyStatus};
use townhall_core::{
    AccountId, Actor, Case, CaseAction, CaseEvent, CaseId, InstitutionId, NewAuditEvent, Platform, PostId, ReplyId,
    UserId,
};

use crate::audit::insert_audit;
use crate::cases::update_case;
use crate::jobs::enqueue_all_in_tx;
use crate::{BeginWrite, Db, NewJob, Result, StoreError, on_pool, storable_text};

/// The job that delivers a reply.
pub const SEND_REPLY_JOB: &str = "send_reply";

/// A reply to put in the outbox.
#[derive(Debug, Clone)]
pub struct NewReply {
    /// The case.
    pub case_id: CaseId,
    /// The sending institution (the case's owner).
    pub institution_id: InstitutionId,
    /// The agent, or `None` for Townhall itself.
    pub user_id: Option<UserId>,
    /// Why it is sent.
    pub kind: ReplyKind,
    /// The citizen's post it answers.
    pub post_id: PostId,
    /// Where it goes.
    pub platform: Platform,
    /// The institution's account it is sent from.
    pub account_id: Option<AccountId>,
    /// The text.
    pub body: String,
    /// Held for approval instead of queued.
    pub needs_approval: bool,
    /// Unique per reply: the same key twice stores one reply.
    pub idempotency_key: String,
    /// Not before this time (the satisfaction question waits); now when `None`.
    pub send_at: Option<DateTime<Utc>>,
}

/// The delivery job of a reply; `round` tells an agent's retry from the first round,
/// whose job may still be kept as dead.
fn send_job(reply: i64, at: Option<DateTime<Utc>>, round: &str) -> NewJob {
    NewJob {
        kind: SEND_REPLY_JOB.into(),
        payload: json!({ "reply_id": reply }),
        dedupe_key: Some(format!("{SEND_REPLY_JOB}:{reply}:{round}")),
        run_at: at,
        max_attempts: townhall_core::reply::MAX_ATTEMPTS,
    }
}

fn reply_event(reply: &Reply, actor: &Actor, action: &str, after: serde_json::Value) -> NewAuditEvent {
    audit_event(reply.institution_id, reply.id, actor, action, Some(after))
}

fn audit_event(
    institution: InstitutionId,
    reply: ReplyId,
    actor: &Actor,
    action: &str,
    after: Option<serde_json::Value>,
) -> NewAuditEvent {
    NewAuditEvent {
        institution_id: Some(institution),
        actor: actor.clone(),
        action: action.to_owned(),
        object_kind: "reply".into(),
        object_id: reply.to_string(),
        before: None,
        after,
        origin: None,
    }
}

macro_rules! select_replies {
    ($clause:literal) => {
        concat!(
            "SELECT id, case_id, institution_id, user_id, kind, post_id, platform, account_id, body, status, attempts, \
             external_id, url, error_code, error, approved_by, created_at, sent_at FROM replies ",
            $clause
        )
    };
}

#[derive(sqlx::FromRow)]
struct ReplyRow {
    id: i64,
    case_id: i64,
    institution_id: i64,
    user_id: Option<i64>,
    kind: String,
    post_id: i64,
    platform: String,
    account_id: Option<i64>,
    body: String,
    status: String,
    attempts: i32,
    external_id: Option<String>,
    url: Option<String>,
    error_code: Option<String>,
    error: Option<String>,
    approved_by: Option<i64>,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
}

impl TryFrom<ReplyRow> for Reply {
    type Error = StoreError;
    fn try_from(r: ReplyRow) -> Result<Reply> {
        let parse = |what, text: &str| StoreError::corrupt_row(what, text);
        Ok(Reply {
            id: ReplyId(r.id),
            case_id: CaseId(r.case_id),
            institution_id: InstitutionId(r.institution_id),
            user_id: r.user_id.map(UserId),
            kind: r.kind.parse().map_err(|_| parse("reply kind", &r.kind))?,
            post_id: PostId(r.post_id),
            platform: r.platform.parse().map_err(|_| parse("platform", &r.platform))?,
            account_id: r.account_id.map(AccountId),
            body: r.body,
            status: r.status.parse().map_err(|_| parse("reply status", &r.status))?,
            attempts: r.attempts,
            external_id: r.external_id,
            url: r.url,
            error_code: r.error_code,
            error: r.error,
            approved_by: r.approved_by.map(UserId),
            created_at: r.created_at,
            sent_at: r.sent_at,
        })
    }
}

impl Db {
    /// Puts a reply in the outbox with its delivery job (unless it awaits approval)
    /// and its audit event. Storing the same idempotency key again returns the reply
    /// already stored and sends nothing more.
    pub async fn queue_reply(&self, new: &NewReply, actor: &Actor) -> Result<Reply> {
        let stored = match self.queue_replies(std::slice::from_ref(new), actor).await?[0] {
            Some(id) => self.reply(id).await?,
            None => self.reply_by_key(&new.idempotency_key).await?,
        };
        let stored = stored.ok_or(StoreError::NotFound("reply"))?;
        if stored.case_id != new.case_id {
            return Err(StoreError::Conflict("that idempotency key belongs to another case's reply".into()));
        }
        Ok(stored)
    }

    /// Queues (or holds) replies in one transaction, all or none; each new one comes
    /// back with its id, each whose key is already stored with `None`.
    pub async fn queue_replies(&self, replies: &[NewReply], actor: &Actor) -> Result<Vec<Option<ReplyId>>> {
        let bodies: Vec<String> = replies.iter().map(|r| storable_text(r.body.trim())).collect();
        if bodies.iter().any(String::is_empty) {
            return Err(StoreError::Invalid("a reply needs a text".into()));
        }
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let mut ids = Vec::with_capacity(replies.len());
            for (new, body) in replies.iter().zip(&bodies) {
                let status = if new.needs_approval { ReplyStatus::AwaitingApproval } else { ReplyStatus::Queued };
                let id: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO replies (case_id, institution_id, user_id, kind, post_id, platform, account_id, body, \
                     status, attempts, idempotency_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11) \
                     ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                )
                .bind(new.case_id.0)
                .bind(new.institution_id.0)
                .bind(new.user_id.map(|u| u.0))
                .bind(new.kind.as_str())
                .bind(new.post_id.0)
                .bind(new.platform.as_str())
                .bind(new.account_id.map(|a| a.0))
                .bind(body)
                .bind(status.as_str())
                .bind(&new.idempotency_key)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(id) = id {
                    if status == ReplyStatus::Queued {
                        enqueue_all_in_tx!(tx, now, &[send_job(id, new.send_at, "first")]).await?;
                    }
                    let after = json!({
                        "case_id": new.case_id, "kind": new.kind, "post_id": new.post_id, "status": status, "body": body,
                        "send_at": new.send_at,
                    });
                    let event = audit_event(new.institution_id, ReplyId(id), actor, "reply.queue", Some(after));
                    insert_audit!(tx, now, &event).await?;
                }
                ids.push(id.map(ReplyId));
            }
            tx.commit().await?;
            Ok(ids)
        })
    }

    /// One reply by id.
    pub async fn reply(&self, id: ReplyId) -> Result<Option<Reply>> {
        let row: Option<ReplyRow> = on_pool!(self, |pool| {
            sqlx::query_as(select_replies!("WHERE id = $1")).bind(id.0).fetch_optional(pool).await
        })?;
        row.map(Reply::try_from).transpose()
    }

    async fn reply_by_key(&self, key: &str) -> Result<Option<Reply>> {
        let row: Option<ReplyRow> = on_pool!(self, |pool| {
            sqlx::query_as(select_replies!("WHERE idempotency_key = $1")).bind(key).fetch_optional(pool).await
        })?;
        row.map(Reply::try_from).transpose()
    }

    /// The sent reply the platform knows by `external_id`: what a citizen's answer
    /// names as its parent.
    pub async fn reply_by_external_id(&self, platform: Platform, external_id: &str) -> Result<Option<Reply>> {
        let row: Option<ReplyRow> = on_pool!(self, |pool| {
            sqlx::query_as(select_replies!("WHERE platform = $1 AND external_id = $2 ORDER BY id DESC LIMIT 1"))
                .bind(platform.as_str())
                .bind(external_id)
                .fetch_optional(pool)
                .await
        })?;
        row.map(Reply::try_from).transpose()
    }

    /// The replies of a case, oldest first.
    pub async fn replies(&self, case: CaseId) -> Result<Vec<Reply>> {
        let rows: Vec<ReplyRow> = on_pool!(self, |pool| {
            sqlx::query_as(select_replies!("WHERE case_id = $1 ORDER BY id")).bind(case.0).fetch_all(pool).await
        })?;
        rows.into_iter().map(Reply::try_from).collect()
    }

    /// Releases a reply held for approval: it is queued for delivery. `NotFound` unless
    /// `institution` sent it and it still awaits approval.
    pub async fn approve_reply(&self, id: ReplyId, institution: InstitutionId, approver: UserId) -> Result<Reply> {
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let updated = sqlx::query(
                "UPDATE replies SET status = 'queued', approved_by = $1 \
                 WHERE id = $2 AND institution_id = $3 AND status = 'awaiting_approval'",
            )
            .bind(approver.0)
            .bind(id.0)
            .bind(institution.0)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() != 1 {
                return Err(StoreError::NotFound("reply awaiting approval"));
            }
            enqueue_all_in_tx!(tx, now, &[send_job(id.0, None, "first")]).await?;
            let after = json!({ "status": ReplyStatus::Queued });
            let event = audit_event(institution, id, &Actor::User(approver), "reply.approve", Some(after));
            insert_audit!(tx, now, &event).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.reply(id).await?.ok_or(StoreError::NotFound("reply"))
    }

    /// Marks a queued reply as being sent by a worker, before it calls the platform;
    /// `false` if it is not queued (another worker has it, or it was sent).
    pub async fn start_sending(&self, reply: ReplyId, attempts: i32) -> Result<bool> {
        let updated = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let updated =
                sqlx::query("UPDATE replies SET status = 'sending', attempts = $1 WHERE id = $2 AND status = 'queued'")
                    .bind(attempts)
                    .bind(reply.0)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            tx.commit().await?;
            updated
        });
        Ok(updated == 1)
    }

    /// Records a delivery of a reply being sent: the platform's id and address for it,
    /// and, for an answer, the case's `respond` transition, in one transaction. A
    /// conflict on the case leaves everything as it was, for the caller to decide again.
    pub async fn reply_sent(
        &self,
        reply: &Reply,
        external_id: &str,
        url: Option<&str>,
        attempts: i32,
        transition: Option<(&Case, &Case, &[CaseEvent])>,
    ) -> Result<()> {
        let now = Utc::now();
        let event = reply_event(
            reply,
            &Actor::System("outbox".into()),
            "reply.sent",
            json!({ "external_id": external_id, "url": url }),
        );
        let case_event = transition.map(|(before, after, events)| NewAuditEvent {
            institution_id: Some(before.institution_id),
            actor: Actor::System("outbox".into()),
            action: "case.respond".into(),
            object_kind: "case".into(),
            object_id: before.id.to_string(),
            before: Some(json!(before)),
            after: Some(
                json!({ "case": after, "action": CaseAction::Respond, "events": events, "reply_id": reply.id }),
            ),
            origin: None,
        });
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let updated = sqlx::query(
                "UPDATE replies SET status = 'sent', external_id = $1, url = $2, attempts = $3, sent_at = $4, \
                 error_code = NULL, error = NULL WHERE id = $5 AND status = 'sending'",
            )
            .bind(external_id)
            .bind(url)
            .bind(attempts)
            .bind(now)
            .bind(reply.id.0)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() != 1 {
                return Err(StoreError::Conflict(format!("reply {} is not being sent", reply.id)));
            }
            if let (Some((before, after, _)), Some(case_event)) = (transition, &case_event) {
                if update_case!(tx, before, after).await?.rows_affected() != 1 {
                    return Err(StoreError::Conflict(format!("case {} was changed by someone else", before.id)));
                }
                insert_audit!(tx, now, case_event).await?;
            }
            insert_audit!(tx, now, &event).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Records a failed attempt. A final failure marks the reply failed, for an agent
    /// to see and decide; a passing one leaves it queued for the job's retry.
    pub async fn reply_failed(
        &self,
        reply: &Reply,
        attempts: i32,
        code: &str,
        message: &str,
        last: bool,
    ) -> Result<()> {
        let now = Utc::now();
        let message: String = storable_text(message).chars().take(500).collect();
        let status = if last { ReplyStatus::Failed } else { ReplyStatus::Queued };
        let event = reply_event(
            reply,
            &Actor::System("outbox".into()),
            "reply.failed",
            json!({ "code": code, "error": message, "attempts": attempts }),
        );
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "UPDATE replies SET status = $1, attempts = $2, error_code = $3, error = $4 \
                 WHERE id = $5 AND status IN ('queued', 'sending')",
            )
            .bind(status.as_str())
            .bind(attempts)
            .bind(code)
            .bind(&message)
            .bind(reply.id.0)
            .execute(&mut *tx)
            .await?;
            if last {
                insert_audit!(tx, now, &event).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Queues a failed reply again, when an agent decides it should be retried.
    pub async fn retry_reply(&self, id: ReplyId, institution: InstitutionId, actor: &Actor) -> Result<Reply> {
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let updated = sqlx::query(
                "UPDATE replies SET status = 'queued', attempts = 0 WHERE id = $1 AND institution_id = $2 AND status = 'failed'",
            )
            .bind(id.0)
            .bind(institution.0)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() != 1 {
                return Err(StoreError::NotFound("failed reply"));
            }
            enqueue_all_in_tx!(tx, now, &[send_job(id.0, None, &format!("retry:{}", now.timestamp_micros()))]).await?;
            let event = audit_event(institution, id, actor, "reply.retry", None);
            insert_audit!(tx, now, &event).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.reply(id).await?.ok_or(StoreError::NotFound("reply"))
    }
}
