//! Servers: their settings and health. SQL shared by both databases and the one implementation
//! of [`ServerStore`] that both backends instantiate.

use super::StoreError;
use app::model::{Server, ServerKind, ServerState};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The fields of a server that an administrator sets, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    pub name: String,
    pub address: String,
    pub kind: ServerKind,
    pub failover_enabled: bool,
    pub auto_failback: bool,
    pub maintenance_mode: bool,
    pub copy_after_failback: bool,
}

/// One health check's outcome, to be written with others of the same tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthRecord {
    pub server_id: i64,
    /// The state the monitor read before its checks: written over only if still current.
    pub read_state: ServerState,
    pub state: ServerState,
    /// Set when the server answered.
    pub seen_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait ServerStore: Send + Sync + 'static {
    async fn list_servers(&self) -> Result<Vec<Server>, StoreError>;
    async fn server(&self, id: i64) -> Result<Option<Server>, StoreError>;
    async fn server_by_name(&self, name: &str) -> Result<Option<Server>, StoreError>;
    async fn insert_server(&self, settings: &ServerSettings) -> Result<Server, StoreError>;
    /// Returns `None` when no server has this id.
    async fn update_server(
        &self,
        id: i64,
        settings: &ServerSettings,
    ) -> Result<Option<Server>, StoreError>;
    /// Writes a whole monitor tick in one transaction.
    async fn record_health(&self, records: &[HealthRecord]) -> Result<(), StoreError>;
}

/// Until its first health check nothing is known about a new server.
pub const INITIAL_STATE: ServerState = ServerState::Unreachable;

pub const SELECT_SERVERS: &str = "\
    SELECT s.id, s.name, s.address, s.kind, s.state, a.name AS acting_for, \
           s.failover_enabled, s.auto_failback, s.maintenance_mode, s.copy_after_failback, \
           s.last_seen_at \
    FROM servers s LEFT JOIN servers a ON a.id = s.acting_for_id";

pub const ORDER_SERVERS: &str = " ORDER BY s.kind DESC, s.name";

pub const INSERT_SERVER: &str = "\
    INSERT INTO servers (name, address, kind, state, failover_enabled, auto_failback, \
                         maintenance_mode, created_at, copy_after_failback) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";

pub const UPDATE_SERVER: &str = "\
    UPDATE servers SET name = $2, address = $3, kind = $4, failover_enabled = $5, \
                       auto_failback = $6, maintenance_mode = $7, copy_after_failback = $8 \
    WHERE id = $1";

/// The state changes only if nobody else (a failover or failback committing meanwhile) changed
/// it since the monitor read it; the last-seen time is recorded either way.
pub const RECORD_HEALTH: &str = "\
    UPDATE servers SET state = CASE WHEN state = $4 THEN $2 ELSE state END, \
                       last_seen_at = COALESCE($3, last_seen_at) \
    WHERE id = $1";

#[derive(Debug, sqlx::FromRow)]
pub struct ServerRow {
    pub id: i64,
    pub name: String,
    pub address: String,
    pub kind: String,
    pub state: String,
    pub acting_for: Option<String>,
    pub failover_enabled: bool,
    pub auto_failback: bool,
    pub maintenance_mode: bool,
    pub copy_after_failback: bool,
    pub last_seen_at: Option<DateTime<Utc>>,
}

impl TryFrom<ServerRow> for Server {
    type Error = StoreError;

    fn try_from(row: ServerRow) -> Result<Self, StoreError> {
        let kind = ServerKind::parse(&row.kind)
            .ok_or_else(|| StoreError::Corrupt(format!("server kind {:?}", row.kind)))?;
        let state = ServerState::parse(&row.state)
            .ok_or_else(|| StoreError::Corrupt(format!("server state {:?}", row.state)))?;
        Ok(Server {
            id: row.id,
            name: row.name,
            address: row.address,
            kind,
            state,
            acting_for: row.acting_for,
            failover_enabled: row.failover_enabled,
            auto_failback: row.auto_failback,
            maintenance_mode: row.maintenance_mode,
            copy_after_failback: row.copy_after_failback,
            last_seen_at: row.last_seen_at,
        })
    }
}

/// Implements [`ServerStore`] for a store whose `pool` field is its database's sqlx pool.
macro_rules! impl_server_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::ServerStore for $store {
            async fn list_servers(
                &self,
            ) -> Result<Vec<app::model::Server>, $crate::store::StoreError> {
                let sql = format!(
                    "{}{}",
                    $crate::store::servers::SELECT_SERVERS,
                    $crate::store::servers::ORDER_SERVERS
                );
                let rows = sqlx::query_as::<_, $crate::store::servers::ServerRow>(&sql)
                    .fetch_all(&self.pool)
                    .await?;
                $crate::store::rows::all(rows)
            }

            async fn server(
                &self,
                id: i64,
            ) -> Result<Option<app::model::Server>, $crate::store::StoreError> {
                let sql = format!("{} WHERE s.id = $1", $crate::store::servers::SELECT_SERVERS);
                let row = sqlx::query_as::<_, $crate::store::servers::ServerRow>(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(app::model::Server::try_from).transpose()
            }

            async fn server_by_name(
                &self,
                name: &str,
            ) -> Result<Option<app::model::Server>, $crate::store::StoreError> {
                let sql = format!(
                    "{} WHERE lower(s.name) = lower($1)",
                    $crate::store::servers::SELECT_SERVERS
                );
                let row = sqlx::query_as::<_, $crate::store::servers::ServerRow>(&sql)
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(app::model::Server::try_from).transpose()
            }

            async fn insert_server(
                &self,
                settings: &$crate::store::ServerSettings,
            ) -> Result<app::model::Server, $crate::store::StoreError> {
                let id: i64 = sqlx::query_scalar($crate::store::servers::INSERT_SERVER)
                    .bind(&settings.name)
                    .bind(&settings.address)
                    .bind(settings.kind.as_str())
                    .bind($crate::store::INITIAL_STATE.as_str())
                    .bind(settings.failover_enabled)
                    .bind(settings.auto_failback)
                    .bind(settings.maintenance_mode)
                    .bind(chrono::Utc::now())
                    .bind(settings.copy_after_failback)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|error| {
                        $crate::store::rows::duplicate(error, "server", &settings.name)
                    })?;
                self.server(id).await?.ok_or_else(|| {
                    $crate::store::StoreError::Corrupt(format!("server {id} vanished after insert"))
                })
            }

            async fn update_server(
                &self,
                id: i64,
                settings: &$crate::store::ServerSettings,
            ) -> Result<Option<app::model::Server>, $crate::store::StoreError> {
                let done = sqlx::query($crate::store::servers::UPDATE_SERVER)
                    .bind(id)
                    .bind(&settings.name)
                    .bind(&settings.address)
                    .bind(settings.kind.as_str())
                    .bind(settings.failover_enabled)
                    .bind(settings.auto_failback)
                    .bind(settings.maintenance_mode)
                    .bind(settings.copy_after_failback)
                    .execute(&self.pool)
                    .await
                    .map_err(|error| {
                        $crate::store::rows::duplicate(error, "server", &settings.name)
                    })?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                self.server(id).await
            }

            async fn record_health(
                &self,
                records: &[$crate::store::HealthRecord],
            ) -> Result<(), $crate::store::StoreError> {
                if records.is_empty() {
                    return Ok(());
                }
                let mut tx = self.pool.begin().await?;
                for record in records {
                    sqlx::query($crate::store::servers::RECORD_HEALTH)
                        .bind(record.server_id)
                        .bind(record.state.as_str())
                        .bind(record.seen_at)
                        .bind(record.read_state.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_server_store;
