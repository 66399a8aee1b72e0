//! Work taken from a source that does not wait (a subscription, whose
//! messages keep coming however slowly they are handled): at most a fixed
//! number of items in hand at once. When all places are taken, the source
//! waits for one (backpressure) for a while; if none frees, the item is
//! dropped, and so is every item that finds no free place until one frees
//! again, so a stuck consumer costs bounded memory and the drops are
//! counted by whoever calls [`Backlog::admit`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A bound on items in hand.
#[derive(Debug)]
pub struct Backlog {
    places: Arc<Semaphore>,
    wait: Duration,
    /// Set after a wait for a place ran out, until a place is taken again:
    /// then items find no place at once and are dropped without waiting.
    overloaded: AtomicBool,
}

impl Backlog {
    /// At most `max` items in hand; the source waits up to `wait` for a
    /// place before the first drop.
    pub fn new(max: usize, wait: Duration) -> Self {
        Self {
            places: Arc::new(Semaphore::new(max.max(1))),
            wait,
            overloaded: AtomicBool::new(false),
        }
    }

    /// A place for one more item, held until dropped; `None` when the item
    /// must be dropped.
    pub async fn admit(&self) -> Option<OwnedSemaphorePermit> {
        if let Ok(place) = self.places.clone().try_acquire_owned() {
            self.overloaded.store(false, Ordering::Relaxed);
            return Some(place);
        }
        if self.overloaded.load(Ordering::Relaxed) {
            return None;
        }
        let waited = tokio::time::timeout(self.wait, self.places.clone().acquire_owned()).await;
        match waited {
            Ok(Ok(place)) => Some(place),
            _ => {
                self.overloaded.store(true, Ordering::Relaxed);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_backlog_waits_then_drops_until_a_place_frees() {
        let backlog = Backlog::new(2, Duration::from_millis(20));
        let a = backlog.admit().await;
        let b = backlog.admit().await;
        assert!(a.is_some() && b.is_some());
        let started = std::time::Instant::now();
        assert!(backlog.admit().await.is_none(), "a third place");
        assert!(
            started.elapsed() >= Duration::from_millis(20),
            "did not wait"
        );
        // Overloaded: the next drop does not wait.
        let started = std::time::Instant::now();
        assert!(backlog.admit().await.is_none());
        assert!(started.elapsed() < Duration::from_millis(20));
        drop(a);
        assert!(backlog.admit().await.is_some(), "a freed place is taken");
    }
}
