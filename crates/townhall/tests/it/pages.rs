//! Pages and HTTP behaviour, against the real router on 127.0.0.1 with a fresh database.

use townhall_core::{Actor, NewInstitution, Platform};
use townhall_store::NewAccount;

use crate::support::TestApp;

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let app = TestApp::start().await;
    for path in ["/", "/healthz", "/no/such/page", "/static/townhall.css"] {
        let response = app.get(path).await;
        let csp = response.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"), "{path}");
    }
    let missing = app.get("/no/such/page").await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("There is no page at this address."));
}

#[tokio::test]
async fn an_empty_installation_says_how_to_start() {
    let app = TestApp::start().await;
    let page = app.get("/").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("townhall admin institution create"));
    assert!(page.body.contains("<html lang=\"en\">") && page.body.contains("<main id=\"main\">"));
}

#[tokio::test]
async fn hostile_names_render_as_inert_text() {
    let app = TestApp::start().await;
    let name = "<script>alert(1)</script>\u{202E}gnp.exe";
    let institution = app
        .db
        .create_institution(
            &NewInstitution {
                jurisdiction: Some("\" onmouseover=\"alert(2)".into()),
                ..crate::support::municipality("hostile", name)
            },
            &Actor::cli(),
        )
        .await
        .unwrap();
    let account = NewAccount {
        institution_id: institution.id,
        platform: Platform::Mastodon,
        handle: "@x@evil.example".into(),
        display_name: "<img src=x onerror=alert(3)>".into(),
        external_id: None,
        official: Some("<b>Mayor</b>".into()),
    };
    app.db.create_account(&account, &Actor::cli()).await.unwrap();
    let page = app.get("/").await;
    for raw in ["<script>alert(1)", "<img src=x", "\" onmouseover=\"", "<b>Mayor"] {
        assert!(!page.body.contains(raw), "{raw:?} reached the page unescaped");
    }
    assert!(page.body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "shown as text");
    assert!(page.body.contains("<bdi>&#60;script&#62;"), "names are isolated against bidi overrides");
}

#[tokio::test]
async fn health_reports_an_unavailable_database() {
    let app = TestApp::start().await;
    assert_eq!(app.get("/healthz").await.status, 200);
    app.db.close().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status, 503);
    assert!(health.body.contains("\"status\":\"unavailable\""), "{}", health.body);
}
