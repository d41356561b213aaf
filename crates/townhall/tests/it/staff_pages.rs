//! The staff pages over real HTTP: sign-in with its form token, the inbox, the case
//! page with a hostile post rendered inert, forms that need the session's CSRF token,
//! and the interface in the browser's language.

use chrono::Utc;
use townhall_core::{Actor, NewContact, NewPost, Platform, Priority, Role};
use townhall_store::{NewAccount, NewCase, NewUser};

use crate::support::{TestApp, cookie, csrf_field, form};

const HOSTILE: &str = "<script>alert(1)</script><img src=x onerror=alert(2)> \u{202e}gnp.exe javascript:alert(3)";

async fn setup(app: &TestApp) -> i64 {
    let db = &app.db;
    let new = crate::support::municipality("valpo", "Municipalidad de Valparaíso");
    let valpo = db.create_institution(&new, &Actor::cli()).await.unwrap().id;
    let user = NewUser {
        institution_id: valpo,
        email: "ana@valpo.cl".into(),
        name: "Ana".into(),
        role: Role::Agent,
        team_id: None,
        password_hash: Some(townhall::admin::hash_password("a long passphrase").unwrap()),
    };
    db.create_user(&user, &Actor::cli()).await.unwrap();
    let account = NewAccount {
        institution_id: valpo,
        platform: Platform::Mastodon,
        handle: "@muni@social.example".into(),
        display_name: "Muni".into(),
        external_id: None,
        official: None,
    };
    let account = db.create_account(&account, &Actor::cli()).await.unwrap().id;
    let post = NewPost {
        platform: Platform::Mastodon,
        external_id: "https://social.example/statuses/1".into(),
        account_id: Some(account),
        author: Some(NewContact {
            external_id: "c".into(),
            handle: "vecina".into(),
            display_name: Some(HOSTILE.into()),
        }),
        text: HOSTILE.into(),
        lang_hint: None,
        created_at: Utc::now(),
        edited_at: None,
        reply_to: None,
        conversation: None,
        metrics: Default::default(),
        entities: townhall_core::PostEntities {
            links: vec!["javascript:alert(4)".into(), "https://example.org/a".into()],
            ..Default::default()
        },
        raw: br#"{"id":"1"}"#.to_vec(),
    };
    let post = db.ingest_post(&post).await.unwrap().post_id();
    let case = NewCase {
        institution_id: valpo,
        contact_id: None,
        subject: HOSTILE.into(),
        platform: Some(Platform::Mastodon),
        priority: Priority::High,
        team_id: None,
        assignee: None,
        tags: Vec::new(),
        first_response_due: None,
        resolution_due: None,
        post_ids: vec![post],
    };
    db.create_case(&case, &Actor::cli()).await.unwrap().id.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sign_in_work_a_case_and_see_hostile_text_inert() {
    let app = TestApp::start().await;
    let case = setup(&app).await;

    // Without a session a page sends to the sign-in page, which brings one back to it.
    let anonymous = app.get("/inbox?status=new").await;
    assert_eq!((anonymous.status, anonymous.header("location")), (303, Some("/signin?next=%2Finbox%3Fstatus%3Dnew")));
    let page = app.get(&format!("/signin?next=%2Fcases%2F{case}")).await;
    assert!(page.body.contains(&format!("name=\"next\" value=\"/cases/{case}\"")), "{}", page.body);
    for elsewhere in ["//evil.example/", "/%5Cevil.example", "https://evil.example/"] {
        let page = app.get(&format!("/signin?next={}", elsewhere.replace('/', "%2F"))).await;
        assert!(page.body.contains("name=\"next\" value=\"/inbox\""), "{elsewhere} is not a place to return to");
    }

    // The sign-in form's token must come back with its cookie.
    let page = app.get("/signin").await;
    let signin_cookie = cookie(&page, "townhall_signin");
    let token = csrf_field(&page.body);
    let urlencoded = ("Content-Type", "application/x-www-form-urlencoded");
    let body = form(&[("email", "ana@valpo.cl"), ("password", "a long passphrase"), ("csrf", &token)]);
    let forged = app.request("POST", "/signin", &[urlencoded], body.as_bytes()).await;
    assert_eq!(forged.status, 403, "no cookie: another site's form");
    let wrong = form(&[("email", "ana@valpo.cl"), ("password", "nope"), ("csrf", &token)]);
    let refused = app.request("POST", "/signin", &[urlencoded, ("Cookie", &signin_cookie)], wrong.as_bytes()).await;
    assert_eq!(refused.status, 401);
    assert!(refused.body.contains("Wrong e-mail or password."));
    let signed = app.request("POST", "/signin", &[urlencoded, ("Cookie", &signin_cookie)], body.as_bytes()).await;
    assert_eq!((signed.status, signed.header("location")), (303, Some("/inbox")));
    let session = cookie(&signed, "townhall_session");
    let page = app.get(&format!("/signin?next=%2Fcases%2F{case}")).await;
    let back = form(&[
        ("email", "ana@valpo.cl"),
        ("password", "a long passphrase"),
        ("csrf", &csrf_field(&page.body)),
        ("next", &format!("/cases/{case}")),
    ]);
    let signed = app
        .request("POST", "/signin", &[urlencoded, ("Cookie", &cookie(&page, "townhall_signin"))], back.as_bytes())
        .await;
    assert_eq!(signed.header("location"), Some(format!("/cases/{case}").as_str()), "back where they were sent");

    // The inbox lists the case; its subject is text, not markup.
    let inbox = app.request("GET", "/inbox", &[("Cookie", &session)], b"").await;
    assert_eq!(inbox.status, 200);
    assert!(inbox.body.contains(&format!("href=\"/cases/{case}\"")));
    for raw in ["<script>alert(1)", "<img src=x"] {
        assert!(!inbox.body.contains(raw), "{raw} reached the inbox unescaped");
    }
    assert!(inbox.body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "shown as text");
    let csp = inbox.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");

    // A search that cannot be run says why instead of showing everything.
    let unsearchable = app.request("GET", "/inbox?q=-basura", &[("Cookie", &session)], b"").await;
    assert_eq!(unsearchable.status, 400);
    assert!(unsearchable.body.contains("at least one word"), "{}", unsearchable.body);

    // The case page: the thread escaped, untrusted text isolated, links inert and marked.
    let path = format!("/cases/{case}");
    let page = app.request("GET", &path, &[("Cookie", &session)], b"").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("<script>alert") && !page.body.contains("onerror=alert(2)>"));
    assert!(page.body.contains("<bdi>"), "untrusted text is isolated");
    assert!(page.body.contains("<span class=\"handle\"><bdi>vecina</bdi></span>"), "the author's handle is shown");
    assert!(!page.body.contains("href=\"javascript:"), "only http(s) links are links");
    assert!(page.body.contains("href=\"https://example.org/a\" rel=\"noopener noreferrer nofollow\""), "{}", page.body);
    assert!(page.body.contains("(example.org)"), "the link's host is shown");
    let csrf = csrf_field(&page.body);

    // Forms need the session's token.
    let note = form(&[("csrf", "forged"), ("body", "Llamar a la vecina")]);
    let forged =
        app.request("POST", &format!("{path}/note"), &[urlencoded, ("Cookie", &session)], note.as_bytes()).await;
    assert_eq!(forged.status, 403);
    let note = form(&[("csrf", &csrf), ("body", "Llamar a la vecina")]);
    let added =
        app.request("POST", &format!("{path}/note"), &[urlencoded, ("Cookie", &session)], note.as_bytes()).await;
    assert_eq!((added.status, added.header("location")), (303, Some(format!("{path}?done=note#notes").as_str())));
    let done = app.request("GET", &format!("{path}?done=note"), &[("Cookie", &session)], b"").await;
    assert!(done.body.contains("role=\"status\">Note added."), "the page says what the form did");
    let act = form(&[("csrf", &csrf), ("action", "assign_me"), ("outcome", ""), ("reason", "")]);
    let assigned =
        app.request("POST", &format!("{path}/act"), &[urlencoded, ("Cookie", &session)], act.as_bytes()).await;
    assert_eq!(assigned.status, 303);
    let key = page.body.split("name=\"key\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let reply = form(&[("csrf", &csrf), ("key", &key), ("body", "Hola, ya lo revisamos."), ("canned_answer", "")]);
    let reply_path = format!("{path}/reply");
    for _ in 0..2 {
        // A double submission of one form stores one reply.
        let sent = app.request("POST", &reply_path, &[urlencoded, ("Cookie", &session)], reply.as_bytes()).await;
        assert_eq!(sent.status, 303);
    }
    assert_eq!(app.db.replies(townhall_core::CaseId(case)).await.unwrap().len(), 1);
    // Closing an unanswered case without a reason is refused with the reason why, on
    // the case page, with what was typed still in the form.
    let close = form(&[("csrf", &csrf), ("action", "close"), ("outcome", "Texto <b>escrito</b>"), ("reason", "")]);
    let refused =
        app.request("POST", &format!("{path}/act"), &[urlencoded, ("Cookie", &session)], close.as_bytes()).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("role=\"alert\"") && refused.body.contains("needs a reason"), "{}", refused.body);
    assert!(refused.body.contains("value=\"Texto &#60;b&#62;escrito&#60;/b&#62;\""), "the typed outcome is kept");
    let spanish = [urlencoded, ("Cookie", &session), ("Accept-Language", "es")];
    let refused = app.request("POST", &format!("{path}/act"), &spanish, close.as_bytes()).await;
    assert!(refused.body.contains("necesita un motivo"), "the reason in the reader's words: {}", refused.body);

    // Addresses and forms that cannot be read get a page, not a bare error.
    for (method, target, body, status) in [
        ("GET", "/cases/abc".to_owned(), String::new(), 404),
        ("GET", "/inbox?before=abc".to_owned(), String::new(), 400),
        ("POST", format!("{path}/note"), form(&[("csrf", &csrf)]), 400),
    ] {
        let answer = app.request(method, &target, &[urlencoded, ("Cookie", &session)], body.as_bytes()).await;
        assert_eq!(answer.status, status, "{method} {target}");
        assert!(answer.body.contains("<html") && answer.body.contains("role=\"alert\""), "{target}: {}", answer.body);
    }

    let page = app.request("GET", &path, &[("Cookie", &session), ("Accept-Language", "es-CL,es;q=0.9")], b"").await;
    assert!(page.body.contains("<html lang=\"es\">"));
    for expected in
        ["Llamar a la vecina", "Hola, ya lo revisamos.", "en cola", "Responder a la persona", "Notas internas"]
    {
        assert!(page.body.contains(expected), "the case page lacks {expected:?}");
    }

    // Signing out ends the session.
    let out = form(&[("csrf", &csrf)]);
    let signed_out = app.request("POST", "/signout", &[urlencoded, ("Cookie", &session)], out.as_bytes()).await;
    assert_eq!(signed_out.status, 303);
    let after = app.request("GET", "/inbox", &[("Cookie", &session)], b"").await;
    assert_eq!(after.status, 303);
}

/// Signs in through the form and returns the session cookie.
async fn sign_in(app: &TestApp) -> String {
    let page = app.get("/signin").await;
    let body = form(&[("email", "ana@valpo.cl"), ("password", "a long passphrase"), ("csrf", &csrf_field(&page.body))]);
    let headers =
        [("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", &cookie(&page, "townhall_signin"))];
    let signed = app.request("POST", "/signin", &headers, body.as_bytes()).await;
    cookie(&signed, "townhall_session")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_counts_today_and_draws_it_with_its_table() {
    let app = TestApp::start().await;
    let case = setup(&app).await;
    let anonymous = app.get("/dashboard").await;
    assert_eq!(anonymous.header("location"), Some("/signin?next=%2Fdashboard"));
    let session = sign_in(&app).await;

    let page = app.request("GET", "/dashboard", &[("Cookie", &session)], b"").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let figure = |label: &str| {
        let after = page.body.split(&format!("<dt>{label}</dt><dd>")).nth(1).unwrap_or_else(|| panic!("no {label}"));
        after.split("</dd>").next().unwrap().to_owned()
    };
    assert_eq!(figure("Cases opened"), "1");
    assert_eq!(figure("First answers"), "0");
    assert!(figure("Waiting").contains(">1<"), "{}", figure("Waiting"));
    assert!(figure("Nobody assigned").contains('1'));
    assert!(figure("Overdue").contains(">0<"), "the demo case has no deadline");
    // The chart is drawn on the server, and its numbers are in a table as well.
    assert!(page.body.contains("<svg role=\"img\""));
    assert!(page.body.contains("<rect class=\"bar s0\""), "today's case is a bar");
    assert!(page.body.contains("<td class=\"num\">1</td>"), "and a number in the table");
    assert!(page.body.contains("No team"), "the case waits in no queue");

    // A missed deadline counts as overdue and is listed with a link to its case.
    let institution = app.db.institutions().await.unwrap()[0].id;
    let (first, _) = app.db.case(townhall_core::CaseId(case), institution).await.unwrap().unwrap();
    let late = NewCase {
        institution_id: institution,
        contact_id: None,
        subject: "Semáforo apagado".into(),
        platform: Some(Platform::Mastodon),
        priority: Priority::Urgent,
        team_id: None,
        assignee: None,
        tags: Vec::new(),
        first_response_due: Some(Utc::now() - chrono::Duration::hours(1)),
        resolution_due: None,
        post_ids: Vec::new(),
    };
    let late = app.db.create_case(&late, &Actor::cli()).await.unwrap();
    assert_ne!(first.id, late.id);
    app.db.flag_breaches(Utc::now()).await.unwrap();
    let page = app.request("GET", "/dashboard", &[("Cookie", &session), ("Accept-Language", "es")], b"").await;
    assert!(
        page.body.contains("<dt>Vencidos</dt><dd><a href=\"/inbox?deadline=breached\" class=\"due-breached\">1</a>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!("<a href=\"/cases/{}\">#{}</a></th><td>primera respuesta</td>", late.id, late.id))
    );
}
