//! The settings bundle: channels, configuration files, privacy masks and weekly recording
//! schedules, with the checks that refuse an invalid bundle by naming the field. The agent
//! checks a bundle before it records by it; the manager before it caches one.

use crate::channels::{ChannelKind, valid_channel_id};
use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SettingsBundle {
    /// Set by the agent: every accepted change gets the next number. Ignored on input.
    #[serde(default)]
    pub version: u64,
    pub channels: Vec<ChannelSettings>,
    #[serde(default)]
    pub config_files: Vec<ConfigFile>,
    #[serde(default)]
    pub privacy_masks: Vec<PrivacyMask>,
    #[serde(default)]
    pub schedules: Vec<Schedule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChannelSettings {
    /// 1 to 64 letters, digits, `-`, `_` or `.`, not starting with `.`; unique in the bundle.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$"))]
    pub id: String,
    pub kind: ChannelKind,
    /// At most 100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Metadata: the video or text channel it describes; ANPR: the video channel it reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Alarm channels (and only they): the alarm id, unique in the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_id: Option<u32>,
    /// Video: frames per second, above 0 and at most 120 (default: the agent's `--video-fps`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<f64>,
    /// Video: bit rate in kbit/s, 8 to 100000 (default: the agent's `--video-bitrate-kbps`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate_kbps: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// 1 to 255 bytes without `/`, `\` or NUL; unique in the bundle.
    pub name: String,
    /// At most 1 MiB.
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PrivacyMask {
    /// A video channel; one entry per channel.
    pub channel: String,
    /// Polygons in image coordinates normalised to 0..=1, at least three points each.
    pub polygons: Vec<Vec<Point>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub channel: String,
    /// Weekly windows (UTC) in which the channel records. A channel without a schedule records
    /// all the time; a schedule with no window records never.
    pub weekly: Vec<Window>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// `monday` … `sunday`.
    pub day: String,
    /// `HH:MM`, inclusive.
    pub start: String,
    /// `HH:MM` (up to `24:00`), exclusive.
    pub end: String,
}

/// An invalid bundle: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidSettings {
    pub field: String,
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> InvalidSettings {
    InvalidSettings { field: field.into(), message: message.into() }
}

/// Parses a JSON body (a bundle, or a request that holds one), naming the field serde stumbled
/// on.
pub fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, InvalidSettings> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let bundle: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        invalid(field, error.into_inner().to_string())
    })?;
    deserializer.end().map_err(|e| invalid("body", e.to_string()))?;
    Ok(bundle)
}

/// The days of a schedule window, in the order of the week.
pub const DAYS: [&str; 7] =
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const MAX_CONFIG_FILE: usize = 1024 * 1024;

impl SettingsBundle {
    /// Checks everything that serde cannot: references between channels, uniqueness, ranges.
    pub fn validate(&self) -> Result<(), InvalidSettings> {
        let mut kinds = BTreeMap::new();
        for (i, channel) in self.channels.iter().enumerate() {
            let field = format!("channels[{i}]");
            if !valid_channel_id(&channel.id) {
                return Err(invalid(
                    format!("{field}.id"),
                    format!(
                        "{:?} is not a channel id (1 to 64 letters, digits, '-', '_' or '.', not starting with '.')",
                        channel.id
                    ),
                ));
            }
            if kinds.insert(channel.id.as_str(), channel.kind).is_some() {
                return Err(invalid(
                    format!("{field}.id"),
                    format!("channel {:?} appears twice", channel.id),
                ));
            }
            if channel.name.as_ref().is_some_and(|n| n.chars().count() > 100) {
                return Err(invalid(format!("{field}.name"), "is longer than 100 characters"));
            }
        }
        let mut alarm_ids = BTreeSet::new();
        for (i, channel) in self.channels.iter().enumerate() {
            let field = format!("channels[{i}]");
            let wanted_sources: &[ChannelKind] = match channel.kind {
                ChannelKind::Metadata => &[ChannelKind::Video, ChannelKind::Text],
                ChannelKind::Anpr => &[ChannelKind::Video],
                _ => &[],
            };
            match (&channel.source, wanted_sources.is_empty()) {
                (Some(_), true) => {
                    return Err(invalid(
                        format!("{field}.source"),
                        "only metadata and anpr channels have a source",
                    ));
                }
                (None, false) => {
                    return Err(invalid(
                        format!("{field}.source"),
                        format!("a {} channel needs a source channel", channel.kind),
                    ));
                }
                (Some(source), false) => match kinds.get(source.as_str()) {
                    Some(kind) if wanted_sources.contains(kind) => {}
                    Some(kind) => {
                        return Err(invalid(
                            format!("{field}.source"),
                            format!(
                                "{source:?} is a {kind} channel; a {} channel's source must be {}",
                                channel.kind,
                                wanted_sources
                                    .iter()
                                    .map(|k| k.as_str())
                                    .collect::<Vec<_>>()
                                    .join(" or ")
                            ),
                        ));
                    }
                    None => {
                        return Err(invalid(
                            format!("{field}.source"),
                            format!("there is no channel {source:?}"),
                        ));
                    }
                },
                (None, true) => {}
            }
            match (channel.kind, channel.alarm_id) {
                (ChannelKind::Alarm, None) => {
                    return Err(invalid(
                        format!("{field}.alarm_id"),
                        "an alarm channel needs an alarm id",
                    ));
                }
                (ChannelKind::Alarm, Some(id)) if !alarm_ids.insert(id) => {
                    return Err(invalid(
                        format!("{field}.alarm_id"),
                        format!("alarm id {id} appears twice"),
                    ));
                }
                (ChannelKind::Alarm, Some(_)) => {}
                (_, Some(_)) => {
                    return Err(invalid(
                        format!("{field}.alarm_id"),
                        "only alarm channels have an alarm id",
                    ));
                }
                (_, None) => {}
            }
            let is_video = channel.kind == ChannelKind::Video;
            if let Some(rate) = channel.frame_rate
                && !(is_video && rate > 0.0 && rate <= 120.0)
            {
                return Err(invalid(
                    format!("{field}.frame_rate"),
                    if is_video {
                        "must be more than 0 and at most 120 frames per second"
                    } else {
                        "only video channels have a frame rate"
                    },
                ));
            }
            if let Some(rate) = channel.bitrate_kbps
                && (!is_video || !(8..=100_000).contains(&rate))
            {
                return Err(invalid(
                    format!("{field}.bitrate_kbps"),
                    if is_video {
                        "must be between 8 and 100000 kbit/s"
                    } else {
                        "only video channels have a bit rate"
                    },
                ));
            }
        }
        let mut names = BTreeSet::new();
        for (i, file) in self.config_files.iter().enumerate() {
            let field = format!("config_files[{i}]");
            if file.name.is_empty()
                || file.name.len() > 255
                || file.name.contains(['/', '\\', '\0'])
            {
                return Err(invalid(
                    format!("{field}.name"),
                    "must be 1 to 255 bytes without '/', '\\' or NUL",
                ));
            }
            if !names.insert(file.name.as_str()) {
                return Err(invalid(
                    format!("{field}.name"),
                    format!("{:?} appears twice", file.name),
                ));
            }
            if file.content.len() > MAX_CONFIG_FILE {
                return Err(invalid(format!("{field}.content"), "is larger than 1 MiB"));
            }
        }
        let mut masked = BTreeSet::new();
        for (i, mask) in self.privacy_masks.iter().enumerate() {
            let field = format!("privacy_masks[{i}]");
            match kinds.get(mask.channel.as_str()) {
                Some(ChannelKind::Video) => {}
                Some(kind) => {
                    return Err(invalid(
                        format!("{field}.channel"),
                        format!("{:?} is a {kind} channel; masks apply to video", mask.channel),
                    ));
                }
                None => {
                    return Err(invalid(
                        format!("{field}.channel"),
                        format!("there is no channel {:?}", mask.channel),
                    ));
                }
            }
            if !masked.insert(mask.channel.as_str()) {
                return Err(invalid(
                    format!("{field}.channel"),
                    format!("{:?} has two mask entries", mask.channel),
                ));
            }
            for (j, polygon) in mask.polygons.iter().enumerate() {
                if polygon.len() < 3 {
                    return Err(invalid(
                        format!("{field}.polygons[{j}]"),
                        "a polygon needs at least 3 points",
                    ));
                }
                for (k, point) in polygon.iter().enumerate() {
                    if !(0.0..=1.0).contains(&point.x) || !(0.0..=1.0).contains(&point.y) {
                        return Err(invalid(
                            format!("{field}.polygons[{j}][{k}]"),
                            "coordinates must lie between 0 and 1",
                        ));
                    }
                }
            }
        }
        let mut scheduled = BTreeSet::new();
        for (i, schedule) in self.schedules.iter().enumerate() {
            let field = format!("schedules[{i}]");
            if !kinds.contains_key(schedule.channel.as_str()) {
                return Err(invalid(
                    format!("{field}.channel"),
                    format!("there is no channel {:?}", schedule.channel),
                ));
            }
            if !scheduled.insert(schedule.channel.as_str()) {
                return Err(invalid(
                    format!("{field}.channel"),
                    format!("{:?} has two schedules", schedule.channel),
                ));
            }
            for (j, window) in schedule.weekly.iter().enumerate() {
                let field = format!("{field}.weekly[{j}]");
                if !DAYS.contains(&window.day.as_str()) {
                    return Err(invalid(
                        format!("{field}.day"),
                        format!("{:?} is not a day (monday … sunday)", window.day),
                    ));
                }
                let start = minutes(&window.start)
                    .ok_or_else(|| invalid(format!("{field}.start"), "must be HH:MM"))?;
                let end = minutes(&window.end).ok_or_else(|| {
                    invalid(format!("{field}.end"), "must be HH:MM, at most 24:00")
                })?;
                if start >= end {
                    return Err(invalid(format!("{field}.end"), "must be after start"));
                }
            }
        }
        Ok(())
    }

    pub fn channel(&self, id: &str) -> Option<&ChannelSettings> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// Whether `channel` records at `now` according to its weekly schedule.
    pub fn scheduled(&self, channel: &str, now: DateTime<Utc>) -> bool {
        let Some(schedule) = self.schedules.iter().find(|s| s.channel == channel) else {
            return true;
        };
        let day = DAYS[now.weekday().num_days_from_monday() as usize];
        let minute = now.hour() * 60 + now.minute();
        schedule.weekly.iter().any(|w| {
            w.day == day
                && minutes(&w.start).is_some_and(|start| start <= minute)
                && minutes(&w.end).is_some_and(|end| minute < end)
        })
    }

    /// The bundle of a failover server that acts for nobody.
    pub fn empty() -> Self {
        SettingsBundle {
            version: 0,
            channels: Vec::new(),
            config_files: Vec::new(),
            privacy_masks: Vec::new(),
            schedules: Vec::new(),
        }
    }
}

/// `HH:MM` as minutes since midnight; `24:00` is the end of the day.
fn minutes(text: &str) -> Option<u32> {
    let (hours, mins) = text.split_once(':')?;
    if hours.len() != 2 || mins.len() != 2 {
        return None;
    }
    let (hours, mins): (u32, u32) = (hours.parse().ok()?, mins.parse().ok()?);
    match (hours, mins) {
        (24, 0) => Some(24 * 60),
        (0..=23, 0..=59) => Some(hours * 60 + mins),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn video(id: &str) -> ChannelSettings {
        ChannelSettings {
            id: id.into(),
            kind: ChannelKind::Video,
            name: None,
            source: None,
            alarm_id: None,
            frame_rate: None,
            bitrate_kbps: None,
        }
    }

    #[test]
    fn errors_name_the_field() {
        let field = |json: &str| {
            parse::<SettingsBundle>(json.as_bytes())
                .and_then(|b| b.validate().map(|()| b))
                .err()
                .map(|e| e.field)
        };
        assert_eq!(
            field(r#"{"channels":[{"id":"a","kind":"smell"}]}"#).as_deref(),
            Some("channels[0].kind")
        );
        assert_eq!(
            field(r#"{"channels":[{"id":"a b","kind":"video"}]}"#).as_deref(),
            Some("channels[0].id")
        );
        assert_eq!(
            field(r#"{"channels":[{"id":"m","kind":"metadata","source":"x"}]}"#).as_deref(),
            Some("channels[0].source")
        );
        assert_eq!(
            field(r#"{"channels":[{"id":"a","kind":"alarm"}]}"#).as_deref(),
            Some("channels[0].alarm_id")
        );
        assert_eq!(
            field(r#"{"channels":[],"schedules":[{"channel":"x","weekly":[]}]}"#).as_deref(),
            Some("schedules[0].channel")
        );
        assert_eq!(
            field(r#"{"channels":[{"id":"v","kind":"video"}],"schedules":[{"channel":"v","weekly":[{"day":"monday","start":"10:00","end":"09:00"}]}]}"#).as_deref(),
            Some("schedules[0].weekly[0].end")
        );
        assert_eq!(
            field(r#"{"channels":[{"id":"v","kind":"video"}],"privacy_masks":[{"channel":"v","polygons":[[{"x":0,"y":0},{"x":2,"y":0},{"x":0,"y":1}]]}]}"#).as_deref(),
            Some("privacy_masks[0].polygons[0][1]")
        );
        assert_eq!(field(r#"{"chanels":[]}"#).as_deref(), Some("chanels"));
        assert_eq!(field("[1]").as_deref(), Some("body"));
        assert_eq!(
            field(r#"{"channels":[{"id":"v","kind":"video","frame_rate":0}]}"#).as_deref(),
            Some("channels[0].frame_rate")
        );
        assert_eq!(field(r#"{"channels":[]}"#), None);
    }

    #[test]
    fn schedules_are_weekly_windows() {
        let mut bundle = SettingsBundle::empty();
        bundle.channels = vec![video("video-1"), video("video-2")];
        bundle.schedules = vec![Schedule {
            channel: "video-1".into(),
            weekly: vec![Window {
                day: "monday".into(),
                start: "08:00".into(),
                end: "17:00".into(),
            }],
        }];
        bundle.validate().expect("valid");
        // 2024-01-01 is a Monday.
        let at = |h, m| Utc.with_ymd_and_hms(2024, 1, 1, h, m, 0).single().expect("valid time");
        assert!(!bundle.scheduled("video-1", at(7, 59)));
        assert!(bundle.scheduled("video-1", at(8, 0)));
        assert!(!bundle.scheduled("video-1", at(17, 0)));
        assert!(bundle.scheduled("video-2", at(3, 0)), "unscheduled channels always record");
        let tuesday = Utc.with_ymd_and_hms(2024, 1, 2, 9, 0, 0).single().expect("valid time");
        assert!(!bundle.scheduled("video-1", tuesday));
    }

    #[test]
    fn a_bundle_reads_back_as_it_was_written() {
        let mut bundle = SettingsBundle::empty();
        bundle.version = 4;
        bundle.channels = vec![video("video-1")];
        let json = serde_json::to_string(&bundle).expect("serialises");
        // Absent optional fields stay absent, so a bundle round-trips byte for byte.
        assert_eq!(
            json,
            r#"{"version":4,"channels":[{"id":"video-1","kind":"video"}],"config_files":[],"privacy_masks":[],"schedules":[]}"#
        );
        assert_eq!(parse::<SettingsBundle>(json.as_bytes()), Ok(bundle));
    }
}
