//! Warnings for hot paths: at most one per interval, or once per process.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Lets a warning through at most once per interval and counts the ones it held back.
#[derive(Debug)]
pub struct RateLimited {
    interval: Duration,
    last: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

impl RateLimited {
    /// At most one warning per `interval`.
    pub const fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: Mutex::new(None),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(n)` when the caller should log now (`n` = warnings suppressed since the last one),
    /// `None` when it should stay quiet. Never blocks for long; a poisoned lock means "log".
    pub fn check(&self) -> Option<u64> {
        let now = Instant::now();
        let mut last = match self.last.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if last.is_some_and(|t| now.duration_since(t) < self.interval) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *last = Some(now);
        Some(self.suppressed.swap(0, Ordering::Relaxed))
    }
}

/// Lets a warning through once per process.
#[derive(Debug, Default)]
pub struct FireOnce(AtomicBool);

impl FireOnce {
    /// A fresh latch.
    pub const fn new() -> Self {
        Self(AtomicBool::new(false))
    }

    /// True the first time only.
    pub fn first(&self) -> bool {
        !self.0.swap(true, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limited_lets_one_through_per_interval_and_counts_the_rest() {
        let w = RateLimited::new(Duration::from_secs(3600));
        assert_eq!(w.check(), Some(0));
        assert_eq!(w.check(), None);
        assert_eq!(w.check(), None);
        let fast = RateLimited::new(Duration::ZERO);
        assert_eq!(fast.check(), Some(0));
        assert_eq!(fast.check(), Some(0));
    }

    #[test]
    fn fire_once_fires_once() {
        let f = FireOnce::new();
        assert!(f.first());
        assert!(!f.first());
    }
}
