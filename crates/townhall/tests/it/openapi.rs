//! The published OpenAPI document: served at `/api/v1/openapi.json`, equal to the
//! reviewed snapshot in `tests/snapshots/openapi.json` (rewrite it with
//! `UPDATE_SNAPSHOTS=1 cargo test -p townhall --test it openapi` and review the diff),
//! and naming every route with the roles that may call it.

use townhall::http::api::ROUTES;
use townhall::http::openapi::openapi;

use crate::support::{TestApp, crate_file};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_served_and_matches_its_snapshot() {
    let document = openapi();
    let pretty = format!("{}\n", serde_json::to_string_pretty(&document).unwrap());
    let snapshot = crate_file("tests/snapshots/openapi.json");
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::write(&snapshot, &pretty).unwrap();
    }
    let expected = std::fs::read_to_string(&snapshot).unwrap();
    assert!(pretty == expected, "the OpenAPI document changed; review it and rerun with UPDATE_SNAPSHOTS=1");

    for route in ROUTES {
        let path = format!("/api/v1{}", route.path);
        let operation = &document["paths"][&path][route.method.to_lowercase()];
        assert!(operation["summary"].is_string(), "{} {path} is documented", route.method);
        if route.path != "/session" || route.method != "POST" {
            assert!(!operation["x-roles"].as_array().unwrap().is_empty(), "{} {path} names its roles", route.method);
        }
    }

    let app = TestApp::start().await;
    let served = app.get("/api/v1/openapi.json").await;
    assert_eq!(served.status, 200);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&served.body).unwrap(), document);
    let unknown = app.get("/api/v1/nothing-here").await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("request.not_found"), "{}", unknown.body);
}
