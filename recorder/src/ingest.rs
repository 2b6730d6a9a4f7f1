//! Ingest of copied material: a stream of framed records (the playback format) merged into a
//! channel's archive. A request is all or nothing: records are checked and written to a staged
//! segment that becomes visible only when the whole body has arrived intact. Ingest is
//! idempotent: a record whose natural key (channel, time, origin, SHA-256 of the payload) is
//! already in the archive, or earlier in the same request, is counted and dropped.

use crate::archive::channel::ChannelArchive;
use crate::archive::reader::RangeReader;
use crate::archive::segment::SegmentWriter;
use crate::time::{Micros, TimeRange, format_micros};
use crate::wire::{Frame, FrameDecoder, FrameError};
use agent_api::{ChannelKind, IngestOutcome};
use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Records are checked against the archive in batches of about this many bytes: big enough to
/// make one range read per batch cheap, small enough to keep memory flat.
const BATCH: usize = 4 * 1024 * 1024;
/// How far ahead of this agent's clock a record may be dated: clocks of peers differ a little,
/// but a record from the future would outlive every genuine one under retention.
pub const FUTURE_TOLERANCE: Micros = 5_000_000;
/// A body that sends nothing for this long is given up, so that a stalled client cannot hold
/// the channel's ingest (and with it material copying) for ever.
pub const BODY_IDLE: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("record {index} (at byte {offset} of the body) is not a valid record: {error}")]
    Frame { index: u64, offset: u64, error: FrameError },
    #[error("the body ends inside record {index} (at byte {offset}); nothing was stored")]
    Truncated { index: u64, offset: u64 },
    #[error("record {index} is older than the record before it; records must come in time order")]
    OutOfOrder { index: u64 },
    #[error("record {index}: {message}")]
    Payload { index: u64, message: String },
    #[error(
        "record {index} is dated {at}, outside what this ingest may store ({window}); nothing was stored"
    )]
    OutsideWindow { index: u64, at: String, window: String },
    #[error("the request body could not be read: {0}")]
    Body(String),
    #[error("the archive could not store the records: {0}")]
    Io(#[from] std::io::Error),
}

/// SHA-256 of a payload: with time and origin, a record's natural key. It is computed only
/// where a record shares its time and origin with another, so a copy into a fresh range hashes
/// nothing.
type PayloadHash = [u8; 32];

/// A record staged at the latest timestamp: where its payload is in the batch, or (once the
/// batch is gone, or when compared) its hash.
enum Staged {
    InBatch(usize, usize),
    Hashed(PayloadHash),
}

impl Staged {
    fn hash(&mut self, batch: &[u8]) -> PayloadHash {
        let hash = match *self {
            Staged::InBatch(start, len) => {
                payload_hash(Frame::trusted(&batch[start..start + len]).payload())
            }
            Staged::Hashed(hash) => hash,
        };
        *self = Staged::Hashed(hash);
        hash
    }
}

fn payload_hash(payload: &[u8]) -> PayloadHash {
    Sha256::digest(payload).into()
}

/// One ingest in progress (blocking; driven by [`ingest_stream`]).
pub struct Ingest {
    channel: Arc<ChannelArchive>,
    /// Only records dated inside may be stored.
    window: TimeRange,
    decoder: FrameDecoder,
    /// Checked frames not yet compared with the archive, back to back.
    batch: Vec<u8>,
    batch_frames: Vec<(usize, usize)>,
    staged: Option<SegmentWriter>,
    last_ts: Option<Micros>,
    /// Records staged at the latest timestamp, by origin: in a time-ordered body a repeated
    /// record can only repeat one with the same timestamp.
    recent_ts: Option<Micros>,
    recent: Vec<(String, Staged)>,
    outcome: IngestOutcome,
}

impl Ingest {
    pub fn new(channel: Arc<ChannelArchive>, window: TimeRange) -> Self {
        Ingest {
            channel,
            window,
            decoder: FrameDecoder::default(),
            batch: Vec::new(),
            batch_frames: Vec::new(),
            staged: None,
            last_ts: None,
            recent_ts: None,
            recent: Vec::new(),
            outcome: IngestOutcome::default(),
        }
    }

    pub fn push(&mut self, chunk: &[u8]) -> Result<(), IngestError> {
        self.decoder.push(chunk);
        loop {
            let index = self.outcome.received;
            let offset = self.decoder.offset();
            let frame = match self.decoder.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(error) => return Err(IngestError::Frame { index, offset, error }),
            };
            let timestamp = frame.timestamp();
            if self.last_ts.is_some_and(|last| timestamp < last) {
                return Err(IngestError::OutOfOrder { index });
            }
            if !self.window.contains(timestamp) {
                return Err(IngestError::OutsideWindow {
                    index,
                    at: format_micros(timestamp),
                    window: describe(&self.window),
                });
            }
            check_payload(self.channel.kind, frame.payload())
                .map_err(|message| IngestError::Payload { index, message })?;
            self.last_ts = Some(timestamp);
            let start = self.batch.len();
            self.batch.extend_from_slice(frame.bytes());
            self.batch_frames.push((start, frame.bytes().len()));
            self.outcome.received += 1;
            if self.batch.len() >= BATCH {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Ends the body: everything checked and written, the staged segment committed.
    pub fn finish(mut self) -> Result<IngestOutcome, IngestError> {
        let result = self.finish_inner();
        if result.is_err() {
            self.abandon();
        }
        result
    }

    fn finish_inner(&mut self) -> Result<IngestOutcome, IngestError> {
        if self.decoder.finish().is_err() {
            return Err(IngestError::Truncated {
                index: self.outcome.received,
                offset: self.decoder.offset(),
            });
        }
        self.flush()?;
        if let Some(writer) = self.staged.take() {
            self.channel.commit_staged(writer)?;
        }
        Ok(self.outcome)
    }

    /// Drops everything staged: the archive is as it was before the request.
    pub fn abandon(&mut self) {
        if let Some(writer) = self.staged.take()
            && let Err(error) = writer.abandon()
        {
            tracing::warn!(channel = %self.channel.id, %error, "cannot remove a staged ingest; it is removed on the next start");
        }
    }

    fn flush(&mut self) -> Result<(), IngestError> {
        let (Some(&(first, _)), Some(&(last, last_len))) =
            (self.batch_frames.first(), self.batch_frames.last())
        else {
            return Ok(());
        };
        let first_ts = Frame::trusted(&self.batch[first..]).timestamp();
        let last_ts = Frame::trusted(&self.batch[last..last + last_len]).timestamp();
        let existing = self.existing_payloads(first_ts, last_ts)?;
        for &(start, len) in &self.batch_frames {
            let frame = Frame::trusted(&self.batch[start..start + len]);
            let (timestamp, origin) = (frame.timestamp(), frame.origin());
            if self.recent_ts != Some(timestamp) {
                self.recent.clear();
                self.recent_ts = Some(timestamp);
            }
            let archived: Vec<&PayloadHash> = existing
                .get(&timestamp)
                .into_iter()
                .flatten()
                .filter(|(other, _)| other == origin)
                .map(|(_, hash)| hash)
                .collect();
            let staged_here = self.recent.iter().any(|(other, _)| other == origin);
            let staged = if archived.is_empty() && !staged_here {
                Staged::InBatch(start, len)
            } else {
                let hash = payload_hash(frame.payload());
                let batch = &self.batch;
                let repeated = archived.contains(&&hash)
                    || self
                        .recent
                        .iter_mut()
                        .filter(|(other, _)| other == origin)
                        .any(|(_, staged)| staged.hash(batch) == hash);
                if repeated {
                    self.outcome.duplicates += 1;
                    continue;
                }
                Staged::Hashed(hash)
            };
            self.recent.push((origin.to_owned(), staged));
            let writer = match &mut self.staged {
                Some(writer) => writer,
                None => self.staged.insert(self.channel.start_staged_segment()?),
            };
            writer.append(&frame)?;
            self.outcome.stored += 1;
            self.outcome.bytes_stored += frame.payload().len() as u64;
        }
        // The batch goes; what the next one may repeat keeps its hash.
        for (_, staged) in &mut self.recent {
            staged.hash(&self.batch);
        }
        self.batch.clear();
        self.batch_frames.clear();
        Ok(())
    }

    /// Origins and payload hashes of the archived records at the timestamps of the batch.
    fn existing_payloads(
        &self,
        first: Micros,
        last: Micros,
    ) -> std::io::Result<HashMap<Micros, Vec<(String, PayloadHash)>>> {
        let range = TimeRange { from: first, to: last.saturating_add(1) };
        let views = self.channel.views(&range);
        let mut existing: HashMap<Micros, Vec<(String, PayloadHash)>> = HashMap::new();
        if views.is_empty() {
            return Ok(existing);
        }
        let wanted: HashSet<Micros> = self
            .batch_frames
            .iter()
            .map(|&(start, len)| Frame::trusted(&self.batch[start..start + len]).timestamp())
            .collect();
        let mut reader = RangeReader::new(views, range, None);
        while let Some(frame) = reader.next_frame()? {
            if wanted.contains(&frame.timestamp()) {
                existing
                    .entry(frame.timestamp())
                    .or_default()
                    .push((frame.origin().to_owned(), payload_hash(frame.payload())));
            }
        }
        Ok(existing)
    }
}

/// What a payload of each kind must be, so search and display can rely on it.
fn check_payload(kind: ChannelKind, payload: &[u8]) -> Result<(), String> {
    let json = || {
        serde_json::from_slice::<serde_json::Value>(payload)
            .map_err(|e| format!("a {kind} payload must be JSON ({e})"))
    };
    match kind {
        ChannelKind::Audio | ChannelKind::Video => Ok(()),
        ChannelKind::Text => std::str::from_utf8(payload)
            .map(|_| ())
            .map_err(|_| "a text payload must be UTF-8".into()),
        ChannelKind::Metadata => json().map(|_| ()),
        ChannelKind::Anpr => match json()?.get("plate") {
            Some(serde_json::Value::String(_)) => Ok(()),
            _ => Err("an ANPR payload needs a \"plate\" string".into()),
        },
        ChannelKind::Alarm => match json()?.get("alarm_id") {
            Some(id) if id.is_u64() => Ok(()),
            _ => Err("an alarm payload needs an unsigned \"alarm_id\"".into()),
        },
    }
}

/// The window of an ingest: at most `allowed`, and never later than a little after now.
pub fn window(allowed: TimeRange, now: Micros) -> TimeRange {
    TimeRange { from: allowed.from, to: allowed.to.min(now.saturating_add(FUTURE_TOLERANCE)) }
}

fn describe(window: &TimeRange) -> String {
    match (window.from, window.to) {
        (Micros::MIN, to) => format!("before {}", format_micros(to)),
        (from, to) => format!("{} to {}", format_micros(from), format_micros(to)),
    }
}

/// Ingests a body stream into `channel`, one ingest per channel at a time, storing only
/// records dated inside `window` (see [`window`]).
pub async fn ingest_stream<S, E>(
    channel: Arc<ChannelArchive>,
    window: TimeRange,
    mut body: S,
) -> Result<IngestOutcome, IngestError>
where
    S: futures::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let guard_channel = channel.clone();
    let _exclusive = guard_channel.ingest_lock.lock().await;
    // `Err(())` tells the worker the body broke off: it must not commit what it has.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Result<Bytes, ()>>(4);
    let worker = tokio::task::spawn_blocking(move || {
        let mut ingest = Ingest::new(channel, window);
        while let Some(message) = receiver.blocking_recv() {
            let result = match message {
                Ok(chunk) => ingest.push(&chunk),
                Err(()) => Err(IngestError::Body("the body broke off".into())),
            };
            if let Err(error) = result {
                ingest.abandon();
                return Err(error);
            }
        }
        ingest.finish()
    });
    let mut body_error = None;
    loop {
        let Ok(next) = tokio::time::timeout(BODY_IDLE, body.next()).await else {
            body_error = Some(format!("no data for {} s", BODY_IDLE.as_secs()));
            let _ = sender.send(Err(())).await;
            break;
        };
        let Some(chunk) = next else { break };
        match chunk {
            Ok(chunk) => {
                if sender.send(Ok(chunk)).await.is_err() {
                    break; // The worker stopped on an error; it reports it below.
                }
            }
            Err(error) => {
                body_error = Some(error.to_string());
                let _ = sender.send(Err(())).await;
                break;
            }
        }
    }
    drop(sender);
    let result = worker.await.map_err(|e| IngestError::Io(std::io::Error::other(e)))?;
    match (result, body_error) {
        (Err(_), Some(body_error)) => Err(IngestError::Body(body_error)),
        (result, _) => result,
    }
}
