//! The append-only audit log. Events are written by the same transaction as the
//! change they record (see [`insert_audit!`]); nothing here updates or deletes one.

use futures_util::{StreamExt, TryStreamExt, stream::BoxStream};
use townhall_core::{AuditEvent, AuditEventId, InstitutionId};

use crate::rows::AuditRow;
use crate::{Db, Result, StoreError, on_pool};

/// Appends one `NewAuditEvent` inside the transaction `$tx`, stamped `$at`.
macro_rules! insert_audit {
    ($tx:expr, $at:expr, $event:expr) => {{
        let event: &townhall_core::NewAuditEvent = $event;
        sqlx::query(
            "INSERT INTO audit_events (at, institution_id, actor, action, object_kind, object_id, before, after, origin) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind($at)
        .bind(event.institution_id.map(|i| i.0))
        .bind(event.actor.to_stored())
        .bind(event.action.clone())
        .bind(event.object_kind.clone())
        .bind(event.object_id.clone())
        .bind(event.before.as_ref().map(|v| v.to_string()))
        .bind(event.after.as_ref().map(|v| v.to_string()))
        .bind(event.origin.clone())
        .execute(&mut *$tx)
    }};
}
pub(crate) use insert_audit;

impl Db {
    /// Audit events with an id above `after`, oldest first, at most `limit`;
    /// only those of `institution` when given.
    pub async fn audit_events(
        &self,
        institution: Option<InstitutionId>,
        after: AuditEventId,
        limit: i64,
    ) -> Result<Vec<AuditEvent>> {
        let rows: Vec<AuditRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, at, institution_id, actor, action, object_kind, object_id, before, after, origin \
                 FROM audit_events WHERE id > $1 AND (CAST($2 AS BIGINT) IS NULL OR institution_id = $2) ORDER BY id LIMIT $3",
            )
            .bind(after.0)
            .bind(institution.map(|i| i.0))
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(AuditEvent::try_from).collect()
    }

    /// The audit trail of one object (a case, a reply), oldest first, at most `limit`.
    pub async fn audit_trail(&self, object_kind: &str, object_id: &str, limit: i64) -> Result<Vec<AuditEvent>> {
        let rows: Vec<AuditRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, at, institution_id, actor, action, object_kind, object_id, before, after, origin \
                 FROM audit_events WHERE object_kind = $1 AND object_id = $2 ORDER BY id LIMIT $3",
            )
            .bind(object_kind)
            .bind(object_id)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(AuditEvent::try_from).collect()
    }

    /// Every audit event, oldest first, one row at a time (for exports of any size).
    pub fn stream_audit(&self) -> BoxStream<'_, Result<AuditEvent>> {
        on_pool!(self, |pool| {
            sqlx::query_as::<_, AuditRow>(
                "SELECT id, at, institution_id, actor, action, object_kind, object_id, before, after, origin \
                 FROM audit_events ORDER BY id",
            )
            .fetch(pool)
            .map_err(StoreError::from)
            .and_then(|row| std::future::ready(AuditEvent::try_from(row)))
            .boxed()
        })
    }
}
