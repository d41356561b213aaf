//! Posts: idempotent ingest with versions and tombstones, full-text search, export.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt, stream::BoxStream};
use townhall_core::{
    Ingest, InstitutionId, NewPost, Platform, PlatformEvent, Post, PostId, PostMetrics, PostVersion, SearchQuery,
    StoredPostHead,
};

use crate::enrichments::{Analysis, NewEnrichment, save_enrichments_in_tx};
use crate::jobs::enqueue_all_in_tx;
use crate::rows::{PostRow, PostVersionRow, contact_binds, post_columns};
use crate::{BeginWrite, Db, NewJob, Result, StoreError, json_list, on_pool, storable_text};

/// What storing one incoming post did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// A new post.
    Inserted(PostId),
    /// Already stored; nothing changed.
    Duplicate(PostId),
    /// An edit, stored as this version.
    Edited(PostId, i32),
    /// Its deletion had arrived first; its content is now kept too.
    FilledTombstone(PostId),
}

impl IngestOutcome {
    /// The post concerned.
    pub fn post_id(self) -> PostId {
        match self {
            IngestOutcome::Inserted(id) | IngestOutcome::Duplicate(id) | IngestOutcome::FilledTombstone(id) => id,
            IngestOutcome::Edited(id, _) => id,
        }
    }
}

/// Which posts a listing or search looks at. Only allow-listed fields exist here.
#[derive(Debug, Clone, Default)]
pub struct PostFilter {
    /// Only posts collected for this institution's accounts.
    pub institution: Option<InstitutionId>,
    /// Only posts from this platform.
    pub platform: Option<Platform>,
    /// Only posts analysed with this intent (`question`, `complaint`, …).
    pub intent: Option<String>,
    /// Only posts with this topic, from analysis or set by staff.
    pub topic: Option<String>,
    /// Only posts analysed as written in this language (ISO code).
    pub lang: Option<String>,
}

/// The conditions of a [`PostFilter`]'s tags, after its first three parameters
/// (`$n`, `$n+1`, `$n+2` are intent, language and topic).
macro_rules! tag_conditions {
    ($intent:literal, $lang:literal, $topic:literal) => {
        concat!(
            " AND (CAST($",
            $intent,
            " AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM enrichments e WHERE e.post_id = p.id AND e.intent = $",
            $intent,
            ")) AND (CAST($",
            $lang,
            " AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM enrichments e WHERE e.post_id = p.id AND e.lang = $",
            $lang,
            ")) AND (CAST($",
            $topic,
            " AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM post_topics t WHERE t.post_id = p.id AND t.topic = $",
            $topic,
            "))"
        )
    };
}

/// Post counts for overview pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostStats {
    /// All posts, deleted ones included.
    pub total: i64,
    /// Posts the platform reported deleted.
    pub deleted: i64,
    /// Posts per platform, most first.
    pub by_platform: Vec<(Platform, i64)>,
    /// Posts to each institution's accounts, by institution id; an institution with
    /// none is left out.
    pub by_institution: Vec<(InstitutionId, i64)>,
}

/// The job that analyses a post; enqueued with every new text, run once per version.
pub const ANALYZE_JOB: &str = "analyze_post";

/// How many of the newest matches a post search ranks. An inbox asks what citizens are
/// saying now: ranking every match of a common word over years of posts costs seconds
/// and buries this week's posts under old ones that use the word more often.
pub const SEARCH_WINDOW: i64 = 1000;

fn analyze_job(id: i64, version: i32) -> NewJob {
    NewJob {
        kind: ANALYZE_JOB.into(),
        payload: serde_json::json!({ "post_id": id, "version": version }),
        dedupe_key: Some(format!("{ANALYZE_JOB}:{id}:{version}")),
        run_at: None,
        max_attempts: 5,
    }
}

/// Renders a query in FTS5 syntax: every token quoted, so nothing a user types is an operator.
pub(crate) fn fts5_match(query: &SearchQuery) -> String {
    let phrase = |tokens: &Vec<String>| format!("\"{}\"", tokens.join(" ").replace('"', "\"\""));
    let mut text = query.required.iter().map(phrase).collect::<Vec<_>>().join(" AND ");
    for excluded in &query.excluded {
        text.push_str(" NOT ");
        text.push_str(&phrase(excluded));
    }
    text
}

/// Renders a query in PostgreSQL `tsquery` syntax, every token quoted.
pub(crate) fn tsquery(query: &SearchQuery) -> String {
    let phrase = |tokens: &Vec<String>| {
        let quoted: Vec<String> = tokens.iter().map(|t| format!("'{}'", t.replace('\'', "''"))).collect();
        format!("({})", quoted.join(" <-> "))
    };
    let mut parts: Vec<String> = query.required.iter().map(phrase).collect();
    parts.extend(query.excluded.iter().map(|p| format!("!{}", phrase(p))));
    parts.join(" & ")
}

/// What applying one platform event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    /// A post was stored, found already stored, or edited.
    Post(IngestOutcome),
    /// A deletion: the post's id, and whether it was news.
    Deleted(PostId, bool),
    /// A hide or unhide: the post's id (`None` when Townhall does not hold the post),
    /// and whether it changed anything.
    Hidden(Option<PostId>, bool),
    /// A like or repost: the post's id (`None` when Townhall does not hold the post),
    /// and whether it changed the count.
    Engaged(Option<PostId>, bool),
}

/// Posts stored by one set of statements at most: the widest (the posts' insert, 17
/// values a post) stays far under SQLite's limit of 32,766 parameters.
const RUN: usize = 500;

/// How many events from the start of `events` form a run of posts stored together:
/// posts only, each key once (a second copy or an edit of a post in the same run must
/// see the first one stored, so it starts the next run).
fn post_run(events: &[PlatformEvent]) -> usize {
    let mut keys = HashSet::new();
    events
        .iter()
        .take(RUN)
        .take_while(|event| match event {
            PlatformEvent::Post(post) => keys.insert((post.platform, storable_text(&post.external_id))),
            _ => false,
        })
        .count()
}

/// An incoming post's values as they are stored, computed once.
struct Incoming<'a> {
    post: &'a NewPost,
    external_id: String,
    text: String,
    lang_hint: Option<String>,
    reply_to: Option<String>,
    conversation: Option<String>,
    entities: String,
    author: Option<(String, String, Option<String>)>,
}

impl<'a> Incoming<'a> {
    fn new(post: &'a NewPost) -> Incoming<'a> {
        Incoming {
            post,
            external_id: storable_text(&post.external_id),
            text: storable_text(&post.text),
            lang_hint: post.lang_hint.as_deref().map(storable_text),
            reply_to: post.reply_to.as_deref().map(storable_text),
            conversation: post.conversation.as_deref().map(storable_text),
            entities: entities_json(post),
            author: post.author.as_ref().map(contact_binds),
        }
    }
}

/// Stores a run of posts (see [`post_run`]) inside an open write transaction with a
/// few set-based statements whatever its length, so a batch costs a handful of round
/// trips to the database rather than five a post; evaluates to
/// `Result<Vec<IngestOutcome>>`, one per post in order. What to do with each post is
/// decided by [`Ingest::decide`], as for a single post. Each new text's analysis is
/// taken from `$analyses` (by position) into `$enrichments` when the caller made one,
/// else queued as a job. A macro because each backend has its own transaction type.
macro_rules! ingest_run_in_tx {
    ($tx:ident, $posts:expr, $analyses:expr, $enrichments:expr, $now:expr) => {
        async {
            let analyses: &mut [Option<Analysis>] = $analyses;
            let enrichments: &mut Vec<NewEnrichment> = $enrichments;
            let now: DateTime<Utc> = $now;
            let incoming: Vec<Incoming<'_>> = $posts.map(Incoming::new).collect();

            // The authors, each once (the last copy's names win, as one by one would).
            let mut authors: Vec<(&str, &str, &str, Option<&str>)> = Vec::new();
            let mut author_at: HashMap<(&str, &str), usize> = HashMap::new();
            for row in &incoming {
                if let Some((id, handle, name)) = &row.author {
                    let author = (row.post.platform.as_str(), id.as_str(), handle.as_str(), name.as_deref());
                    match author_at.get(&(author.0, author.1)) {
                        Some(&i) => authors[i] = author,
                        None => {
                            author_at.insert((author.0, author.1), authors.len());
                            authors.push(author);
                        }
                    }
                }
            }
            // Each post's contact id, by position.
            let mut contacts: Vec<Option<i64>> = vec![None; incoming.len()];
            if !authors.is_empty() {
                let mut upsert =
                    sqlx::QueryBuilder::new("INSERT INTO contacts (platform, external_id, handle, display_name, created_at) ");
                upsert.push_values(&authors, |mut values, author| {
                    values.push_bind(author.0).push_bind(author.1).push_bind(author.2).push_bind(author.3).push_bind(now);
                });
                upsert.push(
                    " ON CONFLICT (platform, external_id) DO UPDATE SET handle = excluded.handle, \
                     display_name = excluded.display_name RETURNING id, platform, external_id",
                );
                let stored: Vec<(i64, String, String)> = upsert.build_query_as().fetch_all(&mut *$tx).await?;
                let ids: HashMap<(String, String), i64> =
                    stored.into_iter().map(|(id, platform, external_id)| ((platform, external_id), id)).collect();
                for (contact, row) in contacts.iter_mut().zip(&incoming) {
                    *contact = row.author.as_ref().and_then(|(author, _, _)| {
                        ids.get(&(row.post.platform.as_str().to_owned(), author.clone())).copied()
                    });
                }
            }

            // What is already stored under these keys, one query a platform.
            let mut heads: HashMap<(Platform, String), StoredPostHead> = HashMap::with_capacity(incoming.len());
            let mut platforms: Vec<Platform> = incoming.iter().map(|row| row.post.platform).collect();
            platforms.sort();
            platforms.dedup();
            for platform in platforms {
                let mut select =
                    sqlx::QueryBuilder::new("SELECT id, version, text, edited_at, external_id FROM posts WHERE platform = ");
                select.push_bind(platform.as_str()).push(" AND external_id IN (");
                let mut ids = select.separated(", ");
                for row in incoming.iter().filter(|row| row.post.platform == platform) {
                    ids.push_bind(row.external_id.as_str());
                }
                ids.push_unseparated(")");
                let found: Vec<(i64, i32, String, Option<DateTime<Utc>>, String)> =
                    select.build_query_as().fetch_all(&mut *$tx).await?;
                for (id, version, text, edited_at, external_id) in found {
                    heads.insert((platform, external_id), StoredPostHead { id: PostId(id), version, text, edited_at });
                }
            }

            let mut outcomes: Vec<Option<IngestOutcome>> = vec![None; incoming.len()];
            // (position, post id, version) of every new text: it gets a version row and an analysis.
            let mut written: Vec<(usize, i64, i32)> = Vec::with_capacity(incoming.len());
            let mut fresh: Vec<usize> = Vec::new();
            let mut counted: Vec<(i64, &PostMetrics)> = Vec::new();
            let mut edits: Vec<(usize, PostId, i32, IngestOutcome)> = Vec::new();
            for (at, row) in incoming.iter().enumerate() {
                let post = row.post;
                match Ingest::decide(heads.get(&(post.platform, row.external_id.clone())), post) {
                    Ingest::Duplicate(id) => {
                        if post.metrics != PostMetrics::default() {
                            counted.push((id.0, &post.metrics));
                        }
                        outcomes[at] = Some(IngestOutcome::Duplicate(id));
                    }
                    Ingest::Insert => fresh.push(at),
                    Ingest::NewVersion(id, version) => edits.push((at, id, version, IngestOutcome::Edited(id, version))),
                    Ingest::FillTombstone(id) => edits.push((at, id, 1, IngestOutcome::FilledTombstone(id))),
                }
            }
            for (at, id, version, outcome) in edits {
                let (row, post) = (&incoming[at], incoming[at].post);
                // The row holds the latest version; a tombstone stays a tombstone.
                sqlx::query(
                    "UPDATE posts SET text = $1, edited_at = $2, raw = $3, \
                     created_at = CASE WHEN version = 0 THEN $4 ELSE created_at END, version = $5, \
                     lang_hint = COALESCE($6, lang_hint), contact_id = COALESCE($7, contact_id), \
                     account_id = COALESCE($8, account_id), reply_to = COALESCE($9, reply_to), \
                     conversation = COALESCE($10, conversation), entities = $11 WHERE id = $12",
                )
                .bind(&row.text)
                .bind(post.edited_at)
                .bind(post.raw.as_slice())
                .bind(post.created_at)
                .bind(version)
                .bind(row.lang_hint.as_deref())
                .bind(contacts[at])
                .bind(post.account_id.map(|a| a.0))
                .bind(row.reply_to.as_deref())
                .bind(row.conversation.as_deref())
                .bind(&row.entities)
                .bind(id.0)
                .execute(&mut *$tx)
                .await?;
                written.push((at, id.0, version));
                outcomes[at] = Some(outcome);
            }

            if !fresh.is_empty() {
                // ON CONFLICT: a concurrent writer may have stored one since we looked.
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO posts (platform, external_id, account_id, contact_id, text, lang_hint, created_at, \
                     received_at, edited_at, reply_to, conversation, likes, reposts, replies, quotes, version, raw, \
                     entities) ",
                );
                insert.push_values(&fresh, |mut values, &at| {
                    let row = &incoming[at];
                    let post = row.post;
                    values
                        .push_bind(post.platform.as_str())
                        .push_bind(row.external_id.as_str())
                        .push_bind(post.account_id.map(|a| a.0))
                        .push_bind(contacts[at])
                        .push_bind(row.text.as_str())
                        .push_bind(row.lang_hint.as_deref())
                        .push_bind(post.created_at)
                        .push_bind(now)
                        .push_bind(post.edited_at)
                        .push_bind(row.reply_to.as_deref())
                        .push_bind(row.conversation.as_deref())
                        .push_bind(post.metrics.likes)
                        .push_bind(post.metrics.reposts)
                        .push_bind(post.metrics.replies)
                        .push_bind(post.metrics.quotes)
                        .push("1")
                        .push_bind(post.raw.as_slice())
                        .push_bind(row.entities.as_str());
                });
                insert.push(" ON CONFLICT (platform, external_id) DO NOTHING RETURNING id, platform, external_id");
                let inserted: Vec<(i64, String, String)> = insert.build_query_as().fetch_all(&mut *$tx).await?;
                let inserted: HashMap<(String, String), i64> =
                    inserted.into_iter().map(|(id, platform, external_id)| ((platform, external_id), id)).collect();
                for &at in &fresh {
                    let row = &incoming[at];
                    let platform = row.post.platform.as_str();
                    match inserted.get(&(platform.to_owned(), row.external_id.clone())) {
                        Some(&id) => {
                            written.push((at, id, 1));
                            outcomes[at] = Some(IngestOutcome::Inserted(PostId(id)));
                        }
                        None => {
                            let id: i64 =
                                sqlx::query_scalar("SELECT id FROM posts WHERE platform = $1 AND external_id = $2")
                                    .bind(platform)
                                    .bind(&row.external_id)
                                    .fetch_one(&mut *$tx)
                                    .await?;
                            outcomes[at] = Some(IngestOutcome::Duplicate(PostId(id)));
                        }
                    }
                }
            }

            if !counted.is_empty() {
                // The platform's own counts are newer than what we hold; a replay with the
                // same counts writes nothing.
                let mut update = sqlx::QueryBuilder::new(
                    "UPDATE posts SET likes = v.column2, reposts = v.column3, replies = v.column4, quotes = v.column5 FROM (",
                );
                update.push_values(&counted, |mut values, (id, metrics)| {
                    values
                        .push_bind(*id)
                        .push_bind(metrics.likes)
                        .push_bind(metrics.reposts)
                        .push_bind(metrics.replies)
                        .push_bind(metrics.quotes);
                });
                update.push(
                    ") AS v WHERE posts.id = v.column1 AND (posts.likes <> v.column2 OR posts.reposts <> v.column3 \
                     OR posts.replies <> v.column4 OR posts.quotes <> v.column5)",
                );
                update.build().execute(&mut *$tx).await?;
            }

            if !written.is_empty() {
                let mut versions = sqlx::QueryBuilder::new("INSERT INTO post_versions (post_id, version, text, at, raw) ");
                versions.push_values(&written, |mut values, &(at, id, version)| {
                    let row = &incoming[at];
                    values
                        .push_bind(id)
                        .push_bind(version)
                        .push_bind(row.text.as_str())
                        .push_bind(row.post.edited_at.unwrap_or(row.post.created_at))
                        .push_bind(row.post.raw.as_slice());
                });
                versions.build().execute(&mut *$tx).await?;
                let mut jobs: Vec<NewJob> = Vec::new();
                for &(at, id, version) in &written {
                    match analyses.get_mut(at).and_then(Option::take) {
                        Some(Analysis { tags, detail }) => {
                            enrichments.push(NewEnrichment { post_id: PostId(id), post_version: version, tags, detail })
                        }
                        None => jobs.push(analyze_job(id, version)),
                    }
                }
                if !jobs.is_empty() {
                    enqueue_all_in_tx!($tx, now, &jobs).await?;
                }
            }
            outcomes.into_iter().collect::<Option<Vec<_>>>().ok_or(StoreError::NotFound("ingest outcome"))
        }
    };
}

/// Records a deletion inside an open write transaction; evaluates to
/// `Result<(PostId, bool)>`.
macro_rules! tombstone_in_tx {
    ($tx:ident, $platform:expr, $external_id:expr, $at:expr, $raw:expr, $now:expr) => {
        async {
            let (platform, at, raw, now): (Platform, DateTime<Utc>, &[u8], DateTime<Utc>) =
                ($platform, $at, $raw, $now);
            let external_id = storable_text($external_id);
            let updated: Option<i64> = sqlx::query_scalar(
                "UPDATE posts SET deleted_at = $1, deletion_raw = $2 WHERE platform = $3 AND external_id = $4 \
                 AND deleted_at IS NULL RETURNING id",
            )
            .bind(at)
            .bind(raw)
            .bind(platform.as_str())
            .bind(&external_id)
            .fetch_optional(&mut *$tx)
            .await?;
            if let Some(id) = updated {
                return Ok((PostId(id), true));
            }
            // The deletion came first: a tombstone waits for the post.
            let placeholder: Option<i64> = sqlx::query_scalar(
                "INSERT INTO posts (platform, external_id, text, created_at, received_at, version, deleted_at, \
                 deletion_raw, raw) VALUES ($1, $2, '', $3, $4, 0, $3, $5, $6) \
                 ON CONFLICT (platform, external_id) DO NOTHING RETURNING id",
            )
            .bind(platform.as_str())
            .bind(&external_id)
            .bind(at)
            .bind(now)
            .bind(raw)
            .bind(Vec::<u8>::new())
            .fetch_optional(&mut *$tx)
            .await?;
            if let Some(id) = placeholder {
                return Ok((PostId(id), true));
            }
            let id: i64 = sqlx::query_scalar("SELECT id FROM posts WHERE platform = $1 AND external_id = $2")
                .bind(platform.as_str())
                .bind(&external_id)
                .fetch_one(&mut *$tx)
                .await?;
            Ok::<_, StoreError>((PostId(id), false))
        }
    };
}

/// Applies one platform event inside an open write transaction; evaluates to
/// `Result<EventOutcome>`.
macro_rules! apply_in_tx {
    ($tx:ident, $event:expr, $now:expr) => {
        async {
            let now: DateTime<Utc> = $now;
            Ok::<_, StoreError>(match $event {
                PlatformEvent::Post(post) => {
                    let stored = ingest_run_in_tx!($tx, std::iter::once(post), &mut [], &mut Vec::new(), now).await?;
                    EventOutcome::Post(stored.into_iter().next().ok_or(StoreError::NotFound("ingest outcome"))?)
                }
                PlatformEvent::Deleted { platform, external_id, at, raw } => {
                    let (id, changed) = tombstone_in_tx!($tx, *platform, external_id, *at, raw, now).await?;
                    EventOutcome::Deleted(id, changed)
                }
                PlatformEvent::Hidden { platform, external_id, hidden, at, raw } => {
                    let changed: Option<(i64, bool)> = sqlx::query_as(
                        "UPDATE posts SET hidden = $1 WHERE platform = $2 AND external_id = $3 \
                         RETURNING id, hidden",
                    )
                    .bind(*hidden)
                    .bind(platform.as_str())
                    .bind(storable_text(external_id))
                    .fetch_optional(&mut *$tx)
                    .await?;
                    match changed {
                        None => EventOutcome::Hidden(None, false),
                        Some((id, _)) => {
                            // Every hide is kept with its payload; a replay of the same one is not news.
                            let kind = if *hidden { "hidden" } else { "shown" };
                            let seen: Option<i64> = sqlx::query_scalar(
                                "SELECT id FROM post_events WHERE post_id = $1 AND kind = $2 AND at = $3 AND raw = $4",
                            )
                            .bind(id)
                            .bind(kind)
                            .bind(*at)
                            .bind(raw.as_slice())
                            .fetch_optional(&mut *$tx)
                            .await?;
                            if seen.is_none() {
                                sqlx::query("INSERT INTO post_events (post_id, kind, at, raw) VALUES ($1, $2, $3, $4)")
                                    .bind(id)
                                    .bind(kind)
                                    .bind(*at)
                                    .bind(raw.as_slice())
                                    .execute(&mut *$tx)
                                    .await?;
                            }
                            EventOutcome::Hidden(Some(PostId(id)), seen.is_none())
                        }
                    }
                }
                PlatformEvent::Engagement(e) => {
                    let platform = e.platform.as_str();
                    let key = storable_text(&e.key);
                    let known: Option<(i64, String, bool)> =
                        sqlx::query_as("SELECT post_id, kind, active FROM engagements WHERE platform = $1 AND key = $2")
                            .bind(platform)
                            .bind(&key)
                            .fetch_optional(&mut *$tx)
                            .await?;
                    let counted: Option<(i64, String, i64)> = match (known, &e.target) {
                        (Some((post_id, _, active)), _) if active == e.active => {
                            return Ok(EventOutcome::Engaged(Some(PostId(post_id)), false));
                        }
                        (Some((post_id, kind, _)), _) => {
                            sqlx::query("UPDATE engagements SET active = $1 WHERE platform = $2 AND key = $3")
                                .bind(e.active)
                                .bind(platform)
                                .bind(&key)
                                .execute(&mut *$tx)
                                .await?;
                            Some((post_id, kind, if e.active { 1 } else { -1 }))
                        }
                        (None, Some(target)) if e.active => {
                            let post_id: Option<i64> =
                                sqlx::query_scalar("SELECT id FROM posts WHERE platform = $1 AND external_id = $2")
                                    .bind(platform)
                                    .bind(storable_text(target))
                                    .fetch_optional(&mut *$tx)
                                    .await?;
                            if let Some(post_id) = post_id {
                                sqlx::query(
                                    "INSERT INTO engagements (platform, key, post_id, kind, active) \
                                     VALUES ($1, $2, $3, $4, $5)",
                                )
                                .bind(platform)
                                .bind(&key)
                                .bind(post_id)
                                .bind(e.kind.as_str())
                                .bind(true)
                                .execute(&mut *$tx)
                                .await?;
                            }
                            post_id.map(|id| (id, e.kind.as_str().to_owned(), 1))
                        }
                        // A like of a post Townhall does not hold, or the withdrawal of one never counted.
                        (None, _) => return Ok(EventOutcome::Engaged(None, false)),
                    };
                    match counted {
                        None => EventOutcome::Engaged(None, false),
                        Some((post_id, kind, delta)) => {
                            let sql = if kind == "repost" {
                                "UPDATE posts SET reposts = CASE WHEN reposts + $1 < 0 THEN 0 ELSE reposts + $1 END WHERE id = $2"
                            } else {
                                "UPDATE posts SET likes = CASE WHEN likes + $1 < 0 THEN 0 ELSE likes + $1 END WHERE id = $2"
                            };
                            sqlx::query(sql).bind(delta).bind(post_id).execute(&mut *$tx).await?;
                            EventOutcome::Engaged(Some(PostId(post_id)), true)
                        }
                    }
                }
            })
        }
    };
}

fn entities_json(post: &NewPost) -> String {
    serde_json::to_string(&post.entities).unwrap_or_else(|_| "{}".into())
}

impl Db {
    /// Stores one incoming post; see [`Db::ingest_posts`].
    pub async fn ingest_post(&self, post: &NewPost) -> Result<IngestOutcome> {
        let outcomes = self.ingest_posts(std::slice::from_ref(post)).await?;
        outcomes.into_iter().next().ok_or(StoreError::NotFound("ingest outcome"))
    }

    /// Stores a batch of incoming posts in one transaction: all or none.
    ///
    /// Posts are unique by (platform, external id): a copy already stored is a
    /// duplicate, a later edit becomes a new version, and the author is upserted as a
    /// contact. Each new text enqueues its analysis in the same transaction.
    pub async fn ingest_posts(&self, posts: &[NewPost]) -> Result<Vec<IngestOutcome>> {
        let events: Vec<PlatformEvent> = posts.iter().cloned().map(PlatformEvent::Post).collect();
        self.apply_events(&events)
            .await?
            .into_iter()
            .map(|outcome| match outcome {
                EventOutcome::Post(outcome) => Ok(outcome),
                _ => Err(StoreError::NotFound("ingest outcome")),
            })
            .collect()
    }

    /// Applies a batch of platform events in one transaction: all or none, so a
    /// batch acknowledged to the caller has been durably stored.
    ///
    /// Every event is idempotent: posts as in [`Db::ingest_posts`]; deletions become
    /// tombstones; hides flag the post and keep the event; a like or repost counts
    /// once per key and its withdrawal undoes it. Nothing is ever physically deleted.
    pub async fn apply_events(&self, events: &[PlatformEvent]) -> Result<Vec<EventOutcome>> {
        self.apply_analysed_events(events, Vec::new()).await
    }

    /// [`Db::apply_events`] for events whose posts the caller has analysed already:
    /// `analyses[i]` is the analysis of `events[i]`'s post (missing or `None` where
    /// there is none). A new text is stored with its analysis in the same
    /// transaction, and no analysis job is queued for it.
    pub async fn apply_analysed_events(
        &self,
        events: &[PlatformEvent],
        mut analyses: Vec<Option<Analysis>>,
    ) -> Result<Vec<EventOutcome>> {
        let now = Utc::now();
        analyses.resize(events.len(), None);
        let statements = self.enrichment_statements();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let mut outcomes = Vec::with_capacity(events.len());
            let mut enrichments = Vec::new();
            let mut at = 0;
            while at < events.len() {
                let run = post_run(&events[at..]);
                if run == 0 {
                    outcomes.push(apply_in_tx!(tx, &events[at], now).await?);
                    at += 1;
                } else {
                    let posts = events[at..at + run].iter().filter_map(|event| match event {
                        PlatformEvent::Post(post) => Some(post),
                        _ => None,
                    });
                    let analyses = &mut analyses[at..at + run];
                    let stored = ingest_run_in_tx!(tx, posts, analyses, &mut enrichments, now).await?;
                    outcomes.extend(stored.into_iter().map(EventOutcome::Post));
                    at += run;
                }
            }
            save_enrichments_in_tx!(tx, statements, &enrichments, now).await?;
            tx.commit().await?;
            Ok(outcomes)
        })
    }

    /// Records that the platform deleted a post. The post keeps its text and versions;
    /// if the deletion arrives before the post, a tombstone waits for it.
    /// Returns the post's id and whether this call changed anything.
    pub async fn tombstone_post(
        &self,
        platform: Platform,
        external_id: &str,
        at: DateTime<Utc>,
        raw: &[u8],
    ) -> Result<(PostId, bool)> {
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let result = tombstone_in_tx!(tx, platform, external_id, at, raw, now).await?;
            tx.commit().await?;
            Ok(result)
        })
    }

    /// One post, in its latest version.
    pub async fn post(&self, id: PostId) -> Result<Option<Post>> {
        let row: Option<PostRow> = on_pool!(self, |pool| {
            sqlx::query_as(concat!("SELECT ", post_columns!(), " FROM posts p WHERE p.id = $1"))
                .bind(id.0)
                .fetch_optional(pool)
                .await
        })?;
        row.map(Post::try_from).transpose()
    }

    /// The posts with these ids, in id order, in one query (missing ids are left out).
    pub async fn posts(&self, ids: &[PostId]) -> Result<Vec<Post>> {
        let ids = json_list(ids.iter().map(|id| id.0))?;
        let rows: Vec<PostRow> =
            match self {
                Db::Sqlite(pool) => {
                    sqlx::query_as(concat!(
                        "SELECT ",
                        post_columns!(),
                        " FROM posts p WHERE p.id IN (SELECT value FROM json_each($1)) ORDER BY p.id"
                    ))
                    .bind(&ids)
                    .fetch_all(pool)
                    .await?
                }
                Db::Postgres(pool) => sqlx::query_as(concat!(
                    "SELECT ",
                    post_columns!(),
                    " FROM posts p WHERE p.id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint) ORDER BY p.id"
                ))
                .bind(&ids)
                .fetch_all(pool)
                .await?,
            };
        rows.into_iter().map(Post::try_from).collect()
    }

    /// One post by its platform id.
    pub async fn post_by_external_id(&self, platform: Platform, external_id: &str) -> Result<Option<Post>> {
        let row: Option<PostRow> = on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                post_columns!(),
                " FROM posts p WHERE p.platform = $1 AND p.external_id = $2"
            ))
            .bind(platform.as_str())
            .bind(external_id)
            .fetch_optional(pool)
            .await
        })?;
        row.map(Post::try_from).transpose()
    }

    /// Every version of a post, oldest first.
    pub async fn post_versions(&self, id: PostId) -> Result<Vec<PostVersion>> {
        let rows: Vec<PostVersionRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT post_id, version, text, at, raw FROM post_versions WHERE post_id = $1 ORDER BY version",
            )
            .bind(id.0)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows.into_iter().map(PostVersion::from).collect())
    }

    /// The newest posts matching `filter`, newest first.
    pub async fn recent_posts(&self, filter: &PostFilter, limit: i64) -> Result<Vec<Post>> {
        let rows: Vec<PostRow> = on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                post_columns!(),
                " FROM posts p LEFT JOIN accounts a ON a.id = p.account_id \
                 WHERE p.version > 0 AND (CAST($1 AS BIGINT) IS NULL OR a.institution_id = $1) \
                 AND (CAST($2 AS TEXT) IS NULL OR p.platform = $2)",
                tag_conditions!("4", "5", "6"),
                " ORDER BY p.created_at DESC, p.id DESC LIMIT $3"
            ))
            .bind(filter.institution.map(|i| i.0))
            .bind(filter.platform.map(Platform::as_str))
            .bind(limit)
            .bind(filter.intent.as_deref())
            .bind(filter.lang.as_deref())
            .bind(filter.topic.as_deref())
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(Post::try_from).collect()
    }

    /// Full-text search over post texts: the best `limit` of the newest [`SEARCH_WINDOW`]
    /// matches, best first, then newest. Matching ignores case and accents on both backends.
    pub async fn search_posts(&self, query: &SearchQuery, filter: &PostFilter, limit: i64) -> Result<Vec<Post>> {
        let institution = filter.institution.map(|i| i.0);
        let platform = filter.platform.map(Platform::as_str);
        let rows: Vec<PostRow> = match self {
            Db::Sqlite(pool) => {
                // FTS5 walks the matches newest first and stops at the window (its ORDER BY
                // rowid DESC is consumed by the index); only the window is ranked, and only
                // the best `limit` rows are read whole.
                sqlx::query_as(concat!(
                    "WITH recent AS (SELECT p.id AS id, f.rank AS rank, p.created_at AS created_at \
                     FROM posts_fts f JOIN posts p ON p.id = f.rowid LEFT JOIN accounts a ON a.id = p.account_id \
                     WHERE posts_fts MATCH $1 AND (CAST($2 AS BIGINT) IS NULL OR a.institution_id = $2) \
                     AND (CAST($3 AS TEXT) IS NULL OR p.platform = $3)",
                    tag_conditions!("5", "6", "7"),
                    " ORDER BY f.rowid DESC LIMIT $8), \
                     hits AS (SELECT id, rank, created_at FROM recent ORDER BY rank, created_at DESC LIMIT $4) SELECT ",
                    post_columns!(),
                    " FROM hits JOIN posts p ON p.id = hits.id ORDER BY hits.rank, hits.created_at DESC"
                ))
                .bind(fts5_match(query))
                .bind(institution)
                .bind(platform)
                .bind(limit)
                .bind(filter.intent.as_deref())
                .bind(filter.lang.as_deref())
                .bind(filter.topic.as_deref())
                .bind(SEARCH_WINDOW)
                .fetch_all(pool)
                .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(concat!(
                    "WITH recent AS (SELECT p.id AS id, ts_rank(p.search, q) AS rank, p.created_at AS created_at \
                     FROM posts p LEFT JOIN accounts a ON a.id = p.account_id, \
                     to_tsquery('simple', public.unaccent('public.unaccent'::regdictionary, $1)) q \
                     WHERE p.search @@ q AND (CAST($2 AS BIGINT) IS NULL OR a.institution_id = $2) \
                     AND (CAST($3 AS TEXT) IS NULL OR p.platform = $3)",
                    tag_conditions!("5", "6", "7"),
                    " ORDER BY p.id DESC LIMIT $8) SELECT ",
                    post_columns!(),
                    " FROM recent JOIN posts p ON p.id = recent.id \
                     ORDER BY recent.rank DESC, recent.created_at DESC LIMIT $4"
                ))
                .bind(tsquery(query))
                .bind(institution)
                .bind(platform)
                .bind(limit)
                .bind(filter.intent.as_deref())
                .bind(filter.lang.as_deref())
                .bind(filter.topic.as_deref())
                .bind(SEARCH_WINDOW)
                .fetch_all(pool)
                .await?
            }
        };
        rows.into_iter().map(Post::try_from).collect()
    }

    /// Counts of posts: all, per platform and per institution, in one pass.
    pub async fn post_stats(&self) -> Result<PostStats> {
        let rows: Vec<(Option<i64>, String, i64, i64)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT a.institution_id, p.platform, COUNT(*), COUNT(p.deleted_at) FROM posts p \
                 LEFT JOIN accounts a ON a.id = p.account_id GROUP BY a.institution_id, p.platform",
            )
            .fetch_all(pool)
            .await
        })?;
        let mut stats = PostStats::default();
        let mut by_platform: HashMap<Platform, i64> = HashMap::new();
        let mut by_institution: BTreeMap<InstitutionId, i64> = BTreeMap::new();
        for (institution, platform, count, deleted) in rows {
            stats.total += count;
            stats.deleted += deleted;
            let platform = platform.parse().map_err(|e| StoreError::corrupt_row("platform", e))?;
            *by_platform.entry(platform).or_default() += count;
            if let Some(institution) = institution {
                *by_institution.entry(InstitutionId(institution)).or_default() += count;
            }
        }
        stats.by_platform = by_platform.into_iter().collect();
        stats.by_platform.sort_by(|(p, n), (q, m)| m.cmp(n).then_with(|| p.as_str().cmp(q.as_str())));
        stats.by_institution = by_institution.into_iter().collect();
        Ok(stats)
    }

    /// Every post in id order, one row at a time, raw payloads included (for exports
    /// of any size in bounded memory).
    pub fn stream_posts(&self) -> BoxStream<'_, Result<Post>> {
        on_pool!(self, |pool| {
            sqlx::query_as::<_, PostRow>(concat!("SELECT ", post_columns!(), " FROM posts p ORDER BY p.id"))
                .fetch(pool)
                .map_err(StoreError::from)
                .and_then(|row| std::future::ready(Post::try_from(row)))
                .boxed()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_render_with_every_token_quoted() {
        let q = SearchQuery::parse(r#"metro "línea 4" -spam"#).unwrap();
        assert_eq!(fts5_match(&q), r#""metro" AND "línea 4" NOT "spam""#);
        assert_eq!(tsquery(&q), "('metro') & ('línea' <-> '4') & !('spam')");
    }
}
