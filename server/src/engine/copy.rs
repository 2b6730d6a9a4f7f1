//! Material copying from the failover period: the repaired recorder copies what the failover
//! server recorded for it (the seed's DVRFailoverService runs on the recorder); the manager
//! starts the task, tells the recorder where the failover server is, and brings the task's
//! states back into the failover log.

use super::Engine;
use super::refusal::{Reason, Refusal};
use crate::recorders::{CopyChannel, Peer, StartDataCopy, copy_progress};
use agent_api::Grant;
use app::failure::Failure;
use app::model::{CopyStatus, Failover, FailoverStatus, Server};
use chrono::{DateTime, Utc};
use std::time::{Duration, Instant};

/// How long a grant to pull a failover period lets the recorder read from the failover server.
/// Short, so a leaked one is soon worthless; copies that take longer get fresh ones.
const GRANT_LIFETIME: Duration = Duration::from_secs(3600);
/// A copy under way gets a fresh grant this often (well inside its lifetime).
const GRANT_REFRESH: Duration = Duration::from_secs(900);

impl Engine {
    /// "Start material copying to the selected server" (also resumes or retries a copy).
    pub(super) async fn start_material_copy(&self, id: i64) -> Result<Failover, Failure> {
        let entry = self
            .store
            .failover(id)
            .await?
            .ok_or_else(|| Failure::not_found(format!("Failover log entry {id}")))?;
        if entry.status != FailoverStatus::Finalized || entry.failback_finished_at.is_none() {
            return Err(Refusal::new(
                Reason::FailbackNotPerformed,
                "Failback not performed yet: material is copied after failback.",
            )
            .into());
        }
        if entry.copy.status == CopyStatus::Done {
            return Err(Refusal::new(
                Reason::AlreadyCopied,
                "Already copied: the material of this failover period is on the recorder.",
            )
            .into());
        }
        self.queue_material_copy(&entry).await?;
        self.failover_with_copy(id).await?.ok_or_else(Failure::internal)
    }

    /// StartDataCopy on the repaired recorder: every channel of its settings, for the period
    /// from the start of the failover to the end of the failback.
    pub(super) async fn queue_material_copy(&self, entry: &Failover) -> Result<(), Failure> {
        let (Some(to), Some(source_ref)) = (entry.failback_finished_at, &entry.failover_server)
        else {
            return Err(
                Refusal::new(Reason::FailbackNotPerformed, "Failback not performed yet.").into()
            );
        };
        let recorder = self
            .store
            .server(entry.recorder.id)
            .await?
            .ok_or_else(|| Failure::not_found("The recorder"))?;
        let source = self
            .store
            .server(source_ref.id)
            .await?
            .ok_or_else(|| Failure::not_found("The failover server"))?;
        let settings = self.store.cached_settings(recorder.id).await?;
        // Every channel of the recorder's settings; a bundle the cache cannot read means every
        // channel the failover server lists.
        let channels: Vec<CopyChannel> = settings
            .and_then(|settings| {
                serde_json::from_value::<agent_api::SettingsBundle>(settings.bundle).ok()
            })
            .map(|bundle| {
                bundle
                    .channels
                    .into_iter()
                    .map(|channel| CopyChannel { id: channel.id, kind: channel.kind })
                    .collect()
            })
            .unwrap_or_default();
        let task = StartDataCopy {
            failover_id: entry.id,
            source: self.peer(&source, &recorder, entry, &channels).await,
            recorder: recorder.name.clone(),
            from: entry.failover_started_at,
            to,
            channels,
        };
        self.store.start_copy(entry.id, Utc::now()).await?;
        self.note(
            entry.id,
            "info",
            "copy_queued",
            format!("Material copying from {} to {} queued.", source.name, recorder.name),
        )
        .await;
        match self.recorders.start_data_copy(&self.keyring.endpoint(&recorder).await, &task).await {
            Ok(task) => {
                let (status, channels) = copy_progress(&task);
                self.store
                    .save_copy_progress(entry.id, status, task.error.as_deref(), &channels)
                    .await?;
                // Starting cleared any earlier reason: one given now is news.
                self.note_waiting(entry.id, status, task.error.as_deref(), None).await;
            }
            // The recorder may be busy or restarting: the copy stays queued and the next sync
            // round starts it again.
            Err(error) => {
                tracing::warn!(recorder = %recorder.name, %error, "StartDataCopy did not reach the recorder; retried")
            }
        }
        self.publish_failover(entry.id).await;
        Ok(())
    }

    /// One round of UpdateFailoverTaskStates for every copy under way: progress into the log,
    /// UpdateClientInfo where the failover server moved, StartDataCopy again where the recorder
    /// lost the task.
    pub(super) async fn sync_material_copies(&self) -> Result<(), Failure> {
        for entry in self.store.copies_in_progress().await? {
            let Some(recorder) = self.store.server(entry.recorder.id).await? else { continue };
            let at = self.keyring.endpoint(&recorder).await;
            let task = match self.recorders.copy_task(&at, entry.id).await {
                Ok(task) => task,
                Err(error) => {
                    tracing::debug!(recorder = %recorder.name, %error, "copy state not available now");
                    continue;
                }
            };
            let Some(task) = task else {
                self.queue_material_copy(&entry).await?;
                continue;
            };
            if let Some(source_ref) = &entry.failover_server
                && let Some(source) = self.store.server(source_ref.id).await?
                && (source.address != task.source.address || self.grant_due(entry.id))
                && matches!(
                    task.status,
                    agent_api::CopyStatus::Queued | agent_api::CopyStatus::Copying
                )
            {
                let channels: Vec<CopyChannel> = task
                    .channels
                    .iter()
                    .map(|channel| CopyChannel { id: channel.channel.clone(), kind: channel.kind })
                    .collect();
                let peer = self.peer(&source, &recorder, &entry, &channels).await;
                if let Err(error) = self.recorders.update_client_info(&at, task.id, &peer).await {
                    tracing::warn!(%error, "UpdateClientInfo failed");
                }
            }
            let before = self.store.copy_channels(entry.id).await?;
            let (status, channels) = copy_progress(&task);
            if status == entry.copy.status && task.error == entry.copy.error && channels == before {
                continue;
            }
            self.store
                .save_copy_progress(entry.id, status, task.error.as_deref(), &channels)
                .await?;
            self.note_waiting(entry.id, status, task.error.as_deref(), entry.copy.error.as_deref())
                .await;
            match status {
                CopyStatus::Done => {
                    let message = format!(
                        "Material copy ready: everything {} recorded for {} during the failover period is on {}, verified.",
                        entry
                            .failover_server
                            .as_ref()
                            .map(|s| s.name.as_str())
                            .unwrap_or("the failover server"),
                        recorder.name,
                        recorder.name
                    );
                    self.note(entry.id, "info", "copy_done", message.clone()).await;
                    self.alert("info", "material_copy_ready", message);
                }
                CopyStatus::Failed => {
                    let message = format!(
                        "Material copying failed: {}",
                        task.error.clone().unwrap_or_else(|| "no reason given".into())
                    );
                    self.note(entry.id, "error", "copy_failed", message.clone()).await;
                    self.alert("error", "material_copy_failed", message);
                }
                _ => {}
            }
            self.publish_failover(entry.id).await;
        }
        Ok(())
    }

    /// A copy that has just begun to wait says why, once per wait (not while the same wait
    /// goes on): `before` is the reason the log held until now.
    async fn note_waiting(
        &self,
        id: i64,
        status: CopyStatus,
        error: Option<&str>,
        before: Option<&str>,
    ) {
        if let (Some(error), CopyStatus::Queued, None) = (error, status, before) {
            let message = format!("Material copying waits and is retried: {error}");
            self.note(id, "warning", "copy_waiting", message).await;
        }
    }

    /// The failover server as the copy task names it, with a grant signed with its secret for
    /// exactly this failover period and these channels (none when its secret is not known:
    /// then it refuses the pulls and the copy waits, saying so).
    async fn peer(
        &self,
        source: &Server,
        recorder: &Server,
        entry: &Failover,
        channels: &[CopyChannel],
    ) -> Peer {
        let to = entry.failback_finished_at.unwrap_or_else(Utc::now);
        let grant = self.keyring.endpoint(source).await.secret.map(|secret| {
            Grant {
                source: source.name.clone(),
                recorder: recorder.name.clone(),
                channels: channels.iter().map(|channel| channel.id.clone()).collect(),
                from: floor_micros(entry.failover_started_at),
                // The agent rounds the period's ends up to the microsecond.
                to: floor_micros(to).saturating_add(1),
                expires: Utc::now().timestamp() + GRANT_LIFETIME.as_secs() as i64,
            }
            .sign(secret.expose())
        });
        if grant.is_some() {
            self.granted
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .insert(entry.id, Instant::now());
        }
        Peer { name: source.name.clone(), address: source.address.clone(), grant }
    }

    /// Whether the copy of this failover should get a fresh grant now.
    fn grant_due(&self, failover_id: i64) -> bool {
        let granted = self.granted.lock().unwrap_or_else(|poison| poison.into_inner());
        granted.get(&failover_id).is_none_or(|at| at.elapsed() >= GRANT_REFRESH)
    }
}

fn floor_micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}
