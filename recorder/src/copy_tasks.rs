//! The material-copy task service (the seed's DVRFailoverService): StartDataCopy,
//! UpdateClientInfo and UpdateFailoverTaskStates. Tasks live in `copy-tasks.json` in the data
//! directory (written whole, synced and renamed, so a SIGKILL leaves the old or the new file) and
//! are processed one by one by a background worker, channel by channel, in time slices: after
//! every slice the channel's position is saved, so a task resumes where it stopped.

use crate::agent::Agent;
use crate::archive::channel::ChannelArchive;
use crate::digest;
use crate::error::ApiError;
use crate::ingest;
use crate::time::{Micros, TimeRange, ceil_micros, format_micros, micros_to_time, now_micros};
use crate::wire;
use agent_api::{
    Channel, ChannelCopyState, ChannelKind, CopyStatus, CopyTask, Digest, IngestOutcome, Peer,
    SearchPage, StartDataCopy,
};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Deserialize;
use std::convert::Infallible;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// ANPR reads or alarms asked for per search request (the search service's maximum).
const EVENT_PAGE: usize = 1000;
/// After a failed attempt (source unreachable, error), the task waits this long.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Back in the queue, the channel under way with it: nothing is copying until the worker takes
/// the task up again.
fn requeue(task: &mut CopyTask) {
    task.status = CopyStatus::Queued;
    for channel in &mut task.channels {
        if channel.status == CopyStatus::Copying {
            channel.status = CopyStatus::Queued;
        }
    }
}

/// Everything before this instant is copied.
fn copied_until_micros(channel: &ChannelCopyState) -> Option<Micros> {
    channel.copied_until.map(|time| time.timestamp_micros())
}

#[derive(Debug, Clone, Copy)]
pub struct CopyConfig {
    /// Length of one slice of the period: the unit of resumption.
    pub slice: Micros,
    /// Bytes per second a copy may pull; `None`: as fast as the network allows.
    pub max_rate: Option<u64>,
}

/// The tasks and where they are kept.
pub struct CopyService {
    config: CopyConfig,
    path: PathBuf,
    tasks: Mutex<Vec<CopyTask>>,
    wake: tokio::sync::Notify,
    http: reqwest::Client,
}

impl CopyService {
    pub fn open(data_dir: &FsPath, config: CopyConfig) -> std::io::Result<Self> {
        let path = data_dir.join("copy-tasks.json");
        let mut tasks: Vec<CopyTask> = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other)?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(error),
        };
        for task in &mut tasks {
            // A task interrupted mid-copy goes on where its channels stopped.
            if task.status == CopyStatus::Copying {
                requeue(task);
            }
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(CopyService {
            config,
            path,
            tasks: Mutex::new(tasks),
            wake: tokio::sync::Notify::new(),
            http,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<CopyTask>> {
        self.tasks.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    fn save(&self, tasks: &[CopyTask]) -> std::io::Result<()> {
        let temporary = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(tasks).map_err(std::io::Error::other)?;
        {
            use std::io::Write;
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
        }
        std::fs::rename(&temporary, &self.path)
    }

    fn update<T>(&self, change: impl FnOnce(&mut Vec<CopyTask>) -> T) -> Result<T, ApiError> {
        let mut tasks = self.lock();
        let answer = change(&mut tasks);
        self.save(&tasks)
            .map_err(|error| ApiError::Internal(format!("saving the copy tasks: {error}")))?;
        Ok(answer)
    }
}

/// Now, to the microsecond, as every time the task service reports.
fn now() -> DateTime<Utc> {
    micros_to_time(now_micros())
}

/// StartDataCopy.
pub async fn start(
    State(agent): State<Arc<Agent>>,
    body: Result<Json<StartDataCopy>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<CopyTask>), ApiError> {
    let Json(request) =
        body.map_err(|rejection| ApiError::invalid_field("body", rejection.body_text()))?;
    let service = agent.copies.clone();
    let from = ceil_micros(request.from)
        .ok_or_else(|| ApiError::invalid_field("from", "is out of range"))?;
    let to =
        ceil_micros(request.to).ok_or_else(|| ApiError::invalid_field("to", "is out of range"))?;
    if from >= to {
        return Err(ApiError::invalid_field("to", "must be after from"));
    }
    if reqwest::Url::parse(&request.source.address).is_err() {
        return Err(ApiError::invalid_field("source.address", "is not a URL"));
    }
    let channels = if request.channels.is_empty() {
        source_channels(&service.http, &request.source).await?
    } else {
        request.channels.into_iter().map(|channel| (channel.id, channel.kind)).collect()
    };
    let answer = service.update(|tasks| {
        if let Some(task) = tasks.iter_mut().find(|task| task.failover_id == request.failover_id) {
            // The same failover again: one task. A failed one is retried.
            if task.status == CopyStatus::Failed {
                task.status = CopyStatus::Queued;
                task.error = None;
                for channel in &mut task.channels {
                    if channel.status == CopyStatus::Failed {
                        channel.status = CopyStatus::Queued;
                        channel.copied_until = None;
                        channel.bytes = 0;
                    }
                }
            }
            return (StatusCode::OK, task.clone());
        }
        let id = tasks.iter().map(|task| task.id).max().unwrap_or(0) + 1;
        let task = CopyTask {
            id,
            failover_id: request.failover_id,
            status: CopyStatus::Queued,
            source: request.source,
            recorder: request.recorder,
            from: micros_to_time(from),
            to: micros_to_time(to),
            error: None,
            channels: channels
                .into_iter()
                .map(|(channel, kind)| ChannelCopyState {
                    channel,
                    kind,
                    status: CopyStatus::Queued,
                    copied_until: None,
                    bytes: 0,
                })
                .collect(),
            created_at: now(),
            updated_at: now(),
        };
        tasks.push(task.clone());
        (StatusCode::CREATED, task)
    })?;
    service.wake.notify_one();
    Ok((answer.0, Json(answer.1)))
}

async fn source_channels(
    http: &reqwest::Client,
    source: &Peer,
) -> Result<Vec<(String, ChannelKind)>, ApiError> {
    let url = format!("{}{}", source.address.trim_end_matches('/'), agent_api::paths::CHANNELS);
    let entries: Vec<Channel> =
        async { http.get(url).send().await?.error_for_status()?.json().await }.await.map_err(
            |error| {
                ApiError::Conflict(format!(
                    "the failover server {} could not list its channels: {error}",
                    source.name
                ))
            },
        )?;
    Ok(entries.into_iter().map(|entry| (entry.id, entry.kind)).collect())
}

#[derive(Deserialize)]
pub struct ListQuery {
    failover_id: Option<i64>,
}

/// UpdateFailoverTaskStates: every task, or the one of a failover.
pub async fn list(
    State(agent): State<Arc<Agent>>,
    Query(query): Query<ListQuery>,
) -> Json<Vec<CopyTask>> {
    let tasks = agent.copies.lock();
    Json(
        tasks
            .iter()
            .filter(|task| query.failover_id.is_none_or(|id| task.failover_id == id))
            .cloned()
            .collect(),
    )
}

pub async fn one(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<i64>,
) -> Result<Json<CopyTask>, ApiError> {
    let tasks = agent.copies.lock();
    tasks
        .iter()
        .find(|task| task.id == id)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("There is no copy task {id}.")))
}

/// UpdateClientInfo: where the failover server is now.
pub async fn client_info(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<i64>,
    body: Result<Json<Peer>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<CopyTask>, ApiError> {
    let Json(peer) =
        body.map_err(|rejection| ApiError::invalid_field("body", rejection.body_text()))?;
    if reqwest::Url::parse(&peer.address).is_err() {
        return Err(ApiError::invalid_field("address", "is not a URL"));
    }
    let service = agent.copies.clone();
    let task = service.update(|tasks| {
        let task = tasks.iter_mut().find(|task| task.id == id)?;
        task.source = peer;
        task.updated_at = now();
        Some(task.clone())
    })?;
    service.wake.notify_one();
    task.map(Json).ok_or_else(|| ApiError::NotFound(format!("There is no copy task {id}.")))
}

/// The worker: one task at a time, the oldest waiting first.
pub async fn run(agent: Arc<Agent>) {
    loop {
        let next = agent
            .copies
            .lock()
            .iter()
            .find(|task| matches!(task.status, CopyStatus::Queued | CopyStatus::Copying))
            .map(|task| task.id);
        match next {
            Some(id) => {
                if let Err(error) = process(&agent, id).await {
                    tracing::warn!(task = id, %error, "material copy interrupted; it resumes later");
                    let requeued = set(&agent.copies, id, |task| {
                        requeue(task);
                        task.error = Some(error.clone());
                    });
                    if let Err(why) = requeued {
                        tracing::error!(task = id, %why, "the interrupted copy's state was not saved");
                    }
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
            None => {
                let _ = tokio::time::timeout(Duration::from_secs(5), agent.copies.wake.notified())
                    .await;
            }
        }
    }
}

/// Copies the task's channels one by one, slice by slice, then verifies them.
async fn process(agent: &Agent, id: i64) -> Result<(), String> {
    let service = &agent.copies;
    let Some(task) = service.lock().iter().find(|task| task.id == id).cloned() else {
        return Ok(());
    };
    let (from, to) = (task.from.timestamp_micros(), task.to.timestamp_micros());
    let mut pace = Pace::new(service.config.max_rate);
    set(service, id, |task| task.status = CopyStatus::Copying)?;
    for channel in task.channels.iter().filter(|channel| channel.status != CopyStatus::Done) {
        let local = agent
            .archive
            .ensure_channel(&channel.channel, channel.kind)
            .map_err(|error| error.to_string())?;
        let mut position = copied_until_micros(channel).unwrap_or(from).max(from);
        set_channel(service, id, &channel.channel, |state| state.status = CopyStatus::Copying)?;
        while position < to {
            let end = (position + service.config.slice).min(to);
            // Read every slice: UpdateClientInfo may have moved the source meanwhile.
            let source = service
                .lock()
                .iter()
                .find(|task| task.id == id)
                .map(|task| task.source.clone())
                .ok_or("task vanished")?;
            let pull =
                Pull { http: &service.http, source: &source, channel, from: position, to: end };
            let outcome = match channel.kind {
                ChannelKind::Anpr | ChannelKind::Alarm => {
                    pull.events(local.clone(), &mut pace).await
                }
                _ => pull.playback(local.clone(), &mut pace).await,
            }?;
            position = end;
            set(service, id, |task| {
                // A slice got through: whatever the task was waiting for is over.
                task.error = None;
                if let Some(state) = channel_of(task, &channel.channel) {
                    state.copied_until = Some(micros_to_time(end));
                    state.bytes += outcome.bytes_stored as i64;
                }
            })?;
        }
        set_channel(service, id, &channel.channel, |state| state.status = CopyStatus::Done)?;
    }
    verify(agent, id, from, to).await
}

/// Keeps a copy at or under `--copy-max-rate`: after each chunk it waits until the bytes
/// pulled so far are due.
struct Pace {
    rate: Option<u64>,
    started: tokio::time::Instant,
    bytes: u64,
}

impl Pace {
    fn new(rate: Option<u64>) -> Self {
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

/// One slice of one channel, pulled from the failover server into the local archive.
struct Pull<'a> {
    http: &'a reqwest::Client,
    source: &'a Peer,
    channel: &'a ChannelCopyState,
    from: Micros,
    to: Micros,
}

impl Pull<'_> {
    fn request(&self, service: &str) -> reqwest::RequestBuilder {
        source_request(
            self.http,
            self.source,
            &self.channel.channel,
            service,
            &format_micros(self.from),
            &format_micros(self.to),
        )
    }

    fn unreachable(&self) -> impl Fn(reqwest::Error) -> String + '_ {
        move |error| unreachable(self.source, &error)
    }

    fn not_stored(&self) -> impl Fn(ingest::IngestError) -> String + '_ {
        move |error| format!("channel {}: {error}", self.channel.channel)
    }

    /// Audio, video, text and metadata: the playback stream, straight into ingest.
    async fn playback(
        &self,
        local: Arc<ChannelArchive>,
        pace: &mut Pace,
    ) -> Result<IngestOutcome, String> {
        let response = self
            .request("playback")
            .send()
            .await
            .and_then(|response| response.error_for_status())
            .map_err(self.unreachable())?;
        let paced = response.bytes_stream().then(|chunk| {
            let due = chunk.as_ref().ok().and_then(|bytes| pace.due_after(bytes.len()));
            async move {
                if let Some(due) = due {
                    tokio::time::sleep_until(due).await;
                }
                chunk
            }
        });
        ingest::ingest_stream(local, Box::pin(paced)).await.map_err(self.not_stored())
    }

    /// ANPR reads and alarms: the paged search service (plain request/response), each item
    /// re-created as the record it was, then ingested as one body.
    async fn events(
        &self,
        local: Arc<ChannelArchive>,
        pace: &mut Pace,
    ) -> Result<IngestOutcome, String> {
        let service = match self.channel.kind {
            ChannelKind::Alarm => "alarms",
            _ => "anpr",
        };
        let mut body = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut request = self.request(service).query(&[("limit", EVENT_PAGE)]);
            if let Some(cursor) = &cursor {
                request = request.query(&[("cursor", cursor)]);
            }
            let page: SearchPage = async { request.send().await?.error_for_status()?.json().await }
                .await
                .map_err(self.unreachable())?;
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
        let body = futures::stream::once(async move { Ok::<_, Infallible>(Bytes::from(body)) });
        ingest::ingest_stream(local, Box::pin(body)).await.map_err(self.not_stored())
    }
}

/// A GET of one of the failover server's channel services (playback, anpr, alarms, digest)
/// over `[from, to)` of what it recorded itself.
fn source_request(
    http: &reqwest::Client,
    source: &Peer,
    channel: &str,
    service: &str,
    from: &str,
    to: &str,
) -> reqwest::RequestBuilder {
    let url =
        format!("{}/api/v1/channels/{channel}/{service}", source.address.trim_end_matches('/'));
    http.get(url).query(&[("from", from), ("to", to), ("origin", &source.name)])
}

/// Equal digests of the period on both sides, channel by channel, or the task fails naming them.
async fn verify(agent: &Agent, id: i64, from: Micros, to: Micros) -> Result<(), String> {
    let service = &agent.copies;
    let Some(task) = service.lock().iter().find(|task| task.id == id).cloned() else {
        return Ok(());
    };
    let range = TimeRange::new(from, to)?;
    let (from_text, to_text) = (format_micros(from), format_micros(to));
    let mut different = Vec::new();
    for channel in &task.channels {
        let request = source_request(
            &service.http,
            &task.source,
            &channel.channel,
            "digest",
            &from_text,
            &to_text,
        );
        let local = agent.archive.channel(&channel.channel).ok_or("the copied channel vanished")?;
        let origin = Some(task.source.name.clone());
        // Both sides read the whole period: at the same time, not one after the other.
        let (theirs, ours) = tokio::join!(
            async { request.send().await?.error_for_status()?.json::<Digest>().await },
            tokio::task::spawn_blocking(move || digest::digest(&local, range, origin))
        );
        let theirs = theirs
            .map_err(|error| format!("verification: {}", unreachable(&task.source, &error)))?;
        let ours = ours.map_err(|error| error.to_string())?.map_err(|error| error.to_string())?;
        if ours != theirs {
            different.push(channel.channel.clone());
        }
    }
    set(service, id, |task| {
        if different.is_empty() {
            task.status = CopyStatus::Done;
            task.error = None;
        } else {
            task.status = CopyStatus::Failed;
            task.error = Some(format!(
                "Verification failed: the copy differs from the failover server on {}.",
                different.join(", ")
            ));
            for channel in &mut task.channels {
                if different.contains(&channel.channel) {
                    channel.status = CopyStatus::Failed;
                }
            }
        }
    })
}

fn set(service: &CopyService, id: i64, change: impl FnOnce(&mut CopyTask)) -> Result<(), String> {
    service
        .update(|tasks| {
            if let Some(task) = tasks.iter_mut().find(|task| task.id == id) {
                change(task);
                task.updated_at = now();
            }
        })
        .map_err(|error| format!("{error:?}"))
}

fn set_channel(
    service: &CopyService,
    id: i64,
    channel: &str,
    change: impl FnOnce(&mut ChannelCopyState),
) -> Result<(), String> {
    set(service, id, |task| {
        if let Some(state) = channel_of(task, channel) {
            change(state);
        }
    })
}

fn channel_of<'a>(task: &'a mut CopyTask, channel: &str) -> Option<&'a mut ChannelCopyState> {
    task.channels.iter_mut().find(|state| state.channel == channel)
}

/// A sentence for the failover log: who, where, and the root cause, without the long URL.
fn unreachable(source: &Peer, error: &reqwest::Error) -> String {
    if let Some(status) = error.status() {
        return format!("{} at {} answered {status}.", source.name, source.address);
    }
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let cause =
        if error.is_timeout() { "it did not answer in time".to_owned() } else { cause.to_string() };
    format!("{} is not reachable at {} ({cause}).", source.name, source.address)
}
