//! What one request, and all requests together, may ask of the server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gan_contract::limits::DEFAULT_MAX_PICTURE_PIXELS;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The server's bounds.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Images per request.
    pub max_images: usize,
    /// Pixels per request, all images together.
    pub max_pixels: u64,
    /// Request body bytes.
    pub max_body_bytes: usize,
    /// Requests generating at once.
    pub workers: usize,
    /// Requests waiting for a worker; more are turned away with 503.
    pub queue: usize,
    /// Longest a request may wait and generate.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_images: 256,
            max_pixels: DEFAULT_MAX_PICTURE_PIXELS,
            max_body_bytes: 1 << 20,
            workers: std::thread::available_parallelism().map_or(1, usize::from),
            queue: 64,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Workers and the bounded line in front of them.
pub struct Queue {
    workers: Arc<Semaphore>,
    waiting: AtomicUsize,
    capacity: usize,
}

/// Why a request did not get a worker.
pub enum Refused {
    /// The line is full.
    Full,
    /// No worker came free in time.
    TimedOut,
}

impl Queue {
    pub fn new(limits: &Limits) -> Self {
        Queue {
            workers: Arc::new(Semaphore::new(limits.workers.max(1))),
            waiting: AtomicUsize::new(0),
            capacity: limits.queue,
        }
    }

    /// A worker, after waiting in line at most `patience`.
    pub async fn worker(&self, patience: Duration) -> Result<OwnedSemaphorePermit, Refused> {
        if let Ok(permit) = Arc::clone(&self.workers).try_acquire_owned() {
            return Ok(permit);
        }
        let place = self.waiting.fetch_add(1, Ordering::SeqCst);
        if place >= self.capacity {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Refused::Full);
        }
        let permit =
            tokio::time::timeout(patience, Arc::clone(&self.workers).acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        match permit {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; a closed one would mean shutting down.
            Ok(Err(_)) | Err(_) => Err(Refused::TimedOut),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(workers: usize, queue: usize) -> Queue {
        Queue::new(&Limits {
            workers,
            queue,
            ..Limits::default()
        })
    }

    /// With the one worker busy and the one place in line taken, the next request is turned
    /// away at once; when the worker comes free, the one in line gets it.
    #[tokio::test]
    async fn a_full_line_turns_requests_away_and_the_line_moves_on() {
        let queue = Arc::new(queue(1, 1));
        let busy = queue.worker(Duration::from_secs(5)).await.ok().unwrap();
        let waiting = {
            let queue = Arc::clone(&queue);
            tokio::spawn(async move { queue.worker(Duration::from_secs(5)).await.is_ok() })
        };
        // Until the waiting request has taken its place, a third may still find one.
        while queue.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(
            queue.worker(Duration::from_secs(5)).await,
            Err(Refused::Full)
        ));
        drop(busy);
        assert!(
            waiting.await.unwrap(),
            "the request in line gets the worker"
        );
        assert_eq!(queue.waiting.load(Ordering::SeqCst), 0);
    }

    /// A request that waits in line longer than its patience gives up, and leaves the line.
    #[tokio::test(start_paused = true)]
    async fn a_request_that_waits_too_long_times_out() {
        let queue = queue(1, 4);
        let _busy = queue.worker(Duration::from_secs(5)).await.ok().unwrap();
        assert!(matches!(
            queue.worker(Duration::from_secs(2)).await,
            Err(Refused::TimedOut)
        ));
        assert_eq!(queue.waiting.load(Ordering::SeqCst), 0);
    }

    /// Without a line (queue 0), a request that finds no free worker is turned away.
    #[tokio::test]
    async fn no_line_means_busy_is_full() {
        let queue = queue(2, 0);
        let _a = queue.worker(Duration::from_secs(5)).await.ok().unwrap();
        let _b = queue.worker(Duration::from_secs(5)).await.ok().unwrap();
        assert!(matches!(
            queue.worker(Duration::from_secs(5)).await,
            Err(Refused::Full)
        ));
    }
}
