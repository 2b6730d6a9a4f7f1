//! The engine: what the REST API, the server functions and the background tasks share. Every
//! action takes the [`Caller`] and checks its right first; that is the one place rights are
//! checked.

mod access;
mod audit;
mod console;
pub mod copy;
pub mod failback;
pub mod failover;
mod log;
mod views;

pub use access::Login;

use crate::auth::SessionPolicy;
use crate::auth::login_guard::LoginGuard;
use crate::demo::DemoSite;
use crate::events::EventBus;
use crate::monitor::MonitorConfig;
use crate::recorders::RecorderClient;
use crate::servers;
use crate::store::{SharedStore, StoreError};
use app::auth::{Caller, Right};
use app::failure::Failure;
use app::model::{NewServer, Server, ServerPatch, SystemEvent};
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// A warning already announced: (recorder, code, when its outage began).
type Warned = (i64, String, Option<DateTime<Utc>>);

pub struct Engine {
    pub store: SharedStore,
    pub events: EventBus,
    pub recorders: RecorderClient,
    pub sessions: SessionPolicy,
    pub monitor: MonitorConfig,
    login_guard: LoginGuard,
    demo: Option<Arc<DemoSite>>,
    warned: Mutex<HashSet<Warned>>,
}

impl Engine {
    pub fn new(store: SharedStore, demo: Option<Arc<DemoSite>>) -> Self {
        Engine {
            store,
            events: EventBus::default(),
            recorders: RecorderClient::new(),
            sessions: SessionPolicy::default(),
            monitor: MonitorConfig::default(),
            login_guard: LoginGuard::default(),
            demo,
            warned: Mutex::default(),
        }
    }

    pub fn with_monitor(mut self, monitor: MonitorConfig) -> Self {
        self.monitor = monitor;
        self
    }

    pub fn monitor_timeout(&self) -> std::time::Duration {
        self.monitor.check_timeout
    }

    pub fn with_session_policy(mut self, sessions: SessionPolicy) -> Self {
        self.sessions = sessions;
        self
    }

    pub async fn servers(&self, caller: &Caller) -> Result<Vec<Server>, Failure> {
        caller.require(Right::Read)?;
        Ok(self.store.list_servers().await?)
    }

    pub async fn server(&self, caller: &Caller, id: i64) -> Result<Server, Failure> {
        caller.require(Right::Read)?;
        self.store.server(id).await?.ok_or_else(|| Failure::not_found(format!("Server {id}")))
    }

    pub async fn add_server(&self, caller: &Caller, new: NewServer) -> Result<Server, Failure> {
        let target = Some(new.name.trim().to_owned());
        let result = async {
            caller.require(Right::ManageServers)?;
            let settings = servers::new_settings(new)?;
            Ok(self.store.insert_server(&settings).await?)
        }
        .await;
        let server = self.audited(caller, "server.add", target, result).await?;
        tracing::info!(server = %server.name, address = %server.address, "server added");
        self.events.publish(SystemEvent::ServerChanged { server: server.clone() });
        Ok(server)
    }

    /// Maintenance mode alone is an operator's switch; every other field is an administrator's.
    pub async fn edit_server(
        &self,
        caller: &Caller,
        id: i64,
        patch: ServerPatch,
    ) -> Result<Server, Failure> {
        let only_maintenance =
            patch == ServerPatch { maintenance_mode: patch.maintenance_mode, ..Default::default() };
        let action = if only_maintenance { "server.maintenance" } else { "server.edit" };
        let result = async {
            caller.require(if only_maintenance {
                Right::SetMaintenanceMode
            } else {
                Right::ManageServers
            })?;
            let current = self.server(caller, id).await?;
            let settings = servers::patched(&current, patch)?;
            self.store
                .update_server(id, &settings)
                .await?
                .ok_or_else(|| Failure::not_found(format!("Server {id}")))
        }
        .await;
        let server = self.audited(caller, action, Some(id.to_string()), result).await?;
        tracing::info!(server = %server.name, "server settings changed");
        self.events.publish(SystemEvent::ServerChanged { server: server.clone() });
        Ok(server)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Duplicate { what, name } => Failure::conflict(
                "duplicate_name",
                format!("A {what} named {name:?} already exists; choose another name."),
            ),
            other => {
                tracing::error!(error = %other, "store failure");
                Failure::internal()
            }
        }
    }
}
