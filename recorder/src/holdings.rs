//! What a channel holds in a time range, by the server that recorded it (the coverage listing).
//! Only the records' headers are read (length, time, origin; one small positioned read per
//! record), never their payloads: the listing of an hour of video reads kilobytes, not the video.
//!
//! Records closer together than a stretch's resolution form one stretch. Video, audio and
//! metadata arrive at a steady pace: a record lasts until the next is due (its usual spacing), so
//! the hole between two stretches is the time in which records were due and none was made. A
//! 600 ms pause at 10 frames a second is a 500 ms hole; a hand-over 40 ms after the last frame
//! loses no frame and shows none. Text, ANPR and alarms arrive when something happens: a quiet
//! spell of up to [`EVENT_RESOLUTION`] is not a loss, and a listing cannot tell the two apart in
//! less; their stretches end at their last event.

use crate::archive::channel::ChannelArchive;
use crate::archive::reader::SegmentView;
use crate::time::{Micros, TimeRange, micros_to_time};
use crate::wire::{self, BODY_FIXED_LEN, HEADER_LEN};
use agent_api::{ChannelHoldings, ChannelKind, Held};
use std::os::unix::fs::FileExt;

/// The resolution of the event channels (text, ANPR, alarms): five minutes.
pub const EVENT_RESOLUTION: Micros = 300_000_000;
/// A steady channel's stretch ends at a pause of this many usual spacings…
const SPACINGS: Micros = 3;
/// …but never at one shorter than this (clock jitter on a fast channel).
const MIN_RESOLUTION: Micros = 50_000;
/// The resolution where a segment holds too few records of an origin to show its pace.
const UNKNOWN_PACE_RESOLUTION: Micros = 1_000_000;

/// Records of one origin in one segment, or merged across segments.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    origin: usize,
    first: Micros,
    last: Micros,
    /// Where the stretch ends (exclusive): its last record plus the usual spacing (an event
    /// channel's: just after its last event).
    end: Micros,
    records: u64,
    resolution: Micros,
}

/// The listing of `channel` for `range` (blocking: it reads files).
pub fn holdings(
    channel: &ChannelArchive,
    range: TimeRange,
    origin: Option<&str>,
) -> std::io::Result<ChannelHoldings> {
    let mut origins = Vec::new();
    let mut runs = Vec::new();
    for view in channel.views(&range) {
        let times = scan(&view, &range, origin, &mut origins)?;
        runs.extend(runs_of(channel.kind, &times));
    }
    let stretches = merge(runs)
        .into_iter()
        .map(|run| Held {
            origin: origins[run.origin].clone(),
            from: micros_to_time(run.first),
            to: micros_to_time(run.end.min(range.to)),
            records: run.records,
            resolution_us: run.resolution,
        })
        .collect();
    Ok(ChannelHoldings { channel: channel.id.clone(), kind: channel.kind, stretches })
}

/// The (origin, time) of every record of `view` in `range`, in the segment's order; origins are
/// numbered into `origins`.
pub(crate) fn scan(
    view: &SegmentView,
    range: &TimeRange,
    wanted: Option<&str>,
    origins: &mut Vec<String>,
) -> std::io::Result<Vec<(usize, Micros)>> {
    let file = match std::fs::File::open(&view.path) {
        Ok(file) => file,
        // Retention deleted it after the snapshot: it holds nothing any more.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut header = [0u8; HEADER_LEN + BODY_FIXED_LEN + 255];
    let mut times = Vec::new();
    let mut pos = view.start;
    while pos < view.end {
        let got = read_at_most(&file, &mut header, pos)?;
        if got < HEADER_LEN + BODY_FIXED_LEN {
            break;
        }
        let Ok(body_len) = wire::body_len(&header[..got]) else {
            tracing::error!(
                segment = view.id,
                offset = pos,
                "damaged record header; the rest of this segment is not listed"
            );
            break;
        };
        let next = pos + (HEADER_LEN + body_len) as u64;
        if next > view.end {
            break;
        }
        let timestamp =
            i64::from_le_bytes(header[HEADER_LEN..HEADER_LEN + 8].try_into().unwrap_or_default());
        if timestamp >= range.to {
            break;
        }
        let origin_len = usize::from(header[HEADER_LEN + 16]);
        let origin_at = HEADER_LEN + BODY_FIXED_LEN;
        let origin =
            std::str::from_utf8(header.get(origin_at..origin_at + origin_len).unwrap_or_default())
                .unwrap_or_default();
        if timestamp >= range.from && wanted.is_none_or(|wanted| wanted == origin) {
            let number = match origins.iter().position(|known| known == origin) {
                Some(number) => number,
                None => {
                    origins.push(origin.to_owned());
                    origins.len() - 1
                }
            };
            times.push((number, timestamp));
        }
        pos = next;
    }
    Ok(times)
}

/// Fills as much of `buf` as the file holds from `offset`.
fn read_at_most(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// One segment's records cut into runs per origin, each at the pace of its own records.
fn runs_of(kind: ChannelKind, times: &[(usize, Micros)]) -> Vec<Run> {
    let mut by_origin: Vec<(usize, Vec<Micros>)> = Vec::new();
    for &(origin, time) in times {
        match by_origin.iter_mut().find(|(known, _)| *known == origin) {
            Some((_, list)) => list.push(time),
            None => by_origin.push((origin, vec![time])),
        }
    }
    let mut runs = Vec::new();
    for (origin, list) in by_origin {
        let spacing = usual_spacing(&list);
        let steady = kind.is_steady();
        let (resolution, length) = match (steady, spacing) {
            (false, _) => (EVENT_RESOLUTION, 1),
            (true, Some(spacing)) => ((SPACINGS * spacing).max(MIN_RESOLUTION), spacing),
            (true, None) => (UNKNOWN_PACE_RESOLUTION, 1),
        };
        let mut run: Option<Run> = None;
        for time in list {
            match run.as_mut() {
                Some(open) if time - open.last <= resolution => {
                    open.last = time;
                    open.end = time + length;
                    open.records += 1;
                }
                _ => {
                    runs.extend(run.take());
                    run = Some(Run {
                        origin,
                        first: time,
                        last: time,
                        end: time + length,
                        records: 1,
                        resolution,
                    });
                }
            }
        }
        runs.extend(run);
    }
    runs
}

/// The median of the positive spacings between consecutive records, if there are any.
fn usual_spacing(times: &[Micros]) -> Option<Micros> {
    let mut spacings: Vec<Micros> =
        times.windows(2).map(|pair| pair[1] - pair[0]).filter(|gap| *gap > 0).collect();
    if spacings.is_empty() {
        return None;
    }
    let middle = spacings.len() / 2;
    Some(*spacings.select_nth_unstable(middle).1)
}

/// Runs of the same origin that touch (segments cut one recording; copies come in slices) as
/// one, ordered by start.
fn merge(mut runs: Vec<Run>) -> Vec<Run> {
    runs.sort_by_key(|run| (run.origin, run.first));
    let mut merged: Vec<Run> = Vec::with_capacity(runs.len());
    for run in runs {
        match merged.last_mut() {
            Some(open)
                if open.origin == run.origin
                    && run.first - open.last <= open.resolution.max(run.resolution) =>
            {
                open.last = open.last.max(run.last);
                open.end = open.end.max(run.end);
                open.records += run.records;
                open.resolution = open.resolution.max(run.resolution);
            }
            _ => merged.push(run),
        }
    }
    merged.sort_by_key(|run| (run.first, run.origin));
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steady(origin: usize, from: Micros, count: i64, every: Micros) -> Vec<(usize, Micros)> {
        (0..count).map(|i| (origin, from + i * every)).collect()
    }

    #[test]
    fn a_pause_of_three_spacings_splits_a_steady_channel_and_the_hole_is_what_is_missing() {
        let mut times = steady(0, 0, 10, 100_000);
        // 600 ms after the last frame, the next: frames due at 1.0 … 1.4 s are missing.
        times.extend(steady(0, 1_500_000, 10, 100_000));
        let runs = runs_of(ChannelKind::Video, &times);
        assert_eq!(runs.len(), 2, "{runs:?}");
        assert_eq!((runs[0].first, runs[0].end, runs[0].records), (0, 1_000_000, 10));
        assert_eq!(runs[1].first - runs[0].end, 500_000);
        // A pause of under three spacings is jitter, not a hole.
        let jittered = [steady(0, 0, 10, 100_000), steady(0, 1_150_000, 5, 100_000)].concat();
        assert_eq!(runs_of(ChannelKind::Video, &jittered).len(), 1);
    }

    #[test]
    fn event_channels_count_a_quiet_spell_as_held_up_to_their_resolution() {
        let times = [(0, 0), (0, 100_000_000), (0, 200_000_000), (0, 900_000_000)];
        let runs = runs_of(ChannelKind::Alarm, &times);
        assert_eq!(runs.len(), 2, "{runs:?}");
        assert_eq!((runs[0].records, runs[0].end), (3, 200_000_001));
    }

    #[test]
    fn origins_are_listed_apart_and_runs_of_one_origin_across_segments_join() {
        let first = runs_of(ChannelKind::Audio, &steady(0, 0, 50, 20_000));
        let second = runs_of(ChannelKind::Audio, &steady(0, 1_000_000, 50, 20_000));
        let copied = runs_of(ChannelKind::Audio, &steady(1, 500_000, 10, 20_000));
        let merged = merge([first, second, copied].concat());
        assert_eq!(merged.len(), 2, "{merged:?}");
        assert_eq!((merged[0].origin, merged[0].first, merged[0].end), (0, 0, 2_000_000));
        assert_eq!(merged[0].records, 100);
        assert_eq!((merged[1].origin, merged[1].first), (1, 500_000));
    }
}
