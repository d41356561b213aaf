//! Delivering replies against fake platforms on 127.0.0.1 that record every request
//! they receive: the reply is threaded under the right post, carries its idempotency
//! key, repeats without posting twice where the platform allows it, and every failure
//! has its stable code, never follows a redirect and never shows the token.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use townhall::config::Secret;
use townhall::deliver::{self, Credentials, Delivered, DeliveryError, ReplyTarget};
use townhall_connectors::Item;
use townhall_core::{NewPost, Platform, PlatformEvent};

const SECRET: &str = "tok-s3cr3t-5e1f9a";

// ---- fake platforms ----------------------------------------------------------------

/// One request a fake received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The form body's fields.
    fn form(&self) -> BTreeMap<String, String> {
        pairs(std::str::from_utf8(&self.body).unwrap())
    }

    fn query_pairs(&self) -> BTreeMap<String, String> {
        pairs(&self.query)
    }

    fn everything(&self) -> String {
        format!(
            "{} {}?{} {:?} {}",
            self.method,
            self.path,
            self.query,
            self.headers,
            String::from_utf8_lossy(&self.body)
        )
    }
}

/// Decodes `application/x-www-form-urlencoded`.
fn pairs(encoded: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{encoded}")).unwrap().query_pairs().into_owned().collect()
}

type Answerer = Arc<dyn Fn(&Seen, &[Seen]) -> Response + Send + Sync>;
type Log = Arc<Mutex<Vec<Seen>>>;

/// A platform on 127.0.0.1 that records each request and answers it with a function
/// of the request and those before it.
struct Fake {
    address: SocketAddr,
    seen: Log,
}

impl Fake {
    async fn start(answer: impl Fn(&Seen, &[Seen]) -> Response + Send + Sync + 'static) -> Fake {
        let seen: Log = Arc::default();
        let answer: Answerer = Arc::new(answer);
        let app = axum::Router::new().fallback(record).with_state((seen.clone(), answer));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Fake { address, seen }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn paths(&self) -> Vec<String> {
        self.seen().iter().map(|s| format!("{} {}", s.method, s.path)).collect()
    }
}

async fn record(
    State((seen, answer)): State<(Log, Answerer)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Seen {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        headers,
        body: body.to_vec(),
    };
    let mut seen = seen.lock().unwrap();
    let response = answer(&request, &seen);
    seen.push(request);
    response
}

fn answer(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), [(header::CONTENT_TYPE, "application/json")], body.to_string())
        .into_response()
}

fn answer_with(status: u16, headers: &[(&'static str, String)], body: Value) -> Response {
    let mut response = answer(status, body);
    for (name, value) in headers {
        response.headers_mut().insert(*name, value.parse().unwrap());
    }
    response
}

/// A server that reads each request whole, then closes the connection without a
/// word: the request reached the platform and its answer is lost.
async fn hangs_up() -> SocketAddr {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut tcp, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut received = Vec::new();
                let mut buffer = [0u8; 8192];
                loop {
                    let n = tcp.read(&mut buffer).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    received.extend_from_slice(&buffer[..n]);
                    if is_whole(&received) {
                        return; // dropped: closed without an answer
                    }
                }
            });
        }
    });
    address
}

/// Whether an HTTP/1.1 request (head and `Content-Length` body) is all there.
fn is_whole(request: &[u8]) -> bool {
    let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    request.len() >= end + 4 + length
}

/// An address where nothing listens.
async fn nobody() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

fn credentials(endpoint: String, identifier: Option<&str>) -> Credentials {
    Credentials { endpoint, identifier: identifier.map(str::to_owned), secret: Secret::new(SECRET) }
}

/// The posts a connector reads from a raw payload, as ingest stores them.
fn stored(platform: Platform, raw: &[u8]) -> Vec<NewPost> {
    let parsed = match platform {
        Platform::Mastodon => townhall_connectors::mastodon::parse(raw),
        Platform::Bluesky => townhall_connectors::bluesky::parse(raw),
        _ => townhall_connectors::facebook::parse(raw),
    };
    parsed
        .unwrap()
        .into_iter()
        .filter_map(|item| match item {
            Item::Event(PlatformEvent::Post(post)) => Some(post),
            _ => None,
        })
        .collect()
}

fn target(post: &NewPost) -> ReplyTarget<'_> {
    ReplyTarget { platform: post.platform, external_id: &post.external_id, raw: &post.raw }
}

/// Every error message and debug form is free of the secret.
fn assert_secret_free(error: &DeliveryError) {
    for shown in [error.to_string(), format!("{error:?}")] {
        assert!(!shown.contains(SECRET), "{shown}");
    }
}

/// The real captures beside this checkout, when present.
fn real_fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("TOWNHALL_TEST_REAL_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real"));
    dir.is_dir().then_some(dir)
}

// ---- Mastodon ------------------------------------------------------------------------

/// A mention notification as the Mastodon API returns it, trimmed from
/// `mastodon/notification_127.json` (recorded by halcy/Mastodon.py, MIT).
fn mention() -> Value {
    let account = json!({
        "id": "117020565693913441", "username": "admin", "acct": "admin",
        "url": "http://localhost:3000/@admin", "uri": "http://localhost:3000/ap/users/117020565693913441"
    });
    json!({
        "id": "20", "type": "mention", "created_at": "2026-08-01T13:50:03.102Z", "account": account,
        "status": {
            "id": "117020576916218297", "created_at": "2026-08-01T13:50:01.000Z",
            "in_reply_to_id": null, "visibility": "public", "language": "en",
            "uri": "http://localhost:3000/ap/users/117020565693913441/statuses/117020576916218297",
            "url": "http://localhost:3000/@admin/117020576916218297",
            "content": concat!(
                "<p><span class=\"h-card\"><a href=\"http://localhost:3000/@mastodonpy_test\" ",
                "class=\"u-url mention\">@<span>mastodonpy_test</span></a></span> hello!</p>"
            ),
            "account": account, "mentions": [{ "id": "117020565966271181", "acct": "mastodonpy_test" }],
            "tags": [], "media_attachments": [], "reblog": null
        }
    })
}

/// Every status object inside a payload (statuses nest as reblogs, quotes,
/// notifications and stream payloads written as strings).
fn statuses_in(value: &Value, found: &mut Vec<Value>) {
    match value {
        Value::Object(map) => {
            if map.contains_key("uri") && map.contains_key("id") && map.contains_key("account") {
                found.push(value.clone());
            }
            map.values().for_each(|v| statuses_in(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| statuses_in(v, found)),
        Value::String(text) if text.starts_with('{') => {
            if let Ok(inner) = serde_json::from_str::<Value>(text) {
                statuses_in(&inner, found);
            }
        }
        _ => {}
    }
}

/// A Mastodon instance that knows `statuses` by their local ids, resolves URIs
/// through search, and, as Mastodon does, answers a repeated `Idempotency-Key` with
/// the status it created for it.
fn mastodon(statuses: Vec<Value>) -> impl Fn(&Seen, &[Seen]) -> Response + Send + Sync + 'static {
    move |request, before| match (request.method.as_str(), request.path.as_str()) {
        ("GET", path) if path.starts_with("/api/v1/statuses/") => {
            let id = path.trim_start_matches("/api/v1/statuses/");
            match statuses.iter().find(|s| s["id"] == id) {
                Some(status) => answer(200, status.clone()),
                None => answer(404, json!({ "error": "Record not found" })),
            }
        }
        ("GET", "/api/v2/search") => {
            let q = request.query_pairs().get("q").cloned().unwrap_or_default();
            let found: Vec<&Value> = statuses.iter().filter(|s| s["uri"] == q.as_str()).collect();
            answer(200, json!({ "accounts": [], "statuses": found, "hashtags": [] }))
        }
        ("POST", "/api/v1/statuses") => {
            let mut keys: Vec<&str> = Vec::new();
            for earlier in before.iter().filter(|s| s.path == "/api/v1/statuses") {
                let key = earlier.header("idempotency-key").unwrap_or_default();
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            let key = request.header("idempotency-key").unwrap_or_default();
            let n = keys.iter().position(|k| *k == key).unwrap_or(keys.len());
            let form = request.form();
            let id = format!("9000{n}");
            answer(
                200,
                json!({
                    "id": id, "uri": format!("https://muni.example/users/muni/statuses/{id}"),
                    "url": format!("https://muni.example/@muni/{id}"), "content": form["status"],
                    "in_reply_to_id": form["in_reply_to_id"], "visibility": form["visibility"],
                    "account": { "acct": "muni" }
                }),
            )
        }
        _ => answer(404, json!({ "error": "Record not found" })),
    }
}

fn mastodon_for(raw: &Value) -> impl Fn(&Seen, &[Seen]) -> Response + Send + Sync + 'static {
    let mut statuses = Vec::new();
    statuses_in(raw, &mut statuses);
    mastodon(statuses)
}

#[tokio::test]
async fn mastodon_replies_under_the_local_id_with_the_key_the_token_and_the_mention() {
    let raw = mention();
    let fake = Fake::start(mastodon_for(&raw)).await;
    let posts = stored(Platform::Mastodon, raw.to_string().as_bytes());
    let post = &posts[0];
    assert_eq!(post.external_id, "http://localhost:3000/ap/users/117020565693913441/statuses/117020576916218297");
    let client = deliver::loopback_client();
    let muni = credentials(fake.url(), Some("muni"));
    let text = "Gracias, el corte de agua termina a las 18:00.";

    let first = deliver::deliver(&client, &muni, &target(post), text, "reply-17").await.unwrap();
    // The worker lost the answer and tries again with the same key.
    let again = deliver::deliver(&client, &muni, &target(post), text, "reply-17").await.unwrap();
    assert_eq!(first, Delivered { external_id: "90000".into(), url: Some("https://muni.example/@muni/90000".into()) });
    assert_eq!(again, first, "Mastodon answers a repeated key with the status it created");

    let posts: Vec<Seen> = fake.seen().into_iter().filter(|s| s.method == "POST").collect();
    assert_eq!(posts.len(), 2);
    for post in &posts {
        assert_eq!(post.path, "/api/v1/statuses");
        assert_eq!(post.header("idempotency-key"), Some("reply-17"), "the same key both times");
        assert_eq!(post.header("authorization"), Some(format!("Bearer {SECRET}").as_str()));
        assert!(post.header("user-agent").unwrap().starts_with("Townhall/"));
        let form = post.form();
        assert_eq!(form["in_reply_to_id"], "117020576916218297", "the instance's local id, not the URI");
        assert_eq!(form["visibility"], "public");
        assert_eq!(form["status"], format!("@admin {text}"), "the author is mentioned, or never sees the reply");
        assert!(post.query.is_empty());
    }
    assert_eq!(fake.paths()[0], "GET /api/v1/statuses/117020576916218297", "the id is checked before posting");
}

#[tokio::test]
async fn a_reply_to_a_direct_message_stays_direct_and_an_existing_mention_is_not_repeated() {
    // Trimmed from `mastodon/status_008.json` (halcy/Mastodon.py, MIT).
    let raw = json!({
        "id": "117020593780198542", "created_at": "2026-08-01T13:55:00.000Z", "visibility": "direct",
        "uri": "http://localhost:3000/ap/users/117020566092212359/statuses/117020593780198542",
        "url": "http://localhost:3000/@mastodonpy_test_2/117020593780198542",
        "content": "<p>@admin ilu bby ;3</p>", "in_reply_to_id": null,
        "account": { "id": "117020566092212359", "acct": "mastodonpy_test_2" },
        "mentions": [{ "acct": "admin" }]
    });
    let fake = Fake::start(mastodon_for(&raw)).await;
    let posts = stored(Platform::Mastodon, raw.to_string().as_bytes());
    let text = "Hola @mastodonpy_test_2, te escribimos por privado.";
    let delivered =
        deliver::deliver(&deliver::loopback_client(), &credentials(fake.url(), None), &target(&posts[0]), text, "k")
            .await
            .unwrap();
    assert_eq!(delivered.external_id, "90000");
    let form = fake.seen().last().unwrap().form();
    assert_eq!((form["visibility"].as_str(), form["status"].as_str()), ("direct", text));
    assert_eq!(form["in_reply_to_id"], "117020593780198542");
}

#[tokio::test]
async fn a_status_read_through_another_instance_is_found_by_its_uri() {
    // Imported from another instance: its id there means nothing here.
    let elsewhere = json!({
        "id": "42", "uri": "https://social.example/users/ana/statuses/555", "visibility": "unlisted",
        "created_at": "2026-03-02T11:00:00Z", "content": "<p>@muni sin agua</p>", "account": { "acct": "ana" }
    });
    let here = json!({
        "id": "777", "uri": "https://social.example/users/ana/statuses/555", "visibility": "unlisted",
        "content": "<p>@muni sin agua</p>", "account": { "acct": "ana@social.example" }
    });
    let stranger = json!({ "id": "42", "uri": "https://other.example/s/42", "account": { "acct": "someone" } });
    let fake = Fake::start(mastodon(vec![here, stranger])).await;
    let posts = stored(Platform::Mastodon, elsewhere.to_string().as_bytes());
    let delivered = deliver::deliver(
        &deliver::loopback_client(),
        &credentials(fake.url(), None),
        &target(&posts[0]),
        "Lo revisamos.",
        "k",
    )
    .await
    .unwrap();
    assert_eq!(delivered.external_id, "90000");
    assert_eq!(
        fake.paths(),
        ["GET /api/v1/statuses/42", "GET /api/v2/search", "POST /api/v1/statuses"],
        "status 42 here is a stranger's: the URI is resolved instead"
    );
    let form = fake.seen()[2].form();
    assert_eq!(form["in_reply_to_id"], "777");
    assert_eq!(form["status"], "@ana@social.example Lo revisamos.", "the handle as this instance knows it");
    assert_eq!(form["visibility"], "unlisted");

    // An instance that cannot find it at all: nothing is posted.
    let empty = Fake::start(mastodon(vec![])).await;
    let error =
        deliver::deliver(&deliver::loopback_client(), &credentials(empty.url(), None), &target(&posts[0]), "x", "k")
            .await
            .unwrap_err();
    assert_eq!((error.code, error.retryable), (DeliveryError::TARGET_UNKNOWN, false));
    assert!(empty.seen().iter().all(|s| s.method == "GET"));
}

// ---- Bluesky -------------------------------------------------------------------------

/// A Jetstream reply, line 56 of `bluesky/jetstream_v1_corpus.jsonl`
/// (bluesky-social/jetstream, MIT or Apache-2.0): its root is not its parent.
const BLUESKY_REPLY: &str = r#"{"did":"did:plc:u4lmvw4wwzaql3z5kcf3r7h4","time_us":1783175888193345,"kind":"commit","commit":{"rev":"3mptbypk4ze2j","operation":"create","collection":"app.bsky.feed.post","rkey":"3mptbyoumc22i","record":{"$type":"app.bsky.feed.post","createdAt":"2026-07-04T14:38:06.692Z","langs":["tr"],"reply":{"parent":{"cid":"bafyreighmaxvkwtgrp6p6lgdobtehf2x4e4c2ru7kn7qkjc6qi5i7jqeky","uri":"at://did:plc:u4lmvw4wwzaql3z5kcf3r7h4/app.bsky.feed.post/3mptbyou7ls2i"},"root":{"cid":"bafyreicvph75m77atsvujmsfl7yxhu7uk4bq37vv2lggwmp4rveydl7oqu","uri":"at://did:plc:u4lmvw4wwzaql3z5kcf3r7h4/app.bsky.feed.post/3mptbyospqk2i"}},"text":"even know the country's election results, political landscape, or how diverse its society is."},"cid":"bafyreibtygtwwyimvqjv4cpzk2kirugkplgfgihyzozwszseawyki3tf3e"}}"#;

/// How a fake PDS refuses to create a record that exists.
#[derive(Debug, Clone, Copy)]
enum Exists {
    /// The reference PDS today: a 500.
    InternalError,
    /// Newer PDSes: an explicit error.
    Conflict,
}

#[derive(Default)]
struct Pds {
    records: BTreeMap<String, Value>,
    expired: Vec<String>,
}

/// A PDS that signs `did:plc:muni` in with `SECRET` (token `jwt-N` for the N-th
/// session), creates each record key once and reads records back.
fn pds(exists: Exists, state: Arc<Mutex<Pds>>) -> impl Fn(&Seen, &[Seen]) -> Response + Send + Sync + 'static {
    move |request, before| {
        let mut state = state.lock().unwrap();
        match request.path.as_str() {
            "/xrpc/com.atproto.server.createSession" => {
                let body = request.json();
                if body["password"] != SECRET || body["identifier"] != "muni.example" {
                    return answer(
                        401,
                        json!({ "error": "AuthenticationRequired", "message": "Invalid identifier or password" }),
                    );
                }
                let n = before.iter().filter(|s| s.path == request.path).count() + 1;
                answer(
                    200,
                    json!({
                        "accessJwt": format!("jwt-{n}"), "refreshJwt": "r",
                        "did": "did:plc:muni", "handle": "muni.example"
                    }),
                )
            }
            "/xrpc/com.atproto.repo.createRecord" => {
                let token = request.header("authorization").unwrap_or_default().trim_start_matches("Bearer ");
                if state.expired.iter().any(|t| t == token) {
                    return answer(400, json!({ "error": "ExpiredToken", "message": "Token has expired" }));
                }
                let body = request.json();
                let rkey = body["rkey"].as_str().unwrap().to_owned();
                if state.records.contains_key(&rkey) {
                    return match exists {
                        Exists::InternalError => {
                            answer(500, json!({ "error": "InternalServerError", "message": "Internal Server Error" }))
                        }
                        Exists::Conflict => {
                            answer(409, json!({ "error": "RecordAlreadyExists", "message": "Record already exists" }))
                        }
                    };
                }
                state.records.insert(rkey.clone(), body["record"].clone());
                answer(
                    200,
                    json!({ "uri": format!("at://did:plc:muni/app.bsky.feed.post/{rkey}"), "cid": "bafyreinew" }),
                )
            }
            "/xrpc/com.atproto.repo.getRecord" => {
                let query = request.query_pairs();
                match state.records.get(&query["rkey"]) {
                    Some(value) => answer(
                        200,
                        json!({
                            "uri": format!("at://{}/{}/{}", query["repo"], query["collection"], query["rkey"]),
                            "cid": "bafyreinew", "value": value
                        }),
                    ),
                    None => answer(400, json!({ "error": "RecordNotFound", "message": "Could not locate record" })),
                }
            }
            _ => answer(404, json!({ "error": "MethodNotImplemented" })),
        }
    }
}

fn is_tid(key: &str) -> bool {
    let alphabet = "234567abcdefghijklmnopqrstuvwxyz";
    key.len() == 13 && alphabet[..16].contains(&key[..1]) && key.chars().all(|c| alphabet.contains(c))
}

#[tokio::test]
async fn bluesky_signs_in_replies_with_root_and_parent_and_a_repeat_is_the_same_post() {
    for exists in [Exists::InternalError, Exists::Conflict] {
        let fake = Fake::start(pds(exists, Arc::default())).await;
        let posts = stored(Platform::Bluesky, BLUESKY_REPLY.as_bytes());
        let post = &posts[0];
        let muni = credentials(fake.url(), Some("muni.example"));
        let client = deliver::loopback_client();
        let text = "Gracias por avisar. Más info: https://muni.example/agua";

        let first = deliver::deliver(&client, &muni, &target(post), text, "reply-17").await.unwrap();
        let rkey = first.external_id.rsplit('/').next().unwrap().to_owned();
        assert!(is_tid(&rkey), "{rkey}");
        assert_eq!(first.external_id, format!("at://did:plc:muni/app.bsky.feed.post/{rkey}"));
        assert_eq!(first.url.as_deref(), Some(format!("https://bsky.app/profile/did:plc:muni/post/{rkey}").as_str()));

        let seen = fake.seen();
        assert_eq!(
            fake.paths(),
            ["POST /xrpc/com.atproto.server.createSession", "POST /xrpc/com.atproto.repo.createRecord"]
        );
        assert_eq!(seen[0].json(), json!({ "identifier": "muni.example", "password": SECRET }));
        assert_eq!(seen[1].header("authorization"), Some("Bearer jwt-1"));
        let create = seen[1].json();
        assert_eq!(
            (create["repo"].as_str(), create["collection"].as_str()),
            (Some("did:plc:muni"), Some("app.bsky.feed.post"))
        );
        assert_eq!(create["rkey"], rkey.as_str());
        let record = &create["record"];
        assert_eq!(record["$type"], "app.bsky.feed.post");
        assert_eq!(record["text"], text);
        assert!(chrono::DateTime::parse_from_rfc3339(record["createdAt"].as_str().unwrap()).is_ok());
        assert_eq!(
            record["reply"]["parent"],
            json!({ "uri": post.external_id, "cid": "bafyreibtygtwwyimvqjv4cpzk2kirugkplgfgihyzozwszseawyki3tf3e" })
        );
        assert_eq!(
            record["reply"]["root"],
            json!({
                "uri": "at://did:plc:u4lmvw4wwzaql3z5kcf3r7h4/app.bsky.feed.post/3mptbyospqk2i",
                "cid": "bafyreicvph75m77atsvujmsfl7yxhu7uk4bq37vv2lggwmp4rveydl7oqu"
            }),
            "the parent's own root"
        );
        let link = &record["facets"][0];
        assert_eq!(link["features"][0]["uri"], "https://muni.example/agua");
        assert_eq!(link["index"]["byteEnd"], text.len());

        // The answer was lost; the worker tries again with the same key.
        let again = deliver::deliver(&client, &muni, &target(post), text, "reply-17").await.unwrap();
        assert_eq!(again, first, "{exists:?}: the record under the key is the reply already posted");
        assert_eq!(
            fake.paths()[2..],
            ["POST /xrpc/com.atproto.repo.createRecord", "GET /xrpc/com.atproto.repo.getRecord"],
            "the session is reused, the existing record read back"
        );
        assert_eq!(fake.seen()[2].json()["rkey"], rkey.as_str(), "the same record key");

        // Another reply gets another key.
        let other = deliver::deliver(&client, &muni, &target(post), "Otra respuesta", "reply-18").await.unwrap();
        assert_ne!(other.external_id, first.external_id);
    }
}

#[tokio::test]
async fn an_expired_bluesky_session_is_replaced_once() {
    let state: Arc<Mutex<Pds>> = Arc::default();
    let fake = Fake::start(pds(Exists::InternalError, state.clone())).await;
    let posts = stored(Platform::Bluesky, BLUESKY_REPLY.as_bytes());
    let muni = credentials(fake.url(), Some("muni.example"));
    let client = deliver::loopback_client();
    deliver::deliver(&client, &muni, &target(&posts[0]), "uno", "a").await.unwrap();
    state.lock().unwrap().expired.push("jwt-1".into());
    deliver::deliver(&client, &muni, &target(&posts[0]), "dos", "b").await.unwrap();
    let seen = fake.seen();
    assert_eq!(
        seen.iter().map(|s| (s.path.rsplit('.').next().unwrap(), s.header("authorization"))).collect::<Vec<_>>(),
        [
            ("createSession", None),
            ("createRecord", Some("Bearer jwt-1")),
            ("createRecord", Some("Bearer jwt-1")),
            ("createSession", None),
            ("createRecord", Some("Bearer jwt-2")),
        ]
    );
    assert_eq!(state.lock().unwrap().records.len(), 2);

    // A refused app password is an auth error, and the password is in no message.
    let wrong = Credentials { secret: Secret::new("wrong-password-123"), ..muni.clone() };
    let error = deliver::deliver(&client, &wrong, &target(&posts[0]), "tres", "c").await.unwrap_err();
    assert_eq!((error.code, error.retryable), (DeliveryError::AUTH, false));
    assert!(error.message.contains("Invalid identifier or password"), "{error}");
    assert!(!error.to_string().contains("wrong-password-123"));
}

// ---- X, Facebook, Instagram ----------------------------------------------------------

#[tokio::test]
async fn x_gets_the_reply_to_the_tweet_id() {
    let fake = Fake::start(|request, _| {
        answer(201, json!({ "data": { "id": "1900000000000000001", "text": request.json()["text"] } }))
    })
    .await;
    let raw = br#"{"data":{"id":"1894000000000000001","text":"@muni sin luz","author_id":"7"}}"#;
    let reply = ReplyTarget { platform: Platform::X, external_id: "1894000000000000001", raw };
    let delivered = deliver::deliver(
        &deliver::loopback_client(),
        &credentials(fake.url(), None),
        &reply,
        "Ya enviamos una cuadrilla.",
        "k",
    )
    .await
    .unwrap();
    assert_eq!(
        delivered,
        Delivered {
            external_id: "1900000000000000001".into(),
            url: Some("https://x.com/i/web/status/1900000000000000001".into())
        }
    );
    let seen = fake.seen();
    assert_eq!(fake.paths(), ["POST /2/tweets"]);
    assert_eq!(
        seen[0].json(),
        json!({ "text": "Ya enviamos una cuadrilla.", "reply": { "in_reply_to_tweet_id": "1894000000000000001" } })
    );
    assert_eq!(seen[0].header("authorization"), Some(format!("Bearer {SECRET}").as_str()));
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
}

/// A Graph API that creates comments and Instagram replies.
fn graph(request: &Seen, _: &[Seen]) -> Response {
    match request.path.rsplit('/').next() {
        Some("comments") => answer(200, json!({ "id": "901097836652708_903440000000001" })),
        Some("replies") => answer(200, json!({ "id": "17873440459141021" })),
        _ => answer(400, json!({ "error": { "message": "Unsupported post request", "code": 100 } })),
    }
}

#[tokio::test]
async fn facebook_gets_the_token_in_the_body_never_in_the_query() {
    // `facebook/feed-comment-add-211.json` (restfb/restfb, MIT).
    let raw = json!({"object":"page","entry":[{"id":"1234567890321","time":1449135003,"changes":[{"field":"feed",
        "value":{
        "item":"comment","verb":"add","comment_id":"901097836652708_903438993085259",
        "post_id":"1234567890321_901097836652708","parent_id":"1234567890321_901097836652708",
        "from":{"id":"1234567890321","name":"Tester"},"created_time":1449135003,"message":"and the next one"}}]}]});
    let fake = Fake::start(graph).await;
    let page = credentials(format!("{}/v23.0", fake.url()), None);
    let posts = stored(Platform::Facebook, raw.to_string().as_bytes());
    let delivered = deliver::deliver(&deliver::loopback_client(), &page, &target(&posts[0]), "Gracias & saludos", "k")
        .await
        .unwrap();
    assert_eq!(delivered, Delivered { external_id: "901097836652708_903440000000001".into(), url: None });
    let seen = &fake.seen()[0];
    assert_eq!((seen.method.as_str(), seen.path.as_str()), ("POST", "/v23.0/901097836652708_903438993085259/comments"));
    assert_eq!(seen.query, "", "no token in the URL, so none in access logs");
    assert_eq!(seen.header("authorization"), None);
    let form = seen.form();
    assert_eq!((form["access_token"].as_str(), form["message"].as_str()), (SECRET, "Gracias & saludos"));

    // A reply to a reply is posted in the thread of the top-level comment.
    let reply = json!({"object":"page","entry":[{"id":"1","time":1475578854,"changes":[{"field":"feed","value":{
        "item":"comment","verb":"add","comment_id":"1234567890321_1357555177673636",
        "post_id":"1234567890321_98735342324352","parent_id":"1234567890321_1264545546974600",
        "from":{"id":"77","name":"Vecina"},"created_time":1475578854,"message":"¿y mañana?"}}]}]});
    let posts = stored(Platform::Facebook, reply.to_string().as_bytes());
    deliver::deliver(&deliver::loopback_client(), &page, &target(&posts[0]), "Mañana también.", "k").await.unwrap();
    assert_eq!(fake.seen()[1].path, "/v23.0/1234567890321_1264545546974600/comments");

    // Instagram: POST /{ig-comment-id}/replies, the same way.
    let ig = ReplyTarget { platform: Platform::Instagram, external_id: "17870913679156914", raw: b"{}" };
    let delivered = deliver::deliver(&deliver::loopback_client(), &page, &ig, "¡Gracias!", "k").await.unwrap();
    assert_eq!(delivered.external_id, "17873440459141021");
    let seen = &fake.seen()[2];
    assert_eq!((seen.path.as_str(), seen.query.as_str()), ("/v23.0/17870913679156914/replies", ""));
    assert_eq!(seen.form()["access_token"], SECRET);
}

// ---- failures ------------------------------------------------------------------------

fn mastodon_post() -> NewPost {
    stored(Platform::Mastodon, mention().to_string().as_bytes()).remove(0)
}

fn x_post() -> ReplyTarget<'static> {
    ReplyTarget { platform: Platform::X, external_id: "1894000000000000001", raw: b"{}" }
}

/// A platform's failure and the error it must become: (platform, status, headers,
/// body, code, retryable).
type Refusal = (Platform, u16, Vec<(&'static str, String)>, Value, &'static str, bool);

#[tokio::test]
async fn refusals_have_stable_codes_and_never_show_the_token() {
    let reset = (chrono::Utc::now().timestamp() + 120).to_string();
    let cases: Vec<Refusal> = vec![
        (
            Platform::X,
            401,
            vec![],
            json!({ "title": "Unauthorized", "detail": "Unauthorized", "status": 401 }),
            DeliveryError::AUTH,
            false,
        ),
        (
            Platform::Mastodon,
            401,
            vec![],
            json!({ "error": format!("The access token {SECRET} is invalid") }),
            DeliveryError::AUTH,
            false,
        ),
        (Platform::X, 403, vec![], json!({ "title": "Forbidden", "detail": "Forbidden" }), DeliveryError::AUTH, false),
        (
            Platform::X,
            403,
            vec![],
            json!({ "title": "Forbidden", "detail": "You are not allowed to create a Tweet with duplicate content." }),
            DeliveryError::REJECTED,
            false,
        ),
        (
            Platform::Mastodon,
            422,
            vec![],
            json!({ "error": "Validation failed: Text character limit of 500 exceeded" }),
            DeliveryError::REJECTED,
            false,
        ),
        (
            Platform::Mastodon,
            429,
            vec![("retry-after", "7".into())],
            json!({ "error": "Too many requests" }),
            DeliveryError::RATE_LIMITED,
            true,
        ),
        (
            Platform::X,
            429,
            vec![("x-rate-limit-reset", reset)],
            json!({ "title": "Too Many Requests" }),
            DeliveryError::RATE_LIMITED,
            true,
        ),
        (Platform::X, 503, vec![], json!({ "title": "Service Unavailable" }), DeliveryError::UNAVAILABLE, true),
        (Platform::Mastodon, 503, vec![], json!({ "error": "Service Unavailable" }), DeliveryError::UNAVAILABLE, true),
        (
            Platform::Facebook,
            400,
            vec![],
            json!({ "error": {
                "message": format!("Error validating access token {SECRET}"), "type": "OAuthException", "code": 190
            } }),
            DeliveryError::AUTH,
            false,
        ),
        (
            Platform::Facebook,
            400,
            vec![("retry-after", "60".into())],
            json!({ "error": { "message": "(#32) Page request limit reached", "code": 32 } }),
            DeliveryError::RATE_LIMITED,
            true,
        ),
        (
            Platform::Facebook,
            400,
            vec![],
            json!({ "error": { "message": "(#100) Invalid parameter", "code": 100 } }),
            DeliveryError::REJECTED,
            false,
        ),
    ];
    let mastodon = mastodon_post();
    let client = deliver::loopback_client();
    for (platform, status, headers, body, code, retryable) in cases {
        let fake = Fake::start(move |_, _| answer_with(status, &headers, body.clone())).await;
        let (endpoint, reply) = match platform {
            Platform::Mastodon => (fake.url(), target(&mastodon)),
            Platform::X => (fake.url(), x_post()),
            _ => (
                format!("{}/v23.0", fake.url()),
                ReplyTarget { platform, external_id: "901097836652708_903438993085259", raw: b"{}" },
            ),
        };
        let error = deliver::deliver(&client, &credentials(endpoint, None), &reply, "Gracias", "k").await.unwrap_err();
        let case = format!("{platform} {status}: {error}");
        assert_eq!((error.code, error.retryable), (code, retryable), "{case}");
        assert!(error.message.contains(&status.to_string()), "{case}");
        assert!(error.message.chars().count() < 300, "{case}");
        assert_secret_free(&error);
        match (platform, status) {
            (Platform::Mastodon, 429) => assert_eq!(error.retry_after, Some(Duration::from_secs(7)), "{case}"),
            (Platform::X, 429) => {
                let wait = error.retry_after.unwrap();
                assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120), "{case}: {wait:?}");
            }
            (Platform::Facebook, 400) if code == DeliveryError::RATE_LIMITED => {
                assert_eq!(error.retry_after, Some(Duration::from_secs(60)), "{case}")
            }
            _ => {}
        }
        assert_eq!(fake.seen().len(), 1, "{case}: one request, no retry inside deliver");
    }
}

#[tokio::test]
async fn what_cannot_be_sent_is_refused_before_any_request() {
    let fake = Fake::start(|_, _| answer(500, json!({}))).await;
    let client = deliver::loopback_client();
    let mastodon = mastodon_post();
    let cases: Vec<(ReplyTarget<'_>, String, &str)> = vec![
        (
            ReplyTarget {
                platform: Platform::Mastodon,
                external_id: &mastodon.external_id,
                raw: br#"{"type":"mention"}"#,
            },
            "Gracias".into(),
            DeliveryError::TARGET_UNKNOWN,
        ),
        (
            ReplyTarget {
                platform: Platform::Bluesky,
                external_id: "at://did:plc:x/app.bsky.feed.post/3k",
                raw: br#"{"did":"did:plc:x","time_us":1,"kind":"identity"}"#,
            },
            "Gracias".into(),
            DeliveryError::TARGET_UNKNOWN,
        ),
        (
            ReplyTarget { platform: Platform::X, external_id: "@ana", raw: b"{}" },
            "Gracias".into(),
            DeliveryError::TARGET_UNKNOWN,
        ),
        (
            ReplyTarget { platform: Platform::Facebook, external_id: "1/../me/feed", raw: b"{}" },
            "Gracias".into(),
            DeliveryError::TARGET_UNKNOWN,
        ),
        (target(&mastodon), "a".repeat(501), DeliveryError::TOO_LONG),
        (x_post(), "水".repeat(141), DeliveryError::TOO_LONG),
        (x_post(), "  \n".into(), DeliveryError::EMPTY),
        (
            ReplyTarget { platform: Platform::Email, external_id: "<a@b>", raw: b"" },
            "Gracias".into(),
            DeliveryError::UNSUPPORTED,
        ),
        (
            ReplyTarget { platform: Platform::Web, external_id: "1", raw: b"" },
            "Gracias".into(),
            DeliveryError::UNSUPPORTED,
        ),
    ];
    for (reply, text, code) in cases {
        let error = deliver::deliver(&client, &credentials(fake.url(), Some("muni.example")), &reply, &text, "k")
            .await
            .unwrap_err();
        assert_eq!((error.code, error.retryable), (code, false), "{reply:?}: {error}");
    }
    assert!(fake.seen().is_empty(), "{:?}", fake.paths());

    // The mention Mastodon needs counts too: 499 characters and "@admin " are too many.
    let fake = Fake::start(mastodon_for(&mention())).await;
    let error = deliver::deliver(&client, &credentials(fake.url(), None), &target(&mastodon), &"a".repeat(499), "k")
        .await
        .unwrap_err();
    assert_eq!(error.code, DeliveryError::TOO_LONG, "{error}");
    assert!(fake.seen().iter().all(|s| s.method == "GET"), "nothing posted");
}

#[tokio::test]
async fn a_redirect_is_not_followed_so_the_token_stays_home() {
    let thief = Fake::start(|_, _| answer(200, json!({ "id": "1", "data": { "id": "1" } }))).await;
    let location = format!("{}/steal", thief.url());
    let fake = Fake::start(move |_, _| answer_with(307, &[("location", location.clone())], json!({}))).await;
    let client = deliver::loopback_client();
    let mastodon = mastodon_post();
    let page = ReplyTarget { platform: Platform::Facebook, external_id: "901097836652708_903438993085259", raw: b"{}" };
    for reply in [target(&mastodon), x_post(), page] {
        let error =
            deliver::deliver(&client, &credentials(fake.url(), None), &reply, "Gracias", "k").await.unwrap_err();
        assert_eq!((error.code, error.retryable), (DeliveryError::REJECTED, false), "{error}");
        assert!(error.message.contains("redirect"), "{error}");
        assert_secret_free(&error);
    }
    assert_eq!(fake.seen().len(), 3);
    assert!(thief.seen().is_empty(), "the redirect target never heard from us");
    assert!(fake.seen().iter().all(|s| !s.everything().contains("steal")));
}

#[tokio::test]
async fn a_lost_answer_is_unknown_where_a_retry_could_post_twice() {
    let lost = format!("http://{}", hangs_up().await);
    let client = deliver::loopback_client();
    let mastodon = mastodon_post();
    let bluesky = stored(Platform::Bluesky, BLUESKY_REPLY.as_bytes()).remove(0);
    let page = ReplyTarget { platform: Platform::Facebook, external_id: "901097836652708_903438993085259", raw: b"{}" };
    let cases = [
        (x_post(), DeliveryError::UNKNOWN, false),
        (page, DeliveryError::UNKNOWN, false),
        (target(&mastodon), DeliveryError::UNAVAILABLE, true),
        (target(&bluesky), DeliveryError::UNAVAILABLE, true),
    ];
    for (reply, code, retryable) in cases {
        let error = deliver::deliver(&client, &credentials(lost.clone(), Some("muni.example")), &reply, "Gracias", "k")
            .await
            .unwrap_err();
        assert_eq!((error.code, error.retryable), (code, retryable), "{reply:?}: {error}");
        assert_secret_free(&error);
    }

    // Never connected: nothing was sent, so even X may be retried.
    let nowhere = format!("http://{}", nobody().await);
    let error = deliver::deliver(&client, &credentials(nowhere, None), &x_post(), "Gracias", "k").await.unwrap_err();
    assert_eq!((error.code, error.retryable), (DeliveryError::UNAVAILABLE, true), "{error}");
}

// ---- real captures -------------------------------------------------------------------

#[tokio::test]
async fn every_real_capture_is_answered_under_its_own_post() {
    let Some(real) = real_fixtures() else { return };
    let client = deliver::loopback_client();
    let mut answered = BTreeMap::<&str, usize>::new();
    for platform in [Platform::Mastodon, Platform::Bluesky, Platform::Facebook] {
        let folder = match platform {
            Platform::Mastodon => "mastodon",
            Platform::Bluesky => "bluesky",
            _ => "facebook",
        };
        let mut records: Vec<Vec<u8>> = Vec::new();
        for entry in std::fs::read_dir(real.join(folder)).unwrap() {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            match platform {
                Platform::Bluesky => {
                    records.extend(data.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec))
                }
                _ => records.push(data),
            }
        }
        for raw in records {
            let value: Value = serde_json::from_slice(&raw).unwrap();
            for post in stored(platform, &raw) {
                let fake = match platform {
                    Platform::Mastodon => Fake::start(mastodon_for(&value)).await,
                    Platform::Bluesky => Fake::start(pds(Exists::InternalError, Arc::default())).await,
                    _ => Fake::start(graph).await,
                };
                let endpoint =
                    if platform == Platform::Facebook { format!("{}/v23.0", fake.url()) } else { fake.url() };
                let muni = credentials(endpoint, Some("muni.example"));
                let result = deliver::deliver(&client, &muni, &target(&post), "Gracias", "k").await;
                let what = format!("{platform} {}: {result:?}", post.external_id);
                let last = fake.seen().pop().unwrap_or_else(|| panic!("{what}"));
                match platform {
                    Platform::Mastodon => {
                        let mut statuses = Vec::new();
                        statuses_in(&value, &mut statuses);
                        let status = statuses.iter().find(|s| s["uri"] == post.external_id.as_str()).unwrap();
                        assert_eq!(last.form()["in_reply_to_id"], status["id"].as_str().unwrap(), "{what}");
                    }
                    Platform::Bluesky => {
                        let reply = &last.json()["record"]["reply"];
                        assert_eq!(reply["parent"]["uri"], post.external_id.as_str(), "{what}");
                        assert_eq!(reply["parent"]["cid"], value["commit"]["cid"], "{what}");
                        let root = value["commit"]["record"]["reply"]["root"].clone();
                        let root = if root.is_null() { reply["parent"].clone() } else { root };
                        assert_eq!(reply["root"]["uri"], root["uri"], "{what}");
                    }
                    _ => assert!(last.path.ends_with("/comments") && last.query.is_empty(), "{what}"),
                }
                assert!(result.is_ok(), "{what}");
                *answered.entry(folder).or_default() += 1;
            }
        }
    }
    eprintln!("replies delivered to real captures: {answered:?}");
    assert!(answered.values().all(|n| *n > 0), "{answered:?}");
}
