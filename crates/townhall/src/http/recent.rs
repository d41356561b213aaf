//! Figures that are costly to count and may be a little old: the overview's post
//! counts read every post, which at a million posts took half a second a request and
//! at ten million twelve seconds. Counted at most once per `max_age`, always in the
//! background; a reader gets the last count at once, and before the first one waits
//! at most `patience`, then goes on without it (the page says it is being counted).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// One figure and when it was counted.
#[derive(Debug)]
pub struct Recent<T> {
    max_age: Duration,
    patience: Duration,
    counted: watch::Sender<Option<(Instant, Arc<T>)>>,
    recounting: AtomicBool,
}

impl<T: Send + Sync + 'static> Recent<T> {
    /// A figure recounted when older than `max_age`, whose first count a reader
    /// awaits for at most `patience`.
    pub fn new(max_age: Duration, patience: Duration) -> Recent<T> {
        Recent { max_age, patience, counted: watch::Sender::new(None), recounting: AtomicBool::new(false) }
    }

    /// The figure, or `None` while its first count takes longer than `patience`. A
    /// count missing or older than `max_age` starts a count in the background (one at
    /// a time); a failed count is logged and the next reader starts another.
    pub async fn get<E, F, Fut>(self: &Arc<Self>, count: F) -> Option<Arc<T>>
    where
        E: std::fmt::Display + Send + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let last = self.counted.borrow().clone();
        let stale = last.as_ref().is_none_or(|(at, _)| at.elapsed() >= self.max_age);
        if stale && !self.recounting.swap(true, Ordering::AcqRel) {
            let this = Arc::clone(self);
            let recount = count();
            tokio::spawn(async move {
                match recount.await {
                    Ok(value) => {
                        this.counted.send_replace(Some((Instant::now(), Arc::new(value))));
                    }
                    Err(error) => tracing::warn!(%error, "counting a figure failed"),
                }
                this.recounting.store(false, Ordering::Release);
            });
        }
        if let Some((_, value)) = last {
            return Some(value);
        }
        let mut counted = self.counted.subscribe();
        let first = tokio::time::timeout(self.patience, counted.wait_for(Option::is_some)).await;
        first.ok()?.ok()?.as_ref().map(|(_, value)| Arc::clone(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::sync::atomic::AtomicU32;

    type Count = Pin<Box<dyn Future<Output = Result<u32, String>> + Send>>;
    trait CountFn: Fn() -> Count + Clone + Send + 'static {}
    impl<F: Fn() -> Count + Clone + Send + 'static> CountFn for F {}

    /// A count that answers how many counts were started, once `gate` opens.
    fn counter(counts: &Arc<AtomicU32>, gate: &watch::Sender<bool>) -> impl CountFn + use<> {
        let (counts, gate) = (Arc::clone(counts), gate.subscribe());
        move || {
            let n = counts.fetch_add(1, Ordering::SeqCst) + 1;
            let mut gate = gate.clone();
            Box::pin(async move {
                gate.wait_for(|open| *open).await.map_err(|e| e.to_string())?;
                Ok(n)
            })
        }
    }

    async fn readers(recent: &Arc<Recent<u32>>, count: impl CountFn, n: usize) -> Vec<Option<u32>> {
        let reads = (0..n).map(|_| {
            let (recent, count) = (Arc::clone(recent), count.clone());
            tokio::spawn(async move { recent.get(count).await.map(|n| *n) })
        });
        futures_util::future::join_all(reads).await.into_iter().map(Result::unwrap).collect()
    }

    async fn settled(recent: &Recent<u32>) {
        while recent.recounting.load(Ordering::Acquire) {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn readers_go_on_without_a_slow_first_count_and_it_runs_once() {
        let counts = Arc::new(AtomicU32::new(0));
        let gate = watch::Sender::new(false);
        let impatient = Arc::new(Recent::new(Duration::from_secs(3600), Duration::from_millis(20)));
        let count = counter(&counts, &gate);
        assert_eq!(readers(&impatient, count.clone(), 8).await, [None; 8], "the count is held back");
        assert_eq!(counts.load(Ordering::SeqCst), 1, "eight readers, one count");
        gate.send_replace(true);
        settled(&impatient).await;
        assert_eq!(readers(&impatient, count, 2).await, [Some(1); 2], "then served, not recounted");
        assert_eq!(counts.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_reader_within_the_patience_gets_the_first_count() {
        let counts = Arc::new(AtomicU32::new(0));
        let gate = watch::Sender::new(false);
        let patient = Arc::new(Recent::new(Duration::from_secs(3600), Duration::from_secs(3600)));
        let waiting = tokio::spawn({
            let (patient, count) = (Arc::clone(&patient), counter(&counts, &gate));
            async move { readers(&patient, count, 8).await }
        });
        gate.send_replace(true);
        assert_eq!(waiting.await.unwrap(), [Some(1); 8]);
        assert_eq!(counts.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_old_count_is_served_while_it_is_recounted() {
        let counts = Arc::new(AtomicU32::new(0));
        let gate = watch::Sender::new(true);
        let count = counter(&counts, &gate);
        let old_at_once = Arc::new(Recent::new(Duration::ZERO, Duration::from_secs(3600)));
        assert_eq!(old_at_once.get(&count).await.map(|n| *n), Some(1));
        settled(&old_at_once).await;
        assert_eq!(old_at_once.get(&count).await.map(|n| *n), Some(1), "served at once, the recount started");
        settled(&old_at_once).await;
        assert_eq!(old_at_once.get(&count).await.map(|n| *n), Some(2), "the recount replaced it");
    }

    #[tokio::test]
    async fn a_failed_count_is_retried_by_the_next_reader() {
        let recent = Arc::new(Recent::<u32>::new(Duration::from_secs(3600), Duration::from_millis(20)));
        assert_eq!(recent.get(|| async { Err::<u32, _>("down".to_string()) }).await, None, "nothing to serve");
        settled(&recent).await;
        assert_eq!(recent.get(|| async { Ok::<_, String>(7) }).await.map(|n| *n), Some(7));
    }
}
