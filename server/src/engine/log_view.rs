//! Reading the failover log, and what the pages show: the log with its buttons' reasons, an
//! entry with its notes, the dashboard, and the figures of `/metrics`.

use super::Engine;
use crate::store::StoreError;
use app::failure::Failure;
use app::model::{
    CopyStatus, Failover, FailoverDetail, FailoverFilter, FailoverSection, FailoverStatus,
    ServerKind, ServerRef, ServerState,
};
use app::port::Metrics;
use app::rights::{Caller, Right};
use app::screens::{DashboardView, FailoverLogView, LogRow};
use chrono::Utc;

/// A recorder seen this recently is taken as back on the network.
const BACK_ON_THE_NETWORK: chrono::Duration = chrono::Duration::seconds(5);
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
        let total_filter = FailoverFilter { limit: None, offset: None, ..finalized_filter.clone() };
        // Four reads at once, each on its own connection: one after another, their round trips
        // to the database's worker threads were most of the page's time.
        let (servers, active, finalized, finalized_total) = futures::try_join!(
            self.store.list_servers(),
            self.store.failovers(&active_filter),
            self.store.failovers(&finalized_filter),
            self.store.count_failovers(&total_filter),
        )?;
        let rows = |entries: Vec<Failover>| {
            entries
                .into_iter()
                .map(|failover| LogRow {
                    failback_blocker: failback_blocker(caller, &failover, &servers),
                    copy_blocker: copy_blocker(caller, &failover),
                    failover,
                })
                .collect::<Vec<_>>()
        };
        let (active, finalized) = (rows(active), rows(finalized));
        let recorders = servers
            .iter()
            .filter(|server| server.kind == ServerKind::Recorder)
            .map(|server| ServerRef { id: server.id, name: server.name.clone() })
            .collect();
        Ok(FailoverLogView {
            active,
            finalized,
            finalized_total,
            filter: finalized_filter,
            recorders,
            me: caller.me(),
        })
    }

    pub(super) async fn dashboard_view(&self) -> Result<DashboardView, Failure> {
        let servers = self.store.list_servers().await?;
        let active = self.store.open_failovers().await?;
        Ok(DashboardView { servers, active, recent: self.events.recent() })
    }

    pub(super) async fn figures(&self) -> Result<Metrics, Failure> {
        let servers = self.store.list_servers().await?;
        let open = self.store.open_failovers().await?;
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
    let recorder = servers.iter().find(|server| server.id == failover.recorder.id)?;
    let back = recorder.state == ServerState::Broken
        && recorder.last_seen_at.is_some_and(|seen| Utc::now() - seen < BACK_ON_THE_NETWORK)
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
