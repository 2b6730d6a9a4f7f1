//! Shapes made for pages: what one screen needs in one round trip.

use crate::model::{Failover, FailoverFilter, Server, ServerRef, ServerState, SystemEvent};
use crate::rights::Me;
use crate::text::{csv_line, percent_encode};
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
    pub managers: crate::model::Managers,
    pub coverage: crate::model::Coverage,
}

impl ServersView {
    /// The failover group a server belongs to, if any.
    pub fn group_of(&self, server_id: i64) -> Option<(i64, String)> {
        self.groups
            .iter()
            .find(|group| group.has_member(server_id))
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
    /// "Restore the recorder" is offered: the failover server is gone and the recorder back.
    pub restore_offered: bool,
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

/// Where the failover log page's "Export what is shown (CSV)" link points; it takes the page's
/// own query ([`FailoverFilter::page_query`]).
pub const LOG_CSV_PATH: &str = "/failovers.csv";

impl FailoverLogView {
    /// The entries shown (active, then the page of finalized ones) as CSV (RFC 4180).
    pub fn csv(&self) -> String {
        let mut csv = csv_line(&[
            "id",
            "recorder",
            "failover server",
            "status",
            "failover start",
            "failover end",
            "failback start",
            "failback end",
            "trigger",
            "user",
            "material copy",
            "error",
        ]);
        let time = |at: Option<chrono::DateTime<chrono::Utc>>| {
            at.map(|at| at.to_rfc3339()).unwrap_or_default()
        };
        for row in self.active.iter().chain(&self.finalized) {
            let entry = &row.failover;
            csv.push_str(&csv_line(&[
                entry.id.to_string(),
                entry.recorder.name.clone(),
                entry
                    .failover_server
                    .as_ref()
                    .map(|server| server.name.clone())
                    .unwrap_or_default(),
                entry.status.as_str().to_owned(),
                time(Some(entry.failover_started_at)),
                time(entry.failover_finished_at),
                time(entry.failback_started_at),
                time(entry.failback_finished_at),
                entry.failback_trigger.clone().unwrap_or_default(),
                entry.failback_by.clone().unwrap_or_default(),
                entry.copy.status.as_str().to_owned(),
                entry.error.clone().unwrap_or_default(),
            ]));
        }
        csv
    }
}

impl FailoverFilter {
    /// The filter of a failover log page's address (`recorder`, `status`, `q`, `offset`); what
    /// does not parse is left out, as a page would.
    pub fn from_page_query(get: impl Fn(&str) -> Option<String>) -> FailoverFilter {
        FailoverFilter {
            recorder_id: get("recorder").and_then(|id| id.parse().ok()),
            status: get("status").and_then(|status| crate::model::FailoverStatus::parse(&status)),
            search: get("q").filter(|text| !text.trim().is_empty()),
            offset: get("offset").and_then(|offset| offset.parse().ok()),
            ..FailoverFilter::default()
        }
    }

    /// This filter as a failover log page's query, at `offset`.
    pub fn page_query(&self, offset: Option<u32>) -> String {
        let mut query = format!("offset={}", offset.unwrap_or(0));
        if let Some(id) = self.recorder_id {
            query.push_str(&format!("&recorder={id}"));
        }
        if let Some(status) = self.status {
            query.push_str(&format!("&status={}", status.as_str()));
        }
        if let Some(search) = &self.search {
            query.push_str(&format!("&q={}", percent_encode(search)));
        }
        query
    }
}

/// The control-room wall screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardView {
    pub servers: Vec<Server>,
    pub active: Vec<Failover>,
    /// Newest first.
    pub recent: Vec<RecentEvent>,
    pub managers: crate::model::Managers,
    pub coverage: crate::model::Coverage,
}

impl DashboardView {
    /// How many "last events" the manager keeps and the wall shows.
    pub const RECENT: usize = 30;

    /// A change notification, applied in place.
    pub fn apply(&mut self, event: &SystemEvent, at: chrono::DateTime<chrono::Utc>) {
        apply_to_servers(&mut self.servers, event);
        if let SystemEvent::FailoverChanged { failover } = event {
            let kept = failover.status.is_active().then(|| failover.clone());
            upsert(&mut self.active, kept, failover.id, |entry| entry.id);
        }
        if let SystemEvent::ManagersChanged { managers } = event {
            self.managers = managers.clone();
        }
        if let SystemEvent::CoverageChanged { coverage } = event {
            self.coverage = coverage.clone();
        }
        if let Some(line) = RecentEvent::of(event, at) {
            line.remember(&mut self.recent, Self::RECENT);
        }
    }
}

impl ServersView {
    /// A change notification, applied in place.
    pub fn apply(&mut self, event: &SystemEvent) {
        apply_to_servers(&mut self.servers, event);
        if let SystemEvent::ManagersChanged { managers } = event {
            self.managers = managers.clone();
        }
        if let SystemEvent::CoverageChanged { coverage } = event {
            self.coverage = coverage.clone();
        }
    }
}

/// A server that changed replaces its old self (or joins the list); one removed leaves it.
fn apply_to_servers(servers: &mut Vec<Server>, event: &SystemEvent) {
    match event {
        SystemEvent::ServerChanged { server } => {
            upsert(servers, Some(server.clone()), server.id, |server| server.id)
        }
        SystemEvent::ServerRemoved { id } => upsert(servers, None, *id, |server| server.id),
        _ => {}
    }
}

/// Puts `new` where the item with `id` is (at the end if there is none), or removes that item.
fn upsert<T>(items: &mut Vec<T>, new: Option<T>, id: i64, id_of: impl Fn(&T) -> i64) {
    match (items.iter().position(|item| id_of(item) == id), new) {
        (Some(at), Some(new)) => items[at] = new,
        (Some(at), None) => {
            items.remove(at);
        }
        (None, Some(new)) => items.push(new),
        (None, None) => {}
    }
}

/// A line of the dashboard's "last events".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentEvent {
    pub at: chrono::DateTime<chrono::Utc>,
    /// `info`, `warning` or `error`.
    pub level: String,
    pub message: String,
}

impl RecentEvent {
    /// The sentence a change makes on the wall, if it makes one.
    pub fn of(event: &SystemEvent, at: chrono::DateTime<chrono::Utc>) -> Option<RecentEvent> {
        let (level, message) = match event {
            SystemEvent::ServerChanged { server } => {
                let level = match server.state {
                    ServerState::Unreachable | ServerState::Broken => "warning",
                    _ => "info",
                };
                (level, format!("{} is {}", server.name, server.state.label().to_lowercase()))
            }
            SystemEvent::FailoverChanged { failover } => {
                let to = failover
                    .failover_server
                    .as_ref()
                    .map(|server| format!(" to {}", server.name))
                    .unwrap_or_default();
                let level = if failover.error.is_some() { "error" } else { "info" };
                let status = failover.status.label().to_lowercase();
                (level, format!("Failover of {}{to}: {status}", failover.recorder.name))
            }
            SystemEvent::Alert { level, message, .. } => (level.as_str(), message.clone()),
            SystemEvent::ManagersChanged { managers } => match managers.warning() {
                Some(warning) => ("warning", format!("Managers: {warning}")),
                None => ("info", format!("Managers: {}", managers.summary())),
            },
            SystemEvent::CoverageChanged { coverage } => {
                let level = if coverage.not_covered.is_empty() { "info" } else { "warning" };
                (level, coverage.summary())
            }
            SystemEvent::DrillChanged { drill } => {
                let level = match drill.status {
                    crate::drill::DrillStatus::Failed => "error",
                    crate::drill::DrillStatus::Cancelled => "warning",
                    _ => "info",
                };
                let status = drill.status.label().to_lowercase();
                (level, format!("Drill of {}: {status}", drill.recorder.name))
            }
            SystemEvent::ServerRemoved { .. } | SystemEvent::Resync => return None,
        };
        Some(RecentEvent { at, level: level.to_owned(), message })
    }

    /// Newest first, at most `keep`; a state seen again (another identical alert) is not news.
    pub fn remember(self, recent: &mut Vec<RecentEvent>, keep: usize) {
        if recent.first().is_none_or(|last| last.message != self.message) {
            recent.insert(0, self);
            recent.truncate(keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CopyProgress, CopyStatus, FailoverStatus, ServerKind};
    use chrono::Utc;

    fn server(id: i64, state: ServerState) -> Server {
        Server::sample(id, &format!("rec-{id}"), ServerKind::Recorder, state)
    }

    fn failover(id: i64, status: FailoverStatus) -> Failover {
        Failover {
            id,
            recorder: ServerRef { id: 1, name: "rec-1".into() },
            failover_server: Some(ServerRef { id: 9, name: "fo-9".into() }),
            status,
            failover_started_at: Utc::now(),
            failover_finished_at: None,
            failback_started_at: None,
            failback_finished_at: None,
            failback_trigger: None,
            failback_by: None,
            error_code: None,
            error: None,
            copy: CopyProgress {
                status: CopyStatus::NotStarted,
                started_at: None,
                error: None,
                channels: vec![],
            },
        }
    }

    #[test]
    fn a_log_page_query_reads_back_as_the_same_filter() {
        let filter = FailoverFilter {
            recorder_id: Some(7),
            status: Some(FailoverStatus::Failed),
            search: Some("rec 7&co".into()),
            ..FailoverFilter::default()
        };
        let query = filter.page_query(Some(50));
        assert_eq!(query, "offset=50&recorder=7&status=failed&q=rec%207%26co");
        let pairs: Vec<(String, String)> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.replace("%20", " ").replace("%26", "&")))
            .collect();
        let read = FailoverFilter::from_page_query(|key| {
            pairs.iter().find(|(name, _)| name == key).map(|(_, value)| value.clone())
        });
        assert_eq!(read, FailoverFilter { offset: Some(50), ..filter });
    }

    #[test]
    fn the_csv_export_quotes_what_needs_it() {
        let mut row = failover(3, FailoverStatus::Failed);
        row.error = Some("No server, \"none\" free".into());
        let view = FailoverLogView {
            active: vec![],
            finalized: vec![LogRow {
                failover: row,
                failback_blocker: None,
                copy_blocker: None,
                restore_offered: false,
            }],
            finalized_total: 1,
            filter: FailoverFilter::default(),
            recorders: vec![],
            me: crate::rights::Me { name: "v".into(), role: crate::rights::Role::Viewer },
        };
        let csv = view.csv();
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert!(lines[0].starts_with("id,recorder,failover server,status,"));
        assert!(lines[1].starts_with("3,rec-1,fo-9,failed,"), "{}", lines[1]);
        assert!(lines[1].ends_with(",\"No server, \"\"none\"\" free\""), "{}", lines[1]);
    }

    /// What a wall shows after a change notification is what it would load: the server
    /// replaced in place, a new one added, a removed one gone, an active failover shown until
    /// it is finalized, and one sentence per change (an identical one again is not news).
    #[test]
    fn a_dashboard_applies_changes_in_place() {
        let mut view = DashboardView {
            servers: vec![server(1, ServerState::Ok), server(2, ServerState::Ok)],
            active: vec![],
            recent: vec![],
            managers: Default::default(),
            coverage: Default::default(),
        };
        let now = Utc::now();
        let died = SystemEvent::ServerChanged { server: server(1, ServerState::Unreachable) };
        view.apply(&died, now);
        view.apply(&died, now);
        view.apply(&SystemEvent::ServerChanged { server: server(3, ServerState::Ok) }, now);
        view.apply(&SystemEvent::ServerRemoved { id: 2 }, now);
        let states: Vec<_> = view.servers.iter().map(|s| (s.id, s.state)).collect();
        assert_eq!(states, [(1, ServerState::Unreachable), (3, ServerState::Ok)]);

        view.apply(
            &SystemEvent::FailoverChanged { failover: failover(7, FailoverStatus::Active) },
            now,
        );
        assert_eq!(view.active.iter().map(|f| f.id).collect::<Vec<_>>(), [7]);
        let done = failover(7, FailoverStatus::Finalized);
        view.apply(&SystemEvent::FailoverChanged { failover: done }, now);
        assert!(view.active.is_empty());

        let lines: Vec<_> = view.recent.iter().map(|line| line.message.as_str()).collect();
        assert_eq!(
            lines,
            [
                "Failover of rec-1 to fo-9: finalized",
                "Failover of rec-1 to fo-9: active",
                "rec-3 is ok",
                "rec-1 is unreachable",
            ]
        );
        assert_eq!(view.recent[3].level, "warning");
    }
}
