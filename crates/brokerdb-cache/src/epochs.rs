//! Local generations: what makes an L1 entry stale without asking Redis.
//!
//! Every (scope, resource) pair maps to one of a fixed number of counters (stripes; several
//! pairs may share one, which only costs extra misses). An L1 entry remembers the counter's
//! value read *before* its load started; it is fresh while the counter still has that value.
//! An invalidation (local, or a message from another instance) increments the counter, so an
//! entry loaded before it — even one whose load finishes after it — is stale from then on.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::keys::{Resource, Scope};

const STRIPES: usize = 1024;

/// The counters.
#[derive(Debug)]
pub(crate) struct Epochs {
    stripes: Box<[AtomicU64]>,
}

impl Epochs {
    pub(crate) fn new() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The stripe of `(scope, resource)`.
    pub(crate) fn stripe(scope: Scope<'_>, resource: Resource) -> usize {
        let mut h = DefaultHasher::new();
        scope.hash(&mut h);
        resource.hash(&mut h);
        // The modulo keeps the value below STRIPES, which fits usize.
        usize::try_from(h.finish() % STRIPES as u64).unwrap_or(0)
    }

    /// The stripe's current value.
    pub(crate) fn current(&self, stripe: usize) -> u64 {
        self.stripes
            .get(stripe)
            .map_or(0, |s| s.load(Ordering::Acquire))
    }

    /// Makes every entry of `(scope, resource)` loaded so far stale.
    pub(crate) fn bump(&self, scope: Scope<'_>, resource: Resource) {
        if let Some(s) = self.stripes.get(Self::stripe(scope, resource)) {
            s.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Makes every entry loaded so far stale.
    pub(crate) fn bump_all(&self) {
        for s in self.stripes.iter() {
            s.fetch_add(1, Ordering::AcqRel);
        }
    }
}
