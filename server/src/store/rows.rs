//! Rows as the databases return them, and their conversion into domain objects.

use super::CachedSettings;
use super::StoreError;
use app::auth::Role;
use app::model::{
    ApiToken, AuditEntry, ChannelCopy, CopyProgress, CopyStatus, Failover, FailoverGroup,
    FailoverNote, FailoverStatus, Licence, Server, ServerKind, ServerRef, ServerState, User,
};
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

#[derive(Debug, sqlx::FromRow)]
pub struct FailoverRow {
    pub id: i64,
    pub recorder_id: i64,
    pub recorder_name: String,
    pub failover_server_id: Option<i64>,
    pub failover_server_name: Option<String>,
    pub status: String,
    pub failover_started_at: DateTime<Utc>,
    pub failover_finished_at: Option<DateTime<Utc>>,
    pub failback_started_at: Option<DateTime<Utc>>,
    pub failback_finished_at: Option<DateTime<Utc>>,
    pub failback_trigger: Option<String>,
    pub failback_by: Option<String>,
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub copy_status: String,
    pub copy_started_at: Option<DateTime<Utc>>,
    pub copy_error: Option<String>,
}

impl TryFrom<FailoverRow> for Failover {
    type Error = StoreError;

    fn try_from(row: FailoverRow) -> Result<Self, StoreError> {
        let status = FailoverStatus::parse(&row.status)
            .ok_or_else(|| StoreError::Corrupt(format!("failover status {:?}", row.status)))?;
        let copy_status = CopyStatus::parse(&row.copy_status)
            .ok_or_else(|| StoreError::Corrupt(format!("copy status {:?}", row.copy_status)))?;
        let failover_server = match (row.failover_server_id, row.failover_server_name) {
            (Some(id), Some(name)) => Some(ServerRef { id, name }),
            _ => None,
        };
        Ok(Failover {
            id: row.id,
            recorder: ServerRef { id: row.recorder_id, name: row.recorder_name },
            failover_server,
            status,
            failover_started_at: row.failover_started_at,
            failover_finished_at: row.failover_finished_at,
            failback_started_at: row.failback_started_at,
            failback_finished_at: row.failback_finished_at,
            failback_trigger: row.failback_trigger,
            failback_by: row.failback_by,
            error_code: row.error_code,
            error: row.error,
            copy: CopyProgress {
                status: copy_status,
                started_at: row.copy_started_at,
                error: row.copy_error,
                channels: Vec::new(),
            },
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct NoteRow {
    pub at: DateTime<Utc>,
    pub level: String,
    pub code: String,
    pub message: String,
}

impl From<NoteRow> for FailoverNote {
    fn from(row: NoteRow) -> Self {
        FailoverNote { at: row.at, level: row.level, code: row.code, message: row.message }
    }
}

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

#[derive(Debug, sqlx::FromRow)]
pub struct MemberRow {
    pub group_id: i64,
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub position: Option<i64>,
}

/// Groups with their members, failover servers in their order.
pub fn groups(groups: Vec<(i64, String)>, members: Vec<MemberRow>) -> Vec<FailoverGroup> {
    groups
        .into_iter()
        .map(|(id, name)| {
            let mut group =
                FailoverGroup { id, name, recorders: Vec::new(), failover_servers: Vec::new() };
            let mut failover_servers: Vec<_> = Vec::new();
            for member in members.iter().filter(|member| member.group_id == id) {
                let server = ServerRef { id: member.id, name: member.name.clone() };
                if member.kind == "failover" {
                    failover_servers.push((member.position.unwrap_or(i64::MAX), server));
                } else {
                    group.recorders.push(server);
                }
            }
            failover_servers.sort_by_key(|(position, _)| *position);
            group.failover_servers =
                failover_servers.into_iter().map(|(_, server)| server).collect();
            group
        })
        .collect()
}

/// A second open failover for the same recorder or failover server is refused by the database.
pub fn already_open(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::AlreadyOpen,
        _ => StoreError::Database(error),
    }
}

pub fn member_elsewhere(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::MemberElsewhere,
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::UnknownMember,
        _ => StoreError::Database(error),
    }
}

/// A case-insensitive "contains" pattern; LIKE's own wildcards in the search are dropped.
pub fn like(search: Option<&str>) -> Option<String> {
    let search = search?.trim().to_lowercase();
    if search.is_empty() {
        return None;
    }
    let escaped: String = search.chars().filter(|c| *c != '%' && *c != '_').collect();
    Some(format!("%{escaped}%"))
}

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
