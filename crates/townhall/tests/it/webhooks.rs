//! Webhook receivers: handshakes, signatures checked, deliveries stored before 200.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use townhall::cli::{ExportFormat, ExportWhat};
use townhall::config::{Secret, WebhooksConfig};
use townhall_core::Platform;

use crate::support::TestApp;

const X_SECRET: &str = "x-consumer-secret-for-tests";
const META_SECRET: &str = "meta-app-secret-for-tests";

fn sign(secret: &str, body: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

fn meta_signature(body: &[u8]) -> String {
    let hex: String = sign(META_SECRET, body).iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

async fn app() -> TestApp {
    TestApp::start_with(WebhooksConfig {
        x_consumer_secret: Secret::new(X_SECRET),
        meta_app_secret: Secret::new(META_SECRET),
        meta_verify_token: Secret::new("verify-me"),
    })
    .await
}

const META_COMMENT: &[u8] =
    br#"{"object":"page","entry":[{"id":"1001","time":1700000000,"changes":[{"field":"feed","value":{
  "from":{"id":"2002","name":"Vecina de Valpara\u00edso"},"item":"comment","comment_id":"1001_3003_4004",
  "post_id":"1001_3003","parent_id":"1001_3003","verb":"add","created_time":1700000000,
  "message":"<script>alert(1)</script> \u00bfCu\u00e1ndo vuelve el agua? \ud83d\udca7"}}]}]}"#;

#[tokio::test]
async fn x_crc_challenge_is_answered_with_the_signed_token() {
    let app = app().await;
    let response = app.get("/webhooks/x?crc_token=challenge123").await;
    assert_eq!(response.status, 200);
    let expected = base64::engine::general_purpose::STANDARD.encode(sign(X_SECRET, b"challenge123"));
    let body: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(body["response_token"], format!("sha256={expected}"));
}

#[tokio::test]
async fn x_deliveries_need_a_valid_signature_and_are_stored_before_200() {
    let app = app().await;
    let body = br#"{"for_user_id":"1","tweet_delete_events":[{"status":{"id":"42","user_id":"7"},"timestamp_ms":"1700000000000"}]}"#;
    let forged = app.request("POST", "/webhooks/x", &[("x-twitter-webhooks-signature", "sha256=AAAA")], body).await;
    assert_eq!(forged.status, 401);
    let unsigned = app.request("POST", "/webhooks/x", &[], body).await;
    assert_eq!(unsigned.status, 401);
    assert!(app.db.post_by_external_id(Platform::X, "42").await.unwrap().is_none(), "nothing stored when refused");

    let signature = format!("sha256={}", base64::engine::general_purpose::STANDARD.encode(sign(X_SECRET, body)));
    let accepted = app.request("POST", "/webhooks/x", &[("x-twitter-webhooks-signature", &signature)], body).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let tombstone = app.db.post_by_external_id(Platform::X, "42").await.unwrap().expect("stored before the 200");
    assert!(tombstone.deleted_at.is_some());
}

#[tokio::test]
async fn meta_handshake_checks_the_verify_token() {
    let app = app().await;
    let ok = app.get("/webhooks/meta?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444").await;
    assert_eq!((ok.status, ok.body.as_str()), (200, "1158201444"));
    let wrong = app.get("/webhooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444").await;
    assert_eq!(wrong.status, 403);
    assert!(!wrong.body.contains("1158201444"));
}

#[tokio::test]
async fn meta_deliveries_are_verified_then_stored_or_quarantined() {
    let app = app().await;
    let tampered = META_COMMENT.to_vec().into_iter().map(|b| if b == b'7' { b'8' } else { b }).collect::<Vec<_>>();
    let forged = app
        .request("POST", "/webhooks/meta", &[("x-hub-signature-256", &meta_signature(META_COMMENT))], &tampered)
        .await;
    assert_eq!(forged.status, 401);

    let signature = meta_signature(META_COMMENT);
    let accepted = app.request("POST", "/webhooks/meta", &[("x-hub-signature-256", &signature)], META_COMMENT).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let post = app.db.post_by_external_id(Platform::Facebook, "1001_3003_4004").await.unwrap().expect("stored");
    assert!(post.text.contains("<script>alert(1)</script> ¿Cuándo vuelve el agua? 💧"), "{}", post.text);
    assert_eq!(post.raw, META_COMMENT, "the delivery is kept byte for byte");

    // A retry of the same delivery stores nothing new.
    let again = app.request("POST", "/webhooks/meta", &[("x-hub-signature-256", &signature)], META_COMMENT).await;
    assert_eq!(again.status, 200);
    assert_eq!(app.db.post_versions(post.id).await.unwrap().len(), 1);

    // Signed but unreadable: kept in quarantine, acknowledged.
    let broken = b"{\"object\":\"page\",\"entry\":[{\"changes\": [".as_slice();
    let kept = app.request("POST", "/webhooks/meta", &[("x-hub-signature-256", &meta_signature(broken))], broken).await;
    assert_eq!(kept.status, 200, "{}", kept.body);
    let quarantined = app.db.quarantined(10).await.unwrap();
    assert_eq!((quarantined[0].source.as_str(), quarantined[0].raw.as_slice()), ("webhook:meta", broken));

    // An operator sees it with `townhall export --what quarantine`.
    let mut out = Vec::new();
    let count = townhall::export::run(&app.db, ExportWhat::Quarantine, ExportFormat::Ndjson, &mut out).await.unwrap();
    let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        (count, line["source"].as_str(), line["raw"].as_str()),
        (1, Some("webhook:meta"), std::str::from_utf8(broken).ok())
    );
}

#[tokio::test]
async fn unconfigured_receivers_answer_not_found() {
    let app = TestApp::start().await;
    assert_eq!(app.get("/webhooks/x?crc_token=a").await.status, 404);
    assert_eq!(app.request("POST", "/webhooks/meta", &[], b"{}").await.status, 404);
}

#[test]
fn secrets_never_show_in_debug_output() {
    let config = WebhooksConfig { meta_app_secret: Secret::new(META_SECRET), ..WebhooksConfig::default() };
    let printed = format!("{config:?}");
    assert!(!printed.contains(META_SECRET) && printed.contains("redacted"), "{printed}");
}
