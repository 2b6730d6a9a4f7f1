//! The licence, one row: until one enables failover, failover is refused.

use super::StoreError;
use app::model::{Licence, LicenceUpdate};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
pub trait LicenceStore: Send + Sync + 'static {
    async fn licence(&self) -> Result<Option<Licence>, StoreError>;
    async fn set_licence(&self, licence: &LicenceUpdate, by: &str) -> Result<Licence, StoreError>;
}

pub const LICENCE: &str =
    "SELECT failover_enabled, failover_servers, updated_at, updated_by FROM licence WHERE id = 1";
pub const SET_LICENCE: &str = "\
    INSERT INTO licence (id, failover_enabled, failover_servers, updated_at, updated_by) \
    VALUES (1, $1, $2, $3, $4) \
    ON CONFLICT (id) DO UPDATE SET failover_enabled = $1, failover_servers = $2, \
                                   updated_at = $3, updated_by = $4";

#[derive(Debug, sqlx::FromRow)]
pub struct LicenceRow {
    pub failover_enabled: bool,
    pub failover_servers: i64,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

impl From<LicenceRow> for Licence {
    fn from(row: LicenceRow) -> Self {
        Licence {
            failover_enabled: row.failover_enabled,
            failover_servers: row.failover_servers,
            updated_at: Some(row.updated_at),
            updated_by: Some(row.updated_by),
        }
    }
}

/// Implements [`LicenceStore`] for a store whose `pool` field is its database's sqlx pool.
macro_rules! impl_licence_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::LicenceStore for $store {
            async fn licence(
                &self,
            ) -> Result<Option<app::model::Licence>, $crate::store::StoreError> {
                let row = sqlx::query_as::<_, $crate::store::licence::LicenceRow>(
                    $crate::store::licence::LICENCE,
                )
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Into::into))
            }

            async fn set_licence(
                &self,
                licence: &app::model::LicenceUpdate,
                by: &str,
            ) -> Result<app::model::Licence, $crate::store::StoreError> {
                sqlx::query($crate::store::licence::SET_LICENCE)
                    .bind(licence.failover_enabled)
                    .bind(licence.failover_servers)
                    .bind(chrono::Utc::now())
                    .bind(by)
                    .execute(&self.pool)
                    .await?;
                self.licence().await?.ok_or_else(|| {
                    $crate::store::StoreError::Corrupt("the licence vanished".into())
                })
            }
        }
    };
}

pub(crate) use impl_licence_store;
