//! The drill log: each drill from its start, moved on step by step, to its result.

use super::StoreError;
use app::drill::{Drill, DrillStatus, DrillStep};
use app::model::ServerRef;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A drill as it begins.
#[derive(Debug, Clone)]
pub struct NewDrillRow<'a> {
    pub recorder_id: i64,
    pub failover_server_id: Option<i64>,
    pub seconds: u32,
    pub requested_by: &'a str,
    pub at: DateTime<Utc>,
}

#[async_trait]
pub trait DrillStore: Send + Sync + 'static {
    /// A new `running` drill at its first step; its id.
    async fn begin_drill(&self, new: &NewDrillRow<'_>) -> Result<i64, StoreError>;
    /// A running drill moves on to `step` (and, once chosen, to its failover server).
    async fn drill_step(
        &self,
        id: i64,
        step: DrillStep,
        failover_server_id: Option<i64>,
    ) -> Result<(), StoreError>;
    /// A running drill ends; `step` is the one that failed or was cut short (none: passed).
    async fn end_drill(
        &self,
        id: i64,
        status: DrillStatus,
        step: Option<DrillStep>,
        message: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    async fn drill(&self, id: i64) -> Result<Option<Drill>, StoreError>;
    /// The newest `limit` drills, newest first.
    async fn drills(&self, limit: i64) -> Result<Vec<Drill>, StoreError>;
    async fn running_drills(&self) -> Result<Vec<Drill>, StoreError>;
}

pub const BEGIN_DRILL: &str = "\
    INSERT INTO drills (recorder_id, failover_server_id, status, step, seconds, requested_by, \
                        started_at) \
    VALUES ($1, $2, 'running', 'readiness', $3, $4, $5) RETURNING id";
pub const DRILL_STEP: &str = "\
    UPDATE drills SET step = $2, failover_server_id = COALESCE($3, failover_server_id) \
    WHERE id = $1 AND status = 'running'";
pub const END_DRILL: &str = "\
    UPDATE drills SET status = $2, step = $3, message = $4, finished_at = $5 \
    WHERE id = $1 AND status = 'running'";
macro_rules! select_drills {
    () => {
        "SELECT d.id, d.recorder_id, r.name AS recorder_name, d.failover_server_id, \
                fs.name AS failover_server_name, d.status, d.step, d.seconds, d.requested_by, \
                d.started_at, d.finished_at, d.message \
         FROM drills d JOIN servers r ON r.id = d.recorder_id \
         LEFT JOIN servers fs ON fs.id = d.failover_server_id"
    };
}
pub const DRILL: &str = concat!(select_drills!(), " WHERE d.id = $1");
pub const DRILLS: &str =
    concat!(select_drills!(), " ORDER BY d.started_at DESC, d.id DESC LIMIT $1");
pub const RUNNING_DRILLS: &str =
    concat!(select_drills!(), " WHERE d.status = 'running' ORDER BY d.id");

#[derive(Debug, sqlx::FromRow)]
pub struct DrillRow {
    pub id: i64,
    pub recorder_id: i64,
    pub recorder_name: String,
    pub failover_server_id: Option<i64>,
    pub failover_server_name: Option<String>,
    pub status: String,
    pub step: Option<String>,
    pub seconds: i64,
    pub requested_by: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub message: Option<String>,
}

impl TryFrom<DrillRow> for Drill {
    type Error = StoreError;

    fn try_from(row: DrillRow) -> Result<Self, StoreError> {
        let status = DrillStatus::parse(&row.status)
            .ok_or_else(|| StoreError::Corrupt(format!("drill status {:?}", row.status)))?;
        let step = match row.step.as_deref() {
            None => None,
            Some(text) => Some(
                DrillStep::parse(text)
                    .ok_or_else(|| StoreError::Corrupt(format!("drill step {text:?}")))?,
            ),
        };
        let failover_server =
            super::rows::server_ref(row.failover_server_id, row.failover_server_name);
        Ok(Drill {
            id: row.id,
            recorder: ServerRef { id: row.recorder_id, name: row.recorder_name },
            failover_server,
            status,
            step,
            seconds: u32::try_from(row.seconds).unwrap_or(0),
            requested_by: row.requested_by,
            started_at: row.started_at,
            finished_at: row.finished_at,
            message: row.message,
        })
    }
}

/// Implements [`DrillStore`] for a store whose `pool` field is its database's sqlx pool.
macro_rules! impl_drill_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::DrillStore for $store {
            async fn begin_drill(
                &self,
                new: &$crate::store::drills::NewDrillRow<'_>,
            ) -> Result<i64, $crate::store::StoreError> {
                let rows: Vec<(i64,)> = sqlx::query_as($crate::store::drills::BEGIN_DRILL)
                    .bind(new.recorder_id)
                    .bind(new.failover_server_id)
                    .bind(i64::from(new.seconds))
                    .bind(new.requested_by)
                    .bind(new.at)
                    // To the statement's end: see `rows::first`.
                    .fetch_all(&self.pool)
                    .await?;
                Ok($crate::store::rows::first(rows)?.0)
            }

            async fn drill_step(
                &self,
                id: i64,
                step: app::drill::DrillStep,
                failover_server_id: Option<i64>,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::drills::DRILL_STEP)
                    .bind(id)
                    .bind(step.as_str())
                    .bind(failover_server_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn end_drill(
                &self,
                id: i64,
                status: app::drill::DrillStatus,
                step: Option<app::drill::DrillStep>,
                message: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::drills::END_DRILL)
                    .bind(id)
                    .bind(status.as_str())
                    .bind(step.map(app::drill::DrillStep::as_str))
                    .bind(message)
                    .bind(at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn drill(
                &self,
                id: i64,
            ) -> Result<Option<app::drill::Drill>, $crate::store::StoreError> {
                sqlx::query_as::<_, $crate::store::drills::DrillRow>($crate::store::drills::DRILL)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(TryInto::try_into)
                    .transpose()
            }

            async fn drills(
                &self,
                limit: i64,
            ) -> Result<Vec<app::drill::Drill>, $crate::store::StoreError> {
                let rows = sqlx::query_as::<_, $crate::store::drills::DrillRow>(
                    $crate::store::drills::DRILLS,
                )
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                $crate::store::rows::all(rows)
            }

            async fn running_drills(
                &self,
            ) -> Result<Vec<app::drill::Drill>, $crate::store::StoreError> {
                let rows = sqlx::query_as::<_, $crate::store::drills::DrillRow>(
                    $crate::store::drills::RUNNING_DRILLS,
                )
                .fetch_all(&self.pool)
                .await?;
                $crate::store::rows::all(rows)
            }
        }
    };
}

pub(crate) use impl_drill_store;
