//! Group commit for webhook deliveries. A platform under load sends many small
//! deliveries at once; stored each in its own write transaction, they queued for the
//! one SQLite writer one at a time. Here the deliveries that arrive while a write is
//! under way wait for it and are then stored together, in the next transaction, and
//! each is answered only once that transaction has committed: an acknowledged
//! delivery is as durable as before, and a quiet server still writes each at once.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;
use townhall_core::PlatformEvent;
use townhall_store::{Db, StoreError};

use crate::attribute::Accounts;

/// Events stored in one transaction at most: a burst is written in transactions of
/// about this size, each answered as soon as it commits.
const MAX_EVENTS: usize = 2_000;
/// Events waiting at most: past this a delivery is refused at once (503, and the
/// platform delivers it again later) rather than held in memory for as long as the
/// surge lasts.
const MAX_WAITING: usize = 50_000;

/// Why a delivery was not stored: a stable code and words, for the log and the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotStored {
    /// Stable code (the store's, or `intake.interrupted`).
    pub code: &'static str,
    /// In words.
    pub message: String,
}

impl From<&StoreError> for NotStored {
    fn from(error: &StoreError) -> NotStored {
        NotStored { code: error.code(), message: error.to_string() }
    }
}

type Answer = oneshot::Sender<Result<usize, NotStored>>;

/// Webhook deliveries waiting to be stored, and the turn to store them.
#[derive(Debug, Default)]
pub struct Intake {
    waiting: Mutex<Waiting>,
    writing: tokio::sync::Mutex<()>,
}

/// The deliveries waiting, oldest first, and how many events they hold.
#[derive(Debug, Default)]
struct Waiting {
    deliveries: Vec<(Vec<PlatformEvent>, Answer)>,
    events: usize,
}

impl Intake {
    /// Stores one delivery's events, attributed to the institutions' accounts,
    /// together with whatever other deliveries are waiting; returns how many events
    /// were stored, once they are durable.
    pub async fn store(self: Arc<Self>, db: Db, events: Vec<PlatformEvent>) -> Result<usize, NotStored> {
        let (answer, stored) = oneshot::channel();
        {
            let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            if waiting.events > 0 && waiting.events + events.len() > MAX_WAITING {
                return Err(NotStored {
                    code: "intake.busy",
                    message: format!("{} events are waiting to be stored; deliver this again later", waiting.events),
                });
            }
            waiting.events += events.len();
            waiting.deliveries.push((events, answer));
        }
        // The write runs on a task of its own, so a client that hangs up cannot cut
        // it short for the deliveries stored with its own.
        tokio::spawn(async move { self.write_waiting(&db).await });
        stored.await.unwrap_or_else(|_| {
            Err(NotStored { code: "intake.interrupted", message: "the write was interrupted".into() })
        })
    }

    /// Takes the writer's turn, then stores what is waiting by then (nothing, when an
    /// earlier turn took this delivery along with its own).
    async fn write_waiting(&self, db: &Db) {
        let _turn = self.writing.lock().await;
        let group: Vec<_> = {
            let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            let mut events = 0;
            let take = waiting
                .deliveries
                .iter()
                .take_while(|(delivery, _)| {
                    let fits = events == 0 || events + delivery.len() <= MAX_EVENTS;
                    if fits {
                        events += delivery.len();
                    }
                    fits
                })
                .count();
            waiting.events -= events;
            waiting.deliveries.drain(..take).collect()
        };
        if !group.is_empty() {
            write(db, group).await;
        }
    }
}

/// Attributes and stores a group of deliveries in one transaction. If that fails,
/// each is stored alone, so one delivery that cannot be stored does not hold back
/// the others (the platform delivers it again, and it would fail every group).
async fn write(db: &Db, group: Vec<(Vec<PlatformEvent>, Answer)>) {
    let (deliveries, answers): (Vec<_>, Vec<_>) = group.into_iter().unzip();
    let counts: Vec<usize> = deliveries.iter().map(Vec::len).collect();
    let mut events: Vec<PlatformEvent> = deliveries.into_iter().flatten().collect();
    match Accounts::load(db).await {
        Ok(accounts) => accounts.attribute(&mut events, None),
        Err(error) => {
            for answer in answers {
                let _ = answer.send(Err(NotStored::from(&error)));
            }
            return;
        }
    }
    let whole = db.apply_events(&events).await;
    if let Err(error) = &whole
        && answers.len() > 1
    {
        tracing::warn!(deliveries = answers.len(), code = error.code(), %error, "a group of deliveries failed; storing each alone");
        let mut start = 0;
        for (answer, count) in answers.into_iter().zip(counts) {
            let alone = db.apply_events(&events[start..start + count]).await;
            start += count;
            let _ = answer.send(alone.map(|_| count).map_err(|e| NotStored::from(&e)));
        }
        return;
    }
    for (answer, count) in answers.into_iter().zip(counts) {
        let _ = answer.send(whole.as_ref().map(|_| count).map_err(NotStored::from));
    }
}

#[cfg(test)]
mod tests {
    use townhall_core::{AccountId, NewPost, Platform};
    use townhall_store::DbOptions;

    use super::*;

    fn post(id: &str) -> PlatformEvent {
        PlatformEvent::Post(NewPost {
            platform: Platform::X,
            external_id: id.into(),
            account_id: None,
            author: None,
            text: format!("Post {id}"),
            lang_hint: None,
            created_at: chrono::Utc::now(),
            edited_at: None,
            reply_to: None,
            conversation: None,
            metrics: Default::default(),
            entities: Default::default(),
            raw: b"{}".to_vec(),
        })
    }

    async fn db(dir: &tempfile::TempDir) -> Db {
        Db::open(&DbOptions::new(format!("sqlite://{}", dir.path().join("t.db").display()))).await.unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_deliveries_are_each_answered_once_stored() {
        let dir = tempfile::tempdir().unwrap();
        let db = db(&dir).await;
        let intake = Arc::new(Intake::default());
        let stores: Vec<_> = (0..40)
            .map(|n| {
                let events = vec![post(&format!("{n}-a")), post(&format!("{n}-b")), post(&format!("{n}-c"))];
                tokio::spawn(intake.clone().store(db.clone(), events))
            })
            .collect();
        for store in stores {
            assert_eq!(store.await.unwrap(), Ok(3));
        }
        for n in 0..40 {
            for part in ["a", "b", "c"] {
                let id = format!("{n}-{part}");
                assert!(db.post_by_external_id(Platform::X, &id).await.unwrap().is_some(), "{id} stored");
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_delivery_is_refused_at_once_while_too_many_events_wait() {
        let dir = tempfile::tempdir().unwrap();
        let db = db(&dir).await;
        let intake = Arc::new(Intake::default());
        // A write under way holds the turn, so what arrives meanwhile waits.
        let turn = intake.writing.lock().await;
        let first = tokio::spawn(intake.clone().store(db.clone(), vec![post("1"); MAX_WAITING - 1]));
        while intake.waiting.lock().unwrap().events == 0 {
            tokio::task::yield_now().await;
        }
        let refused = intake.clone().store(db.clone(), vec![post("2"), post("3")]).await.unwrap_err();
        assert_eq!(refused.code, "intake.busy");
        drop(turn);
        assert_eq!(first.await.unwrap(), Ok(MAX_WAITING - 1), "what waited is stored");
        assert!(db.post_by_external_id(Platform::X, "2").await.unwrap().is_none());
        assert_eq!(intake.clone().store(db.clone(), vec![post("2")]).await, Ok(1), "and the intake takes more again");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_delivery_that_cannot_be_stored_does_not_hold_back_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let db = db(&dir).await;
        let PlatformEvent::Post(mut unknown) = post("2") else { unreachable!() };
        unknown.account_id = Some(AccountId(999_999));
        let deliveries = [vec![post("1"), post("1b")], vec![PlatformEvent::Post(unknown)], vec![post("3")]];
        let (answers, stored): (Vec<_>, Vec<_>) = (0..3).map(|_| oneshot::channel()).unzip();
        write(&db, deliveries.into_iter().zip(answers).collect()).await;
        let mut results = Vec::new();
        for answer in stored {
            results.push(answer.await.unwrap().map_err(|e| e.code));
        }
        assert_eq!(results[0], Ok(2));
        assert!(results[1].is_err(), "a post naming an account that does not exist is refused");
        assert_eq!(results[2], Ok(1));
        for (id, kept) in [("1", true), ("1b", true), ("2", false), ("3", true)] {
            assert_eq!(db.post_by_external_id(Platform::X, id).await.unwrap().is_some(), kept, "{id}");
        }
    }
}
