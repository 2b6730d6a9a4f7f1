//! System change notifications: one broadcast channel, fanned out to every SSE client, and the
//! last few kept as sentences for the dashboard.

use app::model::{ServerState, SystemEvent};
use app::screens::RecentEvent;
use chrono::Utc;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

/// Enough for a burst of changes while a slow client catches up; a client that falls further
/// behind is told to reload what it shows.
const BACKLOG: usize = 1024;
/// How many sentences the dashboard's "last events" keeps.
const RECENT: usize = 30;

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<SystemEvent>,
    recent: Arc<Mutex<VecDeque<RecentEvent>>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus { sender: broadcast::channel(BACKLOG).0, recent: Arc::default() }
    }
}

impl EventBus {
    pub fn publish(&self, event: SystemEvent) {
        tracing::debug!(event = event.name(), "system change");
        if let Some(line) = sentence(&event) {
            let mut recent = self.recent.lock().unwrap_or_else(|poison| poison.into_inner());
            // A state seen again (e.g. another identical alert) is not news.
            if recent.front().is_none_or(|last| last.message != line.message) {
                recent.push_front(line);
                recent.truncate(RECENT);
            }
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

fn sentence(event: &SystemEvent) -> Option<RecentEvent> {
    let (level, message) = match event {
        SystemEvent::ServerChanged { server } => {
            let level = match server.state {
                ServerState::Unreachable | ServerState::Broken => "warning",
                _ => "info",
            };
            (level, format!("{} is {}", server.name, server.state.label().to_lowercase()))
        }
        SystemEvent::FailoverChanged { failover } => {
            let to = failover
                .failover_server
                .as_ref()
                .map(|server| format!(" to {}", server.name))
                .unwrap_or_default();
            let level = if failover.error.is_some() { "error" } else { "info" };
            (
                level,
                format!(
                    "Failover of {}{to}: {}",
                    failover.recorder.name,
                    failover.status.label().to_lowercase()
                ),
            )
        }
        SystemEvent::Alert { level, message, .. } => (level.as_str(), message.clone()),
        SystemEvent::ServerRemoved { .. } | SystemEvent::Resync => return None,
    };
    Some(RecentEvent { at: Utc::now(), level: level.to_owned(), message })
}
