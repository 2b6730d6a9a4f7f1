//! The store: one trait per area, all combined in [`Store`], and one implementation per database
//! (SQLite embedded, PostgreSQL for large sites). Each area module holds its SQL, which both
//! databases run as it is (`$n` placeholders work in SQLite too), and one macro that implements
//! its trait for either backend.

pub(crate) mod audit;
pub(crate) mod copies;
pub(crate) mod failovers;
pub(crate) mod groups;
pub(crate) mod licence;
mod postgres;
pub(crate) mod rows;
pub(crate) mod servers;
pub(crate) mod settings_cache;
mod sqlite;
pub(crate) mod users;

pub use copies::CopyStore;
pub use failovers::FailoverStore;
pub use groups::GroupStore;
pub use licence::LicenceStore;
pub use postgres::PgStore;
pub use settings_cache::{CachedSettings, SettingsCacheStore};
pub use sqlite::SqliteStore;

use app::auth::Role;
use app::model::{ApiToken, AuditEntry, AuditFilter, Server, ServerKind, ServerState, User};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a {what} named {name:?} already exists")]
    Duplicate { what: &'static str, name: String },
    #[error("a failover is already open for this recorder or failover server")]
    AlreadyOpen,
    #[error("a server belongs to another failover group already")]
    MemberElsewhere,
    #[error("a group member is not a registered server")]
    UnknownMember,
    #[error("the database URL {0:?} is neither sqlite:// nor postgres://")]
    UnsupportedUrl(String),
    #[error("the stored row is not valid: {0}")]
    Corrupt(String),
    #[error("migrating the database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

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

/// Everything the engine keeps.
pub trait Store:
    ServerStore
    + UserStore
    + AuditStore
    + FailoverStore
    + CopyStore
    + LicenceStore
    + SettingsCacheStore
    + GroupStore
{
}

impl<T> Store for T where
    T: ServerStore
        + UserStore
        + AuditStore
        + FailoverStore
        + CopyStore
        + LicenceStore
        + SettingsCacheStore
        + GroupStore
{
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

/// A session as found by its cookie.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub user: User,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    async fn insert_user(
        &self,
        name: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<User, StoreError>;
    /// The user and their password hash, for logging in.
    async fn credentials(&self, name: &str) -> Result<Option<(User, String)>, StoreError>;
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// Also ends the user's sessions. False when there is no such user.
    async fn set_password(&self, name: &str, password_hash: &str) -> Result<bool, StoreError>;
    async fn set_role(&self, name: &str, role: Role) -> Result<bool, StoreError>;
    async fn remove_user(&self, name: &str) -> Result<bool, StoreError>;

    async fn insert_session(
        &self,
        secret_hash: &str,
        user_id: i64,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    async fn session(&self, secret_hash: &str) -> Result<Option<SessionRecord>, StoreError>;
    async fn touch_session(&self, secret_hash: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    async fn delete_session(&self, secret_hash: &str) -> Result<(), StoreError>;

    async fn insert_token(
        &self,
        name: &str,
        secret_hash: &str,
        role: Role,
        created_by: &str,
    ) -> Result<ApiToken, StoreError>;
    async fn token_by_secret(&self, secret_hash: &str) -> Result<Option<ApiToken>, StoreError>;
    async fn touch_token(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError>;
    async fn list_tokens(&self) -> Result<Vec<ApiToken>, StoreError>;
    /// Revoking twice keeps the first time. `None` when there is no such token.
    async fn revoke_token(&self, id: i64) -> Result<Option<ApiToken>, StoreError>;
}

/// One line to append to the audit trail.
#[derive(Debug, Clone)]
pub struct NewAudit {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub address: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
}

#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    async fn append_audit(&self, entry: &NewAudit) -> Result<(), StoreError>;
    /// Newest first.
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;
}

pub type SharedStore = Arc<dyn Store>;

/// Opens the database the URL names, creating an SQLite file if needed, and migrates it.
pub async fn open(url: &str) -> Result<SharedStore, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::open(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}

/// Until its first health check nothing is known about a new server.
pub const INITIAL_STATE: ServerState = ServerState::Unreachable;
