//! System change notifications: one broadcast channel, fanned out to every SSE client.

use app::model::SystemEvent;
use tokio::sync::broadcast;

/// Enough for a burst of changes while a slow client catches up; a client that falls further
/// behind is told to reload what it shows.
const BACKLOG: usize = 1024;

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<SystemEvent>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus { sender: broadcast::channel(BACKLOG).0 }
    }
}

impl EventBus {
    pub fn publish(&self, event: SystemEvent) {
        tracing::debug!(event = event.name(), "system change");
        // No subscriber is not an error: nobody is looking right now.
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<SystemEvent> {
        self.sender.subscribe()
    }
}
