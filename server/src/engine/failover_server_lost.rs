//! A double fault: the failover server acting for a dead recorder dies too. When another
//! failover server is free, that leg of the failover ends (the entry is finalized as
//! `superseded`, its period kept so that what it recorded is copied home later) and the
//! recorder's functionality moves on to it under a new entry, with the settings from the cache;
//! when none is, the leg stays open and says so, until one is free or its own comes back. A
//! failover server that comes back still acting for a recorder it no longer covers is told to
//! stop, so two servers never record as one recorder for longer than it takes to notice.

use super::failover::Cause;
use super::refusal::Refusal;
use super::{Engine, NOT_LEADER};
use crate::store::HealthRecord;
use app::model::{FailoverStatus, Server, ServerState};
use chrono::Utc;

/// The note (and alert) code of a failover server lost while it acted.
const LOST: &str = "failover_server_lost";

impl Engine {
    /// The failover server acting for `recorder` is gone (its connection dropped and could not
    /// be reopened, or it went silent for the window).
    pub(super) async fn failover_server_lost(
        &self,
        server: &Server,
        recorder: &Server,
    ) -> Result<(), Refusal> {
        let Some(epoch) = self.leadership.epoch() else {
            tracing::info!(failover_server = %server.name, "{NOT_LEADER}");
            return Ok(());
        };
        let fence = (epoch > 0).then_some(epoch);
        // 1. There is an active failover log entry with this failover server for the recorder.
        let Some(leg) = self.open_failover_for(recorder.id).await?.filter(|entry| {
            entry.status == FailoverStatus::Active
                && entry.failover_server.as_ref().is_some_and(|fs| fs.id == server.id)
        }) else {
            return Ok(());
        };
        // Asked again every interval while it lasts: once the loss is said and nowhere is free,
        // there is nothing to probe or write until a failover server is.
        let noted = self.store.notes(leg.id).await?.iter().any(|note| note.code == LOST);
        let nowhere_to_go = self.free_failover_servers(recorder).await?.is_empty();
        if noted && nowhere_to_go {
            return Ok(());
        }
        // 2. It is really gone: asked once more, right before acting.
        let at = self.keyring.endpoint(server).await;
        if let Ok(health) = self.recorders.health(&at, self.reprobe_timeout()).await
            && health.acting_for.as_deref() == Some(recorder.name.as_str())
        {
            tracing::info!(failover_server = %server.name, "failover server answered again; it goes on acting");
            return Ok(());
        }
        // 3. Somewhere to go: a free failover server for the recorder. Without one, the leg
        //    stays open (its failover server may come back and act again, and a repaired
        //    recorder can be restored), said loudly once.
        if nowhere_to_go {
            if !noted {
                let message = format!(
                    "{} stopped answering while it recorded for {}, and no other failover server is free: {}'s cameras are not recorded until {} is back or another failover server is free.",
                    server.name, recorder.name, recorder.name, server.name
                );
                tracing::error!(recorder = %recorder.name, failover_server = %server.name, "failover server lost while acting; no other is free");
                self.note(leg.id, "error", LOST, message.clone()).await;
                self.alert("error", LOST, message);
                self.publish_failover(leg.id).await;
            }
            return Ok(());
        }
        // 4. Its leg ends now.
        let lost_at = Utc::now();
        if !self.store.supersede_failover(leg.id, server.id, lost_at, fence).await? {
            return Ok(());
        }
        if !noted {
            let message = format!(
                "{} stopped answering while it recorded for {}: this leg of the failover ends here.",
                server.name, recorder.name
            );
            tracing::error!(recorder = %recorder.name, failover_server = %server.name, "failover server lost while acting");
            self.note(leg.id, "error", LOST, message.clone()).await;
            self.alert("error", LOST, message);
        }
        self.publish_failover(leg.id).await;
        self.publish_servers(&[server.id]).await;

        // 5. The recorder fails over again, to the next free failover server in order.
        let next = self.fail_over(recorder, Cause::FailoverServerLost { at: lost_at }).await?;
        match next {
            Some(entry) if entry.status == FailoverStatus::Active => {
                let to = entry.failover_server.as_ref().map_or("?", |fs| fs.name.as_str());
                self.note(
                    leg.id,
                    "info",
                    "failover_moved_on",
                    format!(
                        "{to} records for {} now, in failover log entry {}. What {} recorded until it was lost is copied to {} after failback, once {} is back.",
                        recorder.name, entry.id, server.name, recorder.name, server.name
                    ),
                )
                .await;
                self.note(
                    entry.id,
                    "info",
                    "failover_continues",
                    format!(
                        "This failover continues failover log entry {}, whose failover server {} was lost.",
                        leg.id, server.name
                    ),
                )
                .await;
                self.publish_failover(leg.id).await;
                self.publish_failover(entry.id).await;
            }
            // The next failover server was taken meanwhile, or refused (said by the refusal):
            // the recorder is covered by no one, so it counts as unreachable again and the
            // monitor retries its failover as soon as a failover server is free.
            _ => {
                let uncovered = HealthRecord {
                    server_id: recorder.id,
                    read_state: ServerState::Broken,
                    state: ServerState::Unreachable,
                    seen_at: None,
                };
                self.store.record_health(&[uncovered]).await?;
                self.publish_servers(&[recorder.id]).await;
            }
        }
        Ok(())
    }

    /// A failover server says it acts for `recorder_name`: when no open failover log entry has
    /// it do so (its leg was superseded while it was away), it is told to stop.
    pub(super) async fn acting_unclaimed(
        &self,
        server: &Server,
        recorder_name: &str,
    ) -> Result<(), Refusal> {
        if self.leadership.epoch().is_none() {
            return Ok(());
        }
        let claimed = self.store.open_failovers().await?.into_iter().any(|entry| {
            entry.recorder.name == recorder_name
                && entry.failover_server.as_ref().is_some_and(|fs| fs.id == server.id)
        });
        if claimed || self.drills.claims(server.id, recorder_name) {
            return Ok(());
        }
        let at = self.keyring.endpoint(server).await;
        if let Err(error) = self.recorders.stop_acting(&at, recorder_name).await {
            // Asked again only when it next comes back acting (the monitor reports changes).
            tracing::warn!(failover_server = %server.name, recorder = recorder_name, %error, "failover server acts for a recorder it no longer covers and could not be told to stop");
            return Ok(());
        }
        tracing::warn!(failover_server = %server.name, recorder = recorder_name, "failover server came back acting for a recorder it no longer covers; told to stop");
        self.alert(
            "warning",
            "failover_server_stopped",
            format!(
                "{} came back still recording for {recorder_name}, which another failover server covers now; it was told to stop. What it recorded stays on it.",
                server.name
            ),
        );
        self.publish_servers(&[server.id]).await;
        Ok(())
    }
}
