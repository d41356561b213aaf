//! Who may call what: every API route, called by every role of an institution, by
//! the admin of another institution and by nobody, against objects of the first
//! institution. The expected access is written here, apart from the route table, and
//! the test fails if a route is missing from it. Nothing of the first institution
//! (marked with a canary string) may ever appear in an answer to the other.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use chrono::Utc;
use serde_json::{Value, json};
use townhall::config::WebhooksConfig;
use townhall::http::api::ROUTES;
use townhall::http::{AppState, router};
use townhall_core::canned::CannedAnswer;
use townhall_core::reply::ReplyKind;
use townhall_core::routing::Rule;
use townhall_core::{Actor, InstitutionId, NewContact, NewPost, Platform, PostId, Priority, Role, User};
use townhall_store::{Db, DbOptions, NewAccount, NewCase, NewReply, NewUser};

use crate::support::request;

/// In every name and text of the first institution; never in an answer to another.
const CANARY: &str = "canary-7f3a";

/// Who may call a route, as the product promises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum May {
    /// Every signed-in role.
    Staff,
    /// Admins, leads and agents.
    Workers,
    /// Admins and leads.
    Leads,
    /// Admins and auditors.
    Auditors,
    /// Admins.
    Admins,
}

const MATRIX: &[(&str, &str, May)] = &[
    ("DELETE", "/session", May::Staff),
    ("GET", "/me", May::Staff),
    ("GET", "/institutions", May::Staff),
    ("GET", "/cases", May::Staff),
    ("GET", "/cases/{id}", May::Staff),
    ("POST", "/cases/{id}/actions", May::Workers),
    ("POST", "/cases/{id}/replies", May::Workers),
    ("POST", "/cases/{id}/notes", May::Workers),
    ("POST", "/cases/{id}/referrals", May::Workers),
    ("POST", "/cases/{id}/merge", May::Workers),
    ("POST", "/cases/{id}/split", May::Workers),
    ("POST", "/replies/{id}/approve", May::Leads),
    ("POST", "/replies/{id}/retry", May::Workers),
    ("GET", "/breaches", May::Staff),
    ("GET", "/teams", May::Staff),
    ("POST", "/teams", May::Admins),
    ("GET", "/users", May::Leads),
    ("POST", "/users", May::Admins),
    ("PATCH", "/users/{id}", May::Admins),
    ("POST", "/tokens", May::Staff),
    ("DELETE", "/tokens/{id}", May::Admins),
    ("GET", "/rules", May::Leads),
    ("POST", "/rules", May::Admins),
    ("PUT", "/rules/{id}", May::Admins),
    ("DELETE", "/rules/{id}", May::Admins),
    ("GET", "/deadline-policies", May::Staff),
    ("PUT", "/deadline-policies", May::Admins),
    ("GET", "/inbox-settings", May::Staff),
    ("PUT", "/inbox-settings", May::Admins),
    ("GET", "/canned-answers", May::Staff),
    ("POST", "/canned-answers", May::Admins),
    ("DELETE", "/canned-answers/{id}", May::Admins),
    ("GET", "/accounts", May::Staff),
    ("PUT", "/accounts/{id}/credentials", May::Admins),
    ("GET", "/audit", May::Auditors),
];

fn admits(may: May, role: Role) -> bool {
    match may {
        May::Staff => true,
        May::Workers => matches!(role, Role::Admin | Role::Lead | Role::Agent),
        May::Leads => matches!(role, Role::Admin | Role::Lead),
        May::Auditors => matches!(role, Role::Admin | Role::Auditor),
        May::Admins => role == Role::Admin,
    }
}

/// The first institution with its users (one per role) and the other's admin.
struct World {
    db: Db,
    address: SocketAddr,
    home: InstitutionId,
    /// The first institution's Mastodon account, which citizens' posts address.
    account: townhall_core::AccountId,
    other: InstitutionId,
    staff: Vec<(Role, User, String)>,
    stranger: String,
    serial: std::sync::atomic::AtomicUsize,
}

impl World {
    async fn new(dir: &tempfile::TempDir) -> World {
        let db = Db::open(&DbOptions::new(format!("sqlite://{}", dir.path().join("t.db").display()))).await.unwrap();
        let institution = |slug: &str, name: &str| crate::support::municipality(slug, name);
        // Institutions are a public directory (referral targets): their names are no secret.
        let home = db.create_institution(&institution("home", "Home"), &Actor::cli()).await.unwrap().id;
        let other = db.create_institution(&institution("other", "Other"), &Actor::cli()).await.unwrap().id;
        let team = db.create_team(home, &format!("Team {CANARY}"), &Actor::cli()).await.unwrap();
        let account = NewAccount {
            institution_id: home,
            platform: Platform::Mastodon,
            handle: "@home@social.example".into(),
            display_name: format!("Home {CANARY}"),
            external_id: None,
            official: None,
        };
        let account = db.create_account(&account, &Actor::cli()).await.unwrap().id;
        let mut staff = Vec::new();
        for role in Role::ALL {
            let user = NewUser {
                institution_id: home,
                email: format!("{role}@home.example"),
                name: format!("{role} {CANARY}"),
                role: *role,
                team_id: Some(team.id),
                password_hash: None,
            };
            let user = db.create_user(&user, &Actor::cli()).await.unwrap();
            staff.push((*role, user.clone(), token(&db, &user).await));
        }
        let stranger = NewUser {
            institution_id: other,
            email: "admin@other.example".into(),
            name: "Other admin".into(),
            role: Role::Admin,
            team_id: None,
            password_hash: None,
        };
        let stranger = db.create_user(&stranger, &Actor::cli()).await.unwrap();
        let stranger = token(&db, &stranger).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = router(AppState::new(db.clone(), WebhooksConfig::default()), 1 << 20);
        tokio::spawn(async move { axum::serve(listener, app).await });
        World { db, address, home, account, other, staff, stranger, serial: Default::default() }
    }

    fn next(&self) -> usize {
        self.serial.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    fn admin(&self) -> &User {
        &self.staff[0].1
    }

    async fn post(&self) -> PostId {
        let n = self.next();
        let post = NewPost {
            platform: Platform::Mastodon,
            external_id: format!("https://social.example/statuses/{n}"),
            account_id: Some(self.account),
            author: Some(NewContact { external_id: "c1".into(), handle: "vecina".into(), display_name: None }),
            text: format!("¿Cuándo vuelve el agua? {CANARY}"),
            lang_hint: Some("es".into()),
            created_at: Utc::now(),
            edited_at: None,
            reply_to: None,
            conversation: None,
            metrics: Default::default(),
            entities: Default::default(),
            raw: format!("{{\"id\":\"{n}\"}}").into_bytes(),
        };
        self.db.ingest_post(&post).await.unwrap().post_id()
    }

    async fn case(&self, posts: usize) -> i64 {
        let mut ids = Vec::new();
        for _ in 0..posts {
            ids.push(self.post().await);
        }
        let new = NewCase {
            institution_id: self.home,
            contact_id: None,
            subject: format!("Agua {CANARY}"),
            platform: Some(Platform::Mastodon),
            priority: Priority::Normal,
            team_id: None,
            assignee: None,
            tags: Vec::new(),
            first_response_due: None,
            resolution_due: None,
            post_ids: ids,
        };
        self.db.create_case(&new, &Actor::cli()).await.unwrap().id.0
    }

    async fn reply(&self, held: bool) -> i64 {
        let case = self.case(1).await;
        let post = self.db.case_posts(townhall_core::CaseId(case), self.home).await.unwrap()[0].id;
        let new = NewReply {
            case_id: townhall_core::CaseId(case),
            institution_id: self.home,
            user_id: Some(self.admin().id),
            kind: ReplyKind::Answer,
            post_id: post,
            platform: Platform::Mastodon,
            account_id: None,
            body: format!("Respuesta {CANARY}"),
            needs_approval: held,
            idempotency_key: format!("k{}", self.next()),
            send_at: None,
        };
        let reply = self.db.queue_reply(&new, &Actor::cli()).await.unwrap();
        if !held {
            self.db.reply_failed(&reply, 8, "deliver.rejected", "refused", true).await.unwrap();
        }
        reply.id.0
    }

    /// The path and body of a call that would succeed for a user allowed to make it,
    /// against fresh objects of the first institution.
    async fn call_for(&self, method: &str, path: &str) -> (String, Option<Value>) {
        let n = self.next();
        let with_case = |suffix: &str, id: i64| format!("/cases/{id}{suffix}");
        match (method, path) {
            ("GET", "/cases/{id}") => (with_case("", self.case(1).await), None),
            ("POST", "/cases/{id}/actions") => (
                with_case("/actions", self.case(1).await),
                Some(json!({ "action": "set_priority", "priority": "high" })),
            ),
            ("POST", "/cases/{id}/replies") => {
                (with_case("/replies", self.case(1).await), Some(json!({ "body": "Hola" })))
            }
            ("POST", "/cases/{id}/notes") => (with_case("/notes", self.case(1).await), Some(json!({ "body": "Nota" }))),
            ("POST", "/cases/{id}/referrals") => (
                with_case("/referrals", self.case(1).await),
                Some(json!({ "to": self.other.0, "reason": "Es de la otra institución" })),
            ),
            ("POST", "/cases/{id}/merge") => {
                let (into, from) = (self.case(1).await, self.case(1).await);
                (with_case("/merge", into), Some(json!({ "from": from })))
            }
            ("POST", "/cases/{id}/split") => {
                let case = self.case(2).await;
                let posts = self.db.case_posts(townhall_core::CaseId(case), self.home).await.unwrap();
                (with_case("/split", case), Some(json!({ "post_ids": [posts[1].id.0] })))
            }
            ("POST", "/replies/{id}/approve") => (format!("/replies/{}/approve", self.reply(true).await), None),
            ("POST", "/replies/{id}/retry") => (format!("/replies/{}/retry", self.reply(false).await), None),
            ("POST", "/teams") => (path.into(), Some(json!({ "name": format!("Team {n}") }))),
            ("POST", "/users") => {
                (path.into(), Some(json!({ "email": format!("new{n}@home.example"), "name": "New", "role": "agent" })))
            }
            ("PATCH", "/users/{id}") => {
                let user = NewUser {
                    institution_id: self.home,
                    email: format!("patch{n}@home.example"),
                    name: format!("Patch {CANARY}"),
                    role: Role::Agent,
                    team_id: None,
                    password_hash: None,
                };
                let user = self.db.create_user(&user, &Actor::cli()).await.unwrap();
                (format!("/users/{}", user.id), Some(json!({ "role": "lead" })))
            }
            ("POST", "/tokens") => (path.into(), Some(json!({ "name": "script" }))),
            ("DELETE", "/tokens/{id}") => {
                // A colleague's token: only an admin may revoke it.
                let colleague = NewUser {
                    institution_id: self.home,
                    email: format!("colleague{n}@home.example"),
                    name: "Colleague".into(),
                    role: Role::Agent,
                    team_id: None,
                    password_hash: None,
                };
                let colleague = self.db.create_user(&colleague, &Actor::cli()).await.unwrap();
                let (_, digest) = townhall::admin::new_token();
                let id = self.db.create_api_token(&colleague, "theirs", &digest, &Actor::cli()).await.unwrap();
                (format!("/tokens/{id}"), None)
            }
            ("POST", "/rules") | ("PUT", "/rules/{id}") | ("DELETE", "/rules/{id}") => {
                let rule = json!({ "name": format!("Rule {CANARY}"), "position": 1,
                                   "actions": [{ "action": "tag", "tag": "agua" }] });
                if method == "POST" {
                    return (path.into(), Some(rule));
                }
                let stored: Rule = serde_json::from_value(rule.clone()).unwrap();
                let stored = self.db.save_rule(self.home, &stored, &Actor::cli()).await.unwrap();
                (format!("/rules/{}", stored.id), (method == "PUT").then_some(rule))
            }
            ("PUT", "/deadline-policies") => (
                path.into(),
                Some(json!([{ "priority": "high", "first_response_secs": 3600, "resolution_secs": 86400 }])),
            ),
            ("PUT", "/inbox-settings") => (path.into(), Some(json!({ "satisfaction_delay_secs": 60 }))),
            ("POST", "/canned-answers") => {
                (path.into(), Some(json!({ "name": format!("a{n}"), "lang": "es", "body": "Gracias, {{citizen}}" })))
            }
            ("DELETE", "/canned-answers/{id}") => {
                let answer =
                    CannedAnswer { id: 0, name: format!("c{n} {CANARY}"), lang: "es".into(), body: "Hola".into() };
                let answer = self.db.create_canned_answer(self.home, &answer, &Actor::cli()).await.unwrap();
                (format!("/canned-answers/{}", answer.id), None)
            }
            ("PUT", "/accounts/{id}/credentials") => {
                let account = NewAccount {
                    institution_id: self.home,
                    platform: Platform::Mastodon,
                    handle: format!("@muni{n}@social.example"),
                    display_name: format!("Muni {CANARY}"),
                    external_id: None,
                    official: None,
                };
                let account = self.db.create_account(&account, &Actor::cli()).await.unwrap();
                let body = json!({ "endpoint": "https://social.example", "secret": "s" });
                (format!("/accounts/{}/credentials", account.id), Some(body))
            }
            _ => (path.into(), None),
        }
    }

    async fn send(&self, token: Option<&str>, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
        let (address, method, path) = (self.address, method.to_owned(), format!("/api/v1{path}"));
        let auth = token.map(|t| format!("Bearer {t}"));
        let body = body.map(Value::to_string).unwrap_or_default();
        let response = tokio::task::spawn_blocking(move || {
            let mut headers = vec![("Content-Type", "application/json")];
            if let Some(auth) = &auth {
                headers.push(("Authorization", auth.as_str()));
            }
            request(address, &method, &path, &headers, body.as_bytes())
        })
        .await
        .unwrap();
        (response.status, response.body)
    }
}

async fn token(db: &Db, user: &User) -> String {
    let (token, digest) = townhall::admin::new_token();
    db.create_api_token(user, "test", &digest, &Actor::cli()).await.unwrap();
    token
}

fn denied(status: u16) -> bool {
    matches!(status, 401 | 403 | 404)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_admits_exactly_the_roles_it_should_and_no_other_institution() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::new(&dir).await;

    let routes: BTreeSet<(&str, &str)> = ROUTES.iter().map(|r| (r.method, r.path)).collect();
    let matrix: BTreeSet<(&str, &str)> =
        MATRIX.iter().map(|(m, p, _)| (*m, *p)).chain([("POST", "/session")]).collect();
    assert_eq!(routes, matrix, "every route has its expected access written here");

    for (method, path, may) in MATRIX {
        for (role, _, token) in &world.staff {
            let (target, body) = world.call_for(method, path).await;
            let (status, answer) = world.send(Some(token), method, &target, body.as_ref()).await;
            if admits(*may, *role) {
                assert!((200..300).contains(&status), "{role} {method} {target}: {status} {answer}");
            } else {
                // Refused by role (403), or, for one's own tokens, not found among them.
                assert!(matches!(status, 403 | 404), "{role} {method} {target}: {status} {answer}");
                assert!(!answer.contains(CANARY), "{role} {method} {target} was refused but saw: {answer}");
            }
        }
        // Nobody signed in is turned away everywhere.
        let (target, body) = world.call_for(method, path).await;
        let (status, answer) = world.send(None, method, &target, body.as_ref()).await;
        assert_eq!(status, 401, "anonymous {method} {target}: {answer}");
        // The other institution's admin never reaches the first institution's objects,
        // and nothing of them is in any answer it gets.
        let (target, body) = world.call_for(method, path).await;
        // What the stranger sends is theirs: only the first institution's data is marked.
        let body = body.map(|b| serde_json::from_str::<Value>(&b.to_string().replace(CANARY, "theirs")).unwrap());
        let (status, answer) = world.send(Some(&world.stranger), method, &target, body.as_ref()).await;
        if target.chars().any(|c| c.is_ascii_digit()) {
            assert!(denied(status), "stranger {method} {target}: {status} {answer}");
        }
        assert!(!answer.contains(CANARY), "stranger {method} {target} saw the first institution: {answer}");
    }

    // A wrong password is refused for everyone, the same way.
    let (status, answer) = world
        .send(None, "POST", "/session", Some(&json!({ "email": "admin@home.example", "password": "wrong" })))
        .await;
    assert_eq!(status, 401, "{answer}");
    assert!(answer.contains("auth.invalid_credentials"));

    // Nothing the stranger did is in the first institution's audit log.
    let events = world.db.audit_events(Some(world.home), townhall_core::AuditEventId(0), 100_000).await.unwrap();
    let stranger = world.db.users(world.other).await.unwrap()[0].id;
    assert!(events.iter().all(|e| e.actor != Actor::User(stranger)), "the stranger changed nothing here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_needs_its_csrf_token_to_change_anything() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::new(&dir).await;
    let password = "correct horse battery staple";
    let hash = townhall::admin::hash_password(password).unwrap();
    let user = NewUser {
        institution_id: world.home,
        email: "signin@home.example".into(),
        name: "Sign In".into(),
        role: Role::Admin,
        team_id: None,
        password_hash: Some(hash),
    };
    world.db.create_user(&user, &Actor::cli()).await.unwrap();
    let address = world.address;
    let call = move |method: &'static str, path: &'static str, headers: Vec<(String, String)>, body: String| {
        tokio::task::spawn_blocking(move || {
            let mut all: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
            all.extend(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            request(address, method, &format!("/api/v1{path}"), &all, body.as_bytes())
        })
    };
    let sign_in = json!({ "email": "SignIn@home.example", "password": password }).to_string();
    let response = call("POST", "/session", vec![], sign_in).await.unwrap();
    assert_eq!(response.status, 200, "{}", response.body);
    let cookie = response.header("set-cookie").unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_owned();
    let csrf = serde_json::from_str::<Value>(&response.body).unwrap()["csrf_token"].as_str().unwrap().to_owned();
    let with = |csrf: Option<&str>| {
        let mut headers = vec![("Cookie".to_owned(), session.clone())];
        if let Some(csrf) = csrf {
            headers.push(("X-CSRF-Token".to_owned(), csrf.to_owned()));
        }
        headers
    };
    assert_eq!(call("GET", "/me", with(None), String::new()).await.unwrap().status, 200, "reading needs no token");
    let team = json!({ "name": "Nuevo equipo" }).to_string();
    let forged = call("POST", "/teams", with(None), team.clone()).await.unwrap();
    assert_eq!((forged.status, forged.body.contains("auth.csrf")), (403, true), "{}", forged.body);
    let wrong = call("POST", "/teams", with(Some("th_wrong")), team.clone()).await.unwrap();
    assert_eq!(wrong.status, 403);
    assert_eq!(call("POST", "/teams", with(Some(&csrf)), team).await.unwrap().status, 201);
    assert_eq!(call("DELETE", "/session", with(Some(&csrf)), String::new()).await.unwrap().status, 204);
    assert_eq!(call("GET", "/me", with(None), String::new()).await.unwrap().status, 401, "signed out");

    // Guessing passwords is slowed down: after five failures even the right one waits.
    for _ in 0..5 {
        let wrong = json!({ "email": "signin@home.example", "password": "guess" }).to_string();
        assert_eq!(call("POST", "/session", vec![], wrong).await.unwrap().status, 401);
    }
    let right = json!({ "email": "signin@home.example", "password": password }).to_string();
    let limited = call("POST", "/session", vec![], right).await.unwrap();
    assert_eq!((limited.status, limited.body.contains("auth.rate_limited")), (429, true), "{}", limited.body);
}
