//! The recorder settings cache: each recorder's latest settings bundle, read while it was alive,
//! so that a failover server can take them over once it is not.

use super::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A recorder's settings bundle as the cache keeps it; the manager treats the bundle as opaque.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedSettings {
    pub version: i64,
    pub bundle: serde_json::Value,
    pub fetched_at: DateTime<Utc>,
}

#[async_trait]
pub trait SettingsCacheStore: Send + Sync + 'static {
    async fn cache_settings(
        &self,
        server_id: i64,
        settings: &CachedSettings,
    ) -> Result<(), StoreError>;
    async fn cached_settings(&self, server_id: i64) -> Result<Option<CachedSettings>, StoreError>;
}

pub const CACHE_SETTINGS: &str = "\
    INSERT INTO recorder_settings (server_id, version, bundle, fetched_at) VALUES ($1, $2, $3, $4) \
    ON CONFLICT (server_id) DO UPDATE SET version = $2, bundle = $3, fetched_at = $4";
pub const CACHED_SETTINGS: &str = "\
    SELECT version, bundle, fetched_at FROM recorder_settings WHERE server_id = $1";

#[derive(Debug, sqlx::FromRow)]
pub struct SettingsRow {
    pub version: i64,
    pub bundle: String,
    pub fetched_at: DateTime<Utc>,
}

impl TryFrom<SettingsRow> for CachedSettings {
    type Error = StoreError;

    fn try_from(row: SettingsRow) -> Result<Self, StoreError> {
        let bundle = serde_json::from_str(&row.bundle)
            .map_err(|error| StoreError::Corrupt(format!("cached settings: {error}")))?;
        Ok(CachedSettings { version: row.version, bundle, fetched_at: row.fetched_at })
    }
}

/// Implements [`SettingsCacheStore`] for a store whose `pool` field is its database's sqlx pool.
macro_rules! impl_settings_cache_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::SettingsCacheStore for $store {
            async fn cache_settings(
                &self,
                server_id: i64,
                settings: &$crate::store::CachedSettings,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::settings_cache::CACHE_SETTINGS)
                    .bind(server_id)
                    .bind(settings.version)
                    .bind(settings.bundle.to_string())
                    .bind(settings.fetched_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn cached_settings(
                &self,
                server_id: i64,
            ) -> Result<Option<$crate::store::CachedSettings>, $crate::store::StoreError> {
                let row = sqlx::query_as::<_, $crate::store::settings_cache::SettingsRow>(
                    $crate::store::settings_cache::CACHED_SETTINGS,
                )
                .bind(server_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::store::CachedSettings::try_from).transpose()
            }
        }
    };
}

pub(crate) use impl_settings_cache_store;
