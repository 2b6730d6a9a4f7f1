//! The engine as the server functions see it. The server crate implements these traits and
//! provides a [`ConsoleHandle`] as Leptos context; nothing in `app` touches SQL or recorders.
//! Every method takes the [`Caller`]: the engine checks rights, not the page.

use crate::auth::{Caller, Me, RequestInfo};
use crate::failure::Failure;
use crate::model::{
    AuditEntry, AuditFilter, DemoPower, FailbackAnswer, Failover, FailoverDetail, FailoverFilter,
    FailoverGroup, NewServer, Server, ServerPatch,
};
use crate::view::{DashboardView, DemoSwitch, FailoverLogView};
use async_trait::async_trait;
use std::sync::Arc;

#[async_trait]
pub trait Console: Send + Sync + 'static {
    async fn servers(&self, caller: &Caller) -> Result<Vec<Server>, Failure>;

    async fn add_server(&self, caller: &Caller, new: NewServer) -> Result<Server, Failure>;

    async fn edit_server(
        &self,
        caller: &Caller,
        id: i64,
        patch: ServerPatch,
    ) -> Result<Server, Failure>;

    async fn groups(&self, caller: &Caller) -> Result<Vec<FailoverGroup>, Failure>;

    /// Moves a server into a failover group, or out of every group with `None`.
    async fn assign_group(
        &self,
        caller: &Caller,
        server_id: i64,
        group_id: Option<i64>,
    ) -> Result<(), Failure>;

    /// The demo site's process switches, when the manager runs as `standby demo`.
    async fn demo_switches(&self, caller: &Caller) -> Option<Vec<DemoSwitch>>;

    async fn set_demo_power(
        &self,
        caller: &Caller,
        server_id: i64,
        power: DemoPower,
    ) -> Result<(), Failure>;

    async fn audit_trail(
        &self,
        caller: &Caller,
        filter: AuditFilter,
    ) -> Result<Vec<AuditEntry>, Failure>;

    async fn failover_log(
        &self,
        caller: &Caller,
        filter: FailoverFilter,
    ) -> Result<FailoverLogView, Failure>;

    async fn failover_detail(&self, caller: &Caller, id: i64) -> Result<FailoverDetail, Failure>;

    /// Manual failback from the failover log.
    async fn failback(&self, caller: &Caller, id: i64) -> Result<FailbackAnswer, Failure>;

    /// Start (or resume) material copying of a finalized entry.
    async fn material_copy(&self, caller: &Caller, id: i64) -> Result<Failover, Failure>;

    async fn dashboard(&self, caller: &Caller) -> Result<DashboardView, Failure>;

    /// Checks the credentials and opens a session; the answer carries the `Set-Cookie` value.
    async fn login(
        &self,
        name: &str,
        password: &str,
        request: &RequestInfo,
    ) -> Result<(Me, String), Failure>;

    /// Ends the session the request's cookie carries; the answer is the `Set-Cookie` value
    /// that clears it.
    async fn logout(&self, caller: &Caller, headers: &http::HeaderMap) -> Result<String, Failure>;
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

/// The caller the manager's authentication layer attached to this request, if any.
pub fn current_caller() -> Option<Caller> {
    let parts = leptos::prelude::use_context::<http::request::Parts>()?;
    parts.extensions.get::<Caller>().cloned()
}

/// What the HTTP layer found out about this request.
pub fn request_info() -> RequestInfo {
    leptos::prelude::use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<RequestInfo>().cloned())
        .unwrap_or_default()
}

/// The request's headers (empty outside a request).
pub fn request_headers() -> http::HeaderMap {
    leptos::prelude::use_context::<http::request::Parts>()
        .map(|parts| parts.headers)
        .unwrap_or_default()
}

/// The caller, or the refusal a server function returns to someone not logged in.
pub fn require_caller() -> Result<Caller, Failure> {
    current_caller().ok_or_else(Failure::not_logged_in)
}
