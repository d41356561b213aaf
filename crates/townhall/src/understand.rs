//! Understand: the worker that analyses posts — stored ones (the `analyze_post` jobs
//! ingest enqueues, and re-analysis when the analyzer changes) and, for an import,
//! posts about to be stored — and `townhall analyze`, which analyses lines of
//! standard input.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Serialize;
use townhall_analysis::spam::{NearDuplicates, fingerprint};
use townhall_analysis::{AccountSignals, Context, Enrichment, Taxonomy, TopicModel, analyze, language, lexicon};
use townhall_core::{AccountId, InstitutionId, NewPost, PlatformEvent, Post, PostId, TagSource, Tags, TopicTag};
use townhall_store::{Analysis, Db, NewEnrichment, storable_text};

use crate::inbox;
use crate::listen::Shutdown;

/// Jobs claimed per round trip: enough that the round trips cost little next to
/// the analysis, few enough that one batch is analysed in well under a second.
const BATCH: i64 = 1024;
/// Threads one batch is analysed on at most.
const MAX_THREADS: usize = 4;
/// How long a claimed batch is ours before another worker may take it over.
const LEASE: Duration = Duration::from_secs(300);
/// How often an idle worker looks for new posts: a post is tagged within this (plus
/// the analysis itself) of being stored.
const IDLE_POLL: Duration = Duration::from_millis(250);
/// How often an institution's topic terms and model are reloaded and retrained.
const RETRAIN_EVERY: Duration = Duration::from_secs(60);
/// Staff labels a topic model learns from, newest first.
const TRAINING_EXAMPLES: i64 = 5_000;
/// Recent posts remembered for near-duplicate detection.
const NEAR_DUPLICATE_WINDOW: usize = 50_000;

/// How long a job of a failed batch waits before it is tried again.
const RETRY_AFTER: chrono::Duration = chrono::Duration::seconds(30);

/// A worker's state between batches: what it learned about accounts, the topic
/// models, and recent texts for near-duplicate detection (shared by all
/// institutions: a wave of the same text is spam wherever it lands).
pub struct Worker {
    name: String,
    institutions: HashMap<AccountId, Option<InstitutionId>>,
    institutions_topics: HashMap<InstitutionId, (Instant, Arc<Topics>)>,
    near: Option<NearDuplicates>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("name", &self.name)
            .field("institutions", &self.institutions_topics.len())
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker named `name` (names tell workers apart in job leases).
    pub fn new(name: &str) -> Worker {
        Worker {
            name: name.to_string(),
            institutions: HashMap::new(),
            institutions_topics: HashMap::new(),
            near: Some(NearDuplicates::new(NEAR_DUPLICATE_WINDOW)),
        }
    }

    /// Analyses one batch of queued posts; returns how many jobs it took. If the
    /// batch cannot be read or stored, each of its jobs is retried later (and buried
    /// after its attempts).
    pub async fn run_batch(&mut self, db: &Db) -> anyhow::Result<usize> {
        let jobs = db.claim_jobs(&self.name, &[townhall_store::ANALYZE_JOB], LEASE, Utc::now(), BATCH).await?;
        if jobs.is_empty() {
            return Ok(0);
        }
        let ids: Vec<PostId> = jobs.iter().filter_map(|j| j.payload["post_id"].as_i64()).map(PostId).collect();
        let posts = match db.posts(&ids).await {
            Ok(posts) => posts,
            Err(error) => {
                for job in &jobs {
                    db.fail_job(job.id, &self.name, &format!("{error:#}"), Utc::now() + RETRY_AFTER).await?;
                }
                return Err(error.into());
            }
        };
        let mut work: Vec<(Post, Option<Arc<Topics>>)> = Vec::with_capacity(posts.len());
        // A post gone needs nothing; an edited one is analysed as it is now (its
        // newer job then finds the analysis current and writes it again).
        for post in posts.into_iter().filter(|p| p.deleted_at.is_none()) {
            let topics = match self.institution(db, post.account_id).await? {
                Some(institution) => Some(self.topics(db, institution).await?),
                None => None,
            };
            work.push((post, topics));
        }
        let done: Vec<_> = jobs.iter().map(|j| j.id).collect();
        let mut near = self.near.take().unwrap_or_else(|| NearDuplicates::new(NEAR_DUPLICATE_WINDOW));
        // Analysis is CPU work: off the async threads that serve requests.
        let (near, batch, work) = tokio::task::spawn_blocking(move || {
            let subjects: Vec<_> = work.iter().map(|(post, topics)| (Subject::stored(post), topics.clone())).collect();
            let batch: Vec<NewEnrichment> = enrich_all(&subjects, &mut near)
                .into_iter()
                .zip(&work)
                .map(|(Analysis { tags, detail }, (post, _))| NewEnrichment {
                    post_id: post.id,
                    post_version: post.version,
                    tags,
                    detail,
                })
                .collect();
            (near, batch, work)
        })
        .await
        .context("analysis thread")?;
        self.near = Some(near);
        if let Err(error) = db.save_enrichments(&batch, Utc::now()).await {
            for id in &done {
                db.fail_job(*id, &self.name, &format!("{error:#}"), Utc::now() + RETRY_AFTER).await?;
            }
            return Err(error.into());
        }
        let arrived: Vec<inbox::Arrived> = work
            .into_iter()
            .zip(&batch)
            .map(|((post, _), enrichment)| inbox::Arrived { post, tags: enrichment.tags.clone() })
            .collect();
        if let Err(error) = inbox::file_posts(db, &arrived).await {
            // Filing is idempotent: the retried jobs analyse and file again.
            for id in &done {
                db.fail_job(*id, &self.name, &format!("{error:#}"), Utc::now() + RETRY_AFTER).await?;
            }
            return Err(error.into());
        }
        db.complete_jobs(&done, &self.name).await?;
        Ok(jobs.len())
    }

    /// Analyses the posts among `events` before they are stored (the import does,
    /// so each post is stored with its analysis and no job): returns the events and,
    /// by position, each post's analysis (`None` for other events).
    pub async fn analyse_events(
        &mut self,
        db: &Db,
        events: Vec<PlatformEvent>,
    ) -> anyhow::Result<(Vec<PlatformEvent>, Vec<Option<Analysis>>)> {
        let mut topics: Vec<Option<Arc<Topics>>> = Vec::with_capacity(events.len());
        for event in &events {
            topics.push(match event {
                PlatformEvent::Post(post) => match self.institution(db, post.account_id).await? {
                    Some(institution) => Some(self.topics(db, institution).await?),
                    None => None,
                },
                _ => None,
            });
        }
        let mut near = self.near.take().unwrap_or_else(|| NearDuplicates::new(NEAR_DUPLICATE_WINDOW));
        let (near, analyses, events) = tokio::task::spawn_blocking(move || {
            let subjects: Vec<_> = events
                .iter()
                .zip(topics)
                .filter_map(|(event, topics)| match event {
                    PlatformEvent::Post(post) => Some((Subject::incoming(post), topics)),
                    _ => None,
                })
                .collect();
            let mut analysed = enrich_all(&subjects, &mut near).into_iter();
            let analyses: Vec<Option<Analysis>> = events
                .iter()
                .map(|event| matches!(event, PlatformEvent::Post(_)).then(|| analysed.next()).flatten())
                .collect();
            (near, analyses, events)
        })
        .await
        .context("analysis thread")?;
        self.near = Some(near);
        Ok((events, analyses))
    }

    async fn institution(&mut self, db: &Db, account: Option<AccountId>) -> anyhow::Result<Option<InstitutionId>> {
        let Some(account) = account else { return Ok(None) };
        if !self.institutions.contains_key(&account) {
            // Accounts are few and change rarely: reload them all when one is new to us.
            self.institutions = db.accounts(None).await?.into_iter().map(|a| (a.id, Some(a.institution_id))).collect();
            self.institutions.entry(account).or_insert(None);
        }
        Ok(self.institutions.get(&account).copied().flatten())
    }

    /// The institution's taxonomy (the default one plus its own terms) and topic
    /// model (trained on its staff labels), rebuilt when older than [`RETRAIN_EVERY`].
    async fn topics(&mut self, db: &Db, institution: InstitutionId) -> anyhow::Result<Arc<Topics>> {
        if let Some((at, topics)) = self.institutions_topics.get(&institution)
            && at.elapsed() < RETRAIN_EVERY
        {
            return Ok(Arc::clone(topics));
        }
        let examples = db.topic_examples(institution, TRAINING_EXAMPLES).await?;
        let terms = db.topic_terms(institution).await?;
        let topics = tokio::task::spawn_blocking(move || Arc::new(Topics::build(&terms, &examples)))
            .await
            .context("training thread")?;
        self.institutions_topics.insert(institution, (Instant::now(), Arc::clone(&topics)));
        Ok(topics)
    }
}

/// What an institution adds to topic detection.
#[derive(Debug)]
pub struct Topics {
    /// The default taxonomy with the institution's terms; `None` when it has none.
    taxonomy: Option<Taxonomy>,
    /// Its model learned from staff labels.
    model: TopicModel,
}

impl Topics {
    fn build(terms: &[(String, String)], examples: &[(String, String)]) -> Topics {
        let mut extra: Vec<(String, Vec<String>)> = Vec::new();
        for (topic, term) in terms {
            match extra.iter_mut().find(|(t, _)| t == topic) {
                Some((_, list)) => list.push(term.clone()),
                None => extra.push((topic.clone(), vec![term.clone()])),
            }
        }
        Topics {
            taxonomy: (!extra.is_empty()).then(|| Taxonomy::with_extra(&extra)),
            model: TopicModel::train(examples.iter().map(|(text, topic)| (text.as_str(), topic.as_str()))),
        }
    }
}

/// What analysis reads of a post, stored or still to be stored.
struct Subject<'a> {
    text: Cow<'a, str>,
    lang_hint: Option<&'a str>,
    created_at: DateTime<Utc>,
    raw: &'a [u8],
    /// Who wrote it: the same text again from its own author is not a wave.
    author: String,
}

impl<'a> Subject<'a> {
    fn stored(post: &'a Post) -> Subject<'a> {
        Subject {
            text: Cow::Borrowed(&post.text),
            lang_hint: post.lang_hint.as_deref(),
            created_at: post.created_at,
            raw: &post.raw,
            author: post.contact_id.map_or_else(|| format!("post:{}", post.id), |c| c.to_string()),
        }
    }

    fn incoming(post: &'a NewPost) -> Subject<'a> {
        let author = match &post.author {
            Some(author) => format!("{}:{}", post.platform, author.external_id),
            None => format!("post:{}:{}", post.platform, post.external_id),
        };
        // Analysed as it will be stored, so what the analysis points at is in the text.
        let text =
            if post.text.contains('\0') { Cow::Owned(storable_text(&post.text)) } else { Cow::Borrowed(&*post.text) };
        Subject { text, lang_hint: post.lang_hint.as_deref(), created_at: post.created_at, raw: &post.raw, author }
    }
}

/// The analyses of a batch, in order, on every core: the near-duplicate counts
/// first, in arrival order (each depends on the texts before it), then the rest of
/// each post's analysis, which depends on nothing but the post.
fn enrich_all(work: &[(Subject<'_>, Option<Arc<Topics>>)], near: &mut NearDuplicates) -> Vec<Analysis> {
    let duplicates: Vec<u32> = work.iter().map(|(post, _)| near_duplicates(post, near)).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_THREADS);
    let chunk = work.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = work
            .chunks(chunk)
            .zip(duplicates.chunks(chunk))
            .map(|(posts, duplicates)| {
                scope.spawn(move || {
                    posts
                        .iter()
                        .zip(duplicates)
                        .map(|((post, topics), &duplicates)| enrich(post, topics.as_deref(), duplicates))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|part| part.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

/// How many recent posts by other authors carried nearly the same text.
fn near_duplicates(post: &Subject<'_>, near: &mut NearDuplicates) -> u32 {
    fingerprint(&lexicon::fold(&post.text)).map_or(0, |print| near.observe(print, &post.author))
}

/// One post's analysis, ready to store.
fn enrich(post: &Subject<'_>, topics: Option<&Topics>, duplicates: u32) -> Analysis {
    let context = Context {
        declared_lang: post.lang_hint,
        account: account_signals(post),
        duplicates,
        taxonomy: topics.and_then(|t| t.taxonomy.as_ref()),
        topic_model: topics.map(|t| &t.model),
        ..Context::default()
    };
    let enrichment = analyze(&post.text, &context);
    Analysis { tags: tags_of(&enrichment), detail: serde_json::to_value(&enrichment).unwrap_or_default() }
}

/// The author's account signals, from what the platform sent with the post.
fn account_signals(post: &Subject<'_>) -> AccountSignals {
    let Some(stats) = townhall_connectors::author_stats(post.raw) else { return AccountSignals::default() };
    let age_days = stats.created_at.map(|created| (post.created_at - created).num_minutes().max(0) as f32 / 1440.0);
    AccountSignals {
        age_days,
        followers: stats.followers,
        following: stats.following,
        // Over at least a day, so a new account's first post is not a burst.
        posts_per_day: stats.posts.map(|n| n as f32 / age_days.unwrap_or(1.0).max(1.0)),
    }
}

/// The fields of an enrichment the rest of Townhall acts on.
pub fn tags_of(enrichment: &Enrichment) -> Tags {
    Tags {
        analyzer_version: enrichment.version as i32,
        lang: enrichment.lang.clone(),
        sentiment: enrichment.sentiment.score,
        intent: enrichment.intent.label.as_str().to_string(),
        topics: enrichment
            .topics
            .iter()
            .map(|t| TopicTag { topic: t.topic.clone(), confidence: t.confidence, source: TagSource::Analysis })
            .collect(),
        urgency: enrichment.urgency.score,
        spam: enrichment.spam.score,
        abuse: enrichment.abuse.score,
        pii: !enrichment.pii.is_empty(),
    }
}

/// The background worker of `serve`: queues the posts whose analysis is stale
/// (new analyzer version, or never analysed), then analyses as posts arrive, until
/// `shutdown`.
pub async fn run(db: Db, mut shutdown: Shutdown) {
    let mut worker = Worker::new(&format!("analyze:{}", std::process::id()));
    let _ = tokio::task::spawn_blocking(language::warm_up).await;
    let mut requeue = true;
    loop {
        if requeue {
            // Queued in slices, so a large backlog never sits in one transaction.
            match db.enqueue_reanalysis(townhall_analysis::VERSION as i32, 10_000, Utc::now()).await {
                Ok(0) => requeue = false,
                Ok(queued) => tracing::info!(queued, "queued posts for re-analysis"),
                Err(error) => tracing::warn!(%error, "could not queue re-analysis; trying again"),
            }
        }
        let idle = match worker.run_batch(&db).await {
            Ok(0) => true,
            Ok(_) => false,
            Err(error) => {
                tracing::warn!(%error, "analysis batch failed; its jobs are retried");
                true
            }
        };
        if shutdown.is_raised() || (idle && shutdown.sleep(IDLE_POLL).await) {
            return;
        }
    }
}

/// Longest line `townhall analyze` reads; a longer one is answered with an error.
const MAX_LINE: usize = 1 << 20;

/// One line of `townhall analyze --json`: the enrichment, flat, with the redacted text.
#[derive(Debug, Serialize)]
struct AnalyzeLine<'a> {
    lang: Option<&'a str>,
    lang_confidence: f32,
    sentiment: Option<f32>,
    sentiment_confidence: f32,
    emoji: u32,
    intent: &'static str,
    intent_confidence: f32,
    topics: &'a [townhall_analysis::TopicMatch],
    urgency: &'a townhall_analysis::Urgency,
    spam: &'a townhall_analysis::Spam,
    abuse: &'a townhall_analysis::Abuse,
    pii: &'a [townhall_analysis::PiiMatch],
    redacted: String,
    version: u32,
}

/// `townhall analyze`: one text per line in, one enrichment per line out.
pub fn analyze_lines(
    input: impl Read,
    mut output: impl Write,
    json: bool,
    languages: Option<&str>,
) -> anyhow::Result<u64> {
    let detector = languages.map(|codes| {
        let chosen: Vec<_> = codes.split(',').filter_map(language::from_code).collect();
        language::Detector::new(&chosen)
    });
    let context = Context { detector: detector.as_ref(), ..Context::default() };
    let mut reader = std::io::BufReader::new(input);
    let mut line = Vec::new();
    let mut count = 0;
    loop {
        line.clear();
        let read = (&mut reader).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line).context("reading input")?;
        if read == 0 {
            break;
        }
        count += 1;
        if line.len() > MAX_LINE && line.last() != Some(&b'\n') {
            // Skip the rest of the over-long line.
            let mut rest = Vec::new();
            reader.read_until(b'\n', &mut rest).context("reading input")?;
            writeln!(
                output,
                "{}",
                serde_json::json!({ "error": { "code": "analyze.too_long", "limit_bytes": MAX_LINE } })
            )?;
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        let e = analyze(text, &context);
        if json {
            let out = AnalyzeLine {
                lang: e.lang.as_deref(),
                lang_confidence: e.lang_confidence,
                sentiment: e.sentiment.score,
                sentiment_confidence: e.sentiment.confidence,
                emoji: e.sentiment.emoji,
                intent: e.intent.label.as_str(),
                intent_confidence: e.intent.confidence,
                topics: &e.topics,
                urgency: &e.urgency,
                spam: &e.spam,
                abuse: &e.abuse,
                pii: &e.pii,
                redacted: e.redact(text),
                version: e.version,
            };
            serde_json::to_writer(&mut output, &out)?;
            writeln!(output)?;
        } else {
            writeln!(output, "{}", summary(&e))?;
        }
    }
    output.flush()?;
    Ok(count)
}

/// One readable line per enrichment.
fn summary(e: &Enrichment) -> String {
    let sentiment = e.sentiment.score.map_or_else(|| "unknown".to_string(), |s| format!("{s:+.2}"));
    let topics: Vec<&str> = e.topics.iter().map(|t| t.topic.as_str()).collect();
    let pii: Vec<String> = e
        .pii
        .iter()
        .map(|m| serde_json::to_value(m.kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default())
        .collect();
    format!(
        "lang={} ({:.2})\tsentiment={sentiment}\tintent={}\ttopics={}\turgency={:.2}\tspam={:.2}\tabuse={:.2}\tpii={}",
        e.lang.as_deref().unwrap_or("unknown"),
        e.lang_confidence,
        e.intent.label.as_str(),
        if topics.is_empty() { "-".to_string() } else { topics.join(",") },
        e.urgency.score,
        e.spam.score,
        e.abuse.score,
        if pii.is_empty() { "-".to_string() } else { pii.join(",") },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str, json: bool) -> Vec<String> {
        let mut out = Vec::new();
        analyze_lines(input.as_bytes(), &mut out, json, None).unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8(out).unwrap_or_default().lines().map(String::from).collect()
    }

    #[test]
    fn one_object_per_line_with_the_documented_fields() {
        let lines =
            run("¿Cuándo pasa el camión de la basura por Calle Esmeralda 1234?\n<script>alert(1)</script>\n\n", true);
        assert_eq!(lines.len(), 3);
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap_or_default();
        assert_eq!(first["lang"], "es");
        assert_eq!(first["intent"], "question");
        assert_eq!(first["topics"][0]["topic"], "waste");
        assert_eq!(first["pii"][0]["kind"], "address");
        assert!(first["redacted"].as_str().unwrap_or_default().contains("[address]"));
        for field in ["lang_confidence", "sentiment", "urgency", "spam", "abuse"] {
            assert!(first.get(field).is_some(), "{field}");
        }
        let empty: serde_json::Value = serde_json::from_str(&lines[2]).unwrap_or_default();
        assert_eq!(
            (empty["lang"].clone(), empty["sentiment"].clone()),
            (serde_json::Value::Null, serde_json::Value::Null)
        );
    }

    #[test]
    fn a_days_old_account_that_follows_thousands_is_a_spam_signal() {
        let raw = br#"{"id":"1","account":{"followers_count":2,"following_count":5000,"statuses_count":900,"created_at":"2026-03-01T00:00:00.000Z"}}"#;
        let post = townhall_core::Post {
            id: townhall_core::PostId(1),
            platform: townhall_core::Platform::Mastodon,
            external_id: "1".into(),
            account_id: None,
            contact_id: None,
            text: "hola".into(),
            lang_hint: None,
            created_at: "2026-03-03T00:00:00Z".parse().unwrap_or_default(),
            received_at: chrono::DateTime::default(),
            edited_at: None,
            reply_to: None,
            conversation: None,
            metrics: Default::default(),
            entities: Default::default(),
            version: 1,
            deleted_at: None,
            hidden: false,
            raw: raw.to_vec(),
        };
        let signals = account_signals(&Subject::stored(&post));
        assert_eq!((signals.age_days, signals.posts_per_day), (Some(2.0), Some(450.0)));
        let tags = enrich(&Subject::stored(&post), None, 0).tags;
        assert!(tags.spam > 0.6, "{tags:?}");
        let plain = townhall_core::Post { raw: br#"{"id":"1"}"#.to_vec(), ..post.clone() };
        assert_eq!(enrich(&Subject::stored(&plain), None, 0).tags.spam, 0.0);

        // A batch analysed on several threads gives what one post after another gives:
        // in order, the same text from many accounts counted in arrival order.
        let batch: Vec<(Post, Option<Arc<Topics>>)> = (0..60)
            .map(|i| {
                let text = if i % 3 == 0 {
                    format!("Vecinos del barrio {i}: la calle {} sigue sin luz desde el lunes", i * 7)
                } else {
                    "Compra seguidores baratos ya mismo en este enlace, oferta increíble".to_string()
                };
                let post = Post { id: PostId(i), contact_id: Some(townhall_core::ContactId(i)), text, ..plain.clone() };
                (post, None)
            })
            .collect();
        let subjects: Vec<_> = batch.iter().map(|(post, topics)| (Subject::stored(post), topics.clone())).collect();
        let together = enrich_all(&subjects, &mut NearDuplicates::new(100));
        let mut near = NearDuplicates::new(100);
        let one_by_one: Vec<Analysis> =
            subjects.iter().map(|(post, _)| enrich(post, None, near_duplicates(post, &mut near))).collect();
        assert_eq!(together.len(), 60);
        assert_eq!(together, one_by_one);
        assert!(together[59].tags.spam > together[1].tags.spam, "the fortieth copy is more suspect than the first");
    }

    #[test]
    fn a_post_about_to_be_stored_is_analysed_as_it_will_be_stored() {
        let post = NewPost {
            platform: townhall_core::Platform::X,
            external_id: "1".into(),
            account_id: None,
            author: None,
            text: "sin agua\0 desde ayer".into(),
            lang_hint: None,
            created_at: chrono::DateTime::default(),
            edited_at: None,
            reply_to: None,
            conversation: None,
            metrics: Default::default(),
            entities: Default::default(),
            raw: Vec::new(),
        };
        let subject = Subject::incoming(&post);
        assert_eq!((subject.text.as_ref(), subject.author.as_str()), ("sin agua\u{FFFD} desde ayer", "post:x:1"));
    }

    #[test]
    fn readable_lines_without_json() {
        let lines = run("Thank you for fixing the street light!\n", false);
        assert!(lines[0].starts_with("lang=en"), "{}", lines[0]);
        assert!(lines[0].contains("intent=praise"), "{}", lines[0]);
    }

    #[test]
    fn broken_and_overlong_input_does_not_stop_the_run() {
        let mut input = b"ok \xff\xfe broken bytes\n".to_vec();
        input.extend(std::iter::repeat_n(b'a', MAX_LINE + 10));
        input.extend(b"\nlast line\n");
        let mut out = Vec::new();
        assert_eq!(analyze_lines(&input[..], &mut out, true, None).unwrap_or_default(), 3);
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_default())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1]["error"]["code"], "analyze.too_long");
        assert!(lines[2].get("lang").is_some());
    }
}
