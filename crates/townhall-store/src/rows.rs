//! Rows as the database returns them, and their checked conversion into core types.
//! Enumerations are stored by their stable names; a name this build does not know
//! is reported as corruption rather than guessed.

use chrono::{DateTime, Utc};
use townhall_core::account::NewContact;
use townhall_core::{
    Account, AccountId, Actor, AuditEvent, AuditEventId, Case, CaseId, ContactId, CountryCode, Institution,
    InstitutionId, MetricSnapshot, Post, PostId, PostMetrics, PostVersion, Team, TeamId, User, UserId,
};

use crate::{Result, StoreError};

fn parse<T: std::str::FromStr>(what: &str, text: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| StoreError::corrupt_row(what, e))
}

fn json(what: &str, text: Option<String>) -> Result<Option<serde_json::Value>> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::corrupt_row(what, e))).transpose()
}

#[derive(sqlx::FromRow)]
pub(crate) struct InstitutionRow {
    id: i64,
    slug: String,
    name: String,
    kind: String,
    level: String,
    country: String,
    parent_id: Option<i64>,
    jurisdiction: Option<String>,
}

impl TryFrom<InstitutionRow> for Institution {
    type Error = StoreError;
    fn try_from(r: InstitutionRow) -> Result<Self> {
        Ok(Institution {
            id: InstitutionId(r.id),
            kind: parse("institution kind", &r.kind)?,
            level: parse("institution level", &r.level)?,
            country: CountryCode::parse(&r.country).map_err(|e| StoreError::corrupt_row("country", e))?,
            slug: r.slug,
            name: r.name,
            parent: r.parent_id.map(InstitutionId),
            jurisdiction: r.jurisdiction,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TeamRow {
    id: i64,
    institution_id: i64,
    name: String,
}

impl From<TeamRow> for Team {
    fn from(r: TeamRow) -> Self {
        Team { id: TeamId(r.id), institution_id: InstitutionId(r.institution_id), name: r.name }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: i64,
    institution_id: i64,
    email: String,
    name: String,
    role: String,
    team_id: Option<i64>,
    active: bool,
    available: bool,
    max_open_cases: Option<i32>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self> {
        Ok(User {
            id: UserId(r.id),
            institution_id: InstitutionId(r.institution_id),
            role: parse("role", &r.role)?,
            email: r.email,
            name: r.name,
            team_id: r.team_id.map(TeamId),
            active: r.active,
            available: r.available,
            max_open_cases: r.max_open_cases,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    id: i64,
    institution_id: i64,
    platform: String,
    handle: String,
    display_name: String,
    external_id: Option<String>,
    official: Option<String>,
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;
    fn try_from(r: AccountRow) -> Result<Self> {
        Ok(Account {
            id: AccountId(r.id),
            institution_id: InstitutionId(r.institution_id),
            platform: parse("platform", &r.platform)?,
            handle: r.handle,
            display_name: r.display_name,
            external_id: r.external_id,
            official: r.official,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PostRow {
    id: i64,
    platform: String,
    external_id: String,
    account_id: Option<i64>,
    contact_id: Option<i64>,
    text: String,
    lang_hint: Option<String>,
    created_at: DateTime<Utc>,
    received_at: DateTime<Utc>,
    edited_at: Option<DateTime<Utc>>,
    reply_to: Option<String>,
    conversation: Option<String>,
    likes: i64,
    reposts: i64,
    replies: i64,
    quotes: i64,
    version: i32,
    deleted_at: Option<DateTime<Utc>>,
    hidden: bool,
    raw: Vec<u8>,
    entities: String,
}

/// The column list matching [`PostRow`] for a query on `posts p`, as a literal so
/// queries can be assembled with `concat!` and stay static SQL.
macro_rules! post_columns {
    () => {
        "p.id, p.platform, p.external_id, p.account_id, p.contact_id, p.text, p.lang_hint, p.created_at, \
         p.received_at, p.edited_at, p.reply_to, p.conversation, p.likes, p.reposts, p.replies, p.quotes, \
         p.version, p.deleted_at, p.hidden, p.raw, p.entities"
    };
}
pub(crate) use post_columns;

impl TryFrom<PostRow> for Post {
    type Error = StoreError;
    fn try_from(r: PostRow) -> Result<Self> {
        Ok(Post {
            id: PostId(r.id),
            platform: parse("platform", &r.platform)?,
            external_id: r.external_id,
            account_id: r.account_id.map(AccountId),
            contact_id: r.contact_id.map(ContactId),
            text: r.text,
            lang_hint: r.lang_hint,
            created_at: r.created_at,
            received_at: r.received_at,
            edited_at: r.edited_at,
            reply_to: r.reply_to,
            conversation: r.conversation,
            metrics: PostMetrics { likes: r.likes, reposts: r.reposts, replies: r.replies, quotes: r.quotes },
            version: r.version,
            deleted_at: r.deleted_at,
            hidden: r.hidden,
            raw: r.raw,
            entities: serde_json::from_str(&r.entities)
                .map_err(|e| StoreError::Corrupt(format!("post entities: {e}")))?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PostVersionRow {
    post_id: i64,
    version: i32,
    text: String,
    at: DateTime<Utc>,
    raw: Vec<u8>,
}

impl From<PostVersionRow> for PostVersion {
    fn from(r: PostVersionRow) -> Self {
        PostVersion { post_id: PostId(r.post_id), version: r.version, text: r.text, at: r.at, raw: r.raw }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CaseRow {
    id: i64,
    institution_id: i64,
    contact_id: Option<i64>,
    subject: String,
    platform: Option<String>,
    tags: String,
    status: String,
    priority: String,
    team_id: Option<i64>,
    assignee_id: Option<i64>,
    opened_at: DateTime<Utc>,
    first_response_due: Option<DateTime<Utc>>,
    resolution_due: Option<DateTime<Utc>>,
    first_response_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    outcome: Option<String>,
    closed_at: Option<DateTime<Utc>>,
    close_reason: Option<String>,
    version: i32,
}

impl TryFrom<CaseRow> for Case {
    type Error = StoreError;
    fn try_from(r: CaseRow) -> Result<Self> {
        Ok(Case {
            id: CaseId(r.id),
            institution_id: InstitutionId(r.institution_id),
            contact_id: r.contact_id.map(ContactId),
            subject: r.subject,
            platform: r.platform.as_deref().map(|p| parse("platform", p)).transpose()?,
            tags: serde_json::from_str(&r.tags).map_err(|e| StoreError::corrupt_row("case tags", e))?,
            status: parse("case status", &r.status)?,
            priority: parse("priority", &r.priority)?,
            team_id: r.team_id.map(TeamId),
            assignee: r.assignee_id.map(UserId),
            opened_at: r.opened_at,
            first_response_due: r.first_response_due,
            resolution_due: r.resolution_due,
            first_response_at: r.first_response_at,
            resolved_at: r.resolved_at,
            outcome: r.outcome,
            closed_at: r.closed_at,
            close_reason: r.close_reason.as_deref().map(|c| parse("close reason", c)).transpose()?,
            version: r.version,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    id: i64,
    at: DateTime<Utc>,
    institution_id: Option<i64>,
    actor: String,
    action: String,
    object_kind: String,
    object_id: String,
    before: Option<String>,
    after: Option<String>,
    origin: Option<String>,
}

impl TryFrom<AuditRow> for AuditEvent {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self> {
        Ok(AuditEvent {
            id: AuditEventId(r.id),
            at: r.at,
            institution_id: r.institution_id.map(InstitutionId),
            actor: Actor::from_stored(&r.actor),
            action: r.action,
            object_kind: r.object_kind,
            object_id: r.object_id,
            before: json("audit before", r.before)?,
            after: json("audit after", r.after)?,
            origin: r.origin,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MetricRow {
    account_id: i64,
    at: DateTime<Utc>,
    followers: i64,
    following: i64,
    posts: i64,
    likes: Option<i64>,
}

impl From<MetricRow> for MetricSnapshot {
    fn from(r: MetricRow) -> Self {
        MetricSnapshot {
            account_id: AccountId(r.account_id),
            at: r.at,
            followers: r.followers,
            following: r.following,
            posts: r.posts,
            likes: r.likes,
        }
    }
}

/// A contact's fields as bound, NUL-free.
pub(crate) fn contact_binds(c: &NewContact) -> (String, String, Option<String>) {
    (
        crate::storable_text(&c.external_id),
        crate::storable_text(&c.handle),
        c.display_name.as_deref().map(crate::storable_text),
    )
}
