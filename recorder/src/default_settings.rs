//! The settings a recorder started without any records by (its bundle's type and checks are
//! the recorder API's, in `agent_api::settings`).

use agent_api::ChannelKind;
use agent_api::settings::{
    ChannelSettings, ConfigFile, DAYS, Point, PrivacyMask, Schedule, SettingsBundle, Window,
};

/// What a recorder started without settings records: four cameras with their metadata and
/// ANPR, two microphones, a point-of-sale text channel with its metadata, and two alarms.
pub fn default_set() -> SettingsBundle {
    let mut channels = Vec::new();
    let plain = |id: String, kind, name: String| ChannelSettings {
        id,
        kind,
        name: Some(name),
        source: None,
        alarm_id: None,
        frame_rate: None,
        bitrate_kbps: None,
    };
    for i in 1..=4 {
        channels.push(plain(format!("video-{i}"), ChannelKind::Video, format!("Camera {i}")));
        channels.push(ChannelSettings {
            source: Some(format!("video-{i}")),
            ..plain(format!("metadata-{i}"), ChannelKind::Metadata, format!("Camera {i} metadata"))
        });
        channels.push(ChannelSettings {
            source: Some(format!("video-{i}")),
            ..plain(format!("anpr-{i}"), ChannelKind::Anpr, format!("Camera {i} ANPR"))
        });
    }
    for i in 1..=2 {
        channels.push(plain(format!("audio-{i}"), ChannelKind::Audio, format!("Microphone {i}")));
    }
    channels.push(plain("text-1".into(), ChannelKind::Text, "Point of sale 1".into()));
    channels.push(ChannelSettings {
        source: Some("text-1".into()),
        ..plain("metadata-text-1".into(), ChannelKind::Metadata, "Point of sale 1 metadata".into())
    });
    for i in 1..=2 {
        channels.push(ChannelSettings {
            alarm_id: Some(i),
            ..plain(format!("alarm-{i}"), ChannelKind::Alarm, format!("Alarm input {i}"))
        });
    }
    let schedules = channels
        .iter()
        .map(|c| Schedule {
            channel: c.id.clone(),
            weekly: DAYS
                .iter()
                .map(|day| Window {
                    day: (*day).into(),
                    start: "00:00".into(),
                    end: "24:00".into(),
                })
                .collect(),
        })
        .collect();
    SettingsBundle {
        version: 1,
        channels,
        config_files: vec![ConfigFile {
            name: "recorder.conf".into(),
            content: "# Recording server configuration\nretention.policy = archive\nevent.pre_record_seconds = 5\n".into(),
        }],
        privacy_masks: vec![PrivacyMask {
            channel: "video-2".into(),
            polygons: vec![vec![
                Point { x: 0.6, y: 0.1 },
                Point { x: 0.9, y: 0.1 },
                Point { x: 0.9, y: 0.4 },
                Point { x: 0.6, y: 0.4 },
            ]],
        }],
        schedules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_set_is_valid() {
        let bundle = default_set();
        bundle.validate().expect("default set is valid");
        for kind in ChannelKind::ALL {
            assert!(bundle.channels.iter().any(|c| c.kind == kind), "default set lacks {kind}");
        }
    }
}
