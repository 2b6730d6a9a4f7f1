//! The on-disk archive: `DATA_DIR/archive/<channel id>/` holds a channel's segments (framed
//! records, see [`crate::wire`]) and their sparse indexes.

pub mod channel;
pub mod index;
pub mod reader;
pub mod retention;
pub mod segment;

use agent_api::{ChannelKind, valid_channel_id};
use channel::ChannelArchive;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("channel {channel} holds {existing} material, not {requested}")]
    KindMismatch { channel: String, existing: ChannelKind, requested: ChannelKind },
    #[error("{0:?} is not a valid channel id")]
    InvalidChannelId(String),
}

impl ArchiveError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ArchiveError::Io { context: context.into(), source }
    }
}

#[derive(Debug)]
pub struct Archive {
    root: PathBuf,
    channels: RwLock<BTreeMap<String, Arc<ChannelArchive>>>,
}

impl Archive {
    /// Opens (or creates) the archive under `root`, recovering every channel.
    pub fn open(root: &Path) -> Result<Self, ArchiveError> {
        let io = |source| ArchiveError::io(format!("opening archive {}", root.display()), source);
        std::fs::create_dir_all(root).map_err(io)?;
        let mut channels = BTreeMap::new();
        for entry in std::fs::read_dir(root).map_err(io)? {
            let entry = entry.map_err(io)?;
            if !entry.file_type().map_err(io)?.is_dir() {
                continue;
            }
            if !entry.path().join("channel.json").exists()
                && !holds_segments(&entry.path()).map_err(io)?
            {
                // Killed while creating the channel, before anything was recorded into it.
                tracing::info!(dir = %entry.path().display(), "removing an unfinished channel directory");
                std::fs::remove_dir_all(entry.path()).map_err(io)?;
                continue;
            }
            let channel = ChannelArchive::open(entry.path())?;
            channels.insert(channel.id.clone(), Arc::new(channel));
        }
        Ok(Archive { root: root.to_owned(), channels: RwLock::new(channels) })
    }

    pub fn channel(&self, id: &str) -> Option<Arc<ChannelArchive>> {
        self.read().get(id).cloned()
    }

    /// The channel `id`, created if new; refused if the archive already holds material of
    /// another kind under that id.
    pub fn ensure_channel(
        &self,
        id: &str,
        kind: ChannelKind,
    ) -> Result<Arc<ChannelArchive>, ArchiveError> {
        self.check_kind(id, kind)?;
        if let Some(channel) = self.channel(id) {
            return Ok(channel);
        }
        let mut channels = self.channels.write().unwrap_or_else(|p| p.into_inner());
        if let Some(channel) = channels.get(id) {
            return Ok(channel.clone());
        }
        let channel = Arc::new(ChannelArchive::create(self.root.join(id), id, kind)?);
        channels.insert(id.to_owned(), channel.clone());
        Ok(channel)
    }

    /// Whether `id` may hold `kind` material (settings are checked with this before they apply).
    pub fn check_kind(&self, id: &str, kind: ChannelKind) -> Result<(), ArchiveError> {
        if !valid_channel_id(id) {
            return Err(ArchiveError::InvalidChannelId(id.to_owned()));
        }
        match self.channel(id) {
            Some(channel) if channel.kind != kind => Err(ArchiveError::KindMismatch {
                channel: id.to_owned(),
                existing: channel.kind,
                requested: kind,
            }),
            _ => Ok(()),
        }
    }

    pub fn channels(&self) -> Vec<Arc<ChannelArchive>> {
        self.read().values().cloned().collect()
    }

    pub fn bytes(&self) -> u64 {
        self.read().values().map(|c| c.bytes()).sum()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<ChannelArchive>>> {
        self.channels.read().unwrap_or_else(|p| p.into_inner())
    }
}

fn holds_segments(dir: &Path) -> std::io::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        if entry?.file_name().to_string_lossy().contains(".rec") {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests;
