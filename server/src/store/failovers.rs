//! The failover log: entries, their notes, and the failover and failback state transitions, each
//! guarded by the entry's status so that two concurrent triggers cannot both pass. SQL shared by
//! both databases and the one implementation of [`FailoverStore`] that both backends instantiate.

use super::StoreError;
use app::model::{
    CopyProgress, CopyStatus, Failover, FailoverFilter, FailoverNote, FailoverStatus, ServerRef,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
pub trait FailoverStore: Send + Sync + 'static {
    /// Newest first.
    async fn failovers(&self, filter: &FailoverFilter) -> Result<Vec<Failover>, StoreError>;
    async fn count_failovers(&self, filter: &FailoverFilter) -> Result<i64, StoreError>;
    async fn failover(&self, id: i64) -> Result<Option<Failover>, StoreError>;
    /// Entries failing over, active or failing back, oldest first.
    async fn open_failovers(&self) -> Result<Vec<Failover>, StoreError>;
    /// A new entry `failing_over`; [`StoreError::AlreadyOpen`] when the recorder or the
    /// failover server has one open already.
    async fn begin_failover(
        &self,
        recorder_id: i64,
        failover_server_id: i64,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
    /// A refused failover: an entry that is `failed` from the start.
    async fn record_refusal(
        &self,
        recorder_id: i64,
        failover_server_id: Option<i64>,
        now: DateTime<Utc>,
        code: &str,
        message: &str,
    ) -> Result<i64, StoreError>;
    /// The reason code of the recorder's latest refused failover since `since`.
    async fn last_refusal_since(
        &self,
        recorder_id: i64,
        since: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError>;
    /// Entry `active`, recorder `broken`, failover server `acting`: one transaction. False when
    /// the entry was no longer `failing_over`.
    async fn complete_failover(
        &self,
        id: i64,
        recorder_id: i64,
        failover_server_id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Entry `failed` (if it still is in `from`), its servers released: one transaction.
    async fn abandon_failover(
        &self,
        id: i64,
        from: FailoverStatus,
        code: &str,
        message: &str,
    ) -> Result<bool, StoreError>;
    /// `active` → `failing_back`; false when the entry was not `active` (someone else won).
    async fn begin_failback(
        &self,
        id: i64,
        now: DateTime<Utc>,
        trigger: &str,
        by: &str,
    ) -> Result<bool, StoreError>;
    /// Entry `finalized`, recorder `ok`, failover server idle: one transaction.
    async fn complete_failback(
        &self,
        id: i64,
        recorder_id: i64,
        failover_server_id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// `failing_back` → `active` again (the recorder stays broken).
    async fn rollback_failback(&self, id: i64) -> Result<bool, StoreError>;
    async fn add_note(&self, failover_id: i64, note: &FailoverNote) -> Result<(), StoreError>;
    async fn notes(&self, failover_id: i64) -> Result<Vec<FailoverNote>, StoreError>;
}

pub const OPEN: &str = "('failing_over', 'active', 'failing_back')";

pub const SELECT_FAILOVERS: &str = "\
    SELECT f.id, f.recorder_id, r.name AS recorder_name, f.failover_server_id, \
           fs.name AS failover_server_name, f.status, f.failover_started_at, \
           f.failover_finished_at, f.failback_started_at, f.failback_finished_at, \
           f.failback_trigger, f.failback_by, f.error_code, f.error, f.copy_status, \
           f.copy_started_at, f.copy_error \
    FROM failovers f JOIN servers r ON r.id = f.recorder_id \
    LEFT JOIN servers fs ON fs.id = f.failover_server_id";

/// Optional filters: a NULL parameter matches everything. `$1`: 'active' or 'finalized'.
pub const FILTER_FAILOVERS: &str = " \
    WHERE ($1 IS NULL \
           OR ($1 = 'active' AND f.status IN ('failing_over', 'active', 'failing_back')) \
           OR ($1 = 'finalized' AND f.status IN ('finalized', 'failed'))) \
      AND ($2 IS NULL OR f.recorder_id = $2) \
      AND ($3 IS NULL OR f.status = $3) \
      AND ($6 IS NULL OR lower(r.name) LIKE $6 OR lower(COALESCE(fs.name, '')) LIKE $6 \
           OR lower(COALESCE(f.failback_by, '')) LIKE $6 OR lower(COALESCE(f.error, '')) LIKE $6) \
    ORDER BY f.id DESC LIMIT $4 OFFSET $5";

pub const COUNT_FAILOVERS: &str = "\
    SELECT COUNT(*) FROM failovers f JOIN servers r ON r.id = f.recorder_id \
    LEFT JOIN servers fs ON fs.id = f.failover_server_id";

pub const BEGIN_FAILOVER: &str = "\
    INSERT INTO failovers (recorder_id, failover_server_id, status, failover_started_at) \
    VALUES ($1, $2, 'failing_over', $3) RETURNING id";

pub const FAILED_FAILOVER: &str = "\
    INSERT INTO failovers (recorder_id, failover_server_id, status, failover_started_at, \
                           error_code, error) \
    VALUES ($1, $2, 'failed', $3, $4, $5) RETURNING id";

/// Guarded by the status, so two concurrent steps cannot both pass.
pub const COMPLETE_FAILOVER: &str = "\
    UPDATE failovers SET status = 'active', failover_finished_at = $2 \
    WHERE id = $1 AND status = 'failing_over'";

pub const ABANDON_FAILOVER: &str = "\
    UPDATE failovers SET status = 'failed', error_code = $3, error = $4 \
    WHERE id = $1 AND status = $2";

/// Guarded by the status: of two concurrent failbacks exactly one passes.
pub const BEGIN_FAILBACK: &str = "\
    UPDATE failovers SET status = 'failing_back', failback_started_at = $2, \
                         failback_trigger = $3, failback_by = $4 \
    WHERE id = $1 AND status = 'active'";
pub const COMPLETE_FAILBACK: &str = "\
    UPDATE failovers SET status = 'finalized', failback_finished_at = $2 \
    WHERE id = $1 AND status = 'failing_back'";
pub const ROLLBACK_FAILBACK: &str = "\
    UPDATE failovers SET status = 'active', failback_started_at = NULL, failback_trigger = NULL, \
                         failback_by = NULL \
    WHERE id = $1 AND status = 'failing_back'";
/// The recorder answered just now (failback checked it), so it counts as seen.
pub const MARK_OK: &str = "UPDATE servers SET state = 'ok', last_seen_at = $2 WHERE id = $1";

pub const MARK_BROKEN: &str = "UPDATE servers SET state = 'broken' WHERE id = $1";
pub const MARK_ACTING: &str =
    "UPDATE servers SET state = 'acting', acting_for_id = $2 WHERE id = $1";
pub const MARK_IDLE: &str = "\
    UPDATE servers SET acting_for_id = NULL, \
           state = CASE WHEN state = 'acting' THEN 'standby' ELSE state END \
    WHERE id = $1";
pub const MARK_UNREACHABLE: &str =
    "UPDATE servers SET state = 'unreachable' WHERE id = $1 AND state = 'broken'";

pub const LAST_REFUSAL: &str = "\
    SELECT error_code FROM failovers \
    WHERE recorder_id = $1 AND status = 'failed' AND failover_started_at >= $2 \
    ORDER BY id DESC LIMIT 1";

pub const ADD_NOTE: &str = "\
    INSERT INTO failover_notes (failover_id, at, level, code, message) VALUES ($1, $2, $3, $4, $5)";
pub const NOTES: &str = "\
    SELECT at, level, code, message FROM failover_notes WHERE failover_id = $1 ORDER BY id";

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

/// A second open failover for the same recorder or failover server is refused by the database.
pub fn already_open(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::AlreadyOpen,
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

/// Implements [`FailoverStore`] for a store whose `pool` field is its database's sqlx pool.
macro_rules! impl_failover_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::FailoverStore for $store {
            async fn failovers(
                &self,
                filter: &app::model::FailoverFilter,
            ) -> Result<Vec<app::model::Failover>, $crate::store::StoreError> {
                use $crate::store::failovers as sql;
                let section = filter.state.map(|state| match state {
                    app::model::FailoverSection::Active => "active",
                    app::model::FailoverSection::Finalized => "finalized",
                });
                let query = format!("{}{}", sql::SELECT_FAILOVERS, sql::FILTER_FAILOVERS);
                let rows = sqlx::query_as::<_, $crate::store::failovers::FailoverRow>(&query)
                    .bind(section)
                    .bind(filter.recorder_id)
                    .bind(filter.status.map(app::model::FailoverStatus::as_str))
                    .bind(i64::from(filter.limit.unwrap_or(100).clamp(1, 1000)))
                    .bind(i64::from(filter.offset.unwrap_or(0)))
                    .bind($crate::store::failovers::like(filter.search.as_deref()))
                    .fetch_all(&self.pool)
                    .await?;
                $crate::store::rows::all(rows)
            }

            async fn count_failovers(
                &self,
                filter: &app::model::FailoverFilter,
            ) -> Result<i64, $crate::store::StoreError> {
                use $crate::store::failovers as sql;
                let section = filter.state.map(|state| match state {
                    app::model::FailoverSection::Active => "active",
                    app::model::FailoverSection::Finalized => "finalized",
                });
                // The same filter, without its ORDER BY and paging.
                let filter_sql =
                    sql::FILTER_FAILOVERS.split(" ORDER BY").next().unwrap_or_default();
                let query = format!("{}{}", sql::COUNT_FAILOVERS, filter_sql);
                Ok(sqlx::query_scalar::<_, i64>(&query)
                    .bind(section)
                    .bind(filter.recorder_id)
                    .bind(filter.status.map(app::model::FailoverStatus::as_str))
                    .bind(0_i64)
                    .bind(0_i64)
                    .bind($crate::store::failovers::like(filter.search.as_deref()))
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn failover(
                &self,
                id: i64,
            ) -> Result<Option<app::model::Failover>, $crate::store::StoreError> {
                let query =
                    format!("{} WHERE f.id = $1", $crate::store::failovers::SELECT_FAILOVERS);
                let row = sqlx::query_as::<_, $crate::store::failovers::FailoverRow>(&query)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(app::model::Failover::try_from).transpose()
            }

            async fn open_failovers(
                &self,
            ) -> Result<Vec<app::model::Failover>, $crate::store::StoreError> {
                use $crate::store::failovers as sql;
                let query = format!(
                    "{} WHERE f.status IN {} ORDER BY f.id",
                    sql::SELECT_FAILOVERS,
                    sql::OPEN
                );
                let rows = sqlx::query_as::<_, $crate::store::failovers::FailoverRow>(&query)
                    .fetch_all(&self.pool)
                    .await?;
                $crate::store::rows::all(rows)
            }

            async fn begin_failover(
                &self,
                recorder_id: i64,
                failover_server_id: i64,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<i64, $crate::store::StoreError> {
                sqlx::query_scalar($crate::store::failovers::BEGIN_FAILOVER)
                    .bind(recorder_id)
                    .bind(failover_server_id)
                    .bind(now)
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::store::failovers::already_open)
            }

            async fn record_refusal(
                &self,
                recorder_id: i64,
                failover_server_id: Option<i64>,
                now: chrono::DateTime<chrono::Utc>,
                code: &str,
                message: &str,
            ) -> Result<i64, $crate::store::StoreError> {
                Ok(sqlx::query_scalar($crate::store::failovers::FAILED_FAILOVER)
                    .bind(recorder_id)
                    .bind(failover_server_id)
                    .bind(now)
                    .bind(code)
                    .bind(message)
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn last_refusal_since(
                &self,
                recorder_id: i64,
                since: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<String>, $crate::store::StoreError> {
                Ok(sqlx::query_scalar::<_, Option<String>>($crate::store::failovers::LAST_REFUSAL)
                    .bind(recorder_id)
                    .bind(since)
                    .fetch_optional(&self.pool)
                    .await?
                    .flatten())
            }

            async fn complete_failover(
                &self,
                id: i64,
                recorder_id: i64,
                failover_server_id: i64,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::store::StoreError> {
                use $crate::store::failovers as sql;
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(sql::COMPLETE_FAILOVER)
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                sqlx::query(sql::MARK_BROKEN).bind(recorder_id).execute(&mut *tx).await?;
                sqlx::query(sql::MARK_ACTING)
                    .bind(failover_server_id)
                    .bind(recorder_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn abandon_failover(
                &self,
                id: i64,
                from: app::model::FailoverStatus,
                code: &str,
                message: &str,
            ) -> Result<bool, $crate::store::StoreError> {
                use $crate::store::failovers as sql;
                let Some(entry) = self.failover(id).await? else { return Ok(false) };
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(sql::ABANDON_FAILOVER)
                    .bind(id)
                    .bind(from.as_str())
                    .bind(code)
                    .bind(message)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                // The servers go back to what the monitor will find out about them.
                sqlx::query(sql::MARK_UNREACHABLE)
                    .bind(entry.recorder.id)
                    .execute(&mut *tx)
                    .await?;
                if let Some(server) = &entry.failover_server {
                    sqlx::query(sql::MARK_IDLE).bind(server.id).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn begin_failback(
                &self,
                id: i64,
                now: chrono::DateTime<chrono::Utc>,
                trigger: &str,
                by: &str,
            ) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query($crate::store::failovers::BEGIN_FAILBACK)
                    .bind(id)
                    .bind(now)
                    .bind(trigger)
                    .bind(by)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn complete_failback(
                &self,
                id: i64,
                recorder_id: i64,
                failover_server_id: i64,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::store::StoreError> {
                use $crate::store::failovers as sql;
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(sql::COMPLETE_FAILBACK)
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                sqlx::query(sql::MARK_OK).bind(recorder_id).bind(now).execute(&mut *tx).await?;
                sqlx::query(sql::MARK_IDLE).bind(failover_server_id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn rollback_failback(&self, id: i64) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query($crate::store::failovers::ROLLBACK_FAILBACK)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn add_note(
                &self,
                failover_id: i64,
                note: &app::model::FailoverNote,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::failovers::ADD_NOTE)
                    .bind(failover_id)
                    .bind(note.at)
                    .bind(&note.level)
                    .bind(&note.code)
                    .bind(&note.message)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn notes(
                &self,
                failover_id: i64,
            ) -> Result<Vec<app::model::FailoverNote>, $crate::store::StoreError> {
                let rows = sqlx::query_as::<_, $crate::store::failovers::NoteRow>(
                    $crate::store::failovers::NOTES,
                )
                .bind(failover_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }
        }
    };
}

pub(crate) use impl_failover_store;
