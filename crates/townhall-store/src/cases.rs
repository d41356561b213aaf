//! Cases. The store never decides how a case moves: `townhall_core::transition`
//! does, and [`Db::save_case_transition`] writes its result and the audit event in
//! one transaction, refusing it if someone else changed the case meanwhile.

use chrono::Utc;
use serde_json::json;
use townhall_core::{
    Actor, Case, CaseAction, CaseEvent, CaseId, CaseStatus, ContactId, InstitutionId, NewAuditEvent, Post, PostId,
    Priority, TeamId,
};

use crate::audit::insert_audit;
use crate::rows::{CaseRow, PostRow, post_columns};
use crate::{BeginWrite, Db, Result, StoreError, on_pool, storable_text};

/// A case to open.
#[derive(Debug, Clone)]
pub struct NewCase {
    /// The institution that owns it.
    pub institution_id: InstitutionId,
    /// The citizen.
    pub contact_id: Option<ContactId>,
    /// One-line summary.
    pub subject: String,
    /// Initial priority.
    pub priority: Priority,
    /// Initial queue.
    pub team_id: Option<TeamId>,
    /// The posts it is made of; each post belongs to at most one case.
    pub post_ids: Vec<PostId>,
}

/// `SELECT` of every [`CaseRow`] column from `cases`, followed by the given clause.
macro_rules! select_cases {
    ($clause:literal) => {
        concat!(
            "SELECT id, institution_id, contact_id, subject, status, priority, team_id, assignee_id, opened_at, \
             first_response_at, resolved_at, outcome, closed_at, close_reason, version FROM cases ",
            $clause
        )
    };
}

impl Db {
    /// Opens a new case from posts, with its audit event.
    pub async fn create_case(&self, new: &NewCase, actor: &Actor) -> Result<Case> {
        let now = Utc::now();
        let subject: String = storable_text(new.subject.trim()).chars().take(200).collect();
        let id: i64 = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO cases (institution_id, contact_id, subject, status, priority, team_id, opened_at, version) \
                 VALUES ($1, $2, $3, 'new', $4, $5, $6, 1) RETURNING id",
            )
            .bind(new.institution_id.0)
            .bind(new.contact_id.map(|c| c.0))
            .bind(&subject)
            .bind(new.priority.as_str())
            .bind(new.team_id.map(|t| t.0))
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            for post in &new.post_ids {
                sqlx::query("INSERT INTO case_posts (case_id, post_id) VALUES ($1, $2)")
                    .bind(id)
                    .bind(post.0)
                    .execute(&mut *tx)
                    .await?;
            }
            let event = NewAuditEvent {
                institution_id: Some(new.institution_id),
                actor: actor.clone(),
                action: "case.create".into(),
                object_kind: "case".into(),
                object_id: id.to_string(),
                before: None,
                after: Some(
                    json!({ "subject": subject, "priority": new.priority, "team_id": new.team_id, "post_ids": new.post_ids }),
                ),
                origin: None,
            };
            insert_audit!(tx, now, &event).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(id)
        })?;
        self.case(CaseId(id), new.institution_id).await?.ok_or(StoreError::NotFound("case"))
    }

    /// One case, only if `institution` owns it.
    pub async fn case(&self, id: CaseId, institution: InstitutionId) -> Result<Option<Case>> {
        let row: Option<CaseRow> = on_pool!(self, |pool| {
            sqlx::query_as(select_cases!("WHERE id = $1 AND institution_id = $2"))
                .bind(id.0)
                .bind(institution.0)
                .fetch_optional(pool)
                .await
        })?;
        row.map(Case::try_from).transpose()
    }

    /// An institution's cases, newest first, optionally of one status.
    pub async fn cases(&self, institution: InstitutionId, status: Option<CaseStatus>, limit: i64) -> Result<Vec<Case>> {
        let rows: Vec<CaseRow> = on_pool!(self, |pool| {
            sqlx::query_as(select_cases!(
                "WHERE institution_id = $1 AND (CAST($2 AS TEXT) IS NULL OR status = $2) ORDER BY opened_at DESC, id DESC LIMIT $3"
            ))
            .bind(institution.0)
            .bind(status.map(CaseStatus::as_str))
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(Case::try_from).collect()
    }

    /// How many cases of an institution are in each status.
    pub async fn case_counts(&self, institution: InstitutionId) -> Result<Vec<(CaseStatus, i64)>> {
        let rows: Vec<(String, i64)> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT status, COUNT(*) FROM cases WHERE institution_id = $1 GROUP BY status")
                .bind(institution.0)
                .fetch_all(pool)
                .await
        })?;
        let mut counts = rows
            .into_iter()
            .map(|(status, n)| Ok((status.parse().map_err(|e| StoreError::corrupt_row("case status", e))?, n)))
            .collect::<Result<Vec<(CaseStatus, i64)>>>()?;
        counts.sort();
        Ok(counts)
    }

    /// The posts of a case, oldest first.
    pub async fn case_posts(&self, id: CaseId, institution: InstitutionId) -> Result<Vec<Post>> {
        let rows: Vec<PostRow> = on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                post_columns!(),
                " FROM case_posts cp JOIN cases c ON c.id = cp.case_id JOIN posts p ON p.id = cp.post_id \
                 WHERE cp.case_id = $1 AND c.institution_id = $2 ORDER BY p.created_at, p.id"
            ))
            .bind(id.0)
            .bind(institution.0)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(Post::try_from).collect()
    }

    /// Writes the result of `transition(before, action)` and its audit event together.
    ///
    /// Refused with a conflict if the stored case is no longer `before` (another agent
    /// acted first): the caller reloads and decides again.
    pub async fn save_case_transition(
        &self,
        before: &Case,
        after: &Case,
        action: &CaseAction,
        events: &[CaseEvent],
        actor: &Actor,
        origin: Option<&str>,
    ) -> Result<()> {
        if before.id != after.id || before.institution_id != after.institution_id || after.version != before.version + 1
        {
            return Err(StoreError::Invalid("a transition must keep the case and bump its version by one".into()));
        }
        let now = Utc::now();
        let event = NewAuditEvent {
            institution_id: Some(after.institution_id),
            actor: actor.clone(),
            action: format!("case.{}", action.name()),
            object_kind: "case".into(),
            object_id: after.id.to_string(),
            before: Some(json!(before)),
            after: Some(json!({ "case": after, "action": action, "events": events })),
            origin: origin.map(str::to_owned),
        };
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let updated = sqlx::query(
                "UPDATE cases SET status = $1, priority = $2, team_id = $3, assignee_id = $4, first_response_at = $5, \
                 resolved_at = $6, outcome = $7, closed_at = $8, close_reason = $9, version = $10 \
                 WHERE id = $11 AND institution_id = $12 AND version = $13",
            )
            .bind(after.status.as_str())
            .bind(after.priority.as_str())
            .bind(after.team_id.map(|t| t.0))
            .bind(after.assignee.map(|u| u.0))
            .bind(after.first_response_at)
            .bind(after.resolved_at)
            .bind(after.outcome.as_deref().map(storable_text))
            .bind(after.closed_at)
            .bind(after.close_reason.map(|r| r.as_str()))
            .bind(after.version)
            .bind(after.id.0)
            .bind(after.institution_id.0)
            .bind(before.version)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated != 1 {
                return Err(StoreError::Conflict(format!("case {} was changed by someone else; reload it", after.id)));
            }
            insert_audit!(tx, now, &event).await?;
            tx.commit().await?;
            Ok(())
        })
    }
}
