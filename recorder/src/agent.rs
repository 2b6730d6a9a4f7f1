//! The agent's state: who it is, which settings it records by, and whom it acts for. Every
//! change is written to `state.json` before it takes effect, so a restarted agent resumes
//! exactly (a failover server killed while acting acts again when it comes back).

use crate::archive::{Archive, ArchiveError};
use crate::recording::{Plan, Recording};
use agent_api::{
    Acting, Capacity, Channel, Health, InvalidSettings, Load, Previous, ServerKind, SettingsBundle,
    Stopped,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Invalid(#[from] InvalidSettings),
    #[error("{0}")]
    Conflict(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error(transparent)]
    Archive(ArchiveError),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Persisted {
    /// The recorder's own settings, or (failover server) those of the recorder it acts for.
    settings: Option<SettingsBundle>,
    acting_for: Option<String>,
}

pub struct Agent {
    pub name: String,
    pub kind: ServerKind,
    pub archive: Arc<Archive>,
    state_path: PathBuf,
    /// Held across validation, the state file write and the recording switch, so that two
    /// concurrent changes apply one after the other.
    state: Mutex<Persisted>,
    recording: Recording,
    sizing: Sizing,
}

/// What the agent says of its size in its health.
#[derive(Debug, Clone, Copy)]
pub struct Sizing {
    /// The bit rate of video channels whose settings give none (`--video-bitrate-kbps`).
    pub default_video_kbps: u32,
    /// A failover server's limits (`--capacity-channels`, `--capacity-kbps`).
    pub capacity: Capacity,
}

impl Default for Sizing {
    fn default() -> Self {
        Sizing { default_video_kbps: 2000, capacity: Capacity::default() }
    }
}

const STATE_FILE: &str = "state.json";

impl Agent {
    /// Loads (or initialises) the state and starts recording what it says.
    pub fn start(
        name: String,
        kind: ServerKind,
        data_dir: &Path,
        archive: Arc<Archive>,
        recording: Recording,
    ) -> Result<Self, AgentError> {
        let state_path = data_dir.join(STATE_FILE);
        let persisted = match std::fs::read(&state_path) {
            Ok(bytes) => {
                serde_json::from_slice::<Persisted>(&bytes).map_err(|e| AgentError::Io {
                    context: format!("reading {}", state_path.display()),
                    source: std::io::Error::other(e),
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Persisted::default(),
            Err(source) => {
                return Err(AgentError::Io {
                    context: format!("reading {}", state_path.display()),
                    source,
                });
            }
        };
        let agent = Agent {
            name,
            kind,
            archive,
            state_path,
            state: Mutex::new(Persisted::default()),
            recording,
            sizing: Sizing::default(),
        };
        let persisted = match (kind, persisted) {
            (ServerKind::Recorder, Persisted { settings: None, .. }) => {
                tracing::info!("no settings yet: starting with the default set");
                let initial = Persisted {
                    settings: Some(crate::default_settings::default_set()),
                    acting_for: None,
                };
                agent.persist(&initial)?;
                initial
            }
            (ServerKind::Recorder, persisted) => Persisted { acting_for: None, ..persisted },
            (ServerKind::Failover, persisted) => persisted,
        };
        if let Some(recorder) = &persisted.acting_for {
            tracing::info!(%recorder, "resuming acting as a failover server");
        }
        agent.switch_recording(&persisted)?;
        *agent.lock() = persisted;
        Ok(agent)
    }

    /// The sizes its health reports.
    pub fn sized(mut self, sizing: Sizing) -> Self {
        self.sizing = sizing;
        self
    }

    fn lock(&self) -> MutexGuard<'_, Persisted> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn health(&self) -> Health {
        let state = self.lock();
        Health {
            name: self.name.clone(),
            kind: self.kind,
            acting_for: state.acting_for.clone(),
            recording: self.recording.is_recording(),
            settings_version: state.settings.as_ref().map_or(0, |s| s.version),
            load: state
                .settings
                .as_ref()
                .map(|settings| Load::of(settings, self.sizing.default_video_kbps)),
            capacity: (self.kind == ServerKind::Failover && self.sizing.capacity.is_limited())
                .then_some(self.sizing.capacity),
        }
    }

    /// The settings in force; an idle failover server has an empty bundle (version 0).
    pub fn settings(&self) -> SettingsBundle {
        self.lock().settings.clone().unwrap_or_else(SettingsBundle::empty)
    }

    /// Replaces the settings. `expected_version`, when given, must be the current version
    /// (optimistic locking for clients that read, edit and write back).
    pub fn replace_settings(
        &self,
        mut bundle: SettingsBundle,
        expected_version: Option<u64>,
    ) -> Result<SettingsBundle, AgentError> {
        let mut state = self.lock();
        let Some(current) = &state.settings else {
            return Err(AgentError::Conflict(format!(
                "{} is a failover server acting for no recorder: it takes settings only with act-as",
                self.name
            )));
        };
        if let Some(expected) = expected_version
            && expected != current.version
        {
            return Err(AgentError::Conflict(format!(
                "the settings are at version {}, not {expected}; read them again before changing them",
                current.version
            )));
        }
        self.check(&bundle)?;
        bundle.version = current.version + 1;
        let next =
            Persisted { settings: Some(bundle.clone()), acting_for: state.acting_for.clone() };
        self.persist(&next)?;
        self.switch_recording(&next)?;
        *state = next;
        tracing::info!(version = bundle.version, "settings replaced");
        Ok(bundle)
    }

    /// Starts acting for `recorder` with its settings (failover servers only). Repeating the
    /// call for the same recorder replaces the settings; another recorder is refused until
    /// this one is stopped: one failover server never records as two recorders.
    pub fn act_as(&self, recorder: &str, mut bundle: SettingsBundle) -> Result<Acting, AgentError> {
        if self.kind != ServerKind::Failover {
            return Err(AgentError::Conflict(format!(
                "{} is a recorder, not a failover server",
                self.name
            )));
        }
        if recorder.trim().is_empty() {
            return Err(InvalidSettings {
                field: "recorder".into(),
                message: "must name the recorder to act for".into(),
            }
            .into());
        }
        let mut state = self.lock();
        match &state.acting_for {
            Some(current) if current != recorder => {
                return Err(AgentError::Conflict(format!(
                    "{} already acts for {current}; stop that before acting for {recorder}",
                    self.name
                )));
            }
            Some(_) => {
                // The same recorder again (a retry, or a settings refresh): keep counting.
                let current = state.settings.as_ref().map_or(0, |s| s.version);
                bundle.version = bundle.version.max(current + 1);
            }
            None => bundle.version = bundle.version.max(1),
        }
        self.check_field_prefixed(&bundle, "settings")?;
        let next = Persisted { settings: Some(bundle), acting_for: Some(recorder.to_owned()) };
        self.persist(&next)?;
        self.switch_recording(&next)?;
        let version = next.settings.as_ref().map_or(0, |s| s.version);
        *state = next;
        tracing::info!(%recorder, version, "acting as a failover server");
        Ok(Acting { acting_for: Some(recorder.to_owned()), settings_version: version })
    }

    /// Stops acting; what was recorded stays in the archive for material copying. Idempotent.
    /// With `recorder`, refuses if acting for someone else.
    pub fn stop_acting(&self, recorder: Option<&str>) -> Result<Stopped, AgentError> {
        if self.kind != ServerKind::Failover {
            return Err(AgentError::Conflict(format!(
                "{} is a recorder, not a failover server",
                self.name
            )));
        }
        let mut state = self.lock();
        if let (Some(wanted), Some(current)) = (recorder, &state.acting_for)
            && wanted != current
        {
            return Err(AgentError::Conflict(format!(
                "{} acts for {current}, not for {wanted}",
                self.name
            )));
        }
        let next = Persisted::default();
        self.persist(&next)?;
        self.switch_recording(&next)?;
        let before = std::mem::replace(&mut *state, next);
        let previous = match before {
            Persisted { acting_for: Some(recorder), settings } => {
                tracing::info!(%recorder, "stopped acting; idle again");
                Some(Previous {
                    recorder,
                    settings: settings.unwrap_or_else(SettingsBundle::empty),
                })
            }
            _ => None,
        };
        Ok(Stopped { acting_for: None, settings_version: 0, previous })
    }

    /// Once what the last change of settings or acting stopped recording is closed (a second
    /// at most; the recording loop applies a change within 50 ms).
    pub async fn recording_settled(&self) {
        if !self.recording.settled(std::time::Duration::from_secs(1)).await {
            tracing::warn!("the recording loop did not apply the change within a second");
        }
    }

    /// Configured channels and channels with material, by id.
    pub fn channels(&self) -> Vec<Channel> {
        let settings = self.settings();
        let mut entries: Vec<Channel> = settings
            .channels
            .iter()
            .map(|c| Channel { id: c.id.clone(), kind: c.kind, configured: true })
            .collect();
        for channel in self.archive.channels() {
            if settings.channel(&channel.id).is_none() {
                entries.push(Channel {
                    id: channel.id.clone(),
                    kind: channel.kind,
                    configured: false,
                });
            }
        }
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        entries
    }

    pub fn stop(&self) {
        self.recording.stop();
    }

    fn check(&self, bundle: &SettingsBundle) -> Result<(), AgentError> {
        bundle.validate()?;
        for (i, channel) in bundle.channels.iter().enumerate() {
            self.archive.check_kind(&channel.id, channel.kind).map_err(|e| match e {
                ArchiveError::KindMismatch { .. } => AgentError::Invalid(InvalidSettings {
                    field: format!("channels[{i}].kind"),
                    message: e.to_string(),
                }),
                other => AgentError::Archive(other),
            })?;
        }
        Ok(())
    }

    fn check_field_prefixed(
        &self,
        bundle: &SettingsBundle,
        prefix: &str,
    ) -> Result<(), AgentError> {
        self.check(bundle).map_err(|e| match e {
            AgentError::Invalid(invalid) => AgentError::Invalid(InvalidSettings {
                field: format!("{prefix}.{}", invalid.field),
                message: invalid.message,
            }),
            other => other,
        })
    }

    fn switch_recording(&self, state: &Persisted) -> Result<(), AgentError> {
        let plan = match (&state.settings, self.kind, &state.acting_for) {
            (Some(settings), ServerKind::Recorder, _)
            | (Some(settings), ServerKind::Failover, Some(_)) => {
                let mut channels = Vec::new();
                for channel in &settings.channels {
                    channels.push(
                        self.archive
                            .ensure_channel(&channel.id, channel.kind)
                            .map_err(AgentError::Archive)?,
                    );
                }
                Some(Plan { settings: settings.clone(), channels })
            }
            _ => None,
        };
        self.recording.set_plan(plan);
        Ok(())
    }

    /// Writes the state aside, syncs it and renames it over the old one.
    fn persist(&self, state: &Persisted) -> Result<(), AgentError> {
        let io = |source| AgentError::Io {
            context: format!("writing {}", self.state_path.display()),
            source,
        };
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| io(std::io::Error::other(e)))?;
        let aside = self.state_path.with_extension("json.tmp");
        {
            let mut file = std::fs::File::create(&aside).map_err(io)?;
            std::io::Write::write_all(&mut file, &bytes).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        std::fs::rename(&aside, &self.state_path).map_err(io)?;
        if let Some(dir) = self.state_path.parent() {
            crate::archive::segment::sync_dir(dir).map_err(io)?;
        }
        Ok(())
    }
}
