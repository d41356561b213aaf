//! The admin pages over real HTTP: an admin signs in through the pages and creates a
//! team, a user, a rule and a canned answer and changes the deadline policies and
//! inbox settings, each audited as done by them; a refused form keeps what was typed
//! (never the password) and says why; forms need the session's CSRF token; hostile
//! names come back as text; a lead reads without forms; an agent is turned away.

use townhall_core::{Actor, AuditEventId, InstitutionId, Platform, Priority, Role, User, UserId};
use townhall_store::NewUser;

use crate::support::{Response, TestApp, cookie, csrf_field, form};

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";
const URLENCODED: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// Raw markup of the hostile names must never come back.
fn assert_inert(page: &str) {
    for raw in ["<script>alert(1)", "<img src=x"] {
        assert!(!page.contains(raw), "{raw} came back unescaped");
    }
}

const PASSWORD: &str = "a long passphrase";

async fn user(app: &TestApp, institution: InstitutionId, email: &str, role: Role) -> User {
    let new = NewUser {
        institution_id: institution,
        email: email.into(),
        name: format!("{role} user"),
        role,
        team_id: None,
        password_hash: Some(townhall::admin::hash_password(PASSWORD).unwrap()),
    };
    app.db.create_user(&new, &Actor::cli()).await.unwrap()
}

async fn setup(app: &TestApp) -> (InstitutionId, User) {
    let new = crate::support::municipality("valpo", "Municipalidad de Valparaíso");
    let valpo = app.db.create_institution(&new, &Actor::cli()).await.unwrap().id;
    let admin = user(app, valpo, "admin@valpo.cl", Role::Admin).await;
    user(app, valpo, "lead@valpo.cl", Role::Lead).await;
    user(app, valpo, "agent@valpo.cl", Role::Agent).await;
    (valpo, admin)
}

/// A signed-in browser: its session cookie and the session's CSRF token.
struct Browser<'a> {
    app: &'a TestApp,
    session: String,
    csrf: String,
}

impl Browser<'_> {
    async fn sign_in<'a>(app: &'a TestApp, email: &str, password: &str) -> Browser<'a> {
        let page = app.get("/signin").await;
        let signin_cookie = cookie(&page, "townhall_signin");
        let body = form(&[("email", email), ("password", password), ("csrf", &csrf_field(&page.body))]);
        let signed = app.request("POST", "/signin", &[URLENCODED, ("Cookie", &signin_cookie)], body.as_bytes()).await;
        assert_eq!(signed.status, 303, "{email} signs in");
        let session = cookie(&signed, "townhall_session");
        let inbox = app.request("GET", "/inbox", &[("Cookie", &session)], b"").await;
        assert_eq!(inbox.status, 200);
        let csrf = csrf_field(&inbox.body);
        Browser { app, session, csrf }
    }

    async fn get(&self, path: &str) -> Response {
        self.app.request("GET", path, &[("Cookie", &self.session)], b"").await
    }

    async fn get_in(&self, path: &str, language: &str) -> Response {
        self.app.request("GET", path, &[("Cookie", &self.session), ("Accept-Language", language)], b"").await
    }

    /// Posts a form with the session's CSRF token.
    async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> Response {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(pairs);
        self.post_raw(path, &form(&all)).await
    }

    async fn post_raw(&self, path: &str, body: &str) -> Response {
        self.app.request("POST", path, &[URLENCODED, ("Cookie", &self.session)], body.as_bytes()).await
    }
}

fn assert_back(response: &Response, path: &str) {
    assert_eq!((response.status, response.header("location")), (303, Some(path)), "{}", response.body);
}

/// The institution's audit actions done by `user`, oldest first.
async fn audited(app: &TestApp, institution: InstitutionId, user: UserId) -> Vec<String> {
    let events = app.db.audit_events(Some(institution), AuditEventId(0), 1000).await.unwrap();
    events.into_iter().filter(|e| e.actor == Actor::User(user)).map(|e| e.action).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_configures_the_inbox_through_the_pages() {
    let app = TestApp::start().await;
    let (valpo, admin) = setup(&app).await;
    let browser = Browser::sign_in(&app, "admin@valpo.cl", PASSWORD).await;

    // The header links to the admin pages; the index links to each of them.
    let index = browser.get("/admin").await;
    assert_eq!(index.status, 200);
    assert!(index.body.contains("<a href=\"/admin\">Administration</a>"), "{}", index.body);
    for page in ["/admin/teams", "/admin/users", "/admin/rules", "/admin/deadlines", "/admin/canned"] {
        assert!(index.body.contains(&format!("href=\"{page}\"")), "the index lacks {page}");
        assert_eq!(browser.get(page).await.status, 200, "{page}");
    }

    // Teams, one with a hostile name.
    assert_back(&browser.post("/admin/teams", &[("name", "Agua potable")]).await, "/admin/teams");
    assert_back(&browser.post("/admin/teams", &[("name", SCRIPT)]).await, "/admin/teams");
    let teams_page = browser.get("/admin/teams").await;
    assert!(teams_page.body.contains("<bdi>Agua potable</bdi>"));
    assert!(teams_page.body.contains("<bdi>&#60;script&#62;alert(1)&#60;/script&#62;</bdi>"), "{}", teams_page.body);
    assert_inert(&teams_page.body);
    let duplicate = browser.post("/admin/teams", &[("name", "Agua potable")]).await;
    assert_eq!(duplicate.status, 422);
    assert!(duplicate.body.contains("role=\"alert\">That name or e-mail address is already in use."));
    assert!(duplicate.body.contains("value=\"Agua potable\""), "the typed name is kept");
    let water = app.db.teams(valpo).await.unwrap().into_iter().find(|t| t.name == "Agua potable").unwrap().id;

    // A user: a weak password is refused, what was typed is kept but the password is not.
    let team = water.0.to_string();
    let typed = [
        ("name", IMG),
        ("email", "nueva@valpo.cl"),
        ("role", "agent"),
        ("team", team.as_str()),
        ("password", "Tiny-pw-9"),
    ];
    let refused = browser.post("/admin/users", &typed).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("role=\"alert\">The password needs at least 12 characters."), "{}", refused.body);
    assert!(refused.body.contains("value=\"nueva@valpo.cl\""), "the e-mail is kept");
    assert!(refused.body.contains("value=\"&#34;&#62;&#60;img src=x onerror=alert(1)&#62;\""), "{}", refused.body);
    assert!(refused.body.contains(&format!("<option value=\"{team}\" selected>")), "the team is kept");
    assert!(!refused.body.contains("Tiny-pw-9"), "a password is never sent back");
    assert_inert(&refused.body);
    let mut good = typed;
    good[4] = ("password", "una clave bastante larga");
    assert_back(&browser.post("/admin/users", &good).await, "/admin/users");
    let users_page = browser.get("/admin/users").await;
    assert!(users_page.body.contains("<bdi>nueva@valpo.cl</bdi>"));
    assert_inert(&users_page.body);
    let created = app.db.users(valpo).await.unwrap().into_iter().find(|u| u.email == "nueva@valpo.cl").unwrap();
    assert_eq!((created.role, created.team_id, created.name.as_str()), (Role::Agent, Some(water), IMG));
    Browser::sign_in(&app, "nueva@valpo.cl", "una clave bastante larga").await;

    // Changing a user: role, team, availability (unchecked: off) and cap.
    let path = format!("/admin/users/{}", created.id);
    let bad_cap = browser.post(&path, &[("role", "lead"), ("team", ""), ("max_open_cases", "muchos")]).await;
    assert_eq!(bad_cap.status, 422);
    assert!(bad_cap.body.contains("Write a whole number, 0 or more: <bdi>muchos</bdi>"), "{}", bad_cap.body);
    assert!(bad_cap.body.contains("value=\"muchos\""), "the typed cap is kept");
    assert_back(
        &browser.post(&path, &[("role", "lead"), ("team", &team), ("max_open_cases", "7")]).await,
        "/admin/users",
    );
    let changed = app.db.user(created.id).await.unwrap().unwrap();
    assert_eq!(
        (changed.role, changed.team_id, changed.available, changed.max_open_cases),
        (Role::Lead, Some(water), false, Some(7))
    );

    // A canned answer; an unknown placeholder is refused with the text kept.
    let unknown =
        browser.post("/admin/canned", &[("name", "Gracias"), ("lang", "es"), ("body", "Hola {{nadie}}")]).await;
    assert_eq!(unknown.status, 422);
    assert!(unknown.body.contains("The text uses a placeholder that does not exist:"), "{}", unknown.body);
    assert!(unknown.body.contains(">Hola {{nadie}}</textarea>"), "the text is kept");
    let answer = [("name", SCRIPT), ("lang", "es"), ("body", "Gracias, {{citizen}}. Lo revisamos.")];
    assert_back(&browser.post("/admin/canned", &answer).await, "/admin/canned");
    let canned_page = browser.get("/admin/canned").await;
    assert!(canned_page.body.contains("Gracias, {{citizen}}. Lo revisamos."));
    assert_inert(&canned_page.body);
    let canned = app.db.canned_answers(valpo).await.unwrap();
    assert_eq!(canned.len(), 1);

    // A rule: a bad tag is refused with everything typed kept; then it is stored.
    let canned_id = canned[0].id.to_string();
    let rule = |tags: &'static str| {
        vec![
            ("name", "Inundaciones"),
            ("position", "10"),
            ("enabled", "1"),
            ("keywords", "inundación, calle cortada"),
            ("platform", "mastodon"),
            ("platform", "x"),
            ("urgency", "0,4"),
            ("team", team.as_str()),
            ("agent", ""),
            ("priority", "urgent"),
            ("tags", tags),
            ("acknowledge", canned_id.as_str()),
            ("stop", "1"),
        ]
    };
    let refused = browser.post("/admin/rules", &rule("agua, mala etiqueta!")).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("role=\"alert\">A tag has 1 to 50 letters"), "{}", refused.body);
    for kept in [
        "value=\"Inundaciones\"",
        "value=\"inundación, calle cortada\"",
        "value=\"agua, mala etiqueta!\"",
        "value=\"0,4\"",
        "value=\"x\" checked",
        "<option value=\"urgent\" selected>",
    ] {
        assert!(refused.body.contains(kept), "the refused rule form lacks {kept}");
    }
    assert_back(&browser.post("/admin/rules", &rule("agua, inundacion")).await, "/admin/rules");
    let stored = app.db.rules(valpo).await.unwrap();
    assert_eq!(stored.len(), 1);
    let expected: townhall_core::routing::Rule = serde_json::from_value(serde_json::json!({
        "id": stored[0].id, "name": "Inundaciones", "position": 10, "stop": true,
        "conditions": [
            { "field": "platform", "any_of": ["mastodon", "x"] },
            { "field": "keywords", "any_of": ["inundación", "calle cortada"] },
            { "field": "urgency", "at_least": 0.4 }
        ],
        "actions": [
            { "action": "assign_team", "team": water.0 },
            { "action": "set_priority", "priority": "urgent" },
            { "action": "tag", "tag": "agua" },
            { "action": "tag", "tag": "inundacion" },
            { "action": "acknowledge", "canned_answer": canned[0].id }
        ]
    }))
    .unwrap();
    assert_eq!(stored[0], expected);
    let rules_page = browser.get("/admin/rules").await;
    for shown in ["<bdi>inundación, calle cortada</bdi>", "<bdi>Agua potable</bdi>", "<bdi>urgent</bdi>"] {
        assert!(rules_page.body.contains(shown), "the rule does not show {shown}");
    }
    // The hostile canned answer's name is text among the rule form's options.
    assert_inert(&rules_page.body);
    // Changing it: the form shows what is stored, and a change is saved.
    let rule_path = format!("/admin/rules/{}", stored[0].id);
    let edit = browser.get(&rule_path).await;
    assert!(edit.body.contains("value=\"agua, inundacion\"") && edit.body.contains("value=\"0.4\""), "{}", edit.body);
    let mut changed = rule("agua");
    changed[0] = ("name", "Inundaciones y cortes");
    assert_back(&browser.post(&rule_path, &changed).await, "/admin/rules");
    assert_eq!(app.db.rules(valpo).await.unwrap()[0].name, "Inundaciones y cortes");
    assert_back(&browser.post(&format!("{rule_path}/delete"), &[]).await, "/admin/rules");
    assert!(app.db.rules(valpo).await.unwrap().is_empty());

    // Deadline policies: a duplicate row is refused with the rows kept; then saved.
    let policies = [
        ("priority_0", "high"),
        ("platform_0", ""),
        ("first_0", "1.5"),
        ("resolution_0", "24"),
        ("priority_1", "urgent"),
        ("platform_1", "mastodon"),
        ("first_1", "0,5"),
        ("resolution_1", "8"),
        ("priority_2", ""),
        ("platform_2", ""),
        ("first_2", ""),
        ("resolution_2", ""),
    ];
    let mut twice = policies.to_vec();
    twice.extend([("priority_3", "high"), ("platform_3", ""), ("first_3", "2"), ("resolution_3", "")]);
    let refused = browser.post("/admin/deadlines", &twice).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("role=\"alert\">One row per priority and channel."), "{}", refused.body);
    assert!(refused.body.contains("name=\"first_1\" inputmode=\"decimal\" size=\"6\" value=\"0,5\""), "rows are kept");
    assert_back(&browser.post("/admin/deadlines", &policies).await, "/admin/deadlines");
    let mut stored = app.db.deadline_policies(valpo).await.unwrap();
    stored.sort_by_key(|p| p.priority);
    let hours = |p: &townhall_core::deadline::DeadlinePolicy| {
        (p.priority, p.platform, p.first_response.num_seconds(), p.resolution.num_seconds())
    };
    assert_eq!(
        stored.iter().map(hours).collect::<Vec<_>>(),
        [(Priority::High, None, 5400, 86_400), (Priority::Urgent, Some(Platform::Mastodon), 1800, 28_800)]
    );
    let deadlines_page = browser.get("/admin/deadlines").await;
    assert!(deadlines_page.body.contains("value=\"1.5\""), "hours read back as typed");

    // Inbox settings: an unknown time zone is refused with everything kept; then saved.
    let settings = |timezone: &'static str| {
        vec![
            ("timezone", timezone),
            ("hours_mon", "09:00-17:00"),
            ("hours_tue", "09:00-17:00"),
            ("hours_wed", "09:00-17:00"),
            ("hours_thu", "09:00-17:00"),
            ("hours_fri", "09:00-14:00"),
            ("hours_sat", ""),
            ("hours_sun", ""),
            ("holidays", "2026-12-25\n2027-01-01"),
            ("satisfaction", "30"),
            ("approval_topics", "seguridad, salud"),
            ("approval_role", "agent"),
        ]
    };
    let refused = browser.post("/admin/deadlines/settings", &settings("Mars/Olympus")).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains("Unknown time zone; write an IANA name such as America/Santiago: <bdi>Mars/Olympus</bdi>")
    );
    assert!(refused.body.contains("value=\"09:00-14:00\"") && refused.body.contains("value=\"seguridad, salud\""));
    assert_back(&browser.post("/admin/deadlines/settings", &settings("America/Santiago")).await, "/admin/deadlines");
    let saved = app.db.inbox_settings(valpo).await.unwrap();
    assert_eq!(saved.calendar.timezone().name(), "America/Santiago");
    assert_eq!(saved.calendar.holidays().len(), 2);
    assert_eq!(saved.satisfaction_delay_secs, Some(1800));
    assert_eq!(
        (saved.approval_topics, saved.approval_roles),
        (vec!["seguridad".into(), "salud".into()], vec![Role::Agent])
    );
    let hours = browser.get("/admin/deadlines").await;
    assert!(hours.body.contains("id=\"hours-fri\" name=\"hours_fri\" value=\"09:00-14:00\""), "{}", hours.body);

    // Every change was audited as the admin's.
    let actions = audited(&app, valpo, admin.id).await;
    for action in [
        "team.create",
        "user.create",
        "user.update",
        "canned_answer.create",
        "rule.create",
        "rule.update",
        "rule.delete",
        "deadline_policies.set",
        "inbox_settings.set",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action} was not audited: {actions:?}");
    }

    // Deleting the canned answer; the page is in the browser's language.
    let delete = format!("/admin/canned/{}/delete", canned[0].id);
    assert_back(&browser.post(&delete, &[]).await, "/admin/canned");
    assert!(app.db.canned_answers(valpo).await.unwrap().is_empty());
    let spanish = browser.get_in("/admin/teams", "es-CL,es;q=0.9").await;
    assert!(spanish.body.contains("<h1>Equipos</h1>") && spanish.body.contains("Agregar un equipo"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_need_the_token_leads_read_and_agents_are_turned_away() {
    let app = TestApp::start().await;
    let (valpo, _) = setup(&app).await;
    let admin = Browser::sign_in(&app, "admin@valpo.cl", PASSWORD).await;

    // Without the session's token (or with another) nothing changes.
    let missing = admin.post_raw("/admin/teams", &form(&[("name", "Sin token")])).await;
    assert_eq!(missing.status, 403);
    let forged = admin.post_raw("/admin/teams", &form(&[("csrf", "forged"), ("name", "Sin token")])).await;
    assert_eq!(forged.status, 403);
    assert!(app.db.teams(valpo).await.unwrap().is_empty());
    assert_back(&admin.post("/admin/teams", &[("name", "Con token")]).await, "/admin/teams");
    let team = app.db.teams(valpo).await.unwrap()[0].id;
    // Addresses and bodies axum cannot read get a page, not plain text.
    let json = [("Content-Type", "application/json"), ("Cookie", admin.session.as_str())];
    let not_a_form = app.request("POST", "/admin/teams", &json, b"{\"name\":\"x\"}").await;
    let not_an_id = admin.get("/admin/rules/abc").await;
    for (answer, status) in [(not_a_form, 400), (not_an_id, 404)] {
        assert_eq!(answer.status, status);
        assert!(answer.body.contains("<html") && answer.body.contains("role=\"alert\""), "{}", answer.body);
    }
    let agent_id = app.db.users(valpo).await.unwrap().into_iter().find(|u| u.role == Role::Agent).unwrap().id;

    // A lead reads every admin page, with no form to change anything, and may not post.
    let lead = Browser::sign_in(&app, "lead@valpo.cl", PASSWORD).await;
    for page in ["/admin", "/admin/teams", "/admin/users", "/admin/rules", "/admin/deadlines", "/admin/canned"] {
        let response = lead.get(page).await;
        assert_eq!(response.status, 200, "{page}");
        assert!(response.body.contains("href=\"/admin\""), "leads see the Administration link");
        assert!(!response.body.contains("action=\"/admin"), "{page} offers a lead a form");
    }
    let users = lead.get("/admin/users").await;
    assert!(users.body.contains("<th scope=\"row\"><bdi>agent user</bdi></th>"), "{}", users.body);
    assert_eq!(lead.post("/admin/teams", &[("name", "De la jefa")]).await.status, 403);
    let promote = lead.post(&format!("/admin/users/{agent_id}"), &[("role", "admin"), ("team", "")]).await;
    assert_eq!(promote.status, 403);
    assert_eq!(app.db.user(agent_id).await.unwrap().unwrap().role, Role::Agent);

    // An agent gets a 403 page for every admin page and every form, and no link.
    let agent = Browser::sign_in(&app, "agent@valpo.cl", PASSWORD).await;
    let inbox = agent.get("/inbox").await;
    assert!(!inbox.body.contains("href=\"/admin\""), "agents do not see the Administration link");
    for page in [
        "/admin",
        "/admin/teams",
        "/admin/users",
        "/admin/rules",
        "/admin/rules/1",
        "/admin/deadlines",
        "/admin/canned",
    ] {
        let response = agent.get(page).await;
        assert_eq!(response.status, 403, "{page}");
        assert!(response.body.contains("role=\"alert\"><bdi>Your role may not open this page"), "{}", response.body);
    }
    let team = team.0.to_string();
    let own = format!("/admin/users/{agent_id}");
    let posts: [(&str, Vec<(&str, &str)>); 10] = [
        ("/admin/teams", vec![("name", "Agentes")]),
        ("/admin/users", vec![("name", "X"), ("email", "x@valpo.cl"), ("role", "admin"), ("team", "")]),
        (&own, vec![("role", "admin"), ("team", &team), ("available", "1")]),
        ("/admin/rules", vec![("name", "R"), ("position", "1"), ("tags", "t")]),
        ("/admin/rules/1", vec![("name", "R"), ("position", "1"), ("tags", "t")]),
        ("/admin/rules/1/delete", vec![]),
        ("/admin/deadlines", vec![("priority_0", "high"), ("first_0", "1"), ("resolution_0", "2")]),
        ("/admin/deadlines/settings", vec![("timezone", "UTC"), ("hours_mon", "00:00-24:00")]),
        ("/admin/canned", vec![("name", "C"), ("lang", "es"), ("body", "Hola")]),
        ("/admin/canned/1/delete", vec![]),
    ];
    for (path, pairs) in &posts {
        assert_eq!(agent.post(path, pairs).await.status, 403, "POST {path}");
    }
    assert_eq!(app.db.teams(valpo).await.unwrap().len(), 1);
    assert_eq!(app.db.users(valpo).await.unwrap().len(), 3);
    assert!(app.db.rules(valpo).await.unwrap().is_empty());
    assert!(app.db.deadline_policies(valpo).await.unwrap().is_empty());
    assert!(app.db.canned_answers(valpo).await.unwrap().is_empty());
    assert_eq!(app.db.user(agent_id).await.unwrap().unwrap().role, Role::Agent);

    // Signed out, the admin pages send to the sign-in page.
    let anonymous = app.get("/admin/users").await;
    assert_eq!((anonymous.status, anonymous.header("location")), (303, Some("/signin")));
}
