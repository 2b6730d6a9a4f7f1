//! The worker: one task at a time, the oldest waiting first; channel by channel, slice by slice,
//! saving each channel's position after every slice, then verifying the period channel by
//! channel against the failover server's digests.

use super::pull::{Pace, PullClient, Slice, Unreachable};
use super::queue::{QueueError, TaskQueue, channel_of, copied_until_micros};
use crate::archive::{Archive, ArchiveError};
use crate::digest;
use crate::ingest::{self, IngestError};
use crate::time::{Micros, TimeRange, micros_to_time, now_micros};
use agent_api::{ChannelKind, CopyStatus};
use bytes::Bytes;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// After a failed attempt (source unreachable, error), the task waits this long.
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// An idle worker looks at the queue at least this often, whatever it was told.
const IDLE_LOOK: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy)]
pub struct CopyConfig {
    /// Length of one slice of the period: the unit of resumption.
    pub slice: Micros,
    /// Bytes per second a copy may pull; `None`: as fast as the network allows.
    pub max_rate: Option<u64>,
}

/// Why an attempt stopped; the sentence becomes the task's `error` and the attempt is retried.
#[derive(Debug, thiserror::Error)]
enum Interrupted {
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    #[error("verification: {0}")]
    Verification(Unreachable),
    #[error("channel {channel}: {error}")]
    NotStored { channel: String, error: IngestError },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("the period is empty: {0}")]
    Period(String),
    #[error("the copied channel vanished")]
    ChannelVanished,
    #[error("the task vanished")]
    TaskVanished,
    #[error("digesting the copy: {0}")]
    Digest(String),
}

pub struct Worker {
    pub archive: Arc<Archive>,
    pub queue: Arc<TaskQueue>,
    pub pull: PullClient,
    pub config: CopyConfig,
}

impl Worker {
    pub async fn run(self) {
        loop {
            match self.queue.next_waiting() {
                Some(id) => {
                    if let Err(error) = self.process(id).await {
                        tracing::warn!(task = id, %error, "material copy interrupted; it resumes later");
                        if let Err(why) = self.queue.requeue(id, error.to_string()) {
                            tracing::error!(task = id, %why, "the interrupted copy's state was not saved");
                        }
                        tokio::time::sleep(RETRY_AFTER).await;
                    }
                }
                None => {
                    let _ = tokio::time::timeout(IDLE_LOOK, self.queue.changed()).await;
                }
            }
        }
    }

    /// Copies the task's channels one by one, slice by slice, then verifies them.
    async fn process(&self, id: i64) -> Result<(), Interrupted> {
        let Some(task) = self.queue.get(id) else {
            return Ok(());
        };
        let (from, to) = (task.from.timestamp_micros(), task.to.timestamp_micros());
        let mut pace = Pace::new(self.config.max_rate);
        self.queue.set(id, |task| task.status = CopyStatus::Copying)?;
        for channel in task.channels.iter().filter(|channel| channel.status != CopyStatus::Done) {
            let local = self.archive.ensure_channel(&channel.channel, channel.kind)?;
            let mut position = copied_until_micros(channel).unwrap_or(from).max(from);
            self.queue.set_channel(id, &channel.channel, |state| {
                state.status = CopyStatus::Copying;
            })?;
            while position < to {
                let end = (position + self.config.slice).min(to);
                // Read every slice: UpdateClientInfo may have moved the source meanwhile.
                let source = self.queue.get(id).ok_or(Interrupted::TaskVanished)?.source;
                let slice =
                    Slice { source: &source, channel: &channel.channel, from: position, to: end };
                // Only what the slice covers: a source cannot slip other times in.
                let window = ingest::window(TimeRange { from: position, to: end }, now_micros());
                let not_stored =
                    |error| Interrupted::NotStored { channel: channel.channel.clone(), error };
                let outcome = match channel.kind {
                    ChannelKind::Anpr | ChannelKind::Alarm => {
                        let body = self.pull.events(slice, channel.kind, &mut pace).await?;
                        let body =
                            futures::stream::once(
                                async move { Ok::<_, Infallible>(Bytes::from(body)) },
                            );
                        ingest::ingest_stream(local.clone(), window, Box::pin(body)).await
                    }
                    _ => {
                        let body = self.pull.playback(slice, &mut pace).await?;
                        ingest::ingest_stream(local.clone(), window, body).await
                    }
                }
                .map_err(not_stored)?;
                position = end;
                self.queue.set(id, |task| {
                    // A slice got through: whatever the task was waiting for is over.
                    task.error = None;
                    if let Some(state) = channel_of(task, &channel.channel) {
                        state.copied_until = Some(micros_to_time(end));
                        state.bytes += outcome.bytes_stored as i64;
                    }
                })?;
            }
            self.queue
                .set_channel(id, &channel.channel, |state| state.status = CopyStatus::Done)?;
        }
        self.verify(id, from, to).await
    }

    /// Equal digests of the period on both sides, channel by channel, or the task fails naming
    /// them.
    async fn verify(&self, id: i64, from: Micros, to: Micros) -> Result<(), Interrupted> {
        let Some(task) = self.queue.get(id) else {
            return Ok(());
        };
        let range = TimeRange::new(from, to).map_err(Interrupted::Period)?;
        let mut different = Vec::new();
        for channel in &task.channels {
            let local =
                self.archive.channel(&channel.channel).ok_or(Interrupted::ChannelVanished)?;
            let origin = Some(task.source.name.clone());
            let slice = Slice { source: &task.source, channel: &channel.channel, from, to };
            // Both sides read the whole period: at the same time, not one after the other.
            let (theirs, ours) = tokio::join!(
                self.pull.digest(slice),
                tokio::task::spawn_blocking(move || digest::digest(&local, range, origin))
            );
            let theirs = theirs.map_err(Interrupted::Verification)?;
            let ours = ours
                .map_err(|error| Interrupted::Digest(error.to_string()))?
                .map_err(|error| Interrupted::Digest(error.to_string()))?;
            if ours != theirs {
                different.push(channel.channel.clone());
            }
        }
        self.queue.set(id, |task| {
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
        })?;
        Ok(())
    }
}
