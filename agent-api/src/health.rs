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
    /// What the settings in force record (absent while nothing is configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<Load>,
    /// A failover server: the most it can record for a recorder (absent: not limited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
}

/// What a set of settings records: its channels, and the bit rate of its video channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Load {
    pub channels: u32,
    pub bitrate_kbps: u64,
}

impl Load {
    /// The load of a bundle; video channels without a bit rate record at `default_video_kbps`.
    pub fn of(bundle: &crate::SettingsBundle, default_video_kbps: u32) -> Load {
        let bitrate_kbps = bundle
            .channels
            .iter()
            .filter(|channel| channel.kind == crate::ChannelKind::Video)
            .map(|channel| u64::from(channel.bitrate_kbps.unwrap_or(default_video_kbps)))
            .sum();
        Load { channels: bundle.channels.len().try_into().unwrap_or(u32::MAX), bitrate_kbps }
    }
}

/// How much a failover server can record for one recorder; a limit left out is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Capacity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate_kbps: Option<u64>,
}

impl Capacity {
    pub fn carries(&self, load: &Load) -> bool {
        self.channels.is_none_or(|most| load.channels <= most)
            && self.bitrate_kbps.is_none_or(|most| load.bitrate_kbps <= most)
    }

    pub fn is_limited(&self) -> bool {
        self.channels.is_some() || self.bitrate_kbps.is_some()
    }
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
            load: None,
            capacity: None,
        };
        let json = serde_json::to_string(&health).expect("serialises");
        assert_eq!(
            json,
            r#"{"name":"fo-1","kind":"failover","acting_for":"rec-1","recording":true,"settings_version":3}"#
        );
        assert_eq!(serde_json::from_str::<Health>(&json).expect("reads back"), health);
    }

    #[test]
    fn load_and_capacity_are_reported_only_when_known() {
        let health = Health {
            name: "fo-1".into(),
            kind: ServerKind::Failover,
            acting_for: None,
            recording: false,
            settings_version: 0,
            load: None,
            capacity: Some(Capacity { channels: Some(8), bitrate_kbps: None }),
        };
        let json = serde_json::to_string(&health).expect("serialises");
        assert!(json.ends_with(r#""capacity":{"channels":8}}"#), "{json}");
        assert_eq!(serde_json::from_str::<Health>(&json).expect("reads back"), health);
    }

    #[test]
    fn a_capacity_carries_what_fits_every_limit_it_sets() {
        let load = Load { channels: 10, bitrate_kbps: 30_000 };
        assert!(Capacity::default().carries(&load));
        assert!(Capacity { channels: Some(10), bitrate_kbps: Some(30_000) }.carries(&load));
        assert!(!Capacity { channels: Some(9), bitrate_kbps: None }.carries(&load));
        assert!(!Capacity { channels: None, bitrate_kbps: Some(29_999) }.carries(&load));
    }

    #[test]
    fn a_bundles_load_counts_its_channels_and_its_video_bit_rate() {
        let bundle: crate::SettingsBundle = serde_json::from_str(
            r#"{"channels":[{"id":"v1","kind":"video","bitrate_kbps":3000},{"id":"v2","kind":"video"},{"id":"a1","kind":"audio"}]}"#,
        )
        .expect("a bundle");
        assert_eq!(Load::of(&bundle, 2000), Load { channels: 3, bitrate_kbps: 5000 });
    }

    #[test]
    fn kinds_parse_from_their_names_only() {
        assert_eq!("recorder".parse::<ServerKind>(), Ok(ServerKind::Recorder));
        assert_eq!("failover".parse::<ServerKind>(), Ok(ServerKind::Failover));
        assert!("Failover".parse::<ServerKind>().is_err());
    }
}
