//! The failover log, the licence, the recorder settings cache and failover groups: SQL shared by
//! both databases and the one implementation of [`FailoverStore`](super::FailoverStore).

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

pub const SET_COPY_STATUS: &str =
    "UPDATE failovers SET copy_status = $2, copy_error = $3 WHERE id = $1";
pub const START_COPY: &str = "UPDATE failovers SET copy_status = 'queued', copy_started_at = $2, copy_error = NULL WHERE id = $1";
pub const UPSERT_COPY_CHANNEL: &str = "\
    INSERT INTO copy_channels (failover_id, channel, kind, status, copied_until, bytes) \
    VALUES ($1, $2, $3, $4, $5, $6) \
    ON CONFLICT (failover_id, channel) DO UPDATE SET kind = $3, status = $4, copied_until = $5, bytes = $6";
pub const COPY_CHANNELS: &str = "\
    SELECT channel, kind, status, copied_until, bytes FROM copy_channels WHERE failover_id = $1 ORDER BY channel";

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

pub const LICENCE: &str =
    "SELECT failover_enabled, failover_servers, updated_at, updated_by FROM licence WHERE id = 1";
pub const SET_LICENCE: &str = "\
    INSERT INTO licence (id, failover_enabled, failover_servers, updated_at, updated_by) \
    VALUES (1, $1, $2, $3, $4) \
    ON CONFLICT (id) DO UPDATE SET failover_enabled = $1, failover_servers = $2, \
                                   updated_at = $3, updated_by = $4";

pub const CACHE_SETTINGS: &str = "\
    INSERT INTO recorder_settings (server_id, version, bundle, fetched_at) VALUES ($1, $2, $3, $4) \
    ON CONFLICT (server_id) DO UPDATE SET version = $2, bundle = $3, fetched_at = $4";
pub const CACHED_SETTINGS: &str = "\
    SELECT version, bundle, fetched_at FROM recorder_settings WHERE server_id = $1";

pub const GROUPS: &str = "SELECT id, name FROM failover_groups ORDER BY name";
pub const GROUP_MEMBERS: &str = "\
    SELECT m.group_id, s.id, s.name, s.kind, m.position FROM failover_group_members m \
    JOIN servers s ON s.id = m.server_id ORDER BY m.group_id, m.position, s.name";
pub const INSERT_GROUP: &str = "INSERT INTO failover_groups (name) VALUES ($1) RETURNING id";
pub const RENAME_GROUP: &str = "UPDATE failover_groups SET name = $2 WHERE id = $1";
pub const CLEAR_GROUP: &str = "DELETE FROM failover_group_members WHERE group_id = $1";
pub const ADD_MEMBER: &str = "\
    INSERT INTO failover_group_members (group_id, server_id, position) VALUES ($1, $2, $3)";
pub const DELETE_GROUP: &str = "DELETE FROM failover_groups WHERE id = $1";

/// The failover servers that may cover a recorder, in the order to try them: its group's, by
/// position; for a recorder in no group, every failover server.
pub const CANDIDATES: &str = "\
    SELECT s.id FROM servers s \
    LEFT JOIN failover_group_members fm ON fm.server_id = s.id \
    WHERE s.kind = 'failover' AND ( \
        (NOT EXISTS (SELECT 1 FROM failover_group_members rm WHERE rm.server_id = $1)) \
        OR fm.group_id = (SELECT rm.group_id FROM failover_group_members rm WHERE rm.server_id = $1)) \
    ORDER BY COALESCE(fm.position, -1), s.id";

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
                let rows = sqlx::query_as::<_, $crate::store::rows::FailoverRow>(&query)
                    .bind(section)
                    .bind(filter.recorder_id)
                    .bind(filter.status.map(app::model::FailoverStatus::as_str))
                    .bind(i64::from(filter.limit.unwrap_or(100).clamp(1, 1000)))
                    .bind(i64::from(filter.offset.unwrap_or(0)))
                    .bind($crate::store::rows::like(filter.search.as_deref()))
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
                    .bind($crate::store::rows::like(filter.search.as_deref()))
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn failover(
                &self,
                id: i64,
            ) -> Result<Option<app::model::Failover>, $crate::store::StoreError> {
                let query =
                    format!("{} WHERE f.id = $1", $crate::store::failovers::SELECT_FAILOVERS);
                let row = sqlx::query_as::<_, $crate::store::rows::FailoverRow>(&query)
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
                let rows = sqlx::query_as::<_, $crate::store::rows::FailoverRow>(&query)
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
                    .map_err($crate::store::rows::already_open)
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

            async fn copies_in_progress(
                &self,
            ) -> Result<Vec<app::model::Failover>, $crate::store::StoreError> {
                let query = format!(
                    "{} WHERE f.copy_status IN ('queued', 'copying') ORDER BY f.id",
                    $crate::store::failovers::SELECT_FAILOVERS
                );
                let rows = sqlx::query_as::<_, $crate::store::rows::FailoverRow>(&query)
                    .fetch_all(&self.pool)
                    .await?;
                $crate::store::rows::all(rows)
            }

            async fn start_copy(
                &self,
                id: i64,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::failovers::START_COPY)
                    .bind(id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn save_copy_progress(
                &self,
                id: i64,
                status: app::model::CopyStatus,
                error: Option<&str>,
                channels: &[app::model::ChannelCopy],
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::failovers as sql;
                let mut tx = self.pool.begin().await?;
                sqlx::query(sql::SET_COPY_STATUS)
                    .bind(id)
                    .bind(status.as_str())
                    .bind(error)
                    .execute(&mut *tx)
                    .await?;
                for channel in channels {
                    sqlx::query(sql::UPSERT_COPY_CHANNEL)
                        .bind(id)
                        .bind(&channel.channel)
                        .bind(&channel.kind)
                        .bind(channel.status.as_str())
                        .bind(channel.copied_until)
                        .bind(channel.bytes)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn copy_channels(
                &self,
                id: i64,
            ) -> Result<Vec<app::model::ChannelCopy>, $crate::store::StoreError> {
                let rows = sqlx::query_as::<_, $crate::store::rows::CopyChannelRow>(
                    $crate::store::failovers::COPY_CHANNELS,
                )
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
                $crate::store::rows::all(rows)
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
                let rows = sqlx::query_as::<_, $crate::store::rows::NoteRow>(
                    $crate::store::failovers::NOTES,
                )
                .bind(failover_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn licence(
                &self,
            ) -> Result<Option<app::model::Licence>, $crate::store::StoreError> {
                let row = sqlx::query_as::<_, $crate::store::rows::LicenceRow>(
                    $crate::store::failovers::LICENCE,
                )
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Into::into))
            }

            async fn set_licence(
                &self,
                licence: &app::model::LicenceUpdate,
                by: &str,
            ) -> Result<app::model::Licence, $crate::store::StoreError> {
                sqlx::query($crate::store::failovers::SET_LICENCE)
                    .bind(licence.failover_enabled)
                    .bind(licence.failover_servers)
                    .bind(chrono::Utc::now())
                    .bind(by)
                    .execute(&self.pool)
                    .await?;
                self.licence().await?.ok_or_else(|| {
                    $crate::store::StoreError::Corrupt("the licence vanished".into())
                })
            }

            async fn cache_settings(
                &self,
                server_id: i64,
                settings: &$crate::store::CachedSettings,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::failovers::CACHE_SETTINGS)
                    .bind(server_id)
                    .bind(settings.version)
                    .bind(settings.bundle.to_string())
                    .bind(settings.fetched_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn cached_settings(
                &self,
                server_id: i64,
            ) -> Result<Option<$crate::store::CachedSettings>, $crate::store::StoreError> {
                let row = sqlx::query_as::<_, $crate::store::rows::SettingsRow>(
                    $crate::store::failovers::CACHED_SETTINGS,
                )
                .bind(server_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::store::CachedSettings::try_from).transpose()
            }

            async fn groups(
                &self,
            ) -> Result<Vec<app::model::FailoverGroup>, $crate::store::StoreError> {
                use $crate::store::failovers as sql;
                let groups =
                    sqlx::query_as::<_, (i64, String)>(sql::GROUPS).fetch_all(&self.pool).await?;
                let members =
                    sqlx::query_as::<_, $crate::store::rows::MemberRow>(sql::GROUP_MEMBERS)
                        .fetch_all(&self.pool)
                        .await?;
                Ok($crate::store::rows::groups(groups, members))
            }

            async fn save_group(
                &self,
                id: Option<i64>,
                group: &app::model::GroupSettings,
            ) -> Result<Option<i64>, $crate::store::StoreError> {
                use $crate::store::failovers as sql;
                let mut tx = self.pool.begin().await?;
                let id = match id {
                    Some(id) => {
                        let renamed = sqlx::query(sql::RENAME_GROUP)
                            .bind(id)
                            .bind(&group.name)
                            .execute(&mut *tx)
                            .await
                            .map_err(|error| {
                                $crate::store::rows::duplicate(error, "failover group", &group.name)
                            })?;
                        if renamed.rows_affected() == 0 {
                            return Ok(None);
                        }
                        sqlx::query(sql::CLEAR_GROUP).bind(id).execute(&mut *tx).await?;
                        id
                    }
                    None => sqlx::query_scalar(sql::INSERT_GROUP)
                        .bind(&group.name)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(|error| {
                            $crate::store::rows::duplicate(error, "failover group", &group.name)
                        })?,
                };
                let members = group.recorders.iter().map(|server| (*server, None)).chain(
                    group
                        .failover_servers
                        .iter()
                        .enumerate()
                        .map(|(at, server)| (*server, Some(at as i64))),
                );
                for (server, position) in members {
                    sqlx::query(sql::ADD_MEMBER)
                        .bind(id)
                        .bind(server)
                        .bind(position)
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::store::rows::member_elsewhere)?;
                }
                tx.commit().await?;
                Ok(Some(id))
            }

            async fn delete_group(&self, id: i64) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query($crate::store::failovers::DELETE_GROUP)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn failover_candidates(
                &self,
                recorder_id: i64,
            ) -> Result<Vec<i64>, $crate::store::StoreError> {
                Ok(sqlx::query_scalar($crate::store::failovers::CANDIDATES)
                    .bind(recorder_id)
                    .fetch_all(&self.pool)
                    .await?)
            }
        }
    };
}

pub(crate) use impl_failover_store;
