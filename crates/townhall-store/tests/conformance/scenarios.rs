//! One scenario per behaviour of `Db`; each runs unchanged on both backends.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures_util::TryStreamExt;
use townhall_core::canned::CannedAnswer;
use townhall_core::deadline::{DeadlinePolicy, DeadlineState};
use townhall_core::reply::{ReplyKind, ReplyStatus};
use townhall_core::routing::Rule;
use townhall_core::settings::InboxSettings;
use townhall_core::{
    AccountId, Actor, AuditEventId, CaseAction, CaseStatus, CountryCode, Engagement, EngagementKind, InstitutionKind,
    Level, MediaRef, MetricSnapshot, NewContact, NewInstitution, NewPost, Platform, PlatformEvent, PostEntities,
    PostId, PostMetrics, Priority, Role, SearchQuery, TagSource, Tags, TopicTag, transition,
};
use townhall_store::{
    Access, AccountCredentials, Analysis, CaseQuery, Db, DeadlineKind, EventOutcome, IngestOutcome, NewAccount,
    NewCase, NewEnrichment, NewJob, NewReply, NewUser, PostFilter, SEARCH_WINDOW, SEND_REPLY_JOB, StoreError,
    UserChange,
};

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_760_000_000 + minutes * 60, 0).unwrap()
}

fn institution(slug: &str) -> NewInstitution {
    NewInstitution {
        slug: slug.into(),
        name: format!("Municipalidad de {slug}"),
        kind: InstitutionKind::Government,
        level: Level::Local,
        country: CountryCode::parse("CL").unwrap(),
        parent: None,
        jurisdiction: Some("Región de Valparaíso".into()),
    }
}

fn post(external_id: &str, text: &str) -> NewPost {
    NewPost {
        platform: Platform::Mastodon,
        external_id: external_id.into(),
        account_id: None,
        author: Some(NewContact {
            external_id: "acct-1".into(),
            handle: "@ana@mastodon.social".into(),
            display_name: Some("Ana".into()),
        }),
        text: text.into(),
        lang_hint: Some("es".into()),
        created_at: t(0),
        edited_at: None,
        reply_to: None,
        conversation: Some(external_id.into()),
        metrics: PostMetrics { likes: 3, ..PostMetrics::default() },
        entities: PostEntities::default(),
        raw: format!("{{\"id\":\"{external_id}\"}}").into_bytes(),
    }
}

/// The institution's Mastodon account `@valpo@mastodon.cl`.
async fn mastodon_account(db: &Db, institution: townhall_core::InstitutionId) -> townhall_core::Account {
    let account = NewAccount {
        institution_id: institution,
        platform: Platform::Mastodon,
        handle: "@valpo@mastodon.cl".into(),
        display_name: "Valpo".into(),
        external_id: None,
        official: None,
    };
    db.create_account(&account, &Actor::cli()).await.unwrap()
}

async fn audit_actions(db: &Db) -> Vec<String> {
    db.audit_events(None, AuditEventId(0), 1000).await.unwrap().into_iter().map(|e| e.action).collect()
}

pub async fn migrations_are_idempotent(db: Db) {
    assert_eq!(db.migrate().await.unwrap(), 0, "a migrated database needs no migration");
    db.ping().await.unwrap();
    assert!(db.is_empty().await.unwrap());
    db.create_institution(&institution("valpo"), &Actor::cli()).await.unwrap();
    assert!(!db.is_empty().await.unwrap());
}

pub async fn institutions_are_created_listed_and_audited(db: Db) {
    let national = db
        .create_institution(
            &NewInstitution { slug: "gob-cl".into(), level: Level::National, ..institution("gob-cl") },
            &Actor::cli(),
        )
        .await
        .unwrap();
    let city = db
        .create_institution(&NewInstitution { parent: Some(national.id), ..institution("valpo") }, &Actor::cli())
        .await
        .unwrap();
    assert_eq!(city.parent, Some(national.id));
    assert_eq!(city.jurisdiction.as_deref(), Some("Región de Valparaíso"));
    assert_eq!(db.institution_by_slug("valpo").await.unwrap(), Some(city.clone()));
    assert_eq!(db.institution(national.id).await.unwrap(), Some(national.clone()));
    assert_eq!(db.institution_by_slug("nowhere").await.unwrap(), None);
    assert_eq!(db.institutions().await.unwrap().len(), 2);

    let duplicate = db.create_institution(&institution("valpo"), &Actor::cli()).await.unwrap_err();
    assert!(matches!(duplicate, StoreError::Conflict(_)), "{duplicate:?}");
    let invalid = db.create_institution(&institution("Bad Slug"), &Actor::cli()).await.unwrap_err();
    assert_eq!(invalid.code(), "store.invalid");

    let events = db.audit_events(Some(city.id), AuditEventId(0), 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].action.as_str(), events[0].object_id.as_str()),
        ("institution.create", city.id.to_string().as_str())
    );
    assert_eq!(events[0].actor, Actor::cli());
}

pub async fn teams_users_and_tokens(db: Db) {
    let valpo = db.create_institution(&institution("valpo"), &Actor::cli()).await.unwrap();
    let team = db.create_team(valpo.id, "Transporte", &Actor::cli()).await.unwrap();
    assert_eq!(db.teams(valpo.id).await.unwrap(), vec![team.clone()]);
    assert!(matches!(db.create_team(valpo.id, "Transporte", &Actor::cli()).await, Err(StoreError::Conflict(_))));
    assert!(matches!(db.create_team(valpo.id, "  ", &Actor::cli()).await, Err(StoreError::Invalid(_))));

    let new = NewUser {
        institution_id: valpo.id,
        email: " Ana@Valpo.CL ".into(),
        name: "Ana Pérez".into(),
        role: Role::Agent,
        team_id: Some(team.id),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
    };
    let ana = db.create_user(&new, &Actor::cli()).await.unwrap();
    assert_eq!(
        (ana.email.as_str(), ana.role, ana.team_id, ana.active),
        ("ana@valpo.cl", Role::Agent, Some(team.id), true)
    );
    assert_eq!(db.user(ana.id).await.unwrap(), Some(ana.clone()));
    assert_eq!(db.users(valpo.id).await.unwrap(), vec![ana.clone()]);
    let (found, hash) = db.user_credentials("ANA@valpo.cl").await.unwrap().unwrap();
    assert_eq!((found, hash), (ana.clone(), new.password_hash.clone()));
    assert_eq!(db.user_credentials("nobody@valpo.cl").await.unwrap(), None);
    assert!(matches!(db.create_user(&new, &Actor::cli()).await, Err(StoreError::Conflict(_))));
    assert!(matches!(
        db.create_user(&NewUser { email: "not-an-email".into(), ..new.clone() }, &Actor::cli()).await,
        Err(StoreError::Invalid(_))
    ));

    let token = [7u8; 32];
    let token_id = db.create_api_token(&ana, "laptop", &token, &Actor::User(ana.id)).await.unwrap();
    assert_eq!(db.user_by_token(&token).await.unwrap(), Some(ana.clone()));
    assert_eq!(db.user_by_token(&[8u8; 32]).await.unwrap(), None);
    let stranger = db.create_institution(&institution("stranger"), &Actor::cli()).await.unwrap();
    assert!(
        matches!(
            db.revoke_api_token(token_id, Some((stranger.id, None)), &Actor::cli()).await,
            Err(StoreError::NotFound(_))
        ),
        "another institution cannot revoke it"
    );
    db.revoke_api_token(token_id, None, &Actor::cli()).await.unwrap();
    assert_eq!(db.user_by_token(&token).await.unwrap(), None, "a revoked token authenticates no one");
    assert!(matches!(db.revoke_api_token(token_id, None, &Actor::cli()).await, Err(StoreError::NotFound(_))));

    let events = db.audit_events(Some(valpo.id), AuditEventId(0), 100).await.unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["institution.create", "team.create", "user.create", "token.create", "token.revoke"]);
    let user_event = serde_json::to_string(&events[2]).unwrap();
    assert!(!user_event.contains("argon2"), "the audit log never holds a password hash: {user_event}");
}

pub async fn accounts_belong_to_institutions(db: Db) {
    let valpo = db.create_institution(&institution("valpo"), &Actor::cli()).await.unwrap();
    let other = db.create_institution(&institution("other"), &Actor::cli()).await.unwrap();
    let new = NewAccount {
        institution_id: valpo.id,
        platform: Platform::Bluesky,
        handle: "valpo.cl".into(),
        display_name: "Municipalidad de Valparaíso".into(),
        external_id: Some("did:plc:valpo".into()),
        official: None,
    };
    let account = db.create_account(&new, &Actor::cli()).await.unwrap();
    assert!(!account.is_personal());
    let mayor = db
        .create_account(
            &NewAccount { handle: "alcaldesa.valpo.cl".into(), official: Some("Alcaldesa".into()), ..new.clone() },
            &Actor::cli(),
        )
        .await
        .unwrap();
    assert!(mayor.is_personal());
    db.create_account(
        &NewAccount { institution_id: other.id, handle: "other.cl".into(), ..new.clone() },
        &Actor::cli(),
    )
    .await
    .unwrap();
    assert_eq!(db.accounts(Some(valpo.id)).await.unwrap().len(), 2);
    assert_eq!(db.accounts(None).await.unwrap().len(), 3);
    assert!(matches!(db.create_account(&new, &Actor::cli()).await, Err(StoreError::Conflict(_))));
}

pub async fn ingest_is_idempotent_and_keeps_raw_bytes(db: Db) {
    let mut first = post("109", "¿A qué hora abre el CESFAM?\0");
    first.raw = b"{\"content\":\"\xff\xfe\0\"}".to_vec();
    let id = match db.ingest_post(&first).await.unwrap() {
        IngestOutcome::Inserted(id) => id,
        other => panic!("expected an insert, got {other:?}"),
    };
    assert_eq!(db.ingest_post(&first).await.unwrap(), IngestOutcome::Duplicate(id));
    let stored = db.post(id).await.unwrap().unwrap();
    assert_eq!(stored.raw, first.raw, "the raw payload is kept byte for byte");
    assert_eq!(stored.text, "¿A qué hora abre el CESFAM?\u{FFFD}", "NUL in text becomes U+FFFD on both backends");
    assert_eq!((stored.version, stored.metrics.likes, stored.lang_hint.as_deref()), (1, 3, Some("es")));
    assert!(stored.contact_id.is_some());
    assert_eq!(db.post_by_external_id(Platform::Mastodon, "109").await.unwrap().map(|p| p.id), Some(id));
    assert_eq!(db.post_by_external_id(Platform::X, "109").await.unwrap(), None, "ids are unique per platform only");
    assert_eq!(db.post_stats().await.unwrap().total, 1);
    assert_eq!(db.job_counts().await.unwrap().queued, 1, "one analysis job for one text, enqueued with it");
}

pub async fn edits_become_versions(db: Db) {
    let id = db.ingest_post(&post("200", "El semáforo está roto")).await.unwrap().post_id();
    let edit =
        NewPost { text: "El semáforo de Av. Brasil está roto".into(), edited_at: Some(t(5)), ..post("200", "") };
    assert_eq!(db.ingest_post(&edit).await.unwrap(), IngestOutcome::Edited(id, 2));
    assert_eq!(db.ingest_post(&edit).await.unwrap(), IngestOutcome::Duplicate(id), "a replayed edit adds nothing");
    assert_eq!(db.ingest_post(&post("200", "El semáforo está roto")).await.unwrap(), IngestOutcome::Duplicate(id));
    let stored = db.post(id).await.unwrap().unwrap();
    assert_eq!(
        (stored.version, stored.text.as_str(), stored.edited_at),
        (2, "El semáforo de Av. Brasil está roto", Some(t(5)))
    );
    let versions = db.post_versions(id).await.unwrap();
    let texts: Vec<&str> = versions.iter().map(|v| v.text.as_str()).collect();
    assert_eq!(texts, ["El semáforo está roto", "El semáforo de Av. Brasil está roto"]);
    assert_eq!(versions[1].at, t(5));
    assert_eq!(db.job_counts().await.unwrap().queued, 2, "each version is analysed");
}

pub async fn deletions_become_tombstones(db: Db) {
    let id = db.ingest_post(&post("300", "texto original")).await.unwrap().post_id();
    assert_eq!(
        db.tombstone_post(Platform::Mastodon, "300", t(9), b"{\"event\":\"delete\"}").await.unwrap(),
        (id, true)
    );
    assert_eq!(db.tombstone_post(Platform::Mastodon, "300", t(10), b"{}").await.unwrap(), (id, false));
    let stored = db.post(id).await.unwrap().unwrap();
    assert_eq!((stored.deleted_at, stored.text.as_str()), (Some(t(9)), "texto original"), "deleted, never destroyed");

    // The deletion arrives before the post (streams do not promise order).
    let (early, changed) = db.tombstone_post(Platform::Mastodon, "301", t(3), b"{}").await.unwrap();
    assert!(changed);
    assert_eq!(db.recent_posts(&PostFilter::default(), 10).await.unwrap().len(), 1, "an empty tombstone is not listed");
    assert_eq!(db.ingest_post(&post("301", "llegó tarde")).await.unwrap(), IngestOutcome::FilledTombstone(early));
    let filled = db.post(early).await.unwrap().unwrap();
    assert_eq!((filled.text.as_str(), filled.version, filled.deleted_at), ("llegó tarde", 1, Some(t(3))));
    assert_eq!(db.post_stats().await.unwrap().deleted, 2);
}

pub async fn a_batch_is_stored_whole(db: Db) {
    let outcomes = db.ingest_posts(&[post("1", "uno"), post("1", "uno"), post("2", "dos")]).await.unwrap();
    assert!(
        matches!(outcomes[..], [IngestOutcome::Inserted(a), IngestOutcome::Duplicate(b), IngestOutcome::Inserted(_)] if a == b)
    );
    // A batch that fails part-way stores none of it.
    let mut bad = post("4", "cuatro");
    bad.account_id = Some(AccountId(999_999));
    assert!(db.ingest_posts(&[post("3", "tres"), bad]).await.is_err());
    assert_eq!(db.post_by_external_id(Platform::Mastodon, "3").await.unwrap(), None);
    assert_eq!(db.post_stats().await.unwrap().total, 2);
}

pub async fn concurrent_ingest_of_one_post_stores_it_once(db: Db) {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { db.ingest_post(&post("77", "mismo post")).await })
        })
        .collect();
    let mut inserted = 0;
    for task in tasks {
        if let IngestOutcome::Inserted(_) = task.await.unwrap().unwrap() {
            inserted += 1;
        }
    }
    assert_eq!(inserted, 1);
    assert_eq!(db.post_stats().await.unwrap().total, 1);
}

pub async fn search_matches_words_phrases_and_filters(db: Db) {
    let valpo = db.create_institution(&institution("valpo"), &Actor::cli()).await.unwrap();
    let account = mastodon_account(&db, valpo.id).await;
    let mut ours = post("1", "La micro de Valparaíso no pasó por la línea 4");
    ours.account_id = Some(account.id);
    db.ingest_posts(&[
        ours,
        NewPost { created_at: t(1), ..post("2", "Basura en la playa de Valparaíso, spam spam") },
        NewPost { platform: Platform::X, ..post("3", "The bus in Valparaiso was late again") },
        post("4", "<script>alert(1)</script> OR NEAR col:x"),
    ])
    .await
    .unwrap();
    let ids = |posts: Vec<townhall_core::Post>| posts.into_iter().map(|p| p.external_id).collect::<Vec<_>>();
    let search = |text: &str, filter: PostFilter| {
        let db = db.clone();
        let query = SearchQuery::parse(text).unwrap();
        async move { db.search_posts(&query, &filter, 50).await.unwrap() }
    };
    let mut all = ids(search("VALPARAISO", PostFilter::default()).await);
    all.sort();
    assert_eq!(all, ["1", "2", "3"], "case and accents are ignored");
    assert_eq!(ids(search("\"línea 4\"", PostFilter::default()).await), ["1"]);
    assert_eq!(ids(search("la", PostFilter::default()).await), ["1", "2"], "the better match first");
    assert!(search("\"4 línea\"", PostFilter::default()).await.is_empty(), "a phrase keeps its order");
    assert_eq!(ids(search("valparaíso -spam -bus", PostFilter::default()).await), ["1"]);
    assert_eq!(
        ids(search("valparaiso", PostFilter { institution: Some(valpo.id), ..PostFilter::default() }).await),
        ["1"]
    );
    assert_eq!(
        ids(search("valparaiso", PostFilter { platform: Some(Platform::X), ..PostFilter::default() }).await),
        ["3"]
    );
    assert_eq!(ids(search("script OR near", PostFilter::default()).await), ["4"], "operators are plain words");
    assert!(search("inexistente", PostFilter::default()).await.is_empty());

    let recent = ids(db.recent_posts(&PostFilter::default(), 2).await.unwrap());
    assert_eq!(recent, ["2", "4"], "newest first, then by id");
    let stats = db.post_stats().await.unwrap();
    assert_eq!(stats.by_platform, vec![(Platform::Mastodon, 3), (Platform::X, 1)]);
    assert_eq!((stats.total, stats.by_institution), (4, vec![(valpo.id, 1)]), "posts to no account count in the total");
}

pub async fn search_ranks_the_newest_matches(db: Db) {
    // The oldest post is the best match and the only one on X; the window's worth of
    // newer, weaker matches follows it.
    let mut posts = vec![NewPost { platform: Platform::X, ..post("old", "tren tren tren tren") }];
    let window = usize::try_from(SEARCH_WINDOW).unwrap();
    posts.extend((0..window).map(|i| post(&format!("new-{i}"), &format!("el tren {i} pasó lleno por la estación"))));
    db.ingest_posts(&posts).await.unwrap();
    let query = SearchQuery::parse("tren").unwrap();
    let found = db.search_posts(&query, &PostFilter::default(), 50).await.unwrap();
    assert_eq!(found.len(), 50);
    assert!(found.iter().all(|p| p.external_id.starts_with("new-")), "a match older than the window is left out");
    let on_x = PostFilter { platform: Some(Platform::X), ..PostFilter::default() };
    let found = db.search_posts(&query, &on_x, 50).await.unwrap();
    assert_eq!(
        found.iter().map(|p| p.external_id.as_str()).collect::<Vec<_>>(),
        ["old"],
        "the window counts matches that pass the filters"
    );
}

pub async fn cases_are_scoped_and_transitions_audited(db: Db) {
    let valpo = db.create_institution(&institution("valpo"), &Actor::cli()).await.unwrap();
    let other = db.create_institution(&institution("other"), &Actor::cli()).await.unwrap();
    let team = db.create_team(valpo.id, "Aseo", &Actor::cli()).await.unwrap();
    let p1 = db.ingest_post(&post("10", "Hay basura en calle Condell")).await.unwrap().post_id();
    let p2 = db.ingest_post(&NewPost { created_at: t(2), ..post("11", "¿Alguien vendrá?") }).await.unwrap().post_id();
    let new = NewCase {
        institution_id: valpo.id,
        contact_id: None,
        subject: "Basura en calle Condell".into(),
        platform: Some(Platform::Mastodon),
        priority: Priority::Normal,
        team_id: Some(team.id),
        assignee: None,
        tags: Vec::new(),
        first_response_due: None,
        resolution_due: None,
        post_ids: vec![p2, p1],
    };
    let case = db.create_case(&new, &Actor::cli()).await.unwrap();
    assert_eq!((case.status, case.version, case.team_id), (CaseStatus::New, 1, Some(team.id)));
    assert_eq!(db.case(case.id, other.id).await.unwrap(), None, "another institution cannot see it");
    assert!(db.case_posts(case.id, other.id).await.unwrap().is_empty());
    let posts: Vec<_> = db.case_posts(case.id, valpo.id).await.unwrap().into_iter().map(|p| p.id).collect();
    assert_eq!(posts, [p1, p2], "oldest first");
    assert!(
        matches!(
            db.create_case(&NewCase { post_ids: vec![p1], ..new.clone() }, &Actor::cli()).await,
            Err(StoreError::Conflict(_))
        ),
        "a post is in one case"
    );

    let (opened, events) = transition(&case, &CaseAction::Open, t(3)).unwrap();
    db.save_case_transition(&case, &opened, &CaseAction::Open, &events, &Actor::cli(), Some("127.0.0.1"))
        .await
        .unwrap();
    let stale = transition(&case, &CaseAction::Close { reason: Some(townhall_core::CloseReason::Spam) }, t(4)).unwrap();
    let conflict =
        db.save_case_transition(&case, &stale.0, &CaseAction::Open, &stale.1, &Actor::cli(), None).await.unwrap_err();
    assert_eq!(conflict.code(), "store.conflict", "a stale write is refused");
    let (pending, events) = transition(&opened, &CaseAction::Respond, t(5)).unwrap();
    db.save_case_transition(&opened, &pending, &CaseAction::Respond, &events, &Actor::cli(), None).await.unwrap();
    assert_eq!(db.case(case.id, valpo.id).await.unwrap(), Some((pending.clone(), Access::Owner)));

    assert_eq!(db.cases(valpo.id, None, 10).await.unwrap(), vec![pending.clone()]);
    assert_eq!(db.cases(valpo.id, Some(CaseStatus::New), 10).await.unwrap(), vec![]);
    assert!(db.cases(other.id, None, 10).await.unwrap().is_empty());
    assert_eq!(db.case_counts(valpo.id).await.unwrap(), vec![(CaseStatus::Pending, 1)]);

    let events = db.audit_events(Some(valpo.id), AuditEventId(0), 100).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!((last.action.as_str(), last.origin.as_deref()), ("case.respond", None));
    assert_eq!(last.before.as_ref().unwrap()["status"], "open");
    assert_eq!(last.after.as_ref().unwrap()["case"]["status"], "pending");
    assert!(audit_actions(&db).await.contains(&"case.open".to_owned()));
}

pub async fn metric_snapshots_form_series(db: Db) {
    let valpo = db.create_institution(&institution("valpo"), &Actor::cli()).await.unwrap();
    let account = db
        .create_account(
            &NewAccount {
                institution_id: valpo.id,
                platform: Platform::X,
                handle: "@MuniValpo".into(),
                display_name: "Muni Valpo".into(),
                external_id: Some("12345".into()),
                official: None,
            },
            &Actor::cli(),
        )
        .await
        .unwrap();
    let snap = |minute, followers| MetricSnapshot {
        account_id: account.id,
        at: t(minute),
        followers,
        following: 10,
        posts: 5,
        likes: None,
    };
    assert_eq!(db.record_metrics(&[snap(0, 100), snap(60, 120), snap(120, 150)]).await.unwrap(), 3);
    assert_eq!(db.record_metrics(&[snap(60, 999)]).await.unwrap(), 0, "a snapshot is recorded once");
    let series = db.metric_series(account.id, t(30), t(120)).await.unwrap();
    assert_eq!(db.all_metric_series(t(30), t(120)).await.unwrap(), series, "one account: the same series");
    assert_eq!(series.iter().map(|s| s.followers).collect::<Vec<_>>(), [120, 150]);
    assert_eq!(db.latest_metrics(account.id).await.unwrap(), Some(snap(120, 150)));
    assert_eq!(db.latest_metrics(AccountId(424242)).await.unwrap(), None);
}

fn job(key: &str, run_at: Option<DateTime<Utc>>) -> NewJob {
    NewJob {
        kind: "test".into(),
        payload: serde_json::json!({ "key": key }),
        dedupe_key: Some(key.into()),
        run_at,
        max_attempts: 2,
    }
}

pub async fn jobs_are_claimed_once_retried_and_buried(db: Db) {
    let lease = Duration::from_secs(60);
    db.enqueue(&job("a", Some(t(0)))).await.unwrap();
    db.enqueue(&job("a", Some(t(0)))).await.unwrap();
    db.enqueue(&job("later", Some(t(100)))).await.unwrap();
    assert_eq!(db.job_counts().await.unwrap().queued, 2, "a queued key is not enqueued twice");

    assert_eq!(db.claim_job("w1", &["other"], lease, t(1)).await.unwrap(), None, "only the asked kinds");
    let a = db.claim_job("w1", &["test"], lease, t(1)).await.unwrap().unwrap();
    assert_eq!((a.payload["key"].as_str(), a.attempts), (Some("a"), 1));
    assert_eq!(db.claim_job("w2", &["test"], lease, t(1)).await.unwrap(), None, "claimed jobs and future jobs wait");
    assert!(matches!(db.complete_job(a.id, "w2").await, Err(StoreError::Conflict(_))), "only the holder completes");

    // Failure: retried later, then buried after max_attempts.
    assert!(!db.fail_job(a.id, "w1", "timeout", t(5)).await.unwrap());
    assert_eq!(db.claim_job("w1", &["test"], lease, t(4)).await.unwrap(), None, "not before its retry time");
    let again = db.claim_job("w1", &["test"], lease, t(5)).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (a.id, 2));
    assert!(db.fail_job(again.id, "w1", "timeout again", t(6)).await.unwrap(), "dead after max_attempts");
    assert_eq!(db.job_counts().await.unwrap().dead, 1);

    // A worker that dies keeps its job only until the lease runs out.
    let later = db.claim_job("crashed", &["test"], lease, t(100)).await.unwrap().unwrap();
    assert_eq!(db.claim_job("w2", &["test"], lease, t(100)).await.unwrap(), None);
    let rescued = db.claim_job("w2", &["test"], lease, t(102)).await.unwrap().unwrap();
    assert_eq!(rescued.id, later.id);
    assert!(db.complete_job(rescued.id, "crashed").await.is_err());
    db.complete_job(rescued.id, "w2").await.unwrap();
    assert_eq!(db.job_counts().await.unwrap(), townhall_store::JobCounts { queued: 0, running: 0, dead: 1 });
    db.enqueue(&job("later", None)).await.unwrap();
    assert_eq!(db.job_counts().await.unwrap().queued, 1, "a finished key can be enqueued again");
}

pub async fn concurrent_workers_never_share_a_job(db: Db) {
    for i in 0..40 {
        db.enqueue(&job(&format!("j{i}"), Some(t(0)))).await.unwrap();
    }
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let db = db.clone();
            tokio::spawn(async move {
                let name = format!("w{w}");
                let mut done = Vec::new();
                while let Some(job) = db.claim_job(&name, &["test"], Duration::from_secs(60), t(1)).await.unwrap() {
                    db.complete_job(job.id, &name).await.unwrap();
                    done.push(job.id);
                }
                done
            })
        })
        .collect();
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 40, "every job ran exactly once");
}

pub async fn audit_log_pages_streams_and_refuses_edits(db: Db) {
    let a = db.create_institution(&institution("a"), &Actor::cli()).await.unwrap();
    db.create_institution(&institution("b"), &Actor::System("demo".into())).await.unwrap();
    db.create_team(a.id, "Prensa", &Actor::cli()).await.unwrap();
    let first_page = db.audit_events(None, AuditEventId(0), 2).await.unwrap();
    assert_eq!(first_page.len(), 2);
    let rest = db.audit_events(None, first_page[1].id, 10).await.unwrap();
    assert_eq!(rest.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["team.create"]);
    assert_eq!(db.audit_events(Some(a.id), AuditEventId(0), 10).await.unwrap().len(), 2);
    let streamed: Vec<_> = db.stream_audit().try_collect().await.unwrap();
    assert_eq!(streamed.len(), 3);
    assert_eq!(streamed[1].actor, Actor::System("demo".into()));
    assert!(streamed.windows(2).all(|w| w[0].id < w[1].id));

    let (update, delete) = ("UPDATE audit_events SET action = 'forged'", "DELETE FROM audit_events");
    let refused = match &db {
        Db::Sqlite(pool) => {
            (sqlx::query(update).execute(pool).await.is_err(), sqlx::query(delete).execute(pool).await.is_err())
        }
        Db::Postgres(pool) => {
            (sqlx::query(update).execute(pool).await.is_err(), sqlx::query(delete).execute(pool).await.is_err())
        }
    };
    assert_eq!(refused, (true, true), "the database itself refuses to rewrite history");
    assert_eq!(db.stream_audit().try_collect::<Vec<_>>().await.unwrap(), streamed);
}

pub async fn posts_stream_in_order_with_raw_payloads(db: Db) {
    for i in 0..250 {
        db.ingest_post(&post(&format!("s{i}"), &format!("post número {i}"))).await.unwrap();
    }
    let streamed: Vec<_> = db.stream_posts().try_collect().await.unwrap();
    assert_eq!(streamed.len(), 250);
    assert!(streamed.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(streamed[42].raw, b"{\"id\":\"s42\"}");
}

pub async fn entities_are_kept_with_each_version(db: Db) {
    let entities = PostEntities {
        mentions: vec!["muni_valpo".into()],
        hashtags: vec!["Valparaíso".into()],
        links: vec!["https://example.org/a?b=1".into()],
        media: vec![MediaRef {
            kind: "image".into(),
            url: "https://example.org/i.jpg".into(),
            alt: Some("Bache".into()),
        }],
        quote_of: Some("99".into()),
    };
    let id = db.ingest_post(&NewPost { entities: entities.clone(), ..post("300", "Bache") }).await.unwrap().post_id();
    assert_eq!(db.post(id).await.unwrap().unwrap().entities, entities);
    let edited = NewPost { edited_at: Some(t(3)), ..post("300", "Bache enorme") };
    db.ingest_post(&edited).await.unwrap();
    assert!(db.post(id).await.unwrap().unwrap().entities.is_empty(), "entities follow the latest version");
}

pub async fn platform_events_apply_idempotently_in_one_batch(db: Db) {
    let like = |key: &str, active: bool, target: Option<&str>| {
        PlatformEvent::Engagement(Engagement {
            platform: Platform::Mastodon,
            key: key.into(),
            target: target.map(Into::into),
            kind: EngagementKind::Like,
            active,
        })
    };
    let hide = |hidden: bool, minute: i64| PlatformEvent::Hidden {
        platform: Platform::Mastodon,
        external_id: "400".into(),
        hidden,
        at: t(minute),
        raw: format!("{{\"hide\":{hidden}}}").into_bytes(),
    };
    let batch = vec![
        PlatformEvent::Post(NewPost { metrics: PostMetrics::default(), ..post("400", "Hola") }),
        like("l1", true, Some("400")),
        like("l2", true, Some("400")),
        like("l3", true, Some("not-held")),
        hide(true, 1),
        PlatformEvent::Deleted {
            platform: Platform::Mastodon,
            external_id: "401".into(),
            at: t(2),
            raw: b"{}".to_vec(),
        },
    ];
    let first = db.apply_events(&batch).await.unwrap();
    let id = first[0];
    let EventOutcome::Post(IngestOutcome::Inserted(id)) = id else { panic!("{id:?}") };
    assert_eq!(
        &first[1..],
        &[
            EventOutcome::Engaged(Some(id), true),
            EventOutcome::Engaged(Some(id), true),
            EventOutcome::Engaged(None, false),
            EventOutcome::Hidden(Some(id), true),
            first[5],
        ]
    );
    assert!(matches!(first[5], EventOutcome::Deleted(_, true)));
    let stored = db.post(id).await.unwrap().unwrap();
    assert_eq!((stored.metrics.likes, stored.hidden), (2, true));

    // The same batch again changes nothing.
    let again = db.apply_events(&batch).await.unwrap();
    assert_eq!(again[0], EventOutcome::Post(IngestOutcome::Duplicate(id)));
    assert!(
        again[1..].iter().all(|o| !matches!(
            o,
            EventOutcome::Engaged(_, true) | EventOutcome::Hidden(_, true) | EventOutcome::Deleted(_, true)
        )),
        "{again:?}"
    );
    assert_eq!(db.post(id).await.unwrap().unwrap().metrics.likes, 2);

    // A withdrawal by key alone undoes its like once; an unhide shows the post again.
    let undo = db.apply_events(&[like("l1", false, None), like("l1", false, None), hide(false, 5)]).await.unwrap();
    assert_eq!(
        undo,
        [
            EventOutcome::Engaged(Some(id), true),
            EventOutcome::Engaged(Some(id), false),
            EventOutcome::Hidden(Some(id), true)
        ]
    );
    let stored = db.post(id).await.unwrap().unwrap();
    assert_eq!((stored.metrics.likes, stored.hidden), (1, false));

    // A platform count on a copy of the post replaces ours.
    db.apply_events(&[PlatformEvent::Post(NewPost {
        metrics: PostMetrics { likes: 40, replies: 2, ..PostMetrics::default() },
        ..post("400", "Hola")
    })])
    .await
    .unwrap();
    assert_eq!(db.post(id).await.unwrap().unwrap().metrics.likes, 40);
}

/// A batch larger than one set of statements, with the cases that make storing it
/// set by set delicate: a post and its edit, a deletion before its post, a repeated
/// post, authors renamed within the batch, likes between the posts (of posts stored
/// before them, of posts that come after them, of posts not held). Stored exactly as
/// one by one would.
pub async fn a_large_mixed_batch_is_stored_as_one_by_one_would(db: Db) {
    let by = |n: usize, name: &str| NewContact {
        external_id: format!("acct-{}", n % 3),
        handle: format!("@user{}@mastodon.social", n % 3),
        display_name: Some(name.into()),
    };
    let deleted = |id: &str| PlatformEvent::Deleted {
        platform: Platform::Mastodon,
        external_id: id.into(),
        at: t(7),
        raw: b"{}".to_vec(),
    };
    let like = |key: String, target: String| {
        PlatformEvent::Engagement(Engagement {
            platform: Platform::Mastodon,
            key,
            target: Some(target),
            kind: EngagementKind::Like,
            active: true,
        })
    };
    let mut batch = vec![deleted("late"), PlatformEvent::Post(post("late", "llegó después de su borrado"))];
    // Where each post b{n} sits in the batch.
    let mut at = Vec::new();
    for n in 0..1200 {
        if n > 0 && n % 25 == 0 {
            // Likes as a stream interleaves them: of a post already in the batch, of one
            // still to come, of one Townhall does not hold.
            batch.push(like(format!("back-{n}"), format!("b{}", n - 3)));
            batch.push(like(format!("ahead-{n}"), format!("b{}", n + 1)));
            batch.push(like(format!("elsewhere-{n}"), format!("x{n}")));
        }
        at.push(batch.len());
        let text = format!("mensaje número {n}");
        batch.push(PlatformEvent::Post(NewPost {
            author: Some(by(n, &format!("Nombre {n}"))),
            ..post(&format!("b{n}"), &text)
        }));
        if n == 600 {
            // Right behind their posts, in the same stretch of the batch.
            batch.push(PlatformEvent::Post(post("b600", "mensaje número 600")));
            batch.push(PlatformEvent::Post(NewPost { edited_at: Some(t(5)), ..post("b599", "mensaje corregido") }));
            batch.push(deleted("b598"));
        }
    }

    let first = db.apply_events(&batch).await.unwrap();
    assert_eq!(first.len(), batch.len());
    let EventOutcome::Deleted(late, true) = first[0] else { panic!("{:?}", first[0]) };
    assert_eq!(first[1], EventOutcome::Post(IngestOutcome::FilledTombstone(late)));
    let id_of = |n: usize| match first[at[n]] {
        EventOutcome::Post(IngestOutcome::Inserted(id)) => id,
        other => panic!("post {n}: {other:?}"),
    };
    let ids: std::collections::HashSet<PostId> = (0..1200).map(id_of).collect();
    assert_eq!(ids.len(), 1200, "every post has its own id");
    assert_eq!(
        &first[at[600] + 1..at[600] + 4],
        &[
            EventOutcome::Post(IngestOutcome::Duplicate(id_of(600))),
            EventOutcome::Post(IngestOutcome::Edited(id_of(599), 2)),
            EventOutcome::Deleted(id_of(598), true),
        ]
    );
    for n in (25..1200).step_by(25) {
        let likes = &first[at[n] - 3..at[n]];
        assert_eq!(
            likes,
            &[
                EventOutcome::Engaged(Some(id_of(n - 3)), true),
                EventOutcome::Engaged(None, false),
                EventOutcome::Engaged(None, false),
            ],
            "the likes before post {n}"
        );
        // The platform's own count, which came with the post, and the like counted since.
        let counted = post("b", "").metrics.likes;
        assert_eq!(db.post(id_of(n - 3)).await.unwrap().unwrap().metrics.likes, counted + 1);
        assert_eq!(db.post(id_of(n + 1)).await.unwrap().unwrap().metrics.likes, counted, "liked before it was held");
    }
    let edited = db.post(id_of(599)).await.unwrap().unwrap();
    assert_eq!((edited.text.as_str(), edited.version), ("mensaje corregido", 2));
    assert_eq!(db.post_versions(id_of(599)).await.unwrap().len(), 2);
    assert!(db.post(id_of(598)).await.unwrap().unwrap().deleted_at.is_some());
    assert_eq!(db.post_stats().await.unwrap().total, 1201);
    // 1,200 new posts, an edit and a filled tombstone: one analysis each.
    assert_eq!(db.job_counts().await.unwrap().queued, 1202);
    // One contact per author, named as the author's last post in the batch says.
    let mut contacts = std::collections::HashSet::new();
    for n in [1197, 1198, 1199] {
        let contact = db.post(id_of(n)).await.unwrap().unwrap().contact_id.unwrap();
        assert_eq!(db.contact(contact).await.unwrap().unwrap().display_name.as_deref(), Some(&*format!("Nombre {n}")));
        contacts.insert(contact);
    }
    assert_eq!(
        db.post(id_of(0)).await.unwrap().unwrap().contact_id,
        db.post(id_of(1197)).await.unwrap().unwrap().contact_id
    );
    assert_eq!(contacts.len(), 3);

    // The same batch again stores nothing, enqueues nothing and counts no like twice.
    let again = db.apply_events(&batch).await.unwrap();
    let news = |o: &&EventOutcome| {
        !matches!(
            o,
            EventOutcome::Post(IngestOutcome::Duplicate(_))
                | EventOutcome::Deleted(_, false)
                | EventOutcome::Engaged(_, false)
        )
    };
    let unexpected: Vec<_> = again.iter().filter(news).collect();
    // A like of a post that arrived after it the first time counts now that it is held.
    assert!(unexpected.iter().all(|o| matches!(o, EventOutcome::Engaged(Some(_), true))), "{unexpected:?}");
    assert_eq!(unexpected.len(), 47);
    assert_eq!(db.post_stats().await.unwrap().total, 1201);
    assert_eq!(db.job_counts().await.unwrap().queued, 1202);
}

pub async fn a_failing_event_batch_stores_nothing(db: Db) {
    let mut unknown_account = post("501", "x");
    unknown_account.account_id = Some(AccountId(999_999));
    let err = db.apply_events(&[PlatformEvent::Post(post("500", "kept?")), PlatformEvent::Post(unknown_account)]).await;
    assert!(err.is_err(), "a post naming an account that does not exist is refused");
    assert!(db.post_by_external_id(Platform::Mastodon, "500").await.unwrap().is_none(), "the batch was rolled back");
}

pub async fn cursors_are_saved_and_replaced(db: Db) {
    assert_eq!(db.cursor("jetstream").await.unwrap(), None);
    db.set_cursor("jetstream", "1725911162329308").await.unwrap();
    db.set_cursor("jetstream", "1725911162329999").await.unwrap();
    db.set_cursor("mastodon:social.example", "110").await.unwrap();
    assert_eq!(db.cursor("jetstream").await.unwrap().as_deref(), Some("1725911162329999"));
    assert_eq!(db.cursor("mastodon:social.example").await.unwrap().as_deref(), Some("110"));
}

pub async fn unreadable_records_are_quarantined_byte_for_byte(db: Db) {
    let raw = b"{\"entry\": [\xFF\x00 broken".to_vec();
    let first = db.quarantine("webhook:meta", "parse.json", "expected value at line 1", &raw).await.unwrap();
    let second = db.quarantine("listen:bluesky", "parse.shape", "missing field `did`", b"{}").await.unwrap();
    assert!(second > first);
    let kept = db.quarantined(10).await.unwrap();
    assert_eq!(kept.len(), 2);
    assert_eq!(
        (kept[1].source.as_str(), kept[1].code.as_str(), kept[1].raw.as_slice()),
        ("webhook:meta", "parse.json", raw.as_slice())
    );
    assert_eq!(kept[0].reason, "missing field `did`");
    let streamed: Vec<_> = db.stream_quarantine().try_collect().await.unwrap();
    assert_eq!(streamed.iter().map(|r| r.id).collect::<Vec<_>>(), [first, second], "oldest first");
}

/// Generated texts (any Unicode scalar: emoji, RTL, zero-width, combining marks, NUL)
/// and payloads (any bytes) stored and read back.
pub async fn any_text_and_payload_survive_storage(db: Db) {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let texts = proptest::collection::vec(proptest::arbitrary::any::<String>(), 64);
    let raws = proptest::collection::vec(proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..256), 64);
    let (texts, raws) = (texts.new_tree(&mut runner).unwrap().current(), raws.new_tree(&mut runner).unwrap().current());
    let mut texts = texts;
    texts.extend(
        ["\u{0}", "a\u{0}b", "\u{202e}evil\u{202c}", "👩\u{200d}👩\u{200d}👧", "e\u{301}", "\u{feff}x"]
            .map(String::from),
    );
    let posts: Vec<NewPost> = texts
        .iter()
        .zip(raws.iter().cycle())
        .enumerate()
        .map(|(i, (text, raw))| NewPost { text: text.clone(), raw: raw.clone(), ..post(&format!("u{i}"), "") })
        .collect();
    db.ingest_posts(&posts).await.unwrap();
    for (i, sent) in posts.iter().enumerate() {
        let stored = db.post_by_external_id(Platform::Mastodon, &format!("u{i}")).await.unwrap().unwrap();
        // PostgreSQL text cannot hold NUL: derived text carries U+FFFD instead, the raw
        // payload keeps every byte.
        assert_eq!(stored.text, sent.text.replace('\0', "\u{fffd}"), "text {i}");
        assert_eq!(stored.raw, sent.raw, "payload {i}");
    }
}

fn tags(intent: &str, lang: &str, topics: &[(&str, f32)]) -> Tags {
    Tags {
        analyzer_version: 1,
        lang: Some(lang.into()),
        sentiment: Some(-0.5),
        intent: intent.into(),
        topics: topics
            .iter()
            .map(|(topic, confidence)| TopicTag {
                topic: (*topic).into(),
                confidence: *confidence,
                source: TagSource::Analysis,
            })
            .collect(),
        urgency: 0.0,
        spam: 0.25,
        abuse: 0.0,
        pii: true,
    }
}

pub async fn enrichments_are_stored_filtered_and_kept_current(db: Db) {
    let valpo = db.create_institution(&institution("valpo"), &Actor::cli()).await.unwrap();
    let other = db.create_institution(&institution("other"), &Actor::cli()).await.unwrap();
    let account = mastodon_account(&db, valpo.id).await;
    let outcomes = db
        .ingest_posts(&[
            NewPost { account_id: Some(account.id), ..post("1", "La basura no pasó") },
            NewPost { created_at: t(1), ..post("2", "When does the bus come?") },
            post("3", "sin analizar"),
        ])
        .await
        .unwrap();
    let [one, two, three] = [0, 1, 2].map(|i| outcomes[i].post_id());
    let texts: Vec<String> =
        db.posts(&[three, one, PostId(999_999)]).await.unwrap().into_iter().map(|p| p.text).collect();
    assert_eq!(texts, ["La basura no pasó", "sin analizar"], "in id order, missing ids left out");
    let enrichment = |post_id, post_version, tags: Tags| NewEnrichment {
        post_id,
        post_version,
        detail: serde_json::json!({ "version": tags.analyzer_version, "intent": tags.intent }),
        tags,
    };
    let stored = db
        .save_enrichments(
            &[
                enrichment(one, 1, tags("complaint", "es", &[("waste", 0.6)])),
                enrichment(two, 1, tags("question", "en", &[("transport", 0.75), ("roads", 0.6)])),
                // Computed from a version the post does not have: dropped.
                enrichment(three, 7, tags("other", "es", &[])),
            ],
            t(2),
        )
        .await
        .unwrap();
    assert_eq!(stored, 2);
    let (read, detail) = db.enrichment(two).await.unwrap().unwrap();
    assert_eq!(read, tags("question", "en", &[("transport", 0.75), ("roads", 0.6)]));
    assert_eq!(detail["intent"], "question");
    assert_eq!(db.enrichment(three).await.unwrap(), None);

    let ids = |posts: Vec<townhall_core::Post>| posts.into_iter().map(|p| p.external_id).collect::<Vec<_>>();
    let listed = |filter: PostFilter| {
        let db = db.clone();
        async move { ids(db.recent_posts(&filter, 50).await.unwrap()) }
    };
    assert_eq!(listed(PostFilter { intent: Some("complaint".into()), ..PostFilter::default() }).await, ["1"]);
    assert_eq!(listed(PostFilter { topic: Some("roads".into()), ..PostFilter::default() }).await, ["2"]);
    assert_eq!(listed(PostFilter { lang: Some("es".into()), ..PostFilter::default() }).await, ["1"]);
    assert_eq!(listed(PostFilter { lang: Some("fr".into()), ..PostFilter::default() }).await, Vec::<String>::new());
    let query = SearchQuery::parse("bus").unwrap();
    let filter = PostFilter { intent: Some("question".into()), ..PostFilter::default() };
    assert_eq!(ids(db.search_posts(&query, &filter, 50).await.unwrap()), ["2"]);

    // A post twice in one batch (an ingest job and a re-analysis job): the last wins.
    let twice = [
        enrichment(two, 1, tags("other", "en", &[])),
        enrichment(two, 1, tags("question", "en", &[("transport", 0.75), ("roads", 0.6)])),
    ];
    assert_eq!(db.save_enrichments(&twice, t(2)).await.unwrap(), 1);
    assert_eq!(db.enrichment(two).await.unwrap().unwrap().0.intent, "question");

    // A staff label outlives re-analysis and teaches the institution's model.
    db.label_topic(valpo.id, one, "parks", None, &Actor::cli()).await.unwrap();
    db.save_enrichments(&[enrichment(one, 1, tags("complaint", "es", &[("waste", 0.9)]))], t(3)).await.unwrap();
    let topics: Vec<(String, TagSource)> =
        db.enrichment(one).await.unwrap().unwrap().0.topics.into_iter().map(|t| (t.topic, t.source)).collect();
    assert_eq!(topics, [("parks".to_string(), TagSource::Staff), ("waste".to_string(), TagSource::Analysis)]);
    assert_eq!(
        db.topic_examples(valpo.id, 10).await.unwrap(),
        [("La basura no pasó".to_string(), "parks".to_string())]
    );
    assert!(audit_actions(&db).await.contains(&"post.topic_labelled".to_string()));
    assert!(db.label_topic(valpo.id, one, "  ", None, &Actor::cli()).await.is_err());
    // Only the institution whose account collected the post labels it.
    let foreign = db.label_topic(other.id, one, "spam", None, &Actor::cli()).await;
    assert!(matches!(foreign, Err(StoreError::NotFound(_))), "{foreign:?}");
    assert!(matches!(db.label_topic(valpo.id, two, "roads", None, &Actor::cli()).await, Err(StoreError::NotFound(_))));
    assert_eq!(db.topic_examples(other.id, 10).await.unwrap(), Vec::<(String, String)>::new());

    // An institution's own terms: its own, audited once, refused when empty.
    db.add_topic_term(valpo.id, "libraries", "biblioteca", &Actor::cli()).await.unwrap();
    db.add_topic_term(valpo.id, "libraries", "biblioteca", &Actor::cli()).await.unwrap();
    db.add_topic_term(valpo.id, "transport", "red movilidad", &Actor::cli()).await.unwrap();
    assert!(db.add_topic_term(valpo.id, "transport", " ", &Actor::cli()).await.is_err());
    let terms = db.topic_terms(valpo.id).await.unwrap();
    assert_eq!(terms, [("libraries".into(), "biblioteca".into()), ("transport".into(), "red movilidad".into())]);
    assert_eq!(db.topic_terms(other.id).await.unwrap(), Vec::<(String, String)>::new());
    let added = audit_actions(&db).await.iter().filter(|a| *a == "topic.term_added").count();
    assert_eq!(added, 2);

    // Re-analysis: the never-analysed post and, after an analyzer upgrade, all of them;
    // a job already queued is not queued twice.
    let lease = Duration::from_secs(60);
    let now = Utc::now() + chrono::Duration::minutes(1);
    let jobs = db.claim_jobs("w", &["analyze_post"], lease, now, 10).await.unwrap();
    assert_eq!(jobs.len(), 3, "ingest queued one analysis per post");
    assert_eq!(db.complete_jobs(&jobs.iter().map(|j| j.id).collect::<Vec<_>>(), "w").await.unwrap(), 3);
    assert_eq!(db.enqueue_reanalysis(1, 100, now).await.unwrap(), 1, "only the never-analysed post");
    assert_eq!(db.enqueue_reanalysis(1, 100, now).await.unwrap(), 0, "queued once per analyzer version");
    let jobs = db.claim_jobs("w", &["analyze_post"], lease, now, 10).await.unwrap();
    assert_eq!(jobs.iter().map(|j| j.payload["post_id"].as_i64()).collect::<Vec<_>>(), [Some(three.0)]);
    assert_eq!(db.complete_jobs(&jobs.iter().map(|j| j.id).collect::<Vec<_>>(), "w").await.unwrap(), 1);
    assert_eq!(db.enqueue_reanalysis(2, 100, now).await.unwrap(), 3, "a newer analyzer redoes them all");
    let jobs = db.claim_jobs("w", &["analyze_post"], lease, now, 2).await.unwrap();
    assert_eq!(jobs.len(), 2, "a batch holds at most its limit");
    assert_eq!(db.complete_jobs(&jobs.iter().map(|j| j.id).collect::<Vec<_>>(), "other").await.unwrap(), 0);
}

pub async fn posts_analysed_before_storing_are_stored_with_their_analysis(db: Db) {
    let analysis = |intent: &str, topic: &str| Analysis {
        tags: tags(intent, "es", &[(topic, 0.7)]),
        detail: serde_json::json!({ "intent": intent }),
    };
    let like = PlatformEvent::Engagement(Engagement {
        platform: Platform::Mastodon,
        key: "like-1".into(),
        target: Some("1".into()),
        kind: EngagementKind::Like,
        active: true,
    });
    let edited = NewPost { text: "La basura sigue sin pasar".into(), edited_at: Some(t(5)), ..post("1", "La basura") };
    let events = vec![
        PlatformEvent::Post(post("1", "La basura")),
        like,
        PlatformEvent::Post(post("2", "¿Pasa el bus?")),
        PlatformEvent::Post(edited),
        PlatformEvent::Post(post("3", "sin análisis")),
    ];
    let analyses = vec![
        Some(analysis("complaint", "waste")),
        None,
        Some(analysis("question", "transport")),
        Some(analysis("complaint", "roads")),
    ];
    let outcomes = db.apply_analysed_events(&events, analyses.clone()).await.unwrap();
    let [one, two, three] = [0, 2, 4].map(|i| match outcomes[i] {
        EventOutcome::Post(outcome) => outcome.post_id(),
        other => panic!("{other:?}"),
    });
    assert_eq!(outcomes[3], EventOutcome::Post(IngestOutcome::Edited(one, 2)));
    // The edit's analysis is the one kept, for the version it was made of.
    let (tags_one, detail) = db.enrichment(one).await.unwrap().unwrap();
    assert_eq!((tags_one.intent.as_str(), tags_one.topics[0].topic.as_str()), ("complaint", "roads"));
    assert_eq!(detail["intent"], "complaint");
    assert_eq!(db.enrichment(two).await.unwrap().unwrap().0.topics[0].topic, "transport");
    let filter = PostFilter { topic: Some("transport".into()), ..PostFilter::default() };
    assert_eq!(db.recent_posts(&filter, 10).await.unwrap().len(), 1);
    // Only the post that came without an analysis waits for one.
    let lease = Duration::from_secs(60);
    let later = Utc::now() + chrono::Duration::minutes(1);
    let jobs = db.claim_jobs("w", &["analyze_post"], lease, later, 10).await.unwrap();
    let queued: Vec<Option<i64>> = jobs.iter().map(|j| j.payload["post_id"].as_i64()).collect();
    assert_eq!(queued, [Some(three.0)]);

    // Again: nothing new, nothing queued, and the stored analyses stand.
    let again = db.apply_analysed_events(&events, analyses).await.unwrap();
    assert!(
        again.iter().all(|o| matches!(o, EventOutcome::Post(IngestOutcome::Duplicate(_)) | EventOutcome::Engaged(..)))
    );
    assert!(db.claim_jobs("w", &["analyze_post"], lease, later, 10).await.unwrap().is_empty());
    assert_eq!(db.enrichment(two).await.unwrap().unwrap().0.intent, "question");

    // All or none: a batch that fails stores neither posts nor analyses.
    let bad = vec![
        PlatformEvent::Post(post("4", "nueva")),
        PlatformEvent::Post(NewPost { account_id: Some(AccountId(999_999)), ..post("5", "x") }),
    ];
    let analysed = vec![Some(analysis("question", "water")), Some(analysis("question", "water"))];
    assert!(db.apply_analysed_events(&bad, analysed).await.is_err());
    assert_eq!(db.post_by_external_id(Platform::Mastodon, "4").await.unwrap(), None);
    let filter = PostFilter { topic: Some("water".into()), ..PostFilter::default() };
    assert!(db.recent_posts(&filter, 10).await.unwrap().is_empty());
}

/// A case of `institution` made of `posts`, due at the given times.
fn inbox_case(
    institution: townhall_core::InstitutionId,
    posts: Vec<PostId>,
    first_response_due: Option<DateTime<Utc>>,
) -> NewCase {
    NewCase {
        institution_id: institution,
        contact_id: None,
        subject: "Agua cortada".into(),
        platform: Some(Platform::Mastodon),
        priority: Priority::High,
        team_id: None,
        assignee: None,
        tags: vec!["agua".into()],
        first_response_due,
        resolution_due: None,
        post_ids: posts,
    }
}

pub async fn referrals_notes_merges_and_the_inbox_listing(db: Db) {
    let muni = db.create_institution(&institution("muni"), &Actor::cli()).await.unwrap();
    let region = db.create_institution(&institution("region"), &Actor::cli()).await.unwrap();
    let stranger = db.create_institution(&institution("stranger"), &Actor::cli()).await.unwrap();
    let team = db.create_team(muni.id, "Agua", &Actor::cli()).await.unwrap();
    let user = |email: &str, role, institution| NewUser {
        institution_id: institution,
        email: email.into(),
        name: email.into(),
        role,
        team_id: Some(team.id),
        password_hash: None,
    };
    let ana = db.create_user(&user("ana@muni.cl", Role::Agent, muni.id), &Actor::cli()).await.unwrap();
    let rita = db.create_user(&user("rita@region.cl", Role::Agent, region.id), &Actor::cli()).await.unwrap();
    let p1 = db.ingest_post(&post("1", "Sin agua en Cerro Alegre")).await.unwrap().post_id();
    let p2 = db.ingest_post(&post("2", "¿Cuándo vuelve el agua?")).await.unwrap().post_id();
    let p3 = db.ingest_post(&post("3", "Basura en la plaza")).await.unwrap().post_id();
    let p4 = db.ingest_post(&post("4", "Otra cosa")).await.unwrap().post_id();
    let now = Utc::now();
    let citizen = db.post(p1).await.unwrap().unwrap().contact_id;
    let late =
        NewCase { contact_id: citizen, ..inbox_case(muni.id, vec![p1], Some(now - chrono::Duration::minutes(5))) };
    let late = db.create_case(&late, &Actor::cli()).await.unwrap();
    let soon = inbox_case(muni.id, vec![p2], Some(now + chrono::Duration::minutes(30)));
    let soon = db.create_case(&soon, &Actor::cli()).await.unwrap();
    let calm = db.create_case(&inbox_case(muni.id, vec![p3, p4], None), &Actor::cli()).await.unwrap();
    assert_eq!(late.tags, ["agua"]);

    // The listing: filters, text search and a cursor.
    let ids = |cases: Vec<townhall_core::Case>| cases.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let list = |query: CaseQuery| {
        let db = db.clone();
        async move { ids(db.list_cases(&query, now).await.unwrap()) }
    };
    assert_eq!(list(CaseQuery::new(muni.id)).await, [calm.id, soon.id, late.id]);
    assert_eq!(list(CaseQuery { limit: 2, ..CaseQuery::new(muni.id) }).await, [calm.id, soon.id]);
    assert_eq!(list(CaseQuery { before: Some(soon.id), ..CaseQuery::new(muni.id) }).await, [late.id]);
    let by_deadline = |state| CaseQuery { deadline: Some(state), ..CaseQuery::new(muni.id) };
    assert_eq!(list(by_deadline(DeadlineState::Breached)).await, [late.id]);
    assert_eq!(list(by_deadline(DeadlineState::DueSoon)).await, [soon.id]);
    assert_eq!(list(by_deadline(DeadlineState::OnTime)).await, [calm.id]);
    let text = SearchQuery::parse("agua cerro").unwrap();
    assert_eq!(list(CaseQuery { text: Some(text), ..CaseQuery::new(muni.id) }).await, [late.id]);
    assert!(list(CaseQuery::new(stranger.id)).await.is_empty());
    assert_eq!(list(CaseQuery { contact: citizen, ..CaseQuery::new(muni.id) }).await, [late.id], "a citizen's cases");
    let by_status = |status| CaseQuery { status: Some(status), ..CaseQuery::new(muni.id) };
    assert_eq!(list(by_status(CaseStatus::New)).await, [calm.id, soon.id, late.id]);
    assert!(list(by_status(CaseStatus::Open)).await.is_empty());
    let complaint = NewEnrichment {
        post_id: p4,
        post_version: 1,
        tags: tags("complaint", "es", &[("waste", 0.8)]),
        detail: serde_json::json!({}),
    };
    db.save_enrichments(&[complaint], now).await.unwrap();
    let by_tag = |intent: Option<&str>, topic: Option<&str>, lang: Option<&str>| CaseQuery {
        intent: intent.map(Into::into),
        topic: topic.map(Into::into),
        lang: lang.map(Into::into),
        ..CaseQuery::new(muni.id)
    };
    assert_eq!(list(by_tag(Some("complaint"), None, None)).await, [calm.id], "the tags of any of its posts");
    assert_eq!(list(by_tag(None, Some("waste"), Some("es"))).await, [calm.id]);
    assert!(list(by_tag(Some("question"), None, None)).await.is_empty());

    // Breaches are flagged once, with an audit event, and listed.
    let flagged = db.flag_breaches(now).await.unwrap();
    assert_eq!(
        flagged.iter().map(|b| (b.case_id, b.kind)).collect::<Vec<_>>(),
        [(late.id, DeadlineKind::FirstResponse)]
    );
    assert!(db.flag_breaches(now).await.unwrap().is_empty(), "flagged once");
    assert_eq!(db.breaches(muni.id, 10).await.unwrap().len(), 1);
    assert!(db.breaches(stranger.id, 10).await.unwrap().is_empty());
    assert!(audit_actions(&db).await.contains(&"case.deadline_breached".to_owned()));
    // Another institution's late cases, one owing its first answer and one its
    // resolution, are its own breaches and not in anyone else's list.
    let other = db.create_institution(&institution("other"), &Actor::cli()).await.unwrap();
    let past = Some(now - chrono::Duration::hours(1));
    let unanswered = db.create_case(&inbox_case(other.id, vec![], past), &Actor::cli()).await.unwrap();
    let unresolved = NewCase { resolution_due: past, ..inbox_case(other.id, vec![], None) };
    let unresolved = db.create_case(&unresolved, &Actor::cli()).await.unwrap();
    let breached = |institution| CaseQuery { deadline: Some(DeadlineState::Breached), ..CaseQuery::new(institution) };
    assert_eq!(list(breached(other.id)).await, [unresolved.id, unanswered.id]);
    assert_eq!(list(breached(muni.id)).await, [late.id]);

    // A referral moves ownership; the referrer keeps read access and nobody else sees it.
    let refer = CaseAction::Refer {
        to: region.id,
        reason: "La región opera el agua potable".into(),
        first_response_due: Some(now + chrono::Duration::hours(4)),
        resolution_due: None,
    };
    let (referred, events) = transition(&soon, &refer, now).unwrap();
    db.save_case_transition(&soon, &referred, &refer, &events, &Actor::User(ana.id), None).await.unwrap();
    assert_eq!(db.case(soon.id, region.id).await.unwrap().map(|(_, a)| a), Some(Access::Owner));
    assert_eq!(
        db.case(soon.id, muni.id).await.unwrap().map(|(c, a)| (c.institution_id, a)),
        Some((region.id, Access::Referrer))
    );
    assert_eq!(db.case(soon.id, stranger.id).await.unwrap(), None);
    assert_eq!(db.owned_case(soon.id, muni.id).await.unwrap_err().code(), "store.not_found");
    assert_eq!(db.case_posts(soon.id, muni.id).await.unwrap().len(), 1, "the referrer reads the thread");
    assert_eq!(list(CaseQuery { referred_away: true, ..CaseQuery::new(muni.id) }).await, [soon.id]);
    let away = |state| CaseQuery { referred_away: true, deadline: Some(state), ..CaseQuery::new(muni.id) };
    assert_eq!(list(away(DeadlineState::OnTime)).await, [soon.id], "the region owes its answer in 4 hours");
    assert!(list(away(DeadlineState::Breached)).await.is_empty());
    assert!(list(away(DeadlineState::DueSoon)).await.is_empty());
    assert_eq!(list(CaseQuery::new(region.id)).await, [soon.id]);
    let chain = db.referrals(soon.id).await.unwrap();
    assert_eq!((chain.len(), chain[0].from, chain[0].to, chain[0].user_id), (1, muni.id, region.id, Some(ana.id)));

    // Notes stay with the institution that wrote them.
    db.add_note(&referred, region.id, rita.id, "Llamar a Esval @ana", &[], &Actor::User(rita.id)).await.unwrap();
    assert_eq!(db.notes(soon.id, region.id).await.unwrap()[0].body, "Llamar a Esval @ana");
    assert!(db.notes(soon.id, muni.id).await.unwrap().is_empty());
    assert!(db.add_note(&referred, region.id, rita.id, "  ", &[], &Actor::cli()).await.is_err());

    // Threads: a post continuing a case's conversation finds it; a closed case is not continued.
    assert_eq!(thread(&db, Platform::Mastodon, &["9", "3"]).await, Some(calm.id));
    assert_eq!(db.cases_of_posts(&[p4, PostId(i64::MAX)]).await.unwrap(), HashMap::from([(p4, calm.id)]));
    db.add_post_aliases(&[(Platform::Mastodon, "local-4".into(), p4), (Platform::Mastodon, "local-4".into(), p1)])
        .await
        .unwrap();
    assert_eq!(thread(&db, Platform::Mastodon, &["local-4"]).await, Some(calm.id), "found by alias");
    assert_eq!(thread(&db, Platform::X, &["local-4"]).await, None, "aliases are per platform");
    let p5 = db.ingest_post(&post("5", "Sigue la basura")).await.unwrap().post_id();
    let calm = db.add_post_to_case(&calm, p5, &Actor::cli()).await.unwrap();
    assert_eq!(db.case_posts(calm.id, muni.id).await.unwrap().len(), 3);

    // Split and merge.
    let split = db.split_case(&calm, &[p5], &Actor::User(ana.id)).await.unwrap();
    assert_eq!(db.case_posts(split.id, muni.id).await.unwrap().len(), 1);
    assert!(db.split_case(&db.owned_case(calm.id, muni.id).await.unwrap(), &[p3, p4], &Actor::cli()).await.is_err());
    let calm = db.owned_case(calm.id, muni.id).await.unwrap();
    let merged = db.merge_cases(&calm, &split, &Actor::User(ana.id)).await.unwrap();
    assert_eq!(db.case_posts(merged.id, muni.id).await.unwrap().len(), 3);
    let closed = db.owned_case(split.id, muni.id).await.unwrap();
    assert_eq!((closed.status, closed.close_reason), (CaseStatus::Closed, Some(townhall_core::CloseReason::Duplicate)));
    assert_eq!(thread(&db, Platform::Mastodon, &["5"]).await, Some(calm.id));

    // Ratings: once per case.
    assert!(db.record_rating(&merged, 4, Some(p5), &Actor::cli()).await.unwrap());
    assert!(!db.record_rating(&merged, 1, None, &Actor::cli()).await.unwrap());
    assert_eq!(db.rating(merged.id).await.unwrap().map(|r| r.score), Some(4));
    assert!(db.record_rating(&merged, 6, None, &Actor::cli()).await.is_err());

    // Agent load counts open cases.
    let (assigned, events) =
        transition(&merged, &CaseAction::Assign { team: Some(team.id), assignee: Some(ana.id) }, now).unwrap();
    let assign = CaseAction::Assign { team: Some(team.id), assignee: Some(ana.id) };
    db.save_case_transition(&merged, &assigned, &assign, &events, &Actor::cli(), None).await.unwrap();
    let loads = db.agent_loads(muni.id, team.id).await.unwrap();
    assert_eq!(loads.iter().map(|l| (l.user, l.open_cases)).collect::<Vec<_>>(), [(ana.id, 1)]);
}

/// The open case each thread key names, the first key's first: what the inbox asks.
async fn thread(db: &Db, platform: Platform, keys: &[&str]) -> Option<townhall_core::CaseId> {
    let found = db.cases_in_threads(platform, keys).await.unwrap();
    keys.iter().find_map(|key| found.get(*key).copied())
}

pub async fn cases_and_replies_are_written_in_batches(db: Db) {
    let muni = db.create_institution(&institution("muni"), &Actor::cli()).await.unwrap();
    let account = mastodon_account(&db, muni.id).await;
    let [p1, p2, p3] = ingest_each(&db, &["1", "2", "3"]).await[..] else { unreachable!() };
    let taken = db.create_case(&inbox_case(muni.id, vec![p3], None), &Actor::cli()).await.unwrap();

    // Cases: all or none, ids in the order given, one audit event each.
    let refused = db
        .create_cases(&[
            (inbox_case(muni.id, vec![p1], None), Actor::cli()),
            (inbox_case(muni.id, vec![p3], None), Actor::cli()),
        ])
        .await;
    assert_eq!(refused.unwrap_err().code(), "store.conflict", "a post is in one case");
    assert_eq!(
        db.cases_of_posts(&[p1, p2, p3]).await.unwrap(),
        HashMap::from([(p3, taken.id)]),
        "nothing of it stored"
    );
    let ids = db
        .create_cases(&[
            (inbox_case(muni.id, vec![p2], None), Actor::System("rules:7".into())),
            (inbox_case(muni.id, vec![p1], None), Actor::System("inbox".into())),
        ])
        .await
        .unwrap();
    assert!(ids[0] < ids[1]);
    assert_eq!(
        db.cases_of_posts(&[p1, p2, p3]).await.unwrap(),
        HashMap::from([(p2, ids[0]), (p1, ids[1]), (p3, taken.id)])
    );
    let events = db.audit_events(Some(muni.id), AuditEventId(0), 100).await.unwrap();
    let created: Vec<_> =
        events.iter().filter(|e| e.action == "case.create").map(|e| (e.object_id.clone(), e.actor.clone())).collect();
    assert_eq!(
        created[1..],
        [(ids[0].to_string(), Actor::System("rules:7".into())), (ids[1].to_string(), Actor::System("inbox".into()))]
    );

    // Replies: all or none; a key already stored is skipped and told apart.
    let ack = |case, post, key: &str, body: &str| NewReply {
        case_id: case,
        institution_id: muni.id,
        user_id: None,
        kind: ReplyKind::Acknowledgement,
        post_id: post,
        platform: Platform::Mastodon,
        account_id: Some(account.id),
        body: body.into(),
        needs_approval: false,
        idempotency_key: key.into(),
        send_at: None,
    };
    let empty = db.queue_replies(&[ack(ids[0], p2, "a", "Recibido"), ack(ids[1], p1, "b", " ")], &Actor::cli()).await;
    assert_eq!(empty.unwrap_err().code(), "store.invalid");
    assert!(db.replies(ids[0]).await.unwrap().is_empty(), "nothing of it stored");
    let first = db.queue_replies(&[ack(ids[0], p2, "a", "Recibido")], &Actor::cli()).await.unwrap();
    let batch = db
        .queue_replies(&[ack(ids[1], p1, "b", "Recibido, caso 2"), ack(ids[0], p2, "a", "Otra vez")], &Actor::cli())
        .await
        .unwrap();
    assert_eq!((batch[0].is_some(), batch[1]), (true, None));
    let stored = db.replies(ids[0]).await.unwrap();
    assert_eq!((stored.len(), Some(stored[0].id), stored[0].body.as_str()), (1, first[0], "Recibido"));
    assert_eq!(db.replies(ids[1]).await.unwrap()[0].status, ReplyStatus::Queued);
    let jobs = db.claim_jobs("outbox", &[SEND_REPLY_JOB], Duration::from_secs(60), Utc::now(), 10).await.unwrap();
    assert_eq!(jobs.len(), 2, "one delivery job a reply");
}

pub async fn the_dashboard_counts_what_arrived_and_what_waits(db: Db) {
    let muni = db.create_institution(&institution("muni"), &Actor::cli()).await.unwrap();
    let other = db.create_institution(&institution("other"), &Actor::cli()).await.unwrap();
    let team = db.create_team(muni.id, "Agua", &Actor::cli()).await.unwrap();
    let now = Utc::now();
    let morning = now - chrono::Duration::hours(2);
    let ids: Vec<PostId> = ingest_each(&db, &["d1", "d2", "d3", "d4"]).await;
    // Overdue and in no queue; waiting in the team's queue; answered and resolved.
    db.create_case(&inbox_case(muni.id, vec![ids[0]], Some(now - chrono::Duration::minutes(5))), &Actor::cli())
        .await
        .unwrap();
    let queued =
        NewCase { team_id: Some(team.id), ..inbox_case(muni.id, vec![ids[1]], Some(now + chrono::Duration::hours(1))) };
    db.create_case(&queued, &Actor::cli()).await.unwrap();
    let done = db.create_case(&inbox_case(muni.id, vec![ids[2]], None), &Actor::cli()).await.unwrap();
    let mut case = done;
    for action in [CaseAction::Respond, CaseAction::Resolve { outcome: "Repuesto".into() }] {
        let (after, events) = transition(&case, &action, now).unwrap();
        db.save_case_transition(&case, &after, &action, &events, &Actor::cli(), None).await.unwrap();
        case = after;
    }
    db.create_case(&inbox_case(other.id, vec![ids[3]], Some(now - chrono::Duration::hours(1))), &Actor::cli())
        .await
        .unwrap();

    let load = db.load(muni.id, morning, now).await.unwrap();
    assert_eq!(
        load,
        townhall_store::Load { opened: 3, answered: 1, resolved: 1, waiting: 2, unassigned: 2, overdue: 1 },
        "another institution's cases are not counted"
    );
    assert_eq!(db.load(muni.id, now + chrono::Duration::minutes(1), now).await.unwrap().opened, 0, "since counts");
    let queues = db.team_loads(muni.id, now).await.unwrap();
    assert_eq!(
        queues,
        [
            townhall_store::TeamLoad { team: None, waiting: 1, overdue: 1 },
            townhall_store::TeamLoad { team: Some(team.id), waiting: 1, overdue: 0 },
        ]
    );
    assert_eq!(db.load(other.id, morning, now).await.unwrap().overdue, 1);

    // Hour by hour: the cases opened in each hour and how many of them were answered.
    let hours =
        db.cases_per_period(muni.id, now - chrono::Duration::hours(3), chrono::Duration::hours(1), 4).await.unwrap();
    let counts: Vec<(i64, i64)> = hours.iter().map(|h| (h.opened, h.answered)).collect();
    assert_eq!(counts, [(0, 0), (0, 0), (0, 0), (3, 1)]);
    assert_eq!(hours[1].start, now - chrono::Duration::hours(2));
}

/// Ingests one post per external id, in order.
async fn ingest_each(db: &Db, external_ids: &[&str]) -> Vec<PostId> {
    let mut ids = Vec::new();
    for id in external_ids {
        ids.push(db.ingest_post(&post(id, "Sin agua")).await.unwrap().post_id());
    }
    ids
}

pub async fn the_outbox_and_inbox_configuration(db: Db) {
    let muni = db.create_institution(&institution("muni"), &Actor::cli()).await.unwrap();
    let other = db.create_institution(&institution("other"), &Actor::cli()).await.unwrap();
    let account = mastodon_account(&db, muni.id).await;
    let lead = NewUser {
        institution_id: muni.id,
        email: "lead@muni.cl".into(),
        name: "Lead".into(),
        role: Role::Lead,
        team_id: None,
        password_hash: None,
    };
    let lead = db.create_user(&lead, &Actor::cli()).await.unwrap();
    let p1 = db.ingest_post(&post("1", "¿Hay agua mañana?")).await.unwrap().post_id();
    let case = db.create_case(&inbox_case(muni.id, vec![p1], None), &Actor::cli()).await.unwrap();
    let reply = |key: &str, needs_approval| NewReply {
        case_id: case.id,
        institution_id: muni.id,
        user_id: Some(lead.id),
        kind: ReplyKind::Answer,
        post_id: p1,
        platform: Platform::Mastodon,
        account_id: Some(account.id),
        body: "Sí, desde las 8:00.".into(),
        needs_approval,
        idempotency_key: key.into(),
        send_at: None,
    };

    // One reply per idempotency key, with one delivery job.
    let queued = db.queue_reply(&reply("k1", false), &Actor::User(lead.id)).await.unwrap();
    let again = db.queue_reply(&reply("k1", false), &Actor::User(lead.id)).await.unwrap();
    assert_eq!((queued.id, queued.status), (again.id, ReplyStatus::Queued));
    let jobs = db.claim_jobs("w", &[SEND_REPLY_JOB], Duration::from_secs(60), Utc::now(), 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].payload["reply_id"], queued.id.0);

    // Sent: the platform's id is kept and the case's first response is recorded with it.
    assert!(db.start_sending(queued.id, 1).await.unwrap());
    assert!(!db.start_sending(queued.id, 1).await.unwrap(), "one worker sends it");
    let (responded, events) = transition(&case, &CaseAction::Respond, Utc::now()).unwrap();
    db.reply_sent(&queued, "109", Some("https://mastodon.cl/@valpo/109"), 1, Some((&case, &responded, &events)))
        .await
        .unwrap();
    let stored = db.case(case.id, muni.id).await.unwrap().unwrap().0;
    assert_eq!((stored.status, stored.version), (CaseStatus::Pending, 2));
    assert!(stored.first_response_at.is_some());
    assert!(db.reply_sent(&queued, "110", None, 2, None).await.is_err(), "a sent reply is sent once");
    assert_eq!(db.reply_by_external_id(Platform::Mastodon, "109").await.unwrap().map(|r| r.id), Some(queued.id));
    assert_eq!(thread(&db, Platform::Mastodon, &["109"]).await, Some(case.id));

    // Approval, failure and retry.
    let held = db.queue_reply(&reply("k2", true), &Actor::User(lead.id)).await.unwrap();
    assert_eq!(held.status, ReplyStatus::AwaitingApproval);
    assert!(db.approve_reply(held.id, other.id, lead.id).await.is_err(), "only its institution approves");
    let approved = db.approve_reply(held.id, muni.id, lead.id).await.unwrap();
    assert_eq!((approved.status, approved.approved_by), (ReplyStatus::Queued, Some(lead.id)));
    assert!(db.start_sending(held.id, 1).await.unwrap());
    db.reply_failed(&approved, 1, "deliver.unavailable", "503", false).await.unwrap();
    assert_eq!(db.reply(held.id).await.unwrap().unwrap().status, ReplyStatus::Queued);
    db.reply_failed(&approved, 8, "deliver.rejected", "422 too long", true).await.unwrap();
    let failed = db.reply(held.id).await.unwrap().unwrap();
    assert_eq!((failed.status, failed.error_code.as_deref()), (ReplyStatus::Failed, Some("deliver.rejected")));
    assert_eq!(db.retry_reply(held.id, muni.id, &Actor::User(lead.id)).await.unwrap().status, ReplyStatus::Queued);
    assert_eq!(db.replies(case.id).await.unwrap().len(), 2);

    // Rules, deadline policies, settings, canned answers and credentials: scoped and audited.
    let rule: Rule = serde_json::from_value(serde_json::json!({
        "name": "Agua", "position": 1,
        "conditions": [{ "field": "keywords", "any_of": ["agua"] }],
        "actions": [{ "action": "set_priority", "priority": "high" }]
    }))
    .unwrap();
    let saved = db.save_rule(muni.id, &rule, &Actor::cli()).await.unwrap();
    let renamed = Rule { name: "Agua potable".into(), ..saved.clone() };
    assert_eq!(db.save_rule(muni.id, &renamed, &Actor::cli()).await.unwrap().id, saved.id);
    assert_eq!(db.rules(muni.id).await.unwrap()[0].name, "Agua potable");
    assert!(db.save_rule(other.id, &saved, &Actor::cli()).await.is_err(), "another institution's rule");
    assert!(db.delete_rule(other.id, saved.id, &Actor::cli()).await.is_err());
    db.delete_rule(muni.id, saved.id, &Actor::cli()).await.unwrap();
    assert!(db.rules(muni.id).await.unwrap().is_empty());

    let policy: DeadlinePolicy = serde_json::from_value(serde_json::json!({
        "priority": "high", "platform": "mastodon", "first_response_secs": 3600, "resolution_secs": 86400
    }))
    .unwrap();
    let everywhere = DeadlinePolicy { platform: None, ..policy.clone() };
    db.set_deadline_policies(muni.id, &[policy.clone(), everywhere.clone()], &Actor::cli()).await.unwrap();
    let mut stored = db.deadline_policies(muni.id).await.unwrap();
    stored.sort_by_key(|p| p.platform.is_none());
    assert_eq!(stored, [policy, everywhere]);
    assert!(db.deadline_policies(other.id).await.unwrap().is_empty());

    assert_eq!(db.inbox_settings(muni.id).await.unwrap(), InboxSettings::default());
    let settings = InboxSettings {
        satisfaction_delay_secs: Some(1),
        approval_roles: vec![Role::Agent],
        ..InboxSettings::default()
    };
    db.set_inbox_settings(muni.id, &settings, &Actor::cli()).await.unwrap();
    assert_eq!(db.inbox_settings(muni.id).await.unwrap(), settings);

    let answer =
        CannedAnswer { id: 0, name: "gracias".into(), lang: "es".into(), body: "Gracias, {{citizen}}.".into() };
    let answer = db.create_canned_answer(muni.id, &answer, &Actor::cli()).await.unwrap();
    assert!(db.create_canned_answer(muni.id, &answer, &Actor::cli()).await.is_err(), "one name per language");
    assert_eq!(db.canned_answers(muni.id).await.unwrap(), std::slice::from_ref(&answer));
    assert!(db.delete_canned_answer(other.id, answer.id, &Actor::cli()).await.is_err());
    db.delete_canned_answer(muni.id, answer.id, &Actor::cli()).await.unwrap();

    let credentials =
        AccountCredentials { endpoint: "https://mastodon.cl".into(), identifier: None, secret: "s3cret-token".into() };
    assert!(db.set_account_credentials(other.id, account.id, &credentials, &Actor::cli()).await.is_err());
    db.set_account_credentials(muni.id, account.id, &credentials, &Actor::cli()).await.unwrap();
    assert_eq!(db.account_credentials(account.id).await.unwrap(), Some(credentials.clone()));
    assert!(!format!("{credentials:?}").contains("s3cret"));
    let audit = db.audit_events(None, AuditEventId(0), 1000).await.unwrap();
    assert!(
        audit.iter().all(|e| !format!("{:?}{:?}", e.before, e.after).contains("s3cret")),
        "no secret in the audit log"
    );
    for action in
        ["reply.queue", "reply.sent", "reply.approve", "reply.failed", "reply.retry", "rule.update", "rule.delete"]
    {
        assert!(audit.iter().any(|e| e.action == action), "{action} audited");
    }

    // Users: changed within their institution only, audited before and after.
    let change = UserChange { available: Some(false), max_open_cases: Some(Some(5)), ..UserChange::default() };
    assert!(db.update_user(lead.id, other.id, &change, &Actor::cli()).await.is_err(), "another institution's user");
    let changed = db.update_user(lead.id, muni.id, &change, &Actor::cli()).await.unwrap();
    assert_eq!((changed.available, changed.max_open_cases, changed.role), (false, Some(5), Role::Lead));
    assert_eq!(db.user(lead.id).await.unwrap(), Some(changed));
    let updated = db.audit_trail("user", &lead.id.to_string(), 10).await.unwrap();
    assert_eq!(updated.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["user.create", "user.update"]);
    assert_eq!(updated[1].before.as_ref().unwrap()["available"], true);
    let trail = db.audit_trail("case", &case.id.to_string(), 10).await.unwrap();
    assert_eq!(trail.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["case.create", "case.respond"]);

    // Accounts and contacts by id.
    assert_eq!(db.account(account.id).await.unwrap(), Some(account.clone()));
    let post = db.post(p1).await.unwrap().unwrap();
    let contact = db.contact(post.contact_id.unwrap()).await.unwrap().unwrap();
    assert_eq!((contact.handle.as_str(), contact.platform), ("@ana@mastodon.social", Platform::Mastodon));

    // Sessions: found by the SHA-256 of their cookie until they expire or end.
    let token = [7u8; 32];
    db.create_session(lead.id, &token, "csrf", Utc::now() + chrono::Duration::hours(1)).await.unwrap();
    assert_eq!(
        db.session_user(&token, Utc::now()).await.unwrap().map(|(u, c)| (u.id, c)),
        Some((lead.id, "csrf".into()))
    );
    assert_eq!(db.session_user(&token, Utc::now() + chrono::Duration::hours(2)).await.unwrap(), None);
    db.delete_session(&token).await.unwrap();
    assert_eq!(db.session_user(&token, Utc::now()).await.unwrap(), None);
}

/// Applies `action` to the stored `case` at `at`, as staff would.
async fn act_at(db: &Db, case: &townhall_core::Case, action: CaseAction, at: DateTime<Utc>) -> townhall_core::Case {
    let (after, events) = transition(case, &action, at).unwrap();
    db.save_case_transition(case, &after, &action, &events, &Actor::cli(), None).await.unwrap();
    after
}

pub async fn public_responsiveness_and_weekly_counts(db: Db) {
    let muni = db.create_institution(&institution("muni"), &Actor::cli()).await.unwrap();
    let region = db.create_institution(&institution("region"), &Actor::cli()).await.unwrap();
    let now = Utc::now();
    let due = Some(now + chrono::Duration::hours(2));
    let mut cases = Vec::new();
    for (i, due) in [due, due, due, None, None, None].into_iter().enumerate() {
        let p = db.ingest_post(&post(&format!("p{i}"), "¿Cuándo?")).await.unwrap().post_id();
        cases.push(db.create_case(&inbox_case(muni.id, vec![p], due), &Actor::cli()).await.unwrap());
    }
    let hours = |case: &townhall_core::Case, h: i64| case.opened_at + chrono::Duration::hours(h);
    // First responses after 1 h (in time), 3 h and 10 h (late) and 5 h (no deadline).
    let answered_early = act_at(&db, &cases[0], CaseAction::Respond, hours(&cases[0], 1)).await;
    let answered_late = act_at(&db, &cases[1], CaseAction::Respond, hours(&cases[1], 3)).await;
    act_at(&db, &cases[2], CaseAction::Respond, hours(&cases[2], 10)).await;
    act_at(&db, &cases[3], CaseAction::Respond, hours(&cases[3], 5)).await;
    let resolved =
        act_at(&db, &answered_early, CaseAction::Resolve { outcome: "Listo".into() }, hours(&cases[0], 2)).await;
    // An unanswered case goes to the region; the last is merged into another as a duplicate.
    let refer =
        CaseAction::Refer { to: region.id, reason: "Agua".into(), first_response_due: None, resolution_due: None };
    let referred = act_at(&db, &cases[4], refer, now).await;
    db.merge_cases(&db.owned_case(cases[3].id, muni.id).await.unwrap(), &cases[5], &Actor::cli()).await.unwrap();
    assert!(db.record_rating(&resolved, 4, None, &Actor::cli()).await.unwrap());
    assert!(db.record_rating(&answered_late, 5, None, &Actor::cli()).await.unwrap());

    let since = now - chrono::Duration::days(90);
    let figures = db.responsiveness(muni.id, since).await.unwrap();
    let median = figures.median_first_response_secs.unwrap();
    assert!((median - 4.0 * 3600.0).abs() < 1.0, "the median of 1, 3, 5 and 10 hours is 4 hours: {median}");
    assert_eq!(
        figures,
        townhall_store::Responsiveness {
            opened: 4,
            answered: 4,
            median_first_response_secs: Some(median),
            answered_with_deadline: 3,
            answered_in_time: 1,
            resolved: 1,
            referred_away: 1,
            received: 0,
            ratings: 2,
            average_rating: Some(4.5),
        }
    );
    // An odd count's median is its middle value.
    let region_figures = db.responsiveness(region.id, since).await.unwrap();
    assert_eq!((region_figures.opened, region_figures.answered, region_figures.received), (1, 0, 1));
    assert_eq!((region_figures.median_first_response_secs, region_figures.average_rating), (None, None));
    act_at(&db, &referred, CaseAction::Respond, hours(&referred, 7)).await;
    let median = db.responsiveness(region.id, since).await.unwrap().median_first_response_secs.unwrap();
    assert!((median - 7.0 * 3600.0).abs() < 1.0, "{median}");
    // Nothing since a later time.
    let later = db.responsiveness(muni.id, now + chrono::Duration::days(1)).await.unwrap();
    assert_eq!((later.opened, later.ratings, later.referred_away), (0, 0, 0));
    assert_eq!(later.median_first_response_secs, None);

    // Weeks: every week is there, zeros included; cases fall in the week they opened.
    let from = now - chrono::Duration::days(15);
    let weeks = db.cases_per_period(muni.id, from, chrono::Duration::weeks(1), 3).await.unwrap();
    assert_eq!(weeks.iter().map(|w| (w.opened, w.answered)).collect::<Vec<_>>(), [(0, 0), (0, 0), (4, 4)]);
    assert_eq!(weeks[1].start, from + chrono::Duration::weeks(1));
    let weeks = db.cases_per_period(region.id, from, chrono::Duration::weeks(1), 3).await.unwrap();
    assert_eq!(weeks.iter().map(|w| (w.opened, w.answered)).collect::<Vec<_>>(), [(0, 0), (0, 0), (1, 1)]);
    assert!(
        db.cases_per_period(muni.id, now + chrono::Duration::days(1), chrono::Duration::weeks(1), 2)
            .await
            .unwrap()
            .iter()
            .all(|w| w.opened == 0)
    );
}

pub async fn public_case_links(db: Db) {
    let muni = db.create_institution(&institution("muni"), &Actor::cli()).await.unwrap();
    let p1 = db.ingest_post(&post("1", "Sin agua")).await.unwrap().post_id();
    let p2 = db.ingest_post(&post("2", "Sin luz")).await.unwrap().post_id();
    let one = db.create_case(&inbox_case(muni.id, vec![p1], None), &Actor::cli()).await.unwrap();
    let two = db.create_case(&inbox_case(muni.id, vec![p2], None), &Actor::cli()).await.unwrap();
    let (a, b, c) = ("a".repeat(43), "b".repeat(43), "c".repeat(43));

    // Made when first needed; later calls get the same token.
    assert_eq!(db.public_case_token(one.id, &a).await.unwrap(), a);
    assert_eq!(db.public_case_token(one.id, &b).await.unwrap(), a, "idempotent");
    let (x, y) = tokio::join!(db.public_case_token(two.id, &b), db.public_case_token(two.id, &c));
    assert_eq!(x.unwrap(), y.unwrap(), "concurrent calls agree");
    assert!(db.public_case_token(one.id, "short").await.is_err());

    assert_eq!(db.case_by_public_token(&a).await.unwrap().map(|c| c.id), Some(one.id));
    assert_eq!(db.case_by_public_token(&"z".repeat(43)).await.unwrap(), None);
    assert_eq!(db.case_by_public_token("").await.unwrap(), None);
    assert_eq!(db.case_by_public_token(&a.to_uppercase()).await.unwrap(), None, "tokens are exact");
}
