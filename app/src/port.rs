//! The one door into the engine. Every operation a person or a script can do is one method
//! here, used by the server functions, the REST API, the event stream, `/metrics` and the
//! command line alike. The server crate implements it; nothing in `app` touches SQL or
//! recorders. Every method takes the [`Caller`]: the engine checks rights and writes the audit
//! trail, not the page.

use crate::failure::Failure;
use crate::model::{
    ApiToken, AuditEntry, AuditFilter, CachedSettingsView, CreatedToken, DemoPower, FailbackAnswer,
    Failover, FailoverDetail, FailoverFilter, FailoverGroup, FailoverStatus, GroupSettings,
    Licence, LicenceUpdate, NewServer, NewToken, NewUser, PasswordChange, Server, ServerPatch,
    ServerState, SystemEvent, User,
};
use crate::rights::{Caller, Me, RequestInfo};
use crate::screens::{DashboardView, DemoSwitch, FailoverLogView};
use async_trait::async_trait;
use futures::stream::BoxStream;
use std::sync::Arc;

/// How a request proved who it is.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    /// The secret of a session cookie.
    Session(&'a str),
    /// An API token (bearer header, or a dashboard's token link or cookie).
    Token(&'a str),
}

/// A successful login: who, and the `Set-Cookie` value that carries the session.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub me: Me,
    pub set_cookie: String,
}

/// Every system change notification, from the moment of subscribing; `Resync` when the
/// subscriber fell behind and must reload what it shows.
pub type EventStream = BoxStream<'static, SystemEvent>;

/// What `/metrics` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    pub servers: Vec<(ServerState, usize)>,
    pub open_failovers: Vec<(FailoverStatus, usize)>,
    pub copies: Vec<(crate::model::CopyStatus, usize)>,
    pub event_subscribers: usize,
    /// Whether this manager leads, and the epoch of the current term as it knows it.
    pub leader: bool,
    pub epoch: i64,
    /// Recorders a failover would cover now, and all recorders.
    pub covered: usize,
    pub recorders: usize,
}

#[async_trait]
pub trait Console: Send + Sync + 'static {
    // Who is calling.
    /// Checks the credentials and opens a session.
    async fn login(
        &self,
        name: &str,
        password: &str,
        request: &RequestInfo,
    ) -> Result<LoggedIn, Failure>;
    /// Ends the session `session` (the cookie's secret); the answer is the `Set-Cookie` values
    /// that clear the session cookie and a dashboard's token cookie (a wall screen logged out
    /// is logged out, not signed in again by its token).
    async fn logout(&self, caller: &Caller, session: Option<&str>) -> Result<Vec<String>, Failure>;
    /// The caller behind a credential, unless it is unknown, expired or revoked; an error when
    /// that cannot be told now (the database is away), which is not the caller's fault.
    async fn identify(
        &self,
        credential: Credential<'_>,
        address: Option<String>,
    ) -> Result<Option<Caller>, Failure>;

    // Servers.
    async fn servers(&self, caller: &Caller) -> Result<Vec<Server>, Failure>;
    async fn server(&self, caller: &Caller, id: i64) -> Result<Server, Failure>;
    async fn add_server(&self, caller: &Caller, new: NewServer) -> Result<Server, Failure>;
    /// Maintenance mode alone is an operator's switch; every other field an administrator's.
    async fn edit_server(
        &self,
        caller: &Caller,
        id: i64,
        patch: ServerPatch,
    ) -> Result<Server, Failure>;
    /// Removes a server from the site (refused while a failover involves it); the failover log
    /// keeps naming it.
    async fn remove_server(&self, caller: &Caller, id: i64) -> Result<(), Failure>;
    /// The recorder settings cache's copy of a server's settings bundle.
    async fn cached_settings(
        &self,
        caller: &Caller,
        id: i64,
    ) -> Result<CachedSettingsView, Failure>;

    // Failover groups.
    async fn groups(&self, caller: &Caller) -> Result<Vec<FailoverGroup>, Failure>;
    /// Creates (`id` None) or replaces a failover group.
    async fn save_group(
        &self,
        caller: &Caller,
        id: Option<i64>,
        group: GroupSettings,
    ) -> Result<FailoverGroup, Failure>;
    async fn delete_group(&self, caller: &Caller, id: i64) -> Result<(), Failure>;
    /// Moves a server into a failover group, or out of every group with `None`.
    async fn assign_group(
        &self,
        caller: &Caller,
        server_id: i64,
        group_id: Option<i64>,
    ) -> Result<(), Failure>;

    // The licence.
    async fn licence(&self, caller: &Caller) -> Result<Licence, Failure>;
    async fn set_licence(&self, caller: &Caller, update: LicenceUpdate)
    -> Result<Licence, Failure>;

    // Users and API tokens.
    async fn users(&self, caller: &Caller) -> Result<Vec<User>, Failure>;
    async fn add_user(&self, caller: &Caller, new: NewUser) -> Result<User, Failure>;
    async fn remove_user(&self, caller: &Caller, name: &str) -> Result<(), Failure>;
    async fn set_password(
        &self,
        caller: &Caller,
        name: &str,
        change: PasswordChange,
    ) -> Result<(), Failure>;
    async fn tokens(&self, caller: &Caller) -> Result<Vec<ApiToken>, Failure>;
    async fn create_token(&self, caller: &Caller, new: NewToken) -> Result<CreatedToken, Failure>;
    async fn revoke_token(&self, caller: &Caller, id: i64) -> Result<ApiToken, Failure>;

    // The audit trail.
    async fn audit_trail(
        &self,
        caller: &Caller,
        filter: AuditFilter,
    ) -> Result<Vec<AuditEntry>, Failure>;

    // The failover log and what can be done from it.
    async fn failover_log(
        &self,
        caller: &Caller,
        filter: FailoverFilter,
    ) -> Result<Vec<Failover>, Failure>;
    async fn failover(&self, caller: &Caller, id: i64) -> Result<FailoverDetail, Failure>;
    /// The evidence timeline of an entry: per channel of its recorder, where each stretch of
    /// the failover period lives now (see [`crate::evidence`]).
    async fn failover_coverage(
        &self,
        caller: &Caller,
        id: i64,
    ) -> Result<Vec<crate::evidence::ChannelEvidence>, Failure>;
    /// Manual failback ("Start failback to the selected server").
    async fn failback(&self, caller: &Caller, id: i64) -> Result<FailbackAnswer, Failure>;
    /// Restore: the repaired recorder records for itself again when the failover server of its
    /// active failover is gone (failback refuses then); the entry is finalized as restored.
    async fn restore(&self, caller: &Caller, id: i64) -> Result<FailbackAnswer, Failure>;
    /// Start (or resume) material copying of a finalized entry.
    async fn material_copy(&self, caller: &Caller, id: i64) -> Result<Failover, Failure>;

    // Drills.
    /// Starts a drill of a recorder (an administrator's): the answer is the drill as it stands,
    /// running or already failed at its first step; its end comes as a `drill_changed` event.
    async fn start_drill(
        &self,
        caller: &Caller,
        recorder_id: i64,
        new: crate::drill::NewDrill,
    ) -> Result<crate::drill::Drill, Failure>;
    /// The drill log, newest first.
    async fn drills(&self, caller: &Caller) -> Result<Vec<crate::drill::Drill>, Failure>;
    async fn drill(&self, caller: &Caller, id: i64) -> Result<crate::drill::Drill, Failure>;

    // What the pages show in one round trip.
    async fn failover_log_view(
        &self,
        caller: &Caller,
        filter: FailoverFilter,
    ) -> Result<FailoverLogView, Failure>;
    async fn dashboard(&self, caller: &Caller) -> Result<DashboardView, Failure>;

    // The demo site's process switches (`standby demo` only; `None` otherwise).
    async fn demo_switches(&self, caller: &Caller) -> Result<Option<Vec<DemoSwitch>>, Failure>;
    async fn set_demo_power(
        &self,
        caller: &Caller,
        server_id: i64,
        power: DemoPower,
    ) -> Result<(), Failure>;

    /// The managers on the site's database, oldest first; exactly one leads.
    async fn managers(&self, caller: &Caller) -> Result<crate::model::Managers, Failure>;

    /// Would a failover of each recorder succeed now, and if not, why not.
    async fn readiness(&self, caller: &Caller) -> Result<Vec<crate::model::Readiness>, Failure>;
    /// The same in short: how many recorders are covered, and the ones that are not.
    async fn coverage(&self, caller: &Caller) -> Result<crate::model::Coverage, Failure>;

    // Observability.
    async fn metrics(&self, caller: &Caller) -> Result<Metrics, Failure>;
    /// Every system change notification from now on.
    fn events(&self, caller: &Caller) -> Result<EventStream, Failure>;
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
