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
        fence: Option<i64>,
    ) -> Result<i64, StoreError>;
    /// A refused failover: an entry that is `failed` from the start.
    async fn record_refusal(
        &self,
        recorder_id: i64,
        failover_server_id: Option<i64>,
        now: DateTime<Utc>,
        code: &str,
        message: &str,
        fence: Option<i64>,
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
        fence: Option<i64>,
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
    /// `active` → `finalized` as `superseded` at `now`: this leg's failover server is lost and
    /// the recorder's functionality moves on under a new entry. The failover server is released
    /// (the recorder stays broken): one transaction. False when the entry was not active with
    /// that failover server (someone else acted first), or the leader's term is over.
    async fn supersede_failover(
        &self,
        id: i64,
        failover_server_id: i64,
        now: DateTime<Utc>,
        fence: Option<i64>,
    ) -> Result<bool, StoreError>;
    async fn add_note(&self, failover_id: i64, note: &FailoverNote) -> Result<(), StoreError>;
    async fn notes(&self, failover_id: i64) -> Result<Vec<FailoverNote>, StoreError>;
}

pub const OPEN: &str = "('failing_over', 'active', 'failing_back')";

/// An entry's columns, with the names of its servers (`r`, `fs`); a macro, so that the
/// constants below can be put together from it.
macro_rules! failover_columns {
    () => {
        "f.id, f.recorder_id, r.name AS recorder_name, f.failover_server_id, \
         fs.name AS failover_server_name, f.status, f.failover_started_at, \
         f.failover_finished_at, f.failback_started_at, f.failback_finished_at, \
         f.failback_trigger, f.failback_by, f.error_code, f.error, f.copy_status, \
         f.copy_started_at, f.copy_error"
    };
}

macro_rules! name_joins {
    () => {
        " JOIN servers r ON r.id = f.recorder_id \
         LEFT JOIN servers fs ON fs.id = f.failover_server_id"
    };
}

const FAILOVER_COLUMNS: &str = failover_columns!();
const NAME_JOINS: &str = name_joins!();
pub const SELECT_FAILOVERS: &str =
    concat!("SELECT ", failover_columns!(), " FROM failovers f", name_joins!());

/// A filter of the failover log as SQL: only the conditions that are set, so that the status
/// index serves a section and no name is joined unless the search needs it (a page of a log of
/// 10,000 entries costs a few index reads, not two scans of the whole log with joins).
pub struct LogQuery {
    conditions: Vec<String>,
    binds: Vec<LogBind>,
    /// The search matches server names: the id query joins them too.
    joins_names: bool,
}

pub enum LogBind {
    Int(i64),
    Text(String),
}

impl LogQuery {
    pub fn new(filter: &app::model::FailoverFilter) -> LogQuery {
        use app::model::FailoverSection;
        let mut query = LogQuery { conditions: Vec::new(), binds: Vec::new(), joins_names: false };
        match filter.state {
            Some(FailoverSection::Active) => query.conditions.push(format!("f.status IN {OPEN}")),
            Some(FailoverSection::Finalized) => {
                query.conditions.push("f.status IN ('finalized', 'failed')".to_owned())
            }
            None => {}
        }
        if let Some(recorder) = filter.recorder_id {
            let n = query.bind(LogBind::Int(recorder));
            query.conditions.push(format!("f.recorder_id = ${n}"));
        }
        if let Some(status) = filter.status {
            let n = query.bind(LogBind::Text(status.as_str().to_owned()));
            query.conditions.push(format!("f.status = ${n}"));
        }
        if let Some(pattern) = like(filter.search.as_deref()) {
            let n = query.bind(LogBind::Text(pattern));
            query.joins_names = true;
            query.conditions.push(format!(
                "(lower(r.name) LIKE ${n} OR lower(COALESCE(fs.name, '')) LIKE ${n} \
                  OR lower(COALESCE(f.failback_by, '')) LIKE ${n} \
                  OR lower(COALESCE(f.error, '')) LIKE ${n})"
            ));
        }
        query
    }

    fn bind(&mut self, value: LogBind) -> usize {
        self.binds.push(value);
        self.binds.len()
    }

    pub fn binds(&self) -> &[LogBind] {
        &self.binds
    }

    fn tables_and_conditions(&self) -> String {
        let joins = if self.joins_names { NAME_JOINS } else { "" };
        let conditions = if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        };
        format!("FROM failovers f{joins}{conditions}")
    }

    /// How many entries match (the pager's total).
    pub fn count_sql(&self) -> String {
        format!("SELECT COUNT(*) {}", self.tables_and_conditions())
    }

    /// One page of matching entries, newest first: the page's ids are found first (in the index,
    /// skipping an offset cheaply), then only those rows are read with their names.
    pub fn page_sql(&self, limit: u32, offset: u32) -> String {
        format!(
            "SELECT {FAILOVER_COLUMNS} FROM (SELECT f.id {} ORDER BY f.id DESC LIMIT {limit} \
             OFFSET {offset}) page JOIN failovers f ON f.id = page.id{NAME_JOINS} \
             ORDER BY f.id DESC",
            self.tables_and_conditions()
        )
    }
}

/// A write the leader makes on its own passes only while its term's lease holds (`fence` is its
/// epoch; without one, as on SQLite where one manager always leads, it always passes).
macro_rules! fenced {
    ($fence:literal) => {
        concat!(
            "(CAST(",
            $fence,
            " AS BIGINT) IS NULL OR EXISTS (SELECT 1 FROM leadership \
             WHERE epoch = ",
            $fence,
            " AND expires_at > CURRENT_TIMESTAMP))"
        )
    };
}

pub const BEGIN_FAILOVER: &str = concat!(
    "INSERT INTO failovers (recorder_id, failover_server_id, status, failover_started_at) \
     SELECT $1, $2, 'failing_over', $3 WHERE ",
    fenced!("$4"),
    " RETURNING id"
);

pub const FAILED_FAILOVER: &str = concat!(
    "INSERT INTO failovers (recorder_id, failover_server_id, status, failover_started_at, \
                            error_code, error) \
     SELECT $1, $2, 'failed', $3, $4, $5 WHERE ",
    fenced!("$6"),
    " RETURNING id"
);

/// Guarded by the status, so two concurrent steps cannot both pass.
pub const COMPLETE_FAILOVER: &str = "\
    UPDATE failovers SET status = 'active', failover_finished_at = $2 \
    WHERE id = $1 AND status = 'failing_over'";

pub const ABANDON_FAILOVER: &str = "\
    UPDATE failovers SET status = 'failed', error_code = $3, error = $4 \
    WHERE id = $1 AND status = $2";

/// Guarded by the status: of two concurrent failbacks exactly one passes.
pub const BEGIN_FAILBACK: &str = concat!(
    "UPDATE failovers SET status = 'failing_back', failback_started_at = $2, \
                          failback_trigger = $3, failback_by = $4 \
     WHERE id = $1 AND status = 'active' AND ",
    fenced!("$5")
);
pub const COMPLETE_FAILBACK: &str = "\
    UPDATE failovers SET status = 'finalized', failback_finished_at = $2 \
    WHERE id = $1 AND status = 'failing_back'";
pub const ROLLBACK_FAILBACK: &str = "\
    UPDATE failovers SET status = 'active', failback_started_at = NULL, failback_trigger = NULL, \
                         failback_by = NULL \
    WHERE id = $1 AND status = 'failing_back'";
/// Guarded by the status and the failover server, so a leg is closed once; the leg's period
/// ends now (what its failover server recorded lies before), so its material can be copied.
pub const SUPERSEDE_FAILOVER: &str = concat!(
    "UPDATE failovers SET status = 'finalized', failback_started_at = $2, \
                          failback_finished_at = $2, failback_trigger = 'superseded' \
     WHERE id = $1 AND status = 'active' AND failover_server_id = $3 AND ",
    fenced!("$4")
);
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
        let failover_server =
            super::rows::server_ref(row.failover_server_id, row.failover_server_name);
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

/// Binds a [`LogQuery`]'s values, in the order of their `$n`, to a query of either kind (rows
/// or a count): their types differ, so a function could not take both.
macro_rules! bind_log {
    ($query:expr, $log:expr) => {{
        let mut query = $query;
        for bind in $log.binds() {
            query = match bind {
                $crate::store::failovers::LogBind::Int(value) => query.bind(*value),
                $crate::store::failovers::LogBind::Text(value) => query.bind(value.as_str()),
            };
        }
        query
    }};
}

pub(crate) use bind_log;

/// Implements [`FailoverStore`] for a store whose `pool` field is its database's sqlx pool.
macro_rules! impl_failover_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::FailoverStore for $store {
            async fn failovers(
                &self,
                filter: &app::model::FailoverFilter,
            ) -> Result<Vec<app::model::Failover>, $crate::store::StoreError> {
                use $crate::store::failovers::{LogQuery, bind_log};
                let log = LogQuery::new(filter);
                let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
                let sql = log.page_sql(limit, filter.offset.unwrap_or(0));
                let query = sqlx::query_as::<_, $crate::store::failovers::FailoverRow>(&sql);
                $crate::store::rows::all(bind_log!(query, log).fetch_all(&self.pool).await?)
            }

            async fn count_failovers(
                &self,
                filter: &app::model::FailoverFilter,
            ) -> Result<i64, $crate::store::StoreError> {
                use $crate::store::failovers::{LogQuery, bind_log};
                let log = LogQuery::new(filter);
                let sql = log.count_sql();
                let query = sqlx::query_scalar::<_, i64>(&sql);
                Ok(bind_log!(query, log).fetch_one(&self.pool).await?)
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
                fence: Option<i64>,
            ) -> Result<i64, $crate::store::StoreError> {
                sqlx::query_scalar($crate::store::failovers::BEGIN_FAILOVER)
                    .bind(recorder_id)
                    .bind(failover_server_id)
                    .bind(now)
                    .bind(fence)
                    // To the statement's end: see `rows::first`.
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::failovers::already_open)?
                    .into_iter()
                    .next()
                    .ok_or($crate::store::StoreError::NotLeader)
            }

            async fn record_refusal(
                &self,
                recorder_id: i64,
                failover_server_id: Option<i64>,
                now: chrono::DateTime<chrono::Utc>,
                code: &str,
                message: &str,
                fence: Option<i64>,
            ) -> Result<i64, $crate::store::StoreError> {
                sqlx::query_scalar($crate::store::failovers::FAILED_FAILOVER)
                    .bind(recorder_id)
                    .bind(failover_server_id)
                    .bind(now)
                    .bind(code)
                    .bind(message)
                    .bind(fence)
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .next()
                    .ok_or($crate::store::StoreError::NotLeader)
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
                fence: Option<i64>,
            ) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query($crate::store::failovers::BEGIN_FAILBACK)
                    .bind(id)
                    .bind(now)
                    .bind(trigger)
                    .bind(by)
                    .bind(fence)
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

            async fn supersede_failover(
                &self,
                id: i64,
                failover_server_id: i64,
                now: chrono::DateTime<chrono::Utc>,
                fence: Option<i64>,
            ) -> Result<bool, $crate::store::StoreError> {
                use $crate::store::failovers as sql;
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(sql::SUPERSEDE_FAILOVER)
                    .bind(id)
                    .bind(now)
                    .bind(failover_server_id)
                    .bind(fence)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                sqlx::query(sql::MARK_IDLE).bind(failover_server_id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(true)
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
