//! System change notifications: one broadcast channel, fanned out to every SSE client, and the
//! last few kept as sentences for the dashboard.

use app::model::SystemEvent;
use app::screens::{DashboardView, RecentEvent};
use chrono::Utc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::BroadcastStream;

/// Enough for a burst of changes while a slow client catches up; a client that falls further
/// behind is told to reload what it shows.
const BACKLOG: usize = 1024;

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<SystemEvent>,
    recent: Arc<Mutex<Vec<RecentEvent>>>,
    /// Events published so far: what was read before the count moved may be stale.
    changes: Arc<AtomicU64>,
    /// Where this manager's events go to the other managers (PostgreSQL only).
    relay: Arc<OnceLock<mpsc::UnboundedSender<SystemEvent>>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            sender: broadcast::channel(BACKLOG).0,
            recent: Arc::default(),
            changes: Arc::default(),
            relay: Arc::default(),
        }
    }
}

impl EventBus {
    /// A change made here: to this manager's clients and to the other managers.
    pub fn publish(&self, event: SystemEvent) {
        if let Some(relay) = self.relay.get() {
            let _ = relay.send(event.clone());
        }
        self.publish_here(event);
    }

    /// Sends what this manager publishes to `outbox` too (see [`crate::relay`]).
    pub fn relay_to(&self, outbox: mpsc::UnboundedSender<SystemEvent>) {
        let _ = self.relay.set(outbox);
    }

    /// A change another manager made (or `Resync`): to this manager's clients only.
    pub fn publish_here(&self, event: SystemEvent) {
        tracing::debug!(event = event.name(), "system change");
        if let Some(line) = RecentEvent::of(&event, Utc::now()) {
            let mut recent = self.recent.lock().unwrap_or_else(|poison| poison.into_inner());
            line.remember(&mut recent, DashboardView::RECENT);
        }
        self.changes.fetch_add(1, Ordering::SeqCst);
        // No subscriber is not an error: nobody is looking right now.
        let _ = self.sender.send(event);
    }

    /// Every event from now on; a subscriber that falls behind gets `Resync` and reloads.
    pub fn stream(&self) -> app::port::EventStream {
        use futures::StreamExt;
        BroadcastStream::new(self.sender.subscribe())
            .map(|change| change.unwrap_or(SystemEvent::Resync))
            .boxed()
    }

    /// How many changes were published so far; read it before reading what they change.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }

    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }

    /// The last events as sentences, newest first.
    pub fn recent(&self) -> Vec<RecentEvent> {
        self.recent.lock().unwrap_or_else(|poison| poison.into_inner()).iter().cloned().collect()
    }
}
