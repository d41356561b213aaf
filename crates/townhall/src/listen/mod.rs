//! Live listening: Mastodon (notifications, polled and streamed) and Bluesky
//! (Jetstream over WebSocket), as `townhall listen …` or as tasks inside `serve`.
//!
//! Both follow the same rules. Events are stored in batches, each one transaction;
//! the cursor is saved only after the batch that holds it is stored, so a crash
//! replays a little (harmless: storing is idempotent) and never skips. Every
//! (re)connection resumes from the saved cursor. Failures back off exponentially
//! with full jitter; a 429's `Retry-After` is honoured. Secrets never reach a log.

pub mod bluesky;
pub mod mastodon;

use std::time::Duration;

use rand::Rng;
use townhall_connectors::{Item, Parsed};
use townhall_core::PlatformEvent;
use townhall_store::Db;

/// Tells a listener to stop: it stores what it has received, then returns.
#[derive(Debug, Clone)]
pub struct Shutdown(tokio::sync::watch::Receiver<bool>);

impl Shutdown {
    /// A shutdown signal and the switch that raises it.
    pub fn new() -> (tokio::sync::watch::Sender<bool>, Shutdown) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        (tx, Shutdown(rx))
    }

    /// One raised by SIGTERM or ctrl-c.
    pub fn on_signal() -> Shutdown {
        let (tx, shutdown) = Shutdown::new();
        tokio::spawn(async move {
            crate::http::shutdown_signal().await;
            let _ = tx.send(true);
        });
        shutdown
    }

    /// Whether it was raised.
    pub fn is_raised(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits until it is raised (forever if its switch is dropped unraised).
    pub async fn raised(&mut self) {
        if self.0.wait_for(|raised| *raised).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Sleeps for `duration`, or less if shutdown comes first; true if it came.
    pub async fn sleep(&mut self, duration: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(duration) => self.is_raised(),
            () = self.raised() => true,
        }
    }
}

/// Exponential backoff with full jitter: each failure doubles the ceiling (up to
/// `max`), and the wait is drawn uniformly below it, so many clients that failed
/// together do not come back together.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// Starting at `base`, never above `max`.
    pub fn new(base: Duration, max: Duration) -> Backoff {
        Backoff { base, max, failures: 0 }
    }

    /// The wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.base.saturating_mul(1 << self.failures.min(16)).min(self.max);
        self.failures = self.failures.saturating_add(1);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX).max(1);
        Duration::from_millis(rand::rng().random_range(millis / 2..=millis))
    }

    /// A healthy connection: start again from the base.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Reads `Retry-After`: seconds, or an HTTP date.
pub fn retry_after(value: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&chrono::Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// What storing one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stored {
    /// Events stored (new or not).
    pub events: usize,
    /// Records kept in quarantine.
    pub quarantined: usize,
}

/// Stores the events of a batch, each new post attributed to the institution's
/// account it addresses (`home`: the Mastodon instance's host, see
/// [`Accounts::attribute`](crate::attribute::Accounts::attribute)), and quarantines the
/// records that could not be read.
pub async fn store(
    db: &Db,
    source: &str,
    events: &[PlatformEvent],
    rejects: &[(Vec<u8>, townhall_connectors::ParseError)],
    home: Option<&str>,
) -> anyhow::Result<Stored> {
    for (raw, error) in rejects {
        db.quarantine(source, error.code, &error.message, raw).await?;
        tracing::warn!(source, code = error.code, "record quarantined");
    }
    if !events.is_empty() {
        let mut events = events.to_vec();
        crate::attribute::Accounts::load(db).await?.attribute(&mut events, home);
        db.apply_events(&events).await?;
    }
    Ok(Stored { events: events.len(), quarantined: rejects.len() })
}

/// Splits what a parser returned into events to store and rejects to quarantine.
pub(crate) fn collect(
    parsed: Parsed,
    raw: &[u8],
    events: &mut Vec<PlatformEvent>,
    rejects: &mut Vec<(Vec<u8>, townhall_connectors::ParseError)>,
) {
    match parsed {
        Ok(items) => events.extend(items.into_iter().filter_map(|item| match item {
            Item::Event(event) => Some(event),
            Item::Skipped(_) => None,
        })),
        Err(error) => rejects.push((raw.to_vec(), error)),
    }
}

/// A map that keeps only its newest entries, for what a listener must remember of a
/// live stream (ids it has seen) without growing for ever.
#[derive(Debug)]
pub(crate) struct Recent<V> {
    entries: std::collections::HashMap<String, V>,
    order: std::collections::VecDeque<String>,
    capacity: usize,
}

impl<V> Recent<V> {
    pub(crate) fn new(capacity: usize) -> Recent<V> {
        Recent { entries: Default::default(), order: Default::default(), capacity: capacity.max(1) }
    }

    pub(crate) fn insert(&mut self, key: String, value: V) {
        if self.entries.insert(key.clone(), value).is_some() {
            return;
        }
        self.order.push_back(key);
        if self.order.len() > self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.entries.remove(&oldest);
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        self.entries.get(key)
    }
}

/// Installs the TLS crypto provider once (ring: it builds with only a C compiler).
pub fn init_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_jitter_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let delays: Vec<Duration> = (0..8).map(|_| backoff.next_delay()).collect();
        assert!(delays[0] >= Duration::from_millis(50) && delays[0] <= Duration::from_millis(100));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(2)));
        assert!(delays[7] >= Duration::from_secs(1), "{delays:?}");
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn recent_keeps_only_the_newest() {
        let mut recent = Recent::new(2);
        for key in ["a", "b", "a", "c"] {
            recent.insert(key.to_owned(), key.len());
        }
        assert_eq!((recent.get("a"), recent.get("b"), recent.get("c")), (None, Some(&1), Some(&1)));
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(retry_after(Some("7"), now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(Some("Mon, 02 Mar 2026 10:00:30 GMT"), now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after(Some("Mon, 02 Mar 2026 09:00:00 GMT"), now), Some(Duration::ZERO));
        assert_eq!(retry_after(Some("soon"), now), None);
        assert_eq!(retry_after(None, now), None);
    }
}
