//! Failover: a dead recorder's cameras and settings move to a failover server. The mirror of the
//! seed's failback process: the checks first, each refusal recorded in the failover log with its
//! reason code, then the steps, each state change one transaction.

use super::Engine;
use crate::store::StoreError;
use app::failure::Failure;
use app::model::{
    Failover, FailoverNote, FailoverStatus, Server, ServerKind, ServerState, SystemEvent,
};
use chrono::Utc;

/// Reason codes of the failover log (the seed's notification reasons).
pub mod reason {
    pub const NO_LICENSE: &str = "no_license";
    pub const RECORDER_REACHABLE: &str = "operation_cancelled";
    pub const ALREADY_RUNNING: &str = "failover_already_running";
    pub const NO_FAILOVER_SERVER: &str = "no_failover_server";
    pub const NO_RECORDER_SETTINGS: &str = "no_recorder_settings";
    pub const NO_FAILOVER_SERVER_CONNECTION: &str = "no_failover_server_connection";
    pub const FAILOVER_SERVER_WRONG_STATE: &str = "failover_server_wrong_state";
    pub const INVALID_LOG_STATE: &str = "invalid_log_state";
    pub const INTERNAL_ERROR: &str = "internal_error";
}

/// Why a failover did not happen: a reason code and a sentence for the log.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Refusal { code, message: message.into() }
    }
}

fn no_failover_server(recorder: &Server) -> Refusal {
    Refusal::new(
        reason::NO_FAILOVER_SERVER,
        format!(
            "No failover server is free to take over {}; failover is retried as soon as one is.",
            recorder.name
        ),
    )
}

/// Test builds only: `STANDBY_TEST_CRASH_AT=<step>` kills the manager at that step, so the
/// integration tests can prove recovery from every step. Release builds have no such hook.
pub fn crash_point(step: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("STANDBY_TEST_CRASH_AT").is_ok_and(|wanted| wanted == step) {
        eprintln!("standby: crashing at {step} (STANDBY_TEST_CRASH_AT)");
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
}

impl Engine {
    /// Fails the recorder over if it still needs it. Called by the monitor for a recorder that
    /// has missed its health checks for the whole detection window.
    pub async fn fail_over(&self, recorder: &Server) -> Result<Option<Failover>, Failure> {
        // 1. Failover is enabled in the licence (and a licensed failover server is free).
        if let Err(refusal) = self.licence_allows_failover().await? {
            return self.refuse(recorder, None, refusal).await;
        }
        // 2. The recorder is still unreachable (checked again right before acting).
        if self.recorders.health(&recorder.address, self.monitor_timeout()).await.is_ok() {
            tracing::info!(recorder = %recorder.name, "recorder answered again; no failover");
            return Ok(None);
        }
        // 3. No failover is already running or active for it.
        if self.open_failover_for(recorder.id).await?.is_some() {
            self.warn_once(recorder, reason::ALREADY_RUNNING, "Skipped, failover already running.");
            return Ok(None);
        }
        // 4. A failover server is available: healthy, idle, allowed for this recorder, first
        //    by the group's order.
        let candidates = self.free_failover_servers(recorder).await?;
        if candidates.is_empty() {
            return self.refuse(recorder, None, no_failover_server(recorder)).await;
        }
        for server in candidates {
            match self.store.begin_failover(recorder.id, server.id, Utc::now()).await {
                Ok(id) => return self.perform_failover(id, recorder, &server).await.map(Some),
                // Taken by a concurrent failover meanwhile: the next one in order, unless it is
                // this recorder that got its failover elsewhere.
                Err(StoreError::AlreadyOpen) => {
                    if self.open_failover_for(recorder.id).await?.is_some() {
                        self.warn_once(
                            recorder,
                            reason::ALREADY_RUNNING,
                            "Skipped, failover already running.",
                        );
                        return Ok(None);
                    }
                }
                Err(error) => return Err(error.into()),
            }
        }
        // Every candidate was taken by a concurrent failover meanwhile.
        self.refuse(recorder, None, no_failover_server(recorder)).await
    }

    /// The steps, once the entry is `failing_over` and holds the failover server.
    async fn perform_failover(
        &self,
        id: i64,
        recorder: &Server,
        server: &Server,
    ) -> Result<Failover, Failure> {
        self.note(
            id,
            "info",
            "failover_started",
            format!("Failover of {} to {} started.", recorder.name, server.name),
        )
        .await;
        self.publish_failover(id).await;
        crash_point("failover:started");

        // Take the recorder's settings from the recorder settings cache.
        let Some(settings) = self.store.cached_settings(recorder.id).await? else {
            let refusal = Refusal::new(
                reason::NO_RECORDER_SETTINGS,
                format!(
                    "No settings of {} were ever read, so its cameras cannot be moved.",
                    recorder.name
                ),
            );
            return self.abandon(id, FailoverStatus::FailingOver, refusal).await;
        };
        crash_point("failover:settings_taken");

        // Tell the failover server to act for the recorder with those settings.
        if let Err(error) =
            self.recorders.act_for(&server.address, &recorder.name, &settings.bundle).await
        {
            let refusal = Refusal::new(
                reason::NO_FAILOVER_SERVER_CONNECTION,
                format!("{} could not take over {}: {error}", server.name, recorder.name),
            );
            return self.abandon(id, FailoverStatus::FailingOver, refusal).await;
        }
        crash_point("failover:acting");

        // Mark the recorder broken and the failover server acting; the entry becomes active.
        self.finish_failover(id, recorder, server).await
    }

    async fn finish_failover(
        &self,
        id: i64,
        recorder: &Server,
        server: &Server,
    ) -> Result<Failover, Failure> {
        if !self.store.complete_failover(id, recorder.id, server.id, Utc::now()).await? {
            let refusal =
                Refusal::new(reason::INVALID_LOG_STATE, "The entry was no longer failing over.");
            return self.abandon(id, FailoverStatus::FailingOver, refusal).await;
        }
        let message = format!("Failover performed: {} records for {}.", server.name, recorder.name);
        tracing::info!(recorder = %recorder.name, failover_server = %server.name, "failover performed");
        self.note(id, "info", "failover_performed", message.clone()).await;
        self.alert("info", "failover_ready", message);
        self.publish_servers(&[recorder.id, server.id]).await;
        self.publish_failover(id).await.ok_or_else(Failure::internal)
    }

    /// The entry is `failed` with the reason, its servers released, everyone told.
    async fn abandon(
        &self,
        id: i64,
        from: FailoverStatus,
        refusal: Refusal,
    ) -> Result<Failover, Failure> {
        tracing::warn!(failover = id, code = refusal.code, "{}", refusal.message);
        self.store.abandon_failover(id, from, refusal.code, &refusal.message).await?;
        self.note(id, "error", refusal.code, refusal.message.clone()).await;
        self.alert("error", refusal.code, refusal.message);
        if let Some(entry) = self.store.failover(id).await? {
            if let Some(server_ref) = &entry.failover_server {
                self.release_failover_server(server_ref.id, &entry.recorder.name).await;
            }
            let servers: Vec<i64> = std::iter::once(entry.recorder.id)
                .chain(entry.failover_server.iter().map(|s| s.id))
                .collect();
            self.publish_servers(&servers).await;
        }
        self.publish_failover(id).await.ok_or_else(Failure::internal)
    }

    /// A refusal before any server was touched: a `failed` entry with the reason, recorded and
    /// announced once while the same situation lasts (the recorder's current outage).
    async fn refuse(
        &self,
        recorder: &Server,
        server: Option<i64>,
        refusal: Refusal,
    ) -> Result<Option<Failover>, Failure> {
        let outage_began = recorder.last_seen_at.unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
        if self.store.last_refusal_since(recorder.id, outage_began).await?.as_deref()
            == Some(refusal.code)
        {
            return Ok(None);
        }
        tracing::warn!(recorder = %recorder.name, code = refusal.code, "failover refused: {}", refusal.message);
        let id = self
            .store
            .record_refusal(recorder.id, server, Utc::now(), refusal.code, &refusal.message)
            .await?;
        self.note(id, "error", refusal.code, refusal.message.clone()).await;
        self.alert("error", refusal.code, refusal.message);
        Ok(self.publish_failover(id).await)
    }

    /// A failover server left acting for a recorder whose failover did not complete stops, so
    /// two servers never record as the same recorder.
    async fn release_failover_server(&self, server_id: i64, recorder_name: &str) {
        let Ok(Some(server)) = self.store.server(server_id).await else { return };
        let acting_for = self
            .recorders
            .health(&server.address, self.monitor_timeout())
            .await
            .ok()
            .and_then(|health| health.acting_for);
        if acting_for.as_deref() == Some(recorder_name)
            && let Err(error) = self.recorders.stop_acting(&server.address, recorder_name).await
        {
            tracing::error!(%error, server = %server.name, "cannot make the failover server stop acting");
        }
    }

    async fn licence_allows_failover(&self) -> Result<Result<(), Refusal>, Failure> {
        let Some(licence) = self.store.licence().await?.filter(|licence| licence.failover_enabled)
        else {
            return Ok(Err(Refusal::new(
                reason::NO_LICENSE,
                "Failover is not enabled in the licence.",
            )));
        };
        let acting = self.store.open_failovers().await?.len() as i64;
        if acting >= licence.failover_servers {
            return Ok(Err(Refusal::new(
                reason::NO_LICENSE,
                format!(
                    "The licence allows {} failover server(s), and all are in use.",
                    licence.failover_servers
                ),
            )));
        }
        Ok(Ok(()))
    }

    pub(crate) async fn open_failover_for(
        &self,
        recorder_id: i64,
    ) -> Result<Option<Failover>, Failure> {
        Ok(self
            .store
            .open_failovers()
            .await?
            .into_iter()
            .find(|entry| entry.recorder.id == recorder_id))
    }

    /// Idle, healthy failover servers allowed for the recorder, in the order to try them.
    async fn free_failover_servers(&self, recorder: &Server) -> Result<Vec<Server>, Failure> {
        let allowed = self.store.failover_candidates(recorder.id).await?;
        let servers = self.store.list_servers().await?;
        Ok(allowed
            .into_iter()
            .filter_map(|id| servers.iter().find(|server| server.id == id))
            .filter(|server| {
                server.kind == ServerKind::Failover && server.state == ServerState::Standby
            })
            .cloned()
            .collect())
    }

    pub(crate) async fn note(&self, failover_id: i64, level: &str, code: &str, message: String) {
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
    pub(crate) async fn publish_failover(&self, id: i64) -> Option<Failover> {
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

    pub(crate) async fn publish_servers(&self, ids: &[i64]) {
        for id in ids {
            if let Ok(Some(server)) = self.store.server(*id).await {
                self.events.publish(SystemEvent::ServerChanged { server });
            }
        }
    }

    pub(crate) fn alert(&self, level: &str, code: &str, message: String) {
        self.events.publish(SystemEvent::Alert {
            level: level.to_owned(),
            code: code.to_owned(),
            message,
        });
    }

    /// A warning announced once per recorder outage, not on every monitor round.
    fn warn_once(&self, recorder: &Server, code: &str, message: &str) {
        let key = (recorder.id, code.to_owned(), recorder.last_seen_at);
        let mut warned = self.warned.lock().unwrap_or_else(|poison| poison.into_inner());
        if warned.insert(key) {
            tracing::warn!(recorder = %recorder.name, code, "{message}");
            self.alert("warning", code, format!("{}: {message}", recorder.name));
        }
    }

    /// On start: entries left `failing_over` by a manager that died are completed when the
    /// failover server does act for the recorder, and rolled back otherwise, visibly in the log.
    pub async fn recover_failovers(&self) -> Result<(), Failure> {
        for entry in self.store.open_failovers().await? {
            if entry.status != FailoverStatus::FailingOver {
                continue;
            }
            let (Some(recorder), Some(server_ref)) =
                (self.store.server(entry.recorder.id).await?, &entry.failover_server)
            else {
                continue;
            };
            let Some(server) = self.store.server(server_ref.id).await? else { continue };
            let health = self.recorders.health(&server.address, self.monitor_timeout()).await;
            let acting = health.as_ref().ok().and_then(|health| health.acting_for.as_deref())
                == Some(recorder.name.as_str());
            if acting {
                self.note(entry.id, "warning", "recovered", "The manager restarted during this failover; the failover server already acted for the recorder, so the failover was completed.".into()).await;
                self.finish_failover(entry.id, &recorder, &server).await?;
            } else {
                let refusal = Refusal::new(
                    reason::INTERNAL_ERROR,
                    "The manager stopped during this failover; it was rolled back and will be retried.",
                );
                self.abandon(entry.id, FailoverStatus::FailingOver, refusal).await?;
            }
        }
        Ok(())
    }
}
