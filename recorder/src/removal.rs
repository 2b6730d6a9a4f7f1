//! Removing what one server recorded in a time range: a drill's recordings on the failover
//! server that made them. Whole segments only, and only a segment that holds nothing else (no
//! record outside the range, none of another server, not being written to): a removal can
//! never take material that was not the drill's. What could not be taken is counted, so the
//! caller can say so.

use crate::archive::channel::ChannelArchive;
use crate::holdings;
use crate::time::TimeRange;
use agent_api::Removed;

/// Removes `origin`'s records of `range` from `channel` (blocking: it reads and deletes files).
pub fn remove(
    channel: &ChannelArchive,
    range: TimeRange,
    origin: &str,
) -> std::io::Result<Removed> {
    let mut removed = Removed::default();
    for (view, writing) in channel.whole_views(&range) {
        let mut origins = Vec::new();
        let records = holdings::scan(&view, &TimeRange::all(), None, &mut origins)?;
        let ours = records
            .iter()
            .filter(|(number, time)| origins[*number] == origin && range.contains(*time))
            .count() as u64;
        if ours == 0 {
            continue;
        }
        if writing || ours != records.len() as u64 {
            removed.kept += 1;
            continue;
        }
        channel.delete_segment(view.id)?;
        tracing::info!(channel = %channel.id, segment = view.id, records = ours, %origin, "removed recordings");
        removed.segments += 1;
        removed.records += ours;
        removed.bytes += view.end;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::Archive;
    use crate::wire::{Frame, Record};
    use agent_api::ChannelKind;

    /// A finished recording segment of `origin` with a record at each time (or one left open).
    fn recorded(channel: &ChannelArchive, origin: &str, times: &[i64], finish: bool) {
        let mut writer = channel.start_segment().expect("segment");
        for &timestamp in times {
            let record = Record {
                timestamp,
                sequence: timestamp as u64,
                origin: origin.into(),
                payload: vec![7; 100],
            };
            let bytes = record.encode();
            channel.append(&mut writer, &Frame::parse(&bytes).expect("valid")).expect("append");
        }
        if finish {
            channel.finish_segment(writer).expect("finish");
        } else {
            std::mem::forget(writer);
        }
    }

    fn origins(channel: &ChannelArchive) -> Vec<(String, u64)> {
        let listing = holdings::holdings(channel, TimeRange::all(), None).expect("listing");
        listing.stretches.into_iter().map(|held| (held.origin, held.records)).collect()
    }

    #[test]
    fn only_whole_finished_segments_of_the_origin_in_the_range_go() {
        let dir = tempfile::tempdir().expect("temp dir");
        let archive = Archive::open(dir.path()).expect("archive");
        let channel = archive.ensure_channel("video-1", ChannelKind::Video).expect("channel");
        // Before the drill: the failover server's earlier recordings, one straddling its start.
        recorded(&channel, "fo-1", &[100, 200, 300], true);
        recorded(&channel, "fo-1", &[900, 1_000, 1_100], true);
        // The drill's, in [1_000, 2_000): two finished segments and one still open.
        recorded(&channel, "fo-1", &[1_200, 1_300, 1_400], true);
        recorded(&channel, "fo-1", &[1_500, 1_600], true);
        // Another server's material in the range (copied here), never the drill's.
        recorded(&channel, "rec-1", &[1_250, 1_350], true);
        recorded(&channel, "fo-1", &[1_700, 1_800], false);
        let range = TimeRange::new(1_000, 2_000).expect("range");

        let removed = remove(&channel, range, "fo-1").expect("removal");

        assert_eq!(removed.segments, 2);
        assert_eq!(removed.records, 5);
        assert!(removed.bytes > 500, "{removed:?}");
        // The straddling segment and the open one: records of fo-1 in the range, kept.
        assert_eq!(removed.kept, 2);
        let left: u64 = origins(&channel)
            .iter()
            .filter(|(origin, _)| origin == "fo-1")
            .map(|(_, records)| records)
            .sum();
        assert_eq!(left, 3 + 3 + 2, "{:?}", origins(&channel));
        assert!(origins(&channel).contains(&("rec-1".to_owned(), 2)));
        // Asked again, nothing more goes.
        let again = remove(&channel, range, "fo-1").expect("removal");
        assert_eq!((again.segments, again.records, again.kept), (0, 0, 2));
    }
}
