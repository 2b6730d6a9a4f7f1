//! Command line (and `STANDBY_RECORDER_*` environment) of `standby-recorder`.

use crate::time::Micros;
use agent_api::ServerKind;
use clap::Parser;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Parser)]
#[command(name = "standby-recorder", version, about = "Reference recording server for Standby")]
pub struct Args {
    /// Address to listen on (port 0 picks a free port; the chosen one is printed on stdout).
    #[arg(long, env = "STANDBY_RECORDER_LISTEN", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Directory of the archive, the settings and the agent's state.
    #[arg(long, env = "STANDBY_RECORDER_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The server's name; every record it records carries it as its origin.
    #[arg(long, env = "STANDBY_RECORDER_NAME")]
    pub name: String,
    /// Recorder, or failover server (idle until told to act for a recorder).
    #[arg(long, env = "STANDBY_RECORDER_KIND", default_value = "recorder", value_parser = kind_parser())]
    pub kind: ServerKind,
    /// The agent's secret (the manager sends it as a bearer token). Without it the agent makes
    /// `DATA_DIR/secret` (mode 0600) on its first start and keeps using it.
    #[arg(long, env = "STANDBY_AGENT_SECRET_FILE")]
    pub secret_file: Option<PathBuf>,
    /// Video frame rate of channels whose settings do not give one.
    #[arg(long, env = "STANDBY_RECORDER_VIDEO_FPS", default_value_t = 10.0, value_parser = parse_fps)]
    pub video_fps: f64,
    /// Video bit rate in kbit/s of channels whose settings do not give one. The default is
    /// modest so that a demo site of several agents fits a small machine.
    #[arg(long, alias = "video-bitrate", env = "STANDBY_RECORDER_VIDEO_BITRATE_KBPS", default_value_t = 2000,
          value_parser = clap::value_parser!(u32).range(8..=100_000))]
    pub video_bitrate_kbps: u32,
    /// A segment is closed at this size (e.g. 32M).
    #[arg(long, env = "STANDBY_RECORDER_SEGMENT_MAX_BYTES", default_value = "32M", value_parser = parse_size)]
    pub segment_max_bytes: u64,
    /// A segment is closed when it spans this long (e.g. 5m).
    #[arg(long, env = "STANDBY_RECORDER_SEGMENT_MAX_DURATION", default_value = "5m", value_parser = parse_duration)]
    pub segment_max_duration: Micros,
    /// Delete segments whose newest record is older than this (e.g. 30d); 0 keeps them.
    #[arg(long, env = "STANDBY_RECORDER_RETENTION_MAX_AGE", default_value = "0", value_parser = parse_duration)]
    pub retention_max_age: Micros,
    /// Delete the oldest segments while the archive is larger than this (e.g. 2G); 0 means
    /// no limit.
    #[arg(long, env = "STANDBY_RECORDER_RETENTION_MAX_BYTES", default_value = "4G", value_parser = parse_size)]
    pub retention_max_bytes: u64,
    /// How often retention runs.
    #[arg(long, env = "STANDBY_RECORDER_RETENTION_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub retention_interval: Micros,
    /// Material copying pulls the failover period in slices of this length and saves its
    /// position after each, so an interrupted copy loses at most one slice (e.g. 10s).
    #[arg(long, env = "STANDBY_RECORDER_COPY_SLICE", default_value = "10s", value_parser = parse_positive_duration)]
    pub copy_slice: Micros,
    /// Bytes per second material copying may pull from a failover server (e.g. 20M), so a
    /// copy leaves room for live video on the network; 0 means no limit.
    #[arg(long, env = "STANDBY_RECORDER_COPY_MAX_RATE", default_value = "0", value_parser = parse_size)]
    pub copy_max_rate: u64,
    /// A failover server: the most channels it can record for one recorder (reported in its
    /// health; the manager's readiness check and failover prefer one that can carry a
    /// recorder). Unset: not limited.
    #[arg(long, env = "STANDBY_RECORDER_CAPACITY_CHANNELS", value_parser = clap::value_parser!(u32).range(1..))]
    pub capacity_channels: Option<u32>,
    /// A failover server: the most video bit rate in kbit/s it can record for one recorder.
    /// Unset: not limited.
    #[arg(long, env = "STANDBY_RECORDER_CAPACITY_KBPS", value_parser = clap::value_parser!(u64).range(1..))]
    pub capacity_kbps: Option<u64>,
}

/// The kinds' names, listed in `--help` as clap lists an enum's values.
fn kind_parser() -> impl TypedValueParser<Value = ServerKind> {
    PossibleValuesParser::new(ServerKind::ALL.map(ServerKind::as_str))
        .try_map(|name| name.parse::<ServerKind>())
}

fn parse_fps(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(fps) if fps > 0.0 && fps <= 120.0 => Ok(fps),
        _ => Err("must be a number of frames per second above 0 and at most 120".into()),
    }
}

/// `1048576`, `64K`, `32M`, `2G`, `1T` (binary multiples).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, factor) = match text.char_indices().last() {
        Some((i, 'K' | 'k')) => (&text[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&text[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&text[..i], 1 << 30),
        Some((i, 'T' | 't')) => (&text[..i], 1 << 40),
        _ => (text, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("{text:?} is not a size (e.g. 1048576, 64K, 32M, 2G)"))
}

/// `90` or `90s`, `5m`, `2h`, `7d`, as microseconds.
pub fn parse_duration(text: &str) -> Result<Micros, String> {
    let text = text.trim();
    let (digits, seconds) = match text.char_indices().last() {
        Some((i, 's')) => (&text[..i], 1i64),
        Some((i, 'm')) => (&text[..i], 60),
        Some((i, 'h')) => (&text[..i], 3600),
        Some((i, 'd')) => (&text[..i], 86_400),
        _ => (text, 1),
    };
    digits
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .and_then(|n| n.checked_mul(seconds)?.checked_mul(1_000_000))
        .ok_or_else(|| format!("{text:?} is not a duration (e.g. 90s, 5m, 2h, 30d)"))
}

fn parse_positive_duration(text: &str) -> Result<Micros, String> {
    match parse_duration(text)? {
        0 => Err("must be longer than 0 (e.g. 10s)".into()),
        micros => Ok(micros),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("32M"), Ok(32 << 20));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_duration("5m"), Ok(300_000_000));
        assert_eq!(parse_duration("2"), Ok(2_000_000));
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn the_contract_command_line_parses() {
        let args = Args::try_parse_from([
            "standby-recorder",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "/tmp/x",
            "--name",
            "fo-1",
            "--kind",
            "failover",
        ])
        .expect("contract arguments parse");
        assert_eq!(args.kind, ServerKind::Failover);
        assert_eq!(args.video_bitrate_kbps, 2000);
    }

    #[test]
    fn the_kind_is_one_of_two_names() {
        let with_kind = |kind: &str| {
            Args::try_parse_from([
                "standby-recorder",
                "--data-dir",
                "/tmp/x",
                "--name",
                "rec-1",
                "--kind",
                kind,
            ])
        };
        assert_eq!(with_kind("recorder").map(|args| args.kind).ok(), Some(ServerKind::Recorder));
        let refused = with_kind("boss").err().map(|error| error.to_string()).unwrap_or_default();
        assert!(refused.contains("[possible values: recorder, failover]"), "{refused}");
    }
}
