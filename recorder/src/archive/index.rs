//! The sparse time index of one segment: `(timestamp, offset)` of the first record and then of
//! a record every [`INDEX_INTERVAL`] bytes. Records within a segment are in time order, so a
//! range read starts at the last entry before `from` and scans at most one interval.
//!
//! The index is derived data, written after the record it points at: after a crash it may lack
//! its last entries or point past the data, and recovery trims and completes it from the
//! segment itself.

use crate::time::Micros;
use std::io::Write;
use std::path::Path;

pub const INDEX_MAGIC: &[u8; 8] = b"STBYIDX1";
pub const ENTRY_LEN: usize = 16;
/// Bytes of records between index entries.
pub const INDEX_INTERVAL: u64 = 128 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    pub timestamp: Micros,
    pub offset: u64,
}

impl IndexEntry {
    pub fn encode(&self) -> [u8; ENTRY_LEN] {
        let mut out = [0; ENTRY_LEN];
        out[..8].copy_from_slice(&self.timestamp.to_le_bytes());
        out[8..].copy_from_slice(&self.offset.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Self {
        let mut timestamp = [0; 8];
        let mut offset = [0; 8];
        timestamp.copy_from_slice(&bytes[..8]);
        offset.copy_from_slice(&bytes[8..16]);
        IndexEntry { timestamp: i64::from_le_bytes(timestamp), offset: u64::from_le_bytes(offset) }
    }
}

/// Whether a writer at `offset` owes the index an entry, given the last indexed offset.
pub fn entry_due(last_indexed: Option<u64>, offset: u64) -> bool {
    last_indexed.is_none_or(|last| offset >= last + INDEX_INTERVAL)
}

/// Reads an index file as far as it is plausible: a missing file, a foreign header, a partial
/// last entry or entries that stop increasing end the list there. What is returned is only a
/// hint; recovery checks it against the segment.
pub fn load(path: &Path) -> std::io::Result<Vec<IndexEntry>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    if bytes.len() < INDEX_MAGIC.len() || &bytes[..INDEX_MAGIC.len()] != INDEX_MAGIC {
        return Ok(Vec::new());
    }
    let mut entries: Vec<IndexEntry> = Vec::new();
    for chunk in bytes[INDEX_MAGIC.len()..].chunks_exact(ENTRY_LEN) {
        let entry = IndexEntry::decode(chunk);
        if let Some(last) = entries.last()
            && (entry.offset <= last.offset || entry.timestamp < last.timestamp)
        {
            break;
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// Replaces an index file with `entries` (write aside, then rename, so a crash leaves the old
/// or the new file, never a mix).
pub fn rewrite(path: &Path, entries: &[IndexEntry]) -> std::io::Result<()> {
    let aside = path.with_extension("idx.tmp");
    let mut bytes = Vec::with_capacity(INDEX_MAGIC.len() + entries.len() * ENTRY_LEN);
    bytes.extend_from_slice(INDEX_MAGIC);
    for entry in entries {
        bytes.extend_from_slice(&entry.encode());
    }
    let mut file = std::fs::File::create(&aside)?;
    file.write_all(&bytes)?;
    file.sync_data()?;
    std::fs::rename(&aside, path)
}

/// Where a read of records at or after `from` must start: the last entry strictly before
/// `from` (every record before it is older), or the first entry.
pub fn start_offset(entries: &[IndexEntry], from: Micros) -> Option<u64> {
    let first = entries.first()?;
    let after = entries.partition_point(|entry| entry.timestamp < from);
    Some(if after == 0 { first.offset } else { entries[after - 1].offset })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<IndexEntry> {
        vec![
            IndexEntry { timestamp: 10, offset: 8 },
            IndexEntry { timestamp: 20, offset: 200_000 },
            IndexEntry { timestamp: 20, offset: 400_000 },
            IndexEntry { timestamp: 30, offset: 600_000 },
        ]
    }

    #[test]
    fn start_offset_never_skips_a_wanted_record() {
        let entries = entries();
        assert_eq!(start_offset(&entries, 0), Some(8));
        assert_eq!(start_offset(&entries, 10), Some(8));
        assert_eq!(start_offset(&entries, 15), Some(8));
        // Records at 20 may start right after the entry at offset 8.
        assert_eq!(start_offset(&entries, 20), Some(8));
        assert_eq!(start_offset(&entries, 21), Some(400_000));
        assert_eq!(start_offset(&entries, 99), Some(600_000));
        assert_eq!(start_offset(&[], 99), None);
    }

    #[test]
    fn load_stops_at_a_partial_or_implausible_entry() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("1.idx");
        rewrite(&path, &entries()).expect("write index");
        assert_eq!(load(&path).expect("load"), entries());
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.extend_from_slice(&[1, 2, 3]);
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(load(&path).expect("load"), entries());
        bytes.truncate(INDEX_MAGIC.len() + 2 * ENTRY_LEN);
        bytes.extend_from_slice(&IndexEntry { timestamp: 5, offset: 1 }.encode());
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(load(&path).expect("load"), entries()[..2].to_vec());
        assert_eq!(load(&dir.path().join("missing.idx")).expect("load"), vec![]);
    }
}
