//! Filing analysed posts into the inbox, a batch at a time: what every post of the
//! batch needs is read in a few queries, each post is decided in memory (a rating, a
//! post joining its conversation's case, a new routed case, or nothing), and the new
//! cases and their acknowledgements are written in two transactions. One post at a
//! time this took about ten queries and two write transactions a post, and a surge
//! queued behind it.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use townhall_core::canned::CannedAnswer;
use townhall_core::case::parse_rating;
use townhall_core::deadline::{self, DeadlinePolicy};
use townhall_core::reply::ReplyKind;
use townhall_core::routing::{self, AgentLoad, Arrival, Rule};
use townhall_core::settings::InboxSettings;
use townhall_core::{
    Account, AccountId, Actor, CaseId, CaseStatus, Contact, ContactId, InstitutionId, Platform, Post, PostId, Tags,
    TeamId, UserId,
};
use townhall_store::{Db, NewCase, NewReply};

use super::{Result, fill_canned};
use crate::attribute::Accounts;

/// A post that was analysed, with its tags: what arrival acts on.
#[derive(Debug, Clone)]
pub struct Arrived {
    /// The post as stored.
    pub post: Post,
    /// Its analysis.
    pub tags: Tags,
}

/// What became of arrived posts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filed {
    /// New cases opened.
    pub opened: usize,
    /// Posts added to their conversation's case.
    pub joined: usize,
    /// Satisfaction answers stored as ratings.
    pub rated: usize,
}

/// How long after its arrival a post is still filed into the inbox.
const FILING_WINDOW: Duration = Duration::days(3);

/// Acts on analysed posts: a rating answers a satisfaction question, a post that
/// continues a conversation joins its case, and a post to an institution's account
/// that needs an answer opens a case routed by the institution's rules. Idempotent:
/// a post already in a case is left alone.
pub async fn file_posts(db: &Db, arrived: &[Arrived]) -> Result<Filed> {
    let now = Utc::now();
    // A post stored long ago is history (an analyzer upgrade re-analyses it): it
    // must not flood today's inbox. Oldest first, so a parent opens its case before
    // its reply in the same batch.
    let mut order: Vec<&Arrived> =
        arrived.iter().filter(|a| now - a.post.received_at <= FILING_WINDOW && a.post.deleted_at.is_none()).collect();
    order.sort_by_key(|a| (a.post.created_at, a.post.id));
    // Mastodon replies name their parent by the instance's local id, not the URI the
    // parent is stored under: remember it, so the reply finds the parent's case.
    let aliases: Vec<(Platform, String, PostId)> = arrived
        .iter()
        .filter(|a| a.post.platform == Platform::Mastodon)
        .filter_map(|a| {
            let local = crate::deliver::mastodon::stored_id(&a.post.raw, &a.post.external_id)?;
            (local != a.post.external_id).then_some((Platform::Mastodon, local, a.post.id))
        })
        .collect();
    db.add_post_aliases(&aliases).await?;
    let mut batch = Batch::load(db, &order, aliases).await?;
    let mut filed = Filed::default();
    for Arrived { post, tags } in order {
        if batch.in_case.contains(&post.id) {
            continue;
        }
        let author = post.contact_id.and_then(|c| batch.contacts.get(&c));
        // An institution's own posts and replies are not citizens writing to it.
        if author.is_some_and(|a| batch.own.is_own(post.platform, &a.handle, &a.external_id)) {
            continue;
        }
        if let Some(parent) = post.reply_to.as_deref()
            && let Some(question) = db.reply_by_external_id(post.platform, parent).await?
            && question.kind == ReplyKind::Satisfaction
            && let Some(score) = parse_rating(&post.text)
            && let Some(case) = db.case_by_id(question.case_id).await?
            && case.resolved_at.is_some()
            && case.contact_id.is_some()
            && case.contact_id == post.contact_id
        {
            if db.record_rating(&case, score, Some(post.id), &Actor::System("inbox".into())).await? {
                filed.rated += 1;
            }
            continue;
        }
        let needs_answer = routing::needs_answer(&tags.intent, tags.urgency, tags.spam);
        match batch.thread_of(post) {
            Some(Thread::Stored(id)) => {
                // A thank-you after the outcome needs nothing; a new question reopens it.
                if let Some(case) = db.case_by_id(id).await?
                    && (case.status != CaseStatus::Resolved || needs_answer)
                {
                    db.add_post_to_case(&case, post.id, &Actor::System("inbox".into())).await?;
                    batch.filed_in(post, Thread::Stored(id));
                    filed.joined += 1;
                }
                continue;
            }
            Some(Thread::New(index)) => {
                batch.new[index].case.post_ids.push(post.id);
                batch.filed_in(post, Thread::New(index));
                filed.joined += 1;
                continue;
            }
            None => {}
        }
        if !needs_answer {
            continue;
        }
        let Some(institution) = post.account_id.and_then(|a| batch.accounts.get(&a)).map(|a| a.institution_id) else {
            continue;
        };
        batch.open_case(db, institution, post, tags, now).await?;
        filed.opened += 1;
    }
    batch.write(db).await?;
    Ok(filed)
}

/// Where a post's conversation is filed: a stored case, or one this batch opens.
#[derive(Debug, Clone, Copy)]
enum Thread {
    Stored(CaseId),
    New(usize),
}

/// A case this batch opens, with the acknowledgement a rule asked for.
struct Opening {
    case: NewCase,
    actor: Actor,
    acknowledge: Option<Acknowledgement>,
}

/// An acknowledgement, written once its case has an id.
struct Acknowledgement {
    answer: CannedAnswer,
    citizen: String,
    post: PostId,
    platform: Platform,
    account: Option<AccountId>,
    sender: InstitutionId,
}

/// What an institution's cases are opened with, read once a batch.
struct Institution {
    name: String,
    rules: Vec<Rule>,
    teams: Vec<TeamId>,
    settings: InboxSettings,
    policies: Vec<DeadlinePolicy>,
    answers: Vec<CannedAnswer>,
    /// Per platform, the first of its accounts that can post: a reply goes out from it.
    senders: HashMap<Platform, AccountId>,
}

/// One batch's reads, and the cases it will open.
struct Batch {
    own: Accounts,
    accounts: HashMap<AccountId, Account>,
    contacts: HashMap<ContactId, Contact>,
    /// Posts of the batch already in a case.
    in_case: HashSet<PostId>,
    /// The open case each thread key (platform id or alias) continues.
    threads: HashMap<(Platform, String), Thread>,
    aliases: HashMap<PostId, Vec<String>>,
    institutions: HashMap<InstitutionId, Arc<Institution>>,
    /// Whether a user a rule names may take cases.
    usable: HashMap<UserId, bool>,
    loads: HashMap<(InstitutionId, TeamId), Vec<AgentLoad>>,
    new: Vec<Opening>,
}

impl Batch {
    async fn load(db: &Db, order: &[&Arrived], aliases: Vec<(Platform, String, PostId)>) -> Result<Batch> {
        let all = db.accounts(None).await?;
        let own = Accounts::new(&all);
        let accounts = all.into_iter().map(|a| (a.id, a)).collect();
        let mut contacts: Vec<ContactId> = order.iter().filter_map(|a| a.post.contact_id).collect();
        contacts.sort_unstable();
        contacts.dedup();
        let contacts = db.contacts(&contacts).await?.into_iter().map(|c| (c.id, c)).collect();
        let ids: Vec<PostId> = order.iter().map(|a| a.post.id).collect();
        let in_case = db.cases_of_posts(&ids).await?.into_keys().collect();
        let mut keys: HashMap<Platform, Vec<&str>> = HashMap::new();
        for a in order {
            keys.entry(a.post.platform).or_default().extend(thread_keys(&a.post));
        }
        let mut threads = HashMap::new();
        for (platform, mut keys) in keys {
            keys.sort_unstable();
            keys.dedup();
            for (key, case) in db.cases_in_threads(platform, &keys).await? {
                threads.insert((platform, key), Thread::Stored(case));
            }
        }
        let mut by_post: HashMap<PostId, Vec<String>> = HashMap::new();
        for (_, alias, post) in aliases {
            by_post.entry(post).or_default().push(alias);
        }
        Ok(Batch {
            own,
            accounts,
            contacts,
            in_case,
            threads,
            aliases: by_post,
            institutions: HashMap::new(),
            usable: HashMap::new(),
            loads: HashMap::new(),
            new: Vec::new(),
        })
    }

    /// The case the post's parent or thread root is in, the parent first.
    fn thread_of(&self, post: &Post) -> Option<Thread> {
        thread_keys(post).find_map(|key| self.threads.get(&(post.platform, key.to_owned())).copied())
    }

    /// Records that `post` is now in `thread`'s case: its replies later in the batch
    /// find the case by its id or alias.
    fn filed_in(&mut self, post: &Post, thread: Thread) {
        self.threads.insert((post.platform, post.external_id.clone()), thread);
        for alias in self.aliases.get(&post.id).into_iter().flatten() {
            self.threads.insert((post.platform, alias.clone()), thread);
        }
    }

    async fn institution(&mut self, db: &Db, id: InstitutionId) -> Result<Arc<Institution>> {
        if let Some(institution) = self.institutions.get(&id) {
            return Ok(institution.clone());
        }
        let mut senders = HashMap::new();
        for account in db.accounts(Some(id)).await? {
            if !senders.contains_key(&account.platform) && db.account_credentials(account.id).await?.is_some() {
                senders.insert(account.platform, account.id);
            }
        }
        let institution = Arc::new(Institution {
            name: db.institution(id).await?.map(|i| i.name).unwrap_or_default(),
            rules: db.rules(id).await?,
            teams: db.teams(id).await?.into_iter().map(|t| t.id).collect(),
            settings: db.inbox_settings(id).await?,
            policies: db.deadline_policies(id).await?,
            answers: db.canned_answers(id).await?,
            senders,
        });
        self.institutions.insert(id, institution.clone());
        Ok(institution)
    }

    async fn usable(&mut self, db: &Db, institution: InstitutionId, agent: UserId) -> Result<bool> {
        if let Some(usable) = self.usable.get(&agent) {
            return Ok(*usable);
        }
        let usable = db
            .user(agent)
            .await?
            .is_some_and(|u| u.institution_id == institution && u.active && u.role.can_work_cases());
        self.usable.insert(agent, usable);
        Ok(usable)
    }

    /// The least loaded agent of the team who can take another case.
    async fn pick_agent(&mut self, db: &Db, institution: InstitutionId, team: TeamId) -> Result<Option<UserId>> {
        let loads = match self.loads.entry((institution, team)) {
            Entry::Occupied(loads) => loads.into_mut(),
            Entry::Vacant(slot) => slot.insert(db.agent_loads(institution, team).await?),
        };
        Ok(routing::pick_agent(loads))
    }

    /// Decides a new case for `post`, routed by the institution's rules, with
    /// deadlines from its policies and calendar, and the acknowledgement a rule asks for.
    async fn open_case(
        &mut self,
        db: &Db,
        institution: InstitutionId,
        post: &Post,
        tags: &Tags,
        opened_at: DateTime<Utc>,
    ) -> Result<()> {
        let context = self.institution(db, institution).await?;
        let topics: Vec<String> = tags.topics.iter().map(|t| t.topic.clone()).collect();
        let contact = post.contact_id.and_then(|c| self.contacts.get(&c));
        let author = contact.map(|c| c.handle.clone()).unwrap_or_default();
        let citizen = contact.map(|c| c.display_name.clone().unwrap_or_else(|| c.handle.clone())).unwrap_or_default();
        let arrival = Arrival {
            platform: post.platform,
            account: post.account_id,
            lang: tags.lang.as_deref(),
            intent: &tags.intent,
            topics: &topics,
            urgency: tags.urgency,
            spam: tags.spam,
            text: &post.text,
            author: &author,
        };
        let mut decision = routing::evaluate(&context.rules, &arrival);
        // A rule may name a team or agent that is gone since: such an action is dropped.
        if let Some(team) = decision.team
            && !context.teams.contains(&team)
        {
            tracing::warn!(%institution, %team, "a routing rule names a team the institution does not have");
            decision.team = None;
        }
        if let Some(agent) = decision.agent
            && !self.usable(db, institution, agent).await?
        {
            tracing::warn!(%institution, %agent, "a routing rule names an agent who cannot take cases");
            decision.agent = None;
        }
        let priority = decision.priority.unwrap_or_else(|| routing::default_priority(&tags.intent, tags.urgency));
        let mut assignee = decision.agent;
        if assignee.is_none()
            && let Some(team) = decision.team
        {
            assignee = self.pick_agent(db, institution, team).await?;
        }
        if let Some(agent) = assignee {
            // The next case of the batch sees this one in the agent's load.
            for load in self.loads.values_mut().flatten().filter(|l| l.user == agent) {
                load.open_cases += 1;
            }
        }
        let due = deadline::deadlines(
            &context.settings.calendar,
            deadline::policy_for(&context.policies, priority, post.platform),
            opened_at,
        );
        let actor = match decision.matched.as_slice() {
            [] => Actor::System("inbox".into()),
            matched => {
                Actor::System(format!("rules:{}", matched.iter().map(i64::to_string).collect::<Vec<_>>().join(",")))
            }
        };
        let acknowledge =
            decision.acknowledge.and_then(|id| context.answers.iter().find(|a| a.id == id)).map(|answer| {
                // Sent from the institution's account on the post's platform, else the
                // account the citizen wrote to.
                let account = context.senders.get(&post.platform).copied().or(post.account_id);
                let sender = account.and_then(|a| self.accounts.get(&a)).map_or(institution, |a| a.institution_id);
                Acknowledgement {
                    answer: answer.clone(),
                    citizen,
                    post: post.id,
                    platform: post.platform,
                    account,
                    sender,
                }
            });
        let case = NewCase {
            institution_id: institution,
            contact_id: post.contact_id,
            subject: post.text.chars().take(120).collect(),
            platform: Some(post.platform),
            priority,
            team_id: decision.team,
            assignee,
            tags: decision.tags,
            first_response_due: due.first_response_due,
            resolution_due: due.resolution_due,
            post_ids: vec![post.id],
        };
        self.new.push(Opening { case, actor, acknowledge });
        self.filed_in(post, Thread::New(self.new.len() - 1));
        Ok(())
    }

    /// Opens the batch's cases in one transaction, then queues their
    /// acknowledgements in another (their text names the case's number).
    async fn write(self, db: &Db) -> Result<()> {
        if self.new.is_empty() {
            return Ok(());
        }
        let (cases, acknowledgements): (Vec<_>, Vec<_>) =
            self.new.into_iter().map(|o| ((o.case, o.actor), o.acknowledge)).unzip();
        let ids = db.create_cases(&cases).await?;
        let mut replies = Vec::new();
        for ((id, (case, _)), ack) in ids.into_iter().zip(&cases).zip(acknowledgements) {
            let Some(ack) = ack else { continue };
            let institution = self.institutions.get(&case.institution_id).map_or("", |i| i.name.as_str());
            let body = fill_canned(&ack.answer, &ack.citizen, institution, id, None, None)?;
            replies.push(NewReply {
                case_id: id,
                institution_id: ack.sender,
                user_id: None,
                kind: ReplyKind::Acknowledgement,
                post_id: ack.post,
                platform: ack.platform,
                account_id: ack.account,
                body,
                needs_approval: false,
                idempotency_key: format!("case:{id}:ack"),
                send_at: None,
            });
        }
        db.queue_replies(&replies, &Actor::System("inbox".into())).await?;
        Ok(())
    }
}

/// The platform ids a post's conversation is known by: its parent's, then its
/// thread root's.
fn thread_keys(post: &Post) -> impl Iterator<Item = &str> {
    [post.reply_to.as_deref(), post.conversation.as_deref()].into_iter().flatten()
}
