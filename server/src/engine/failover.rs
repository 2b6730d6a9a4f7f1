//! Failover: a dead recorder's cameras and settings move to a failover server. The mirror of the
//! seed's failback process: the checks first, each refusal recorded in the failover log with its
//! reason code, then the steps, each state change one transaction.

use super::mid_step::Interruption;
use super::refusal::{Reason, Refusal};
use super::{Engine, NOT_LEADER, step_done};
use crate::store::StoreError;
use app::model::{Failover, FailoverStatus, Server, ServerKind, ServerState};
use chrono::{DateTime, Utc};

fn no_failover_server(recorder: &Server) -> Refusal {
    Refusal::new(
        Reason::NoFailoverServer,
        format!(
            "No failover server is free to take over {}; failover is retried as soon as one is.",
            recorder.name
        ),
    )
}

const ALREADY_RUNNING: &str = "Skipped, failover already running.";

/// Why a recorder is failed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// It went silent for the detection window: it is re-probed first.
    Silent,
    /// The failover server acting for it was lost at `at`: the recorder is broken and records
    /// nothing, whether it answers or not, so it is not re-probed.
    FailoverServerLost { at: DateTime<Utc> },
}

impl Engine {
    /// Fails the recorder over if it still needs it. Called for a recorder that has missed its
    /// health checks for the whole detection window, or whose failover server was lost.
    pub(super) async fn fail_over(
        &self,
        recorder: &Server,
        cause: Cause,
    ) -> Result<Option<Failover>, Refusal> {
        // Only the leader fails over, and only while its term holds: every entry it writes
        // (a refusal too) is checked again against the term in the statement that writes it.
        let Some(epoch) = self.leadership.epoch() else {
            tracing::info!(recorder = %recorder.name, "{NOT_LEADER}");
            return Ok(None);
        };
        let fence = (epoch > 0).then_some(epoch);
        // A refusal is recorded once for the situation: the recorder's outage, or the loss of
        // its failover server.
        let refuse = |refusal: Refusal| {
            let since = match cause {
                Cause::Silent => recorder.last_seen_at.unwrap_or(DateTime::<Utc>::MIN_UTC),
                Cause::FailoverServerLost { at } => at,
            };
            self.refuse(recorder, refusal, fence, since)
        };
        // 1. Failover is enabled in the licence (and a licensed failover server is free).
        if let Err(refusal) = self.licence_allows_failover().await? {
            return refuse(refusal).await;
        }
        // 2. The recorder is still unreachable (checked again right before acting).
        let at = self.keyring.endpoint(recorder).await;
        if cause == Cause::Silent
            && self.recorders.health(&at, self.reprobe_timeout()).await.is_ok()
        {
            tracing::info!(recorder = %recorder.name, "recorder answered again; no failover");
            return Ok(None);
        }
        // 3. No failover is already running or active for it.
        if self.open_failover_for(recorder.id).await?.is_some() {
            self.warn_once(recorder, Reason::FailoverAlreadyRunning, ALREADY_RUNNING);
            return Ok(None);
        }
        // A real failure wins over a drill: one that could hold the failover server, or of
        // this recorder, stops first.
        self.cancel_drills_for(recorder).await;
        // 4. A failover server is available: healthy, idle, allowed for this recorder, first
        //    by the group's order.
        let candidates = self.free_failover_servers(recorder).await?;
        if candidates.is_empty() {
            return refuse(no_failover_server(recorder)).await;
        }
        for server in candidates {
            match self.store.begin_failover(recorder.id, server.id, Utc::now(), fence).await {
                Ok(id) => return self.perform_failover(id, recorder, &server).await.map(Some),
                // Taken by a concurrent failover meanwhile: the next one in order, unless it is
                // this recorder that got its failover elsewhere.
                Err(StoreError::AlreadyOpen) => {
                    if self.open_failover_for(recorder.id).await?.is_some() {
                        self.warn_once(recorder, Reason::FailoverAlreadyRunning, ALREADY_RUNNING);
                        return Ok(None);
                    }
                }
                Err(StoreError::NotLeader) => {
                    tracing::info!(recorder = %recorder.name, "{NOT_LEADER}");
                    return Ok(None);
                }
                Err(error) => return Err(error.into()),
            }
        }
        // Every candidate was taken by a concurrent failover meanwhile.
        refuse(no_failover_server(recorder)).await
    }

    /// The steps, once the entry is `failing_over` and holds the failover server.
    async fn perform_failover(
        &self,
        id: i64,
        recorder: &Server,
        server: &Server,
    ) -> Result<Failover, Refusal> {
        self.note(
            id,
            "info",
            "failover_started",
            format!("Failover of {} to {} started.", recorder.name, server.name),
        )
        .await;
        self.publish_failover(id).await;
        step_done("failover:started").await;

        // Take the recorder's settings from the recorder settings cache.
        let Some(settings) = self.store.cached_settings(recorder.id).await? else {
            let refusal = Refusal::new(
                Reason::NoRecorderSettings,
                format!(
                    "No settings of {} were ever read, so its cameras cannot be moved.",
                    recorder.name
                ),
            );
            return self.abandon(id, FailoverStatus::FailingOver, refusal).await;
        };
        step_done("failover:settings_taken").await;

        // Tell the failover server to act for the recorder with those settings.
        if let Err(error) = self
            .recorders
            .act_for(&self.keyring.endpoint(server).await, &recorder.name, &settings.bundle)
            .await
        {
            let refusal = Refusal::new(
                Reason::NoFailoverServerConnection,
                format!("{} could not take over {}: {error}", server.name, recorder.name),
            );
            return self.abandon(id, FailoverStatus::FailingOver, refusal).await;
        }
        step_done("failover:acting").await;

        // Mark the recorder broken and the failover server acting; the entry becomes active.
        self.finish_failover(id, recorder, server).await
    }

    async fn finish_failover(
        &self,
        id: i64,
        recorder: &Server,
        server: &Server,
    ) -> Result<Failover, Refusal> {
        if !self.store.complete_failover(id, recorder.id, server.id, Utc::now()).await? {
            let refusal =
                Refusal::new(Reason::InvalidLogState, "The entry was no longer failing over.");
            return self.abandon(id, FailoverStatus::FailingOver, refusal).await;
        }
        let message = format!("Failover performed: {} records for {}.", server.name, recorder.name);
        tracing::info!(recorder = %recorder.name, failover_server = %server.name, "failover performed");
        self.note(id, "info", "failover_performed", message.clone()).await;
        self.alert("info", "failover_ready", message);
        self.publish_servers(&[recorder.id, server.id]).await;
        self.publish_failover(id).await.ok_or_else(|| Refusal::internal(&"the entry vanished"))
    }

    /// The entry is `failed` with the reason, its servers released, everyone told.
    async fn abandon(
        &self,
        id: i64,
        from: FailoverStatus,
        refusal: Refusal,
    ) -> Result<Failover, Refusal> {
        tracing::warn!(failover = id, code = refusal.code(), "{}", refusal.message);
        self.store.abandon_failover(id, from, refusal.code(), &refusal.message).await?;
        self.note(id, "error", refusal.code(), refusal.message.clone()).await;
        self.alert("error", refusal.code(), refusal.message);
        if let Some(entry) = self.store.failover(id).await? {
            if let Some(server_ref) = &entry.failover_server {
                self.release_failover_server(server_ref.id, &entry.recorder.name).await;
            }
            let servers: Vec<i64> = std::iter::once(entry.recorder.id)
                .chain(entry.failover_server.iter().map(|s| s.id))
                .collect();
            self.publish_servers(&servers).await;
        }
        self.publish_failover(id).await.ok_or_else(|| Refusal::internal(&"the entry vanished"))
    }

    /// A refusal before any server was touched: a `failed` entry with the reason, recorded and
    /// announced once while the same situation lasts (since `situation_began`).
    async fn refuse(
        &self,
        recorder: &Server,
        refusal: Refusal,
        fence: Option<i64>,
        situation_began: DateTime<Utc>,
    ) -> Result<Option<Failover>, Refusal> {
        if self.store.last_refusal_since(recorder.id, situation_began).await?.as_deref()
            == Some(refusal.code())
        {
            return Ok(None);
        }
        let id = match self
            .store
            .record_refusal(recorder.id, None, Utc::now(), refusal.code(), &refusal.message, fence)
            .await
        {
            Ok(id) => id,
            Err(StoreError::NotLeader) => {
                tracing::info!(recorder = %recorder.name, "{NOT_LEADER}");
                return Ok(None);
            }
            Err(error) => return Err(error.into()),
        };
        tracing::warn!(recorder = %recorder.name, code = refusal.code(), "failover refused: {}", refusal.message);
        self.note(id, "error", refusal.code(), refusal.message.clone()).await;
        self.alert("error", refusal.code(), refusal.message);
        Ok(self.publish_failover(id).await)
    }

    /// A failover server left acting for a recorder whose failover did not complete stops, so
    /// two servers never record as the same recorder.
    async fn release_failover_server(&self, server_id: i64, recorder_name: &str) {
        let Ok(Some(server)) = self.store.server(server_id).await else { return };
        let at = self.keyring.endpoint(&server).await;
        let acting_for = self
            .recorders
            .health(&at, self.check_timeout())
            .await
            .ok()
            .and_then(|health| health.acting_for);
        if acting_for.as_deref() == Some(recorder_name)
            && let Err(error) = self.recorders.stop_acting(&at, recorder_name).await
        {
            tracing::error!(%error, server = %server.name, "cannot make the failover server stop acting");
        }
    }

    async fn licence_allows_failover(&self) -> Result<Result<(), Refusal>, Refusal> {
        let Some(licence) = self.store.licence().await?.filter(|licence| licence.failover_enabled)
        else {
            return Ok(Err(Refusal::new(
                Reason::NoLicense,
                "Failover is not enabled in the licence.",
            )));
        };
        let acting = self.store.open_failovers().await?.len() as i64;
        if acting >= licence.failover_servers {
            return Ok(Err(Refusal::new(
                Reason::NoLicense,
                format!(
                    "The licence allows {} failover server(s), and all are in use.",
                    licence.failover_servers
                ),
            )));
        }
        Ok(Ok(()))
    }

    pub(super) async fn open_failover_for(
        &self,
        recorder_id: i64,
    ) -> Result<Option<Failover>, StoreError> {
        Ok(self
            .store
            .open_failovers()
            .await?
            .into_iter()
            .find(|entry| entry.recorder.id == recorder_id))
    }

    /// Idle, healthy failover servers allowed for the recorder, in the order to try them: by
    /// the group's order, those that can carry what the recorder records first (one too small
    /// still records more than none).
    pub(super) async fn free_failover_servers(
        &self,
        recorder: &Server,
    ) -> Result<Vec<Server>, StoreError> {
        let (allowed, servers, reports) = futures::try_join!(
            self.store.failover_candidates(recorder.id),
            self.store.list_servers(),
            self.store.server_reports(),
        )?;
        let reports = reports.into_iter().map(|report| (report.server_id, report)).collect();
        let mut free: Vec<Server> = allowed
            .into_iter()
            .filter_map(|id| servers.iter().find(|server| server.id == id))
            .filter(|server| {
                server.kind == ServerKind::Failover && server.state == ServerState::Standby
            })
            .cloned()
            .collect();
        free.sort_by_key(|server| !super::readiness::carries(&reports, server.id, recorder.id));
        Ok(free)
    }

    /// An entry left `failing_over`: completed when the failover server does act for the
    /// recorder, and rolled back otherwise (the monitor retries it), visibly in the log.
    pub(super) async fn recover_failover(
        &self,
        entry: &Failover,
        why: Interruption,
    ) -> Result<(), Refusal> {
        let (Some(recorder), Some(server_ref)) =
            (self.store.server(entry.recorder.id).await?, &entry.failover_server)
        else {
            return Ok(());
        };
        let Some(server) = self.store.server(server_ref.id).await? else { return Ok(()) };
        let health = self
            .recorders
            .health(&self.keyring.endpoint(&server).await, self.check_timeout())
            .await;
        let acting = health.as_ref().ok().and_then(|health| health.acting_for.as_deref())
            == Some(recorder.name.as_str());
        if acting {
            let message = format!(
                "{} during this failover; the failover server already acted for the recorder, so the failover was completed.",
                why.sentence()
            );
            self.note(entry.id, "warning", "recovered", message).await;
            self.finish_failover(entry.id, &recorder, &server).await?;
        } else {
            let refusal = Refusal::new(
                Reason::InternalError,
                format!(
                    "{} during this failover; it was rolled back and will be retried.",
                    why.sentence()
                ),
            );
            self.abandon(entry.id, FailoverStatus::FailingOver, refusal).await?;
        }
        Ok(())
    }
}
