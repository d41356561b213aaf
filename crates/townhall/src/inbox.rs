//! The shared inbox as a service: what happens when a post arrives (it joins its
//! conversation's case, opens a routed case, or rates one), and what staff do to
//! cases (act, reply, refer, note, merge, split). Handlers and workers call these;
//! the rules are core's (`transition`, `routing`, `deadline`, `canned`) and the SQL is
//! the store's. Every function checks that the user may do what they ask.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use townhall_core::canned::{self, CannedAnswer};
use townhall_core::case::mentioned_names;
use townhall_core::deadline::{self, Deadlines};
use townhall_core::reply::{Reply, ReplyKind, ReplyStatus};
use townhall_core::{
    AccountId, Actor, AuditEvent, Case, CaseAction, CaseId, CaseStatus, InstitutionId, Note, Platform, Post, PostId,
    Priority, Rating, Referral, Rejected, ReplyId, Role, User, UserId, transition,
};
use townhall_store::{Access, Db, NewReply, StoreError};

mod filing;
pub use filing::{Arrived, Filed, file_posts};

/// Why an inbox operation was refused; each has a stable code and an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// The store failed or refused (not found, conflict, invalid).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The case's state machine refused the action.
    #[error(transparent)]
    Rejected(#[from] Rejected),
    /// The user's role or institution does not allow it.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The request is malformed.
    #[error("{message}")]
    Invalid {
        /// Stable code.
        code: &'static str,
        /// In words.
        message: String,
    },
    /// Another agent is answering the same case.
    #[error("{0}")]
    Collision(String),
}

impl InboxError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            InboxError::Store(error) => error.code(),
            InboxError::Rejected(rejected) => rejected.code(),
            InboxError::Forbidden(_) => "auth.forbidden",
            InboxError::Invalid { code, .. } => code,
            InboxError::Collision(_) => "reply.collision",
        }
    }

    fn invalid(code: &'static str, message: impl Into<String>) -> InboxError {
        InboxError::Invalid { code, message: message.into() }
    }
}

type Result<T, E = InboxError> = std::result::Result<T, E>;

async fn deadlines_for(
    db: &Db,
    institution: InstitutionId,
    priority: Priority,
    platform: Platform,
    from: DateTime<Utc>,
) -> Result<Deadlines> {
    let settings = db.inbox_settings(institution).await?;
    let policies = db.deadline_policies(institution).await?;
    Ok(deadline::deadlines(&settings.calendar, deadline::policy_for(&policies, priority, platform), from))
}

/// Everything about a case its viewer may read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseDetail {
    /// The case.
    pub case: Case,
    /// `owner` or `referrer` (read-only).
    pub access: &'static str,
    /// Its posts, oldest first.
    pub posts: Vec<Post>,
    /// The replies sent or waiting, oldest first.
    pub replies: Vec<Reply>,
    /// The viewer's institution's internal notes.
    pub notes: Vec<Note>,
    /// The chain of referrals.
    pub referrals: Vec<Referral>,
    /// The citizen's rating, once given.
    pub rating: Option<Rating>,
    /// Every change, oldest first.
    pub audit: Vec<AuditEvent>,
}

/// A case with its thread, replies, notes, referrals, rating and audit trail.
pub async fn case_detail(db: &Db, user: &User, id: CaseId) -> Result<CaseDetail> {
    let (case, access) = db.case(id, user.institution_id).await?.ok_or(StoreError::NotFound("case"))?;
    Ok(CaseDetail {
        posts: db.case_posts(id, user.institution_id).await?,
        replies: db.replies(id).await?,
        notes: db.notes(id, user.institution_id).await?,
        referrals: db.referrals(id).await?,
        rating: db.rating(id).await?,
        audit: if matches!(user.role, Role::Analyst) {
            Vec::new()
        } else {
            db.audit_trail("case", &id.to_string(), 500).await?
        },
        access: match access {
            Access::Owner => "owner",
            Access::Referrer => "referrer",
        },
        case,
    })
}

/// The case `user` may change: their institution owns it and their role works cases.
async fn workable(db: &Db, user: &User, id: CaseId) -> Result<Case> {
    if !user.role.can_work_cases() {
        return Err(InboxError::Forbidden("your role reads cases but does not change them"));
    }
    match db.case(id, user.institution_id).await? {
        Some((case, Access::Owner)) => Ok(case),
        Some((_, Access::Referrer)) => Err(InboxError::Forbidden("this case was referred to another institution")),
        None => Err(StoreError::NotFound("case").into()),
    }
}

/// Applies a staff action to a case: open, assign, set priority, resolve, close,
/// reopen. A resolved case tells the citizen the outcome and, later, asks how
/// satisfied they are. `public_url` is where the outcome's link to the case's public
/// page points (`server.public_url`); `None` sends no link.
pub async fn act(db: &Db, user: &User, id: CaseId, action: &CaseAction, public_url: Option<&str>) -> Result<Case> {
    let case = workable(db, user, id).await?;
    match action {
        CaseAction::Respond | CaseAction::CitizenReplied => {
            return Err(InboxError::invalid("case.action_not_allowed", "this action happens by itself, not by hand"));
        }
        CaseAction::Refer { .. } => {
            return Err(InboxError::invalid("case.action_not_allowed", "refer a case with its referral request"));
        }
        CaseAction::Assign { team, assignee } => {
            if let Some(team) = team
                && !db.teams(user.institution_id).await?.iter().any(|t| t.id == *team)
            {
                return Err(StoreError::NotFound("team").into());
            }
            if let Some(assignee) = assignee {
                let target = db.user(*assignee).await?.filter(|u| u.institution_id == user.institution_id && u.active);
                if target.is_none_or(|u| !u.role.can_work_cases()) {
                    return Err(StoreError::NotFound("agent").into());
                }
            }
        }
        _ => {}
    }
    let mut link = None;
    if let CaseAction::Resolve { outcome } = action {
        bounded(outcome, "outcome")?;
        link = case_link(db, case.id, public_url).await?;
        let message = Message::Outcome { case: case.id, outcome, link: link.as_deref() };
        let told = citizen_message(&case_language(db, &case).await?, message);
        fits(&case, &told, "outcome")?;
    }
    let (after, events) = transition(&case, action, Utc::now())?;
    db.save_case_transition(&case, &after, action, &events, &Actor::User(user.id), None).await?;
    if let CaseAction::Resolve { outcome } = action {
        close_the_loop(db, &after, outcome, link.as_deref()).await?;
    }
    Ok(after)
}

/// Longest outcome or referral reason, in characters: what a citizen is told is a
/// message, not a document, whatever the channel allows.
const MAX_TOLD: usize = 2_000;

fn bounded(text: &str, what: &str) -> Result<()> {
    if text.chars().count() > MAX_TOLD {
        return Err(InboxError::invalid("case.too_long", format!("the {what} has more than {MAX_TOLD} characters")));
    }
    Ok(())
}

/// Refuses a message Townhall would send by itself that the case's platform cannot
/// carry, before anything changes: an outcome or reason too long for X or Bluesky.
fn fits(case: &Case, message: &str, what: &str) -> Result<()> {
    let platform = case.platform.unwrap_or(Platform::Web);
    crate::deliver::check_text(platform, message).map_err(|e| {
        InboxError::invalid("reply.too_long", format!("the {what} does not fit in a {platform} message: {}", e.message))
    })
}

/// Tells the citizen the outcome on their channel, then schedules the satisfaction
/// question after the institution's delay.
async fn close_the_loop(db: &Db, case: &Case, outcome: &str, link: Option<&str>) -> Result<()> {
    let lang = case_language(db, case).await?;
    let round = case.version.to_string();
    let told = citizen_message(&lang, Message::Outcome { case: case.id, outcome, link });
    queue_system_reply(db, case, ReplyKind::Outcome, &told, &format!("outcome:{round}"), None).await?;
    if let Some(delay) = db.inbox_settings(case.institution_id).await?.satisfaction_delay_secs {
        let ask = citizen_message(&lang, Message::Satisfaction);
        let at = Utc::now() + Duration::seconds(i64::from(delay));
        queue_system_reply(db, case, ReplyKind::Satisfaction, &ask, &format!("satisfaction:{round}"), Some(at)).await?;
    }
    Ok(())
}

/// Hands a case to the institution responsible, under that institution's deadlines,
/// and tells the citizen who handles it now (with a link to the case's public page
/// under `public_url`, when set).
pub async fn refer(
    db: &Db,
    user: &User,
    id: CaseId,
    (to, reason): (InstitutionId, &str),
    public_url: Option<&str>,
) -> Result<Case> {
    let case = workable(db, user, id).await?;
    bounded(reason, "referral reason")?;
    let receiver = db.institution(to).await?.ok_or(StoreError::NotFound("institution"))?;
    let platform = case.platform.unwrap_or(Platform::Web);
    let due = deadlines_for(db, to, case.priority, platform, Utc::now()).await?;
    let action = CaseAction::Refer {
        to,
        reason: reason.to_owned(),
        first_response_due: due.first_response_due,
        resolution_due: due.resolution_due,
    };
    let lang = case_language(db, &case).await?;
    let link = case_link(db, case.id, public_url).await?;
    let told =
        citizen_message(&lang, Message::Referred { to: &receiver.name, reason: reason.trim(), link: link.as_deref() });
    fits(&case, &told, "referral reason")?;
    let (after, events) = transition(&case, &action, Utc::now())?;
    db.save_case_transition(&case, &after, &action, &events, &Actor::User(user.id), None).await?;
    // Sent by the referring institution, whose account the citizen wrote to.
    queue_system_reply(db, &case, ReplyKind::Referral, &told, &format!("referral:{}", after.version), None).await?;
    Ok(after)
}

/// What an agent sends: their own text or a canned answer, and an optional key that
/// makes a retried request store one reply.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    /// The text.
    #[serde(default)]
    pub body: Option<String>,
    /// A canned answer of the institution, rendered with the case's variables.
    #[serde(default)]
    pub canned_answer: Option<i64>,
    /// Unique per intended reply; a repeat returns the stored reply.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Send even though a colleague is answering too.
    #[serde(default)]
    pub force: bool,
}

/// How long a colleague's sent answer makes a new one a collision.
const COLLISION_WINDOW: Duration = Duration::minutes(10);

/// Writes an agent's reply into the outbox, threaded under the citizen's latest post
/// on the case's platform. It waits for approval where the institution requires it,
/// and is refused as a collision while a colleague's answer is pending or just sent.
pub async fn reply(db: &Db, user: &User, id: CaseId, request: &ReplyRequest) -> Result<Reply> {
    let case = workable(db, user, id).await?;
    if case.status == CaseStatus::Closed {
        return Err(Rejected::NotAllowed { action: "reply to", status: case.status }.into());
    }
    let body = match (request.body.as_deref().map(str::trim), request.canned_answer) {
        (Some(body), None) if !body.is_empty() => body.to_owned(),
        (None, Some(answer)) => {
            let answers = db.canned_answers(user.institution_id).await?;
            let answer = answers.iter().find(|a| a.id == answer).ok_or(StoreError::NotFound("canned answer"))?;
            render_canned(db, answer, &case, Some(user)).await?
        }
        _ => return Err(InboxError::invalid("reply.body_required", "give either a text or a canned answer")),
    };
    let key = match &request.idempotency_key {
        Some(key) if key.is_empty() || key.len() > 200 => {
            return Err(InboxError::invalid("reply.invalid_key", "an idempotency key has 1 to 200 characters"));
        }
        Some(key) => format!("user:{}:{key}", user.id),
        None => format!("user:{}:{}", user.id, random_key()),
    };
    let (post, account) = reply_target(db, &case).await?;
    let own = match account {
        Some(account) => db.account(account).await?.is_some_and(|a| a.institution_id == case.institution_id),
        None => false,
    };
    if !own {
        // After a referral the citizen may have written to another institution's
        // account: its staff speak for it, not the receiving institution's.
        return Err(InboxError::invalid(
            "reply.no_account",
            format!("your institution has no {} account to answer from; add one with its credentials", post.platform),
        ));
    }
    let replies = db.replies(case.id).await?;
    let now = Utc::now();
    let colleague = replies.iter().find(|r| {
        r.kind == ReplyKind::Answer
            && r.institution_id == case.institution_id
            && r.user_id != Some(user.id)
            && match r.status {
                ReplyStatus::AwaitingApproval | ReplyStatus::Queued | ReplyStatus::Sending => true,
                ReplyStatus::Sent => r.sent_at.is_some_and(|at| now - at < COLLISION_WINDOW),
                ReplyStatus::Failed => false,
            }
    });
    if let Some(other) = colleague
        && !request.force
    {
        let who = match other.user_id {
            Some(id) => db.user(id).await?.map_or_else(|| "a colleague".to_owned(), |u| u.name),
            None => "a colleague".to_owned(),
        };
        return Err(InboxError::Collision(format!(
            "{who} is answering this case too (reply {} is {}); send with force to answer anyway",
            other.id, other.status
        )));
    }
    crate::deliver::check_text(post.platform, &body).map_err(|e| InboxError::invalid(e.code, e.message))?;
    let settings = db.inbox_settings(case.institution_id).await?;
    let topics = case_topics(db, &case).await?;
    let new = NewReply {
        case_id: case.id,
        institution_id: case.institution_id,
        user_id: Some(user.id),
        kind: ReplyKind::Answer,
        post_id: post.id,
        platform: post.platform,
        account_id: account,
        body,
        needs_approval: settings.needs_approval(user.role, &topics),
        idempotency_key: key,
        send_at: None,
    };
    Ok(db.queue_reply(&new, &Actor::User(user.id)).await?)
}

/// Releases a reply held for approval; only leads and admins approve.
pub async fn approve(db: &Db, user: &User, id: ReplyId) -> Result<Reply> {
    if !matches!(user.role, Role::Lead | Role::Admin) {
        return Err(InboxError::Forbidden("only leads and admins approve replies"));
    }
    Ok(db.approve_reply(id, user.institution_id, user.id).await?)
}

/// Queues a failed reply again, when an agent decides it should go out after all.
pub async fn retry(db: &Db, user: &User, id: ReplyId) -> Result<Reply> {
    if !user.role.can_work_cases() {
        return Err(InboxError::Forbidden("your role reads cases but does not change them"));
    }
    Ok(db.retry_reply(id, user.institution_id, &Actor::User(user.id)).await?)
}

/// Adds an internal note; `@name` mentions colleagues by the part of their login
/// e-mail before the `@`.
pub async fn note(db: &Db, user: &User, id: CaseId, body: &str) -> Result<Note> {
    let case = workable(db, user, id).await?;
    let names = mentioned_names(body);
    let mentions: Vec<UserId> = if names.is_empty() {
        Vec::new()
    } else {
        db.users(user.institution_id)
            .await?
            .into_iter()
            .filter(|u| u.email.split('@').next().is_some_and(|local| names.iter().any(|n| n == local)))
            .map(|u| u.id)
            .collect()
    };
    Ok(db.add_note(&case, user.institution_id, user.id, body, &mentions, &Actor::User(user.id)).await?)
}

/// Merges case `from` into `into` (the same conversation opened twice).
pub async fn merge(db: &Db, user: &User, into: CaseId, from: CaseId) -> Result<Case> {
    let target = workable(db, user, into).await?;
    let source = workable(db, user, from).await?;
    Ok(db.merge_cases(&target, &source, &Actor::User(user.id)).await?)
}

/// Moves some posts of a case into a new case.
pub async fn split(db: &Db, user: &User, id: CaseId, posts: &[PostId]) -> Result<Case> {
    let case = workable(db, user, id).await?;
    Ok(db.split_case(&case, posts, &Actor::User(user.id)).await?)
}

/// The citizen's latest post on the case, which a reply threads under, and the
/// account to send from: one of the owner's accounts on that platform that can post,
/// else the account the citizen wrote to.
async fn reply_target(db: &Db, case: &Case) -> Result<(Post, Option<AccountId>)> {
    let posts = db.case_posts(case.id, case.institution_id).await?;
    let post = posts
        .into_iter()
        .filter(|p| p.deleted_at.is_none())
        .max_by_key(|p| (p.created_at, p.id))
        .ok_or_else(|| InboxError::invalid("reply.no_post", "the case has no post left to answer"))?;
    for account in db.accounts(Some(case.institution_id)).await? {
        if account.platform == post.platform && db.account_credentials(account.id).await?.is_some() {
            return Ok((post, Some(account.id)));
        }
    }
    let account = post.account_id;
    Ok((post, account))
}

/// A message Townhall sends by itself, keyed so that it is stored once per case.
async fn queue_system_reply(
    db: &Db,
    case: &Case,
    kind: ReplyKind,
    body: &str,
    key: &str,
    send_at: Option<DateTime<Utc>>,
) -> Result<Option<Reply>> {
    let Ok((post, account)) = reply_target(db, case).await else { return Ok(None) };
    let sender = match account {
        Some(account) => db.account(account).await?.map_or(case.institution_id, |a| a.institution_id),
        None => case.institution_id,
    };
    // An outcome written by the receiving institution, posted from the referring
    // institution's account, waits for the referring institution's approval.
    let needs_approval = sender != case.institution_id && kind == ReplyKind::Outcome;
    let new = NewReply {
        case_id: case.id,
        institution_id: sender,
        user_id: None,
        kind,
        post_id: post.id,
        platform: post.platform,
        account_id: account,
        body: body.to_owned(),
        needs_approval,
        idempotency_key: format!("case:{}:{key}", case.id),
        send_at,
    };
    Ok(Some(db.queue_reply(&new, &Actor::System("inbox".into())).await?))
}

async fn render_canned(db: &Db, answer: &CannedAnswer, case: &Case, agent: Option<&User>) -> Result<String> {
    let citizen = match case.contact_id {
        Some(contact) => db.contact(contact).await?.map(|c| c.display_name.unwrap_or(c.handle)),
        None => None,
    };
    let institution = db.institution(case.institution_id).await?.map(|i| i.name);
    fill_canned(
        answer,
        &citizen.unwrap_or_default(),
        &institution.unwrap_or_default(),
        case.id,
        agent,
        case.outcome.as_deref(),
    )
}

/// A canned answer's text with its variables filled in.
fn fill_canned(
    answer: &CannedAnswer,
    citizen: &str,
    institution: &str,
    case: CaseId,
    agent: Option<&User>,
    outcome: Option<&str>,
) -> Result<String> {
    let vars: BTreeMap<&str, String> = BTreeMap::from([
        ("citizen", citizen.to_owned()),
        ("case", case.to_string()),
        ("institution", institution.to_owned()),
        ("agent", agent.map(|a| a.name.clone()).unwrap_or_default()),
        ("outcome", outcome.unwrap_or_default().to_owned()),
    ]);
    canned::render(&answer.body, &vars).map_err(|e| InboxError::invalid(e.code(), e.to_string()))
}

async fn case_topics(db: &Db, case: &Case) -> Result<Vec<String>> {
    let mut topics = Vec::new();
    for post in db.case_posts(case.id, case.institution_id).await? {
        if let Some((tags, _)) = db.enrichment(post.id).await? {
            topics.extend(tags.topics.into_iter().map(|t| t.topic));
        }
    }
    topics.sort();
    topics.dedup();
    Ok(topics)
}

/// The language of the case's first analysed post, for messages to the citizen.
async fn case_language(db: &Db, case: &Case) -> Result<String> {
    for post in db.case_posts(case.id, case.institution_id).await? {
        if let Some((tags, _)) = db.enrichment(post.id).await?
            && let Some(lang) = tags.lang
        {
            return Ok(lang);
        }
    }
    Ok("es".to_owned())
}

/// What Townhall tells a citizen by itself; `link` is the case's public page.
enum Message<'a> {
    Outcome { case: CaseId, outcome: &'a str, link: Option<&'a str> },
    Satisfaction,
    Referred { to: &'a str, reason: &'a str, link: Option<&'a str> },
}

/// The link to the case's public page (`server.public_url` set): its token, made
/// when first needed, 32 random bytes in base64url.
async fn case_link(db: &Db, case: CaseId, public_url: Option<&str>) -> Result<Option<String>> {
    use base64::Engine as _;
    use rand::Rng as _;
    let Some(base) = public_url else { return Ok(None) };
    let candidate = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 32]>());
    let token = db.public_case_token(case, &candidate).await?;
    Ok(Some(format!("{base}/public/cases/{token}")))
}

/// The citizen's message in their language: Spanish, or English for every language
/// without a translation yet.
fn citizen_message(lang: &str, message: Message) -> String {
    let spanish = lang == "es";
    let link = match message {
        Message::Outcome { link, .. } | Message::Referred { link, .. } => link,
        Message::Satisfaction => None,
    };
    let text = match (message, spanish) {
        (Message::Outcome { case, outcome, .. }, true) => format!("Su caso {case} está resuelto: {outcome}"),
        (Message::Outcome { case, outcome, .. }, false) => format!("Your case {case} is resolved: {outcome}"),
        (Message::Satisfaction, true) => {
            "¿Cómo evalúa la atención que recibió? Responda con un número del 1 (mala) al 5 (muy buena).".to_owned()
        }
        (Message::Satisfaction, false) => {
            "How satisfied are you with how we handled this? Reply with a number from 1 (poor) to 5 (very good)."
                .to_owned()
        }
        (Message::Referred { to, reason, .. }, true) => {
            format!("Derivamos su mensaje a {to}, que es responsable: {reason}")
        }
        (Message::Referred { to, reason, .. }, false) => {
            format!("We referred your message to {to}, which is responsible: {reason}")
        }
    };
    match link {
        Some(link) if spanish => format!("{text}\nSiga su caso: {link}"),
        Some(link) => format!("{text}\nFollow your case: {link}"),
        None => text,
    }
}

fn random_key() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
