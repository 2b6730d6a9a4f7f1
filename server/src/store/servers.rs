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
    /// A server registered at that address other than `except` (the one being changed).
    async fn other_server_at(
        &self,
        address: &str,
        except: Option<i64>,
    ) -> Result<Option<Server>, StoreError>;
    async fn insert_server(&self, settings: &ServerSettings) -> Result<Server, StoreError>;
    /// Returns `None` when no server has this id.
    async fn update_server(
        &self,
        id: i64,
        settings: &ServerSettings,
    ) -> Result<Option<Server>, StoreError>;
    /// Writes a whole monitor tick in one transaction.
    async fn record_health(&self, records: &[HealthRecord]) -> Result<(), StoreError>;
    /// When servers were last seen, nothing else: a few statements for any number of servers.
    async fn record_seen(&self, seen: &[(i64, DateTime<Utc>)]) -> Result<(), StoreError>;
    /// The secret the server's agent accepts, if one was given.
    async fn server_secret(&self, id: i64) -> Result<Option<String>, StoreError>;
    async fn set_server_secret(&self, id: i64, secret: &str) -> Result<(), StoreError>;
    /// Hides the server (the failover log keeps naming it) and takes it out of every group.
    /// False when there is no such server.
    async fn remove_server(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError>;
    /// A removed server of that name, which adding one of that name brings back.
    async fn removed_server_id(&self, name: &str) -> Result<Option<i64>, StoreError>;
}

/// Until its first health check nothing is known about a new server.
pub const INITIAL_STATE: ServerState = ServerState::Unreachable;

pub const SELECT_SERVERS: &str = "\
    SELECT s.id, s.name, s.address, s.kind, s.state, a.name AS acting_for, \
           s.failover_enabled, s.auto_failback, s.maintenance_mode, s.copy_after_failback, \
           s.last_seen_at \
    FROM servers s LEFT JOIN servers a ON a.id = s.acting_for_id \
    WHERE s.removed_at IS NULL";

pub const ORDER_SERVERS: &str = " ORDER BY s.kind DESC, s.name";

pub const INSERT_SERVER: &str = "\
    INSERT INTO servers (name, address, kind, state, failover_enabled, auto_failback, \
                         maintenance_mode, created_at, copy_after_failback) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";

pub const UPDATE_SERVER: &str = "\
    UPDATE servers SET name = $2, address = $3, kind = $4, failover_enabled = $5, \
                       auto_failback = $6, maintenance_mode = $7, copy_after_failback = $8 \
    WHERE id = $1 AND removed_at IS NULL";

/// Bringing a removed server back: new settings, nothing known about it yet.
pub const REVIVE_SERVER: &str = "\
    UPDATE servers SET name = $2, address = $3, kind = $4, failover_enabled = $5, \
                       auto_failback = $6, maintenance_mode = $7, copy_after_failback = $8, \
                       removed_at = NULL, state = $9, acting_for_id = NULL, last_seen_at = NULL, \
                       secret = NULL \
    WHERE id = $1 AND removed_at IS NOT NULL";

pub const SERVER_SECRET: &str = "SELECT secret FROM servers WHERE id = $1 AND removed_at IS NULL";
pub const SET_SERVER_SECRET: &str = "UPDATE servers SET secret = $2 WHERE id = $1";
pub const REMOVE_SERVER: &str = "\
    UPDATE servers SET removed_at = $2, secret = NULL, acting_for_id = NULL \
    WHERE id = $1 AND removed_at IS NULL";
pub const LEAVE_GROUPS: &str = "DELETE FROM failover_group_members WHERE server_id = $1";
pub const REMOVED_SERVER: &str =
    "SELECT id FROM servers WHERE lower(name) = lower($1) AND removed_at IS NOT NULL";

/// The state changes only if nobody else (a failover or failback committing meanwhile) changed
/// it since the monitor read it; the last-seen time is recorded either way.
pub const RECORD_HEALTH: &str = "\
    UPDATE servers SET state = CASE WHEN state = $4 THEN $2 ELSE state END, \
                       last_seen_at = COALESCE($3, last_seen_at) \
    WHERE id = $1";

/// Servers per "last seen" statement: two parameters each, far below either database's limit,
/// and short enough that SQLite's one writer is not held up for long.
pub const SEEN_PER_STATEMENT: usize = 500;

/// One statement that sets the last-seen time of `rows` servers from `($1, $2), ($3, $4), …`
/// (server id, time). Both databases name a VALUES list's columns `column1`, `column2`.
pub fn record_seen_sql(rows: usize) -> String {
    let values: Vec<String> =
        (0..rows).map(|row| format!("(${}, ${})", 2 * row + 1, 2 * row + 2)).collect();
    format!(
        "UPDATE servers SET last_seen_at = seen.column2 FROM (VALUES {}) AS seen \
         WHERE servers.id = seen.column1",
        values.join(", ")
    )
}

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
                let sql = format!("{} AND s.id = $1", $crate::store::servers::SELECT_SERVERS);
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
                    "{} AND lower(s.name) = lower($1)",
                    $crate::store::servers::SELECT_SERVERS
                );
                let row = sqlx::query_as::<_, $crate::store::servers::ServerRow>(&sql)
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(app::model::Server::try_from).transpose()
            }

            async fn other_server_at(
                &self,
                address: &str,
                except: Option<i64>,
            ) -> Result<Option<app::model::Server>, $crate::store::StoreError> {
                let sql = format!(
                    "{} AND s.address = $1 AND s.id <> $2 LIMIT 1",
                    $crate::store::servers::SELECT_SERVERS
                );
                let row = sqlx::query_as::<_, $crate::store::servers::ServerRow>(&sql)
                    .bind(address)
                    .bind(except.unwrap_or(-1))
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(app::model::Server::try_from).transpose()
            }

            async fn insert_server(
                &self,
                settings: &$crate::store::ServerSettings,
            ) -> Result<app::model::Server, $crate::store::StoreError> {
                if let Some(id) = self.removed_server_id(&settings.name).await? {
                    sqlx::query($crate::store::servers::REVIVE_SERVER)
                        .bind(id)
                        .bind(&settings.name)
                        .bind(&settings.address)
                        .bind(settings.kind.as_str())
                        .bind(settings.failover_enabled)
                        .bind(settings.auto_failback)
                        .bind(settings.maintenance_mode)
                        .bind(settings.copy_after_failback)
                        .bind($crate::store::INITIAL_STATE.as_str())
                        .execute(&self.pool)
                        .await?;
                    return self.server(id).await?.ok_or_else(|| {
                        $crate::store::StoreError::Corrupt(format!("server {id} vanished"))
                    });
                }
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
                    // To the statement's end: see `rows::first`.
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|error| {
                        $crate::store::rows::duplicate(error, "server", &settings.name)
                    })
                    .and_then($crate::store::rows::first)?;
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

            async fn record_seen(
                &self,
                seen: &[(i64, chrono::DateTime<chrono::Utc>)],
            ) -> Result<(), $crate::store::StoreError> {
                for chunk in seen.chunks($crate::store::servers::SEEN_PER_STATEMENT) {
                    let sql = $crate::store::servers::record_seen_sql(chunk.len());
                    let mut query = sqlx::query(&sql);
                    for (id, at) in chunk {
                        query = query.bind(*id).bind(*at);
                    }
                    query.execute(&self.pool).await?;
                }
                Ok(())
            }

            async fn server_secret(
                &self,
                id: i64,
            ) -> Result<Option<String>, $crate::store::StoreError> {
                Ok(sqlx::query_scalar::<_, Option<String>>($crate::store::servers::SERVER_SECRET)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .flatten())
            }

            async fn set_server_secret(
                &self,
                id: i64,
                secret: &str,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::servers::SET_SERVER_SECRET)
                    .bind(id)
                    .bind(secret)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn remove_server(
                &self,
                id: i64,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query($crate::store::servers::REMOVE_SERVER)
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                sqlx::query($crate::store::servers::LEAVE_GROUPS)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn removed_server_id(
                &self,
                name: &str,
            ) -> Result<Option<i64>, $crate::store::StoreError> {
                Ok(sqlx::query_scalar($crate::store::servers::REMOVED_SERVER)
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?)
            }
        }
    };
}

pub(crate) use impl_server_store;
