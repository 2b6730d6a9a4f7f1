//! Rows as the databases return them, and their conversion into domain objects.

use super::StoreError;
use app::auth::Role;
use app::model::{ApiToken, AuditEntry, Server, ServerKind, ServerState, User};
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

/// Maps a unique-constraint violation on a name to its domain error.
pub fn duplicate(error: sqlx::Error, what: &'static str, name: &str) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Duplicate { what, name: name.to_owned() }
        }
        _ => StoreError::Database(error),
    }
}

fn role(text: &str) -> Result<Role, StoreError> {
    Role::parse(text).ok_or_else(|| StoreError::Corrupt(format!("role {text:?}")))
}

#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(User { id: row.id, name: row.name, role: role(&row.role)?, created_at: row.created_at })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct CredentialsRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub password_hash: String,
}

#[derive(Debug, sqlx::FromRow)]
pub struct SessionRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<TokenRow> for ApiToken {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        Ok(ApiToken {
            id: row.id,
            name: row.name,
            role: role(&row.role)?,
            created_by: row.created_by,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub address: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> Self {
        AuditEntry {
            id: row.id,
            at: row.at,
            actor: row.actor,
            address: row.address,
            action: row.action,
            target: row.target,
            outcome: row.outcome,
            detail: row.detail,
        }
    }
}

/// Converts every row, failing on the first that is not valid.
pub fn all<R, T: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> Result<Vec<T>, StoreError> {
    rows.into_iter().map(T::try_from).collect()
}
