//! The analysis worker of `serve`: a stored post is tagged within seconds, stale
//! analyses are redone, and an institution's own topic terms and staff labels apply
//! to its posts only.

use std::time::{Duration, Instant};

use chrono::Utc;
use townhall::listen::Shutdown;
use townhall::understand;
use townhall_core::{Actor, NewPost, Platform, PostId};
use townhall_store::{Db, DbOptions, NewAccount, NewEnrichment};

fn post(id: &str, text: &str) -> NewPost {
    NewPost {
        platform: Platform::Mastodon,
        external_id: id.into(),
        account_id: None,
        author: None,
        text: text.into(),
        lang_hint: None,
        created_at: Utc::now(),
        edited_at: None,
        reply_to: None,
        conversation: None,
        metrics: Default::default(),
        entities: Default::default(),
        raw: format!("{{\"id\":\"{id}\"}}").into_bytes(),
    }
}

async fn open(dir: &tempfile::TempDir) -> Db {
    Db::open(&DbOptions::new(format!("sqlite://{}", dir.path().join("t.db").display()))).await.unwrap()
}

/// Waits (up to 30 s) until `post` has an analysis by the current analyzer.
async fn analysed(db: &Db, post: PostId) -> townhall_core::Tags {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((tags, _)) = db.enrichment(post).await.unwrap()
            && tags.analyzer_version == townhall_analysis::VERSION as i32
        {
            return tags;
        }
        assert!(Instant::now() < deadline, "post {post} was not analysed in 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_post_is_tagged_within_seconds_and_a_stale_analysis_is_redone() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir).await;
    let old = db.ingest_posts(&[post("1", "The bus stop on Main Street has no shelter")]).await.unwrap()[0].post_id();
    // An analysis by an older analyzer, as an upgrade leaves behind.
    let stale = townhall_core::Tags {
        analyzer_version: 0,
        lang: None,
        sentiment: None,
        intent: "other".into(),
        topics: vec![],
        urgency: 0.0,
        spam: 0.0,
        abuse: 0.0,
        pii: false,
    };
    let enrichment = NewEnrichment { post_id: old, post_version: 1, tags: stale, detail: serde_json::json!({}) };
    db.save_enrichments(&[enrichment], Utc::now()).await.unwrap();

    let (stop, shutdown) = Shutdown::new();
    let worker = tokio::spawn(understand::run(db.clone(), shutdown));
    let redone = analysed(&db, old).await;
    assert!(redone.topics.iter().any(|t| t.topic == "transport"), "{redone:?}");

    let started = Instant::now();
    let new =
        db.ingest_posts(&[post("2", "¿Cuándo arreglan el bache de la calle Prat? Ya van dos semanas")]).await.unwrap()
            [0]
        .post_id();
    let tags = analysed(&db, new).await;
    let latency = started.elapsed();
    assert_eq!((tags.lang.as_deref(), tags.intent.as_str()), (Some("es"), "question"));
    assert_eq!(tags.topics[0].topic, "roads");
    assert!(latency < Duration::from_secs(10), "tagged in {latency:?}");

    stop.send(true).unwrap();
    worker.await.unwrap();
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_institution_s_terms_and_staff_labels_teach_it_its_own_topics() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir).await;
    let muni =
        db.create_institution(&crate::support::municipality("muni", "Municipalidad"), &Actor::cli()).await.unwrap();
    let account = db
        .create_account(
            &NewAccount {
                institution_id: muni.id,
                platform: Platform::Mastodon,
                handle: "@muni@social.example".into(),
                display_name: "Muni".into(),
                external_id: None,
                official: None,
            },
            &Actor::cli(),
        )
        .await
        .unwrap();
    let ours = |id: &str, text: &str| NewPost { account_id: Some(account.id), ..post(id, text) };
    let labelled = [
        ("l1", "el mercado persa está cerrado hoy", "markets"),
        ("l2", "horario del mercado persa", "markets"),
        ("l3", "feria libre del mercado en la costanera", "markets"),
        ("l4", "puestos del mercado sin permiso", "markets"),
        ("l5", "la piscina municipal abre en enero", "sports"),
        ("l6", "canchas de la piscina y el estadio", "sports"),
    ];
    let outcomes = db.ingest_posts(&labelled.map(|(id, text, _)| ours(id, text))).await.unwrap();
    for (outcome, (_, _, topic)) in outcomes.iter().zip(labelled) {
        db.label_topic(muni.id, outcome.post_id(), topic, None, &Actor::cli()).await.unwrap();
    }
    db.add_topic_term(muni.id, "libraries", "biblioteca Santiago Severín", &Actor::cli()).await.unwrap();
    let (stop, shutdown) = Shutdown::new();
    let worker = tokio::spawn(understand::run(db.clone(), shutdown));
    let termed =
        db.ingest_posts(&[ours("t1", "La Biblioteca Santiago Severín cierra temprano")]).await.unwrap()[0].post_id();
    let topics: Vec<String> = analysed(&db, termed).await.topics.into_iter().map(|t| t.topic).collect();
    assert!(topics.contains(&"libraries".to_string()), "the institution's own term: {topics:?}");
    let new =
        db.ingest_posts(&[ours("n1", "¿A qué hora abre el mercado persa el domingo?")]).await.unwrap()[0].post_id();
    let topics: Vec<String> = analysed(&db, new).await.topics.into_iter().map(|t| t.topic).collect();
    assert!(topics.contains(&"markets".to_string()), "{topics:?}");
    let elsewhere =
        db.ingest_posts(&[post("n2", "¿A qué hora abre el mercado persa el domingo?")]).await.unwrap()[0].post_id();
    let topics: Vec<String> = analysed(&db, elsewhere).await.topics.into_iter().map(|t| t.topic).collect();
    assert!(!topics.contains(&"markets".to_string()), "another institution's labels do not apply: {topics:?}");
    stop.send(true).unwrap();
    worker.await.unwrap();
    db.close().await;
}
