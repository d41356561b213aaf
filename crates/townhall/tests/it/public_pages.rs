//! The public pages over real HTTP, without signing in: the list of institutions, an
//! institution's figures for a known set of cases (and nothing personal on it), the
//! citizen's page reached by the link the referral and outcome messages carry, an
//! unknown link, and hostile names and reasons shown as text.

use std::time::{Duration, Instant};

use chrono::Utc;
use townhall_core::reply::{ReplyKind, ReplyStatus};
use townhall_core::{
    Actor, Case, CaseAction, InstitutionId, NewContact, NewInstitution, NewPost, Platform, Priority, Role, User,
    transition,
};
use townhall_store::{Db, DbOptions, NewAccount, NewCase, NewReply, NewUser};

use townhall::config::WebhooksConfig;
use townhall::http::{AppState, router};

use crate::support::{Response, Server, TestApp, request, sqlite_url};

const HOSTILE_NAME: &str = "Región <img src=x onerror=alert(1)> \u{202e}lanoigeR";
const HOSTILE_REASON: &str = "<script>alert(\"r\")</script> La región opera el agua";
const CITIZEN_TEXT: &str = "Sin agua en Cerro Alegre desde el lunes";
const CITIZEN_HANDLE: &str = "vecina_anonima";
const CITIZEN_NAME: &str = "Rosa Vecina Anónima";
const STAFF_NAME: &str = "Agente Secreta Pérez";
const NOTE: &str = "NOTA INTERNA: llamar al concejal";

fn institution(slug: &str, name: &str) -> NewInstitution {
    NewInstitution { jurisdiction: Some("Valparaíso".into()), ..crate::support::municipality(slug, name) }
}

/// Two institutions (the second with a hostile name), an agent each, the first's
/// Mastodon account.
struct World {
    muni: InstitutionId,
    region: InstitutionId,
    agent: User,
    region_agent: User,
    account: townhall_core::AccountId,
}

async fn world(db: &Db) -> World {
    let muni = db.create_institution(&institution("muni", "Municipalidad de Valparaíso"), &Actor::cli()).await.unwrap();
    let region = db.create_institution(&institution("region", HOSTILE_NAME), &Actor::cli()).await.unwrap();
    let user = |institution, email: &str, name: &str| NewUser {
        institution_id: institution,
        email: email.into(),
        name: name.into(),
        role: Role::Agent,
        team_id: None,
        password_hash: None,
    };
    let agent = db.create_user(&user(muni.id, "agente@muni.cl", STAFF_NAME), &Actor::cli()).await.unwrap();
    let region_agent =
        db.create_user(&user(region.id, "rita@region.cl", "Rita Regional"), &Actor::cli()).await.unwrap();
    let account = NewAccount {
        institution_id: muni.id,
        platform: Platform::Mastodon,
        handle: "@muni@social.example".into(),
        display_name: "Muni Valpo".into(),
        external_id: None,
        official: None,
    };
    let account = db.create_account(&account, &Actor::cli()).await.unwrap().id;
    World { muni: muni.id, region: region.id, agent, region_agent, account }
}

/// A citizen's post to the account, and a case of `institution` for it.
async fn citizen_case(db: &Db, world: &World, n: usize, due: Option<chrono::DateTime<Utc>>) -> Case {
    let post = NewPost {
        platform: Platform::Mastodon,
        external_id: format!("https://social.example/statuses/{n}"),
        account_id: Some(world.account),
        author: Some(NewContact {
            external_id: "citizen".into(),
            handle: CITIZEN_HANDLE.into(),
            display_name: Some(CITIZEN_NAME.into()),
        }),
        text: format!("{CITIZEN_TEXT} ({n})"),
        lang_hint: Some("es".into()),
        created_at: Utc::now(),
        edited_at: None,
        reply_to: None,
        conversation: None,
        metrics: Default::default(),
        entities: Default::default(),
        raw: format!("{{\"id\":\"{n}\"}}").into_bytes(),
    };
    let stored = db.ingest_post(&post).await.unwrap();
    let post_id = stored.post_id();
    let contact = db.post(post_id).await.unwrap().unwrap().contact_id;
    let case = NewCase {
        institution_id: world.muni,
        contact_id: contact,
        subject: format!("{CITIZEN_TEXT} ({n})"),
        platform: Some(Platform::Mastodon),
        priority: Priority::Normal,
        team_id: None,
        assignee: Some(world.agent.id),
        tags: Vec::new(),
        first_response_due: due,
        resolution_due: None,
        post_ids: vec![post_id],
    };
    db.create_case(&case, &Actor::cli()).await.unwrap()
}

async fn act(db: &Db, case: &Case, action: CaseAction, at: chrono::DateTime<Utc>, by: &User) -> Case {
    let (after, events) = transition(case, &action, at).unwrap();
    db.save_case_transition(case, &after, &action, &events, &Actor::User(by.id), None).await.unwrap();
    after
}

/// Stores a reply as delivered, the way the outbox records it.
async fn sent_reply(db: &Db, case: &Case, world: &World, kind: ReplyKind, body: &str, key: &str) {
    let post = db.case_posts(case.id, case.institution_id).await.unwrap()[0].id;
    let new = NewReply {
        case_id: case.id,
        institution_id: world.muni,
        user_id: Some(world.agent.id),
        kind,
        post_id: post,
        platform: Platform::Mastodon,
        account_id: Some(world.account),
        body: body.into(),
        needs_approval: false,
        idempotency_key: key.into(),
        send_at: None,
    };
    let reply = db.queue_reply(&new, &Actor::User(world.agent.id)).await.unwrap();
    assert!(db.start_sending(reply.id, 1).await.unwrap());
    let url = format!("https://social.example/@muni/{key}");
    db.reply_sent(&reply, key, Some(&url), 1, None).await.unwrap();
}

#[tokio::test]
async fn an_institution_shows_its_figures_and_nothing_personal() {
    let app = TestApp::start().await;
    let db = &app.db;
    let world = world(db).await;
    let due = Some(Utc::now() + chrono::Duration::hours(2));
    let mut cases = Vec::new();
    for (n, due) in [due, due, due, None, None].into_iter().enumerate() {
        cases.push(citizen_case(db, &world, n, due).await);
    }
    let hours = |case: &Case, h: i64| case.opened_at + chrono::Duration::hours(h);
    // First responses after 1 h (in time), 3 h and 10 h (late), and 5 h (no deadline).
    let mut answered = Vec::new();
    for (case, h) in cases.iter().zip([1, 3, 10, 5]) {
        answered.push(act(db, case, CaseAction::Respond, hours(case, h), &world.agent).await);
    }
    let resolved =
        act(db, &answered[0], CaseAction::Resolve { outcome: "Reparado".into() }, hours(&cases[0], 2), &world.agent)
            .await;
    db.record_rating(&resolved, 4, None, &Actor::cli()).await.unwrap();
    db.record_rating(&answered[1], 5, None, &Actor::cli()).await.unwrap();
    let refer = CaseAction::Refer {
        to: world.region,
        reason: HOSTILE_REASON.into(),
        first_response_due: None,
        resolution_due: None,
    };
    act(db, &cases[4], refer, Utc::now(), &world.agent).await;
    db.add_note(&answered[1], world.muni, world.agent.id, NOTE, &[], &Actor::User(world.agent.id)).await.unwrap();

    // The list: every institution, each linking to its page, names as text.
    let list = app.get("/public").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("href=\"/public/muni\"") && list.body.contains("href=\"/public/region\""));
    assert!(list.body.contains("<bdi>Municipalidad de Valparaíso</bdi>"));
    assert!(!list.body.contains("<img src=x"), "a hostile name stays text");
    assert!(list.body.contains("&#60;img src=x onerror=alert(1)&#62;"), "{}", list.body);

    // The figures, for a known set of cases.
    let page = app.get("/public/muni").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let figure = |label: &str, value: &str| format!("<dt>{label}</dt><dd>{value}</dd>");
    for (label, value) in [
        ("Cases opened", "4"),
        ("Answered", "100% (4 of 4)"),
        ("Median time to first response", "4 h 0 min"),
        ("First responses within the deadline", "33% (1 of 3)"),
        ("Resolved", "25% (1 of 4)"),
        ("Referred to other institutions", "1"),
        ("Received from other institutions", "0"),
        ("Average citizen rating", "4.5 / 5 (2 ratings)"),
    ] {
        assert!(page.body.contains(&figure(label, value)), "{label}: {value} in {}", page.body);
    }
    // The weekly chart: its table's last week holds the four cases, all answered.
    assert!(page.body.contains("<svg role=\"img\" aria-labelledby=\"weekly-title weekly-desc\""));
    assert_eq!(page.body.matches("<rect class=\"bar s").count(), 24, "12 weeks, two bars each");
    assert!(page.body.contains("<td class=\"num\">4</td><td class=\"num\">4</td></tr>\n</tbody>"), "{}", page.body);
    assert!(page.body.contains("Opened: 4; Answered: 4."));
    // Its account is listed; no citizen, staff member or note is.
    assert!(page.body.contains("<bdi>@muni@social.example</bdi>"));
    for private in [CITIZEN_TEXT, CITIZEN_HANDLE, CITIZEN_NAME, STAFF_NAME, "Agente", NOTE, "Reparado"] {
        assert!(!page.body.contains(private), "{private} leaked onto the public page");
    }
    assert!(!page.body.contains("style="), "no inline style");

    // The receiving side, with its hostile name escaped, in Spanish.
    let region = app.request("GET", "/public/region", &[("Accept-Language", "es-CL,es;q=0.9")], b"").await;
    assert_eq!(region.status, 200);
    assert!(region.body.contains("<html lang=\"es\">"));
    assert!(region.body.contains("<dt>Recibidos de otras instituciones</dt><dd>1</dd>"), "{}", region.body);
    assert!(region.body.contains("<h1><bdi>Región &#60;img src=x onerror=alert(1)&#62;"), "{}", region.body);
    assert!(!region.body.contains("<img src=x") && !region.body.contains(HOSTILE_REASON));

    assert_eq!(app.get("/public/nowhere").await.status, 404);
}

#[tokio::test]
async fn the_case_page_shows_what_the_citizen_was_told_and_nothing_internal() {
    let app = TestApp::start().await;
    let db = &app.db;
    let world = world(db).await;
    let case = citizen_case(db, &world, 1, None).await;
    db.add_note(&case, world.muni, world.agent.id, NOTE, &[], &Actor::User(world.agent.id)).await.unwrap();
    // A canned answer names the citizen and the agent; the public page names nobody.
    let answer = format!("Hola {CITIZEN_NAME}: le llamaremos al +56 9 8765 4321. {STAFF_NAME}");
    sent_reply(db, &case, &world, ReplyKind::Answer, &answer, "r1").await;
    let case = db.case_by_id(case.id).await.unwrap().unwrap();
    let refer = CaseAction::Refer {
        to: world.region,
        reason: HOSTILE_REASON.into(),
        first_response_due: None,
        resolution_due: None,
    };
    act(db, &case, refer, Utc::now(), &world.agent).await;
    let token = "k".repeat(20) + "_-" + &"Z".repeat(21);
    assert_eq!(db.public_case_token(case.id, &token).await.unwrap(), token);

    let page = app.get(&format!("/public/cases/{token}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<meta name=\"robots\" content=\"noindex\">"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    // Who handles it now, the referral with its reason as text, the reply redacted.
    assert!(page.body.contains("<dt>Handled by</dt><dd><bdi>Región &#60;img"), "{}", page.body);
    assert!(page.body.contains("&#60;script&#62;alert(&#34;r&#34;)&#60;/script&#62; La región opera el agua"));
    assert!(!page.body.contains("<script>") && !page.body.contains("<img src=x"));
    assert!(page.body.contains("Hola …: le llamaremos al"), "{}", page.body);
    assert!(!page.body.contains("8765 4321"), "the phone number is redacted");
    assert!(page.body.contains("href=\"https://social.example/@muni/r1\" rel=\"noopener noreferrer nofollow\""));
    // Nothing internal: no note, staff name, assignee, priority, audit trail or citizen.
    for private in
        [NOTE, STAFF_NAME, "Rita Regional", "normal", "case.refer", CITIZEN_TEXT, CITIZEN_HANDLE, CITIZEN_NAME]
    {
        assert!(!page.body.contains(private), "{private} leaked onto the citizen's page");
    }

    // An unknown token: 404, and the same page whatever the token.
    let unknown = app.get(&format!("/public/cases/{}", "q".repeat(43))).await;
    let other = app.get("/public/cases/x").await;
    assert_eq!((unknown.status, other.status), (404, 404));
    assert_eq!(unknown.body, other.body);
    assert!(unknown.body.contains("<meta name=\"robots\" content=\"noindex\">"));
    assert!(!unknown.body.contains(&token));
}

/// `serve` with `server.public_url`: the referral notice and the outcome carry the
/// case's link, the same in both, and following it shows the referral and the reply.
#[tokio::test]
async fn the_link_in_the_referral_and_outcome_opens_the_case() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let db = Db::open(&DbOptions::new(&url)).await.unwrap();
    let world = world(&db).await;
    let case = citizen_case(&db, &world, 1, None).await;
    let tokens = async |user: &User| {
        let (token, digest) = townhall::admin::new_token();
        db.create_api_token(user, "test", &digest, &Actor::cli()).await.unwrap();
        format!("Bearer {token}")
    };
    let (muni_token, region_token) = (tokens(&world.agent).await, tokens(&world.region_agent).await);

    let public_url = [("TOWNHALL_SERVER_PUBLIC_URL", "https://townhall.example.org/")];
    let server = Server::start_with_env(dir.path(), &url, &[], &public_url);
    let address = server.address;
    let call = |token: String, path: String, body: String| {
        tokio::task::spawn_blocking(move || {
            let headers = [("Authorization", token.as_str()), ("Content-Type", "application/json")];
            request(address, "POST", &path, &headers, body.as_bytes())
        })
    };
    let refer = serde_json::json!({ "to": world.region.0, "reason": HOSTILE_REASON }).to_string();
    let referred = call(muni_token, format!("/api/v1/cases/{}/referrals", case.id), refer).await.unwrap();
    assert_eq!(referred.status, 200, "{}", referred.body);
    // The region answers (as the outbox would record it), then resolves.
    let case = db.case_by_id(case.id).await.unwrap().unwrap();
    act(&db, &case, CaseAction::Respond, Utc::now(), &world.region_agent).await;
    let resolve = serde_json::json!({ "action": "resolve", "outcome": "Reparado el lunes" }).to_string();
    let resolved = call(region_token, format!("/api/v1/cases/{}/actions", case.id), resolve).await.unwrap();
    assert_eq!(resolved.status, 200, "{}", resolved.body);
    // Let the outbox settle (these replies have no credentials to go out with), then stop.
    let started = Instant::now();
    let notice_pending = async || {
        let replies = db.replies(case.id).await.unwrap();
        replies
            .iter()
            .any(|r| r.kind == ReplyKind::Referral && matches!(r.status, ReplyStatus::Queued | ReplyStatus::Sending))
    };
    while notice_pending().await && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::task::spawn_blocking(move || server.stop()).await.unwrap();

    let replies = db.replies(case.id).await.unwrap();
    let link_in = |kind| {
        let reply = replies.iter().find(|r| r.kind == kind).unwrap_or_else(|| panic!("a {kind:?} reply"));
        let (_, link) = reply.body.split_once("https://townhall.example.org/public/cases/").expect("a link");
        link.to_owned()
    };
    let (notice, outcome) = (link_in(ReplyKind::Referral), link_in(ReplyKind::Outcome));
    assert_eq!(notice, outcome, "one link per case");
    assert!(notice.len() >= 43 && notice.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let notice_body = &replies.iter().find(|r| r.kind == ReplyKind::Referral).unwrap().body;
    assert!(notice_body.contains("Siga su caso: https://townhall.example.org/public/cases/"), "{notice_body}");

    // The citizen follows it (the outbox stopped: the notice is marked delivered here).
    let notice_reply = replies.iter().find(|r| r.kind == ReplyKind::Referral).unwrap();
    if notice_reply.status == ReplyStatus::Failed {
        db.retry_reply(notice_reply.id, world.muni, &Actor::cli()).await.unwrap();
    }
    assert!(db.start_sending(notice_reply.id, 2).await.unwrap());
    db.reply_sent(notice_reply, "n1", None, 2, None).await.unwrap();
    let page = serve_router(db.clone(), format!("/public/cases/{notice}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Reparado el lunes"), "the outcome");
    assert!(page.body.contains("&#60;script&#62;alert(&#34;r&#34;)&#60;/script&#62; La región"), "the reason");
    assert!(page.body.contains("Derivamos su mensaje a"), "the notice sent");
    for private in [STAFF_NAME, "Rita Regional", CITIZEN_TEXT, CITIZEN_NAME] {
        assert!(!page.body.contains(private), "{private} leaked");
    }
}

/// The router (no workers) on `db`, asked for `path` once.
async fn serve_router(db: Db, path: String) -> Response {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = router(AppState::new(db, WebhooksConfig::default()), 1024 * 1024);
    tokio::spawn(async move { axum::serve(listener, app).await });
    tokio::task::spawn_blocking(move || crate::support::get(address, &path)).await.unwrap()
}
