//! Rows as the databases return them, and their conversion into domain objects.

use super::StoreError;
use app::model::{Server, ServerKind, ServerState};
use chrono::{DateTime, Utc};

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
            last_seen_at: row.last_seen_at,
        })
    }
}

pub fn servers(rows: Vec<ServerRow>) -> Result<Vec<Server>, StoreError> {
    rows.into_iter().map(Server::try_from).collect()
}

/// Maps a unique-constraint violation on the name to its domain error.
pub fn duplicate_name(error: sqlx::Error, name: &str) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::DuplicateName(name.to_owned())
        }
        _ => StoreError::Database(error),
    }
}
