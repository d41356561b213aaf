//! Grows one institution's inbox in a demo database to CASES more cases, for W5 of
//! `bench/run` (issue 7: the inbox API over a million cases). Run it on the database
//! of a stopped `serve --demo`, then serve that database again.
//!
//! ```text
//! seed_inbox DATABASE_URL INSTITUTION_SLUG CASES
//! ```
//!
//! Each case starts as a citizen's post to one of the institution's accounts, spread
//! over its platforms and over the last three days, each from its own author. The
//! posts are stored with their tags (a question, complaint or suggestion about one of
//! a few topics, in Spanish, at the current analyzer version, so `serve` does not
//! analyse them again), and filed by the code `serve`'s worker files with
//! (`inbox::file_posts`): routed by the institution's rules to its teams and agents,
//! with deadlines that run from when it is filed. The institution's automatic
//! acknowledgements are switched off first: a million of them would keep the outbox
//! busy through the measurement. Prints one JSON object.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{Duration, Utc};
use townhall::inbox::{Arrived, file_posts};
use townhall_core::routing::RuleAction;
use townhall_core::{
    Actor, NewContact, NewPost, PlatformEvent, PostEntities, PostId, PostMetrics, TagSource, Tags, TopicTag,
};
use townhall_store::{Analysis, Db, DbOptions, EventOutcome, IngestOutcome};

/// Posts stored and filed at a time.
const BATCH: usize = 2_000;

const INTENTS: [&str; 3] = ["question", "complaint", "suggestion"];
const TOPICS: [(&str, &str); 5] = [
    ("transport", "el bus de la línea"),
    ("waste", "la basura de la calle"),
    ("water", "el agua del sector"),
    ("roads", "el bache de la avenida"),
    ("lighting", "el alumbrado del pasaje"),
];
const PLACES: [&str; 6] = ["Prat", "Esmeralda", "Brasil", "Alegre", "Sotomayor", "Los Aromos"];

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, slug, cases] = args.as_slice() else { bail!("usage: seed_inbox DATABASE_URL INSTITUTION_SLUG CASES") };
    let cases: usize = cases.parse().context("CASES is a number")?;
    let db = Db::open(&DbOptions::new(url.clone())).await?;
    let institution = db.institution_by_slug(slug).await?.with_context(|| format!("no institution {slug}"))?;
    let accounts = db.accounts(Some(institution.id)).await?;
    if accounts.is_empty() {
        bail!("{slug} has no account to write to");
    }
    let actor = Actor::System("bench".into());
    for mut rule in db.rules(institution.id).await? {
        let before = rule.actions.len();
        rule.actions.retain(|action| !matches!(action, RuleAction::Acknowledge { .. }));
        if rule.actions.len() != before {
            db.save_rule(institution.id, &rule, &actor).await?;
        }
    }

    let started = Instant::now();
    let now = Utc::now();
    let mut first = 0;
    while first < cases {
        let count = BATCH.min(cases - first);
        let mut events = Vec::with_capacity(count);
        let mut analyses = Vec::with_capacity(count);
        for n in first..first + count {
            let account = &accounts[n % accounts.len()];
            let (topic, subject) = TOPICS[n / 3 % TOPICS.len()];
            let intent = INTENTS[n % INTENTS.len()];
            let text = match intent {
                "question" => format!("¿Hasta cuándo {subject} {} {}? Vecino del número {}", PLACES[n % 6], n % 97, n),
                "complaint" => format!("Otra vez {subject} {} {} sin solución, reclamo {}", PLACES[n % 6], n % 89, n),
                _ => format!("Propongo revisar {subject} {} {} (vecina {})", PLACES[n % 6], n % 83, n),
            };
            events.push(PlatformEvent::Post(NewPost {
                platform: account.platform,
                external_id: format!("bench-seed-{n}"),
                account_id: Some(account.id),
                author: Some(NewContact {
                    external_id: format!("bench-citizen-{n}"),
                    handle: format!("vecino{n}"),
                    display_name: None,
                }),
                text,
                lang_hint: Some("es".into()),
                // Spread over the last three days, oldest first, as a backlog would be.
                created_at: now - Duration::seconds(((cases - n) as i64 * 259_200) / cases.max(1) as i64),
                edited_at: None,
                reply_to: None,
                conversation: None,
                metrics: PostMetrics::default(),
                entities: PostEntities::default(),
                raw: format!("{{\"id\":\"bench-seed-{n}\"}}").into_bytes(),
            }));
            let tags = Tags {
                analyzer_version: townhall_analysis::VERSION as i32,
                lang: Some("es".into()),
                sentiment: Some(-0.3),
                intent: intent.into(),
                topics: vec![TopicTag { topic: topic.into(), confidence: 0.8, source: TagSource::Analysis }],
                urgency: 0.2,
                spam: 0.0,
                abuse: 0.0,
                pii: false,
            };
            analyses.push(Some(Analysis { tags, detail: serde_json::json!({ "seeded": true }) }));
        }
        let tags: Vec<Tags> = analyses.iter().flatten().map(|a| a.tags.clone()).collect();
        let outcomes = db.apply_analysed_events(&events, analyses).await?;
        let mut tags_of = HashMap::with_capacity(count);
        for (outcome, tags) in outcomes.into_iter().zip(tags) {
            match outcome {
                EventOutcome::Post(IngestOutcome::Inserted(id) | IngestOutcome::Duplicate(id)) => {
                    tags_of.insert(id, tags)
                }
                other => bail!("unexpected outcome {other:?}"),
            };
        }
        let ids: Vec<PostId> = tags_of.keys().copied().collect();
        let arrived: Vec<Arrived> = db
            .posts(&ids)
            .await?
            .into_iter()
            .filter_map(|post| Some(Arrived { tags: tags_of.remove(&post.id)?, post }))
            .collect();
        let filed = file_posts(&db, &arrived).await?;
        if first == 0 && filed.opened == 0 {
            bail!("the first {count} posts opened no case: were they seeded before, or does {slug} not route them?");
        }
        first += count;
    }
    let counts = db.case_counts(institution.id).await?;
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    println!(
        "{}",
        serde_json::json!({
            "institution": slug, "posts": cases, "cases": total, "seconds": started.elapsed().as_secs_f64(),
        })
    );
    db.close().await;
    Ok(())
}
