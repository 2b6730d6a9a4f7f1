//! The recorder settings cache: each recorder's latest settings bundle, read from the recorder
//! while it records for itself and from its failover server while one acts for it (so changes
//! made during the failover period go home at failback).

use crate::recorders::{Endpoint, Health, RecorderApi, RecorderError};
use crate::store::{CachedSettings, SharedStore, StoreError};
use chrono::Utc;

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("cannot read the settings: {0}")]
    Read(#[from] RecorderError),
    #[error("cannot write the settings cache: {0}")]
    Write(#[from] StoreError),
    #[error("what {server} sent is not a settings bundle ({0}); the cache keeps the last good one", server = .1)]
    NotABundle(agent_api::InvalidSettings, String),
}

/// Whether the cached bundle is behind what the server reports.
pub fn is_stale(cached: Option<&CachedSettings>, health: &Health) -> bool {
    cached.is_none_or(|cached| u64::try_from(cached.version).ok() != Some(health.settings_version))
}

/// Reads the bundle `from` records by and keeps it as the settings of recorder `owner`.
pub async fn refresh(
    store: &SharedStore,
    recorders: &dyn RecorderApi,
    from: &Endpoint,
    owner: i64,
) -> Result<CachedSettings, RefreshError> {
    let bundle = recorders.settings(from).await?;
    // Only a bundle goes into the cache: it is what a failover server would record by.
    let parsed =
        agent_api::settings::parse::<agent_api::SettingsBundle>(bundle.to_string().as_bytes())
            .and_then(|parsed| parsed.validate().map(|()| parsed))
            .map_err(|invalid| RefreshError::NotABundle(invalid, from.name.clone()))?;
    let version = i64::try_from(parsed.version).unwrap_or(i64::MAX);
    let settings = CachedSettings { version, bundle, fetched_at: Utc::now() };
    store.cache_settings(owner, &settings).await?;
    tracing::info!(server = %from.name, version, "recorder settings cached");
    Ok(settings)
}

/// The channels a settings bundle records, by id and kind; `None` when it does not read as one.
pub fn channels(bundle: &serde_json::Value) -> Option<Vec<(String, agent_api::ChannelKind)>> {
    let bundle = <agent_api::SettingsBundle as serde::Deserialize>::deserialize(bundle).ok()?;
    Some(bundle.channels.into_iter().map(|channel| (channel.id, channel.kind)).collect())
}
