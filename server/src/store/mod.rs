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

pub use audit::{AuditStore, NewAudit};
pub use copies::CopyStore;
pub use failovers::FailoverStore;
pub use groups::GroupStore;
pub use licence::LicenceStore;
pub use postgres::PgStore;
pub use servers::{HealthRecord, INITIAL_STATE, SEEN_PER_STATEMENT, ServerSettings, ServerStore};
pub use settings_cache::{CachedSettings, SettingsCacheStore};
pub use sqlite::SqliteStore;
pub use users::{SessionRecord, UserStore};

use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a {what} named {name:?} already exists")]
    Duplicate { what: &'static str, name: String },
    #[error("a failover is already open for this recorder or failover server")]
    AlreadyOpen,
    #[error("a server belongs to another failover group already")]
    MemberElsewhere,
    #[error("that would leave no administrator")]
    LastAdmin,
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
