//! Cases. The store never decides how a case moves: `townhall_core::transition`
//! does, and [`Db::save_case_transition`] writes its result and the audit event in
//! one transaction, refusing it if someone else changed the case meanwhile.
//!
//! Visibility: the owning institution reads and writes a case; an institution that
//! referred it keeps read access (its `case_referrals` rows); nobody else sees it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use townhall_core::deadline::{DUE_SOON, DeadlineState};
use townhall_core::routing::AgentLoad;
use townhall_core::{
    Actor, Case, CaseAction, CaseEvent, CaseId, CaseStatus, CloseReason, ContactId, InstitutionId, NewAuditEvent, Note,
    Platform, Post, PostId, Priority, Rating, Referral, SearchQuery, TeamId, UserId, transition,
};

use crate::audit::insert_audit;
use crate::posts::{fts5_match, tsquery};
use crate::rows::{CaseRow, PostRow, post_columns};
use crate::{BeginWrite, Db, Result, StoreError, json_list, on_pool, storable_text};

/// A case to open.
#[derive(Debug, Clone)]
pub struct NewCase {
    /// The institution that owns it.
    pub institution_id: InstitutionId,
    /// The citizen.
    pub contact_id: Option<ContactId>,
    /// One-line summary.
    pub subject: String,
    /// The channel of its first post.
    pub platform: Option<Platform>,
    /// Initial priority.
    pub priority: Priority,
    /// Initial queue.
    pub team_id: Option<TeamId>,
    /// Initial owner, when routing chose one.
    pub assignee: Option<UserId>,
    /// Labels from routing.
    pub tags: Vec<String>,
    /// First-response deadline.
    pub first_response_due: Option<DateTime<Utc>>,
    /// Resolution deadline.
    pub resolution_due: Option<DateTime<Utc>>,
    /// The posts it is made of; each post belongs to at most one case.
    pub post_ids: Vec<PostId>,
}

/// What an institution may do with a case it can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// It owns the case: it reads and acts.
    Owner,
    /// It referred the case away: it reads the history and the outcome, and acts no more.
    Referrer,
}

/// Which cases an inbox listing shows. Every filter is optional; cases come newest
/// first, a page at a time: pass the last id of a page as `before` for the next.
#[derive(Debug, Clone)]
pub struct CaseQuery {
    /// Whose inbox.
    pub institution: InstitutionId,
    /// The cases it referred away instead of those it owns.
    pub referred_away: bool,
    /// Status.
    pub status: Option<CaseStatus>,
    /// Queue.
    pub team: Option<TeamId>,
    /// Owner.
    pub assignee: Option<UserId>,
    /// The citizen who wrote it (their earlier cases, on a case page).
    pub contact: Option<ContactId>,
    /// Channel.
    pub platform: Option<Platform>,
    /// Intent of one of its posts.
    pub intent: Option<String>,
    /// Topic of one of its posts.
    pub topic: Option<String>,
    /// Language of one of its posts.
    pub lang: Option<String>,
    /// `breached`, `due_soon` or `on_time`, at `now`.
    pub deadline: Option<DeadlineState>,
    /// Words in its posts.
    pub text: Option<SearchQuery>,
    /// Only cases with a smaller id (the cursor).
    pub before: Option<CaseId>,
    /// Page size.
    pub limit: i64,
}

impl CaseQuery {
    /// Every case `institution` owns, a page of 50.
    pub fn new(institution: InstitutionId) -> CaseQuery {
        CaseQuery {
            institution,
            referred_away: false,
            status: None,
            team: None,
            assignee: None,
            contact: None,
            platform: None,
            intent: None,
            topic: None,
            lang: None,
            deadline: None,
            text: None,
            before: None,
            limit: 50,
        }
    }
}

/// A case that still waits for the institution (not resolved or closed).
macro_rules! waiting {
    () => {
        "status IN ('new', 'open', 'pending')"
    };
}

/// A case with a deadline missed at the time bound as parameter `$now`.
macro_rules! overdue {
    ($now:literal) => {
        concat!(
            "((first_response_at IS NULL AND first_response_due < ",
            $now,
            ") OR (resolved_at IS NULL AND resolution_due < ",
            $now,
            "))"
        )
    };
}

/// An institution's inbox at a glance (see [`Db::load`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Load {
    /// Cases opened since the start of the period (merged duplicates not counted).
    pub opened: i64,
    /// Cases first answered since then.
    pub answered: i64,
    /// Cases resolved since then.
    pub resolved: i64,
    /// Cases waiting now (new, open or pending).
    pub waiting: i64,
    /// Of those, the ones nobody is assigned to.
    pub unassigned: i64,
    /// Of those, the ones with a missed deadline.
    pub overdue: i64,
}

/// One period's cases (see [`Db::cases_per_period`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PeriodCount {
    /// The period's first instant.
    pub start: DateTime<Utc>,
    /// Cases opened in it.
    pub opened: i64,
    /// Of those, the ones answered since.
    pub answered: i64,
}

/// One queue's waiting cases (see [`Db::team_loads`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TeamLoad {
    /// The queue; `None` for cases in no team.
    pub team: Option<TeamId>,
    /// Cases waiting in it.
    pub waiting: i64,
    /// Of those, the ones with a missed deadline.
    pub overdue: i64,
}

/// Which deadline of a case was missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    /// No first reply in time.
    FirstResponse,
    /// Not resolved in time.
    Resolution,
}

impl DeadlineKind {
    /// Its stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineKind::FirstResponse => "first_response",
            DeadlineKind::Resolution => "resolution",
        }
    }
}

/// A missed deadline, flagged once when first seen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Breach {
    /// The case.
    pub case_id: CaseId,
    /// The institution that owned the case when it was missed.
    pub institution_id: InstitutionId,
    /// Which deadline.
    pub kind: DeadlineKind,
    /// When it was due.
    pub due_at: DateTime<Utc>,
    /// When Townhall flagged it.
    pub flagged_at: DateTime<Utc>,
}

/// `SELECT` of every [`CaseRow`] column from `cases c`, followed by the given clause.
macro_rules! select_cases {
    ($($clause:expr),+) => {
        concat!(
            "SELECT c.id, c.institution_id, c.contact_id, c.subject, c.platform, c.tags, c.status, c.priority, \
             c.team_id, c.assignee_id, c.opened_at, c.first_response_due, c.resolution_due, c.first_response_at, \
             c.resolved_at, c.outcome, c.closed_at, c.close_reason, c.version FROM cases c ",
            $($clause),+
        )
    };
}

/// Whether institution `$2` referred case `c` away at some point.
macro_rules! referred_by {
    ($param:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM case_referrals r WHERE r.case_id = c.id AND r.from_institution_id = $",
            $param,
            ")"
        )
    };
}

/// The statement of [`Db::list_cases`] for backend `$db`: only the filters `$query`
/// gives, newest first; `$text` (the query already rendered for the backend) goes
/// between `$text_open` and `$text_close`. A macro because the builder's type is the
/// backend's.
macro_rules! case_listing {
    ($db:ty, $query:expr, $now:expr, $text:expr, $text_open:literal, $text_close:literal) => {{
        let query: &CaseQuery = $query;
        let now: DateTime<Utc> = $now;
        let mut sql = sqlx::QueryBuilder::<$db>::new(select_cases!("WHERE "));
        if query.referred_away {
            sql.push("c.institution_id <> ").push_bind(query.institution.0);
            sql.push(" AND EXISTS (SELECT 1 FROM case_referrals r WHERE r.case_id = c.id AND r.from_institution_id = ");
            sql.push_bind(query.institution.0).push(")");
        } else {
            sql.push("c.institution_id = ").push_bind(query.institution.0);
        }
        if let Some(status) = query.status {
            sql.push(" AND c.status = ").push_bind(status.as_str());
        }
        if let Some(team) = query.team {
            sql.push(" AND c.team_id = ").push_bind(team.0);
        }
        if let Some(assignee) = query.assignee {
            sql.push(" AND c.assignee_id = ").push_bind(assignee.0);
        }
        if let Some(platform) = query.platform {
            sql.push(" AND c.platform = ").push_bind(platform.as_str());
        }
        if let Some(contact) = query.contact {
            sql.push(" AND c.contact_id = ").push_bind(contact.0);
        }
        // A tag filter probes each case's posts (`CROSS JOIN` fixes that order on
        // SQLite): driven from the tag's index, SQLite 3.51 read every post with the
        // tag for every case.
        for (table, condition, value) in [
            ("enrichments e", "e.intent = ", &query.intent),
            ("enrichments e", "e.lang = ", &query.lang),
            ("post_topics e", "e.topic = ", &query.topic),
        ] {
            if let Some(value) = value {
                sql.push(" AND EXISTS (SELECT 1 FROM case_posts cp CROSS JOIN ")
                    .push(table)
                    .push(" WHERE cp.case_id = c.id AND e.post_id = cp.post_id AND ")
                    .push(condition)
                    .push_bind(value.as_str())
                    .push(")");
            }
        }
        if let Some(before) = query.before {
            sql.push(" AND c.id < ").push_bind(before.0);
        }
        if let Some(state) = query.deadline {
            // Past a deadline at `at`: the first answer or the resolution still owed.
            let missed = |sql: &mut sqlx::QueryBuilder<$db>, at: DateTime<Utc>| {
                sql.push("(COALESCE(c.first_response_at IS NULL AND c.first_response_due < ")
                    .push_bind(at)
                    .push(", FALSE) OR COALESCE(c.resolved_at IS NULL AND c.closed_at IS NULL AND c.resolution_due < ")
                    .push_bind(at)
                    .push(", FALSE))");
            };
            // The institution's cases with a deadline owed in [from, to): read from the
            // indexes of owed deadlines, so a few breached cases among a million are
            // found without reading the rest. The conditions are those of the partial
            // indexes in migration 0007, word for word, or SQLite will not use them.
            let owed = |sql: &mut sqlx::QueryBuilder<$db>, from: Option<DateTime<Utc>>, to: DateTime<Utc>| {
                for (i, (owed, due)) in [
                    ("first_response_at IS NULL", "first_response_due"),
                    ("resolved_at IS NULL AND closed_at IS NULL", "resolution_due"),
                ]
                .into_iter()
                .enumerate()
                {
                    sql.push(if i == 0 {
                        "c.id IN (SELECT id FROM cases WHERE institution_id = "
                    } else {
                        " UNION ALL SELECT id FROM cases WHERE institution_id = "
                    });
                    sql.push_bind(query.institution.0)
                        .push(" AND ")
                        .push(owed)
                        .push(" AND ")
                        .push(due)
                        .push(" < ")
                        .push_bind(to);
                    if let Some(from) = from {
                        sql.push(" AND ").push(due).push(" >= ").push_bind(from);
                    }
                }
                sql.push(")");
            };
            sql.push(" AND c.status NOT IN ('resolved', 'closed') AND ");
            match (state, query.referred_away) {
                (DeadlineState::Breached, false) => owed(&mut sql, None, now),
                (DeadlineState::Breached, true) => missed(&mut sql, now),
                // Refused by `list_cases` before the statement is built; were it not,
                // the statement would still be whole and list nothing.
                (DeadlineState::Met | DeadlineState::Missed, _) => {
                    sql.push("FALSE");
                }
                (DeadlineState::DueSoon, referred_away) => {
                    sql.push("NOT ");
                    missed(&mut sql, now);
                    sql.push(" AND ");
                    if referred_away {
                        missed(&mut sql, now + DUE_SOON);
                    } else {
                        owed(&mut sql, Some(now), now + DUE_SOON);
                    }
                }
                (DeadlineState::OnTime, _) => {
                    sql.push("NOT ");
                    missed(&mut sql, now);
                    sql.push(" AND NOT ");
                    missed(&mut sql, now + DUE_SOON);
                }
            }
        }
        if let Some(text) = $text {
            sql.push(" AND ").push($text_open).push_bind(text).push($text_close);
        }
        sql.push(" ORDER BY c.id DESC LIMIT ").push_bind(query.limit.clamp(1, 500));
        sql
    }};
}

/// Writes `$after` over the stored case if it is still at `$before.version`; the
/// number of rows updated (0 means someone else changed it first).
macro_rules! update_case {
    ($tx:expr, $before:expr, $after:expr) => {{
        let (before, after): (&Case, &Case) = ($before, $after);
        sqlx::query(
            "UPDATE cases SET institution_id = $1, status = $2, priority = $3, team_id = $4, assignee_id = $5, \
             first_response_at = $6, resolved_at = $7, outcome = $8, closed_at = $9, close_reason = $10, \
             version = $11, tags = $12, first_response_due = $13, resolution_due = $14 \
             WHERE id = $15 AND institution_id = $16 AND version = $17",
        )
        .bind(after.institution_id.0)
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
        .bind(serde_json::Value::from(after.tags.clone()).to_string())
        .bind(after.first_response_due)
        .bind(after.resolution_due)
        .bind(after.id.0)
        .bind(before.institution_id.0)
        .bind(before.version)
        .execute(&mut *$tx)
    }};
}
pub(crate) use update_case;

/// Bumps the version of a case whose posts change, so a concurrent change of it is
/// refused as a conflict; returns from the enclosing block with that conflict.
macro_rules! touch_case {
    ($tx:expr, $case:expr) => {{
        let case: &Case = $case;
        let touched = sqlx::query("UPDATE cases SET version = version + 1 WHERE id = $1 AND version = $2")
            .bind(case.id.0)
            .bind(case.version)
            .execute(&mut *$tx)
            .await?;
        if touched.rows_affected() != 1 {
            return Err(conflict(case.id));
        }
    }};
}

/// The audit event of an accepted transition: the case before, the action, its events.
fn transition_event(
    before: &Case,
    after: &Case,
    action: &CaseAction,
    events: &[CaseEvent],
    actor: &Actor,
    origin: Option<&str>,
) -> NewAuditEvent {
    NewAuditEvent {
        institution_id: Some(before.institution_id),
        actor: actor.clone(),
        action: format!("case.{}", action.name()),
        object_kind: "case".into(),
        object_id: after.id.to_string(),
        before: Some(json!(before)),
        after: Some(json!({ "case": after, "action": action, "events": events })),
        origin: origin.map(str::to_owned),
    }
}

fn check_transition(before: &Case, after: &Case, action: &CaseAction) -> Result<()> {
    let owner_may_change = matches!(action, CaseAction::Refer { .. });
    if before.id != after.id
        || (before.institution_id != after.institution_id && !owner_may_change)
        || after.version != before.version + 1
    {
        return Err(StoreError::Invalid("a transition must keep the case and bump its version by one".into()));
    }
    Ok(())
}

fn conflict(case: CaseId) -> StoreError {
    StoreError::Conflict(format!("case {case} was changed by someone else; reload it"))
}

fn audit_event(
    institution: InstitutionId,
    actor: &Actor,
    action: &str,
    case: CaseId,
    after: serde_json::Value,
) -> NewAuditEvent {
    NewAuditEvent {
        institution_id: Some(institution),
        actor: actor.clone(),
        action: action.to_owned(),
        object_kind: "case".into(),
        object_id: case.to_string(),
        before: None,
        after: Some(after),
        origin: None,
    }
}

impl Db {
    /// Opens a new case from posts, with its audit event.
    pub async fn create_case(&self, new: &NewCase, actor: &Actor) -> Result<Case> {
        let ids = self.create_cases(&[(new.clone(), actor.clone())]).await?;
        self.owned_case(ids[0], new.institution_id).await
    }

    /// Opens cases, each with its audit event, in one transaction: all or none. Their
    /// ids come back in the order given.
    pub async fn create_cases(&self, cases: &[(NewCase, Actor)]) -> Result<Vec<CaseId>> {
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let mut ids = Vec::with_capacity(cases.len());
            for (new, actor) in cases {
                let subject: String = storable_text(new.subject.trim()).chars().take(200).collect();
                let tags = serde_json::Value::from(new.tags.clone()).to_string();
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO cases (institution_id, contact_id, subject, platform, tags, status, priority, team_id, \
                     assignee_id, opened_at, first_response_due, resolution_due, version) \
                     VALUES ($1, $2, $3, $4, $5, 'new', $6, $7, $8, $9, $10, $11, 1) RETURNING id",
                )
                .bind(new.institution_id.0)
                .bind(new.contact_id.map(|c| c.0))
                .bind(&subject)
                .bind(new.platform.map(Platform::as_str))
                .bind(&tags)
                .bind(new.priority.as_str())
                .bind(new.team_id.map(|t| t.0))
                .bind(new.assignee.map(|u| u.0))
                .bind(now)
                .bind(new.first_response_due)
                .bind(new.resolution_due)
                .fetch_one(&mut *tx)
                .await?;
                for post in &new.post_ids {
                    sqlx::query("INSERT INTO case_posts (case_id, post_id) VALUES ($1, $2)")
                        .bind(id)
                        .bind(post.0)
                        .execute(&mut *tx)
                        .await?;
                }
                let after = json!({
                    "subject": subject, "priority": new.priority, "team_id": new.team_id, "assignee": new.assignee,
                    "tags": new.tags, "post_ids": new.post_ids,
                    "first_response_due": new.first_response_due, "resolution_due": new.resolution_due,
                });
                insert_audit!(tx, now, &audit_event(new.institution_id, actor, "case.create", CaseId(id), after))
                    .await?;
                ids.push(CaseId(id));
            }
            tx.commit().await?;
            Ok(ids)
        })
    }

    /// A case `institution` can see, with what it may do with it.
    pub async fn case(&self, id: CaseId, institution: InstitutionId) -> Result<Option<(Case, Access)>> {
        let row: Option<CaseRow> = on_pool!(self, |pool| {
            sqlx::query_as(select_cases!("WHERE c.id = $1 AND (c.institution_id = $2 OR ", referred_by!("2"), ")"))
                .bind(id.0)
                .bind(institution.0)
                .fetch_optional(pool)
                .await
        })?;
        let Some(case) = row.map(Case::try_from).transpose()? else { return Ok(None) };
        let access = if case.institution_id == institution { Access::Owner } else { Access::Referrer };
        Ok(Some((case, access)))
    }

    /// A case `institution` owns, or `NotFound`.
    pub async fn owned_case(&self, id: CaseId, institution: InstitutionId) -> Result<Case> {
        match self.case(id, institution).await? {
            Some((case, Access::Owner)) => Ok(case),
            _ => Err(StoreError::NotFound("case")),
        }
    }

    /// A case by id whoever owns it, for workers acting on the system's behalf.
    pub async fn case_by_id(&self, id: CaseId) -> Result<Option<Case>> {
        let row: Option<CaseRow> = on_pool!(self, |pool| {
            sqlx::query_as(select_cases!("WHERE c.id = $1")).bind(id.0).fetch_optional(pool).await
        })?;
        row.map(Case::try_from).transpose()
    }

    /// An inbox page: the cases matching `query`, newest first.
    ///
    /// The statement names only the filters given, so each backend can use the index
    /// that fits (an institution's cases by id, or by status and id): with every
    /// filter written as "absent or equal", SQLite scanned every case of the table
    /// for a rare status.
    pub async fn list_cases(&self, query: &CaseQuery, now: DateTime<Utc>) -> Result<Vec<Case>> {
        if let Some(other @ (DeadlineState::Met | DeadlineState::Missed)) = query.deadline {
            return Err(StoreError::Invalid(format!("cannot list cases by deadline state {other}")));
        }
        let rows: Vec<CaseRow> = match self {
            Db::Sqlite(pool) => {
                // The match runs once for the whole list: inside a per-case EXISTS, SQLite
                // ran the full-text query again for every case it looked at.
                let text = query.text.as_ref().map(fts5_match);
                let mut sql = case_listing!(
                    sqlx::Sqlite,
                    query,
                    now,
                    text,
                    "c.id IN (SELECT cp.case_id FROM posts_fts f JOIN case_posts cp ON cp.post_id = f.rowid \
                     WHERE posts_fts MATCH ",
                    ")"
                );
                sql.build_query_as().fetch_all(pool).await?
            }
            Db::Postgres(pool) => {
                let text = query.text.as_ref().map(tsquery);
                let mut sql = case_listing!(
                    sqlx::Postgres,
                    query,
                    now,
                    text,
                    "EXISTS (SELECT 1 FROM case_posts cp JOIN posts p ON p.id = cp.post_id WHERE cp.case_id = c.id \
                     AND p.search @@ to_tsquery('simple', public.unaccent('public.unaccent'::regdictionary, ",
                    ")))"
                );
                sql.build_query_as().fetch_all(pool).await?
            }
        };
        rows.into_iter().map(Case::try_from).collect()
    }

    /// An institution's cases, newest first, optionally of one status.
    pub async fn cases(&self, institution: InstitutionId, status: Option<CaseStatus>, limit: i64) -> Result<Vec<Case>> {
        self.list_cases(&CaseQuery { status, limit, ..CaseQuery::new(institution) }, Utc::now()).await
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

    /// The posts of a case `institution` can see, oldest first.
    pub async fn case_posts(&self, id: CaseId, institution: InstitutionId) -> Result<Vec<Post>> {
        let rows: Vec<PostRow> = on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                post_columns!(),
                " FROM case_posts cp JOIN cases c ON c.id = cp.case_id JOIN posts p ON p.id = cp.post_id \
                 WHERE cp.case_id = $1 AND (c.institution_id = $2 OR ",
                referred_by!("2"),
                ") ORDER BY p.created_at, p.id"
            ))
            .bind(id.0)
            .bind(institution.0)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(Post::try_from).collect()
    }

    /// The cases the given posts belong to, for those in one.
    pub async fn cases_of_posts(&self, posts: &[PostId]) -> Result<HashMap<PostId, CaseId>> {
        let ids = json_list(posts.iter().map(|p| p.0))?;
        let sql = match self {
            Db::Sqlite(_) => {
                "SELECT post_id, case_id FROM case_posts WHERE post_id IN (SELECT value FROM json_each($1))"
            }
            Db::Postgres(_) => {
                "SELECT post_id, case_id FROM case_posts WHERE post_id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)"
            }
        };
        let rows: Vec<(i64, i64)> = on_pool!(self, |pool| sqlx::query_as(sql).bind(&ids).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(|(post, case)| (PostId(post), CaseId(case))).collect())
    }

    /// Records other ids the platform knows posts by (see `post_aliases`); an alias
    /// already recorded keeps its post.
    pub async fn add_post_aliases(&self, aliases: &[(Platform, String, PostId)]) -> Result<()> {
        if aliases.is_empty() {
            return Ok(());
        }
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            for (platform, alias, post) in aliases {
                sqlx::query(
                    "INSERT INTO post_aliases (platform, alias, post_id) VALUES ($1, $2, $3) \
                     ON CONFLICT (platform, alias) DO NOTHING",
                )
                .bind(platform.as_str())
                .bind(alias)
                .bind(post.0)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// The cases, not closed, of the conversations new posts continue: for each of
    /// `keys` (a parent's or a thread root's platform id) that names one, the newest
    /// open case holding a post with that id or alias, or sent a reply with that id.
    pub async fn cases_in_threads(&self, platform: Platform, keys: &[&str]) -> Result<HashMap<String, CaseId>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let keys = serde_json::to_string(keys).map_err(|e| StoreError::Invalid(e.to_string()))?;
        macro_rules! threads {
            ($keys:literal) => {
                concat!(
                    "SELECT t.key, MAX(c.id) FROM ( \
                     SELECT p.external_id AS key, cp.case_id FROM case_posts cp JOIN posts p ON p.id = cp.post_id \
                     WHERE p.platform = $1 AND p.external_id IN (",
                    $keys,
                    ") UNION ALL SELECT a.alias, cp.case_id FROM case_posts cp JOIN post_aliases a ON a.post_id = cp.post_id \
                     WHERE a.platform = $1 AND a.alias IN (",
                    $keys,
                    ") UNION ALL SELECT r.external_id, r.case_id FROM replies r WHERE r.platform = $1 AND r.external_id IN (",
                    $keys,
                    ")) t JOIN cases c ON c.id = t.case_id WHERE c.status <> 'closed' GROUP BY t.key"
                )
            };
        }
        let sql = match self {
            Db::Sqlite(_) => threads!("SELECT value FROM json_each($2)"),
            Db::Postgres(_) => threads!("SELECT jsonb_array_elements_text($2::jsonb)"),
        };
        let rows: Vec<(String, i64)> =
            on_pool!(self, |pool| { sqlx::query_as(sql).bind(platform.as_str()).bind(&keys).fetch_all(pool).await })?;
        Ok(rows.into_iter().map(|(key, case)| (key, CaseId(case))).collect())
    }

    /// Writes the result of `transition(before, action)` and its audit event together.
    ///
    /// Refused with a conflict if the stored case is no longer `before` (another agent
    /// acted first): the caller reloads and decides again. A referral also records the
    /// hand-over, so the referring institution keeps read access.
    pub async fn save_case_transition(
        &self,
        before: &Case,
        after: &Case,
        action: &CaseAction,
        events: &[CaseEvent],
        actor: &Actor,
        origin: Option<&str>,
    ) -> Result<()> {
        check_transition(before, after, action)?;
        let now = Utc::now();
        let event = transition_event(before, after, action, events, actor, origin);
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            if update_case!(tx, before, after).await?.rows_affected() != 1 {
                return Err(conflict(after.id));
            }
            if let CaseAction::Refer { to, reason, .. } = action {
                sqlx::query(
                    "INSERT INTO case_referrals (case_id, from_institution_id, to_institution_id, reason, user_id, at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(after.id.0)
                .bind(before.institution_id.0)
                .bind(to.0)
                .bind(storable_text(reason.trim()))
                .bind(actor.user_id().map(|u| u.0))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            insert_audit!(tx, now, &event).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Adds a citizen's new post to the case of its conversation, with the
    /// `citizen_replied` transition, in one transaction.
    pub async fn add_post_to_case(&self, before: &Case, post: PostId, actor: &Actor) -> Result<Case> {
        let (after, events) = transition(before, &CaseAction::CitizenReplied, Utc::now())
            .map_err(|rejected| StoreError::Invalid(rejected.to_string()))?;
        let now = Utc::now();
        let mut event = transition_event(before, &after, &CaseAction::CitizenReplied, &events, actor, None);
        event.after = Some(json!({ "case": after, "events": events, "post_id": post }));
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            if update_case!(tx, before, &after).await?.rows_affected() != 1 {
                return Err(conflict(after.id));
            }
            sqlx::query("INSERT INTO case_posts (case_id, post_id) VALUES ($1, $2)")
                .bind(after.id.0)
                .bind(post.0)
                .execute(&mut *tx)
                .await?;
            insert_audit!(tx, now, &event).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        Ok(after)
    }

    /// Merges case `from` into `into`: its posts move over and it is closed as a
    /// duplicate. Both must be owned by the same institution and not closed.
    pub async fn merge_cases(&self, into: &Case, from: &Case, actor: &Actor) -> Result<Case> {
        if into.id == from.id || into.institution_id != from.institution_id || into.status == CaseStatus::Closed {
            return Err(StoreError::Invalid("merge two different open cases of one institution".into()));
        }
        let close = CaseAction::Close { reason: Some(CloseReason::Duplicate) };
        let (closed, events) =
            transition(from, &close, Utc::now()).map_err(|rejected| StoreError::Invalid(rejected.to_string()))?;
        let now = Utc::now();
        let close_event = transition_event(from, &closed, &close, &events, actor, None);
        let merge_event = audit_event(into.institution_id, actor, "case.merge", into.id, json!({ "merged": from.id }));
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            if update_case!(tx, from, &closed).await?.rows_affected() != 1 {
                return Err(conflict(from.id));
            }
            touch_case!(tx, into);
            sqlx::query("UPDATE case_posts SET case_id = $1 WHERE case_id = $2")
                .bind(into.id.0)
                .bind(from.id.0)
                .execute(&mut *tx)
                .await?;
            insert_audit!(tx, now, &close_event).await?;
            insert_audit!(tx, now, &merge_event).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.owned_case(into.id, into.institution_id).await
    }

    /// Moves some posts of a case into a new case of their own, for a conversation
    /// that turned to another matter. At least one post must stay.
    pub async fn split_case(&self, case: &Case, posts: &[PostId], actor: &Actor) -> Result<Case> {
        let current: Vec<PostId> = self.case_posts(case.id, case.institution_id).await?.iter().map(|p| p.id).collect();
        if posts.is_empty() || posts.iter().any(|p| !current.contains(p)) || posts.len() >= current.len() {
            return Err(StoreError::Invalid("split some, not all, of the case's own posts".into()));
        }
        let now = Utc::now();
        let new_id: i64 = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            touch_case!(tx, case);
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO cases (institution_id, contact_id, subject, platform, tags, status, priority, team_id, \
                 opened_at, first_response_due, resolution_due, version) \
                 SELECT institution_id, contact_id, subject, platform, tags, 'new', priority, team_id, $2, \
                 first_response_due, resolution_due, 1 FROM cases WHERE id = $1 RETURNING id",
            )
            .bind(case.id.0)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            for post in posts {
                sqlx::query("UPDATE case_posts SET case_id = $1 WHERE case_id = $2 AND post_id = $3")
                    .bind(id)
                    .bind(case.id.0)
                    .bind(post.0)
                    .execute(&mut *tx)
                    .await?;
            }
            let after = json!({ "split_from": case.id, "post_ids": posts });
            insert_audit!(tx, now, &audit_event(case.institution_id, actor, "case.split", CaseId(id), after)).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(id)
        })?;
        self.owned_case(CaseId(new_id), case.institution_id).await
    }

    /// The referrals of a case, oldest first: the chain of hand-overs.
    pub async fn referrals(&self, case: CaseId) -> Result<Vec<Referral>> {
        type Row = (i64, i64, String, Option<i64>, DateTime<Utc>);
        let rows: Vec<Row> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT from_institution_id, to_institution_id, reason, user_id, at FROM case_referrals \
                 WHERE case_id = $1 ORDER BY id",
            )
            .bind(case.0)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(from, to, reason, user, at)| Referral {
                from: InstitutionId(from),
                to: InstitutionId(to),
                reason,
                user_id: user.map(UserId),
                at,
            })
            .collect())
    }

    /// Adds an internal note, audited.
    pub async fn add_note(
        &self,
        case: &Case,
        institution: InstitutionId,
        user: UserId,
        body: &str,
        mentions: &[UserId],
        actor: &Actor,
    ) -> Result<Note> {
        let body = storable_text(body.trim());
        if body.is_empty() || body.chars().count() > 10_000 {
            return Err(StoreError::Invalid("a note holds 1 to 10,000 characters".into()));
        }
        let now = Utc::now();
        let mention_ids: Vec<i64> = mentions.iter().map(|u| u.0).collect();
        let id: i64 = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO case_notes (case_id, institution_id, user_id, body, mentions, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(case.id.0)
            .bind(institution.0)
            .bind(user.0)
            .bind(&body)
            .bind(serde_json::Value::from(mention_ids.clone()).to_string())
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let after = json!({ "note_id": id, "mentions": mention_ids });
            insert_audit!(tx, now, &audit_event(institution, actor, "case.note", case.id, after)).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(id)
        })?;
        Ok(Note {
            id,
            case_id: case.id,
            institution_id: institution,
            user_id: user,
            body,
            mentions: mentions.to_vec(),
            created_at: now,
        })
    }

    /// The notes `institution`'s staff wrote on a case, oldest first. Another
    /// institution's notes stay with it, even across a referral.
    pub async fn notes(&self, case: CaseId, institution: InstitutionId) -> Result<Vec<Note>> {
        type Row = (i64, i64, String, String, DateTime<Utc>);
        let rows: Vec<Row> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, user_id, body, mentions, created_at FROM case_notes \
                 WHERE case_id = $1 AND institution_id = $2 ORDER BY id",
            )
            .bind(case.0)
            .bind(institution.0)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter()
            .map(|(id, user, body, mentions, created_at)| {
                let mentions: Vec<i64> =
                    serde_json::from_str(&mentions).map_err(|e| StoreError::corrupt_row("note mentions", e))?;
                Ok(Note {
                    id,
                    case_id: case,
                    institution_id: institution,
                    user_id: UserId(user),
                    body,
                    mentions: mentions.into_iter().map(UserId).collect(),
                    created_at,
                })
            })
            .collect()
    }

    /// Stores the citizen's rating of a case, once: a second answer changes nothing
    /// and returns `false`.
    pub async fn record_rating(&self, case: &Case, score: i32, post: Option<PostId>, actor: &Actor) -> Result<bool> {
        if !(1..=5).contains(&score) {
            return Err(StoreError::Invalid("a rating is from 1 to 5".into()));
        }
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let inserted = sqlx::query(
                "INSERT INTO ratings (case_id, institution_id, contact_id, score, post_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (case_id) DO NOTHING",
            )
            .bind(case.id.0)
            .bind(case.institution_id.0)
            .bind(case.contact_id.map(|c| c.0))
            .bind(score)
            .bind(post.map(|p| p.0))
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 1 {
                let after = json!({ "score": score, "post_id": post });
                insert_audit!(tx, now, &audit_event(case.institution_id, actor, "case.rated", case.id, after)).await?;
            }
            tx.commit().await?;
            Ok(inserted == 1)
        })
    }

    /// The citizen's rating of a case, if they gave one.
    pub async fn rating(&self, case: CaseId) -> Result<Option<Rating>> {
        let row: Option<(i32, Option<i64>, DateTime<Utc>)> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT score, post_id, created_at FROM ratings WHERE case_id = $1")
                .bind(case.0)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row.map(|(score, post, at)| Rating { case_id: case, score, post_id: post.map(PostId), at }))
    }

    /// Flags every deadline missed by `now` that is not flagged yet, each with an
    /// audit event, and returns them. Run it periodically; it is idempotent.
    pub async fn flag_breaches(&self, now: DateTime<Utc>) -> Result<Vec<Breach>> {
        type Row = (i64, i64, Option<DateTime<Utc>>, Option<DateTime<Utc>>);
        let rows: Vec<Row> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT c.id, c.institution_id, \
                 CASE WHEN c.first_response_at IS NULL AND c.first_response_due < $1 AND NOT EXISTS (SELECT 1 FROM \
                 deadline_breaches b WHERE b.case_id = c.id AND b.kind = 'first_response') THEN c.first_response_due END, \
                 CASE WHEN c.resolved_at IS NULL AND c.resolution_due < $1 AND NOT EXISTS (SELECT 1 FROM \
                 deadline_breaches b WHERE b.case_id = c.id AND b.kind = 'resolution') THEN c.resolution_due END \
                 FROM cases c WHERE c.status <> 'closed' \
                 AND ((c.first_response_at IS NULL AND c.first_response_due < $1 AND NOT EXISTS (SELECT 1 FROM \
                 deadline_breaches b WHERE b.case_id = c.id AND b.kind = 'first_response')) \
                 OR (c.resolved_at IS NULL AND c.resolution_due < $1 AND NOT EXISTS (SELECT 1 FROM \
                 deadline_breaches b WHERE b.case_id = c.id AND b.kind = 'resolution'))) ORDER BY c.id LIMIT 1000",
            )
            .bind(now)
            .fetch_all(pool)
            .await
        })?;
        let breaches: Vec<Breach> = rows
            .into_iter()
            .flat_map(|(case, institution, first, resolution)| {
                [(DeadlineKind::FirstResponse, first), (DeadlineKind::Resolution, resolution)].into_iter().filter_map(
                    move |(kind, due)| {
                        due.map(|due_at| Breach {
                            case_id: CaseId(case),
                            institution_id: InstitutionId(institution),
                            kind,
                            due_at,
                            flagged_at: now,
                        })
                    },
                )
            })
            .collect();
        if breaches.is_empty() {
            return Ok(breaches);
        }
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            for breach in &breaches {
                let inserted = sqlx::query(
                    "INSERT INTO deadline_breaches (case_id, kind, institution_id, due_at, flagged_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (case_id, kind) DO NOTHING",
                )
                .bind(breach.case_id.0)
                .bind(breach.kind.as_str())
                .bind(breach.institution_id.0)
                .bind(breach.due_at)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if inserted.rows_affected() == 1 {
                    let after = json!({ "deadline": breach.kind, "due_at": breach.due_at });
                    let event = audit_event(
                        breach.institution_id,
                        &Actor::System("deadlines".into()),
                        "case.deadline_breached",
                        breach.case_id,
                        after,
                    );
                    insert_audit!(tx, now, &event).await?;
                }
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        Ok(breaches)
    }

    /// The deadlines an institution missed, newest first, at most `limit`.
    pub async fn breaches(&self, institution: InstitutionId, limit: i64) -> Result<Vec<Breach>> {
        type Row = (i64, String, DateTime<Utc>, DateTime<Utc>);
        let rows: Vec<Row> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT case_id, kind, due_at, flagged_at FROM deadline_breaches WHERE institution_id = $1 \
                 ORDER BY flagged_at DESC, case_id DESC LIMIT $2",
            )
            .bind(institution.0)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter()
            .map(|(case, kind, due_at, flagged_at)| {
                let kind = match kind.as_str() {
                    "first_response" => DeadlineKind::FirstResponse,
                    "resolution" => DeadlineKind::Resolution,
                    other => return Err(StoreError::corrupt_row("deadline kind", other)),
                };
                Ok(Breach { case_id: CaseId(case), institution_id: institution, kind, due_at, flagged_at })
            })
            .collect()
    }

    /// `institution`'s inbox at a glance: what arrived and was done since `since`, and
    /// what waits at `now`. One pass over its cases, counted in SQL.
    pub async fn load(&self, institution: InstitutionId, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Load> {
        type Row = (i64, i64, i64, i64, i64, i64);
        let row: Row = on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT CAST(COALESCE(SUM(CASE WHEN opened_at >= $2 \
                 AND (close_reason IS NULL OR close_reason <> 'duplicate') THEN 1 ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN first_response_at >= $2 THEN 1 ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN resolved_at >= $2 THEN 1 ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN ",
                waiting!(),
                " THEN 1 ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN ",
                waiting!(),
                " AND assignee_id IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN ",
                waiting!(),
                " AND ",
                overdue!("$3"),
                " THEN 1 ELSE 0 END), 0) AS BIGINT) \
                 FROM cases WHERE institution_id = $1"
            ))
            .bind(institution.0)
            .bind(since)
            .bind(now)
            .fetch_one(pool)
            .await
        })?;
        let (opened, answered, resolved, waiting, unassigned, overdue) = row;
        Ok(Load { opened, answered, resolved, waiting, unassigned, overdue })
    }

    /// The cases waiting in each of `institution`'s queues at `now` (`None`: no team),
    /// and how many of them are overdue.
    pub async fn team_loads(&self, institution: InstitutionId, now: DateTime<Utc>) -> Result<Vec<TeamLoad>> {
        let rows: Vec<(Option<i64>, i64, i64)> = on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT team_id, COUNT(*), CAST(COALESCE(SUM(CASE WHEN ",
                overdue!("$2"),
                " THEN 1 ELSE 0 END), 0) AS BIGINT) FROM cases WHERE institution_id = $1 AND ",
                waiting!(),
                " GROUP BY team_id ORDER BY COALESCE(team_id, 0)"
            ))
            .bind(institution.0)
            .bind(now)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(team, waiting, overdue)| TeamLoad { team: team.map(TeamId), waiting, overdue })
            .collect())
    }

    /// `count` consecutive periods of length `period` from `since`, each with the cases
    /// `institution` opened in it and how many of those were answered; periods without
    /// cases hold zeros. Merged duplicates are not counted.
    pub async fn cases_per_period(
        &self,
        institution: InstitutionId,
        since: DateTime<Utc>,
        period: chrono::Duration,
        count: u32,
    ) -> Result<Vec<PeriodCount>> {
        let seconds = period.num_seconds().max(1);
        let until = since + period * i32::try_from(count).unwrap_or(i32::MAX);
        macro_rules! per_period {
            ($period:literal) => {
                concat!(
                    "SELECT p, COUNT(*), COUNT(first_response_at) FROM (SELECT ",
                    $period,
                    " AS p, first_response_at FROM cases WHERE institution_id = $1 \
                     AND opened_at >= $2 AND opened_at < $3 \
                     AND (close_reason IS NULL OR close_reason <> 'duplicate')) periods GROUP BY p"
                )
            };
        }
        let rows: Vec<(i64, i64, i64)> = match self {
            Db::Sqlite(pool) => {
                // Whole milliseconds first, so an instant on a boundary is not put in
                // the period before by a rounding error; offsets are never negative, so
                // integer division is the floor.
                let sql = per_period!(
                    "CAST(ROUND((julianday(opened_at) - julianday($2)) * 86400000.0) AS INTEGER) / ($4 * 1000)"
                );
                sqlx::query_as(sql).bind(institution.0).bind(since).bind(until).bind(seconds).fetch_all(pool).await?
            }
            Db::Postgres(pool) => {
                let sql = per_period!("CAST(FLOOR(EXTRACT(EPOCH FROM (opened_at - $2)) / $4) AS BIGINT)");
                sqlx::query_as(sql).bind(institution.0).bind(since).bind(until).bind(seconds).fetch_all(pool).await?
            }
        };
        Ok((0..i64::from(count))
            .map(|n| {
                let (opened, answered) =
                    rows.iter().find(|(p, _, _)| *p == n).map_or((0, 0), |(_, opened, answered)| (*opened, *answered));
                PeriodCount { start: since + period * i32::try_from(n).unwrap_or(i32::MAX), opened, answered }
            })
            .collect())
    }

    /// The agents of a team routing may give a case to, with their load.
    pub async fn agent_loads(&self, institution: InstitutionId, team: TeamId) -> Result<Vec<AgentLoad>> {
        type Row = (i64, bool, i64, Option<i64>);
        let rows: Vec<Row> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT u.id, u.available, (SELECT COUNT(*) FROM cases c WHERE c.assignee_id = u.id \
                 AND c.status IN ('new', 'open', 'pending')), CAST(u.max_open_cases AS BIGINT) FROM users u \
                 WHERE u.institution_id = $1 AND u.team_id = $2 AND u.active AND u.role IN ('agent', 'lead') ORDER BY u.id",
            )
            .bind(institution.0)
            .bind(team.0)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(user, available, open_cases, max_open_cases)| AgentLoad {
                user: UserId(user),
                available,
                open_cases,
                max_open_cases,
            })
            .collect())
    }
}
