//! The manager's side of the recorder API: what the engine asks of a recorder agent, behind a
//! trait so the ordered checks of failover and failback can be tested against fakes. The HTTP
//! implementation is [`HttpRecorders`].

mod http;

pub use http::HttpRecorders;

use app::model::Server;
use async_trait::async_trait;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

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

/// Where and how the manager reaches one server's agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub name: String,
    pub address: String,
}

impl From<&Server> for Endpoint {
    fn from(server: &Server) -> Self {
        Endpoint { name: server.name.clone(), address: server.address.clone() }
    }
}

/// `GET /api/v1/health` of a recorder agent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Health {
    pub name: String,
    pub kind: String,
    pub acting_for: Option<String>,
    /// The version of the settings it records by, when the agent reports it.
    #[serde(default)]
    pub settings_version: Option<i64>,
    /// Whether it records right now, when the agent reports it.
    #[serde(default)]
    pub recording: Option<bool>,
}

/// A server as a copy task names it: how the repaired recorder reaches the failover server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Peer {
    pub name: String,
    pub address: String,
}

/// StartDataCopy: copy what `source` recorded as `recorder` in `[from, to)`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StartDataCopy {
    pub failover_id: i64,
    pub source: Peer,
    pub recorder: String,
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
    pub channels: Vec<CopyChannel>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct CopyChannel {
    pub id: String,
    pub kind: String,
}

/// A copy task as the repaired recorder reports it (UpdateFailoverTaskStates).
#[derive(Debug, Clone, Deserialize)]
pub struct CopyTask {
    pub id: i64,
    pub failover_id: i64,
    pub status: app::model::CopyStatus,
    pub source: Peer,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub channels: Vec<app::model::ChannelCopy>,
}

/// What the engine asks of recorder agents and failover servers.
#[async_trait]
pub trait RecorderApi: Send + Sync + 'static {
    /// One health check, bounded by `timeout` so a hung host cannot hold anything up.
    async fn health(&self, at: &Endpoint, timeout: Duration) -> Result<Health, RecorderError>;

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
}

pub type Recorders = Arc<dyn RecorderApi>;
