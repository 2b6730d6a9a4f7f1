//! Failback, manual and automatic, in the seed's order: "the same functionality as failover,
//! but in reverse order". Each check is a separate, named refusal.

use super::mid_step::Interruption;
use super::refusal::{Reason, Refusal};
use super::{Engine, NOT_LEADER, step_done};
use crate::settings_cache;
use app::failure::Failure;
use app::model::{
    CopyStatus, FailbackAnswer, Failover, FailoverFilter, FailoverStatus, SUPERSEDED, Server,
    ServerState,
};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// How long the repaired recorder may take to record again before the failover server stops.
const RECORDING_AGAIN_WITHIN: Duration = Duration::from_secs(15);

/// The note of an active failover whose recorder answers again.
const RECORDER_BACK: &str = "recorder_back";

/// What triggered a failback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Manual,
    Automatic,
    /// An operator's restore: the failover server is gone, the repaired recorder takes over.
    Restore,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Automatic => "automatic",
            Trigger::Restore => app::model::RESTORED,
        }
    }

    /// The trigger a failover log entry names (`failback_trigger`); manual when it names none.
    pub fn of_entry(entry: &Failover) -> Trigger {
        [Trigger::Automatic, Trigger::Restore]
            .into_iter()
            .find(|trigger| entry.failback_trigger.as_deref() == Some(trigger.as_str()))
            .unwrap_or(Trigger::Manual)
    }
}

fn refused(reason: Reason, message: impl Into<String>) -> Failure {
    Refusal::new(reason, message).into()
}

impl Engine {
    /// The failback process, for both triggers.
    pub(super) async fn fail_back(
        &self,
        id: i64,
        trigger: Trigger,
        by: &str,
    ) -> Result<FailbackAnswer, Failure> {
        // 1. There is a valid failover log entry and its failover state is correct.
        let (entry, recorder, server) = self.active_entry(id, "fail back").await?;
        // 2. The failover server is still acting as a normal recorder (for this recorder).
        if !self.acts_for(&server, &recorder).await {
            return Err(refused(
                Reason::FailoverServerWrongState,
                format!(
                    "{} is no longer acting for {}, so there is nothing to move back.",
                    server.name, recorder.name
                ),
            ));
        }
        // 3. The failed server is still in broken state, and back on the network at the same
        //    address.
        self.broken_and_back(&recorder).await?;
        // 4. Failover is enabled in the licence.
        if !self.store.licence().await?.is_some_and(|licence| licence.failover_enabled) {
            return Err(refused(Reason::NoLicense, "Failover is not enabled in the licence."));
        }
        // 5. No failback is running for the failed recorder.
        let running = self.store.open_failovers().await?.into_iter().any(|open| {
            open.recorder.id == recorder.id && open.status == FailoverStatus::FailingBack
        });
        if running {
            return Err(refused(
                Reason::FailbackInProgress,
                format!("Failback already in progress for {}.", recorder.name),
            ));
        }

        self.start_moving_back(&entry, &recorder, &server, trigger, by).await
    }

    /// Restore, the way out of a double fault: the failover server of an active failover is
    /// gone (so failback's check 2 refuses), and the repaired recorder is to record for itself
    /// again. Its checks, then the failback's steps without the failover server.
    pub(super) async fn restore(&self, id: i64, by: &str) -> Result<FailbackAnswer, Failure> {
        // 1. There is a valid failover log entry, and its failover is active.
        let (entry, recorder, server) = self.active_entry(id, "restore").await?;
        // 2. The failover server is gone: while it still records for the recorder, failback
        //    (which hands over without a gap) is the way back.
        if self.acts_for(&server, &recorder).await {
            return Err(refused(
                Reason::FailoverServerStillActing,
                format!(
                    "{} still records for {}: fail back instead, so that nothing is missed.",
                    server.name, recorder.name
                ),
            ));
        }
        // 3. The recorder is still broken, and repaired: back on the network.
        self.broken_and_back(&recorder).await?;
        self.start_moving_back(&entry, &recorder, &server, Trigger::Restore, by).await
    }

    /// Check 1 of failback and restore: a valid failover log entry whose failover is active,
    /// with its recorder and failover server still registered.
    async fn active_entry(
        &self,
        id: i64,
        action: &str,
    ) -> Result<(Failover, Server, Server), Failure> {
        let entry = self
            .store
            .failover(id)
            .await?
            .ok_or_else(|| Failure::not_found(format!("Failover log entry {id}")))?;
        match entry.status {
            FailoverStatus::Active => {}
            FailoverStatus::FailingBack => {
                return Err(refused(
                    Reason::FailbackInProgress,
                    "Failback already in progress for this failover.",
                ));
            }
            FailoverStatus::Finalized if entry.failback_finished_at.is_some() => {
                return Err(refused(
                    Reason::FailbackAlreadyPerformed,
                    "Failback has already been performed for this failover.",
                ));
            }
            _ => {
                return Err(refused(
                    Reason::FailoverNotPerformed,
                    format!("This failover was not performed, so there is nothing to {action}."),
                ));
            }
        }
        let (Some(recorder), Some(server)) =
            (self.store.server(entry.recorder.id).await?, self.failover_server_of(&entry).await?)
        else {
            return Err(refused(
                Reason::InvalidLogState,
                "A server of this failover log entry is no longer registered.",
            ));
        };
        Ok((entry, recorder, server))
    }

    /// Check 3 of failback and restore: the recorder is still in broken state, and the repaired
    /// server answers at its address.
    async fn broken_and_back(&self, recorder: &Server) -> Result<(), Failure> {
        if recorder.state != ServerState::Broken {
            return Err(refused(
                Reason::ServerWrongState,
                format!("{} is not in broken state.", recorder.name),
            ));
        }
        if let Err(error) = self
            .recorders
            .health(&self.keyring.endpoint(recorder).await, self.check_timeout())
            .await
        {
            return Err(refused(
                Reason::NoRecorderConnection,
                format!(
                    "{} does not answer at {} ({error}). Set the repaired server to the network with the same address first.",
                    recorder.name, recorder.address
                ),
            ));
        }
        Ok(())
    }

    /// Past the checks: the log says the failback (or restore) started, then its steps run; a
    /// step that fails rolls it back and the failover goes on.
    async fn start_moving_back(
        &self,
        entry: &Failover,
        recorder: &Server,
        server: &Server,
        trigger: Trigger,
        by: &str,
    ) -> Result<FailbackAnswer, Failure> {
        let id = entry.id;
        // Update the failover log that failback has started (only one caller gets past this).
        let started_at = Utc::now();
        // An automatic failback is the leader's own decision: only its current term may start one.
        let fence = match trigger {
            Trigger::Manual | Trigger::Restore => None,
            Trigger::Automatic => match self.leadership.epoch() {
                Some(epoch) => (epoch > 0).then_some(epoch),
                None => return Err(refused(Reason::NotLeader, NOT_LEADER)),
            },
        };
        if !self.store.begin_failback(id, started_at, trigger.as_str(), by, fence).await? {
            return Err(match self.store.failover(id).await?.map(|entry| entry.status) {
                Some(FailoverStatus::Finalized) => refused(
                    Reason::FailbackAlreadyPerformed,
                    "Failback has already been performed for this failover.",
                ),
                _ => refused(
                    Reason::FailbackInProgress,
                    "Failback already in progress for this failover.",
                ),
            });
        }
        let (code, message) = match trigger {
            Trigger::Manual => (
                "failback_started",
                format!("Failback of {} from {} started by {by}.", recorder.name, server.name),
            ),
            Trigger::Automatic => (
                "failback_started",
                format!(
                    "Failback of {} from {} started automatically.",
                    recorder.name, server.name
                ),
            ),
            Trigger::Restore => (
                "restore_started",
                format!(
                    "Restore of {} started by {by}: {} is gone, so {} records for itself again.",
                    recorder.name, server.name, recorder.name
                ),
            ),
        };
        self.note(id, "info", code, message).await;
        self.publish_failover(id).await;
        step_done("failback:started").await;

        match self.move_back(id, recorder, server, trigger).await {
            Ok(finished_at) => Ok(FailbackAnswer {
                started_at,
                finished_at,
                duration_ms: (finished_at - started_at).num_milliseconds(),
            }),
            Err(refusal) => {
                self.undo_failback(id, &refusal).await;
                Err(refusal.into())
            }
        }
    }

    /// The steps after the log says failback started; idempotent, so recovery can run them again.
    async fn move_back(
        &self,
        id: i64,
        recorder: &Server,
        server: &Server,
        trigger: Trigger,
    ) -> Result<DateTime<Utc>, Refusal> {
        // Get the failover server's recorder settings, configuration files, masks and schedules
        // from the recorder settings cache (with the changes made during the failover period,
        // up to this very moment: the cache is refreshed from the failover server first).
        self.refresh_cache_from(server, recorder).await;
        let settings = self.store.cached_settings(recorder.id).await?.ok_or_else(|| {
            Refusal::new(
                Reason::NoRecorderSettings,
                format!("No settings of {} are cached.", recorder.name),
            )
        })?;
        // Set the failed recorder's settings.
        self.recorders
            .replace_settings(&self.keyring.endpoint(recorder).await, &settings.bundle)
            .await
            .map_err(|error| {
                Refusal::new(
                    Reason::SettingsSavingFailed,
                    format!("{} did not take its settings back: {error}", recorder.name),
                )
            })?;
        step_done("failback:settings_set").await;
        // No recording gap: the failover server stops only once the recorder records again.
        self.wait_until_recording(recorder).await?;
        if self.acts_for(server, recorder).await
            && let Err(error) = self
                .recorders
                .stop_acting(&self.keyring.endpoint(server).await, &recorder.name)
                .await
        {
            return Err(Refusal::new(
                Reason::NoFailoverServerConnection,
                format!(
                    "{} could not be told to stop acting for {}: {error}",
                    server.name, recorder.name
                ),
            ));
        }
        step_done("failback:failover_server_stopped").await;
        // Mark the failover server a failover server again and the recorder ok; log it.
        let finished_at = Utc::now();
        if !self.store.complete_failback(id, recorder.id, server.id, finished_at).await? {
            return Err(Refusal::new(
                Reason::InvalidLogState,
                "The entry was no longer failing back.",
            ));
        }
        let (code, message) = match trigger {
            Trigger::Restore => (
                "restored",
                format!(
                    "Restored: {} records for itself again. What {} recorded for it is copied once {} is back.",
                    recorder.name, server.name, server.name
                ),
            ),
            _ => (
                "failback_performed",
                format!(
                    "Failback performed: {} records for itself again; {} stands by.",
                    recorder.name, server.name
                ),
            ),
        };
        tracing::info!(recorder = %recorder.name, failover_server = %server.name, "{code}");
        self.note(id, "info", code, message.clone()).await;
        // Send a system change notification to every client.
        let alert = if trigger == Trigger::Restore { "restore_ready" } else { "failback_ready" };
        self.alert("info", alert, message);
        self.publish_servers(&[recorder.id, server.id]).await;
        self.publish_failover(id).await;
        // Queue material copying when the server's setting says so: this failover period's,
        // and those of earlier legs of the same outage whose failover server was lost (their
        // material waits on that server until it is back).
        if recorder.copy_after_failback {
            let legs = self.uncopied_legs(recorder.id).await;
            for entry in self.store.failover(id).await.ok().flatten().into_iter().chain(legs) {
                if let Err(failure) = self.queue_material_copy(&entry).await {
                    tracing::warn!(
                        failover = entry.id,
                        "material copying not queued: {}",
                        failure.message
                    );
                }
            }
        }
        Ok(finished_at)
    }

    /// The recorder's legs closed as superseded whose material was not copied yet.
    async fn uncopied_legs(&self, recorder_id: i64) -> Vec<Failover> {
        let filter = FailoverFilter {
            recorder_id: Some(recorder_id),
            status: Some(FailoverStatus::Finalized),
            limit: Some(100),
            ..FailoverFilter::default()
        };
        match self.store.failovers(&filter).await {
            Ok(entries) => entries
                .into_iter()
                .filter(|entry| {
                    entry.failback_trigger.as_deref() == Some(SUPERSEDED)
                        && entry.copy.status == CopyStatus::NotStarted
                })
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "earlier legs of the failover not found; copy them by hand");
                Vec::new()
            }
        }
    }

    async fn wait_until_recording(&self, recorder: &Server) -> Result<(), Refusal> {
        let deadline = tokio::time::Instant::now() + RECORDING_AGAIN_WITHIN;
        loop {
            let health = self
                .recorders
                .health(&self.keyring.endpoint(recorder).await, self.check_timeout())
                .await;
            match health {
                Ok(health) if health.recording => return Ok(()),
                _ if tokio::time::Instant::now() >= deadline => {
                    return Err(Refusal::new(
                        Reason::NoRecorderConnection,
                        format!(
                            "{} did not start recording again within {RECORDING_AGAIN_WITHIN:?}; the failover server goes on recording.",
                            recorder.name
                        ),
                    ));
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    async fn refresh_cache_from(&self, server: &Server, recorder: &Server) {
        if !self.acts_for(server, recorder).await {
            return;
        }
        let from = self.keyring.endpoint(server).await;
        if let Err(error) =
            settings_cache::refresh(&self.store, self.recorders.as_ref(), &from, recorder.id).await
        {
            tracing::warn!(%error, "the settings cache was not refreshed before failback");
        }
    }

    async fn acts_for(&self, server: &Server, recorder: &Server) -> bool {
        let health =
            self.recorders.health(&self.keyring.endpoint(server).await, self.check_timeout()).await;
        health.ok().and_then(|health| health.acting_for).as_deref() == Some(recorder.name.as_str())
    }

    /// The failback did not complete: the failover goes on (entry active, recorder broken, the
    /// failover server recording for it, again if it had already stopped), with the reason.
    async fn undo_failback(&self, id: i64, refusal: &Refusal) {
        tracing::warn!(
            failover = id,
            code = refusal.code(),
            "failback rolled back: {}",
            refusal.message
        );
        if let Err(error) = self.store.rollback_failback(id).await {
            tracing::error!(%error, failover = id, "cannot roll the failback back");
        }
        if let Ok(Some(entry)) = self.store.failover(id).await
            && let (Ok(Some(recorder)), Ok(Some(server))) =
                (self.store.server(entry.recorder.id).await, self.failover_server_of(&entry).await)
            && !self.acts_for(&server, &recorder).await
            && let Ok(Some(settings)) = self.store.cached_settings(recorder.id).await
            && let Err(error) = self
                .recorders
                .act_for(&self.keyring.endpoint(&server).await, &recorder.name, &settings.bundle)
                .await
        {
            tracing::error!(%error, server = %server.name, "cannot make the failover server act again");
        }
        self.note(
            id,
            "error",
            refusal.code(),
            format!("Failback did not complete: {} The failover goes on.", refusal.message),
        )
        .await;
        self.alert("error", refusal.code(), refusal.message.clone());
        self.publish_failover(id).await;
    }

    async fn failover_server_of(
        &self,
        entry: &Failover,
    ) -> Result<Option<Server>, crate::store::StoreError> {
        match &entry.failover_server {
            Some(server) => Ok(self.store.server(server.id).await?),
            None => Ok(None),
        }
    }

    /// Automatic failback for a broken recorder that has answered for the whole hold-down
    /// period: the newest entry whose failover was performed and whose failback was neither
    /// performed nor running. (The database allows only one open entry per recorder, so older
    /// ones cannot be left open to close alongside it.)
    pub(super) async fn automatic_failback(
        &self,
        recorder: &Server,
    ) -> Result<Option<FailbackAnswer>, Failure> {
        if !recorder.auto_failback || !recorder.failover_enabled || recorder.maintenance_mode {
            return Ok(None);
        }
        let newest = self
            .store
            .open_failovers()
            .await?
            .into_iter()
            .filter(|entry| {
                entry.recorder.id == recorder.id && entry.status == FailoverStatus::Active
            })
            .max_by_key(|entry| entry.id);
        let Some(entry) = newest else { return Ok(None) };
        let answer = self.fail_back(entry.id, Trigger::Automatic, "automatic").await?;
        Ok(Some(answer))
    }

    /// A broken recorder answers again: its active entry says so, once, and whether it recorded
    /// meanwhile (then it was cut off from the manager, not down: both it and the failover
    /// server recorded, and failback's copy merges the two without duplicates). Returns the
    /// entry noted, if one was.
    pub(super) async fn note_recorder_back(
        &self,
        recorder: &Server,
    ) -> Result<Option<i64>, Failure> {
        let Some(entry) = self.open_failover_for(recorder.id).await? else { return Ok(None) };
        if entry.status != FailoverStatus::Active
            || self.store.notes(entry.id).await?.iter().any(|note| note.code == RECORDER_BACK)
        {
            return Ok(Some(entry.id));
        }
        let at = self.keyring.endpoint(recorder).await;
        let Ok(health) = self.recorders.health(&at, self.check_timeout()).await else {
            return Ok(None);
        };
        let message = if health.recording {
            format!(
                "{} is back on the network and recorded meanwhile: it was cut off from the manager, not down. What the failover server recorded is copied in beside its own recordings after failback, without duplicates.",
                recorder.name
            )
        } else {
            format!("{} is back on the network: failback is possible.", recorder.name)
        };
        self.note(entry.id, "info", RECORDER_BACK, message).await;
        self.publish_failover(entry.id).await;
        Ok(Some(entry.id))
    }

    /// An entry left `failing_back`: completed when the recorder is back, and rolled back (the
    /// failover goes on) when it is not.
    pub(super) async fn recover_failback(
        &self,
        entry: &Failover,
        why: Interruption,
    ) -> Result<(), Refusal> {
        let (Some(recorder), Some(server)) =
            (self.store.server(entry.recorder.id).await?, self.failover_server_of(entry).await?)
        else {
            return Ok(());
        };
        let message = format!("{} during this failback; it is being finished.", why.sentence());
        self.note(entry.id, "warning", "recovered", message).await;
        let trigger = Trigger::of_entry(entry);
        if let Err(refusal) = self.move_back(entry.id, &recorder, &server, trigger).await {
            self.undo_failback(entry.id, &refusal).await;
        }
        Ok(())
    }
}
