//! Listening to a Mastodon instance for mentions of the institution's account.
//!
//! Each round opens the server-sent-events stream
//! `GET /api/v1/streaming/user/notification`, then polls
//! `GET /api/v1/notifications?types[]=mention&min_id=CURSOR` page by page until nothing
//! is newer (this fills any gap, after a restart or a dropped stream), then follows the
//! stream for as long as it lasts. A refused token (401, 403) stops the listener. When the stream
//! is refused or drops, it backs off and starts the next round with a poll: polling
//! is the fallback. The cursor `mastodon:HOST` is the newest notification id stored.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use serde::Deserialize;
use townhall_connectors::mastodon;
use townhall_core::{Platform, PlatformEvent};
use townhall_store::Db;

use super::{Backoff, Recent, Shutdown, collect, retry_after, store};
use crate::config::Secret;

/// What the Mastodon listener needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The instance, e.g. `https://mastodon.social`.
    pub instance: String,
    /// The institution account's access token.
    pub token: Secret,
    /// The longest wait between rounds when the stream is unavailable.
    pub poll_interval: Duration,
}

/// Local status ids the stream's `delete` events may name, mapped to the status URIs
/// posts are keyed by; the newest few thousand are kept.
type RecentStatuses = Recent<String>;

fn remember(recent: &mut RecentStatuses, raw_status: &[u8]) {
    #[derive(Deserialize)]
    struct Ids {
        id: String,
        uri: String,
    }
    if let Ok(ids) = serde_json::from_slice::<Ids>(raw_status) {
        recent.insert(ids.id, ids.uri);
    }
}

/// Runs until shutdown; errors of one round are logged and retried.
pub async fn run(db: Db, options: Options, mut shutdown: Shutdown) -> anyhow::Result<()> {
    super::init_tls();
    let host = reqwest::Url::parse(&options.instance)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .with_context(|| format!("not an instance address: {}", options.instance))?;
    let cursor_name = format!("mastodon:{host}");
    let client = reqwest::Client::builder()
        .user_agent(concat!("Townhall/", env!("CARGO_PKG_VERSION")))
        // The token must go to the instance and nowhere else.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .build()?;
    let mut auth = HeaderValue::from_str(&format!("Bearer {}", options.token.expose())).context("token")?;
    auth.set_sensitive(true);
    let base = options.instance.trim_end_matches('/').to_owned();
    let listener = Listener { db, client, auth, base, cursor_name, host: host.clone() };
    let mut backoff = Backoff::new(Duration::from_millis(500), options.poll_interval.max(Duration::from_secs(1)));
    let mut recent = RecentStatuses::new(10_000);
    tracing::info!(instance = %host, "listening to Mastodon");
    while !shutdown.is_raised() {
        let started = Instant::now();
        let wait = match listener.round(&mut recent, &mut shutdown).await {
            Ok(()) => None,
            Err(Failure::RateLimited(wait)) => {
                tracing::warn!(instance = %host, seconds = wait.as_secs(), "rate limited; waiting as asked");
                Some(wait)
            }
            Err(Failure::Other(error)) => {
                tracing::warn!(instance = %host, error = %format!("{error:#}"), "Mastodon round failed");
                None
            }
            Err(Failure::Refused(why)) => bail!("{host}: {why}"),
        };
        if started.elapsed() > Duration::from_secs(60) {
            backoff.reset();
        }
        let wait = wait.unwrap_or_else(|| backoff.next_delay());
        if shutdown.sleep(wait).await {
            break;
        }
    }
    tracing::info!(instance = %host, "stopped listening to Mastodon");
    Ok(())
}

enum Failure {
    RateLimited(Duration),
    /// The instance refused the token: retrying cannot help.
    Refused(String),
    Other(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Failure {
        Failure::Other(error.into())
    }
}

struct Listener {
    db: Db,
    client: reqwest::Client,
    auth: HeaderValue,
    base: String,
    cursor_name: String,
    /// The instance's host: its local accounts are mentioned without it.
    host: String,
}

impl Listener {
    async fn round(&self, recent: &mut RecentStatuses, shutdown: &mut Shutdown) -> Result<(), Failure> {
        // The stream is opened before the poll: a mention that arrives while the poll
        // runs waits in the stream, so nothing falls between the two. A refused
        // stream still lets the poll run: polling is the fallback.
        let url = format!("{}/api/v1/streaming/user/notification", self.base);
        let stream = self.client.get(&url).header(AUTHORIZATION, self.auth.clone()).send().await;
        self.poll(recent).await?;
        let stream = check(stream?)?;
        if shutdown.is_raised() {
            return Ok(());
        }
        self.follow(stream, recent, shutdown).await
    }

    /// Stores every mention newer than the cursor, oldest first, page by page.
    async fn poll(&self, recent: &mut RecentStatuses) -> Result<(), Failure> {
        loop {
            let cursor = self.db.cursor(&self.cursor_name).await?;
            let mut url = format!("{}/api/v1/notifications?types[]=mention&limit=40", self.base);
            if let Some(cursor) = &cursor {
                url.push_str(&format!("&min_id={cursor}"));
            }
            let response = self.client.get(&url).header(AUTHORIZATION, self.auth.clone()).send().await?;
            let response = check(response)?;
            let body = response.bytes().await?;
            let page: Vec<Box<serde_json::value::RawValue>> =
                serde_json::from_slice(&body).context("the notifications page is not a JSON array")?;
            let mut newest = cursor.clone();
            let (mut events, mut rejects) = (Vec::new(), Vec::new());
            for notification in &page {
                let raw = notification.get().as_bytes();
                if let Some(id) = notification_id(raw).filter(|id| newer(id, newest.as_deref())) {
                    newest = Some(id);
                }
                remember_status(recent, raw);
                collect(mastodon::parse(raw), raw, &mut events, &mut rejects);
            }
            store(&self.db, "listen:mastodon", &events, &rejects, Some(&self.host)).await?;
            match newest {
                Some(newest) if Some(&newest) != cursor.as_ref() => {
                    self.db.set_cursor(&self.cursor_name, &newest).await?
                }
                _ => return Ok(()),
            }
        }
    }

    /// Follows the notification stream until it ends or shutdown.
    async fn follow(
        &self,
        response: reqwest::Response,
        recent: &mut RecentStatuses,
        shutdown: &mut Shutdown,
    ) -> Result<(), Failure> {
        let mut body = response.bytes_stream();
        let mut buffer: Vec<u8> = Vec::new();
        let mut event = SseEvent::default();
        loop {
            let chunk = tokio::select! {
                chunk = body.next() => chunk,
                () = shutdown.raised() => return Ok(()),
            };
            let Some(chunk) = chunk else { return Err(Failure::Other(anyhow::anyhow!("the stream ended"))) };
            buffer.extend_from_slice(&chunk?);
            while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                let line = line.strip_suffix(b"\n").unwrap_or(&line);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.is_empty() {
                    let done = std::mem::take(&mut event);
                    self.dispatch(done, recent).await?;
                } else {
                    event.feed(line);
                }
            }
            if buffer.len() > townhall_connectors::frame::MAX_RECORD {
                return Err(Failure::Other(anyhow::anyhow!("a stream event over the size limit")));
            }
        }
    }

    async fn dispatch(&self, event: SseEvent, recent: &mut RecentStatuses) -> Result<(), Failure> {
        let (mut events, mut rejects) = (Vec::new(), Vec::new());
        let data = event.data;
        match event.name.as_str() {
            "notification" => {
                remember_status(recent, &data);
                collect(mastodon::parse(&data), &data, &mut events, &mut rejects);
                store(&self.db, "listen:mastodon", &events, &rejects, Some(&self.host)).await?;
                if let Some(id) = notification_id(&data) {
                    let cursor = self.db.cursor(&self.cursor_name).await?;
                    if newer(&id, cursor.as_deref()) {
                        self.db.set_cursor(&self.cursor_name, &id).await?;
                    }
                }
            }
            "update" | "status.update" => {
                remember(recent, &data);
                collect(mastodon::parse(&data), &data, &mut events, &mut rejects);
                store(&self.db, "listen:mastodon", &events, &rejects, Some(&self.host)).await?;
            }
            "delete" => {
                let id = String::from_utf8_lossy(&data).trim().to_owned();
                if let Some(uri) = recent.get(&id) {
                    let deleted = PlatformEvent::Deleted {
                        platform: Platform::Mastodon,
                        external_id: uri.clone(),
                        at: chrono::Utc::now(),
                        raw: data.clone(),
                    };
                    store(&self.db, "listen:mastodon", &[deleted], &[], Some(&self.host)).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// One server-sent event being read.
#[derive(Debug, Default)]
struct SseEvent {
    name: String,
    data: Vec<u8>,
}

impl SseEvent {
    fn feed(&mut self, line: &[u8]) {
        if let Some(name) = line.strip_prefix(b"event:") {
            self.name = String::from_utf8_lossy(name).trim().to_owned();
        } else if let Some(data) = line.strip_prefix(b"data:") {
            if !self.data.is_empty() {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(data.strip_prefix(b" ").unwrap_or(data));
        }
    }
}

/// A successful response, or why not; a 429 says how long to wait.
fn check(response: reqwest::Response) -> Result<reqwest::Response, Failure> {
    let status = response.status();
    if status == StatusCode::TOO_MANY_REQUESTS {
        let header = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok());
        let wait = retry_after(header, chrono::Utc::now()).unwrap_or(Duration::from_secs(60));
        return Err(Failure::RateLimited(wait));
    }
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        return Err(Failure::Refused(format!("the instance refused the token ({status})")));
    }
    if !status.is_success() {
        return Err(Failure::Other(anyhow::anyhow!("{} answered {status}", response.url().path())));
    }
    Ok(response)
}

fn notification_id(raw: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Id {
        id: String,
    }
    serde_json::from_slice::<Id>(raw).ok().map(|n| n.id)
}

fn remember_status(recent: &mut RecentStatuses, notification: &[u8]) {
    #[derive(Deserialize)]
    struct WithStatus {
        status: Option<Box<serde_json::value::RawValue>>,
    }
    if let Some(status) = serde_json::from_slice::<WithStatus>(notification).ok().and_then(|n| n.status) {
        remember(recent, status.get().as_bytes());
    }
}

/// Mastodon ids are decimal strings: a longer one is newer, then by digits.
fn newer(id: &str, than: Option<&str>) -> bool {
    match than {
        None => true,
        Some(than) => (id.len(), id) > (than.len(), than),
    }
}

/// Checked before the listener starts, so a misconfiguration is one clear error.
pub fn validate(options: &Options) -> anyhow::Result<()> {
    let url = reqwest::Url::parse(&options.instance).with_context(|| format!("--instance {:?}", options.instance))?;
    if !matches!(url.scheme(), "https" | "http") {
        bail!("--instance must be an http(s) address, not {:?}", options.instance);
    }
    if !options.token.is_set() {
        bail!("a Mastodon access token is needed: --token, TOWNHALL_LISTEN_MASTODON_TOKEN or listen.mastodon_token");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_compare_as_numbers() {
        assert!(newer("110", Some("99")));
        assert!(!newer("99", Some("110")));
        assert!(!newer("110", Some("110")));
        assert!(newer("1", None));
    }

    #[test]
    fn sse_lines_make_events() {
        let mut event = SseEvent::default();
        for line in [&b"event: notification"[..], b"data: {\"a\":", b"data:1}", b": a comment"] {
            event.feed(line);
        }
        assert_eq!((event.name.as_str(), event.data.as_slice()), ("notification", &b"{\"a\":\n1}"[..]));
    }
}
