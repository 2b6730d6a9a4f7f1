//! Failover groups: a group's recorders are covered only by its failover servers, in order.

use super::Engine;
use crate::store::StoreError;
use app::failure::Failure;
use app::model::{FailoverGroup, GroupSettings, ServerKind};

impl Engine {
    /// Creates (`id` None) or replaces a failover group.
    pub(super) async fn store_group(
        &self,
        id: Option<i64>,
        group: GroupSettings,
    ) -> Result<FailoverGroup, Failure> {
        let group = GroupSettings { name: super::servers::valid_name(&group.name)?, ..group };
        let servers = self.store.list_servers().await?;
        let kind_of =
            |id: &i64| servers.iter().find(|server| server.id == *id).map(|server| server.kind);
        for (field, ids, kind) in [
            ("recorders", &group.recorders, ServerKind::Recorder),
            ("failover_servers", &group.failover_servers, ServerKind::Failover),
        ] {
            if let Some(wrong) = ids.iter().find(|id| kind_of(id) != Some(kind)) {
                return Err(Failure::invalid(
                    field,
                    format!("server {wrong} is not a registered {kind} server."),
                ));
            }
        }
        let saved = self.store.save_group(id, &group).await.map_err(|error| match error {
            StoreError::MemberElsewhere => Failure::conflict(
                "member_of_another_group",
                "A server can belong to one failover group only; remove it from its other group first.",
            ),
            other => other.into(),
        })?;
        let id = saved.ok_or_else(|| {
            Failure::not_found(format!("Failover group {}", id.unwrap_or_default()))
        })?;
        self.store
            .groups()
            .await?
            .into_iter()
            .find(|group| group.id == id)
            .ok_or_else(Failure::internal)
    }

    pub(super) async fn remove_group(&self, id: i64) -> Result<(), Failure> {
        if self.store.delete_group(id).await? {
            Ok(())
        } else {
            Err(Failure::not_found(format!("Failover group {id}")))
        }
    }

    /// Moves a server into a failover group (a failover server goes last in its order), or out
    /// of every group with `None`.
    pub(super) async fn move_to_group(
        &self,
        server_id: i64,
        group_id: Option<i64>,
    ) -> Result<(), Failure> {
        let server = self.find_server(server_id).await?;
        let groups = self.store.groups().await?;
        if let Some(id) = group_id
            && !groups.iter().any(|group| group.id == id)
        {
            return Err(Failure::not_found(format!("Failover group {id}")));
        }
        let settings = |group: &FailoverGroup, with: bool| GroupSettings {
            name: group.name.clone(),
            recorders: group
                .recorders
                .iter()
                .map(|member| member.id)
                .filter(|id| *id != server_id)
                .chain((with && server.kind == ServerKind::Recorder).then_some(server_id))
                .collect(),
            failover_servers: group
                .failover_servers
                .iter()
                .map(|member| member.id)
                .filter(|id| *id != server_id)
                .chain((with && server.kind == ServerKind::Failover).then_some(server_id))
                .collect(),
        };
        // Out of the old group first: a server belongs to one group only.
        for group in &groups {
            let member = group
                .recorders
                .iter()
                .chain(&group.failover_servers)
                .any(|member| member.id == server_id);
            if member && Some(group.id) != group_id {
                self.store.save_group(Some(group.id), &settings(group, false)).await?;
            }
        }
        if let Some(group) = group_id.and_then(|id| groups.iter().find(|group| group.id == id)) {
            self.store.save_group(Some(group.id), &settings(group, true)).await?;
        }
        self.publish_servers(&[server_id]).await;
        Ok(())
    }
}
