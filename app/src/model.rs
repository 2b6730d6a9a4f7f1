//! The domain objects that browser, REST API and engine share.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Whether a server records its own cameras or stands by to take over a failed recorder's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ServerKind {
    Recorder,
    Failover,
}

impl ServerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerKind::Recorder => "recorder",
            ServerKind::Failover => "failover",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "recorder" => Some(ServerKind::Recorder),
            "failover" => Some(ServerKind::Failover),
            _ => None,
        }
    }
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the manager currently knows about a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ServerState {
    /// A recorder that answers its health checks.
    Ok,
    /// Missed its health checks.
    Unreachable,
    /// A recorder whose functionality runs on a failover server.
    Broken,
    /// An idle failover server.
    Standby,
    /// A failover server recording for another recorder.
    Acting,
}

impl ServerState {
    /// How urgent the state is for the people watching: lower first (unreachable, broken,
    /// acting; then the states that need nobody).
    pub fn urgency(self) -> u8 {
        match self {
            ServerState::Unreachable => 0,
            ServerState::Broken => 1,
            ServerState::Acting => 2,
            ServerState::Ok | ServerState::Standby => 3,
        }
    }

    /// Unreachable, broken or acting.
    pub fn needs_attention(self) -> bool {
        self.urgency() < 3
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ServerState::Ok => "ok",
            ServerState::Unreachable => "unreachable",
            ServerState::Broken => "broken",
            ServerState::Standby => "standby",
            ServerState::Acting => "acting",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ok" => Some(ServerState::Ok),
            "unreachable" => Some(ServerState::Unreachable),
            "broken" => Some(ServerState::Broken),
            "standby" => Some(ServerState::Standby),
            "acting" => Some(ServerState::Acting),
            _ => None,
        }
    }

    /// A sentence-sized label for people, never colour alone.
    pub fn label(self) -> &'static str {
        match self {
            ServerState::Ok => "OK",
            ServerState::Unreachable => "Unreachable",
            ServerState::Broken => "Broken",
            ServerState::Standby => "Standby",
            ServerState::Acting => "Acting",
        }
    }
}

impl fmt::Display for ServerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A recording server or failover server as the contract describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Server {
    pub id: i64,
    pub name: String,
    pub address: String,
    pub kind: ServerKind,
    pub state: ServerState,
    /// For an acting failover server: the name of the recorder it records for.
    pub acting_for: Option<String>,
    pub failover_enabled: bool,
    pub auto_failback: bool,
    pub maintenance_mode: bool,
    /// Start material copying right after failback.
    pub copy_after_failback: bool,
    pub last_seen_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
impl Server {
    /// A registered server as the pages' tests need one: named, of a kind, in a state.
    pub(crate) fn sample(id: i64, name: &str, kind: ServerKind, state: ServerState) -> Server {
        Server {
            id,
            name: name.into(),
            address: String::new(),
            kind,
            state,
            acting_for: None,
            failover_enabled: true,
            auto_failback: true,
            maintenance_mode: false,
            copy_after_failback: true,
            last_seen_at: None,
        }
    }
}

/// `POST /api/v1/servers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewServer {
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 100))]
    pub name: String,
    pub address: String,
    pub kind: ServerKind,
    #[serde(default = "yes")]
    pub failover_enabled: bool,
    #[serde(default = "yes")]
    pub auto_failback: bool,
    #[serde(default = "yes")]
    pub copy_after_failback: bool,
    /// The secret the server's agent accepts (`DATA_DIR/secret` on the agent, or its
    /// `--secret-file`). Write-only: never returned or logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, min_length = 16, max_length = 1024))]
    pub secret: Option<WriteOnly>,
}

/// A secret accepted in a request and never shown again: not in answers, logs or debug prints.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(value_type = String, format = Password))]
#[serde(transparent)]
pub struct WriteOnly(pub String);

impl fmt::Debug for WriteOnly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

fn yes() -> bool {
    true
}

/// `PATCH /api/v1/servers/{id}`: only the fields present change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ServerPatch {
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 100))]
    pub name: Option<String>,
    pub address: Option<String>,
    pub kind: Option<ServerKind>,
    pub failover_enabled: Option<bool>,
    pub auto_failback: Option<bool>,
    pub maintenance_mode: Option<bool>,
    pub copy_after_failback: Option<bool>,
    /// A new secret for the server's agent (write-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, min_length = 16, max_length = 1024))]
    pub secret: Option<WriteOnly>,
}

/// A system change notification, sent to every connected client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SystemEvent {
    /// A server was added, edited, or its state changed.
    ServerChanged { server: Server },
    /// A server was removed from the site.
    ServerRemoved { id: i64 },
    /// A failover log entry was created or changed.
    FailoverChanged { failover: Failover },
    /// A notification for people on duty, sent once while the situation lasts.
    Alert { level: String, code: String, message: String },
    /// Which managers run and which leads changed.
    ManagersChanged { managers: Managers },
    /// Which recorders a failover would not cover now changed (the leader checks every
    /// monitor interval).
    CoverageChanged { coverage: Coverage },
    /// A drill started, moved on a step, or ended.
    DrillChanged { drill: crate::drill::Drill },
    /// Changes were missed: reload everything shown.
    Resync,
}

impl SystemEvent {
    /// Every event name, for clients that subscribe by name.
    pub const NAMES: [&'static str; 8] = [
        "server_changed",
        "server_removed",
        "failover_changed",
        "alert",
        "managers_changed",
        "coverage_changed",
        "drill_changed",
        "resync",
    ];

    /// The SSE event name, so a client can listen to one kind only.
    pub fn name(&self) -> &'static str {
        match self {
            SystemEvent::ServerChanged { .. } => "server_changed",
            SystemEvent::ServerRemoved { .. } => "server_removed",
            SystemEvent::FailoverChanged { .. } => "failover_changed",
            SystemEvent::Alert { .. } => "alert",
            SystemEvent::ManagersChanged { .. } => "managers_changed",
            SystemEvent::CoverageChanged { .. } => "coverage_changed",
            SystemEvent::DrillChanged { .. } => "drill_changed",
            SystemEvent::Resync => "resync",
        }
    }
}

/// What a demo site can do to its own recorder processes (only in `standby demo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemoPower {
    On,
    Off,
}

/// A person who may log in (never with the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: crate::rights::Role,
    pub created_at: DateTime<Utc>,
}

/// An API token as listed (the secret itself is shown once, at creation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub role: crate::rights::Role,
    /// `full` (everything the role allows) or `metrics` (`GET /metrics` only).
    pub scope: crate::rights::Scope,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The answer to creating a token: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    pub token: ApiToken,
    pub secret: String,
}

/// One line of the audit trail: who did what, when, from where, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub address: Option<String>,
    pub action: String,
    pub target: Option<String>,
    /// `ok`, or the refusal's code.
    pub outcome: String,
    pub detail: Option<String>,
}

/// Filters of the audit page and `GET /api/v1/audit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Only refusals and failures.
    #[serde(default)]
    pub failures_only: bool,
    /// Lines older than this id (the last id of the page before): `?before=` or `?before_id=`.
    #[serde(alias = "before")]
    pub before_id: Option<i64>,
    /// Lines per page: 100 unless said, at most 1000.
    #[cfg_attr(feature = "ssr", param(value_type = Option<u64>, maximum = 4294967295_u64))]
    pub limit: Option<u32>,
}

/// A server named in a failover log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ServerRef {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FailoverStatus {
    FailingOver,
    Active,
    FailingBack,
    Finalized,
    Failed,
}

impl FailoverStatus {
    pub const ALL: [FailoverStatus; 5] = [
        FailoverStatus::FailingOver,
        FailoverStatus::Active,
        FailoverStatus::FailingBack,
        FailoverStatus::Finalized,
        FailoverStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailoverStatus::FailingOver => "failing_over",
            FailoverStatus::Active => "active",
            FailoverStatus::FailingBack => "failing_back",
            FailoverStatus::Finalized => "finalized",
            FailoverStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        FailoverStatus::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// Active Failovers (the log's first section); the rest are Finalized Failovers.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            FailoverStatus::FailingOver | FailoverStatus::Active | FailoverStatus::FailingBack
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            FailoverStatus::FailingOver => "Failing over",
            FailoverStatus::Active => "Active",
            FailoverStatus::FailingBack => "Failing back",
            FailoverStatus::Finalized => "Finalized",
            FailoverStatus::Failed => "Failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CopyStatus {
    NotStarted,
    Queued,
    Copying,
    Done,
    Failed,
}

impl CopyStatus {
    pub const ALL: [CopyStatus; 5] = [
        CopyStatus::NotStarted,
        CopyStatus::Queued,
        CopyStatus::Copying,
        CopyStatus::Done,
        CopyStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CopyStatus::NotStarted => "not_started",
            CopyStatus::Queued => "queued",
            CopyStatus::Copying => "copying",
            CopyStatus::Done => "done",
            CopyStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        CopyStatus::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// Material copying of one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChannelCopy {
    pub channel: String,
    pub kind: String,
    pub status: CopyStatus,
    pub copied_until: Option<DateTime<Utc>>,
    pub bytes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CopyProgress {
    pub status: CopyStatus,
    /// When copying was (last) started.
    pub started_at: Option<DateTime<Utc>>,
    /// Why copying waits (e.g. the failover server is not reachable) or failed; the
    /// recorder retries a waiting copy by itself.
    pub error: Option<String>,
    pub channels: Vec<ChannelCopy>,
}

/// The failback trigger of a failover log entry whose failover server was lost while it acted:
/// that leg ended there, and a newer entry carries the recorder's failover on.
pub const SUPERSEDED: &str = "superseded";

/// The failback trigger of a failover log entry ended by an operator's restore: its failover
/// server was gone, and the repaired recorder records for itself again.
pub const RESTORED: &str = "restored";

/// A failover log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Failover {
    pub id: i64,
    pub recorder: ServerRef,
    /// `None` when no failover server could be found.
    pub failover_server: Option<ServerRef>,
    pub status: FailoverStatus,
    pub failover_started_at: DateTime<Utc>,
    pub failover_finished_at: Option<DateTime<Utc>>,
    pub failback_started_at: Option<DateTime<Utc>>,
    pub failback_finished_at: Option<DateTime<Utc>>,
    /// `manual`, `automatic`, [`RESTORED`], or [`SUPERSEDED`] (this leg's failover server was
    /// lost and a newer entry carries the failover on).
    pub failback_trigger: Option<String>,
    pub failback_by: Option<String>,
    /// The reason code of a refusal or failure, e.g. `no_failover_server`.
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub copy: CopyProgress,
}

/// One step, refusal, warning or error met by a failover log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FailoverNote {
    pub at: DateTime<Utc>,
    /// `info`, `warning` or `error`.
    pub level: String,
    pub code: String,
    pub message: String,
}

/// `GET /api/v1/failovers/{id}`: the entry with what happened on the way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FailoverDetail {
    #[serde(flatten)]
    pub failover: Failover,
    pub notes: Vec<FailoverNote>,
}

/// Which part of the log to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FailoverSection {
    Active,
    Finalized,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct FailoverFilter {
    // Inline: a query parameter's enum is not collected into the document's schemas.
    #[cfg_attr(feature = "ssr", param(inline))]
    pub state: Option<FailoverSection>,
    pub recorder_id: Option<i64>,
    #[cfg_attr(feature = "ssr", param(inline))]
    pub status: Option<FailoverStatus>,
    /// Matches recorder, failover server, who failed back, and the error.
    pub search: Option<String>,
    #[cfg_attr(feature = "ssr", param(value_type = Option<u64>, maximum = 4294967295_u64))]
    pub limit: Option<u32>,
    #[cfg_attr(feature = "ssr", param(value_type = Option<u64>, maximum = 4294967295_u64))]
    pub offset: Option<u32>,
}

/// "Failback OK": when it started and ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FailbackAnswer {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: i64,
}

/// The licence record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Licence {
    pub failover_enabled: bool,
    /// How many failover servers may act at the same time.
    pub failover_servers: i64,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<String>,
}

/// `PUT /api/v1/license`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LicenceUpdate {
    pub failover_enabled: bool,
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 10000))]
    pub failover_servers: i64,
}

/// A failover group: its recorders may be covered only by its failover servers, in this order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FailoverGroup {
    pub id: i64,
    pub name: String,
    pub recorders: Vec<ServerRef>,
    /// In the order they are tried.
    pub failover_servers: Vec<ServerRef>,
}

impl FailoverGroup {
    /// Whether the server is one of its recorders or failover servers.
    pub fn has_member(&self, server_id: i64) -> bool {
        self.recorders.iter().chain(&self.failover_servers).any(|member| member.id == server_id)
    }
}

/// Creating or replacing a failover group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GroupSettings {
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 100))]
    pub name: String,
    #[serde(default)]
    pub recorders: Vec<i64>,
    #[serde(default)]
    pub failover_servers: Vec<i64>,
}

/// `POST /api/v1/users`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 100))]
    pub name: String,
    #[cfg_attr(feature = "ssr", schema(min_length = 8))]
    pub password: String,
    pub role: crate::rights::Role,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser").field("name", &self.name).field("role", &self.role).finish()
    }
}

/// `POST /api/v1/users/{name}/password`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[cfg_attr(feature = "ssr", schema(min_length = 8))]
    pub password: String,
    /// The caller's current password: required when they change their own (logged in with
    /// a session); not needed when an administrator sets someone else's.
    #[serde(default)]
    pub current_password: Option<String>,
}

impl fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordChange { .. }")
    }
}

/// `POST /api/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 100))]
    pub name: String,
    pub role: crate::rights::Role,
    /// `full` unless said; `metrics` for a Prometheus scraper (viewer role is enough).
    #[serde(default)]
    pub scope: crate::rights::Scope,
}

/// `GET /api/v1/servers/{id}/settings`: the recorder settings cache's copy of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CachedSettingsView {
    pub version: i64,
    pub fetched_at: DateTime<Utc>,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub bundle: serde_json::Value,
}

/// One `standby serve` on the site's database; exactly one leads (watches the recorders and
/// acts on its own), the others serve people and are ready to take over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Manager {
    pub id: String,
    /// The address it listens on.
    pub listen: String,
    pub leader: bool,
    /// The leader's term; null for a follower.
    pub epoch: Option<i64>,
    /// When the leader's term began.
    pub leader_since: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub last_renewed_at: DateTime<Utc>,
}

/// The managers running on the site's database, as the pages show them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Managers {
    /// Oldest first.
    pub list: Vec<Manager>,
    /// On PostgreSQL several managers can share the database; on SQLite there is only ever one.
    pub shared: bool,
}

impl Managers {
    pub fn leader(&self) -> Option<&Manager> {
        self.list.iter().find(|manager| manager.leader)
    }

    /// What a person on duty must know about the managers, if anything.
    pub fn warning(&self) -> Option<String> {
        if self.leader().is_none() {
            return Some(
                "No manager leads right now: nobody watches the recorders until one takes over."
                    .to_owned(),
            );
        }
        (self.shared && self.list.len() < 2)
            .then(|| "Only one manager is running: if it fails, no other takes over.".to_owned())
    }

    /// "vm-1 leads · 2 managers".
    pub fn summary(&self) -> String {
        let count = match self.list.len() {
            1 => "1 manager".to_owned(),
            n => format!("{n} managers"),
        };
        match self.leader() {
            Some(leader) => format!("{} leads · {count}", leader.id),
            None => format!("no leader · {count}"),
        }
    }
}

/// `GET /api/v1/readiness`: would a failover of this recorder succeed now?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Readiness {
    pub server: ServerRef,
    pub covered: bool,
    /// Why not, in the order failover checks them, each a sentence naming the cause; empty
    /// when covered.
    pub reasons: Vec<ReadinessReason>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReadinessReason {
    /// `monitoring_off`, `maintenance`, `failed_over`, `no_licence`, `licence_full`,
    /// `no_settings`, `settings_stale`, `no_failover_server`, `no_free_failover_server` or
    /// `capacity_short`.
    pub code: String,
    pub message: String,
}

/// The site's coverage in short: what pages show and the change event carries (the recorders
/// that are covered are only counted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Coverage {
    pub recorders: usize,
    pub covered: usize,
    /// By recorder name.
    pub not_covered: Vec<Readiness>,
}

impl Coverage {
    pub fn of(readiness: Vec<Readiness>) -> Coverage {
        let recorders = readiness.len();
        let mut not_covered: Vec<Readiness> =
            readiness.into_iter().filter(|recorder| !recorder.covered).collect();
        not_covered.sort_by(|a, b| a.server.name.cmp(&b.server.name));
        Coverage { recorders, covered: recorders - not_covered.len(), not_covered }
    }

    /// Why the recorder is not covered; `None` when it is (or is not a recorder).
    pub fn of_server(&self, id: i64) -> Option<&Readiness> {
        self.not_covered.iter().find(|recorder| recorder.server.id == id)
    }

    /// The recorders not covered, grouped by their first reason's code, the largest group
    /// first: each with its recorders' names and what the wall says of them (the sentence
    /// itself when all share it, a short phrase when each names its own recorder).
    pub fn causes(&self) -> Vec<Cause> {
        let mut causes: Vec<Cause> = Vec::new();
        for recorder in &self.not_covered {
            let Some(first) = recorder.reasons.first() else { continue };
            match causes.iter_mut().find(|cause| cause.code == first.code) {
                Some(cause) => {
                    if cause.text != first.message {
                        cause.text = phrase(&first.code).to_owned();
                    }
                    cause.recorders.push(recorder.server.name.clone());
                }
                None => causes.push(Cause {
                    code: first.code.clone(),
                    text: first.message.clone(),
                    recorders: vec![recorder.server.name.clone()],
                }),
            }
        }
        causes.sort_by_key(|cause| std::cmp::Reverse(cause.recorders.len()));
        causes
    }

    /// "996 of 1,000 recorders covered if they fail; 4 not".
    pub fn summary(&self) -> String {
        use crate::text::thousands;
        let noun = if self.recorders == 1 { "recorder" } else { "recorders" };
        if self.covered == self.recorders {
            return format!("All {} {noun} covered if they fail", thousands(self.recorders));
        }
        format!(
            "{} of {} {noun} covered if they fail; {} not",
            thousands(self.covered),
            thousands(self.recorders),
            thousands(self.recorders - self.covered),
        )
    }
}

/// Recorders not covered for the same reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub code: String,
    pub text: String,
    pub recorders: Vec<String>,
}

impl Cause {
    /// "rec-1, rec-2, rec-3 and 5 more".
    pub fn names(&self, at_most: usize) -> String {
        let shown = self.recorders.iter().take(at_most).cloned().collect::<Vec<_>>().join(", ");
        match self.recorders.len().saturating_sub(at_most) {
            0 => shown,
            more => format!("{shown} and {} more", crate::text::thousands(more)),
        }
    }
}

/// What recorders sharing a reason have in common, when each reason's sentence names its own.
fn phrase(code: &str) -> &'static str {
    match code {
        "failed_over" => "failed over now; covered again after failback",
        "monitoring_off" => "failover monitoring switched off",
        "maintenance" => "in maintenance mode",
        "no_licence" => "failover is not enabled in the licence",
        "licence_full" => "every licensed failover server is in use",
        "no_settings" => "their settings were never read",
        "settings_stale" => "their cached settings are out of date",
        "no_failover_server" => "no failover server in their group",
        "no_free_failover_server" => "no free failover server",
        "capacity_short" => "no free failover server can carry them",
        _ => "a failover now would not succeed",
    }
}

#[cfg(test)]
mod coverage_tests {
    use super::*;

    fn not_covered(name: &str, code: &str, message: &str) -> Readiness {
        Readiness {
            server: ServerRef { id: 0, name: name.into() },
            covered: false,
            reasons: vec![ReadinessReason { code: code.into(), message: message.into() }],
        }
    }

    #[test]
    fn recorders_not_covered_are_grouped_by_their_first_reason() {
        let mut all: Vec<Readiness> = (1..=6)
            .map(|n| {
                let name = format!("rec-{n}");
                let message = format!("Failover monitoring is switched off for {name}.");
                not_covered(&name, "monitoring_off", &message)
            })
            .collect();
        all.push(not_covered(
            "rec-7",
            "no_free_failover_server",
            "fo-1 is the only one and it is unreachable.",
        ));
        all.push(not_covered(
            "rec-8",
            "no_free_failover_server",
            "fo-1 is the only one and it is unreachable.",
        ));
        all.push(Readiness {
            server: ServerRef { id: 9, name: "rec-9".into() },
            covered: true,
            reasons: vec![],
        });
        let coverage = Coverage::of(all);
        assert_eq!(coverage.summary(), "1 of 9 recorders covered if they fail; 8 not");
        let causes = coverage.causes();
        assert_eq!(causes.len(), 2);
        assert_eq!(causes[0].text, "failover monitoring switched off");
        assert_eq!(causes[0].names(4), "rec-1, rec-2, rec-3, rec-4 and 2 more");
        assert_eq!(causes[1].text, "fo-1 is the only one and it is unreachable.");
        assert_eq!(causes[1].names(4), "rec-7, rec-8");
    }
}
