//! Figures that are costly to count and may be a little old: the overview's post
//! counts read every post, which at a million posts took half a second a request and
//! queued eight readers for seconds. Counted at most once per `max_age`, in the
//! background while the last count is served; only the first reader waits.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// One figure and when it was counted.
#[derive(Debug)]
pub struct Recent<T> {
    max_age: Duration,
    counted: Mutex<Option<(Instant, Arc<T>)>>,
    recounting: AtomicBool,
    /// Held while the first count is made, so concurrent first readers count once.
    first: tokio::sync::Mutex<()>,
}

impl<T: Send + Sync + 'static> Recent<T> {
    /// A figure recounted when older than `max_age`.
    pub fn new(max_age: Duration) -> Recent<T> {
        Recent { max_age, counted: Mutex::new(None), recounting: AtomicBool::new(false), first: Default::default() }
    }

    fn last(&self) -> Option<(Instant, Arc<T>)> {
        self.counted.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn store(&self, value: T) -> Arc<T> {
        let value = Arc::new(value);
        *self.counted.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), Arc::clone(&value)));
        value
    }

    /// The figure: the last count, with a recount started in the background when it
    /// is older than `max_age`; the first time, counted now by `count`.
    pub async fn get<E, F, Fut>(self: &Arc<Self>, count: F) -> Result<Arc<T>, E>
    where
        E: std::fmt::Display + Send + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        if let Some((at, value)) = self.last() {
            if at.elapsed() >= self.max_age && !self.recounting.swap(true, Ordering::AcqRel) {
                let this = Arc::clone(self);
                let recount = count();
                tokio::spawn(async move {
                    match recount.await {
                        Ok(value) => {
                            this.store(value);
                        }
                        // The last count stays; the next reader tries again.
                        Err(error) => tracing::warn!(%error, "recounting a figure failed"),
                    }
                    this.recounting.store(false, Ordering::Release);
                });
            }
            return Ok(value);
        }
        let _first = self.first.lock().await;
        if let Some((_, value)) = self.last() {
            return Ok(value);
        }
        Ok(self.store(count().await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[tokio::test]
    async fn counted_once_then_recounted_in_the_background_when_old() {
        let counts = Arc::new(AtomicU32::new(0));
        let count = || {
            let counts = Arc::clone(&counts);
            async move { Ok::<_, String>(counts.fetch_add(1, Ordering::SeqCst) + 1) }
        };
        let recent = Arc::new(Recent::new(Duration::ZERO));
        let fresh = Arc::new(Recent::new(Duration::from_secs(3600)));
        let readers = (0..8).map(|_| {
            let fresh = Arc::clone(&fresh);
            async move { *fresh.get(count).await.unwrap() }
        });
        assert_eq!(futures_util::future::join_all(readers).await, [1; 8], "eight first readers, one count");
        assert_eq!(counts.load(Ordering::SeqCst), 1);
        assert_eq!(*fresh.get(count).await.unwrap(), 1, "not old yet: not recounted");

        assert_eq!(*recent.get(count).await.unwrap(), 2);
        // Old at once: the reader gets the last count while the recount runs.
        assert_eq!(*recent.get(count).await.unwrap(), 2);
        while recent.recounting.load(Ordering::Acquire) {
            tokio::task::yield_now().await;
        }
        assert_eq!(*recent.last().unwrap().1, 3, "the recount replaced it");

        let failing = Arc::new(Recent::<u32>::new(Duration::ZERO));
        assert!(failing.get(|| async { Err::<u32, _>("down".to_string()) }).await.is_err(), "nothing to serve yet");
    }
}
