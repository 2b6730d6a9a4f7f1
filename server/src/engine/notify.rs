//! Telling people: notes on a failover log entry, system change notifications to every client,
//! and alerts sent once while a situation lasts.

use super::Engine;
use super::refusal::Reason;
use app::model::{Failover, FailoverNote, Server, SystemEvent};
use chrono::Utc;

impl Engine {
    pub(super) async fn note(&self, failover_id: i64, level: &str, code: &str, message: String) {
        let note = FailoverNote {
            at: Utc::now(),
            level: level.to_owned(),
            code: code.to_owned(),
            message,
        };
        if let Err(error) = self.store.add_note(failover_id, &note).await {
            tracing::error!(%error, failover_id, "cannot write a failover note");
        }
    }

    /// Sends the entry to every client; returns it.
    pub(super) async fn publish_failover(&self, id: i64) -> Option<Failover> {
        match self.failover_with_copy(id).await {
            Ok(Some(failover)) => {
                self.events.publish(SystemEvent::FailoverChanged { failover: failover.clone() });
                Some(failover)
            }
            Ok(None) => None,
            Err(error) => {
                tracing::error!(%error, id, "cannot read a failover entry");
                None
            }
        }
    }

    pub(super) async fn publish_servers(&self, ids: &[i64]) {
        for id in ids {
            match self.store.server(*id).await {
                Ok(Some(server)) => self.events.publish(SystemEvent::ServerChanged { server }),
                Ok(None) => {}
                Err(error) => tracing::error!(%error, id, "cannot read a server to announce it"),
            }
        }
    }

    pub(super) fn alert(&self, level: &str, code: &str, message: String) {
        self.events.publish(SystemEvent::Alert {
            level: level.to_owned(),
            code: code.to_owned(),
            message,
        });
    }

    /// A warning announced once per recorder outage, not on every monitor round.
    pub(super) fn warn_once(&self, recorder: &Server, reason: Reason, message: &str) {
        let key = (recorder.id, reason.code(), recorder.last_seen_at);
        let mut warned = self.warned.lock().unwrap_or_else(|poison| poison.into_inner());
        if warned.insert(key) {
            tracing::warn!(recorder = %recorder.name, code = reason.code(), "{message}");
            self.alert("warning", reason.code(), format!("{}: {message}", recorder.name));
        }
    }
}
