//! The store: one trait per area, all combined in [`Store`], and one implementation per database
//! (SQLite embedded, PostgreSQL for large sites). Each area module holds its SQL, which both
//! databases run as it is (`$n` placeholders work in SQLite too), and one macro that implements
//! its trait for either backend.

pub(crate) mod audit;
pub(crate) mod copies;
pub(crate) mod drills;
pub(crate) mod failovers;
pub(crate) mod groups;
pub(crate) mod licence;
mod postgres;
pub(crate) mod reports;
pub(crate) mod rows;
pub(crate) mod servers;
pub(crate) mod settings_cache;
mod sqlite;
pub(crate) mod users;

pub use audit::{AuditStore, NewAudit};
pub use copies::CopyStore;
pub use drills::{DrillStore, NewDrillRow};
pub use failovers::FailoverStore;
pub use groups::GroupStore;
pub use licence::LicenceStore;
pub use postgres::PgStore;
pub use reports::{ReportStore, ServerReport};
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
    #[error("this manager no longer leads: another manager's term has begun")]
    NotLeader,
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

impl StoreError {
    /// The database cannot be reached now (refused, gone, the pool waited in vain): worth
    /// retrying, and not the caller's fault.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
            )
        )
    }
}

impl StoreError {
    /// The database's disk is full: SQLite's SQLITE_FULL, PostgreSQL's disk_full (53100).
    /// Reads still work; writes do again once space is freed.
    pub fn is_disk_full(&self) -> bool {
        use sqlx::error::DatabaseError;
        let StoreError::Database(sqlx::Error::Database(error)) = self else { return false };
        if let Some(sqlite) = error.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
            // The extended result code; its low byte is the primary one.
            let code = sqlite.code().and_then(|code| code.parse::<i32>().ok());
            return code.is_some_and(|code| code & 0xff == 13);
        }
        error.code().as_deref() == Some("53100")
    }
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
    + ReportStore
    + DrillStore
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
        + ReportStore
        + DrillStore
{
}

pub type SharedStore = Arc<dyn Store>;

/// The store, and the PostgreSQL pool when several managers may share the database.
pub async fn open_shared(url: &str) -> Result<(SharedStore, Option<sqlx::PgPool>), StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PgStore::open(url).await?;
        let pool = store.pool();
        Ok((Arc::new(store), Some(pool)))
    } else {
        Ok((open(url).await?, None))
    }
}

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
