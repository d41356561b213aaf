//! Platform webhooks: X's Account Activity API and Meta's (Facebook, Instagram)
//! Webhooks. Each delivery is verified against the app secret in constant time, then
//! stored (or quarantined, when unreadable) before it is acknowledged: a 200 means
//! it is durable, anything else makes the platform retry.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use townhall_connectors::{Item, Parsed};
use townhall_core::PlatformEvent;

use super::AppState;
use super::intake::NotStored;
use crate::config::Secret;

type HmacSha256 = Hmac<Sha256>;

fn hmac(secret: &Secret, message: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(message);
    mac
}

fn not_configured(which: &str) -> Response {
    (StatusCode::NOT_FOUND, axum::Json(json!({ "error": format!("the {which} webhook receiver is not configured") })))
        .into_response()
}

fn refused(source: &str, why: &str) -> Response {
    tracing::warn!(source, why, "webhook delivery refused");
    (StatusCode::UNAUTHORIZED, axum::Json(json!({ "error": "signature missing or invalid" }))).into_response()
}

/// `GET /webhooks/x?crc_token=…`: X's challenge-response check, answered with the
/// token signed by the consumer secret.
pub async fn x_crc(State(state): State<AppState>, Query(query): Query<HashMap<String, String>>) -> Response {
    let secret = &state.webhooks.x_consumer_secret;
    if !secret.is_set() {
        return not_configured("X");
    }
    let Some(token) = query.get("crc_token") else {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": "crc_token is missing" }))).into_response();
    };
    let signed =
        base64::engine::general_purpose::STANDARD.encode(hmac(secret, token.as_bytes()).finalize().into_bytes());
    axum::Json(json!({ "response_token": format!("sha256={signed}") })).into_response()
}

/// `POST /webhooks/x`: an Account Activity delivery, signed in
/// `X-Twitter-Webhooks-Signature: sha256=<base64>`.
pub async fn x_event(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let secret = &state.webhooks.x_consumer_secret;
    if !secret.is_set() {
        return not_configured("X");
    }
    let decode = |v: &str| base64::engine::general_purpose::STANDARD.decode(v).ok();
    if let Err(why) = verify(secret, &headers, "x-twitter-webhooks-signature", decode, &body) {
        return refused("webhook:x", why);
    }
    receive(&state, "webhook:x", &body, townhall_connectors::account_activity::parse(&body)).await
}

/// `GET /webhooks/meta?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`:
/// Meta's subscription handshake, answered with the challenge when the token matches.
pub async fn meta_verify(State(state): State<AppState>, Query(query): Query<HashMap<String, String>>) -> Response {
    let expected = &state.webhooks.meta_verify_token;
    if !expected.is_set() || !state.webhooks.meta_app_secret.is_set() {
        return not_configured("Meta");
    }
    let given = query.get("hub.verify_token").map(String::as_str).unwrap_or_default();
    let matches: bool = given.as_bytes().ct_eq(expected.expose().as_bytes()).into();
    match (query.get("hub.mode").map(String::as_str), query.get("hub.challenge")) {
        (Some("subscribe"), Some(challenge)) if matches => {
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], challenge.clone()).into_response()
        }
        _ => {
            tracing::warn!(source = "webhook:meta", "subscription handshake refused");
            (StatusCode::FORBIDDEN, axum::Json(json!({ "error": "verify token does not match" }))).into_response()
        }
    }
}

/// `POST /webhooks/meta`: a Facebook or Instagram delivery, signed in
/// `X-Hub-Signature-256: sha256=<hex>`.
pub async fn meta_event(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let secret = &state.webhooks.meta_app_secret;
    if !secret.is_set() {
        return not_configured("Meta");
    }
    if let Err(why) = verify(secret, &headers, "x-hub-signature-256", decode_hex, &body) {
        return refused("webhook:meta", why);
    }
    receive(&state, "webhook:meta", &body, townhall_connectors::facebook::parse(&body)).await
}

/// Checks the `sha256=…` signature in `header` against the body, in constant time;
/// the error says why it was refused.
fn verify(
    secret: &Secret,
    headers: &HeaderMap,
    header: &str,
    decode: impl Fn(&str) -> Option<Vec<u8>>,
    body: &[u8],
) -> Result<(), &'static str> {
    let signature = headers
        .get(header)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("sha256="))
        .and_then(decode)
        .ok_or("no signature")?;
    hmac(secret, body).verify_slice(&signature).map_err(|_| "signature does not match")
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// Stores a verified delivery (together with others arriving meanwhile: see
/// [`super::intake`]), or quarantines it when it cannot be read; only then answers
/// 200. A storage failure answers 503 so the platform delivers it again.
async fn receive(state: &AppState, source: &str, body: &[u8], parsed: Parsed) -> Response {
    let items = match parsed {
        Ok(items) => items,
        Err(error) => {
            return match state.db.quarantine(source, error.code, &error.message, body).await {
                Ok(id) => {
                    tracing::warn!(source, code = error.code, id, "webhook delivery quarantined");
                    axum::Json(json!({ "quarantined": id, "code": error.code })).into_response()
                }
                Err(store) => unavailable(source, &NotStored::from(&store)),
            };
        }
    };
    let mut skipped = 0;
    let events: Vec<PlatformEvent> = items
        .into_iter()
        .filter_map(|item| match item {
            Item::Event(event) => Some(event),
            Item::Skipped(_) => {
                skipped += 1;
                None
            }
        })
        .collect();
    match state.intake.clone().store(state.db.clone(), events).await {
        Ok(stored) => axum::Json(json!({ "stored": stored, "skipped": skipped })).into_response(),
        Err(error) => unavailable(source, &error),
    }
}

fn unavailable(source: &str, error: &NotStored) -> Response {
    // A busy intake is a surge doing what it does; anything else is a fault.
    if error.code == "intake.busy" {
        tracing::warn!(source, code = error.code, "webhook delivery refused until the backlog drains");
    } else {
        tracing::error!(source, code = error.code, error = %error.message, "webhook delivery not stored");
    }
    (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({ "error": error.code }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_signatures_decode_and_garbage_does_not() {
        assert_eq!(decode_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("é1"), None);
    }
}
