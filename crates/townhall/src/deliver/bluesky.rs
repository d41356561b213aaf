//! Bluesky: sign in with `com.atproto.server.createSession` (handle or DID and an app
//! password), then `com.atproto.repo.createRecord` of an `app.bsky.feed.post` whose
//! `reply` holds strong references (URI and CID) to the post answered (`parent`) and
//! to the first post of its thread (`root`) (atproto.com/specs/xrpc,
//! docs.bsky.app: app.bsky.feed.post).
//!
//! The parent is the stored post: its AT URI is our external id, its CID the Jetstream
//! commit's `cid`; the root is the parent's own `reply.root` when it is itself a reply.
//!
//! **One reply, one record.** The record key is derived from the idempotency key and
//! the parent URI ([`record_key`]), so a repeated attempt names the same record. The
//! PDS refuses to create a record that exists (today with a 500, in newer versions
//! with an explicit error), and the record is then read back with
//! `com.atproto.repo.getRecord`: a retry after a lost answer returns the reply that was
//! posted, never a second one.
//!
//! **Sessions** are kept between deliveries, per endpoint, identifier and password, for
//! 30 minutes (access tokens last longer): the PDS allows 30 `createSession` calls per
//! account in 5 minutes and a few hundred a day. An expired or refused session is
//! replaced once.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{
    Call, Credentials, Delivered, DeliveryError, Replay, ReplyTarget, authorized, bearer, endpoint, with_json,
};
use crate::config::Secret;

/// A post's length limit in graphemes (`app.bsky.feed.post#text.maxGraphemes`).
pub(super) const MAX_GRAPHEMES: usize = 300;

/// A post's length limit in UTF-8 bytes (`app.bsky.feed.post#text.maxLength`).
pub(super) const MAX_BYTES: usize = 3000;

const PLATFORM: &str = "Bluesky";
const COLLECTION: &str = "app.bsky.feed.post";

/// How long a session is reused.
const SESSION_REUSE: Duration = Duration::from_secs(30 * 60);

/// At most this many links become clickable (each is a facet).
const MAX_LINK_FACETS: usize = 50;

#[derive(Clone)]
struct Session {
    did: String,
    access: Secret,
    since: Instant,
}

/// Sessions by SHA-256 of (endpoint, identifier, password): a changed password is a
/// new key, and no password is kept.
static SESSIONS: Mutex<BTreeMap<[u8; 32], Session>> = Mutex::new(BTreeMap::new());

fn session_key(base: &str, identifier: &str, password: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(base)
        .chain_update([0])
        .chain_update(identifier)
        .chain_update([0])
        .chain_update(password)
        .finalize()
        .into()
}

fn cached(key: &[u8; 32]) -> Option<Session> {
    let mut sessions = SESSIONS.lock().unwrap_or_else(PoisonError::into_inner);
    sessions.retain(|_, s| s.since.elapsed() < SESSION_REUSE);
    sessions.get(key).cloned()
}

fn keep(key: [u8; 32], session: Option<Session>) {
    let mut sessions = SESSIONS.lock().unwrap_or_else(PoisonError::into_inner);
    match session {
        Some(session) => sessions.insert(key, session),
        None => sessions.remove(&key),
    };
}

/// A strong reference: a record's URI and the CID of its content.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StrongRef {
    uri: String,
    cid: String,
}

impl StrongRef {
    fn json(&self) -> Value {
        json!({ "uri": self.uri, "cid": self.cid })
    }
}

/// What a reply to the stored post points at.
#[derive(Debug, PartialEq, Eq)]
struct Refs {
    root: StrongRef,
    parent: StrongRef,
}

pub(super) async fn deliver(
    client: &reqwest::Client,
    credentials: &Credentials,
    target: &ReplyTarget<'_>,
    text: &str,
    idempotency_key: &str,
) -> Result<Delivered, DeliveryError> {
    let refs = reply_refs(target.raw, target.external_id).ok_or_else(|| {
        DeliveryError::target_unknown(format!(
            "the stored Bluesky payload is not the commit of {} with its CID",
            target.external_id
        ))
    })?;
    let identifier = credentials.identifier.as_deref().map(str::trim).filter(|i| !i.is_empty()).ok_or_else(|| {
        DeliveryError::auth("Bluesky: the account's handle or DID is needed to sign in (the identifier)")
    })?;
    let password = credentials.secret.expose();
    if password.is_empty() {
        return Err(DeliveryError::auth("Bluesky: no app password is configured"));
    }
    let base = endpoint(credentials, PLATFORM)?;
    let rkey = record_key(idempotency_key, &refs.parent.uri);
    let mut record = json!({
        "$type": COLLECTION,
        "text": text,
        "createdAt": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "reply": { "root": refs.root.json(), "parent": refs.parent.json() },
    });
    let facets = link_facets(text);
    if !facets.is_empty() {
        record["facets"] = Value::Array(facets);
    }

    let cache = session_key(&base, identifier, password);
    let (mut session, mut fresh) = match cached(&cache) {
        Some(session) => (session, false),
        None => (sign_in(client, &base, identifier, password).await?, true),
    };
    keep(cache, Some(session.clone()));
    loop {
        let secrets = [password, session.access.expose()];
        // Safe to repeat: the record key makes a second create fail, and it is read back.
        let call = Call { platform: PLATFORM, replay: Replay::Safe, secrets: &secrets };
        let auth = bearer(session.access.expose(), PLATFORM)?;
        let body = json!({ "repo": session.did, "collection": COLLECTION, "rkey": rkey, "record": record });
        let request =
            with_json(authorized(client.post(format!("{base}/xrpc/com.atproto.repo.createRecord")), &auth), &body);
        let answer = call.send(request).await?;
        if answer.status.is_success() {
            #[derive(Deserialize)]
            struct Created {
                uri: String,
            }
            let created: Created = call.parse(&answer)?;
            return Ok(delivered(created.uri, &session.did, &rkey));
        }
        if expired(&answer) && !fresh {
            keep(cache, None);
            session = sign_in(client, &base, identifier, password).await?;
            keep(cache, Some(session.clone()));
            fresh = true;
            continue;
        }
        if may_exist(&answer)
            && let Some(uri) = existing(&call, client, &base, &session.did, &rkey, &refs.parent.uri).await
        {
            return Ok(delivered(uri, &session.did, &rkey));
        }
        return Err(call.refusal(&answer));
    }
}

fn delivered(uri: String, did: &str, rkey: &str) -> Delivered {
    Delivered { external_id: uri, url: Some(format!("https://bsky.app/profile/{did}/post/{rkey}")) }
}

/// `com.atproto.server.createSession`.
async fn sign_in(
    client: &reqwest::Client,
    base: &str,
    identifier: &str,
    password: &str,
) -> Result<Session, DeliveryError> {
    #[derive(Deserialize)]
    struct Created {
        #[serde(rename = "accessJwt")]
        access_jwt: String,
        did: String,
    }
    let secrets = [password];
    let call = Call { platform: PLATFORM, replay: Replay::Safe, secrets: &secrets };
    let body = json!({ "identifier": identifier, "password": password });
    let answer =
        call.send(with_json(client.post(format!("{base}/xrpc/com.atproto.server.createSession")), &body)).await?;
    if !answer.status.is_success() {
        return Err(call.refusal(&answer));
    }
    let created: Created = call.parse(&answer)?;
    if !created.did.starts_with("did:") || created.access_jwt.is_empty() {
        return Err(DeliveryError::unavailable("Bluesky: the session has no DID or token"));
    }
    Ok(Session { did: created.did, access: Secret::new(created.access_jwt), since: Instant::now() })
}

/// The session's token is no longer accepted.
fn expired(answer: &super::Answer) -> bool {
    let error = error_name(answer);
    answer.status == reqwest::StatusCode::UNAUTHORIZED
        || (answer.status == reqwest::StatusCode::BAD_REQUEST
            && matches!(error.as_deref(), Some("ExpiredToken" | "InvalidToken")))
}

/// Whether a failed create may mean the record exists: the reference PDS answers a
/// 500 for that today; newer ones an explicit error (409 or 400 naming it).
fn may_exist(answer: &super::Answer) -> bool {
    let named = || {
        let body = String::from_utf8_lossy(&answer.body).to_ascii_lowercase();
        body.contains("exist")
    };
    answer.status.is_server_error()
        || answer.status == reqwest::StatusCode::CONFLICT
        || (answer.status == reqwest::StatusCode::BAD_REQUEST && named())
}

fn error_name(answer: &super::Answer) -> Option<String> {
    let value: Value = serde_json::from_slice(&answer.body).ok()?;
    value.get("error")?.as_str().map(str::to_owned)
}

/// The record under `rkey`, if it exists and answers `parent`: the reply already posted.
async fn existing(
    call: &Call<'_>,
    client: &reqwest::Client,
    base: &str,
    did: &str,
    rkey: &str,
    parent: &str,
) -> Option<String> {
    #[derive(Deserialize)]
    struct Found {
        uri: String,
        value: Value,
    }
    let query = [("repo", did), ("collection", COLLECTION), ("rkey", rkey)];
    let request = client.get(format!("{base}/xrpc/com.atproto.repo.getRecord")).query(&query);
    let answer = call.send(request).await.ok()?;
    if !answer.status.is_success() {
        return None;
    }
    let found: Found = serde_json::from_slice(&answer.body).ok()?;
    (found.value.pointer("/reply/parent/uri").and_then(Value::as_str) == Some(parent)).then_some(found.uri)
}

/// The reply references from a stored Jetstream commit event whose record is
/// `external_id`.
fn reply_refs(raw: &[u8], external_id: &str) -> Option<Refs> {
    #[derive(Deserialize)]
    struct Event {
        did: String,
        kind: String,
        commit: Commit,
    }
    #[derive(Deserialize)]
    struct Commit {
        operation: String,
        collection: String,
        rkey: String,
        cid: String,
        #[serde(default)]
        record: Value,
    }
    let event: Event = serde_json::from_slice(raw).ok()?;
    let commit = event.commit;
    let uri = format!("at://{}/{}/{}", event.did, commit.collection, commit.rkey);
    let is_post = event.kind == "commit"
        && commit.collection == COLLECTION
        && matches!(commit.operation.as_str(), "create" | "update");
    if !is_post || uri != external_id || !is_at_uri(&uri) || !is_cid(&commit.cid) {
        return None;
    }
    let parent = StrongRef { uri, cid: commit.cid };
    let text = |pointer: &str| commit.record.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
    let root = match (text("/reply/root/uri"), text("/reply/root/cid")) {
        (Some(uri), Some(cid)) if is_at_uri(&uri) && is_cid(&cid) => StrongRef { uri, cid },
        _ => parent.clone(),
    };
    Some(Refs { root, parent })
}

fn is_at_uri(uri: &str) -> bool {
    uri.len() <= 8192
        && uri.strip_prefix("at://").is_some_and(|rest| {
            rest.split('/').count() == 3 && !rest.chars().any(|c| c.is_whitespace() || c.is_control())
        })
}

fn is_cid(cid: &str) -> bool {
    (8..=256).contains(&cid.len()) && cid.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The record key of the reply: TID-shaped (13 characters of base32-sortable, the key
/// type the `app.bsky.feed.post` Lexicon names and PDSes check), derived from the
/// idempotency key and the parent URI. Its time bits come from the hash, inside
/// 2023–2025: no key looks like a future time, and the spec says a TID's time is not
/// to be trusted anyway (posts are ordered by `createdAt`).
fn record_key(idempotency_key: &str, parent: &str) -> String {
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    /// 2023-01-01T00:00:00Z in microseconds.
    const BASE_MICROS: u64 = 1_672_531_200_000_000;
    let digest = Sha256::new()
        .chain_update("townhall reply\0")
        .chain_update(idempotency_key)
        .chain_update([0])
        .chain_update(parent)
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let hash = u64::from_be_bytes(first);
    let micros = BASE_MICROS + ((hash >> 10) & ((1 << 46) - 1));
    let tid = (micros << 10) | (hash & 0x3ff);
    (0..13).map(|i| char::from(ALPHABET[((tid >> (5 * (12 - i))) & 31) as usize])).collect()
}

/// Link facets, so the links of a reply can be followed: Bluesky shows a URL in the
/// text as plain text unless a facet marks its byte range (UTF-8 offsets, cut on
/// character boundaries).
fn link_facets(text: &str) -> Vec<Value> {
    const TRAILING: &[char] = &['.', ',', ';', ':', '!', '?', ')', ']', '}', '"', '\''];
    let mut facets = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        if !c.is_whitespace() {
            start = start.or(Some(at));
            continue;
        }
        let Some(from) = start.take() else { continue };
        let Some(token) = text.get(from..at) else { continue };
        let link = token.trim_end_matches(TRAILING);
        let lower = link.get(..8).unwrap_or(link).to_ascii_lowercase();
        let is_link = (lower.starts_with("https://") || lower.starts_with("http://"))
            && reqwest::Url::parse(link).is_ok_and(|u| u.host_str().is_some_and(|h| !h.is_empty()));
        if is_link && facets.len() < MAX_LINK_FACETS {
            facets.push(json!({
                "index": { "byteStart": from, "byteEnd": from + link.len() },
                "features": [{ "$type": "app.bsky.richtext.facet#link", "uri": link }],
            }));
        }
    }
    facets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keys_are_tids_and_deterministic() {
        let tid = regex_free_is_tid;
        let a = record_key("reply:1", "at://did:plc:a/app.bsky.feed.post/3k");
        assert!(tid(&a), "{a}");
        assert_eq!(a, record_key("reply:1", "at://did:plc:a/app.bsky.feed.post/3k"));
        assert_ne!(a, record_key("reply:2", "at://did:plc:a/app.bsky.feed.post/3k"));
        assert_ne!(a, record_key("reply:1", "at://did:plc:a/app.bsky.feed.post/3j"));
        for i in 0..200 {
            assert!(tid(&record_key(&i.to_string(), "p")));
        }
    }

    /// The TID syntax: `^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$`.
    fn regex_free_is_tid(s: &str) -> bool {
        let alphabet = "234567abcdefghijklmnopqrstuvwxyz";
        s.len() == 13 && alphabet[..16].contains(&s[..1]) && s.chars().all(|c| alphabet.contains(c))
    }

    const REPLY: &str = r#"{"did":"did:plc:q235v55g5unth4zjjdpacfdr","time_us":1779719009157119,"kind":"commit","commit":{"rev":"3mmoojpaqkn2z","operation":"create","collection":"app.bsky.feed.post","rkey":"3mmoojp4cd223","record":{"$type":"app.bsky.feed.post","createdAt":"2026-05-25T14:23:28.757Z","langs":["en"],"reply":{"parent":{"cid":"bafyreiainko5un5pbcdosvxpbisjnjzemojnry6nsgtdftdgslbu37kxai","uri":"at://did:plc:j76trmiofvaxxpvx2vnb2vwf/app.bsky.feed.post/3mmojbrjwbs26"},"root":{"cid":"bafyreirootcid","uri":"at://did:plc:root/app.bsky.feed.post/3root"}},"text":"Try RSV"},"cid":"bafyreicl7rzkxdrm4zz2ehbx52kuk3mvfow6p3gzfys72r5grvskxoswy4"}}"#;
    const URI: &str = "at://did:plc:q235v55g5unth4zjjdpacfdr/app.bsky.feed.post/3mmoojp4cd223";

    #[test]
    fn refs_point_at_the_post_and_its_thread_root() {
        let refs = reply_refs(REPLY.as_bytes(), URI).unwrap();
        assert_eq!(refs.parent.cid, "bafyreicl7rzkxdrm4zz2ehbx52kuk3mvfow6p3gzfys72r5grvskxoswy4");
        assert_eq!(refs.parent.uri, URI);
        assert_eq!(refs.root.uri, "at://did:plc:root/app.bsky.feed.post/3root");
        let top: Value = serde_json::from_str(REPLY).unwrap();
        let mut top = top;
        top["commit"]["record"].as_object_mut().unwrap().remove("reply");
        let refs = reply_refs(top.to_string().as_bytes(), URI).unwrap();
        assert_eq!(refs.root, refs.parent, "a post that is no reply is its thread's root");
        assert_eq!(reply_refs(REPLY.as_bytes(), "at://did:plc:other/app.bsky.feed.post/3x"), None);
        let mut no_cid = serde_json::from_str::<Value>(REPLY).unwrap();
        no_cid["commit"].as_object_mut().unwrap().remove("cid");
        assert_eq!(reply_refs(no_cid.to_string().as_bytes(), URI), None);
        assert_eq!(reply_refs(b"{}", URI), None);
    }

    #[test]
    fn links_become_facets_by_utf8_byte_range() {
        let text = "Más info: https://muni.example/agua. y http://x.example";
        let facets = link_facets(text);
        assert_eq!(facets.len(), 2);
        let start = text.find("https").unwrap();
        assert_eq!(facets[0]["index"]["byteStart"], start);
        assert_eq!(facets[0]["index"]["byteEnd"], start + "https://muni.example/agua".len());
        assert_eq!(facets[0]["features"][0]["uri"], "https://muni.example/agua");
        assert_eq!(facets[1]["index"]["byteEnd"], text.len());
        assert!(link_facets("sin enlaces, https:// nada").is_empty());
    }
}
