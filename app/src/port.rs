//! The engine as the server functions see it. The server crate implements these traits and
//! provides a [`ConsoleHandle`] as Leptos context; nothing in `app` touches SQL or recorders.

use crate::failure::Failure;
use crate::model::{DemoPower, Server};
use crate::view::DemoSwitch;
use async_trait::async_trait;
use std::sync::Arc;

#[async_trait]
pub trait Console: Send + Sync + 'static {
    async fn servers(&self) -> Result<Vec<Server>, Failure>;

    /// The demo site's process switches, when the manager runs as `standby demo`.
    async fn demo_switches(&self) -> Option<Vec<DemoSwitch>>;

    async fn set_demo_power(&self, server_id: i64, power: DemoPower) -> Result<(), Failure>;
}

/// What server functions find in their context.
#[derive(Clone)]
pub struct ConsoleHandle(pub Arc<dyn Console>);

impl ConsoleHandle {
    /// The engine, or a failure when the page was rendered without one (a wiring bug).
    pub fn current() -> Result<Arc<dyn Console>, Failure> {
        leptos::prelude::use_context::<ConsoleHandle>().map(|handle| handle.0).ok_or_else(|| {
            tracing::error!("no ConsoleHandle in the Leptos context");
            Failure::internal()
        })
    }
}
