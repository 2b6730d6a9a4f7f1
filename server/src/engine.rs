//! The engine: what the REST API, the server functions and the background tasks share.

use crate::demo::DemoSite;
use crate::events::EventBus;
use crate::recorders::RecorderClient;
use crate::servers;
use crate::store::{SharedStore, StoreError};
use app::failure::Failure;
use app::model::{DemoPower, NewServer, Server, ServerPatch, SystemEvent};
use app::port::Console;
use app::view::DemoSwitch;
use async_trait::async_trait;
use std::sync::Arc;

pub struct Engine {
    pub store: SharedStore,
    pub events: EventBus,
    pub recorders: RecorderClient,
    demo: Option<Arc<DemoSite>>,
}

impl Engine {
    pub fn new(store: SharedStore, demo: Option<Arc<DemoSite>>) -> Self {
        Engine { store, events: EventBus::default(), recorders: RecorderClient::new(), demo }
    }

    pub async fn servers(&self) -> Result<Vec<Server>, Failure> {
        Ok(self.store.list_servers().await?)
    }

    pub async fn server(&self, id: i64) -> Result<Server, Failure> {
        self.store.server(id).await?.ok_or_else(|| Failure::not_found(format!("Server {id}")))
    }

    pub async fn add_server(&self, new: NewServer) -> Result<Server, Failure> {
        let settings = servers::new_settings(new)?;
        let server = self.store.insert_server(&settings).await?;
        tracing::info!(server = %server.name, address = %server.address, "server added");
        self.events.publish(SystemEvent::ServerChanged { server: server.clone() });
        Ok(server)
    }

    pub async fn edit_server(&self, id: i64, patch: ServerPatch) -> Result<Server, Failure> {
        let current = self.server(id).await?;
        let settings = servers::patched(&current, patch)?;
        let server = self
            .store
            .update_server(id, &settings)
            .await?
            .ok_or_else(|| Failure::not_found(format!("Server {id}")))?;
        tracing::info!(server = %server.name, "server settings changed");
        self.events.publish(SystemEvent::ServerChanged { server: server.clone() });
        Ok(server)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::DuplicateName(name) => Failure::conflict(
                "duplicate_name",
                format!("A server named {name:?} already exists; choose another name."),
            ),
            other => {
                tracing::error!(error = %other, "store failure");
                Failure::internal()
            }
        }
    }
}

#[async_trait]
impl Console for Engine {
    async fn servers(&self) -> Result<Vec<Server>, Failure> {
        Engine::servers(self).await
    }

    async fn demo_switches(&self) -> Option<Vec<DemoSwitch>> {
        Some(self.demo.as_ref()?.switches().await)
    }

    async fn set_demo_power(&self, server_id: i64, power: DemoPower) -> Result<(), Failure> {
        let demo = self.demo.as_ref().ok_or_else(|| {
            Failure::not_found("A demo site (this manager was not started with `standby demo`)")
        })?;
        demo.set_power(server_id, power).await
    }
}
