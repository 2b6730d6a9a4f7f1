//! System change notifications: one broadcast channel, fanned out to every SSE client, and the
//! last few kept as sentences for the dashboard.

use app::model::SystemEvent;
use app::screens::{DashboardView, RecentEvent};
use chrono::Utc;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

/// Enough for a burst of changes while a slow client catches up; a client that falls further
/// behind is told to reload what it shows.
const BACKLOG: usize = 1024;

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<SystemEvent>,
    recent: Arc<Mutex<Vec<RecentEvent>>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus { sender: broadcast::channel(BACKLOG).0, recent: Arc::default() }
    }
}

impl EventBus {
    pub fn publish(&self, event: SystemEvent) {
        tracing::debug!(event = event.name(), "system change");
        if let Some(line) = RecentEvent::of(&event, Utc::now()) {
            let mut recent = self.recent.lock().unwrap_or_else(|poison| poison.into_inner());
            line.remember(&mut recent, DashboardView::RECENT);
        }
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

    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }

    /// The last events as sentences, newest first.
    pub fn recent(&self) -> Vec<RecentEvent> {
        self.recent.lock().unwrap_or_else(|poison| poison.into_inner()).iter().cloned().collect()
    }
}
