//! The embedded default: one SQLite file, created on first use.

use super::{
    StoreError, audit, copies, drills, failovers, groups, licence, reports, servers,
    settings_cache, users,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::str::FromStr;
use std::time::Duration;

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            // WAL lets the pages read while the monitor writes.
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
        sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

servers::impl_server_store!(SqliteStore);
users::impl_user_store!(SqliteStore);
audit::impl_audit_store!(SqliteStore);
failovers::impl_failover_store!(SqliteStore);
copies::impl_copy_store!(SqliteStore);
licence::impl_licence_store!(SqliteStore);
settings_cache::impl_settings_cache_store!(SqliteStore);
groups::impl_group_store!(SqliteStore);
reports::impl_report_store!(SqliteStore);
drills::impl_drill_store!(SqliteStore);
