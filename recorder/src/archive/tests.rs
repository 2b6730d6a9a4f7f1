//! Archive tests: torn tails at every byte, merged reads, exact boundaries, retention.

use super::Archive;
use super::reader::RangeReader;
use super::retention::{self, RetentionPolicy};
use super::segment::{self, Recovered, SegmentWriter};
use crate::time::TimeRange;
use crate::wire::{Frame, Record};
use agent_api::ChannelKind;
use std::path::Path;

fn record(timestamp: i64, origin: &str, size: usize) -> Record {
    let payload = (0..size).map(|i| (i as u64 * 31 + timestamp as u64) as u8).collect();
    Record { timestamp, sequence: timestamp as u64, origin: origin.into(), payload }
}

fn write_segment(dir: &Path, id: u64, records: &[Record]) -> Vec<u64> {
    let mut writer = SegmentWriter::create(dir, id, false).expect("create segment");
    let mut offsets = Vec::new();
    for record in records {
        offsets.push(writer.info().len);
        let bytes = record.encode();
        writer.append(&Frame::parse(&bytes).expect("valid")).expect("append");
    }
    writer.sync().expect("sync");
    offsets
}

fn read_segment(dir: &Path, id: u64, end: u64) -> Vec<Record> {
    let view = super::reader::SegmentView {
        id,
        path: segment::data_path(dir, id),
        start: segment::DATA_START,
        end,
        first_ts: i64::MIN,
    };
    let mut reader = RangeReader::new(vec![view], TimeRange::all(), None);
    let mut out = Vec::new();
    while let Some(frame) = reader.next_frame().expect("read") {
        out.push(frame.to_record());
    }
    out
}

/// A segment whose last record is (`indexed`) or is not at an index entry.
fn torn_tail_case(indexed: bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    // The first record is larger than an index interval, so the record after it is indexed.
    let mut records = vec![record(1_000, "rec-1", 140_000)];
    if !indexed {
        records.push(record(2_000, "rec-1", 20_000));
        records.push(record(3_000, "rec-1", 300));
    }
    records.push(record(4_000, "rec-1", 200));
    let offsets = write_segment(dir.path(), 1, &records);
    let index_entries = super::index::load(&segment::index_path(dir.path(), 1)).expect("index");
    let last_offset = *offsets.last().expect("records");
    assert_eq!(index_entries.iter().any(|e| e.offset == last_offset), indexed, "test set-up");
    let full = std::fs::read(segment::data_path(dir.path(), 1)).expect("read segment");
    let full_index = std::fs::read(segment::index_path(dir.path(), 1)).expect("read index");
    let complete = &records[..records.len() - 1];
    for cut in last_offset..full.len() as u64 {
        std::fs::write(segment::data_path(dir.path(), 1), &full[..cut as usize]).expect("write");
        std::fs::write(segment::index_path(dir.path(), 1), &full_index).expect("write");
        let Recovered::Segment { info, cut_bytes } =
            segment::recover(dir.path(), 1).expect("recover")
        else {
            panic!("cut at {cut}: segment lost");
        };
        assert_eq!(cut_bytes, cut - last_offset, "cut at {cut}");
        assert_eq!(info.len, last_offset, "cut at {cut}");
        assert_eq!(info.last_ts, complete.last().map_or(0, |r| r.timestamp));
        assert_eq!(info.first_ts, 1_000);
        assert_eq!(read_segment(dir.path(), 1, info.len), complete, "cut at {cut}");
        // The repaired segment is a valid one: appending after it works and reads back.
        let index = super::index::load(&segment::index_path(dir.path(), 1)).expect("index");
        assert!(
            index.iter().all(|e| e.offset < info.len),
            "cut at {cut}: index points past the data"
        );
    }
    // Intact, the whole segment reads back.
    std::fs::write(segment::data_path(dir.path(), 1), &full).expect("write");
    let Recovered::Segment { info, cut_bytes: 0 } =
        segment::recover(dir.path(), 1).expect("recover")
    else {
        panic!("intact segment changed");
    };
    assert_eq!(read_segment(dir.path(), 1, info.len), records);
}

#[test]
fn a_torn_last_record_is_cut_at_every_byte_offset() {
    torn_tail_case(false);
}

#[test]
fn a_torn_last_record_at_an_index_entry_is_cut_at_every_byte_offset() {
    torn_tail_case(true);
}

#[test]
fn a_damaged_last_record_is_cut_and_a_lost_index_is_rebuilt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let records: Vec<Record> = (0..50).map(|i| record(i * 10, "rec-1", 10_000)).collect();
    let offsets = write_segment(dir.path(), 7, &records);
    let path = segment::data_path(dir.path(), 7);
    let mut bytes = std::fs::read(&path).expect("read");
    let last = *offsets.last().expect("records") as usize;
    bytes[last + 20] ^= 0xFF;
    std::fs::write(&path, &bytes).expect("write");
    std::fs::remove_file(segment::index_path(dir.path(), 7)).expect("remove index");
    let Recovered::Segment { info, cut_bytes } = segment::recover(dir.path(), 7).expect("recover")
    else {
        panic!("segment lost");
    };
    assert_eq!(cut_bytes as usize, bytes.len() - last);
    assert!(info.index.len() > 2, "index rebuilt from the data");
    assert_eq!(read_segment(dir.path(), 7, info.len), records[..49]);
}

#[test]
fn a_segment_without_records_is_removed() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_segment(dir.path(), 3, &[]);
    assert!(matches!(segment::recover(dir.path(), 3).expect("recover"), Recovered::Empty));
    assert!(!segment::data_path(dir.path(), 3).exists());
    std::fs::write(segment::data_path(dir.path(), 4), b"STB").expect("write");
    assert!(matches!(segment::recover(dir.path(), 4).expect("recover"), Recovered::Empty));
}

fn append_all(archive: &Archive, channel: &str, records: &[Record], staged: bool) {
    let channel = archive.ensure_channel(channel, ChannelKind::Video).expect("channel");
    let mut writer = if staged { channel.start_staged_segment() } else { channel.start_segment() }
        .expect("segment");
    for record in records {
        let bytes = record.encode();
        let frame = Frame::parse(&bytes).expect("valid");
        if staged {
            writer.append(&frame).expect("append");
        } else {
            channel.append(&mut writer, &frame).expect("append");
        }
    }
    if staged { channel.commit_staged(writer) } else { channel.finish_segment(writer) }
        .expect("close");
}

fn read(
    archive: &Archive,
    channel: &str,
    range: TimeRange,
    origin: Option<&str>,
) -> Vec<(i64, String)> {
    let channel = archive.channel(channel).expect("channel");
    let mut reader = RangeReader::new(channel.views(&range), range, origin.map(str::to_owned));
    let mut out = Vec::new();
    while let Some(frame) = reader.next_frame().expect("read") {
        out.push((frame.timestamp(), frame.origin().to_owned()));
    }
    out
}

#[test]
fn reads_merge_overlapping_segments_in_time_order_with_exact_bounds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = Archive::open(dir.path()).expect("archive");
    let own: Vec<Record> = (0..200).map(|i| record(i * 2, "rec-1", 2_000)).collect();
    let copied: Vec<Record> = (0..200).map(|i| record(i * 2 + 1, "fo-1", 2_000)).collect();
    append_all(&archive, "video-1", &own, false);
    append_all(&archive, "video-1", &copied, true);
    let all = read(&archive, "video-1", TimeRange::all(), None);
    assert_eq!(all.len(), 400);
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "time order across segments");
    let range = TimeRange::new(101, 201).expect("range");
    let some = read(&archive, "video-1", range, None);
    assert_eq!(some.first().map(|r| r.0), Some(101), "from is inclusive");
    assert_eq!(some.last().map(|r| r.0), Some(200), "to is exclusive");
    assert_eq!(some.len(), 100);
    let only_copied = read(&archive, "video-1", range, Some("fo-1"));
    assert_eq!(only_copied.len(), 50);
    assert!(only_copied.iter().all(|(t, o)| t % 2 == 1 && o == "fo-1"));
    // Reopening (a restart) reads the same.
    drop(archive);
    let archive = Archive::open(dir.path()).expect("reopen");
    assert_eq!(read(&archive, "video-1", TimeRange::all(), None), all);
    assert_eq!(archive.channel("video-1").expect("channel").last_sequence("rec-1"), Some(398));
}

#[test]
fn an_unfinished_channel_directory_is_removed_on_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("video-9")).expect("create");
    let archive = Archive::open(dir.path()).expect("archive opens");
    assert!(archive.channel("video-9").is_none());
    assert!(!dir.path().join("video-9").exists());
}

#[test]
fn a_channel_keeps_its_kind() {
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = Archive::open(dir.path()).expect("archive");
    archive.ensure_channel("video-1", ChannelKind::Video).expect("channel");
    assert!(archive.ensure_channel("video-1", ChannelKind::Audio).is_err());
    assert!(archive.ensure_channel("../x", ChannelKind::Audio).is_err());
}

#[test]
fn retention_deletes_the_oldest_segments_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = Archive::open(dir.path()).expect("archive");
    for batch in 0..4 {
        let records: Vec<Record> =
            (0..10).map(|i| record(batch * 1_000 + i, "fo-1", 10_000)).collect();
        append_all(&archive, "video-1", &records, true);
    }
    let per_segment = archive.bytes() / 4;
    let policy = RetentionPolicy { max_age: None, max_bytes: Some(per_segment * 2 + 10) };
    let report = retention::enforce(&archive, &policy, 10_000).expect("retention");
    assert_eq!(report.segments, 2);
    let left = read(&archive, "video-1", TimeRange::all(), None);
    assert_eq!(left.first().map(|r| r.0), Some(2_000), "the two oldest went");
    let policy = RetentionPolicy { max_age: Some(5_000), max_bytes: None };
    let report = retention::enforce(&archive, &policy, 8_000).expect("retention");
    assert_eq!(report.segments, 1, "only the segment ending before 3000 is too old");
    assert_eq!(read(&archive, "video-1", TimeRange::all(), None).first().map(|r| r.0), Some(3_000));
}

#[test]
fn many_overlapping_segments_merge_like_a_sort() {
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = Archive::open(dir.path()).expect("archive");
    let mut rng = crate::synthetic::Rng::new(42);
    let mut expected = Vec::new();
    for segment in 0..30 {
        let start = rng.range(0, 10_000) as i64;
        let mut timestamp = start;
        let records: Vec<Record> = (0..rng.range(1, 60))
            .map(|_| {
                timestamp += rng.range(0, 400) as i64;
                record(timestamp, if segment % 3 == 0 { "rec-1" } else { "fo-1" }, 50)
            })
            .collect();
        expected.extend(records.iter().map(|r| (r.timestamp, r.origin.clone(), r.sequence)));
        append_all(&archive, "video-1", &records, segment % 2 == 0);
    }
    expected.sort();
    let channel = archive.channel("video-1").expect("channel");
    for (from, to) in [(i64::MIN, i64::MAX), (2_000, 9_000), (5_000, 5_001), (0, 1)] {
        let range = TimeRange::new(from, to).expect("range");
        let mut reader = RangeReader::new(channel.views(&range), range, None);
        let mut got = Vec::new();
        while let Some(frame) = reader.next_frame().expect("read") {
            got.push((frame.timestamp(), frame.origin().to_owned(), frame.sequence()));
        }
        let wanted: Vec<_> = expected.iter().filter(|r| range.contains(r.0)).cloned().collect();
        assert_eq!(got, wanted, "range [{from}, {to})");
    }
}
