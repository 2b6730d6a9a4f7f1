//! `GET /api/v1/health`: who the agent is and whom it acts for.

use serde::{Deserialize, Serialize};

/// What a server is: a recorder records its own channels; a failover server records nothing
/// until told to act for a failed recorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ServerKind {
    Recorder,
    Failover,
}

impl ServerKind {
    pub const ALL: [ServerKind; 2] = [ServerKind::Recorder, ServerKind::Failover];

    pub fn as_str(self) -> &'static str {
        match self {
            ServerKind::Recorder => "recorder",
            ServerKind::Failover => "failover",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        ServerKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

impl std::fmt::Display for ServerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a server kind (recorder or failover)")]
pub struct UnknownServerKind(pub String);

impl std::str::FromStr for ServerKind {
    type Err = UnknownServerKind;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ServerKind::parse(text).ok_or_else(|| UnknownServerKind(text.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub name: String,
    pub kind: ServerKind,
    /// The recorder a failover server records for, else `null`.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub acting_for: Option<String>,
    /// Whether the recording loop has channels to record.
    pub recording: bool,
    /// The version of the settings in force (0 for an idle failover server).
    pub settings_version: u64,
}

/// The stream's media type: one JSON object per line.
pub const NDJSON: &str = "application/x-ndjson";

/// The heartbeat intervals an agent accepts for its health stream, in milliseconds.
pub const HEARTBEAT_MS: std::ops::RangeInclusive<u64> = 50..=10_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_is_the_documented_object() {
        let health = Health {
            name: "fo-1".into(),
            kind: ServerKind::Failover,
            acting_for: Some("rec-1".into()),
            recording: true,
            settings_version: 3,
        };
        let json = serde_json::to_string(&health).expect("serialises");
        assert_eq!(
            json,
            r#"{"name":"fo-1","kind":"failover","acting_for":"rec-1","recording":true,"settings_version":3}"#
        );
        assert_eq!(serde_json::from_str::<Health>(&json).expect("reads back"), health);
    }

    #[test]
    fn kinds_parse_from_their_names_only() {
        assert_eq!("recorder".parse::<ServerKind>(), Ok(ServerKind::Recorder));
        assert_eq!("failover".parse::<ServerKind>(), Ok(ServerKind::Failover));
        assert!("Failover".parse::<ServerKind>().is_err());
    }
}
