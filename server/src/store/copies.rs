//! Material copying as the failover log entry keeps it: the copy's status, why it waits or failed,
//! and each channel's progress.

use super::StoreError;
use app::model::{ChannelCopy, CopyStatus, Failover};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
pub trait CopyStore: Send + Sync + 'static {
    /// Entries whose material copy is queued or copying, oldest first.
    async fn copies_in_progress(&self) -> Result<Vec<Failover>, StoreError>;
    /// Copy `queued`, its start time now (a restart of the copy counts anew).
    async fn start_copy(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// The copy's status, why it waits or failed, and its channels' progress: one transaction.
    async fn save_copy_progress(
        &self,
        id: i64,
        status: CopyStatus,
        error: Option<&str>,
        channels: &[ChannelCopy],
    ) -> Result<(), StoreError>;
    async fn copy_channels(&self, id: i64) -> Result<Vec<ChannelCopy>, StoreError>;
}

pub const START_COPY: &str = "UPDATE failovers SET copy_status = 'queued', copy_started_at = $2, copy_error = NULL WHERE id = $1";
pub const SET_COPY_STATUS: &str =
    "UPDATE failovers SET copy_status = $2, copy_error = $3 WHERE id = $1";
pub const UPSERT_COPY_CHANNEL: &str = "\
    INSERT INTO copy_channels (failover_id, channel, kind, status, copied_until, bytes) \
    VALUES ($1, $2, $3, $4, $5, $6) \
    ON CONFLICT (failover_id, channel) DO UPDATE SET kind = $3, status = $4, copied_until = $5, bytes = $6";
pub const COPY_CHANNELS: &str = "\
    SELECT channel, kind, status, copied_until, bytes FROM copy_channels WHERE failover_id = $1 ORDER BY channel";

#[derive(Debug, sqlx::FromRow)]
pub struct CopyChannelRow {
    pub channel: String,
    pub kind: String,
    pub status: String,
    pub copied_until: Option<DateTime<Utc>>,
    pub bytes: i64,
}

impl TryFrom<CopyChannelRow> for ChannelCopy {
    type Error = StoreError;

    fn try_from(row: CopyChannelRow) -> Result<Self, StoreError> {
        let status = CopyStatus::parse(&row.status)
            .ok_or_else(|| StoreError::Corrupt(format!("copy status {:?}", row.status)))?;
        Ok(ChannelCopy {
            channel: row.channel,
            kind: row.kind,
            status,
            copied_until: row.copied_until,
            bytes: row.bytes,
        })
    }
}

/// Implements [`CopyStore`] for a store whose `pool` field is its database's sqlx pool.
macro_rules! impl_copy_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::CopyStore for $store {
            async fn copies_in_progress(
                &self,
            ) -> Result<Vec<app::model::Failover>, $crate::store::StoreError> {
                let query = format!(
                    "{} WHERE f.copy_status IN ('queued', 'copying') ORDER BY f.id",
                    $crate::store::failovers::SELECT_FAILOVERS
                );
                let rows = sqlx::query_as::<_, $crate::store::failovers::FailoverRow>(&query)
                    .fetch_all(&self.pool)
                    .await?;
                $crate::store::rows::all(rows)
            }

            async fn start_copy(
                &self,
                id: i64,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::copies::START_COPY)
                    .bind(id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn save_copy_progress(
                &self,
                id: i64,
                status: app::model::CopyStatus,
                error: Option<&str>,
                channels: &[app::model::ChannelCopy],
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::copies as sql;
                let mut tx = self.pool.begin().await?;
                sqlx::query(sql::SET_COPY_STATUS)
                    .bind(id)
                    .bind(status.as_str())
                    .bind(error)
                    .execute(&mut *tx)
                    .await?;
                for channel in channels {
                    sqlx::query(sql::UPSERT_COPY_CHANNEL)
                        .bind(id)
                        .bind(&channel.channel)
                        .bind(&channel.kind)
                        .bind(channel.status.as_str())
                        .bind(channel.copied_until)
                        .bind(channel.bytes)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn copy_channels(
                &self,
                id: i64,
            ) -> Result<Vec<app::model::ChannelCopy>, $crate::store::StoreError> {
                let rows = sqlx::query_as::<_, $crate::store::copies::CopyChannelRow>(
                    $crate::store::copies::COPY_CHANNELS,
                )
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
                $crate::store::rows::all(rows)
            }
        }
    };
}

pub(crate) use impl_copy_store;
