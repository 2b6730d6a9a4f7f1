//! Configuration: command-line flags > environment (`STANDBY_*`) > `standby.toml` > defaults.
//! Flags and environment are read by clap; this module fills the rest in.

use crate::monitor::MonitorConfig;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:3000";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://standby.db";
const DEFAULT_CONFIG_FILE: &str = "standby.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("{name} must be at least {min} ms, got {value} ms")]
    TooShort { name: &'static str, min: u64, value: u64 },
}

/// `standby.toml`: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
    pub site_root: Option<PathBuf>,
    pub monitor_interval_ms: Option<u64>,
    pub check_timeout_ms: Option<u64>,
    pub failover_window_ms: Option<u64>,
    pub failback_hold_down_ms: Option<u64>,
    pub heartbeat_ms: Option<u64>,
    pub mid_step_timeout_ms: Option<u64>,
}

/// The monitor's timing as given on the command line (or in the environment), in milliseconds.
#[derive(Debug, Default, Clone, Copy)]
pub struct MonitorFlags {
    pub interval_ms: Option<u64>,
    pub check_timeout_ms: Option<u64>,
    pub failover_window_ms: Option<u64>,
    pub failback_hold_down_ms: Option<u64>,
    pub heartbeat_ms: Option<u64>,
    pub mid_step_timeout_ms: Option<u64>,
}

impl FileConfig {
    /// Reads the named file, or `standby.toml` in the working directory when it exists.
    pub fn load(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let path = match explicit {
            Some(path) => path.to_owned(),
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => PathBuf::from(DEFAULT_CONFIG_FILE),
            None => return Ok(FileConfig::default()),
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|source| ConfigError::Read { path: path.clone(), source })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse { path, source })
    }
}

/// The monitor's timing, from the first layer that sets each value.
pub fn monitor(file: &FileConfig, flags: MonitorFlags) -> Result<MonitorConfig, ConfigError> {
    let MonitorFlags {
        interval_ms,
        check_timeout_ms: timeout_ms,
        failover_window_ms: window_ms,
        failback_hold_down_ms: hold_down_ms,
        heartbeat_ms,
        mid_step_timeout_ms,
    } = flags;
    let defaults = MonitorConfig::default();
    let interval_ms =
        interval_ms.or(file.monitor_interval_ms).unwrap_or(defaults.interval.as_millis() as u64);
    let timeout_ms =
        timeout_ms.or(file.check_timeout_ms).unwrap_or(defaults.check_timeout.as_millis() as u64);
    let window_ms = window_ms
        .or(file.failover_window_ms)
        .unwrap_or(defaults.failover_window.as_millis() as u64);
    let hold_down_ms = hold_down_ms
        .or(file.failback_hold_down_ms)
        .unwrap_or(defaults.failback_hold_down.as_millis() as u64);
    if interval_ms < 50 {
        return Err(ConfigError::TooShort {
            name: "monitor interval",
            min: 50,
            value: interval_ms,
        });
    }
    if timeout_ms < 10 {
        return Err(ConfigError::TooShort { name: "check timeout", min: 10, value: timeout_ms });
    }
    let heartbeat_ms =
        heartbeat_ms.or(file.heartbeat_ms).unwrap_or(defaults.heartbeat.as_millis() as u64);
    // The agents' range (see agent_api::health::HEARTBEAT_MS).
    if heartbeat_ms < 50 {
        return Err(ConfigError::TooShort { name: "heartbeat", min: 50, value: heartbeat_ms });
    }
    let heartbeat_ms = heartbeat_ms.min(10_000);
    let mid_step_timeout_ms = mid_step_timeout_ms
        .or(file.mid_step_timeout_ms)
        .unwrap_or(defaults.mid_step_timeout.as_millis() as u64);
    if mid_step_timeout_ms < 1000 {
        return Err(ConfigError::TooShort {
            name: "mid-step timeout",
            min: 1000,
            value: mid_step_timeout_ms,
        });
    }
    Ok(MonitorConfig {
        interval: Duration::from_millis(interval_ms),
        check_timeout: Duration::from_millis(timeout_ms),
        failover_window: Duration::from_millis(window_ms),
        failback_hold_down: Duration::from_millis(hold_down_ms),
        heartbeat: Duration::from_millis(heartbeat_ms),
        mid_step_timeout: Duration::from_millis(mid_step_timeout_ms),
    })
}

/// Where the browser bundle lives: next to the binary's target directory when built from
/// source (`target/release/standby` → `target/site`), else `target/site` under the working
/// directory.
pub fn site_root(explicit: Option<PathBuf>, file: &FileConfig) -> PathBuf {
    if let Some(path) = explicit.or_else(|| file.site_root.clone()) {
        return path;
    }
    let beside_binary =
        std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.parent()?.join("site")));
    match beside_binary {
        Some(path) if path.join("pkg").exists() => path,
        _ => PathBuf::from("target/site"),
    }
}

/// A database URL fit for a log line: any password is replaced.
pub fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let file = FileConfig {
            monitor_interval_ms: Some(2000),
            check_timeout_ms: Some(300),
            ..Default::default()
        };
        let flags = MonitorFlags { interval_ms: Some(250), ..Default::default() };
        let monitor_config = monitor(&file, flags).unwrap();
        assert_eq!(monitor_config.interval, Duration::from_millis(250));
        assert_eq!(monitor_config.check_timeout, Duration::from_millis(300));
        let defaults = monitor(&FileConfig::default(), MonitorFlags::default()).unwrap();
        assert_eq!(defaults.interval, Duration::from_secs(1));
        assert_eq!(defaults.heartbeat, Duration::from_millis(250));
    }

    #[test]
    fn absurd_intervals_are_refused() {
        assert!(matches!(
            monitor(
                &FileConfig::default(),
                MonitorFlags { interval_ms: Some(1), ..Default::default() }
            ),
            Err(ConfigError::TooShort { .. })
        ));
        assert!(matches!(
            monitor(
                &FileConfig::default(),
                MonitorFlags { heartbeat_ms: Some(5), ..Default::default() }
            ),
            Err(ConfigError::TooShort { .. })
        ));
    }

    #[test]
    fn passwords_never_reach_the_log() {
        assert_eq!(redacted("postgres://u:secret@db/standby"), "postgres://u:***@db/standby");
        assert_eq!(redacted("sqlite://standby.db"), "sqlite://standby.db");
    }

    #[test]
    fn the_file_rejects_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("standby.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:4000\"\nlisten_port = 1\n").unwrap();
        assert!(matches!(FileConfig::load(Some(&path)), Err(ConfigError::Parse { .. })));
        std::fs::write(&path, "listen = \"127.0.0.1:4000\"\n").unwrap();
        let file = FileConfig::load(Some(&path)).unwrap();
        assert_eq!(file.listen, Some("127.0.0.1:4000".parse().unwrap()));
    }
}
