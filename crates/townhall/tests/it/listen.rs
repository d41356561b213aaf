//! Live listeners against fake platform servers on 127.0.0.1 that replay recorded
//! events, drop connections mid-stream and rate-limit: no gap, no duplicate, the
//! cursor survives a restart.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use townhall::config::Secret;
use townhall::listen::{self, Shutdown};
use townhall_core::{Actor, Platform};
use townhall_store::{Db, DbOptions, NewAccount};

async fn fresh_db(dir: &std::path::Path) -> Db {
    let db = Db::open(&DbOptions::new(format!("sqlite://{}", dir.join("townhall.db").display()))).await.unwrap();
    let institution = crate::support::municipality("valpo", "Municipalidad de Valparaíso");
    let valpo = db.create_institution(&institution, &Actor::cli()).await.unwrap();
    let account = NewAccount {
        institution_id: valpo.id,
        platform: Platform::Bluesky,
        handle: "muni.valpo.cl".into(),
        display_name: "Municipalidad".into(),
        external_id: Some("did:plc:muni".into()),
        official: None,
    };
    db.create_account(&account, &Actor::cli()).await.unwrap();
    db
}

/// Waits for a condition on the database, failing after 20 s.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---- Bluesky ----------------------------------------------------------------------

/// The recorded Jetstream session: what a fake server replays.
fn jetstream_events() -> Vec<(i64, String)> {
    let text = include_str!("../fixtures/listen/jetstream.jsonl");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| (serde_json::from_str::<Value>(l).unwrap()["time_us"].as_i64().unwrap(), l.to_owned()))
        .collect()
}

/// A fake Jetstream: records each connection's `cursor`, replays events from it, and
/// drops the first connection after `drop_after` events.
struct FakeJetstream {
    address: std::net::SocketAddr,
    cursors: Arc<Mutex<Vec<Option<i64>>>>,
}

impl FakeJetstream {
    async fn start(drop_after: usize) -> FakeJetstream {
        FakeJetstream::serving(jetstream_events(), drop_after, false).await
    }

    /// Serves `events`; `paced` sends them a few at a time, as a live stream arrives.
    async fn serving(events: Vec<(i64, String)>, drop_after: usize, paced: bool) -> FakeJetstream {
        let events = Arc::new(events);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let cursors: Arc<Mutex<Vec<Option<i64>>>> = Arc::default();
        let seen = cursors.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let (seen, events) = (seen.clone(), events.clone());
                tokio::spawn(async move {
                    let mut cursor = None;
                    // The handshake callback's error type is tungstenite's; it is never returned here.
                    #[allow(clippy::result_large_err)]
                    let callback = |request: &tokio_tungstenite::tungstenite::handshake::server::Request, response| {
                        let query = request.uri().query().unwrap_or_default();
                        let wanted = query.matches("wantedCollections=").count();
                        assert_eq!(wanted, 3, "{query}");
                        cursor = query.split('&').find_map(|p| p.strip_prefix("cursor=")).and_then(|c| c.parse().ok());
                        Ok(response)
                    };
                    let mut socket = tokio_tungstenite::accept_hdr_async(tcp, callback).await.unwrap();
                    let connection = {
                        let mut seen = seen.lock().unwrap();
                        seen.push(cursor);
                        seen.len()
                    };
                    let from = cursor.unwrap_or(0);
                    for (i, (_, line)) in events.iter().filter(|(t, _)| *t >= from).enumerate() {
                        if connection == 1 && i == drop_after {
                            // Mid-stream, without a close frame: the network failed.
                            return;
                        }
                        let message = tokio_tungstenite::tungstenite::Message::text(line.clone());
                        if socket.send(message).await.is_err() {
                            return;
                        }
                        if paced && i % 20 == 0 {
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                    }
                    // Then stay open, as Jetstream does, until the client leaves.
                    while let Some(Ok(_)) = socket.next().await {}
                });
            }
        });
        FakeJetstream { address, cursors }
    }

    fn endpoint(&self) -> String {
        format!("ws://{}/subscribe", self.address)
    }

    fn cursors(&self) -> Vec<Option<i64>> {
        self.cursors.lock().unwrap().clone()
    }
}

fn start_bluesky(db: &Db, endpoint: String) -> (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, shutdown) = Shutdown::new();
    let options = listen::bluesky::Options { endpoint, keywords: vec!["semáforo".into()] };
    let db = db.clone();
    let task = tokio::spawn(async move { listen::bluesky::run(db, options, shutdown).await.unwrap() });
    (stop, task)
}

async fn bluesky_posts(db: &Db) -> Vec<String> {
    let filter = townhall_store::PostFilter { platform: Some(Platform::Bluesky), ..Default::default() };
    let mut ids: Vec<String> =
        db.recent_posts(&filter, 10_000).await.unwrap().into_iter().map(|p| p.external_id).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bluesky_reconnects_from_its_cursor_without_gaps_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(dir.path()).await;
    let jetstream = FakeJetstream::start(4).await;
    let (stop, task) = start_bluesky(&db, jetstream.endpoint());

    // Kept: a mention of the tracked account, a reply to it, a keyword, the account's
    // own post; the unrelated post and the follow are not.
    let expected = [
        "at://did:plc:ana/app.bsky.feed.post/3a",
        "at://did:plc:bo/app.bsky.feed.post/3b",
        "at://did:plc:carla/app.bsky.feed.post/3d",
        "at://did:plc:muni/app.bsky.feed.post/3f",
    ];
    until("every kept post, the deletion and the like", || async {
        let posts = bluesky_posts(&db).await;
        let ana = db.post_by_external_id(Platform::Bluesky, expected[0]).await.unwrap();
        let carla = db.post_by_external_id(Platform::Bluesky, expected[2]).await.unwrap();
        posts == expected
            && ana.is_some_and(|p| p.metrics.likes == 1)
            && carla.is_some_and(|p| p.deleted_at.is_some())
            && db.cursor("jetstream").await.unwrap().as_deref() == Some("1725911162329700")
    })
    .await;
    let cursors = jetstream.cursors();
    assert!(cursors.len() >= 2, "the dropped connection was made again: {cursors:?}");
    assert_eq!(cursors[0], None, "a first run starts from now");
    let saved_before_drop = 1_725_911_162_329_400_i64;
    assert!(
        cursors[1].is_some_and(|c| c <= saved_before_drop),
        "the reconnection resumed from the cursor: {cursors:?}"
    );

    // Stop, then start again on the same database: it asks for the events after the
    // saved cursor (minus the margin), and the replay adds nothing.
    stop.send(true).unwrap();
    task.await.unwrap();
    let (stop, task) = start_bluesky(&db, jetstream.endpoint());
    until("the restarted listener to connect", || async { jetstream.cursors().len() > cursors.len() }).await;
    let resumed = *jetstream.cursors().last().unwrap();
    assert_eq!(resumed, Some(1_725_911_162_329_700 - 5_000_000));
    stop.send(true).unwrap();
    task.await.unwrap();
    assert_eq!(bluesky_posts(&db).await, expected, "no duplicate after the replays");
    let ana = db.post_by_external_id(Platform::Bluesky, expected[0]).await.unwrap().unwrap();
    assert_eq!(ana.metrics.likes, 1, "a replayed like counts once");
}

// ---- Mastodon ---------------------------------------------------------------------

fn notification(id: u64) -> Value {
    json!({
        "id": id.to_string(), "type": "mention", "created_at": "2026-03-02T11:00:00.000Z",
        "account": { "id": "5", "acct": "ana@social.example", "url": "https://social.example/@ana" },
        "status": {
            "id": format!("{}", 1000 + id), "uri": format!("https://social.example/users/ana/statuses/{}", 1000 + id),
            "created_at": "2026-03-02T11:00:00.000Z", "content": format!("<p>@muni aviso número {id}</p>"),
            "language": "es", "account": { "id": "5", "acct": "ana@social.example", "url": "https://social.example/@ana" },
            "mentions": [{ "acct": "muni" }], "tags": [], "media_attachments": []
        }
    })
}

#[derive(Default)]
struct FakeInstance {
    /// Notifications a poll can see, oldest first.
    notifications: Vec<Value>,
    polls: Vec<(Instant, Option<String>, StatusCode)>,
    streams: usize,
    limited_once: bool,
}

type Shared = Arc<Mutex<FakeInstance>>;

async fn notifications(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let mut fake = state.lock().unwrap();
    let min_id = q.iter().find(|(k, _)| k == "min_id").map(|(_, v)| v.clone());
    assert_eq!(headers.get("authorization").and_then(|v| v.to_str().ok()), Some("Bearer secret-token"));
    if !fake.limited_once {
        fake.limited_once = true;
        fake.polls.push((Instant::now(), min_id, StatusCode::TOO_MANY_REQUESTS));
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "slow down").into_response();
    }
    fake.polls.push((Instant::now(), min_id.clone(), StatusCode::OK));
    let after: u64 = min_id.and_then(|m| m.parse().ok()).unwrap_or(0);
    // Mastodon with min_id: the page just after it, newest first, two at a time here.
    let mut page: Vec<Value> = fake
        .notifications
        .iter()
        .filter(|n| n["id"].as_str().unwrap().parse::<u64>().unwrap() > after)
        .take(2)
        .cloned()
        .collect();
    page.reverse();
    axum::Json(page).into_response()
}

async fn stream(State(state): State<Shared>) -> Response {
    let mut fake = state.lock().unwrap();
    fake.streams += 1;
    match fake.streams {
        // The first time the stream is unavailable: the listener must poll anyway.
        1 => (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response(),
        // Then mention 6 arrives, comes through the stream with a deletion, and the
        // stream drops.
        2 => {
            let six = notification(6);
            fake.notifications.push(six.clone());
            Body::from(format!(":thump\n\nevent: notification\ndata: {six}\n\nevent: delete\ndata: 1002\n\n"))
                .into_response()
        }
        // While it was down, mention 7 arrived: only a poll from the cursor can find it.
        _ => {
            if fake.streams == 3 {
                fake.notifications.push(notification(7));
            }
            Body::from_stream(futures_util::stream::pending::<Result<Bytes, std::io::Error>>()).into_response()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mastodon_polls_streams_honours_429_and_fills_the_gap_after_a_drop() {
    // Rounds: stream refused, poll refused with 429 (wait 1 s); stream opened, poll 1–6,
    // stream delivers 6 and a deletion, drops; stream opened, poll finds 7, stream stays.
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(dir.path()).await;
    let state: Shared = Arc::new(Mutex::new(FakeInstance {
        notifications: (1..=5).map(notification).collect(),
        ..FakeInstance::default()
    }));
    let app = axum::Router::new()
        .route("/api/v1/notifications", axum::routing::get(notifications))
        .route("/api/v1/streaming/user/notification", axum::routing::get(stream))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (stop, shutdown) = Shutdown::new();
    let options = listen::mastodon::Options {
        instance: format!("http://{address}"),
        token: Secret::new("secret-token"),
        poll_interval: Duration::from_secs(1),
    };
    let listener_db = db.clone();
    let task = tokio::spawn(async move { listen::mastodon::run(listener_db, options, shutdown).await.unwrap() });

    until("all seven mentions and the cursor", || async {
        let filter = townhall_store::PostFilter { platform: Some(Platform::Mastodon), ..Default::default() };
        db.recent_posts(&filter, 100).await.unwrap().len() == 7
            && db.cursor(&format!("mastodon:{}", address.ip())).await.unwrap().as_deref() == Some("7")
    })
    .await;
    stop.send(true).unwrap();
    task.await.unwrap();

    let (polls, streams) = {
        let fake = state.lock().unwrap();
        (fake.polls.clone(), fake.streams)
    };
    let (limited_at, _, status) = polls[0];
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (retried_at, _, _) = polls[1];
    assert!(retried_at - limited_at >= Duration::from_millis(900), "Retry-After: 1 was honoured");
    let asked: Vec<Option<&str>> = polls.iter().skip(1).map(|(_, m, _)| m.as_deref()).collect();
    assert_eq!(&asked[..4], [None, Some("2"), Some("4"), Some("6")], "paged forward from the cursor");
    assert!(asked[4..].contains(&Some("6")), "after the drop, a poll from the cursor found mention 7: {asked:?}");
    assert!(streams >= 3, "the stream was tried again after it was refused and after it dropped");
    let deleted = db
        .post_by_external_id(Platform::Mastodon, "https://social.example/users/ana/statuses/1002")
        .await
        .unwrap()
        .unwrap();
    assert!(deleted.deleted_at.is_some(), "the stream's delete, by local id, became a tombstone");
    let posts = db.recent_posts(&townhall_store::PostFilter::default(), 100).await.unwrap();
    assert_eq!(posts.len(), 7, "nothing twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_configured_listener_and_stops_it_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(dir.path()).await;
    let jetstream = FakeJetstream::start(usize::MAX).await;
    let config = dir.path().join("townhall.toml");
    std::fs::write(
        &config,
        format!("[listen]\nbluesky_endpoint = \"{}\"\nkeywords = [\"semáforo\"]\n", jetstream.endpoint()),
    )
    .unwrap();
    let (path, url) = (dir.path().to_owned(), crate::support::sqlite_url(dir.path()));
    let config = config.to_str().unwrap().to_owned();
    let server =
        tokio::task::spawn_blocking(move || crate::support::Server::start(&path, &url, &["--config", &config]))
            .await
            .unwrap();
    until("the posts the listener inside serve stored", || async { bluesky_posts(&db).await.len() == 4 }).await;
    tokio::task::spawn_blocking(move || server.stop()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_killed_with_sigkill_resumes_without_loss_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(dir.path()).await;
    let total = 3000;
    let events: Vec<(i64, String)> = (0..total)
        .map(|i| {
            let time_us = 1_725_911_000_000_000 + i * 1000;
            let line = json!({"did": format!("did:plc:v{}", i % 97), "time_us": time_us, "kind": "commit",
                "commit": {"rev": "r", "operation": "create", "collection": "app.bsky.feed.post", "rkey": format!("k{i}"),
                "record": {"text": format!("El semáforo {i} no funciona"), "createdAt": "2024-09-09T19:46:02Z"}, "cid": "c"}});
            (time_us, line.to_string())
        })
        .collect();
    let jetstream = FakeJetstream::serving(events, usize::MAX, true).await;
    let url = crate::support::sqlite_url(dir.path());
    let listen = |dir: &std::path::Path| {
        crate::support::townhall(dir)
            .args([
                "--database-url",
                &url,
                "listen",
                "bluesky",
                "--endpoint",
                &jetstream.endpoint(),
                "--keyword",
                "semáforo",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut first = listen(dir.path());
    until("a first stored batch", || async { !bluesky_posts(&db).await.is_empty() }).await;
    std::process::Command::new("kill").args(["-9", &first.id().to_string()]).status().unwrap();
    first.wait().unwrap();
    let stored_at_kill = bluesky_posts(&db).await.len();
    eprintln!("stored when killed: {stored_at_kill} of {total}");

    let second = listen(dir.path());
    until("every post after the restart", || async {
        let filter = townhall_store::PostFilter { platform: Some(Platform::Bluesky), ..Default::default() };
        db.post_stats().await.unwrap().total == total && db.recent_posts(&filter, 1).await.unwrap().len() == 1
    })
    .await;
    std::process::Command::new("kill").args(["-TERM", &second.id().to_string()]).status().unwrap();
    let status = tokio::task::spawn_blocking(move || {
        let mut second = second;
        second.wait().unwrap()
    })
    .await
    .unwrap();
    assert!(status.success(), "SIGTERM stops the listener cleanly: {status}");
    let cursors = jetstream.cursors();
    assert_eq!(cursors.len(), 2);
    assert!(cursors[1].is_some(), "the restarted listener resumed from the saved cursor");
    assert!(stored_at_kill > 0 && stored_at_kill <= total as usize);
    let mut ids = bluesky_posts(&db).await;
    ids.dedup();
    assert_eq!(ids.len(), total as usize, "every post once");
}

#[tokio::test]
async fn a_refused_mastodon_token_stops_the_listener_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(dir.path()).await;
    let app = axum::Router::new().fallback(|| async { (StatusCode::UNAUTHORIZED, "invalid token") });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (_stop, shutdown) = Shutdown::new();
    let options = listen::mastodon::Options {
        instance: format!("http://{address}"),
        token: Secret::new("revoked-token-123"),
        poll_interval: Duration::from_secs(1),
    };
    let error = listen::mastodon::run(db, options, shutdown).await.unwrap_err().to_string();
    assert!(error.contains("refused the token (401 Unauthorized)"), "{error}");
    assert!(!error.contains("revoked-token-123"));
}
