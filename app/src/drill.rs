//! Drills: an administrator's test failover of one recorder that does not disturb it. The
//! failover server that a failover would choose records the recorder's channels beside it for a
//! short while; Standby checks that material arrives, stops it and removes what it recorded. The
//! drill log keeps each result (passed, or the step that failed), beside the failover log.

use crate::model::ServerRef;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How long a drill records when not told: long enough for every steady channel to show its
/// pace, short enough to be a moment's load on the failover server.
pub const DEFAULT_SECONDS: u32 = 10;
/// The bounds of what may be asked for.
pub const MIN_SECONDS: u32 = 2;
pub const MAX_SECONDS: u32 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DrillStatus {
    Running,
    Passed,
    Failed,
    /// A real failure came first: a failover needed the failover server, or the recorder.
    Cancelled,
}

impl DrillStatus {
    pub const ALL: [DrillStatus; 4] =
        [DrillStatus::Running, DrillStatus::Passed, DrillStatus::Failed, DrillStatus::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            DrillStatus::Running => "running",
            DrillStatus::Passed => "passed",
            DrillStatus::Failed => "failed",
            DrillStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        DrillStatus::ALL.into_iter().find(|status| status.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            DrillStatus::Running => "Running",
            DrillStatus::Passed => "Passed",
            DrillStatus::Failed => "Failed",
            DrillStatus::Cancelled => "Cancelled",
        }
    }
}

/// A drill's steps, in order; a drill that fails names the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DrillStep {
    /// A failover now would succeed: the readiness checks, and a free failover server.
    Readiness,
    /// The failover server starts recording the recorder's channels.
    Start,
    /// Material of every video, audio and metadata channel arrives on the failover server.
    Material,
    /// The recorder kept recording meanwhile.
    RecorderUndisturbed,
    /// The failover server stops and stands by again.
    Stop,
    /// What the drill recorded is removed from the failover server.
    Cleanup,
}

impl DrillStep {
    pub const ALL: [DrillStep; 6] = [
        DrillStep::Readiness,
        DrillStep::Start,
        DrillStep::Material,
        DrillStep::RecorderUndisturbed,
        DrillStep::Stop,
        DrillStep::Cleanup,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DrillStep::Readiness => "readiness",
            DrillStep::Start => "start",
            DrillStep::Material => "material",
            DrillStep::RecorderUndisturbed => "recorder_undisturbed",
            DrillStep::Stop => "stop",
            DrillStep::Cleanup => "cleanup",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        DrillStep::ALL.into_iter().find(|step| step.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            DrillStep::Readiness => "Would a failover succeed",
            DrillStep::Start => "Failover server starts recording",
            DrillStep::Material => "Material arrives",
            DrillStep::RecorderUndisturbed => "Recorder keeps recording",
            DrillStep::Stop => "Failover server stands by again",
            DrillStep::Cleanup => "Drill recordings removed",
        }
    }
}

/// One drill in the drill log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Drill {
    pub id: i64,
    pub recorder: ServerRef,
    /// The failover server that recorded; `None` when none could be chosen.
    pub failover_server: Option<ServerRef>,
    pub status: DrillStatus,
    /// The step under way (running), or the one that failed or was cut short.
    pub step: Option<DrillStep>,
    /// Seconds the failover server was asked to record.
    pub seconds: u32,
    pub requested_by: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// What was found: the outcome in a sentence or two (records that arrived, what was removed,
    /// or why it failed).
    pub message: Option<String>,
}

impl Drill {
    pub fn is_running(&self) -> bool {
        self.status == DrillStatus::Running
    }
}

/// `POST /api/v1/servers/{id}/drill`: how long to record (default [`DEFAULT_SECONDS`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewDrill {
    /// 2 to 300 (default 10).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 2, maximum = 300))]
    pub seconds: Option<u32>,
}

impl NewDrill {
    /// The seconds asked for, checked; the error is the sentence for the caller.
    pub fn seconds(&self) -> Result<u32, String> {
        let seconds = self.seconds.unwrap_or(DEFAULT_SECONDS);
        if (MIN_SECONDS..=MAX_SECONDS).contains(&seconds) {
            Ok(seconds)
        } else {
            Err(format!(
                "A drill records for {MIN_SECONDS} to {MAX_SECONDS} seconds, not {seconds}."
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_and_seconds_are_bounded() {
        for status in DrillStatus::ALL {
            assert_eq!(DrillStatus::parse(status.as_str()), Some(status));
        }
        for step in DrillStep::ALL {
            assert_eq!(DrillStep::parse(step.as_str()), Some(step));
        }
        assert_eq!(NewDrill::default().seconds(), Ok(DEFAULT_SECONDS));
        assert_eq!(NewDrill { seconds: Some(2) }.seconds(), Ok(2));
        assert!(NewDrill { seconds: Some(1) }.seconds().is_err());
        assert!(NewDrill { seconds: Some(301) }.seconds().is_err());
    }
}

/// What the drill log page shows in one round trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillPage {
    pub drills: Vec<Drill>,
    /// Recorders a drill can be started for, by name.
    pub recorders: Vec<ServerRef>,
    /// Whether the caller may start one.
    pub may_drill: bool,
}
