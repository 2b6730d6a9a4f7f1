//! Reading the failover log, and what the pages show: the log with its buttons' reasons, an
//! entry with its notes, the dashboard, and the figures of `/metrics`.

use super::Engine;
use super::log_cache::LogReads;
use crate::monitor::SEEN_FLUSH;
use crate::store::StoreError;
use app::failure::Failure;
use app::model::{
    CopyStatus, Failover, FailoverDetail, FailoverFilter, FailoverSection, FailoverStatus,
    Managers, ServerKind, ServerRef, ServerState,
};
use app::port::Metrics;
use app::rights::{Caller, Right};
use app::screens::{DashboardView, FailoverLogView, LogRow};
use chrono::Utc;
use std::sync::Arc;
use std::time::Instant;

/// A recorder seen this recently is taken as back on the network. "Last seen" reaches the
/// database only every [`SEEN_FLUSH`], later still on a busy machine, so a recorder that
/// answers all the time can show a "last seen" that old and more (the failback itself checks
/// the recorder again).
const BACK_ON_THE_NETWORK: chrono::Duration =
    chrono::Duration::seconds(3 * SEEN_FLUSH.as_secs() as i64);
const PAGE: u32 = 25;

impl Engine {
    /// The entry with its material-copy progress per channel.
    pub(super) async fn failover_with_copy(&self, id: i64) -> Result<Option<Failover>, StoreError> {
        let Some(mut failover) = self.store.failover(id).await? else { return Ok(None) };
        failover.copy.channels = self.store.copy_channels(id).await?;
        Ok(Some(failover))
    }

    pub(super) async fn failover_detail(&self, id: i64) -> Result<FailoverDetail, Failure> {
        let failover = self
            .failover_with_copy(id)
            .await?
            .ok_or_else(|| Failure::not_found(format!("Failover log entry {id}")))?;
        let notes = self.store.notes(id).await?;
        Ok(FailoverDetail { failover, notes })
    }

    pub(super) async fn log_view(
        &self,
        caller: &Caller,
        filter: FailoverFilter,
    ) -> Result<FailoverLogView, Failure> {
        let active_filter = FailoverFilter {
            state: Some(FailoverSection::Active),
            limit: Some(1000),
            offset: None,
            ..filter.clone()
        };
        let finalized_filter = FailoverFilter {
            state: Some(FailoverSection::Finalized),
            limit: Some(filter.limit.unwrap_or(PAGE).clamp(1, 500)),
            ..filter.clone()
        };
        let reads = self.log_reads(&active_filter, &finalized_filter).await?;
        let servers = &reads.servers;
        let rows = |entries: &[Failover]| {
            entries
                .iter()
                .map(|failover| LogRow {
                    failback_blocker: failback_blocker(caller, failover, servers),
                    restore_offered: restore_offered(caller, failover, servers),
                    copy_blocker: copy_blocker(caller, failover),
                    failover: failover.clone(),
                })
                .collect::<Vec<_>>()
        };
        let (active, finalized) = (rows(&reads.active), rows(&reads.finalized));
        let recorders = servers
            .iter()
            .filter(|server| server.kind == ServerKind::Recorder)
            .map(|server| ServerRef { id: server.id, name: server.name.clone() })
            .collect();
        Ok(FailoverLogView {
            active,
            finalized,
            finalized_total: reads.finalized_total,
            filter: finalized_filter,
            recorders,
            me: caller.me(),
        })
    }

    /// The store's part of a log page, read again only after a change or a second.
    async fn log_reads(
        &self,
        active_filter: &FailoverFilter,
        finalized_filter: &FailoverFilter,
    ) -> Result<Arc<LogReads>, StoreError> {
        let changes = self.events.changes();
        let now = Instant::now();
        if let Some(reads) = self.log_cache.get(finalized_filter, changes, now) {
            return Ok(reads);
        }
        let total_filter = FailoverFilter { limit: None, offset: None, ..finalized_filter.clone() };
        // Four reads at once, each on its own connection: one after another, their round trips
        // to the database's worker threads were most of the page's time.
        let (servers, active, finalized, finalized_total) = futures::try_join!(
            self.store.list_servers(),
            self.store.failovers(active_filter),
            self.store.failovers(finalized_filter),
            self.store.count_failovers(&total_filter),
        )?;
        let reads = Arc::new(LogReads { servers, active, finalized, finalized_total });
        self.log_cache.put(finalized_filter.clone(), changes, now, reads.clone());
        Ok(reads)
    }

    pub(super) async fn dashboard_view(&self) -> Result<DashboardView, Failure> {
        // One read of the site serves the wall and its coverage line.
        let site = super::readiness::Site::read(self).await?;
        let coverage = app::model::Coverage::of(site.readiness());
        let managers = self.managers_now().await?;
        Ok(DashboardView {
            servers: site.servers,
            active: site.open,
            recent: self.events.recent(),
            managers,
            coverage,
        })
    }

    /// The managers on the database, and whether others may join (PostgreSQL).
    pub(super) async fn managers_now(&self) -> Result<Managers, Failure> {
        let list = self.leadership.managers().await.map_err(|error| {
            tracing::error!(%error, "cannot list the managers");
            Failure::internal()
        })?;
        Ok(Managers { list, shared: self.leadership.shared() })
    }

    pub(super) async fn figures(&self) -> Result<Metrics, Failure> {
        let site = super::readiness::Site::read(self).await?;
        let coverage = app::model::Coverage::of(site.readiness());
        let (servers, open) = (site.servers, site.open);
        let copies = self.store.copies_in_progress().await?;
        let count = |state: ServerState| servers.iter().filter(|s| s.state == state).count();
        Ok(Metrics {
            servers: [
                ServerState::Ok,
                ServerState::Unreachable,
                ServerState::Broken,
                ServerState::Standby,
                ServerState::Acting,
            ]
            .into_iter()
            .map(|state| (state, count(state)))
            .collect(),
            open_failovers: [
                FailoverStatus::FailingOver,
                FailoverStatus::Active,
                FailoverStatus::FailingBack,
            ]
            .into_iter()
            .map(|status| (status, open.iter().filter(|entry| entry.status == status).count()))
            .collect(),
            copies: [CopyStatus::Queued, CopyStatus::Copying]
                .into_iter()
                .map(|status| {
                    (status, copies.iter().filter(|entry| entry.copy.status == status).count())
                })
                .collect(),
            event_subscribers: self.events.subscribers(),
            leader: self.leadership.leading(),
            epoch: self.leadership.known_epoch(),
            covered: coverage.covered,
            recorders: coverage.recorders,
        })
    }
}

/// Why "Start material copying to the selected server" cannot be pressed now.
fn copy_blocker(caller: &Caller, failover: &Failover) -> Option<String> {
    if let Err(refusal) = caller.require(Right::StartMaterialCopy) {
        return Some(refusal.message);
    }
    if failover.status != FailoverStatus::Finalized || failover.failback_finished_at.is_none() {
        return Some("Failback not performed yet: material is copied after failback.".into());
    }
    match failover.copy.status {
        CopyStatus::Done => Some("Already copied.".into()),
        CopyStatus::Queued | CopyStatus::Copying => Some("Material copying is running.".into()),
        CopyStatus::NotStarted | CopyStatus::Failed => None,
    }
}

/// Why "Start failback to the selected server" cannot be pressed now; the server checks again
/// (and in the seed's order) when it is.
fn failback_blocker(
    caller: &Caller,
    failover: &Failover,
    servers: &[app::model::Server],
) -> Option<String> {
    if let Err(refusal) = caller.require(Right::ManualFailback) {
        return Some(refusal.message);
    }
    match failover.status {
        FailoverStatus::Active => {}
        FailoverStatus::FailingBack => return Some("Failback is in progress.".into()),
        FailoverStatus::FailingOver => return Some("Failover is still in progress.".into()),
        FailoverStatus::Finalized => return Some("Failback has already been performed.".into()),
        FailoverStatus::Failed => return Some("This failover was not performed.".into()),
    }
    if let Some(gone) = failover_server_gone(failover, servers) {
        return Some(format!(
            "{} is gone (unreachable), so failback cannot hand the recorder over: once the repaired recorder is back, restore it instead, or wait for {} to come back.",
            gone.name, gone.name
        ));
    }
    recorder_not_back(failover, servers)
}

/// Whether "Restore the recorder" is offered: the way out when the failover server of an
/// active failover is gone and the repaired recorder is back (the server checks again).
fn restore_offered(caller: &Caller, failover: &Failover, servers: &[app::model::Server]) -> bool {
    caller.require(Right::ManualFailback).is_ok()
        && failover.status == FailoverStatus::Active
        && failover_server_gone(failover, servers).is_some()
        && recorder_not_back(failover, servers).is_none()
}

/// The entry's failover server, when it does not answer.
fn failover_server_gone<'a>(
    failover: &Failover,
    servers: &'a [app::model::Server],
) -> Option<&'a app::model::Server> {
    let id = failover.failover_server.as_ref()?.id;
    servers.iter().find(|server| server.id == id && server.state == ServerState::Unreachable)
}

fn back_on_the_network(seen: chrono::DateTime<Utc>, now: chrono::DateTime<Utc>) -> bool {
    now - seen < BACK_ON_THE_NETWORK
}

/// Why the entry's recorder does not count as back on the network since its failover.
fn recorder_not_back(failover: &Failover, servers: &[app::model::Server]) -> Option<String> {
    let recorder = servers.iter().find(|server| server.id == failover.recorder.id)?;
    let back = recorder.state == ServerState::Broken
        && recorder.last_seen_at.is_some_and(|seen| back_on_the_network(seen, Utc::now()))
        && failover.failover_started_at
            < recorder.last_seen_at.unwrap_or(failover.failover_started_at);
    if !back {
        return Some(format!(
            "{} is not back on the network yet: set the repaired server to the network with the same address ({}).",
            recorder.name, recorder.address
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::back_on_the_network;
    use crate::monitor::SEEN_FLUSH;

    #[test]
    fn a_recorder_answering_all_along_is_back_while_its_last_seen_waits_for_the_next_flush() {
        let now = chrono::Utc::now();
        let flush = chrono::Duration::from_std(SEEN_FLUSH).expect("a short interval");
        // The flush is a second late (a busy machine): the recorder answered all along.
        assert!(back_on_the_network(now - flush - chrono::Duration::seconds(1), now));
        assert!(!back_on_the_network(now - flush * 4, now), "a recorder silent again");
    }
}
