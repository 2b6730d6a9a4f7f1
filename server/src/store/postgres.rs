//! PostgreSQL, for large sites and several manager instances sharing one database.

use super::{
    StoreError, audit, copies, drills, failovers, groups, licence, reports, servers,
    settings_cache, users,
};
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // Long enough for a busy database, short enough that a caller hears soon that it
            // is away (a refused connection is retried until then).
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        sqlx::migrate!("../migrations/postgres").run(&pool).await?;
        Ok(PgStore { pool })
    }

    /// For what lives beside the store on the same database: the leadership lease and the
    /// change notifications between managers.
    pub fn pool(&self) -> PgPool {
        self.pool.clone()
    }
}

servers::impl_server_store!(PgStore);
users::impl_user_store!(PgStore);
audit::impl_audit_store!(PgStore);
failovers::impl_failover_store!(PgStore);
copies::impl_copy_store!(PgStore);
licence::impl_licence_store!(PgStore);
settings_cache::impl_settings_cache_store!(PgStore);
groups::impl_group_store!(PgStore);
reports::impl_report_store!(PgStore);
drills::impl_drill_store!(PgStore);
