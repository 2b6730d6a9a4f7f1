//! Server functions: thin, they ask the engine port and return its answer or its refusal.

use crate::failure::Failure;
use crate::model::DemoPower;
use crate::view::ServersView;
use leptos::prelude::*;

#[server(prefix = "/rpc")]
pub async fn load_servers_page() -> Result<ServersView, Failure> {
    let console = crate::port::ConsoleHandle::current()?;
    let servers = console.servers().await?;
    let demo = console.demo_switches().await;
    Ok(ServersView { servers, demo })
}

#[server(prefix = "/rpc")]
pub async fn set_demo_power(server_id: i64, power: DemoPower) -> Result<(), Failure> {
    let console = crate::port::ConsoleHandle::current()?;
    console.set_demo_power(server_id, power).await
}
