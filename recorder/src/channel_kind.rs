//! The six kinds of channel a recorder records.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
}

impl std::fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Channel ids become directory names, so they are restricted to a safe alphabet.
pub fn valid_channel_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !id.starts_with('.')
}
