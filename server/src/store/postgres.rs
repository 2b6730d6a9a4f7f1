//! PostgreSQL, for large sites and several manager instances sharing one database.

use super::{
    StoreError, audit, copies, failovers, groups, licence, servers, settings_cache, users,
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
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("../migrations/postgres").run(&pool).await?;
        Ok(PgStore { pool })
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
