//! Reading the failover log, the licence and the failover groups.

use super::Engine;
use crate::store::StoreError;
use app::auth::{Caller, Right};
use app::failure::Failure;
use app::model::{
    Failover, FailoverDetail, FailoverFilter, FailoverGroup, GroupSettings, Licence, LicenceUpdate,
    ServerKind, SystemEvent,
};

impl Engine {
    pub async fn failover_log(
        &self,
        caller: &Caller,
        filter: &FailoverFilter,
    ) -> Result<Vec<Failover>, Failure> {
        caller.require(Right::Read)?;
        Ok(self.store.failovers(filter).await?)
    }

    pub async fn failover_detail(
        &self,
        caller: &Caller,
        id: i64,
    ) -> Result<FailoverDetail, Failure> {
        caller.require(Right::Read)?;
        let failover = self
            .failover_with_copy(id)
            .await?
            .ok_or_else(|| Failure::not_found(format!("Failover log entry {id}")))?;
        let notes = self.store.notes(id).await?;
        Ok(FailoverDetail { failover, notes })
    }

    /// The entry with its material-copy progress per channel.
    pub async fn failover_with_copy(&self, id: i64) -> Result<Option<Failover>, StoreError> {
        let Some(mut failover) = self.store.failover(id).await? else { return Ok(None) };
        failover.copy.channels = self.store.copy_channels(id).await?;
        Ok(Some(failover))
    }

    pub async fn cached_settings(
        &self,
        caller: &Caller,
        server_id: i64,
    ) -> Result<serde_json::Value, Failure> {
        caller.require(Right::Read)?;
        let cached = self.store.cached_settings(server_id).await?.ok_or_else(|| {
            Failure::not_found(format!(
                "Cached settings of server {server_id} (not read from it yet)"
            ))
        })?;
        Ok(
            serde_json::json!({ "version": cached.version, "fetched_at": cached.fetched_at, "bundle": cached.bundle }),
        )
    }

    pub async fn licence(&self, caller: &Caller) -> Result<Licence, Failure> {
        caller.require(Right::Read)?;
        Ok(self.store.licence().await?.unwrap_or(Licence {
            failover_enabled: false,
            failover_servers: 0,
            updated_at: None,
            updated_by: None,
        }))
    }

    pub async fn set_licence(
        &self,
        caller: &Caller,
        update: LicenceUpdate,
    ) -> Result<Licence, Failure> {
        let target = Some(format!(
            "failover_enabled={} failover_servers={}",
            update.failover_enabled, update.failover_servers
        ));
        let result = async {
            caller.require(Right::ManageLicence)?;
            if !(0..=10_000).contains(&update.failover_servers) {
                return Err(Failure::invalid("failover_servers", "must be between 0 and 10000."));
            }
            Ok(self.store.set_licence(&update, &caller.name).await?)
        }
        .await;
        let licence = self.audited(caller, "licence.set", target, result).await?;
        self.events.publish(SystemEvent::Resync);
        Ok(licence)
    }

    pub async fn groups(&self, caller: &Caller) -> Result<Vec<FailoverGroup>, Failure> {
        caller.require(Right::Read)?;
        Ok(self.store.groups().await?)
    }

    /// Creates (`id` None) or replaces a failover group.
    pub async fn save_group(
        &self,
        caller: &Caller,
        id: Option<i64>,
        group: GroupSettings,
    ) -> Result<FailoverGroup, Failure> {
        let target = Some(group.name.trim().to_owned());
        let result = async {
            caller.require(Right::ManageServers)?;
            let group = GroupSettings { name: crate::servers::valid_name(&group.name)?, ..group };
            let servers = self.store.list_servers().await?;
            let kind_of = |id: &i64| servers.iter().find(|server| server.id == *id).map(|server| server.kind);
            for (field, ids, kind) in [("recorders", &group.recorders, ServerKind::Recorder), ("failover_servers", &group.failover_servers, ServerKind::Failover)] {
                if let Some(wrong) = ids.iter().find(|id| kind_of(id) != Some(kind)) {
                    return Err(Failure::invalid(field, format!("server {wrong} is not a registered {kind} server.")));
                }
            }
            let saved = self.store.save_group(id, &group).await.map_err(|error| match error {
                StoreError::MemberElsewhere => Failure::conflict("member_of_another_group", "A server can belong to one failover group only; remove it from its other group first."),
                other => other.into(),
            })?;
            let id = saved.ok_or_else(|| Failure::not_found(format!("Failover group {}", id.unwrap_or_default())))?;
            self.store.groups().await?.into_iter().find(|group| group.id == id).ok_or_else(Failure::internal)
        }
        .await;
        self.audited(caller, "group.save", target, result).await
    }

    /// Moves a server into a failover group (a failover server goes last in its order), or out
    /// of every group with `None`.
    pub async fn assign_group(
        &self,
        caller: &Caller,
        server_id: i64,
        group_id: Option<i64>,
    ) -> Result<(), Failure> {
        let result = async {
            caller.require(Right::ManageServers)?;
            let server = self
                .store
                .server(server_id)
                .await?
                .ok_or_else(|| Failure::not_found(format!("Server {server_id}")))?;
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
            if let Some(group) = group_id.and_then(|id| groups.iter().find(|group| group.id == id))
            {
                self.store.save_group(Some(group.id), &settings(group, true)).await?;
            }
            Ok(())
        }
        .await;
        self.audited(
            caller,
            "group.assign",
            Some(format!("server {server_id} → group {group_id:?}")),
            result,
        )
        .await?;
        self.publish_servers(&[server_id]).await;
        Ok(())
    }

    pub async fn delete_group(&self, caller: &Caller, id: i64) -> Result<(), Failure> {
        let result = async {
            caller.require(Right::ManageServers)?;
            if self.store.delete_group(id).await? {
                Ok(())
            } else {
                Err(Failure::not_found(format!("Failover group {id}")))
            }
        }
        .await;
        self.audited(caller, "group.delete", Some(id.to_string()), result).await
    }
}
