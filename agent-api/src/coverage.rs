//! `GET /api/v1/channels/{id}/coverage`: which stretches of a time range a channel holds, by the
//! server that recorded them. Read from the records' headers, never their payloads, so listing
//! an hour of video costs a small read per record, not a read of the video.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ChannelKind;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelHoldings {
    pub channel: String,
    pub kind: ChannelKind,
    /// Stretches in order of `from` (then origin); two of one origin never touch.
    pub stretches: Vec<Held>,
}

/// Records of one origin with no pause longer than the channel's resolution between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Held {
    /// The server that recorded them.
    pub origin: String,
    /// The first record's time.
    #[serde(with = "crate::time::micros")]
    pub from: DateTime<Utc>,
    /// Exclusive. Video, audio and metadata: the last record's time plus the stretch's usual
    /// spacing (a frame lasts until the next is due), so a hand-over between two servers within
    /// one spacing leaves no hole, and a longer one the time in which records were due and none
    /// was made. Text, ANPR and alarms: a microsecond after the last event.
    #[serde(with = "crate::time::micros")]
    pub to: DateTime<Utc>,
    pub records: u64,
    /// The longest pause between two of its records that still counts as one stretch, in
    /// microseconds: about three record spacings for video, audio and metadata, five minutes
    /// for the event channels (text, ANPR, alarms), where a quiet spell is not a loss.
    pub resolution_us: i64,
}

/// What `DELETE /api/v1/channels/{id}/records?from&to&origin` took away: the records `origin`
/// made in the range, by whole segments (a drill's recordings on a failover server).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Removed {
    pub segments: u64,
    pub records: u64,
    pub bytes: u64,
    /// Segments that hold records of the origin in the range but were kept, because they also
    /// hold records outside the range or of another server, or are still being written to.
    pub kept: u64,
}
