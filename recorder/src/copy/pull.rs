//! The copy's requests to the failover server: its channel list, one slice of a channel
//! (playback, or the paged ANPR/alarm search), and the digest that verifies the copy. Only what
//! the failover server recorded itself is asked for (`origin` = its name), and what is pulled is
//! paced to `--copy-max-rate`.

use crate::time::{Micros, format_micros};
use crate::wire;
use agent_api::{Channel, ChannelKind, Digest, Peer, SearchPage, paths};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use std::time::Duration;

/// ANPR reads or alarms asked for per search request (the search service's maximum).
const EVENT_PAGE: usize = 1000;

/// The failover server did not answer, or not as the recorder API does; the sentence names it,
/// its address and the root cause, without the long URL (it goes to the failover log).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(String);

impl Unreachable {
    fn new(source: &Peer, error: &reqwest::Error) -> Self {
        if let Some(status) = error.status() {
            return Unreachable(format!(
                "{} at {} answered {status}.",
                source.name, source.address
            ));
        }
        let mut cause: &dyn std::error::Error = error;
        while let Some(inner) = cause.source() {
            cause = inner;
        }
        let cause = if error.is_timeout() {
            "it did not answer in time".to_owned()
        } else {
            cause.to_string()
        };
        Unreachable(format!("{} is not reachable at {} ({cause}).", source.name, source.address))
    }
}

/// One slice of one channel of the failover server.
#[derive(Debug, Clone, Copy)]
pub struct Slice<'a> {
    pub source: &'a Peer,
    pub channel: &'a str,
    pub from: Micros,
    pub to: Micros,
}

#[derive(Clone)]
pub struct PullClient {
    http: reqwest::Client,
}

impl PullClient {
    pub fn new() -> reqwest::Result<Self> {
        let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(3)).build()?;
        Ok(PullClient { http })
    }

    /// Every channel the failover server lists.
    pub async fn channels(&self, source: &Peer) -> reqwest::Result<Vec<Channel>> {
        let url = format!("{}{}", base(source), paths::CHANNELS);
        granted(self.http.get(url), source).send().await?.error_for_status()?.json().await
    }

    /// Audio, video, text and metadata: the slice's playback stream, paced.
    pub async fn playback<'p>(
        &self,
        slice: Slice<'_>,
        pace: &'p mut Pace,
    ) -> Result<impl Stream<Item = reqwest::Result<Bytes>> + Unpin + 'p, Unreachable> {
        let response = self
            .request(slice, paths::CHANNEL_PLAYBACK)
            .send()
            .await
            .and_then(|response| response.error_for_status())
            .map_err(|error| Unreachable::new(slice.source, &error))?;
        let paced = response.bytes_stream().then(move |chunk| {
            let due = chunk.as_ref().ok().and_then(|bytes| pace.due_after(bytes.len()));
            async move {
                if let Some(due) = due {
                    tokio::time::sleep_until(due).await;
                }
                chunk
            }
        });
        Ok(Box::pin(paced))
    }

    /// ANPR reads and alarms: the paged search service (plain request/response), each item
    /// re-created as the record it was; the slice's records framed as one ingest body.
    pub async fn events(
        &self,
        slice: Slice<'_>,
        kind: ChannelKind,
        pace: &mut Pace,
    ) -> Result<Vec<u8>, Unreachable> {
        let service = match kind {
            ChannelKind::Alarm => paths::CHANNEL_ALARMS,
            _ => paths::CHANNEL_ANPR,
        };
        let mut body = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut request = self.request(slice, service).query(&[("limit", EVENT_PAGE)]);
            if let Some(cursor) = &cursor {
                request = request.query(&[("cursor", cursor)]);
            }
            let page: SearchPage = async { request.send().await?.error_for_status()?.json().await }
                .await
                .map_err(|error| Unreachable::new(slice.source, &error))?;
            for item in &page.items {
                wire::encode_into(
                    &mut body,
                    item.timestamp_us,
                    item.sequence,
                    &item.origin,
                    item.payload.as_bytes(),
                );
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        pace.wait_after(body.len()).await;
        Ok(body)
    }

    /// The failover server's digest of what it recorded in the slice.
    pub async fn digest(&self, slice: Slice<'_>) -> Result<Digest, Unreachable> {
        let request = self.request(slice, paths::CHANNEL_DIGEST);
        async { request.send().await?.error_for_status()?.json().await }
            .await
            .map_err(|error| Unreachable::new(slice.source, &error))
    }

    /// A GET of one of the channel's services over `[from, to)` of the source's own records.
    fn request(&self, slice: Slice<'_>, service: &str) -> reqwest::RequestBuilder {
        let url = format!("{}{}", base(slice.source), paths::with_id(service, slice.channel));
        let (from, to) = (format_micros(slice.from), format_micros(slice.to));
        let request = self.http.get(url).query(&[
            ("from", &from),
            ("to", &to),
            ("origin", &slice.source.name),
        ]);
        granted(request, slice.source)
    }
}

/// The request with the grant the manager gave for this source, if any (without one the source
/// refuses, and the copy waits for the manager to send one).
fn granted(request: reqwest::RequestBuilder, source: &Peer) -> reqwest::RequestBuilder {
    match &source.grant {
        Some(grant) => request.bearer_auth(grant),
        None => request,
    }
}

fn base(source: &Peer) -> &str {
    source.address.trim_end_matches('/')
}

/// Keeps a copy at or under `--copy-max-rate`: after each chunk it waits until the bytes
/// pulled so far are due.
pub struct Pace {
    rate: Option<u64>,
    started: tokio::time::Instant,
    bytes: u64,
}

impl Pace {
    pub fn new(rate: Option<u64>) -> Self {
        Pace { rate, started: tokio::time::Instant::now(), bytes: 0 }
    }

    fn due_after(&mut self, bytes: usize) -> Option<tokio::time::Instant> {
        let rate = self.rate?;
        self.bytes += bytes as u64;
        Some(self.started + Duration::from_secs_f64(self.bytes as f64 / rate as f64))
    }

    async fn wait_after(&mut self, bytes: usize) {
        if let Some(due) = self.due_after(bytes) {
            tokio::time::sleep_until(due).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_spreads_the_bytes_over_the_rate() {
        let mut unpaced = Pace::new(None);
        assert_eq!(unpaced.due_after(1 << 20), None);
        let mut paced = Pace::new(Some(1000));
        let started = paced.started;
        assert_eq!(paced.due_after(500), Some(started + Duration::from_millis(500)));
        assert_eq!(paced.due_after(1500), Some(started + Duration::from_secs(2)));
    }
}
