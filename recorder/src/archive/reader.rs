//! Reading a channel's records for `[from, to)` in time order, merged across segments that
//! overlap in time (recorded segments and ingested ones), with memory bounded by the number of
//! segments open at once, never by the size of the range.

use crate::time::{Micros, TimeRange};
use crate::wire::{self, Frame, ReadError};
use std::cmp::Ordering;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::PathBuf;

/// A read-only snapshot of the part of one segment a range read needs.
#[derive(Debug, Clone)]
pub struct SegmentView {
    pub id: u64,
    pub path: PathBuf,
    /// Where to start reading (an index entry at or before the first wanted record).
    pub start: u64,
    /// Committed length when the snapshot was taken; bytes past it may be a record being written.
    pub end: u64,
    pub first_ts: Micros,
}

const READ_BUFFER: usize = 256 * 1024;

struct Cursor {
    id: u64,
    reader: BufReader<File>,
    pos: u64,
    end: u64,
    frame: Vec<u8>,
}

impl Cursor {
    /// Opens a segment; `None` if retention deleted it after the snapshot.
    fn open(view: &SegmentView) -> std::io::Result<Option<Cursor>> {
        let mut file = match File::open(&view.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::debug!(segment = view.id, "segment deleted before it was read");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        file.seek(SeekFrom::Start(view.start))?;
        Ok(Some(Cursor {
            id: view.id,
            reader: BufReader::with_capacity(READ_BUFFER, file),
            pos: view.start,
            end: view.end,
            frame: Vec::new(),
        }))
    }

    /// Moves to the next record in `range` (and of `origin`, if given). `false` when the segment
    /// has no more: records are in time order within a segment, so the first at or after `to`
    /// ends it. A record that fails its checksum ends the segment too, loudly: what follows
    /// cannot be framed reliably.
    fn advance(&mut self, range: &TimeRange, origin: Option<&str>) -> std::io::Result<bool> {
        loop {
            if self.pos >= self.end {
                return Ok(false);
            }
            match wire::read_frame(&mut self.reader, &mut self.frame) {
                Ok(true) => {}
                Ok(false) => return Ok(false),
                Err(ReadError::Io(e)) => return Err(e),
                Err(ReadError::Frame(error)) => {
                    tracing::error!(segment = self.id, offset = self.pos, %error,
                        "damaged record in the archive; the rest of this segment is skipped");
                    return Ok(false);
                }
            }
            self.pos += self.frame.len() as u64;
            if self.pos > self.end {
                return Ok(false);
            }
            let frame = Frame::trusted(&self.frame);
            let timestamp = frame.timestamp();
            if timestamp >= range.to {
                return Ok(false);
            }
            if timestamp < range.from || origin.is_some_and(|o| o != frame.origin()) {
                continue;
            }
            return Ok(true);
        }
    }

    fn frame(&self) -> Frame<'_> {
        Frame::trusted(&self.frame)
    }
}

/// The order of records everywhere (playback, digest, search): time, then origin, then
/// sequence. It depends only on the records, so two archives holding the same records agree.
pub fn record_order(a: &Frame<'_>, b: &Frame<'_>) -> Ordering {
    a.timestamp()
        .cmp(&b.timestamp())
        .then_with(|| a.origin().cmp(b.origin()))
        .then_with(|| a.sequence().cmp(&b.sequence()))
}

pub struct RangeReader {
    range: TimeRange,
    origin: Option<String>,
    /// Segments not opened yet, by first timestamp: a segment is opened only once the merge
    /// reaches its first record, so a range over thousands of segments keeps few files open.
    pending: VecDeque<SegmentView>,
    active: Vec<Cursor>,
    emitted: Option<usize>,
}

impl RangeReader {
    pub fn new(mut views: Vec<SegmentView>, range: TimeRange, origin: Option<String>) -> Self {
        views.sort_by_key(|v| (v.first_ts, v.id));
        RangeReader { range, origin, pending: views.into(), active: Vec::new(), emitted: None }
    }

    /// The next record in order, or `None` at the end of the range.
    pub fn next_frame(&mut self) -> std::io::Result<Option<Frame<'_>>> {
        if let Some(i) = self.emitted.take()
            && !self.active[i].advance(&self.range, self.origin.as_deref())?
        {
            self.active.swap_remove(i);
        }
        loop {
            let earliest = self.active.iter().map(|c| c.frame().timestamp()).min();
            match (self.pending.front(), earliest) {
                (Some(view), Some(earliest)) if view.first_ts > earliest => break,
                (Some(_), _) => {
                    let Some(view) = self.pending.pop_front() else { break };
                    if let Some(mut cursor) = Cursor::open(&view)?
                        && cursor.advance(&self.range, self.origin.as_deref())?
                    {
                        self.active.push(cursor);
                    }
                }
                (None, _) => break,
            }
        }
        let mut best: Option<usize> = None;
        for i in 0..self.active.len() {
            let better = match best {
                None => true,
                Some(b) => record_order(&self.active[i].frame(), &self.active[b].frame()).is_lt(),
            };
            if better {
                best = Some(i);
            }
        }
        self.emitted = best;
        Ok(best.map(|i| self.active[i].frame()))
    }
}
