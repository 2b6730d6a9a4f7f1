//! Failover groups, and the failover servers that may cover a recorder in the order to try them.

use super::StoreError;
use app::model::{FailoverGroup, GroupSettings, ServerRef};
use async_trait::async_trait;

#[async_trait]
pub trait GroupStore: Send + Sync + 'static {
    async fn groups(&self) -> Result<Vec<FailoverGroup>, StoreError>;
    /// Creates (`id` None) or replaces a group. `None` when there is no group with that id.
    async fn save_group(
        &self,
        id: Option<i64>,
        group: &GroupSettings,
    ) -> Result<Option<i64>, StoreError>;
    async fn delete_group(&self, id: i64) -> Result<bool, StoreError>;
    /// Failover server ids that may cover the recorder, in the order to try them.
    async fn failover_candidates(&self, recorder_id: i64) -> Result<Vec<i64>, StoreError>;
}

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

#[derive(Debug, sqlx::FromRow)]
pub struct MemberRow {
    pub group_id: i64,
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub position: Option<i64>,
}

/// Groups with their members, failover servers in their order.
pub fn groups(groups: Vec<(i64, String)>, members: Vec<MemberRow>) -> Vec<FailoverGroup> {
    groups
        .into_iter()
        .map(|(id, name)| {
            let mut group =
                FailoverGroup { id, name, recorders: Vec::new(), failover_servers: Vec::new() };
            let mut failover_servers: Vec<_> = Vec::new();
            for member in members.iter().filter(|member| member.group_id == id) {
                let server = ServerRef { id: member.id, name: member.name.clone() };
                if member.kind == "failover" {
                    failover_servers.push((member.position.unwrap_or(i64::MAX), server));
                } else {
                    group.recorders.push(server);
                }
            }
            failover_servers.sort_by_key(|(position, _)| *position);
            group.failover_servers =
                failover_servers.into_iter().map(|(_, server)| server).collect();
            group
        })
        .collect()
}

pub fn member_elsewhere(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::MemberElsewhere,
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::UnknownMember,
        _ => StoreError::Database(error),
    }
}

/// Implements [`GroupStore`] for a store whose `pool` field is its database's sqlx pool.
macro_rules! impl_group_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::GroupStore for $store {
            async fn groups(
                &self,
            ) -> Result<Vec<app::model::FailoverGroup>, $crate::store::StoreError> {
                use $crate::store::groups as sql;
                let groups =
                    sqlx::query_as::<_, (i64, String)>(sql::GROUPS).fetch_all(&self.pool).await?;
                let members =
                    sqlx::query_as::<_, $crate::store::groups::MemberRow>(sql::GROUP_MEMBERS)
                        .fetch_all(&self.pool)
                        .await?;
                Ok($crate::store::groups::groups(groups, members))
            }

            async fn save_group(
                &self,
                id: Option<i64>,
                group: &app::model::GroupSettings,
            ) -> Result<Option<i64>, $crate::store::StoreError> {
                use $crate::store::groups as sql;
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
                        .map_err($crate::store::groups::member_elsewhere)?;
                }
                tx.commit().await?;
                Ok(Some(id))
            }

            async fn delete_group(&self, id: i64) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query($crate::store::groups::DELETE_GROUP)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn failover_candidates(
                &self,
                recorder_id: i64,
            ) -> Result<Vec<i64>, $crate::store::StoreError> {
                Ok(sqlx::query_scalar($crate::store::groups::CANDIDATES)
                    .bind(recorder_id)
                    .fetch_all(&self.pool)
                    .await?)
            }
        }
    };
}

pub(crate) use impl_group_store;
