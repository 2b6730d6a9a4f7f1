//! What servers last said of themselves that readiness needs (settings version, load,
//! capacity), and the versions the settings cache holds. The monitor writes a report only when
//! it changes; every manager reads them to answer "would a failover succeed now?".

use super::StoreError;
use agent_api::{Capacity, Load};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerReport {
    pub server_id: i64,
    pub settings_version: i64,
    pub load: Option<Load>,
    pub capacity: Capacity,
}

#[async_trait]
pub trait ReportStore: Send + Sync + 'static {
    async fn record_report(
        &self,
        report: &ServerReport,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    async fn server_reports(&self) -> Result<Vec<ServerReport>, StoreError>;
    /// The cached settings version of every recorder that has one, by recorder id.
    async fn cached_versions(&self) -> Result<Vec<(i64, i64)>, StoreError>;
}

pub const RECORD_REPORT: &str = "\
    INSERT INTO server_reports (server_id, settings_version, load_channels, load_kbps, \
                                capacity_channels, capacity_kbps, reported_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7) \
    ON CONFLICT (server_id) DO UPDATE SET settings_version = $2, load_channels = $3, \
        load_kbps = $4, capacity_channels = $5, capacity_kbps = $6, reported_at = $7";
pub const SERVER_REPORTS: &str = "\
    SELECT server_id, settings_version, load_channels, load_kbps, capacity_channels, \
           capacity_kbps FROM server_reports";
pub const CACHED_VERSIONS: &str = "SELECT server_id, version FROM recorder_settings";

#[derive(Debug, sqlx::FromRow)]
pub struct ReportRow {
    pub server_id: i64,
    pub settings_version: i64,
    pub load_channels: Option<i64>,
    pub load_kbps: Option<i64>,
    pub capacity_channels: Option<i64>,
    pub capacity_kbps: Option<i64>,
}

/// A count the database holds as a signed integer; a negative one was never written by us.
fn count<T: TryFrom<i64>>(value: Option<i64>) -> Option<T> {
    value.and_then(|value| T::try_from(value).ok())
}

impl From<ReportRow> for ServerReport {
    fn from(row: ReportRow) -> Self {
        ServerReport {
            server_id: row.server_id,
            settings_version: row.settings_version,
            load: count(row.load_channels)
                .zip(count(row.load_kbps))
                .map(|(channels, bitrate_kbps)| Load { channels, bitrate_kbps }),
            capacity: Capacity {
                channels: count(row.capacity_channels),
                bitrate_kbps: count(row.capacity_kbps),
            },
        }
    }
}

/// The signed form the databases keep; beyond `i64::MAX` is no limit a site has.
pub fn signed(value: impl Into<u64>) -> i64 {
    i64::try_from(value.into()).unwrap_or(i64::MAX)
}

/// Implements [`ReportStore`] for a store whose `pool` field is its database's sqlx pool.
macro_rules! impl_report_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::ReportStore for $store {
            async fn record_report(
                &self,
                report: &$crate::store::ServerReport,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::reports::signed;
                sqlx::query($crate::store::reports::RECORD_REPORT)
                    .bind(report.server_id)
                    .bind(report.settings_version)
                    .bind(report.load.map(|load| signed(load.channels)))
                    .bind(report.load.map(|load| signed(load.bitrate_kbps)))
                    .bind(report.capacity.channels.map(signed))
                    .bind(report.capacity.bitrate_kbps.map(signed))
                    .bind(at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn server_reports(
                &self,
            ) -> Result<Vec<$crate::store::ServerReport>, $crate::store::StoreError> {
                let rows = sqlx::query_as::<_, $crate::store::reports::ReportRow>(
                    $crate::store::reports::SERVER_REPORTS,
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn cached_versions(&self) -> Result<Vec<(i64, i64)>, $crate::store::StoreError> {
                Ok(sqlx::query_as($crate::store::reports::CACHED_VERSIONS)
                    .fetch_all(&self.pool)
                    .await?)
            }
        }
    };
}

pub(crate) use impl_report_store;
