//! Posts: idempotent ingest with versions and tombstones, full-text search, export.

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt, stream::BoxStream};
use townhall_core::{
    Ingest, InstitutionId, NewPost, Platform, PlatformEvent, Post, PostId, PostMetrics, PostVersion, SearchQuery,
    StoredPostHead,
};

use crate::jobs::enqueue_in_tx;
use crate::rows::{PostRow, PostVersionRow, contact_binds, post_columns};
use crate::{BeginWrite, Db, NewJob, Result, StoreError, on_pool, storable_text};

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
}

/// The job that analyses a post; enqueued with every new text, run once per version.
pub const ANALYZE_JOB: &str = "analyze_post";

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

/// Stores one post inside an open write transaction; evaluates to
/// `Result<IngestOutcome>`. A macro because each backend has its own transaction type.
macro_rules! ingest_in_tx {
    ($tx:ident, $post:expr, $now:expr) => {
        async {
            let post: &NewPost = $post;
            let now: DateTime<Utc> = $now;
            let platform = post.platform.as_str();
            let external_id = storable_text(&post.external_id);
            let text = storable_text(&post.text);
            let entities = entities_json(post);
            let contact_id: Option<i64> = match &post.author {
                None => None,
                Some(author) => {
                    let (author_id, handle, display_name) = contact_binds(author);
                    Some(
                        sqlx::query_scalar(
                            "INSERT INTO contacts (platform, external_id, handle, display_name, created_at) \
                             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (platform, external_id) \
                             DO UPDATE SET handle = excluded.handle, display_name = excluded.display_name RETURNING id",
                        )
                        .bind(platform)
                        .bind(author_id)
                        .bind(handle)
                        .bind(display_name)
                        .bind(now)
                        .fetch_one(&mut *$tx)
                        .await?,
                    )
                }
            };
            let head: Option<(i64, i32, String, Option<DateTime<Utc>>)> =
                sqlx::query_as("SELECT id, version, text, edited_at FROM posts WHERE platform = $1 AND external_id = $2")
                    .bind(platform)
                    .bind(&external_id)
                    .fetch_optional(&mut *$tx)
                    .await?;
            let head =
                head.map(|(id, version, text, edited_at)| StoredPostHead { id: PostId(id), version, text, edited_at });
            let (id, version, outcome) = match Ingest::decide(head.as_ref(), post) {
                Ingest::Duplicate(id) => {
                    if post.metrics != PostMetrics::default() {
                        // The platform's own counts are newer than what we hold; a replay with
                        // the same counts writes nothing.
                        sqlx::query(
                            "UPDATE posts SET likes = $1, reposts = $2, replies = $3, quotes = $4 WHERE id = $5 \
                             AND (likes <> $1 OR reposts <> $2 OR replies <> $3 OR quotes <> $4)",
                        )
                            .bind(post.metrics.likes)
                            .bind(post.metrics.reposts)
                            .bind(post.metrics.replies)
                            .bind(post.metrics.quotes)
                            .bind(id.0)
                            .execute(&mut *$tx)
                            .await?;
                    }
                    return Ok(IngestOutcome::Duplicate(id));
                }
                Ingest::Insert => {
                    // ON CONFLICT: a concurrent writer may have stored it since we looked.
                    let inserted: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO posts (platform, external_id, account_id, contact_id, text, lang_hint, created_at, \
                         received_at, edited_at, reply_to, conversation, likes, reposts, replies, quotes, version, raw, \
                         entities) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1, $16, $17) \
                         ON CONFLICT (platform, external_id) DO NOTHING RETURNING id",
                    )
                    .bind(platform)
                    .bind(&external_id)
                    .bind(post.account_id.map(|a| a.0))
                    .bind(contact_id)
                    .bind(&text)
                    .bind(post.lang_hint.as_deref().map(storable_text))
                    .bind(post.created_at)
                    .bind(now)
                    .bind(post.edited_at)
                    .bind(post.reply_to.as_deref().map(storable_text))
                    .bind(post.conversation.as_deref().map(storable_text))
                    .bind(post.metrics.likes)
                    .bind(post.metrics.reposts)
                    .bind(post.metrics.replies)
                    .bind(post.metrics.quotes)
                    .bind(post.raw.as_slice())
                    .bind(&entities)
                    .fetch_optional(&mut *$tx)
                    .await?;
                    match inserted {
                        Some(id) => (id, 1, IngestOutcome::Inserted(PostId(id))),
                        None => {
                            let id: i64 =
                                sqlx::query_scalar("SELECT id FROM posts WHERE platform = $1 AND external_id = $2")
                                    .bind(platform)
                                    .bind(&external_id)
                                    .fetch_one(&mut *$tx)
                                    .await?;
                            return Ok(IngestOutcome::Duplicate(PostId(id)));
                        }
                    }
                }
                Ingest::NewVersion(id, version) => (id.0, version, IngestOutcome::Edited(id, version)),
                Ingest::FillTombstone(id) => (id.0, 1, IngestOutcome::FilledTombstone(id)),
            };
            if !matches!(outcome, IngestOutcome::Inserted(_)) {
                // The row holds the latest version; a tombstone stays a tombstone.
                sqlx::query(
                    "UPDATE posts SET text = $1, edited_at = $2, raw = $3, \
                     created_at = CASE WHEN version = 0 THEN $4 ELSE created_at END, version = $5, \
                     lang_hint = COALESCE($6, lang_hint), contact_id = COALESCE($7, contact_id), \
                     account_id = COALESCE($8, account_id), reply_to = COALESCE($9, reply_to), \
                     conversation = COALESCE($10, conversation), entities = $11 WHERE id = $12",
                )
                .bind(&text)
                .bind(post.edited_at)
                .bind(post.raw.as_slice())
                .bind(post.created_at)
                .bind(version)
                .bind(post.lang_hint.as_deref().map(storable_text))
                .bind(contact_id)
                .bind(post.account_id.map(|a| a.0))
                .bind(post.reply_to.as_deref().map(storable_text))
                .bind(post.conversation.as_deref().map(storable_text))
                .bind(&entities)
                .bind(id)
                .execute(&mut *$tx)
                .await?;
            }
            sqlx::query("INSERT INTO post_versions (post_id, version, text, at, raw) VALUES ($1, $2, $3, $4, $5)")
                .bind(id)
                .bind(version)
                .bind(&text)
                .bind(post.edited_at.unwrap_or(post.created_at))
                .bind(post.raw.as_slice())
                .execute(&mut *$tx)
                .await?;
            enqueue_in_tx!($tx, now, &analyze_job(id, version)).await?;
            Ok::<_, StoreError>(outcome)
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
                PlatformEvent::Post(post) => EventOutcome::Post(ingest_in_tx!($tx, post, now).await?),
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
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let mut outcomes = Vec::with_capacity(posts.len());
            for post in posts {
                outcomes.push(ingest_in_tx!(tx, post, now).await?);
            }
            tx.commit().await?;
            Ok(outcomes)
        })
    }

    /// Applies a batch of platform events in one transaction: all or none, so a
    /// batch acknowledged to the caller has been durably stored.
    ///
    /// Every event is idempotent: posts as in [`Db::ingest_posts`]; deletions become
    /// tombstones; hides flag the post and keep the event; a like or repost counts
    /// once per key and its withdrawal undoes it. Nothing is ever physically deleted.
    pub async fn apply_events(&self, events: &[PlatformEvent]) -> Result<Vec<EventOutcome>> {
        let now = Utc::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let mut outcomes = Vec::with_capacity(events.len());
            for event in events {
                outcomes.push(apply_in_tx!(tx, event, now).await?);
            }
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
        let ids = serde_json::to_string(&ids.iter().map(|id| id.0).collect::<Vec<_>>())
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
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

    /// Full-text search over post texts, best match first, then newest.
    /// Matching ignores case and accents on both backends.
    pub async fn search_posts(&self, query: &SearchQuery, filter: &PostFilter, limit: i64) -> Result<Vec<Post>> {
        let institution = filter.institution.map(|i| i.0);
        let platform = filter.platform.map(Platform::as_str);
        let rows: Vec<PostRow> = match self {
            Db::Sqlite(pool) => {
                sqlx::query_as(concat!(
                    "SELECT ",
                    post_columns!(),
                    " FROM posts_fts f JOIN posts p ON p.id = f.rowid LEFT JOIN accounts a ON a.id = p.account_id \
                     WHERE posts_fts MATCH $1 AND (CAST($2 AS BIGINT) IS NULL OR a.institution_id = $2) \
                     AND (CAST($3 AS TEXT) IS NULL OR p.platform = $3)",
                    tag_conditions!("5", "6", "7"),
                    " ORDER BY f.rank, p.created_at DESC LIMIT $4"
                ))
                .bind(fts5_match(query))
                .bind(institution)
                .bind(platform)
                .bind(limit)
                .bind(filter.intent.as_deref())
                .bind(filter.lang.as_deref())
                .bind(filter.topic.as_deref())
                .fetch_all(pool)
                .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(concat!(
                    "SELECT ",
                    post_columns!(),
                    " FROM posts p LEFT JOIN accounts a ON a.id = p.account_id, \
                     to_tsquery('simple', public.unaccent('public.unaccent'::regdictionary, $1)) q \
                     WHERE p.search @@ q AND (CAST($2 AS BIGINT) IS NULL OR a.institution_id = $2) \
                     AND (CAST($3 AS TEXT) IS NULL OR p.platform = $3)",
                    tag_conditions!("5", "6", "7"),
                    " ORDER BY ts_rank(p.search, q) DESC, p.created_at DESC LIMIT $4"
                ))
                .bind(tsquery(query))
                .bind(institution)
                .bind(platform)
                .bind(limit)
                .bind(filter.intent.as_deref())
                .bind(filter.lang.as_deref())
                .bind(filter.topic.as_deref())
                .fetch_all(pool)
                .await?
            }
        };
        rows.into_iter().map(Post::try_from).collect()
    }

    /// Counts of posts, of one institution's accounts or of all.
    pub async fn post_stats(&self, institution: Option<InstitutionId>) -> Result<PostStats> {
        let rows: Vec<(String, i64, i64)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT p.platform, COUNT(*), COUNT(p.deleted_at) FROM posts p LEFT JOIN accounts a ON a.id = p.account_id \
                 WHERE CAST($1 AS BIGINT) IS NULL OR a.institution_id = $1 GROUP BY p.platform ORDER BY COUNT(*) DESC, p.platform",
            )
            .bind(institution.map(|i| i.0))
            .fetch_all(pool)
            .await
        })?;
        let mut stats = PostStats::default();
        for (platform, count, deleted) in rows {
            stats.total += count;
            stats.deleted += deleted;
            let platform = platform.parse().map_err(|e| StoreError::corrupt_row("platform", e))?;
            stats.by_platform.push((platform, count));
        }
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
