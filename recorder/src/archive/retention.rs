//! Retention: segments older than the maximum age go, then the oldest segments go until the
//! archive fits the maximum size. Whole segments only, never the one being written.

use super::Archive;
use crate::time::Micros;

#[derive(Debug, Clone, Copy, Default)]
pub struct RetentionPolicy {
    /// Delete segments whose newest record is older than this many microseconds.
    pub max_age: Option<Micros>,
    /// Keep the archive (all channels) at or below this many bytes.
    pub max_bytes: Option<u64>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetentionReport {
    pub segments: usize,
    pub bytes: u64,
}

pub fn enforce(
    archive: &Archive,
    policy: &RetentionPolicy,
    now: Micros,
) -> std::io::Result<RetentionReport> {
    let mut report = RetentionReport::default();
    if policy.max_age.is_none() && policy.max_bytes.is_none() {
        return Ok(report);
    }
    let mut candidates = Vec::new();
    for channel in archive.channels() {
        for segment in channel.retention_candidates() {
            candidates.push((segment, channel.clone()));
        }
    }
    // Oldest first: by the newest record a segment holds.
    candidates.sort_by_key(|(segment, channel)| (segment.last_ts, channel.id.clone(), segment.id));
    let mut total = archive.bytes();
    let horizon = policy.max_age.map(|age| now.saturating_sub(age));
    for (segment, channel) in candidates {
        let too_old = horizon.is_some_and(|horizon| segment.last_ts < horizon);
        let too_big = policy.max_bytes.is_some_and(|max| total > max);
        if !too_old && !too_big {
            // Sorted by age: neither rule applies to a younger segment once this one is kept.
            break;
        }
        channel.delete_segment(segment.id)?;
        tracing::info!(channel = %channel.id, segment = segment.id, bytes = segment.len,
            reason = if too_old { "max age" } else { "max size" }, "retention deleted a segment");
        total = total.saturating_sub(segment.len);
        report.segments += 1;
        report.bytes += segment.len;
    }
    Ok(report)
}
