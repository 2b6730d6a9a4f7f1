//! Shapes made for pages: what one screen needs in one round trip.

use crate::model::{Failover, FailoverFilter, Server, ServerRef};
use crate::rights::Me;
use serde::{Deserialize, Serialize};

/// One demo recorder process that the Servers page can switch off and on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoSwitch {
    pub server_id: i64,
    pub powered: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServersView {
    pub servers: Vec<Server>,
    /// Present only under `standby demo`.
    pub demo: Option<Vec<DemoSwitch>>,
    /// Who is looking: the page mirrors their rights.
    pub me: Me,
    pub groups: Vec<crate::model::FailoverGroup>,
}

impl ServersView {
    /// The failover group a server belongs to, if any.
    pub fn group_of(&self, server_id: i64) -> Option<(i64, String)> {
        self.groups
            .iter()
            .find(|group| {
                group
                    .recorders
                    .iter()
                    .chain(&group.failover_servers)
                    .any(|member| member.id == server_id)
            })
            .map(|group| (group.id, group.name.clone()))
    }
}

impl ServersView {
    pub fn switch_for(&self, server_id: i64) -> Option<&DemoSwitch> {
        self.demo.as_ref()?.iter().find(|switch| switch.server_id == server_id)
    }
}

/// One row of the failover log, with what its buttons may do for the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRow {
    pub failover: Failover,
    /// Why "Start failback" is not possible now, if it is not.
    pub failback_blocker: Option<String>,
    /// Why "Start material copying" is not possible now, if it is not.
    pub copy_blocker: Option<String>,
}

/// The failover log page: both sections, the finalized one paged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverLogView {
    pub active: Vec<LogRow>,
    pub finalized: Vec<LogRow>,
    /// Finalized entries matching the filter, on all pages.
    pub finalized_total: i64,
    pub filter: FailoverFilter,
    pub recorders: Vec<ServerRef>,
    pub me: Me,
}

/// The control-room wall screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardView {
    pub servers: Vec<Server>,
    pub active: Vec<Failover>,
    /// Newest first.
    pub recent: Vec<RecentEvent>,
}

/// A line of the dashboard's "last events".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentEvent {
    pub at: chrono::DateTime<chrono::Utc>,
    /// `info`, `warning` or `error`.
    pub level: String,
    pub message: String,
}
