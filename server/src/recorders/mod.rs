//! The manager's side of the recorder API: what the engine asks of a recorder agent, behind a
//! trait so the ordered checks of failover and failback can be tested against fakes. The HTTP
//! implementation is [`HttpRecorders`].

mod http;
mod keyring;

pub use http::HttpRecorders;
pub use keyring::{AgentSecret, Keyring};

use app::model::{ChannelCopy, CopyStatus};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

impl RecorderError {
    /// The agent refused the credential (401) or what it allows (403).
    pub fn is_credential_refused(&self) -> bool {
        matches!(self, RecorderError::Refused { status: 401 | 403, .. })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    #[error("{address} did not answer within {timeout:?}")]
    Timeout { address: String, timeout: Duration },
    #[error("{address} could not be reached: {reason}")]
    Unreachable { address: String, reason: String },
    #[error("{address} answered {status}: {message}")]
    Refused { address: String, status: u16, message: String },
    #[error("{address} sent an answer that is not the recorder API: {reason}")]
    Malformed { address: String, reason: String },
}

/// Where and how the manager reaches one server's agent (see [`Keyring::endpoint`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub name: String,
    pub address: String,
    /// The agent's secret, sent as a bearer token.
    pub secret: Option<AgentSecret>,
}

pub use agent_api::{ChannelHoldings, Held, Removed};
pub use agent_api::{CopyChannel, CopyTask, Health, Peer, StartDataCopy};

/// A copy task's progress in the failover log's words.
pub fn copy_progress(task: &CopyTask) -> (CopyStatus, Vec<ChannelCopy>) {
    let channels = task
        .channels
        .iter()
        .map(|channel| ChannelCopy {
            channel: channel.channel.clone(),
            kind: channel.kind.as_str().to_owned(),
            status: copy_status(channel.status),
            copied_until: channel.copied_until,
            bytes: channel.bytes,
        })
        .collect();
    (copy_status(task.status), channels)
}

fn copy_status(status: agent_api::CopyStatus) -> CopyStatus {
    match status {
        agent_api::CopyStatus::NotStarted => CopyStatus::NotStarted,
        agent_api::CopyStatus::Queued => CopyStatus::Queued,
        agent_api::CopyStatus::Copying => CopyStatus::Copying,
        agent_api::CopyStatus::Done => CopyStatus::Done,
        agent_api::CopyStatus::Failed => CopyStatus::Failed,
    }
}

/// What the engine asks of recorder agents and failover servers.
#[async_trait]
pub trait RecorderApi: Send + Sync + 'static {
    /// One health check, bounded by `timeout` so a hung host cannot hold anything up.
    async fn health(&self, at: &Endpoint, timeout: Duration) -> Result<Health, RecorderError>;

    /// The agent's heartbeats, one [`Health`] each, for as long as it lives: the stream ends (or
    /// fails) when the connection drops. `every` is the heartbeat interval asked for.
    async fn health_stream(
        &self,
        at: &Endpoint,
        every: Duration,
    ) -> Result<HealthBeats, RecorderError>;

    /// The settings bundle the server records by (a failover server: the recorder's it acts
    /// for), with its `version`.
    async fn settings(&self, at: &Endpoint) -> Result<serde_json::Value, RecorderError>;

    /// Replaces the server's settings bundle.
    async fn replace_settings(
        &self,
        at: &Endpoint,
        bundle: &serde_json::Value,
    ) -> Result<(), RecorderError>;

    /// Tells a failover server to record as `recorder` with that recorder's settings.
    async fn act_for(
        &self,
        at: &Endpoint,
        recorder: &str,
        bundle: &serde_json::Value,
    ) -> Result<(), RecorderError>;

    /// Tells a failover server to stop acting for `recorder` and stand by (its archive stays).
    /// It refuses when it acts for another recorder.
    async fn stop_acting(&self, at: &Endpoint, recorder: &str) -> Result<(), RecorderError>;

    /// StartDataCopy: adds the task to the recorder's queue (the same failover twice: one task).
    async fn start_data_copy(
        &self,
        at: &Endpoint,
        task: &StartDataCopy,
    ) -> Result<CopyTask, RecorderError>;

    /// UpdateClientInfo: where the failover server is now.
    async fn update_client_info(
        &self,
        at: &Endpoint,
        task_id: i64,
        source: &Peer,
    ) -> Result<CopyTask, RecorderError>;

    /// UpdateFailoverTaskStates: the recorder's task for a failover, if it has one.
    async fn copy_task(
        &self,
        at: &Endpoint,
        failover_id: i64,
    ) -> Result<Option<CopyTask>, RecorderError>;

    /// The coverage listing of one channel for `[from, to)`: what the server holds of it, by the
    /// server that recorded each stretch.
    async fn holdings(
        &self,
        at: &Endpoint,
        channel: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<ChannelHoldings, RecorderError>;

    /// Removes what `origin` recorded of one channel in `[from, to)`, by whole segments that
    /// hold nothing else (a drill's recordings on its failover server).
    async fn remove_records(
        &self,
        at: &Endpoint,
        channel: &str,
        origin: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Removed, RecorderError>;

    /// Gives the agent a new secret (`at` carries the one it accepts now); it keeps accepting
    /// the old one for a grace period, so nothing restarts.
    async fn rotate_secret(&self, at: &Endpoint, new: &str) -> Result<(), RecorderError>;
}

pub type Recorders = Arc<dyn RecorderApi>;

/// Heartbeats as they arrive; an error or the end means the connection is gone.
pub type HealthBeats = futures::stream::BoxStream<'static, Result<Health, RecorderError>>;
