//! The recorder API over HTTP (`/api/v1/…` on every recorder agent).

use super::{
    ChannelHoldings, CopyTask, Endpoint, Health, HealthBeats, Peer, RecorderApi, RecorderError,
    Removed, StartDataCopy,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use agent_api::paths;

/// Calls that change a recorder may take longer than a health check.
const SLOW_CALL: Duration = Duration::from_secs(10);
/// How long opening a connection may take (a host that does not answer SYNs is down).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct HttpRecorders {
    http: reqwest::Client,
    /// The leadership epoch every request carries (0: none, as with one manager on SQLite).
    epoch: Arc<AtomicI64>,
}

impl HttpRecorders {
    pub fn new() -> Self {
        // Never follow a redirect: an agent's address is where the manager talks, and a
        // redirect would send its credential and its trust somewhere else.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        HttpRecorders { http, epoch: Arc::default() }
    }

    /// Requests carry the epoch `epoch` holds at the moment each is sent.
    pub fn carrying_epoch(epoch: Arc<AtomicI64>) -> Self {
        HttpRecorders { epoch, ..HttpRecorders::new() }
    }

    fn request(&self, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
        let request = self.http.request(method, url);
        match self.epoch.load(Ordering::SeqCst) {
            0 => request,
            epoch => request.header(agent_api::epoch::HEADER, epoch),
        }
    }
}

impl Default for HttpRecorders {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl RecorderApi for HttpRecorders {
    async fn health(&self, at: &Endpoint, timeout: Duration) -> Result<Health, RecorderError> {
        let request = self.request(reqwest::Method::GET, url(at, paths::HEALTH)).timeout(timeout);
        answer(at, timeout, request).await
    }

    async fn health_stream(
        &self,
        at: &Endpoint,
        every: Duration,
    ) -> Result<HealthBeats, RecorderError> {
        let every_ms = every.as_millis().to_string();
        let request = self
            .request(reqwest::Method::GET, url(at, paths::HEALTH_STREAM))
            .query(&[("every_ms", every_ms.as_str())]);
        let response = send(at, CONNECT_TIMEOUT, request).await?;
        let address = at.address.clone();
        let mut pending = Vec::new();
        let beats = response.bytes_stream().flat_map(move |chunk| {
            let lines: Vec<Result<Health, RecorderError>> = match chunk {
                Ok(chunk) => {
                    pending.extend_from_slice(&chunk);
                    let mut lines = Vec::new();
                    while let Some(end) = pending.iter().position(|byte| *byte == b'\n') {
                        let line: Vec<u8> = pending.drain(..=end).collect();
                        lines.push(serde_json::from_slice::<Health>(&line).map_err(|error| {
                            RecorderError::Malformed {
                                address: address.clone(),
                                reason: error.to_string(),
                            }
                        }));
                    }
                    lines
                }
                Err(error) => vec![Err(RecorderError::Unreachable {
                    address: address.clone(),
                    reason: reason(&error),
                })],
            };
            futures::stream::iter(lines)
        });
        Ok(beats.boxed())
    }

    async fn settings(&self, at: &Endpoint) -> Result<serde_json::Value, RecorderError> {
        let request =
            self.request(reqwest::Method::GET, url(at, paths::SETTINGS)).timeout(SLOW_CALL);
        answer(at, SLOW_CALL, request).await
    }

    async fn replace_settings(
        &self,
        at: &Endpoint,
        bundle: &serde_json::Value,
    ) -> Result<(), RecorderError> {
        let request = self
            .request(reqwest::Method::PUT, url(at, paths::SETTINGS))
            .json(bundle)
            .timeout(SLOW_CALL);
        answer::<serde_json::Value>(at, SLOW_CALL, request).await.map(drop)
    }

    async fn act_for(
        &self,
        at: &Endpoint,
        recorder: &str,
        bundle: &serde_json::Value,
    ) -> Result<(), RecorderError> {
        let body = serde_json::json!({ "recorder": recorder, "settings": bundle });
        let request = self
            .request(reqwest::Method::PUT, url(at, paths::ACTING))
            .json(&body)
            .timeout(SLOW_CALL);
        answer::<serde_json::Value>(at, SLOW_CALL, request).await.map(drop)
    }

    async fn stop_acting(&self, at: &Endpoint, recorder: &str) -> Result<(), RecorderError> {
        let request = self
            .http
            .delete(url(at, paths::ACTING))
            .query(&[("recorder", recorder)])
            .timeout(SLOW_CALL);
        answer::<serde_json::Value>(at, SLOW_CALL, request).await.map(drop)
    }

    async fn start_data_copy(
        &self,
        at: &Endpoint,
        task: &StartDataCopy,
    ) -> Result<CopyTask, RecorderError> {
        let request = self
            .request(reqwest::Method::POST, url(at, paths::COPY_TASKS))
            .json(task)
            .timeout(SLOW_CALL);
        answer(at, SLOW_CALL, request).await
    }

    async fn update_client_info(
        &self,
        at: &Endpoint,
        task_id: i64,
        source: &Peer,
    ) -> Result<CopyTask, RecorderError> {
        let path = paths::with_id(paths::COPY_TASK_CLIENT_INFO, task_id);
        let request =
            self.request(reqwest::Method::PUT, url(at, &path)).json(source).timeout(SLOW_CALL);
        answer(at, SLOW_CALL, request).await
    }

    async fn copy_task(
        &self,
        at: &Endpoint,
        failover_id: i64,
    ) -> Result<Option<CopyTask>, RecorderError> {
        let request = self
            .http
            .get(url(at, paths::COPY_TASKS))
            .query(&[("failover_id", failover_id)])
            .timeout(SLOW_CALL);
        let tasks: Vec<CopyTask> = answer(at, SLOW_CALL, request).await?;
        Ok(tasks.into_iter().find(|task| task.failover_id == failover_id))
    }

    async fn holdings(
        &self,
        at: &Endpoint,
        channel: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<ChannelHoldings, RecorderError> {
        let path = paths::with_id(paths::CHANNEL_COVERAGE, channel);
        let (from, to) =
            (agent_api::time::format_micros(&from), agent_api::time::format_micros(&to));
        let request = self
            .request(reqwest::Method::GET, url(at, &path))
            .query(&[("from", from.as_str()), ("to", to.as_str())])
            .timeout(SLOW_CALL);
        answer(at, SLOW_CALL, request).await
    }

    async fn remove_records(
        &self,
        at: &Endpoint,
        channel: &str,
        origin: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Removed, RecorderError> {
        let path = paths::with_id(paths::CHANNEL_RECORDS, channel);
        let (from, to) =
            (agent_api::time::format_micros(&from), agent_api::time::format_micros(&to));
        let request = self
            .request(reqwest::Method::DELETE, url(at, &path))
            .query(&[("from", from.as_str()), ("to", to.as_str()), ("origin", origin)])
            .timeout(SLOW_CALL);
        answer(at, SLOW_CALL, request).await
    }

    async fn rotate_secret(&self, at: &Endpoint, new: &str) -> Result<(), RecorderError> {
        let body = agent_api::NewSecret { secret: new.to_owned() };
        let request = self
            .request(reqwest::Method::PUT, url(at, paths::CREDENTIAL))
            .json(&body)
            .timeout(SLOW_CALL);
        send(at, SLOW_CALL, request).await.map(drop)
    }
}

fn url(at: &Endpoint, path: &str) -> String {
    format!("{}{path}", at.address.trim_end_matches('/'))
}

/// The answer's JSON body, or why there is none.
async fn answer<T: serde::de::DeserializeOwned>(
    at: &Endpoint,
    timeout: Duration,
    request: reqwest::RequestBuilder,
) -> Result<T, RecorderError> {
    send(at, timeout, request).await?.json::<T>().await.map_err(|source| RecorderError::Malformed {
        address: at.address.clone(),
        reason: reason(&source),
    })
}

/// Sends the request with the agent's secret; a success, or why not.
async fn send(
    at: &Endpoint,
    timeout: Duration,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, RecorderError> {
    let address = || at.address.clone();
    let request = match &at.secret {
        Some(secret) => request.bearer_auth(secret.expose()),
        None => request,
    };
    let response = request.send().await.map_err(|source| {
        if source.is_timeout() {
            RecorderError::Timeout { address: address(), timeout }
        } else {
            RecorderError::Unreachable { address: address(), reason: reason(&source) }
        }
    })?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        // The recorder API's errors are `{error, message}`; show the sentence.
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|error| error["message"].as_str().map(str::to_owned))
            .unwrap_or(body);
        return Err(RecorderError::Refused {
            address: address(),
            status: status.as_u16(),
            message,
        });
    }
    Ok(response)
}

/// The innermost cause is the readable one ("Connection refused (os error 111)").
fn reason(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
