//! One segment: an append-only file of framed records in time order (`NNN.rec`) and its sparse
//! index (`NNN.idx`). Writing appends each record with one `write` call, so a killed process
//! leaves at most one torn record at the tail; [`recover`] cuts it off on the next start.

use super::index::{self, IndexEntry};
use crate::time::Micros;
use crate::wire::{self, Frame, ReadError};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub const SEGMENT_MAGIC: &[u8; 8] = b"STBYSEG1";
/// Offset of the first record.
pub const DATA_START: u64 = SEGMENT_MAGIC.len() as u64;
/// Suffix of a segment being ingested: invisible to readers and removed on start until the
/// ingest commits it by renaming.
const STAGED_SUFFIX: &str = "tmp";

pub fn data_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.rec"))
}

pub fn index_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.idx"))
}

fn staged(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(STAGED_SUFFIX);
    PathBuf::from(name)
}

/// Parses `NNN.rec` into its id.
pub fn segment_id(file_name: &str) -> Option<u64> {
    file_name.strip_suffix(".rec")?.parse().ok()
}

pub fn is_staged(file_name: &str) -> bool {
    file_name.ends_with(".tmp")
}

/// What the archive knows about a segment without reading it.
#[derive(Debug, Clone)]
pub struct SegmentInfo {
    pub id: u64,
    /// Bytes of complete records plus the header; readers never read past it.
    pub len: u64,
    pub first_ts: Micros,
    pub last_ts: Micros,
    pub last_origin: String,
    pub last_sequence: u64,
    pub index: Vec<IndexEntry>,
}

impl SegmentInfo {
    fn empty(id: u64) -> Self {
        SegmentInfo {
            id,
            len: DATA_START,
            first_ts: 0,
            last_ts: 0,
            last_origin: String::new(),
            last_sequence: 0,
            index: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Notes a record appended at `offset`.
    fn note(&mut self, frame: &Frame<'_>, offset: u64) -> Option<IndexEntry> {
        let timestamp = frame.timestamp();
        if self.index.is_empty() {
            self.first_ts = timestamp;
        }
        self.last_ts = timestamp;
        self.last_sequence = frame.sequence();
        if self.last_origin != frame.origin() {
            self.last_origin = frame.origin().to_owned();
        }
        self.len = offset + frame.bytes().len() as u64;
        let due = index::entry_due(self.index.last().map(|e| e.offset), offset);
        due.then(|| {
            let entry = IndexEntry { timestamp, offset };
            self.index.push(entry);
            entry
        })
    }
}

/// Appends records to one segment. Records must come in time order (non-decreasing); the
/// caller starts a new segment when they do not.
#[derive(Debug)]
pub struct SegmentWriter {
    dir: PathBuf,
    data: File,
    index: File,
    info: SegmentInfo,
    staged: bool,
    unsynced: bool,
}

impl SegmentWriter {
    /// Creates segment `id` in `dir`; a staged segment stays invisible until [`commit`].
    ///
    /// [`commit`]: SegmentWriter::commit
    pub fn create(dir: &Path, id: u64, staged_segment: bool) -> std::io::Result<Self> {
        let (data_file, index_file) = if staged_segment {
            (staged(&data_path(dir, id)), staged(&index_path(dir, id)))
        } else {
            (data_path(dir, id), index_path(dir, id))
        };
        let mut data = OpenOptions::new().create_new(true).append(true).open(&data_file)?;
        let index = data.write_all(SEGMENT_MAGIC).and_then(|()| {
            let mut index =
                OpenOptions::new().create(true).truncate(true).write(true).open(&index_file)?;
            index.write_all(index::INDEX_MAGIC)?;
            Ok(index)
        });
        let index = match index {
            Ok(index) => index,
            Err(error) => {
                // Leave no half-made segment behind for every failed attempt.
                drop(data);
                let _ = remove_if_exists(&data_file);
                let _ = remove_if_exists(&index_file);
                return Err(error);
            }
        };
        Ok(SegmentWriter {
            dir: dir.to_owned(),
            data,
            index,
            info: SegmentInfo::empty(id),
            staged: staged_segment,
            unsynced: true,
        })
    }

    pub fn id(&self) -> u64 {
        self.info.id
    }

    pub fn info(&self) -> &SegmentInfo {
        &self.info
    }

    /// Whether `timestamp` may follow the records already written.
    pub fn accepts(&self, timestamp: Micros) -> bool {
        self.info.is_empty() || timestamp >= self.info.last_ts
    }

    /// Appends one checked frame: the record first, then (if due) its index entry, so the index
    /// never points at bytes that were not written before it.
    pub fn append(&mut self, frame: &Frame<'_>) -> std::io::Result<Option<IndexEntry>> {
        let offset = self.info.len;
        self.data.write_all(frame.bytes())?;
        let entry = self.info.note(frame, offset);
        if let Some(entry) = entry {
            self.index.write_all(&entry.encode())?;
        }
        self.unsynced = true;
        Ok(entry)
    }

    /// Forces written records to the disk (a process crash loses nothing written; this guards
    /// against a machine crash).
    pub fn sync(&mut self) -> std::io::Result<()> {
        if self.unsynced {
            self.data.sync_data()?;
            self.index.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Makes a staged segment visible: sync, then rename the index and last the data file (the
    /// data file's name is the commit point; an index without data is removed on start).
    pub fn commit(mut self) -> std::io::Result<SegmentInfo> {
        self.sync()?;
        if self.staged {
            let id = self.info.id;
            std::fs::rename(staged(&index_path(&self.dir, id)), index_path(&self.dir, id))?;
            std::fs::rename(staged(&data_path(&self.dir, id)), data_path(&self.dir, id))?;
            sync_dir(&self.dir)?;
        }
        Ok(self.info)
    }

    /// Removes the segment's files (an ingest that failed, or a segment that got no record).
    pub fn abandon(self) -> std::io::Result<()> {
        let id = self.info.id;
        let (data, index) = if self.staged {
            (staged(&data_path(&self.dir, id)), staged(&index_path(&self.dir, id)))
        } else {
            (data_path(&self.dir, id), index_path(&self.dir, id))
        };
        drop(self.data);
        drop(self.index);
        remove_if_exists(&data)?;
        remove_if_exists(&index)
    }
}

pub fn remove_if_exists(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Makes renames and deletions in `dir` durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// What [`recover`] found.
#[derive(Debug)]
pub enum Recovered {
    /// Complete records, after cutting `cut_bytes` of torn tail.
    Segment { info: SegmentInfo, cut_bytes: u64 },
    /// No complete record: the files were removed.
    Empty,
    /// Not a segment of ours; renamed aside with a `.corrupt` suffix and left alone.
    Foreign,
}

/// Opens segment `id` after a start or a crash: trusts the index only as far as it points at
/// valid records, scans the tail from its last entry, cuts the file at the first record that
/// is torn or fails its checksum, and completes the index. Only the tail is scanned, so a start
/// costs one index interval per segment, not a read of the archive.
pub fn recover(dir: &Path, id: u64) -> std::io::Result<Recovered> {
    let data = data_path(dir, id);
    let index_file = index_path(dir, id);
    let mut file = OpenOptions::new().read(true).write(true).open(&data)?;
    let len = file.metadata()?.len();
    let mut magic = [0; 8];
    if len < DATA_START {
        // Killed while creating it: nothing was ever recorded into it.
        drop(file);
        remove_if_exists(&data)?;
        remove_if_exists(&index_file)?;
        return Ok(Recovered::Empty);
    }
    std::io::Read::read_exact(&mut file, &mut magic)?;
    if &magic != SEGMENT_MAGIC {
        drop(file);
        std::fs::rename(&data, data.with_extension("rec.corrupt"))?;
        return Ok(Recovered::Foreign);
    }

    let loaded = index::load(&index_file)?;
    let mut entries: Vec<IndexEntry> =
        loaded.iter().copied().take_while(|e| e.offset >= DATA_START && e.offset < len).collect();
    if entries.first().is_some_and(|e| e.offset != DATA_START) {
        entries.clear();
    }
    let mut buf = Vec::new();
    let mut info = SegmentInfo::empty(id);
    // Drop entries that do not point at a valid record (written before a record that was then
    // lost with the page cache), then resume from the last good one.
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    while let Some(last) = entries.last() {
        reader.seek(SeekFrom::Start(last.offset))?;
        match wire::read_frame(&mut reader, &mut buf) {
            Ok(true) if Frame::parse(&buf).is_ok_and(|f| f.timestamp() == last.timestamp) => break,
            Ok(_) | Err(ReadError::Frame(_)) => {
                entries.pop();
            }
            Err(ReadError::Io(e)) => return Err(e),
        }
    }
    // Rescan from the last good entry (re-noting it), so the tail's records, the last record's
    // identity and any missing entries come from the segment itself.
    let resume = entries.pop();
    info.first_ts = entries.first().map_or(0, |e| e.timestamp);
    info.index = entries;
    let mut offset = resume.map_or(DATA_START, |e| e.offset);
    reader.seek(SeekFrom::Start(offset))?;
    loop {
        match wire::read_frame(&mut reader, &mut buf) {
            Ok(true) => {
                info.note(&Frame::trusted(&buf), offset);
                offset += buf.len() as u64;
            }
            Ok(false) | Err(ReadError::Frame(_)) => break,
            Err(ReadError::Io(e)) => return Err(e),
        }
    }
    let file = reader.into_inner();
    let cut_bytes = len - offset;
    if cut_bytes > 0 {
        file.set_len(offset)?;
        file.sync_all()?;
    }
    drop(file);
    if info.index.is_empty() {
        remove_if_exists(&data)?;
        remove_if_exists(&index_file)?;
        return Ok(Recovered::Empty);
    }
    if info.index != loaded {
        index::rewrite(&index_file, &info.index)?;
    }
    Ok(Recovered::Segment { info, cut_bytes })
}
