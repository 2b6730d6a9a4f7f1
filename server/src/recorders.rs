//! The manager's HTTP client of the recorder API (`/api/v1/…` on every recorder agent).

use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    #[error("{address} did not answer within {timeout:?}")]
    Timeout { address: String, timeout: Duration },
    #[error("{address} could not be reached: {source}")]
    Unreachable { address: String, source: reqwest::Error },
    #[error("{address} answered {status}: {message}")]
    Refused { address: String, status: u16, message: String },
    #[error("{address} sent an answer that is not the recorder API: {source}")]
    Malformed { address: String, source: reqwest::Error },
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

/// Paths of the recorder API beyond the contract's (see recorder/API.md).
mod paths {
    pub const HEALTH: &str = "/api/v1/health";
    pub const SETTINGS: &str = "/api/v1/settings";
    pub const ACTING: &str = "/api/v1/acting";
    pub const COPY_TASKS: &str = "/api/v1/copy-tasks";
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

#[derive(Clone)]
pub struct RecorderClient {
    http: reqwest::Client,
}

impl RecorderClient {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        RecorderClient { http }
    }

    /// One health check, bounded by `timeout` so a hung host cannot hold up the monitor.
    pub async fn health(&self, address: &str, timeout: Duration) -> Result<Health, RecorderError> {
        let request = self.http.get(url(address, paths::HEALTH)).timeout(timeout);
        answer(address, timeout, request).await
    }

    /// The settings bundle the server records by (a failover server: the recorder's it acts
    /// for). The manager keeps it opaque, with its `version`.
    pub async fn settings(&self, address: &str) -> Result<serde_json::Value, RecorderError> {
        let request = self.http.get(url(address, paths::SETTINGS)).timeout(SLOW_CALL);
        answer(address, SLOW_CALL, request).await
    }

    /// Replaces the server's settings bundle; the answer is the bundle as stored.
    pub async fn replace_settings(
        &self,
        address: &str,
        bundle: &serde_json::Value,
    ) -> Result<serde_json::Value, RecorderError> {
        let request = self.http.put(url(address, paths::SETTINGS)).json(bundle).timeout(SLOW_CALL);
        answer(address, SLOW_CALL, request).await
    }

    /// Tells a failover server to record as `recorder` with that recorder's settings.
    pub async fn act_for(
        &self,
        address: &str,
        recorder: &str,
        bundle: &serde_json::Value,
    ) -> Result<serde_json::Value, RecorderError> {
        let body = serde_json::json!({ "recorder": recorder, "settings": bundle });
        let request = self.http.put(url(address, paths::ACTING)).json(&body).timeout(SLOW_CALL);
        answer(address, SLOW_CALL, request).await
    }

    /// Tells a failover server to stop acting for `recorder` and become idle (its archive
    /// stays). It refuses when it acts for another recorder.
    pub async fn stop_acting(
        &self,
        address: &str,
        recorder: &str,
    ) -> Result<serde_json::Value, RecorderError> {
        let request = self
            .http
            .delete(url(address, paths::ACTING))
            .query(&[("recorder", recorder)])
            .timeout(SLOW_CALL);
        answer(address, SLOW_CALL, request).await
    }
}

impl RecorderClient {
    /// StartDataCopy: adds the task to the recorder's queue (the same failover twice: one task).
    pub async fn start_data_copy(
        &self,
        address: &str,
        task: &StartDataCopy,
    ) -> Result<CopyTask, RecorderError> {
        let request = self.http.post(url(address, paths::COPY_TASKS)).json(task).timeout(SLOW_CALL);
        answer(address, SLOW_CALL, request).await
    }

    /// UpdateClientInfo: where the failover server is now.
    pub async fn update_client_info(
        &self,
        address: &str,
        task_id: i64,
        source: &Peer,
    ) -> Result<CopyTask, RecorderError> {
        let path = format!("{}/{task_id}/client-info", paths::COPY_TASKS);
        let request = self.http.put(url(address, &path)).json(source).timeout(SLOW_CALL);
        answer(address, SLOW_CALL, request).await
    }

    /// UpdateFailoverTaskStates: the recorder's task for a failover, if it has one.
    pub async fn copy_task(
        &self,
        address: &str,
        failover_id: i64,
    ) -> Result<Option<CopyTask>, RecorderError> {
        let request = self
            .http
            .get(url(address, paths::COPY_TASKS))
            .query(&[("failover_id", failover_id)])
            .timeout(SLOW_CALL);
        let tasks: Vec<CopyTask> = answer(address, SLOW_CALL, request).await?;
        Ok(tasks.into_iter().find(|task| task.failover_id == failover_id))
    }
}

/// Calls that change a recorder may take longer than a health check.
const SLOW_CALL: Duration = Duration::from_secs(10);

fn url(address: &str, path: &str) -> String {
    format!("{}{path}", address.trim_end_matches('/'))
}

async fn answer<T: serde::de::DeserializeOwned>(
    address: &str,
    timeout: Duration,
    request: reqwest::RequestBuilder,
) -> Result<T, RecorderError> {
    let response = request.send().await.map_err(|source| classify(address, timeout, source))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        // The recorder API's errors are `{error, message}`; show the sentence.
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|error| error["message"].as_str().map(str::to_owned))
            .unwrap_or(body);
        return Err(RecorderError::Refused {
            address: address.to_owned(),
            status: status.as_u16(),
            message,
        });
    }
    response
        .json::<T>()
        .await
        .map_err(|source| RecorderError::Malformed { address: address.to_owned(), source })
}

impl Default for RecorderClient {
    fn default() -> Self {
        Self::new()
    }
}

fn classify(address: &str, timeout: Duration, source: reqwest::Error) -> RecorderError {
    if source.is_timeout() {
        RecorderError::Timeout { address: address.to_owned(), timeout }
    } else {
        RecorderError::Unreachable { address: address.to_owned(), source }
    }
}
