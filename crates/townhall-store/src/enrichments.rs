//! Each post's analysis (its tags and the full enrichment), the topics staff give
//! posts by hand, and the re-analysis of posts whose analysis is stale.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use townhall_core::{Actor, InstitutionId, NewAuditEvent, PostId, TagSource, Tags, TopicTag, UserId};

use crate::audit::insert_audit;
use crate::posts::ANALYZE_JOB;
use crate::{BeginWrite, Db, Result, StoreError, on_pool};

/// One post's analysis to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEnrichment {
    /// The post.
    pub post_id: PostId,
    /// The version of the post's text that was analysed.
    pub post_version: i32,
    /// What routing and filters act on.
    pub tags: Tags,
    /// The whole enrichment, as the analyzer gave it.
    pub detail: serde_json::Value,
}

/// A post's analysis made before the post is stored (an import analyses what it
/// reads): written with the post, in its transaction, instead of a queued job.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// What routing and filters act on.
    pub tags: Tags,
    /// The whole enrichment, as the analyzer gave it.
    pub detail: serde_json::Value,
}

/// The update half of the enrichment upsert, the same on both backends.
macro_rules! upsert_enrichment {
    () => {
        " ON CONFLICT (post_id) DO UPDATE SET post_version = excluded.post_version, \
         analyzer_version = excluded.analyzer_version, lang = excluded.lang, sentiment = excluded.sentiment, \
         intent = excluded.intent, urgency = excluded.urgency, spam = excluded.spam, abuse = excluded.abuse, \
         pii = excluded.pii, detail = excluded.detail, analyzed_at = excluded.analyzed_at RETURNING post_id"
    };
}

type EnrichmentRow = (i32, Option<String>, Option<f64>, String, f64, f64, f64, bool, String);

/// The statements of [`save_enrichments_in_tx`], per backend.
pub(crate) struct EnrichmentStatements {
    pub(crate) upsert: &'static str,
    pub(crate) clear: &'static str,
    pub(crate) insert_topics: &'static str,
}

/// Stores a batch of enrichments inside an open write transaction with three
/// statements (see [`Db::save_enrichments`]); evaluates to `Result<u64>`, how many
/// were stored. A macro because each backend has its own transaction type.
macro_rules! save_enrichments_in_tx {
    ($tx:ident, $statements:expr, $batch:expr, $now:expr) => {
        async {
            let statements: &$crate::enrichments::EnrichmentStatements = &$statements;
            let now: chrono::DateTime<chrono::Utc> = $now;
            let latest = $crate::enrichments::latest_per_post($batch);
            if latest.is_empty() {
                return Ok::<u64, $crate::StoreError>(0);
            }
            let stored: Vec<i64> = sqlx::query_scalar(statements.upsert)
                .bind($crate::enrichments::enrichment_rows(&latest))
                .bind(now)
                .fetch_all(&mut *$tx)
                .await?;
            let stored_ids = serde_json::Value::from(stored.clone()).to_string();
            sqlx::query(statements.clear).bind(stored_ids).execute(&mut *$tx).await?;
            sqlx::query(statements.insert_topics)
                .bind($crate::enrichments::topic_rows(&latest, &stored))
                .execute(&mut *$tx)
                .await?;
            Ok(stored.len() as u64)
        }
    };
}
pub(crate) use save_enrichments_in_tx;

/// One enrichment per post (a post can have two jobs in one batch): the last wins.
pub(crate) fn latest_per_post(batch: &[NewEnrichment]) -> Vec<&NewEnrichment> {
    let mut at: HashMap<PostId, usize> = HashMap::with_capacity(batch.len());
    let mut latest: Vec<&NewEnrichment> = Vec::with_capacity(batch.len());
    for e in batch {
        match at.get(&e.post_id) {
            Some(&i) => latest[i] = e,
            None => {
                at.insert(e.post_id, latest.len());
                latest.push(e);
            }
        }
    }
    latest
}

/// The rows of an upsert, as one JSON parameter.
pub(crate) fn enrichment_rows(latest: &[&NewEnrichment]) -> String {
    let rows: Vec<serde_json::Value> = latest
        .iter()
        .map(|e| {
            let t = &e.tags;
            serde_json::json!({
                "id": e.post_id.0, "v": e.post_version, "a": t.analyzer_version, "l": t.lang,
                "s": t.sentiment, "i": t.intent, "u": t.urgency, "sp": t.spam, "ab": t.abuse,
                "pii": t.pii, "d": e.detail.to_string(),
            })
        })
        .collect();
    serde_json::Value::from(rows).to_string()
}

impl Db {
    /// Stores analyses in one transaction of three statements, whatever the batch
    /// size (the batch travels as one JSON parameter). An analysis of a version the
    /// post has since left behind (it was edited meanwhile) is dropped: a newer job
    /// will analyse the new text. Topics a staff member set are kept. Returns how
    /// many were stored.
    pub async fn save_enrichments(&self, batch: &[NewEnrichment], now: DateTime<Utc>) -> Result<u64> {
        let statements = self.enrichment_statements();
        let stored = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let stored = save_enrichments_in_tx!(tx, statements, batch, now).await?;
            tx.commit().await?;
            stored
        });
        Ok(stored)
    }

    /// The three statements that store enrichments; the backends differ only in how
    /// they read JSON.
    pub(crate) fn enrichment_statements(&self) -> EnrichmentStatements {
        match self {
            Db::Sqlite(_) => EnrichmentStatements {
                upsert: concat!(
                    "INSERT INTO enrichments (post_id, post_version, analyzer_version, lang, sentiment, intent, \
                     urgency, spam, abuse, pii, detail, analyzed_at) \
                     SELECT p.id, p.version, json_extract(j.value, '$.a'), json_extract(j.value, '$.l'), \
                     json_extract(j.value, '$.s'), json_extract(j.value, '$.i'), json_extract(j.value, '$.u'), \
                     json_extract(j.value, '$.sp'), json_extract(j.value, '$.ab'), json_extract(j.value, '$.pii'), \
                     json_extract(j.value, '$.d'), $2 \
                     FROM json_each($1) j JOIN posts p ON p.id = json_extract(j.value, '$.id') \
                     AND p.version = json_extract(j.value, '$.v') WHERE true",
                    upsert_enrichment!()
                ),
                clear: "DELETE FROM post_topics WHERE source = 'analysis' AND post_id IN (SELECT value FROM json_each($1))",
                insert_topics: "INSERT INTO post_topics (post_id, topic, confidence, source) \
                 SELECT json_extract(j.value, '$.p'), json_extract(j.value, '$.t'), json_extract(j.value, '$.c'), \
                 'analysis' FROM json_each($1) j WHERE true ON CONFLICT (post_id, topic) DO NOTHING",
            },
            Db::Postgres(_) => EnrichmentStatements {
                upsert: concat!(
                    "INSERT INTO enrichments (post_id, post_version, analyzer_version, lang, sentiment, intent, \
                     urgency, spam, abuse, pii, detail, analyzed_at) \
                     SELECT p.id, p.version, (j->>'a')::int, j->>'l', (j->>'s')::real, j->>'i', (j->>'u')::real, \
                     (j->>'sp')::real, (j->>'ab')::real, (j->>'pii')::boolean, j->>'d', $2 \
                     FROM jsonb_array_elements($1::jsonb) j JOIN posts p ON p.id = (j->>'id')::bigint \
                     AND p.version = (j->>'v')::int",
                    upsert_enrichment!()
                ),
                clear: "DELETE FROM post_topics WHERE source = 'analysis' \
                 AND post_id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)",
                insert_topics: "INSERT INTO post_topics (post_id, topic, confidence, source) \
                 SELECT (j->>'p')::bigint, j->>'t', (j->>'c')::real, 'analysis' \
                 FROM jsonb_array_elements($1::jsonb) j ON CONFLICT (post_id, topic) DO NOTHING",
            },
        }
    }

    /// A post's stored analysis: its tags (topics from analysis and staff) and the
    /// full enrichment.
    pub async fn enrichment(&self, post: PostId) -> Result<Option<(Tags, serde_json::Value)>> {
        let row: Option<EnrichmentRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT analyzer_version, lang, CAST(sentiment AS DOUBLE PRECISION), intent, \
                 CAST(urgency AS DOUBLE PRECISION), CAST(spam AS DOUBLE PRECISION), CAST(abuse AS DOUBLE PRECISION), \
                 pii, detail FROM enrichments WHERE post_id = $1",
            )
            .bind(post.0)
            .fetch_optional(pool)
            .await?
        });
        let Some((analyzer_version, lang, sentiment, intent, urgency, spam, abuse, pii, detail)) = row else {
            return Ok(None);
        };
        let topics: Vec<(String, f64, String)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT topic, CAST(confidence AS DOUBLE PRECISION), source FROM post_topics WHERE post_id = $1 \
                 ORDER BY confidence DESC, topic",
            )
            .bind(post.0)
            .fetch_all(pool)
            .await?
        });
        let topics = topics
            .into_iter()
            .map(|(topic, confidence, source)| {
                let source = source.parse().map_err(|e: String| StoreError::corrupt_row("topic source", e))?;
                Ok(TopicTag { topic, confidence: confidence as f32, source })
            })
            .collect::<Result<_>>()?;
        let detail = serde_json::from_str(&detail).map_err(|e| StoreError::corrupt_row("enrichment detail", e))?;
        let tags = Tags {
            analyzer_version,
            lang,
            sentiment: sentiment.map(|s| s as f32),
            intent,
            topics,
            urgency: urgency as f32,
            spam: spam as f32,
            abuse: abuse as f32,
            pii,
        };
        Ok(Some((tags, detail)))
    }

    /// Enqueues an `analyze_post` job for up to `limit` posts without a current
    /// analysis: never analysed, analysed by an analyzer older than
    /// `analyzer_version`, or edited since. Its key names the analyzer version, so a
    /// job of an older analyzer (even a dead one) never blocks it; one already queued
    /// for this version is not queued twice. Returns how many were enqueued.
    pub async fn enqueue_reanalysis(&self, analyzer_version: i32, limit: i64, now: DateTime<Utc>) -> Result<u64> {
        let enqueued = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let enqueued = sqlx::query(
                "INSERT INTO jobs (kind, payload, dedupe_key, state, attempts, max_attempts, run_at, created_at) \
                 SELECT $4, '{\"post_id\":' || CAST(p.id AS TEXT) || ',\"version\":' || CAST(p.version AS TEXT) || '}', \
                 $4 || ':' || CAST(p.id AS TEXT) || ':' || CAST(p.version AS TEXT) || ':v' || CAST($1 AS TEXT), \
                 'queued', 0, 5, $2, $2 \
                 FROM posts p LEFT JOIN enrichments e ON e.post_id = p.id \
                 WHERE p.version > 0 AND p.deleted_at IS NULL \
                 AND (e.post_id IS NULL OR e.analyzer_version < $1 OR e.post_version < p.version) \
                 ORDER BY p.id LIMIT $3 \
                 ON CONFLICT (dedupe_key) DO NOTHING",
            )
            .bind(analyzer_version)
            .bind(now)
            .bind(limit)
            .bind(ANALYZE_JOB)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            enqueued
        });
        Ok(enqueued)
    }

    /// Sets a topic on a post by hand: kept over anything analysis says, recorded as
    /// a training example of `institution`'s topic model, and audited. Only a post
    /// collected for one of `institution`'s accounts can be labelled by it
    /// (`NotFound` otherwise), so no institution trains on another's posts.
    pub async fn label_topic(
        &self,
        institution: InstitutionId,
        post: PostId,
        topic: &str,
        user: Option<UserId>,
        actor: &Actor,
    ) -> Result<()> {
        let topic = topic.trim();
        if topic.is_empty() || topic.len() > 64 {
            return Err(StoreError::Invalid("a topic is 1 to 64 bytes".into()));
        }
        let now = Utc::now();
        let event = NewAuditEvent {
            institution_id: Some(institution),
            actor: actor.clone(),
            action: "post.topic_labelled".into(),
            object_kind: "post".into(),
            object_id: post.0.to_string(),
            before: None,
            after: Some(serde_json::json!({ "topic": topic })),
            origin: None,
        };
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let labelled = sqlx::query(
                "INSERT INTO topic_labels (institution_id, post_id, topic, user_id, created_at) \
                 SELECT $1, p.id, $3, $4, $5 FROM posts p JOIN accounts a ON a.id = p.account_id \
                 WHERE p.id = $2 AND a.institution_id = $1",
            )
            .bind(institution.0)
            .bind(post.0)
            .bind(topic)
            .bind(user.map(|u| u.0))
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if labelled == 0 {
                return Err(StoreError::NotFound("post"));
            }
            sqlx::query(
                "INSERT INTO post_topics (post_id, topic, confidence, source) VALUES ($1, $2, 1.0, 'staff') \
                 ON CONFLICT (post_id, topic) DO UPDATE SET confidence = 1.0, source = 'staff'",
            )
            .bind(post.0)
            .bind(topic)
            .execute(&mut *tx)
            .await?;
            insert_audit!(tx, now, &event).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// The newest `limit` staff topic labels of `institution` with their posts'
    /// texts, newest first: the training set of its topic model.
    pub async fn topic_examples(&self, institution: InstitutionId, limit: i64) -> Result<Vec<(String, String)>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT p.text, l.topic FROM topic_labels l JOIN posts p ON p.id = l.post_id \
                 WHERE l.institution_id = $1 AND p.deleted_at IS NULL ORDER BY l.id DESC LIMIT $2",
            )
            .bind(institution.0)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Adds a term to one of `institution`'s topics (a new topic or one of the default
    /// taxonomy's), audited. Adding a term twice changes nothing.
    pub async fn add_topic_term(
        &self,
        institution: InstitutionId,
        topic: &str,
        term: &str,
        actor: &Actor,
    ) -> Result<()> {
        let (topic, term) = (topic.trim(), term.trim());
        if topic.is_empty() || topic.len() > 64 || term.is_empty() || term.len() > 128 {
            return Err(StoreError::Invalid("a topic is 1 to 64 bytes and a term 1 to 128".into()));
        }
        let now = Utc::now();
        let event = NewAuditEvent {
            institution_id: Some(institution),
            actor: actor.clone(),
            action: "topic.term_added".into(),
            object_kind: "topic".into(),
            object_id: topic.to_string(),
            before: None,
            after: Some(serde_json::json!({ "term": term })),
            origin: None,
        };
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let added = sqlx::query(
                "INSERT INTO topic_terms (institution_id, topic, term) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(institution.0)
            .bind(topic)
            .bind(term)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if added == 1 {
                insert_audit!(tx, now, &event).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// `institution`'s own topic terms, as (topic, term), by topic.
    pub async fn topic_terms(&self, institution: InstitutionId) -> Result<Vec<(String, String)>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as("SELECT topic, term FROM topic_terms WHERE institution_id = $1 ORDER BY topic, term")
                .bind(institution.0)
                .fetch_all(pool)
                .await?
        }))
    }
}

/// The analysis topics of the stored posts, as the JSON array the topic insert reads.
pub(crate) fn topic_rows(batch: &[&NewEnrichment], stored: &[i64]) -> String {
    let stored: HashSet<i64> = stored.iter().copied().collect();
    let rows: Vec<serde_json::Value> = batch
        .iter()
        .filter(|e| stored.contains(&e.post_id.0))
        .flat_map(|e| {
            e.tags
                .topics
                .iter()
                .filter(|t| t.source == TagSource::Analysis)
                .map(|t| serde_json::json!({ "p": e.post_id.0, "t": t.topic, "c": t.confidence }))
        })
        .collect();
    serde_json::Value::from(rows).to_string()
}
