//! Roles and their rights. The server checks them (in the engine, the one place both the REST
//! API and the server functions go through); the UI only mirrors them.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Operator, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }

    pub fn allows(self, right: Right) -> bool {
        self >= right.least_role()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a caller may do. Each right belongs to the least role that has it; higher roles have
/// every right of the lower ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Right {
    /// Read everything: servers, the failover log, the dashboard, the audit trail.
    Read,
    /// Trigger a manual failback (the seed: "role that allows to trigger failover manually").
    ManualFailback,
    StartMaterialCopy,
    SetMaintenanceMode,
    /// Switch demo recorder processes off and on (`standby demo` only).
    DemoPower,
    ManageServers,
    ManageUsers,
    ManageTokens,
    ManageLicence,
    /// Test-fail over a recorder without disturbing it (an administrator's, audited).
    RunDrill,
    /// Read `/metrics`: the one right a metrics-scoped token has.
    ReadMetrics,
}

impl Right {
    pub fn least_role(self) -> Role {
        match self {
            Right::Read | Right::ReadMetrics => Role::Viewer,
            Right::ManualFailback
            | Right::StartMaterialCopy
            | Right::SetMaintenanceMode
            | Right::DemoPower => Role::Operator,
            Right::ManageServers
            | Right::ManageUsers
            | Right::ManageTokens
            | Right::ManageLicence
            | Right::RunDrill => Role::Admin,
        }
    }

    /// Completes "Your role does not allow you to …".
    pub fn describe(self) -> &'static str {
        match self {
            Right::Read => "read the console",
            Right::ManualFailback => "trigger a failback manually",
            Right::StartMaterialCopy => "start material copying",
            Right::SetMaintenanceMode => "switch maintenance mode",
            Right::DemoPower => "switch demo servers off and on",
            Right::ManageServers => "add or change servers",
            Right::ManageUsers => "manage users",
            Right::ManageTokens => "manage API tokens",
            Right::ManageLicence => "change the licence",
            Right::RunDrill => "run a drill",
            Right::ReadMetrics => "read the metrics",
        }
    }
}

/// Who is asking, as pages see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Me {
    pub name: String,
    pub role: Role,
}

impl Me {
    pub fn can(&self, right: Right) -> bool {
        self.role.allows(right)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_roles_have_every_right_of_the_lower() {
        assert!(Role::Viewer.allows(Right::Read));
        assert!(!Role::Viewer.allows(Right::ManualFailback));
        assert!(Role::Operator.allows(Right::ManualFailback));
        assert!(Role::Operator.allows(Right::SetMaintenanceMode));
        assert!(!Role::Operator.allows(Right::ManageServers));
        assert!(Role::Admin.allows(Right::ManageUsers));
        assert!(Role::Admin.allows(Right::RunDrill));
        assert!(!Role::Operator.allows(Right::RunDrill));
        assert!(Role::Admin.allows(Right::Read));
        assert_eq!(Role::parse("operator"), Some(Role::Operator));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn a_metrics_token_may_read_the_metrics_only() {
        let scraper = Caller { role: Role::Admin, scope: Scope::Metrics, ..Caller::system("prom") };
        assert!(scraper.require(Right::ReadMetrics).is_ok());
        assert!(scraper.require(Right::Read).is_err());
        assert!(scraper.require(Right::ManageUsers).is_err());
        assert!(Caller::system("cli").require(Right::ReadMetrics).is_ok());
        assert_eq!(Scope::parse("metrics"), Some(Scope::Metrics));
        assert_eq!(Scope::default(), Scope::Full);
    }
}

/// How a caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A browser session (cookie from logging in).
    Session,
    /// An API token (bearer header, or a dashboard's token link).
    Token,
    /// The manager itself or its command line.
    System,
}

/// What an API token may be used for. Sessions and the system are `Full`: everything their
/// role allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Everything the token's role allows.
    #[default]
    Full,
    /// `GET /metrics` only, so a Prometheus scraper's token reads no settings, log or audit.
    Metrics,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::Full, Scope::Metrics];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Full => "full",
            Scope::Metrics => "metrics",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == text)
    }

    pub fn allows(self, right: Right) -> bool {
        match self {
            Scope::Full => true,
            Scope::Metrics => right == Right::ReadMetrics,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which credential a caller came with (its fingerprint, never the secret), so that what lasts
/// longer than one request (an event stream) can tell when it ends: logged out, revoked, or
/// its user removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialId {
    /// The SHA-256 fingerprint of a session cookie.
    Session(String),
    /// The SHA-256 fingerprint of an API token.
    Token(String),
}

/// Who is asking, from where: what every engine action checks and audits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    pub via: Via,
    /// The client's IP address, when the call came over the network.
    pub address: Option<String>,
    /// A token's scope; `Full` for everyone else.
    #[serde(default)]
    pub scope: Scope,
    /// The credential behind the call; `None` for the system and the command line.
    #[serde(skip)]
    pub credential: Option<CredentialId>,
}

impl Caller {
    /// The command line and the manager's own background work: every right.
    pub fn system(name: &str) -> Self {
        Caller {
            name: name.to_owned(),
            role: Role::Admin,
            via: Via::System,
            address: None,
            scope: Scope::Full,
            credential: None,
        }
    }

    /// The one place where rights are checked.
    pub fn require(&self, right: Right) -> Result<(), crate::failure::Failure> {
        if !self.scope.allows(right) {
            return Err(crate::failure::Failure::new(
                crate::failure::FailureKind::Forbidden,
                "forbidden",
                format!(
                    "This API token's scope ({}) does not allow you to {}.",
                    self.scope,
                    right.describe()
                ),
            ));
        }
        if self.role.allows(right) {
            return Ok(());
        }
        Err(crate::failure::Failure::new(
            crate::failure::FailureKind::Forbidden,
            "forbidden",
            format!(
                "Your role ({}) does not allow you to {}; that needs the {} role.",
                self.role,
                right.describe(),
                right.least_role()
            ),
        ))
    }

    pub fn me(&self) -> Me {
        Me { name: self.name.clone(), role: self.role }
    }
}

/// What the manager's HTTP layer knows about a request, attached to it for the engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// The client's IP address.
    pub address: Option<String>,
    /// Served over TLS (directly or behind a proxy that says so): cookies get `Secure`.
    pub secure: bool,
}
