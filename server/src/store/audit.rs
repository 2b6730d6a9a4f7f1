//! The audit trail: append and read, nothing else (the database refuses the rest).

use super::StoreError;
use app::model::{AuditEntry, AuditFilter};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

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

pub const APPEND: &str = "\
    INSERT INTO audit (at, actor, address, action, target, outcome, detail) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Every filter is optional: a NULL parameter matches everything.
pub const LIST: &str = "\
    SELECT id, at, actor, address, action, target, outcome, detail FROM audit \
    WHERE ($1 IS NULL OR lower(actor) = lower($1)) \
      AND ($2 IS NULL OR action = $2) \
      AND ($3 = FALSE OR outcome <> 'ok') \
      AND ($4 IS NULL OR id < $4) \
    ORDER BY id DESC LIMIT $5";

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

/// Implements [`AuditStore`] for a store whose `pool` field is its database's sqlx pool.
macro_rules! impl_audit_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::AuditStore for $store {
            async fn append_audit(
                &self,
                entry: &$crate::store::NewAudit,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::audit::APPEND)
                    .bind(entry.at)
                    .bind(&entry.actor)
                    .bind(&entry.address)
                    .bind(&entry.action)
                    .bind(&entry.target)
                    .bind(&entry.outcome)
                    .bind(&entry.detail)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn list_audit(
                &self,
                filter: &app::model::AuditFilter,
            ) -> Result<Vec<app::model::AuditEntry>, $crate::store::StoreError> {
                let limit = i64::from(filter.limit.unwrap_or(100).clamp(1, 1000));
                let rows =
                    sqlx::query_as::<_, $crate::store::audit::AuditRow>($crate::store::audit::LIST)
                        .bind(filter.actor.as_deref().filter(|actor| !actor.is_empty()))
                        .bind(filter.action.as_deref().filter(|action| !action.is_empty()))
                        .bind(filter.failures_only)
                        .bind(filter.before_id)
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows.into_iter().map(app::model::AuditEntry::from).collect())
            }
        }
    };
}

pub(crate) use impl_audit_store;
