//! Listening to Bluesky through Jetstream: posts, likes and reposts over a WebSocket,
//! kept when they concern a tracked account or say a tracked keyword.
//!
//! Jetstream sends every public post on the network; filtering by author alone
//! (`wantedDids`) would miss the citizens who write *to* an institution, so the filter
//! runs here: a post is kept when a tracked account wrote it, is mentioned in it, or
//! is the author of the post it answers or quotes, or when it contains a keyword; a
//! like or repost when it is of such a post. Deletions are kept for posts Townhall
//! holds. Events are stored every 200 events or every second; the cursor `jetstream`
//! (the last event's `time_us`) is saved after, and a reconnection asks for the
//! events from a few seconds before it, which storing idempotently makes harmless.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use townhall_connectors::{Item, bluesky};
use townhall_core::{Platform, PlatformEvent};
use townhall_store::Db;

use super::{Backoff, Recent, Shutdown, store};

/// Jetstream's public endpoint, used when none is configured.
pub const DEFAULT_ENDPOINT: &str = "wss://jetstream2.us-east.bsky.network/subscribe";

/// How far before the saved cursor a reconnection starts, in microseconds.
const REWIND_US: i64 = 5_000_000;

const FLUSH_EVENTS: usize = 200;
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// What the Bluesky listener needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The Jetstream `subscribe` address.
    pub endpoint: String,
    /// Words that make a post worth keeping.
    pub keywords: Vec<String>,
}

/// Who and what to keep.
#[derive(Debug)]
struct Filter {
    /// DIDs and handles of tracked accounts, lower-cased.
    accounts: HashSet<String>,
    keywords: Vec<String>,
    /// Posts kept recently, so likes of them are kept too.
    kept: Recent<()>,
}

impl Filter {
    async fn load(db: &Db, keywords: &[String]) -> anyhow::Result<Filter> {
        let mut accounts = HashSet::new();
        for account in db.accounts(None).await?.into_iter().filter(|a| a.platform == Platform::Bluesky) {
            accounts.insert(account.handle.trim_start_matches('@').to_lowercase());
            accounts.extend(account.external_id.map(|id| id.to_lowercase()));
        }
        let keywords = keywords.iter().map(|k| k.trim().to_lowercase()).filter(|k| !k.is_empty()).collect();
        Ok(Filter { accounts, keywords, kept: Recent::new(50_000) })
    }

    /// The DID in an `at://DID/...` URI.
    fn did_of(uri: &str) -> &str {
        uri.strip_prefix("at://").and_then(|rest| rest.split('/').next()).unwrap_or_default()
    }

    fn tracked(&self, who: &str) -> bool {
        !who.is_empty() && self.accounts.contains(&who.to_lowercase())
    }

    async fn keep(&mut self, db: &Db, event: &PlatformEvent) -> anyhow::Result<bool> {
        Ok(match event {
            PlatformEvent::Post(post) => {
                let text = post.text.to_lowercase();
                let keep = self.tracked(Filter::did_of(&post.external_id))
                    || post.entities.mentions.iter().any(|m| self.tracked(m))
                    || [&post.reply_to, &post.conversation, &post.entities.quote_of]
                        .into_iter()
                        .flatten()
                        .any(|uri| self.tracked(Filter::did_of(uri)))
                    || self.keywords.iter().any(|k| text.contains(k.as_str()));
                if keep {
                    self.kept.insert(post.external_id.clone(), ());
                }
                keep
            }
            PlatformEvent::Engagement(e) => match &e.target {
                Some(target) => self.tracked(Filter::did_of(target)) || self.kept.get(target).is_some(),
                // A withdrawal names only its own key: the store knows whether it counted.
                None => true,
            },
            PlatformEvent::Deleted { external_id, .. } => {
                self.kept.get(external_id).is_some()
                    || db.post_by_external_id(Platform::Bluesky, external_id).await?.is_some()
            }
            PlatformEvent::Hidden { .. } => false,
        })
    }
}

/// Runs until shutdown, reconnecting with backoff.
pub async fn run(db: Db, options: Options, mut shutdown: Shutdown) -> anyhow::Result<()> {
    super::init_tls();
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(60));
    tracing::info!(endpoint = %options.endpoint, "listening to Bluesky");
    while !shutdown.is_raised() {
        let started = Instant::now();
        if let Err(error) = session(&db, &options, &mut shutdown).await {
            tracing::warn!(error = %format!("{error:#}"), "Jetstream connection lost");
        }
        if started.elapsed() > Duration::from_secs(30) {
            backoff.reset();
        }
        if shutdown.is_raised() || shutdown.sleep(backoff.next_delay()).await {
            break;
        }
    }
    tracing::info!("stopped listening to Bluesky");
    Ok(())
}

/// One connection: from the saved cursor until it drops or shutdown.
async fn session(db: &Db, options: &Options, shutdown: &mut Shutdown) -> anyhow::Result<()> {
    let mut filter = Filter::load(db, &options.keywords).await?;
    let mut url = reqwest::Url::parse(&options.endpoint).with_context(|| format!("endpoint {:?}", options.endpoint))?;
    let cursor = db.cursor("jetstream").await?.and_then(|c| c.parse::<i64>().ok());
    {
        let mut query = url.query_pairs_mut();
        for collection in ["app.bsky.feed.post", "app.bsky.feed.like", "app.bsky.feed.repost"] {
            query.append_pair("wantedCollections", collection);
        }
        if let Some(cursor) = cursor {
            query.append_pair("cursor", &(cursor - REWIND_US).max(0).to_string());
        }
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.context("connecting to Jetstream")?;
    tracing::info!("connected to Jetstream");
    let mut batch: Vec<PlatformEvent> = Vec::new();
    let mut rejects = Vec::new();
    let mut last_cursor: Option<i64> = None;
    let mut flush_at = Instant::now() + FLUSH_EVERY;
    let result = loop {
        let message = tokio::select! {
            message = socket.next() => message,
            () = tokio::time::sleep_until(flush_at.into()) => {
                flush(db, &mut batch, &mut rejects, &mut last_cursor).await?;
                flush_at = Instant::now() + FLUSH_EVERY;
                continue;
            }
            () = shutdown.raised() => {
                let _ = socket.close(None).await;
                break Ok(());
            }
        };
        let bytes = match message {
            None => break Err(anyhow::anyhow!("Jetstream closed the connection")),
            Some(Err(error)) => break Err(error.into()),
            Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
            Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
            Some(Ok(Message::Ping(payload))) => {
                socket.send(Message::Pong(payload)).await?;
                continue;
            }
            Some(Ok(Message::Close(_))) => break Err(anyhow::anyhow!("Jetstream closed the connection")),
            Some(Ok(_)) => continue,
        };
        if let Some(cursor) = bluesky::cursor(&bytes) {
            last_cursor = Some(cursor);
        }
        match bluesky::parse(&bytes) {
            Ok(items) => {
                for event in items.into_iter().filter_map(|item| match item {
                    Item::Event(event) => Some(event),
                    Item::Skipped(_) => None,
                }) {
                    if filter.keep(db, &event).await? {
                        batch.push(event);
                    }
                }
            }
            Err(error) => rejects.push((bytes, error)),
        }
        if batch.len() >= FLUSH_EVENTS {
            flush(db, &mut batch, &mut rejects, &mut last_cursor).await?;
        }
    };
    // What was received before the connection ended is stored before trying again.
    flush(db, &mut batch, &mut rejects, &mut last_cursor).await?;
    result
}

/// Stores the batch, then saves the cursor it reached.
async fn flush(
    db: &Db,
    batch: &mut Vec<PlatformEvent>,
    rejects: &mut Vec<(Vec<u8>, townhall_connectors::ParseError)>,
    cursor: &mut Option<i64>,
) -> anyhow::Result<()> {
    store(db, "listen:bluesky", batch, rejects, None).await?;
    batch.clear();
    rejects.clear();
    if let Some(cursor) = cursor.take() {
        db.set_cursor("jetstream", &cursor.to_string()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_did_of_an_at_uri() {
        assert_eq!(Filter::did_of("at://did:plc:abc/app.bsky.feed.post/3k"), "did:plc:abc");
        assert_eq!(Filter::did_of("https://example.org"), "");
    }
}
