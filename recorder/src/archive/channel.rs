//! One channel's part of the archive: a directory of segments, what is known about each, and
//! the operations that keep that knowledge and the files in step.

use super::ArchiveError;
use super::index::IndexEntry;
use super::reader::SegmentView;
use super::segment::{self, Recovered, SegmentInfo, SegmentWriter};
use crate::time::{Micros, TimeRange};
use crate::wire::Frame;
use agent_api::ChannelKind;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

const CHANNEL_FILE: &str = "channel.json";

#[derive(Debug, Serialize, Deserialize)]
struct ChannelFile {
    id: String,
    kind: ChannelKind,
}

#[derive(Debug, Default)]
struct ChannelState {
    segments: BTreeMap<u64, SegmentInfo>,
    /// Visible segments still being appended to: retention leaves them alone.
    writing: BTreeSet<u64>,
    next_id: u64,
}

/// A segment's size and age, for retention.
#[derive(Debug, Clone, Copy)]
pub struct SegmentSummary {
    pub id: u64,
    pub len: u64,
    pub last_ts: Micros,
}

#[derive(Debug)]
pub struct ChannelArchive {
    pub id: String,
    pub kind: ChannelKind,
    dir: PathBuf,
    state: Mutex<ChannelState>,
    /// Held for a whole ingest, so two ingests of the same records cannot both find them
    /// missing and both store them.
    pub ingest_lock: tokio::sync::Mutex<()>,
}

impl ChannelArchive {
    /// Creates the directory of a new channel.
    pub(super) fn create(dir: PathBuf, id: &str, kind: ChannelKind) -> Result<Self, ArchiveError> {
        let io = |source| {
            ArchiveError::io(format!("creating channel directory {}", dir.display()), source)
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let text = serde_json::to_vec(&ChannelFile { id: id.to_owned(), kind })
            .map_err(|e| ArchiveError::io("encoding channel.json", std::io::Error::other(e)))?;
        let aside = dir.join("channel.json.tmp");
        std::fs::write(&aside, text).map_err(io)?;
        std::fs::rename(&aside, dir.join(CHANNEL_FILE)).map_err(io)?;
        segment::sync_dir(&dir).map_err(io)?;
        Ok(Self::empty(dir, id.to_owned(), kind))
    }

    fn empty(dir: PathBuf, id: String, kind: ChannelKind) -> Self {
        ChannelArchive {
            id,
            kind,
            dir,
            state: Mutex::new(ChannelState { next_id: 1, ..ChannelState::default() }),
            ingest_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Opens a channel directory after a start: removes what a crash left half-done (staged
    /// ingests, indexes without data) and recovers every segment's tail.
    pub(super) fn open(dir: PathBuf) -> Result<Self, ArchiveError> {
        let describe = |what: &str| format!("{what} in {}", dir.display());
        let text = std::fs::read(dir.join(CHANNEL_FILE))
            .map_err(|e| ArchiveError::io(describe("reading channel.json"), e))?;
        let file: ChannelFile = serde_json::from_slice(&text).map_err(|e| {
            ArchiveError::io(describe("parsing channel.json"), std::io::Error::other(e))
        })?;
        let channel = Self::empty(dir.clone(), file.id, file.kind);
        let mut ids = Vec::new();
        let mut indexes = Vec::new();
        let entries =
            std::fs::read_dir(&dir).map_err(|e| ArchiveError::io(describe("listing"), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| ArchiveError::io(describe("listing"), e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if segment::is_staged(&name) {
                tracing::info!(channel = %channel.id, file = %name, "removing an unfinished ingest or index rewrite");
                segment::remove_if_exists(&entry.path())
                    .map_err(|e| ArchiveError::io(describe("removing a staged file"), e))?;
            } else if let Some(id) = segment::segment_id(&name) {
                ids.push(id);
            } else if let Some(id) = name.strip_suffix(".idx").and_then(|n| n.parse::<u64>().ok()) {
                indexes.push(id);
            }
        }
        ids.sort_unstable();
        for id in indexes {
            if ids.binary_search(&id).is_err() {
                // Data is deleted before its index, and committed after it: an index alone is
                // garbage from a deletion or an ingest cut short.
                segment::remove_if_exists(&segment::index_path(&dir, id))
                    .map_err(|e| ArchiveError::io(describe("removing an orphan index"), e))?;
            }
        }
        {
            let mut state = channel.lock();
            state.next_id = ids.last().map_or(1, |last| last + 1);
            for id in ids {
                let recovered = segment::recover(&dir, id).map_err(|e| {
                    ArchiveError::io(
                        format!("recovering segment {id} of channel {}", channel.id),
                        e,
                    )
                })?;
                match recovered {
                    Recovered::Segment { info, cut_bytes } => {
                        if cut_bytes > 0 {
                            tracing::warn!(channel = %channel.id, segment = id, cut_bytes,
                                "cut a torn or damaged tail off a segment");
                        }
                        state.segments.insert(id, info);
                    }
                    Recovered::Empty => {
                        tracing::info!(channel = %channel.id, segment = id, "removed a segment without records");
                    }
                    Recovered::Foreign => {
                        tracing::error!(channel = %channel.id, segment = id,
                            "a segment file has a foreign header; renamed aside as .corrupt");
                    }
                }
            }
        }
        Ok(channel)
    }

    fn lock(&self) -> MutexGuard<'_, ChannelState> {
        // A panic while holding the lock cannot leave the map half-updated in a way that matters
        // more than stopping recording would, so a poisoned lock is used as it is.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts a segment that readers see as it grows (recording).
    pub fn start_segment(&self) -> std::io::Result<SegmentWriter> {
        let mut state = self.lock();
        let id = state.next_id;
        state.next_id += 1;
        let writer = SegmentWriter::create(&self.dir, id, false)?;
        state.segments.insert(id, writer.info().clone());
        state.writing.insert(id);
        Ok(writer)
    }

    /// Starts a segment that nobody sees until [`commit_staged`](Self::commit_staged) (ingest).
    pub fn start_staged_segment(&self) -> std::io::Result<SegmentWriter> {
        let id = {
            let mut state = self.lock();
            state.next_id += 1;
            state.next_id - 1
        };
        SegmentWriter::create(&self.dir, id, true)
    }

    /// Appends to a segment from [`start_segment`](Self::start_segment) and publishes the new
    /// length to readers.
    pub fn append(&self, writer: &mut SegmentWriter, frame: &Frame<'_>) -> std::io::Result<()> {
        let entry = writer.append(frame)?;
        let mut state = self.lock();
        if let Some(info) = state.segments.get_mut(&writer.id()) {
            publish(info, writer.info(), entry);
        }
        Ok(())
    }

    /// Ends a recording segment: synced and left to retention, or removed if it got nothing.
    pub fn finish_segment(&self, mut writer: SegmentWriter) -> std::io::Result<()> {
        let id = writer.id();
        let empty = writer.info().is_empty();
        let synced = writer.sync();
        let mut state = self.lock();
        state.writing.remove(&id);
        if empty {
            state.segments.remove(&id);
            drop(state);
            writer.abandon()?;
        }
        synced
    }

    pub fn commit_staged(&self, writer: SegmentWriter) -> std::io::Result<()> {
        if writer.info().is_empty() {
            return writer.abandon();
        }
        let info = writer.commit()?;
        self.lock().segments.insert(info.id, info);
        Ok(())
    }

    /// The segments that may hold records of `range`, each with where to start reading.
    pub fn views(&self, range: &TimeRange) -> Vec<SegmentView> {
        self.views_from(range, |s| super::index::start_offset(&s.index, range.from))
            .into_iter()
            .map(|(view, _)| view)
            .collect()
    }

    /// Every segment with records in `range`, read from its first record, and whether it is
    /// still being written to: what a removal of recordings must look at whole.
    pub fn whole_views(&self, range: &TimeRange) -> Vec<(SegmentView, bool)> {
        self.views_from(range, |s| s.index.first().map(|entry| entry.offset))
    }

    /// The segments with records in `range`, each read from where `start` says, and whether it
    /// is still being written to.
    fn views_from(
        &self,
        range: &TimeRange,
        start: impl Fn(&SegmentInfo) -> Option<u64>,
    ) -> Vec<(SegmentView, bool)> {
        let state = self.lock();
        state
            .segments
            .values()
            .filter(|s| !s.is_empty() && s.first_ts < range.to && s.last_ts >= range.from)
            .filter_map(|s| {
                let view = SegmentView {
                    id: s.id,
                    path: segment::data_path(&self.dir, s.id),
                    start: start(s)?,
                    end: s.len,
                    first_ts: s.first_ts,
                };
                Some((view, state.writing.contains(&s.id)))
            })
            .collect()
    }

    /// Segments retention may delete (all but those being written).
    pub fn retention_candidates(&self) -> Vec<SegmentSummary> {
        let state = self.lock();
        state
            .segments
            .values()
            .filter(|s| !state.writing.contains(&s.id))
            .map(|s| SegmentSummary { id: s.id, len: s.len, last_ts: s.last_ts })
            .collect()
    }

    /// Deletes a segment: forgotten first (new reads skip it, open ones keep their file
    /// handle), then the data file, then its index.
    pub fn delete_segment(&self, id: u64) -> std::io::Result<()> {
        {
            let mut state = self.lock();
            if state.writing.contains(&id) || state.segments.remove(&id).is_none() {
                return Ok(());
            }
        }
        segment::remove_if_exists(&segment::data_path(&self.dir, id))?;
        segment::remove_if_exists(&segment::index_path(&self.dir, id))
    }

    /// Bytes on disk in this channel's segments.
    pub fn bytes(&self) -> u64 {
        self.lock().segments.values().map(|s| s.len).sum()
    }

    /// The highest sequence number among segments whose last record came from `origin`, so a
    /// restarted recorder continues its numbering.
    pub fn last_sequence(&self, origin: &str) -> Option<u64> {
        let state = self.lock();
        state.segments.values().filter(|s| s.last_origin == origin).map(|s| s.last_sequence).max()
    }

    /// Number of segments (tests and logs).
    pub fn segment_count(&self) -> usize {
        self.lock().segments.len()
    }
}

fn publish(info: &mut SegmentInfo, written: &SegmentInfo, entry: Option<IndexEntry>) {
    info.len = written.len;
    info.first_ts = written.first_ts;
    info.last_ts = written.last_ts;
    info.last_sequence = written.last_sequence;
    if info.last_origin != written.last_origin {
        info.last_origin.clone_from(&written.last_origin);
    }
    if let Some(entry) = entry {
        info.index.push(entry);
    }
}
