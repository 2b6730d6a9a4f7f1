//! The material-copy task service (the seed's DVRFailoverService), run by a repaired recorder:
//! StartDataCopy (`POST /api/v1/copy-tasks`), UpdateClientInfo
//! (`PUT /api/v1/copy-tasks/{id}/client-info`) and UpdateFailoverTaskStates
//! (`GET /api/v1/copy-tasks`, `GET /api/v1/copy-tasks/{id}`).

use crate::channels::ChannelKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A server as a copy task names it: how the repaired recorder reaches the failover server, and
/// the name its records carry as their origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Peer {
    pub name: String,
    /// Base URL, e.g. `http://10.0.0.7:8080`.
    pub address: String,
    /// The grant the manager signed with this peer's secret (see [`crate::credential`]) for
    /// the task's channels and period, sent as the bearer token of every pull. Write-only: a
    /// task as the agent reports it never shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(write_only))]
    pub grant: Option<String>,
}

impl Peer {
    /// The peer as reported: without its grant.
    pub fn reported(&self) -> Peer {
        Peer { grant: None, ..self.clone() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CopyChannel {
    pub id: String,
    pub kind: ChannelKind,
}

/// StartDataCopy: copy what `source` recorded as `recorder` in `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StartDataCopy {
    /// One task per failover: asking again for the same one answers with its task.
    pub failover_id: i64,
    pub source: Peer,
    pub recorder: String,
    /// Inclusive; rounded up to the microsecond by the agent.
    pub from: DateTime<Utc>,
    /// Exclusive; after `from`.
    pub to: DateTime<Utc>,
    /// Empty: every channel the source lists.
    #[serde(default)]
    pub channels: Vec<CopyChannel>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CopyStatus {
    NotStarted,
    Queued,
    Copying,
    Done,
    Failed,
}

/// A copy task as the repaired recorder reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CopyTask {
    pub id: i64,
    pub failover_id: i64,
    pub status: CopyStatus,
    pub source: Peer,
    pub recorder: String,
    #[serde(with = "crate::time::micros")]
    pub from: DateTime<Utc>,
    #[serde(with = "crate::time::micros")]
    pub to: DateTime<Utc>,
    /// Why copying waits (it retries by itself) or why it failed.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub error: Option<String>,
    /// In the order they are copied.
    pub channels: Vec<ChannelCopyState>,
    #[serde(with = "crate::time::micros")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::time::micros")]
    pub updated_at: DateTime<Utc>,
}

/// How far one channel of a task has come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelCopyState {
    pub channel: String,
    pub kind: ChannelKind,
    pub status: CopyStatus,
    /// Everything before this instant is copied; `null` before the first slice.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(with = "crate::time::micros_option")]
    pub copied_until: Option<DateTime<Utc>>,
    /// Payload bytes newly stored by this copy.
    pub bytes: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(micros: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(micros).expect("in range")
    }

    #[test]
    fn a_task_reads_back_as_it_was_written() {
        let task = CopyTask {
            id: 1,
            failover_id: 7,
            status: CopyStatus::Copying,
            source: Peer { name: "fo-1".into(), address: "http://127.0.0.1:9".into(), grant: None },
            recorder: "rec-1".into(),
            from: at(0),
            to: at(20_000_000),
            error: None,
            channels: vec![ChannelCopyState {
                channel: "video-1".into(),
                kind: ChannelKind::Video,
                status: CopyStatus::Queued,
                copied_until: Some(at(1_000_000)),
                bytes: 12,
            }],
            created_at: at(5),
            updated_at: at(6),
        };
        let json = serde_json::to_value(&task).expect("serialises");
        assert_eq!(json["from"], "1970-01-01T00:00:00.000000Z");
        assert_eq!(json["status"], "copying");
        assert_eq!(json["channels"][0]["copied_until"], "1970-01-01T00:00:01.000000Z");
        assert_eq!(serde_json::from_value::<CopyTask>(json).expect("reads back"), task);
        let fresh = ChannelCopyState { copied_until: None, ..task.channels[0].clone() };
        assert_eq!(
            serde_json::to_value(&fresh).expect("serialises")["copied_until"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn start_data_copy_refuses_unknown_fields_and_lists_channels_optionally() {
        let minimal = r#"{"failover_id":1,"source":{"name":"fo-1","address":"http://x"},
            "recorder":"rec-1","from":"2026-01-01T00:00:00Z","to":"2026-01-01T01:00:00+01:00"}"#;
        let request: StartDataCopy = serde_json::from_str(minimal).expect("parses");
        assert!(request.channels.is_empty());
        assert_eq!(request.from, request.to, "offsets are honoured");
        let typo = minimal.replace("\"recorder\"", "\"recoder\"");
        assert!(serde_json::from_str::<StartDataCopy>(&typo).is_err());
    }
}
