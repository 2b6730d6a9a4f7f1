//! The health monitor: one long-lived health stream per server ([`watch`]), so a process that
//! dies is noticed from its dropped connection within milliseconds, and a host that vanishes
//! silently when its heartbeats stop for the failover window. It keeps the server states (only
//! transitions are written; "last seen" is flushed every few seconds) and the recorder settings
//! cache (read only when a heartbeat's settings version changes), and tells its [`Observer`]
//! (the engine) which recorders are gone and which broken recorders answer again. It decides
//! nothing itself.
//!
//! It never lists the servers per heartbeat: it keeps its own copy, changed by the system
//! events the engine publishes (added, edited, state changed, removed).

mod watch;

use crate::events::EventBus;
use crate::recorders::{Health, Keyring, Recorders};
use crate::settings_cache;
use crate::store::{HealthRecord, ServerReport, SharedStore};
use app::model::{FailoverStatus, Server, ServerKind, ServerState, SystemEvent};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use watch::{Report, Seen, Timing};

#[derive(Debug, Clone, Copy)]
pub struct MonitorConfig {
    /// The pace of follow-up work: retrying failovers that could not happen, automatic
    /// failback, material-copy states.
    pub interval: Duration,
    pub check_timeout: Duration,
    /// Heartbeats that stop for this long mean a host gone silent (a dropped connection that
    /// cannot be reopened means a death at once). Shorter detects sooner; on a lossy network a
    /// window of a few heartbeats avoids failing over a recorder that is alive.
    pub failover_window: Duration,
    /// A broken recorder must answer for this long before it is failed back automatically, so a
    /// flapping server does not ping-pong.
    pub failback_hold_down: Duration,
    /// How often each agent sends a heartbeat on its stream.
    pub heartbeat: Duration,
    /// A failover or failback still between two of its steps this long after its step began
    /// was cut off (its manager lost the database, or died while another leads): the leader
    /// finishes it or rolls it back. Far longer than the steps' own waits, so work under way on
    /// any manager is never taken over.
    pub mid_step_timeout: Duration,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            interval: Duration::from_secs(1),
            check_timeout: Duration::from_millis(500),
            failover_window: Duration::from_millis(1500),
            failback_hold_down: Duration::from_secs(5),
            heartbeat: Duration::from_millis(250),
            mid_step_timeout: Duration::from_secs(60),
        }
    }
}

/// What the monitor reports; the engine decides what to do about it.
pub trait Observer: Send + Sync + 'static {
    /// A monitored recorder, not in maintenance, is gone: its connection dropped and could not
    /// be reopened, or its heartbeats stopped for the whole window. Said again at every
    /// interval while it stays gone (a failover that could not happen is retried).
    fn silent(&self, recorder: Server);
    /// A broken recorder answers again, continuously since `since`.
    fn answering(&self, recorder: Server, since: Instant);
    /// The failover server acting for `recorder` is gone (as [`Observer::silent`] says of a
    /// recorder). Said again at every interval while it stays gone and holds the recorder.
    fn failover_server_lost(&self, server: Server, recorder: Server);
    /// A failover server came back, or turned, acting for the recorder named `recorder`.
    fn acting(&self, server: Server, recorder: String);
    /// One interval is over (follow-up work, like material-copy states, runs at this pace).
    fn round_done(&self);
}

/// How often the servers' "last seen" times are written.
pub(crate) const SEEN_FLUSH: Duration = Duration::from_secs(5);
/// Reports waiting for the monitor; a watcher waits when they are this many.
const REPORTS: usize = 4096;

/// What the monitor knows of one server.
struct Watched {
    server: Server,
    generation: u64,
    watcher: JoinHandle<()>,
    /// Its latest heartbeat came after its latest loss.
    alive: bool,
    /// Seen alive by this monitor (or by an earlier run: `server.last_seen_at`).
    ever_seen: bool,
    /// The latest heartbeat's time, not yet written.
    unwritten_seen: Option<DateTime<Utc>>,
    answering_since: Option<Instant>,
    wrong_kind: bool,
    credential_refused: bool,
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// Settings versions known to be in the cache, by recorder, and refreshes under way.
#[derive(Default)]
struct CacheState {
    known: HashMap<i64, u64>,
    refreshing: HashSet<i64>,
}

pub struct Monitor {
    store: SharedStore,
    recorders: Recorders,
    keyring: Arc<Keyring>,
    events: EventBus,
    config: MonitorConfig,
    watched: HashMap<i64, Watched>,
    generations: u64,
    cache: Arc<Mutex<CacheState>>,
    /// What each server's latest written report says (readiness reads them from the store).
    written_reports: HashMap<i64, ServerReport>,
    reports: mpsc::Sender<Report>,
    incoming: Option<mpsc::Receiver<Report>>,
    /// Entries seen finalized in this term (each frees its failover server once).
    finalized: HashSet<i64>,
}

impl Monitor {
    pub fn new(
        store: SharedStore,
        recorders: Recorders,
        keyring: Arc<Keyring>,
        events: EventBus,
        config: MonitorConfig,
    ) -> Self {
        let (reports, incoming) = mpsc::channel(REPORTS);
        Monitor {
            store,
            recorders,
            keyring,
            events,
            config,
            watched: HashMap::new(),
            generations: 0,
            cache: Arc::default(),
            written_reports: HashMap::new(),
            reports,
            incoming: Some(incoming),
            finalized: HashSet::new(),
        }
    }

    pub async fn run(mut self, observer: Arc<dyn Observer>, stop: CancellationToken) {
        let Some(mut incoming) = self.incoming.take() else { return };
        // Subscribed before the first listing, so no change falls between the two.
        let mut changes = self.events.stream();
        self.reload().await;
        let mut ticks = tokio::time::interval(self.config.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut flushes = tokio::time::interval(SEEN_FLUSH);
        flushes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let config = self.config;
        tracing::info!(heartbeat = ?config.heartbeat, window = ?config.failover_window, servers = self.watched.len(), "health monitor started");
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                Some(report) = incoming.recv() => self.on_report(report, observer.as_ref()).await,
                Some(change) = changes.next() => self.on_change(change, observer.as_ref()).await,
                _ = ticks.tick() => self.tick(observer.as_ref()).await,
                _ = flushes.tick() => self.flush_seen().await,
            }
        }
        self.flush_seen().await;
        self.watched.clear();
        tracing::info!("health monitor stopped");
    }

    /// Every registered server from the store: watchers for new ones, none for removed ones.
    async fn reload(&mut self) {
        let servers = match self.store.list_servers().await {
            Ok(servers) => servers,
            Err(error) => {
                tracing::warn!(%error, "cannot list the servers; the monitor keeps what it knows");
                return;
            }
        };
        let listed: HashSet<i64> = servers.iter().map(|server| server.id).collect();
        self.watched.retain(|id, _| listed.contains(id));
        match self.store.server_reports().await {
            Ok(reports) => {
                self.written_reports =
                    reports.into_iter().map(|report| (report.server_id, report)).collect();
            }
            Err(error) => tracing::warn!(%error, "cannot read the servers' reports"),
        }
        for server in servers {
            self.know(server);
        }
    }

    /// A server as the store has it now: watched from now on, with a new watcher when where or
    /// what it is changed.
    fn know(&mut self, server: Server) {
        if let Some(watched) = self.watched.get_mut(&server.id)
            && watched.server.address == server.address
            && watched.server.kind == server.kind
        {
            watched.server = server;
            return;
        }
        self.generations += 1;
        let generation = self.generations;
        let timing = Timing {
            heartbeat: self.config.heartbeat,
            window: self.config.failover_window,
            check_timeout: self.config.check_timeout,
            retry_at_most: self.config.interval,
        };
        let watcher = watch::spawn(
            server.clone(),
            generation,
            self.recorders.clone(),
            self.keyring.clone(),
            timing,
            self.reports.clone(),
        );
        let ever_seen = server.last_seen_at.is_some();
        self.watched.insert(
            server.id,
            Watched {
                server,
                generation,
                watcher,
                alive: false,
                ever_seen,
                unwritten_seen: None,
                answering_since: None,
                wrong_kind: false,
                credential_refused: false,
            },
        );
    }

    async fn on_change(&mut self, change: SystemEvent, observer: &dyn Observer) {
        match change {
            SystemEvent::ServerChanged { server } => {
                // A failover server freed (a failback finished) goes to a waiting recorder at
                // once, not at the next round.
                let freed = server.kind == ServerKind::Failover
                    && server.state == ServerState::Standby
                    && self
                        .watched
                        .get(&server.id)
                        .is_some_and(|watched| watched.server.state != ServerState::Standby);
                self.know(server);
                if freed {
                    self.retry_failovers(observer);
                }
            }
            SystemEvent::ServerRemoved { id } => {
                self.watched.remove(&id);
            }
            // Fell behind the events: what is known may be stale.
            SystemEvent::Resync => self.reload().await,
            // A failback (or restore) that finished freed its failover server. Its heartbeat
            // may have said "standby" already while the entry was still failing back, when no
            // failover could take it yet: the waiting recorders are asked again now that one
            // can. (Not after a failed failover: retrying that at once could loop.)
            SystemEvent::FailoverChanged { failover }
                if failover.status == FailoverStatus::Finalized
                    && failover.failover_server.is_some() =>
            {
                // Once per entry: its copy's progress comes as changes of it for a long while.
                if self.finalized.insert(failover.id) {
                    self.retry_failovers(observer);
                }
            }
            SystemEvent::FailoverChanged { .. }
            | SystemEvent::Alert { .. }
            | SystemEvent::ManagersChanged { .. }
            | SystemEvent::CoverageChanged { .. }
            | SystemEvent::DrillChanged { .. } => {}
        }
    }

    async fn on_report(&mut self, report: Report, observer: &dyn Observer) {
        let Some(watched) = self.watched.get_mut(&report.server_id) else { return };
        if watched.generation != report.generation {
            return;
        }
        match report.seen {
            Seen::Beat(health) if health.kind.as_str() != watched.server.kind.as_str() => {
                // Whatever answers there is not the server registered at that address.
                if !watched.wrong_kind {
                    watched.wrong_kind = true;
                    tracing::warn!(server = %watched.server.name, address = %watched.server.address, "the agent there is not a {} server; it is treated as unreachable", watched.server.kind);
                }
                self.lost(report.server_id, observer).await;
            }
            Seen::Beat(health) => self.beat(report.server_id, health, observer).await,
            // The watcher reconnects at once: a refusal confirms the death, a heartbeat denies it.
            Seen::Dropped => {}
            Seen::Refused(reason) => {
                tracing::debug!(server = %watched.server.name, %reason, "no health stream");
                self.lost(report.server_id, observer).await;
            }
            Seen::Silent => {
                tracing::info!(server = %watched.server.name, window = ?self.config.failover_window, "no heartbeat for the whole window");
                self.lost(report.server_id, observer).await;
            }
            Seen::CredentialRefused(reason) => {
                if !watched.credential_refused {
                    watched.credential_refused = true;
                    tracing::warn!(server = %watched.server.name, %reason, "the agent refuses the manager's secret: its health is checked instead, and failover to or from it will fail until its secret is set on the Servers page");
                }
            }
        }
    }

    async fn beat(&mut self, id: i64, health: Health, observer: &dyn Observer) {
        let Some(watched) = self.watched.get_mut(&id) else { return };
        let now = Utc::now();
        let came_back = !watched.alive;
        watched.alive = true;
        watched.ever_seen = true;
        watched.wrong_kind = false;
        watched.unwritten_seen = Some(now);
        let before = watched.server.state;
        let state = next_state(&watched.server, Some(&health));
        if state != before || came_back {
            // A server back on the network is written at once: pages offer failback from it.
            self.write(id, state, Some(now)).await;
        }
        let freed = before == ServerState::Acting && state == ServerState::Standby;
        if state == ServerState::Acting
            && (came_back || before != ServerState::Acting)
            && let (Some(watched), Some(recorder)) = (self.watched.get(&id), &health.acting_for)
        {
            observer.acting(watched.server.clone(), recorder.clone());
        }
        self.refresh_settings(id, &health);
        self.write_report(id, &health).await;
        if freed {
            // A failover server free again is used at once by a recorder still waiting.
            self.retry_failovers(observer);
        }
    }

    /// What the heartbeat says of the server's settings version, load and capacity, written
    /// when it differs from what was written last (a change of settings, a restart with other
    /// limits): readiness on every manager reads it.
    async fn write_report(&mut self, id: i64, health: &Health) {
        let report = ServerReport {
            server_id: id,
            settings_version: crate::store::reports::signed(health.settings_version),
            load: health.load,
            capacity: health.capacity.unwrap_or_default(),
        };
        if self.written_reports.get(&id) == Some(&report) {
            return;
        }
        match self.store.record_report(&report, Utc::now()).await {
            Ok(()) => {
                self.written_reports.insert(id, report);
            }
            Err(error) => {
                tracing::warn!(server_id = id, %error, "cannot record the server's report")
            }
        }
    }

    /// The server is gone (for now): unreachable, and a recorder's failover is asked for the
    /// first time it is seen gone.
    async fn lost(&mut self, id: i64, observer: &dyn Observer) {
        let Some(watched) = self.watched.get_mut(&id) else { return };
        let was_alive = watched.alive;
        watched.alive = false;
        let state = next_state(&watched.server, None);
        if state != watched.server.state {
            self.write(id, state, None).await;
        }
        if was_alive
            && let Some(watched) = self.watched.get(&id)
            && needs_failover(watched)
        {
            observer.silent(watched.server.clone());
        }
        if was_alive {
            self.report_lost_failover_server(id, observer);
        }
    }

    /// A failover server gone while the store still has it acting for a recorder: its
    /// recorder's functionality must move on.
    fn report_lost_failover_server(&self, id: i64, observer: &dyn Observer) {
        let Some(watched) = self.watched.get(&id) else { return };
        let server = &watched.server;
        if watched.alive || server.kind != ServerKind::Failover {
            return;
        }
        let Some(name) = &server.acting_for else { return };
        if let Some(recorder) = self
            .watched
            .values()
            .find(|other| other.server.kind == ServerKind::Recorder && other.server.name == *name)
        {
            observer.failover_server_lost(server.clone(), recorder.server.clone());
        }
    }

    /// Writes a state (and when it was seen) and tells every page.
    async fn write(&mut self, id: i64, state: ServerState, seen_at: Option<DateTime<Utc>>) {
        let Some(watched) = self.watched.get_mut(&id) else { return };
        let record =
            HealthRecord { server_id: id, read_state: watched.server.state, state, seen_at };
        if seen_at.is_some() {
            watched.unwritten_seen = None;
        }
        if let Err(error) = self.store.record_health(&[record]).await {
            tracing::warn!(server = %watched.server.name, %error, "cannot record the server's state");
            return;
        }
        if state != watched.server.state {
            tracing::info!(server = %watched.server.name, from = %watched.server.state, to = %state, "server state changed");
        }
        match self.store.server(id).await {
            Ok(Some(server)) => {
                watched.server = server.clone();
                self.events.publish(SystemEvent::ServerChanged { server });
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "cannot read the server back"),
        }
    }

    /// Once per interval: failovers that could not happen are asked for again, broken recorders
    /// that answer are reported (automatic failback after the hold-down), follow-up work runs.
    async fn tick(&mut self, observer: &dyn Observer) {
        self.retry_failovers(observer);
        let mut changed = Vec::new();
        for (id, watched) in &mut self.watched {
            let broken_and_answering = watched.server.kind == ServerKind::Recorder
                && watched.server.state == ServerState::Broken
                && watched.alive;
            if !broken_and_answering {
                if watched.answering_since.take().is_some() {
                    changed.push(*id);
                }
                continue;
            }
            let since = *watched.answering_since.get_or_insert_with(|| {
                tracing::info!(recorder = %watched.server.name, "broken recorder answers again");
                changed.push(*id);
                Instant::now()
            });
            observer.answering(watched.server.clone(), since);
        }
        for id in changed {
            if let Ok(Some(server)) = self.store.server(id).await {
                self.events.publish(SystemEvent::ServerChanged { server });
            }
        }
        observer.round_done();
    }

    fn retry_failovers(&self, observer: &dyn Observer) {
        for (id, watched) in &self.watched {
            if !watched.alive && needs_failover(watched) {
                observer.silent(watched.server.clone());
            }
            self.report_lost_failover_server(*id, observer);
        }
    }

    /// "Last seen" of every server heard from since the last flush: only the time, in a few
    /// multi-row statements (one UPDATE per server stalled this loop for seconds at 10,000).
    async fn flush_seen(&mut self) {
        let seen: Vec<(i64, DateTime<Utc>)> = self
            .watched
            .values_mut()
            .filter_map(|watched| {
                let seen_at = watched.unwritten_seen.take()?;
                watched.server.last_seen_at = Some(seen_at);
                Some((watched.server.id, seen_at))
            })
            .collect();
        if let Err(error) = self.store.record_seen(&seen).await {
            tracing::warn!(%error, servers = seen.len(), "cannot record when servers were last seen");
        }
    }

    /// Keeps each recorder's latest settings bundle: from the recorder itself while it is ok,
    /// from the failover server while one acts for it (changes made during the failover
    /// period). Only a heartbeat with a version not known to be cached costs anything.
    fn refresh_settings(&self, id: i64, health: &Health) {
        let Some(watched) = self.watched.get(&id) else { return };
        let server = &watched.server;
        let owner = match server.kind {
            ServerKind::Recorder if server.state != ServerState::Broken => Some(server.id),
            ServerKind::Failover => health.acting_for.as_deref().and_then(|name| {
                self.watched
                    .values()
                    .find(|other| {
                        other.server.name == name && other.server.state == ServerState::Broken
                    })
                    .map(|recorder| recorder.server.id)
            }),
            _ => None,
        };
        let Some(owner) = owner else { return };
        let version = health.settings_version;
        {
            let mut cache = self.cache.lock().unwrap_or_else(|poison| poison.into_inner());
            if cache.known.get(&owner) == Some(&version) || !cache.refreshing.insert(owner) {
                return;
            }
        }
        let (store, recorders, keyring, cache) =
            (self.store.clone(), self.recorders.clone(), self.keyring.clone(), self.cache.clone());
        let (server, health) = (server.clone(), health.clone());
        tokio::spawn(async move {
            let cached = store.cached_settings(owner).await;
            let fresh = match cached {
                Ok(cached) if !settings_cache::is_stale(cached.as_ref(), &health) => true,
                Ok(_) => {
                    let from = keyring.endpoint(&server).await;
                    match settings_cache::refresh(&store, recorders.as_ref(), &from, owner).await {
                        Ok(_) => true,
                        Err(error) => {
                            tracing::warn!(server = %server.name, %error, "settings not cached");
                            false
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot read the settings cache");
                    false
                }
            };
            let mut cache = cache.lock().unwrap_or_else(|poison| poison.into_inner());
            cache.refreshing.remove(&owner);
            if fresh {
                cache.known.insert(owner, health.settings_version);
            }
        });
    }
}

/// What a health answer (or its absence) means for the server's state. A broken recorder stays
/// broken until failback, whether it answers or not.
pub fn next_state(server: &Server, answer: Option<&Health>) -> ServerState {
    match (server.kind, answer) {
        (ServerKind::Recorder, _) if server.state == ServerState::Broken => ServerState::Broken,
        (_, None) => ServerState::Unreachable,
        (ServerKind::Recorder, Some(_)) => ServerState::Ok,
        (ServerKind::Failover, Some(health)) if health.acting_for.is_some() => ServerState::Acting,
        (ServerKind::Failover, Some(_)) => ServerState::Standby,
    }
}

/// A monitored recorder, not in maintenance, that was seen alive at some time (otherwise there
/// is nothing to move), now gone.
fn needs_failover(watched: &Watched) -> bool {
    eligible(&watched.server) && watched.ever_seen
}

/// What a recorder must be for its failover to be asked for.
pub fn eligible(server: &Server) -> bool {
    server.kind == ServerKind::Recorder
        && server.failover_enabled
        && !server.maintenance_mode
        && matches!(server.state, ServerState::Unreachable | ServerState::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(kind: ServerKind) -> Server {
        Server {
            id: 1,
            name: "r1".into(),
            address: "http://127.0.0.1:1".into(),
            kind,
            state: ServerState::Unreachable,
            acting_for: None,
            failover_enabled: true,
            auto_failback: true,
            maintenance_mode: false,
            copy_after_failback: true,
            last_seen_at: None,
        }
    }

    fn health(acting_for: Option<&str>) -> Health {
        Health {
            name: "x".into(),
            kind: agent_api::ServerKind::Failover,
            acting_for: acting_for.map(Into::into),
            settings_version: 0,
            recording: false,
            load: None,
            capacity: None,
        }
    }

    #[test]
    fn states_follow_the_answer_and_the_kind() {
        let recorder = server(ServerKind::Recorder);
        let failover = server(ServerKind::Failover);
        assert_eq!(next_state(&recorder, None), ServerState::Unreachable);
        assert_eq!(next_state(&recorder, Some(&health(None))), ServerState::Ok);
        assert_eq!(next_state(&failover, None), ServerState::Unreachable);
        assert_eq!(next_state(&failover, Some(&health(None))), ServerState::Standby);
        assert_eq!(next_state(&failover, Some(&health(Some("r1")))), ServerState::Acting);
        let broken = Server { state: ServerState::Broken, ..recorder };
        assert_eq!(
            next_state(&broken, Some(&health(None))),
            ServerState::Broken,
            "broken until failback"
        );
        assert_eq!(next_state(&broken, None), ServerState::Broken);
    }

    #[test]
    fn only_monitored_recorders_outside_maintenance_are_failed_over() {
        let recorder = server(ServerKind::Recorder);
        assert!(eligible(&recorder));
        assert!(eligible(&Server { state: ServerState::Ok, ..recorder.clone() }));
        assert!(!eligible(&Server { maintenance_mode: true, ..recorder.clone() }));
        assert!(!eligible(&Server { failover_enabled: false, ..recorder.clone() }));
        assert!(!eligible(&Server { state: ServerState::Broken, ..recorder.clone() }));
        assert!(!eligible(&Server { kind: ServerKind::Failover, ..recorder }));
    }
}
