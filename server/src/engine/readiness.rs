//! Readiness: would a failover of each recorder succeed now? The checks are failover's own, in
//! its order (licence, settings, a free failover server of its group that can carry it), read
//! from the store, so every manager answers the same; each "no" is a sentence naming its cause.
//! The leader checks the whole site after a change (or every few seconds) and tells every page
//! when the set of recorders not covered changes.

use super::Engine;
use crate::store::{ServerReport, StoreError};
use agent_api::Load;
use app::failure::Failure;
use app::model::{
    Coverage, Failover, FailoverGroup, Licence, Readiness, ReadinessReason, Server, ServerKind,
    ServerRef, ServerState, SystemEvent,
};
use app::text::thousands;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// What readiness is judged from: one read of the site.
pub(super) struct Site {
    pub servers: Vec<Server>,
    pub licence: Option<Licence>,
    pub open: Vec<Failover>,
    pub groups: Vec<FailoverGroup>,
    /// Cached settings version by recorder id.
    pub cached: HashMap<i64, i64>,
    pub reports: HashMap<i64, ServerReport>,
    /// Failover servers recording in a drill: free, since a real failure cancels the drill.
    pub drilling: HashSet<i64>,
}

/// Whether the failover server can record what the recorder records (as far as both said).
pub(super) fn carries(reports: &HashMap<i64, ServerReport>, server: i64, recorder: i64) -> bool {
    let load = reports.get(&recorder).and_then(|report| report.load);
    let capacity = reports.get(&server).map(|report| report.capacity).unwrap_or_default();
    load.is_none_or(|load| capacity.carries(&load))
}

fn reason(code: &str, message: String) -> ReadinessReason {
    ReadinessReason { code: code.to_owned(), message }
}

fn channels(n: u32) -> String {
    if n == 1 { "1 channel".to_owned() } else { format!("{} channels", thousands(n as usize)) }
}

fn kbps(n: u64) -> String {
    format!("{} kbit/s", thousands(usize::try_from(n).unwrap_or(usize::MAX)))
}

fn load_text(load: &Load) -> String {
    format!("{} at {}", channels(load.channels), kbps(load.bitrate_kbps))
}

impl Site {
    pub async fn read(engine: &Engine) -> Result<Site, StoreError> {
        let store = &engine.store;
        let (servers, licence, open, groups, cached, reports, drills) = futures::try_join!(
            store.list_servers(),
            store.licence(),
            store.open_failovers(),
            store.groups(),
            store.cached_versions(),
            store.server_reports(),
            store.running_drills(),
        )?;
        Ok(Site {
            servers,
            licence,
            open,
            groups,
            cached: cached.into_iter().collect(),
            reports: reports.into_iter().map(|report| (report.server_id, report)).collect(),
            drilling: drills
                .into_iter()
                .filter_map(|drill| drill.failover_server.map(|server| server.id))
                .collect(),
        })
    }

    /// Every recorder's readiness, by name.
    pub fn readiness(&self) -> Vec<Readiness> {
        let mut recorders: Vec<&Server> =
            self.servers.iter().filter(|server| server.kind == ServerKind::Recorder).collect();
        recorders.sort_by(|a, b| a.name.cmp(&b.name));
        recorders.into_iter().map(|recorder| self.assess(recorder)).collect()
    }

    fn group_of(&self, id: i64) -> Option<&FailoverGroup> {
        self.groups.iter().find(|group| group.has_member(id))
    }

    /// The failover servers that may cover the recorder, in failover's order: its group's by
    /// position, or every failover server when it is in no group.
    fn candidates(&self, recorder: &Server) -> (Option<&FailoverGroup>, Vec<&Server>) {
        let by_id = |id: i64| self.servers.iter().find(|server| server.id == id);
        match self.group_of(recorder.id) {
            Some(group) => {
                (Some(group), group.failover_servers.iter().filter_map(|m| by_id(m.id)).collect())
            }
            None => (
                None,
                self.servers.iter().filter(|server| server.kind == ServerKind::Failover).collect(),
            ),
        }
    }

    /// What keeps a failover server from taking a recorder now, if anything.
    fn busy(&self, server: &Server) -> Option<String> {
        if let Some(entry) = self
            .open
            .iter()
            .find(|entry| entry.failover_server.as_ref().is_some_and(|fo| fo.id == server.id))
        {
            return Some(format!("records for {}", entry.recorder.name));
        }
        if self.drilling.contains(&server.id) {
            return None;
        }
        match server.state {
            ServerState::Standby => None,
            ServerState::Acting => Some(match &server.acting_for {
                Some(name) => format!("acts for {name}"),
                None => "is acting".to_owned(),
            }),
            ServerState::Unreachable => Some("is unreachable".to_owned()),
            other => Some(format!("is {}", other.label().to_lowercase())),
        }
    }

    pub fn assess(&self, recorder: &Server) -> Readiness {
        let reasons = self.reasons(recorder);
        Readiness {
            server: ServerRef { id: recorder.id, name: recorder.name.clone() },
            covered: reasons.is_empty(),
            reasons,
        }
    }

    fn reasons(&self, recorder: &Server) -> Vec<ReadinessReason> {
        let name = &recorder.name;
        let mut reasons = Vec::new();
        // Failed over already: its failover server is used; the rest does not apply.
        if let Some(entry) = self.open.iter().find(|entry| entry.recorder.id == recorder.id) {
            let to = entry
                .failover_server
                .as_ref()
                .map(|server| format!(" to {}", server.name))
                .unwrap_or_default();
            return vec![reason(
                "failed_over",
                format!(
                    "{name} is failed over{to} now; it is covered again once it is failed back."
                ),
            )];
        }
        // Failover is asked for only for a monitored recorder outside maintenance.
        if !recorder.failover_enabled {
            reasons.push(reason(
                "monitoring_off",
                format!("Failover monitoring is switched off for {name}, so it would not be failed over."),
            ));
        }
        if recorder.maintenance_mode {
            reasons.push(reason(
                "maintenance",
                format!("{name} is in maintenance mode, so it would not be failed over."),
            ));
        }
        // 1. The licence.
        match &self.licence {
            Some(licence) if licence.failover_enabled => {
                let in_use = self.open.len() as i64;
                if in_use >= licence.failover_servers {
                    reasons.push(reason(
                        "licence_full",
                        format!(
                            "The licence allows {} failover server(s) at once and {in_use} are in use.",
                            licence.failover_servers
                        ),
                    ));
                }
            }
            _ => reasons
                .push(reason("no_licence", "Failover is not enabled in the licence.".to_owned())),
        }
        // 2. Its settings are cached, and they are the ones it records by.
        match (self.cached.get(&recorder.id), self.reports.get(&recorder.id)) {
            (None, _) => reasons.push(reason(
                "no_settings",
                format!("No settings of {name} were ever read, so its cameras could not be moved."),
            )),
            (Some(cached), Some(report)) if report.settings_version != *cached => {
                reasons.push(reason(
                    "settings_stale",
                    format!(
                        "The cached settings of {name} are version {cached}, but it records by version {}: a failover now would move settings that are out of date.",
                        report.settings_version
                    ),
                ))
            }
            _ => {}
        }
        // 3. A failover server of its group is free and reachable, 4. and can carry it.
        let (group, candidates) = self.candidates(recorder);
        let of_group = group.map(|group| format!(" of group {}", group.name)).unwrap_or_default();
        if candidates.is_empty() {
            let message = match group {
                Some(group) => {
                    format!("Group {} has no failover server to cover {name}.", group.name)
                }
                None => "No failover server is registered.".to_owned(),
            };
            reasons.push(reason("no_failover_server", message));
            return reasons;
        }
        let (free, busy): (Vec<_>, Vec<_>) = candidates
            .iter()
            .map(|server| (*server, self.busy(server)))
            .partition(|(_, busy)| busy.is_none());
        if free.is_empty() {
            let message = match busy.as_slice() {
                [(server, Some(why))] => format!(
                    "{} is the only failover server{} and it {why}.",
                    server.name,
                    group.map(|group| format!(" for group {}", group.name)).unwrap_or_default()
                ),
                _ => format!(
                    "No failover server{of_group} is free: {}.",
                    busy.iter()
                        .map(|(server, why)| format!(
                            "{} {}",
                            server.name,
                            why.as_deref().unwrap_or("")
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            reasons.push(reason("no_free_failover_server", message));
            return reasons;
        }
        let load = self.reports.get(&recorder.id).and_then(|report| report.load);
        if let Some(load) = load
            && !free.iter().any(|(server, _)| carries(&self.reports, server.id, recorder.id))
        {
            let limits = free
                .iter()
                .map(|(server, _)| {
                    let capacity =
                        self.reports.get(&server.id).map(|r| r.capacity).unwrap_or_default();
                    let parts: Vec<String> = capacity
                        .channels
                        .map(channels)
                        .into_iter()
                        .chain(capacity.bitrate_kbps.map(kbps))
                        .collect();
                    format!("{} takes at most {}", server.name, parts.join(" and "))
                })
                .collect::<Vec<_>>()
                .join("; ");
            reasons.push(reason(
                "capacity_short",
                format!(
                    "No free failover server{of_group} can carry {name} ({}): {limits}.",
                    load_text(&load)
                ),
            ));
        }
        reasons
    }
}

impl Engine {
    pub(super) async fn readiness_now(&self) -> Result<Vec<Readiness>, Failure> {
        Ok(Site::read(self).await?.readiness())
    }

    pub(super) async fn coverage_now(&self) -> Result<Coverage, Failure> {
        Ok(Coverage::of(self.readiness_now().await?))
    }

    /// The leader's check of the whole site: every page is told when what is not covered
    /// changes (and once at the start of its term). It runs when a change was published since
    /// the last check, and every [`RECHECK_EVERY`] anyway (the servers' reports and last-seen
    /// times change without an event); at 1,000 recorders a read of the whole site every
    /// monitor interval cost more than the monitor itself.
    pub(super) async fn check_coverage(&self) -> Result<(), Failure> {
        let changes = self.events.changes();
        {
            let last = self.coverage.lock().unwrap_or_else(|poison| poison.into_inner());
            if let Some(last) = last.as_ref()
                && last.changes == changes
                && last.at.elapsed() < RECHECK_EVERY
            {
                return Ok(());
            }
        }
        let coverage = self.coverage_now().await?;
        let mut last = self.coverage.lock().unwrap_or_else(|poison| poison.into_inner());
        let changed = last.as_ref().is_none_or(|last| last.coverage != coverage);
        if changed {
            let before = last.as_ref().map_or(0, |last| last.coverage.not_covered.len());
            if coverage.not_covered.len() != before {
                tracing::info!(
                    covered = coverage.covered,
                    recorders = coverage.recorders,
                    "coverage changed"
                );
            }
            self.events.publish(SystemEvent::CoverageChanged { coverage: coverage.clone() });
        }
        // Its own event is not a reason to look again.
        let changes = if changed { changes + 1 } else { changes };
        *last = Some(Checked { coverage, changes, at: Instant::now() });
        Ok(())
    }
}

/// How often the leader checks coverage when nothing was published meanwhile.
const RECHECK_EVERY: Duration = Duration::from_secs(5);

/// The leader's latest coverage check.
pub(super) struct Checked {
    coverage: Coverage,
    /// The count of published changes it saw.
    changes: u64,
    at: Instant,
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_api::Capacity;

    fn server(id: i64, name: &str, kind: ServerKind, state: ServerState) -> Server {
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

    fn open_entry(recorder: ServerRef, failover_server: ServerRef) -> Failover {
        use app::model::{CopyProgress, CopyStatus, FailoverStatus};
        Failover {
            id: 9,
            recorder,
            failover_server: Some(failover_server),
            status: FailoverStatus::Active,
            failover_started_at: chrono::Utc::now(),
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

    fn report(id: i64, version: i64, load: Option<Load>, capacity: Capacity) -> ServerReport {
        ServerReport { server_id: id, settings_version: version, load, capacity }
    }

    /// rec-1 (8 channels at 16,000 kbit/s, settings version 3 cached) and fo-1, standing by.
    fn healthy() -> Site {
        Site {
            servers: vec![
                server(1, "rec-1", ServerKind::Recorder, ServerState::Ok),
                server(2, "fo-1", ServerKind::Failover, ServerState::Standby),
            ],
            licence: Some(Licence {
                failover_enabled: true,
                failover_servers: 1,
                updated_at: None,
                updated_by: None,
            }),
            open: vec![],
            groups: vec![],
            cached: HashMap::from([(1, 3)]),
            reports: HashMap::from([
                (
                    1,
                    report(
                        1,
                        3,
                        Some(Load { channels: 8, bitrate_kbps: 16_000 }),
                        Capacity::default(),
                    ),
                ),
                (2, report(2, 0, None, Capacity::default())),
            ]),
            drilling: HashSet::new(),
        }
    }

    fn codes(site: &Site) -> Vec<String> {
        site.assess(&site.servers[0]).reasons.into_iter().map(|reason| reason.code).collect()
    }

    fn message(site: &Site) -> String {
        site.assess(&site.servers[0])
            .reasons
            .into_iter()
            .map(|r| r.message)
            .collect::<Vec<_>>()
            .join(" | ")
    }

    #[test]
    fn a_healthy_pair_is_covered() {
        let site = healthy();
        let readiness = site.assess(&site.servers[0]);
        assert!(readiness.covered, "{readiness:?}");
        assert!(readiness.reasons.is_empty());
    }

    #[test]
    fn each_no_names_its_cause() {
        let mut site = healthy();
        site.servers[0].failover_enabled = false;
        site.servers[0].maintenance_mode = true;
        assert_eq!(codes(&site), ["monitoring_off", "maintenance"]);

        let mut site = healthy();
        site.licence = None;
        assert_eq!(codes(&site), ["no_licence"]);

        let mut site = healthy();
        site.cached.clear();
        assert_eq!(codes(&site), ["no_settings"]);

        let mut site = healthy();
        site.reports.get_mut(&1).expect("rec-1").settings_version = 4;
        assert_eq!(codes(&site), ["settings_stale"]);
        assert!(
            message(&site).contains("version 3, but it records by version 4"),
            "{}",
            message(&site)
        );

        let mut site = healthy();
        site.servers[1].state = ServerState::Unreachable;
        assert_eq!(codes(&site), ["no_free_failover_server"]);
        assert_eq!(message(&site), "fo-1 is the only failover server and it is unreachable.");

        let mut site = healthy();
        site.servers.pop();
        assert_eq!(message(&site), "No failover server is registered.");

        let mut site = healthy();
        site.reports.get_mut(&2).expect("fo-1").capacity =
            Capacity { channels: Some(4), bitrate_kbps: Some(10_000) };
        assert_eq!(codes(&site), ["capacity_short"]);
        assert_eq!(
            message(&site),
            "No free failover server can carry rec-1 (8 channels at 16,000 kbit/s): fo-1 takes at most 4 channels and 10,000 kbit/s."
        );
    }

    #[test]
    fn a_group_is_named_and_only_its_failover_servers_count() {
        let mut site = healthy();
        site.servers.push(server(3, "fo-east", ServerKind::Failover, ServerState::Unreachable));
        site.groups = vec![FailoverGroup {
            id: 1,
            name: "East".into(),
            recorders: vec![ServerRef { id: 1, name: "rec-1".into() }],
            failover_servers: vec![ServerRef { id: 3, name: "fo-east".into() }],
        }];
        assert_eq!(
            message(&site),
            "fo-east is the only failover server for group East and it is unreachable."
        );
        site.groups[0].failover_servers.clear();
        assert_eq!(message(&site), "Group East has no failover server to cover rec-1.");
    }

    #[test]
    fn a_failover_server_in_use_is_not_free_and_the_licence_counts_it() {
        let mut site = healthy();
        site.servers.push(server(4, "rec-2", ServerKind::Recorder, ServerState::Broken));
        site.servers[1].state = ServerState::Acting;
        site.servers[1].acting_for = Some("rec-2".into());
        site.open = vec![open_entry(
            ServerRef { id: 4, name: "rec-2".into() },
            ServerRef { id: 2, name: "fo-1".into() },
        )];
        assert_eq!(codes(&site), ["licence_full", "no_free_failover_server"]);
        assert!(
            message(&site).contains("fo-1 is the only failover server and it records for rec-2")
        );
        let rec2 = site.assess(&site.servers[2]);
        assert_eq!(rec2.reasons[0].code, "failed_over");
        assert_eq!(
            rec2.reasons[0].message,
            "rec-2 is failed over to fo-1 now; it is covered again once it is failed back."
        );
    }

    #[test]
    fn a_failover_server_in_a_drill_still_covers_since_a_failure_cancels_the_drill() {
        let mut site = healthy();
        site.servers[1].state = ServerState::Acting;
        assert_eq!(codes(&site), ["no_free_failover_server"]);
        site.drilling.insert(2);
        assert!(codes(&site).is_empty(), "{}", message(&site));
    }

    #[test]
    fn failover_prefers_a_failover_server_that_can_carry_the_recorder() {
        let mut site = healthy();
        site.reports.get_mut(&2).expect("fo-1").capacity =
            Capacity { channels: Some(4), bitrate_kbps: None };
        assert!(!carries(&site.reports, 2, 1));
        site.reports.get_mut(&2).expect("fo-1").capacity =
            Capacity { channels: Some(8), bitrate_kbps: None };
        assert!(carries(&site.reports, 2, 1));
        // Nothing said of the load: nothing to judge by.
        assert!(carries(&site.reports, 2, 99));
    }
}
