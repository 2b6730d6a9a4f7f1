//! What the read and write paths of a channel's records answer: digest, ingest, ANPR and alarm
//! search. (Playback and ingest bodies are framed records, not JSON; see the agent's API.md.)

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `GET /api/v1/channels/{id}/digest`: the records in `[from, to)`, hashed in time order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Digest {
    pub count: u64,
    /// Sum of the payload sizes.
    pub bytes: u64,
    /// Lower-case hex SHA-256 over the records' fixed encoding.
    pub sha256: String,
}

/// `POST /api/v1/channels/{id}/records`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestOutcome {
    /// Records in the body.
    pub received: u64,
    /// Records added to the archive.
    pub stored: u64,
    /// Records the archive already held (or that came twice in the body).
    pub duplicates: u64,
    /// Payload bytes added.
    pub bytes_stored: u64,
}

/// One page of an ANPR or alarm search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchPage {
    pub items: Vec<SearchItem>,
    /// Pass as `cursor` for the next page; `null` when this was the last.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchItem {
    #[serde(with = "crate::time::micros")]
    pub time: DateTime<Utc>,
    /// The same instant in microseconds since the Unix epoch: the record's timestamp.
    pub timestamp_us: i64,
    /// The server that recorded it.
    pub origin: String,
    pub sequence: u64,
    /// The decoded event (plate, confidence, … or alarm_id, state, …).
    pub data: serde_json::Value,
    /// The record's payload exactly as stored, so a copy can re-create the record.
    pub payload: String,
}
