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
        let url = format!("{}/api/v1/health", address.trim_end_matches('/'));
        let request = self.http.get(url).timeout(timeout).send();
        let response = request.await.map_err(|source| classify(address, timeout, source))?;
        let status = response.status();
        if !status.is_success() {
            let message = response.text().await.unwrap_or_default();
            return Err(RecorderError::Refused {
                address: address.to_owned(),
                status: status.as_u16(),
                message,
            });
        }
        response
            .json::<Health>()
            .await
            .map_err(|source| RecorderError::Malformed { address: address.to_owned(), source })
    }
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
