//! The failover log's reads, kept for the next request of the same page until anything changes.
//! A control room reloads the same page and filters far more often than the log is written, and
//! at 10,000 entries reading it again was most of the page's time.

use app::model::{Failover, FailoverFilter, Server};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Pages kept at once: the filters a handful of people look at.
const KEEP: usize = 16;
/// "Last seen" is written without a change event (it is flushed every few seconds), and the
/// failback button's reason depends on it: no read is used for longer than this.
pub(super) const FRESH: Duration = Duration::from_secs(1);

/// What the failover log page reads from the store for one filter.
#[derive(Debug)]
pub(super) struct LogReads {
    pub servers: Vec<Server>,
    pub active: Vec<Failover>,
    pub finalized: Vec<Failover>,
    pub finalized_total: i64,
}

struct Kept {
    filter: FailoverFilter,
    /// The event bus's count of changes taken before the reads began.
    changes: u64,
    read_at: Instant,
    reads: Arc<LogReads>,
}

#[derive(Default)]
pub(super) struct LogCache {
    kept: Mutex<VecDeque<Kept>>,
}

impl LogCache {
    /// The reads for `filter`, if they were made after the `changes`-th change and are fresh.
    pub fn get(
        &self,
        filter: &FailoverFilter,
        changes: u64,
        now: Instant,
    ) -> Option<Arc<LogReads>> {
        let kept = self.kept.lock().unwrap_or_else(|poison| poison.into_inner());
        kept.iter()
            .find(|kept| {
                kept.filter == *filter
                    && kept.changes == changes
                    && now.saturating_duration_since(kept.read_at) < FRESH
            })
            .map(|kept| kept.reads.clone())
    }

    /// Keeps reads that began when the bus had counted `changes` (counted before reading, so a
    /// change during the reads makes them stale at once).
    pub fn put(
        &self,
        filter: FailoverFilter,
        changes: u64,
        read_at: Instant,
        reads: Arc<LogReads>,
    ) {
        let mut kept = self.kept.lock().unwrap_or_else(|poison| poison.into_inner());
        kept.retain(|kept| kept.filter != filter && kept.changes >= changes);
        if kept.len() >= KEEP {
            kept.pop_front();
        }
        kept.push_back(Kept { filter, changes, read_at, reads });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(total: i64) -> Arc<LogReads> {
        Arc::new(LogReads {
            servers: Vec::new(),
            active: Vec::new(),
            finalized: Vec::new(),
            finalized_total: total,
        })
    }

    fn search(text: &str) -> FailoverFilter {
        FailoverFilter { search: Some(text.into()), ..FailoverFilter::default() }
    }

    #[test]
    fn reads_are_kept_per_filter_until_a_change_or_a_second() {
        let cache = LogCache::default();
        let start = Instant::now();
        cache.put(search("a"), 7, start, reads(1));
        cache.put(search("b"), 7, start, reads(2));
        let total = |filter: &FailoverFilter, changes, at| {
            cache.get(filter, changes, at).map(|reads| reads.finalized_total)
        };
        assert_eq!(total(&search("a"), 7, start), Some(1));
        assert_eq!(total(&search("b"), 7, start + Duration::from_millis(900)), Some(2));
        assert_eq!(total(&search("c"), 7, start), None, "another filter was never read");
        assert_eq!(total(&search("a"), 8, start), None, "a change since the reads");
        assert_eq!(total(&search("a"), 7, start + FRESH), None, "older than a second");
    }

    #[test]
    fn a_read_after_a_change_replaces_every_stale_one() {
        let cache = LogCache::default();
        let start = Instant::now();
        cache.put(search("a"), 1, start, reads(1));
        cache.put(search("b"), 1, start, reads(2));
        cache.put(search("a"), 2, start, reads(3));
        assert_eq!(cache.get(&search("a"), 2, start).map(|reads| reads.finalized_total), Some(3));
        assert_eq!(cache.kept.lock().map(|kept| kept.len()).ok(), Some(1));
        for n in 0..(KEEP + 4) {
            cache.put(search(&n.to_string()), 2, start, reads(n as i64));
        }
        assert_eq!(cache.kept.lock().map(|kept| kept.len()).ok(), Some(KEEP));
        assert!(cache.get(&search("0"), 2, start).is_none(), "the oldest page went first");
    }
}
