//! The store: one trait, one implementation per database (SQLite embedded, PostgreSQL for
//! large sites). Both run the same SQL text where the dialects agree; see `queries.rs`.

mod postgres;
mod queries;
mod rows;
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use app::model::{Server, ServerKind, ServerState};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a server named {0:?} already exists")]
    DuplicateName(String),
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
}

/// One health check's outcome, to be written with others of the same tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthRecord {
    pub server_id: i64,
    pub state: ServerState,
    /// Set when the server answered.
    pub seen_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
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
