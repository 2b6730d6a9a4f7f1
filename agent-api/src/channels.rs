//! The six kinds of channel a recorder records, and the channel list (`GET /api/v1/channels`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Audio,
    Video,
    Text,
    Metadata,
    Anpr,
    Alarm,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 6] = [
        ChannelKind::Audio,
        ChannelKind::Video,
        ChannelKind::Text,
        ChannelKind::Metadata,
        ChannelKind::Anpr,
        ChannelKind::Alarm,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Audio => "audio",
            ChannelKind::Video => "video",
            ChannelKind::Text => "text",
            ChannelKind::Metadata => "metadata",
            ChannelKind::Anpr => "anpr",
            ChannelKind::Alarm => "alarm",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        ChannelKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// Video, audio and metadata arrive at a steady pace, so a pause in them is material lost;
    /// text, ANPR and alarms arrive when something happens, and a pause may be a quiet spell.
    pub fn is_steady(self) -> bool {
        matches!(self, ChannelKind::Video | ChannelKind::Audio | ChannelKind::Metadata)
    }
}

impl std::fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Channel ids become directory names on the agent and path segments in the API, so they are
/// restricted to a safe alphabet.
pub fn valid_channel_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !id.starts_with('.')
}

/// One entry of the channel list: the configured channels plus every channel with material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Channel {
    pub id: String,
    pub kind: ChannelKind,
    /// In the current settings (as opposed to only having material in the archive). Not in
    /// the contract's `{id, kind}`, so a list without it reads as not configured.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub configured: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_as_written() {
        for kind in ChannelKind::ALL {
            assert_eq!(ChannelKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).expect("serialises");
            assert_eq!(json, format!("\"{kind}\""));
        }
        assert_eq!(ChannelKind::parse("smell"), None);
    }

    #[test]
    fn channel_ids_are_safe_names() {
        assert!(valid_channel_id("video-1") && valid_channel_id("a.b_c"));
        for bad in ["", ".hidden", "a b", "../x", "a/b", &"x".repeat(65)] {
            assert!(!valid_channel_id(bad), "{bad:?} is refused");
        }
    }
}
