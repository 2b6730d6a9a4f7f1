//! Failback, manual and automatic, in the seed's order: "the same functionality as failover,
//! but in reverse order". Each check is a separate, named refusal.

use super::refusal::{Reason, Refusal};
use super::{Engine, crash_point};
use crate::settings_cache;
use app::failure::Failure;
use app::model::{FailbackAnswer, Failover, FailoverStatus, Server, ServerState};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// How long the repaired recorder may take to record again before the failover server stops.
const RECORDING_AGAIN_WITHIN: Duration = Duration::from_secs(15);

/// What triggered a failback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Manual,
    Automatic,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Automatic => "automatic",
        }
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
        let entry = self
            .store
            .failover(id)
            .await?
            .ok_or_else(|| Failure::not_found(format!("Failover log entry {id}")))?;
        // 1. There is a valid failover log entry and its failover state is correct.
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
                    "This failover was not performed, so there is nothing to fail back.",
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
        // 3. The failed server is still in broken state.
        if recorder.state != ServerState::Broken {
            return Err(refused(
                Reason::ServerWrongState,
                format!("{} is not in broken state.", recorder.name),
            ));
        }
        // The repaired server is back on the network at the same address.
        if let Err(error) = self
            .recorders
            .health(&self.keyring.endpoint(&recorder).await, self.check_timeout())
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

        // Update the failover log that failback has started (only one caller gets past this).
        let started_at = Utc::now();
        if !self.store.begin_failback(id, started_at, trigger.as_str(), by).await? {
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
        let who = match trigger {
            Trigger::Manual => format!("by {by}"),
            Trigger::Automatic => "automatically".to_owned(),
        };
        self.note(
            id,
            "info",
            "failback_started",
            format!("Failback of {} from {} started {who}.", recorder.name, server.name),
        )
        .await;
        self.publish_failover(id).await;
        crash_point("failback:started");

        match self.move_back(id, &recorder, &server).await {
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
        crash_point("failback:settings_set");
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
        crash_point("failback:failover_server_stopped");
        // Mark the failover server a failover server again and the recorder ok; log it.
        let finished_at = Utc::now();
        if !self.store.complete_failback(id, recorder.id, server.id, finished_at).await? {
            return Err(Refusal::new(
                Reason::InvalidLogState,
                "The entry was no longer failing back.",
            ));
        }
        let message = format!(
            "Failback performed: {} records for itself again; {} stands by.",
            recorder.name, server.name
        );
        tracing::info!(recorder = %recorder.name, failover_server = %server.name, "failback performed");
        self.note(id, "info", "failback_performed", message.clone()).await;
        // Send a system change notification to every client.
        self.alert("info", "failback_ready", message);
        self.publish_servers(&[recorder.id, server.id]).await;
        self.publish_failover(id).await;
        // Queue material copying when the server's setting says so.
        if recorder.copy_after_failback
            && let Ok(Some(entry)) = self.store.failover(id).await
            && let Err(failure) = self.queue_material_copy(&entry).await
        {
            tracing::warn!(failover = id, "material copying not queued: {}", failure.message);
        }
        Ok(finished_at)
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

    /// On start: entries left `failing_back` are completed when the recorder is back, and rolled
    /// back (the failover goes on) when it is not.
    pub(super) async fn recover_failbacks(&self) -> Result<(), Refusal> {
        for entry in self.store.open_failovers().await? {
            if entry.status != FailoverStatus::FailingBack {
                continue;
            }
            let (Some(recorder), Some(server)) = (
                self.store.server(entry.recorder.id).await?,
                self.failover_server_of(&entry).await?,
            ) else {
                continue;
            };
            self.note(
                entry.id,
                "warning",
                "recovered",
                "The manager restarted during this failback; it is being finished.".into(),
            )
            .await;
            if let Err(refusal) = self.move_back(entry.id, &recorder, &server).await {
                self.undo_failback(entry.id, &refusal).await;
            }
        }
        Ok(())
    }
}
