//! The health monitor: checks every registered server on an interval, all at once, each check
//! bounded by a short timeout, so one dead or slow host never delays the others. It keeps the
//! server states and the recorder settings cache fresh and tells its [`Observer`] (the engine)
//! which recorders have been silent for the whole detection window and which broken recorders
//! answer again. It decides nothing itself.

use crate::events::EventBus;
use crate::recorders::{Health, Keyring, Recorders};
use crate::settings_cache;
use crate::store::{HealthRecord, SharedStore, StoreError};
use app::model::{Server, ServerKind, ServerState, SystemEvent};
use chrono::Utc;
use futures::future::join_all;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy)]
pub struct MonitorConfig {
    pub interval: Duration,
    pub check_timeout: Duration,
    /// A recorder that has not answered for this long is failed over. With the default 1 s
    /// interval, one lost answer (1 s of silence) does not reach it and two (2 s) do.
    pub failover_window: Duration,
    /// A broken recorder must answer for this long before it is failed back automatically, so a
    /// flapping server does not ping-pong.
    pub failback_hold_down: Duration,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            interval: Duration::from_secs(1),
            check_timeout: Duration::from_millis(500),
            failover_window: Duration::from_millis(1500),
            failback_hold_down: Duration::from_secs(5),
        }
    }
}

/// What the monitor reports; the engine decides what to do about it.
pub trait Observer: Send + Sync + 'static {
    /// A monitored recorder, not in maintenance, has been silent for the whole window.
    fn silent(&self, recorder: Server);
    /// A broken recorder answers its health checks again, continuously since `since`.
    fn answering(&self, recorder: Server, since: Instant);
    /// One round is over (follow-up work, like material-copy states, runs at this pace).
    fn round_done(&self);
}

pub struct Monitor {
    store: SharedStore,
    recorders: Recorders,
    keyring: Arc<Keyring>,
    events: EventBus,
    config: MonitorConfig,
    /// Broken recorders answering again, since when.
    answering_since: HashMap<i64, Instant>,
    /// Servers whose agent reports another kind than they are registered as (warned once).
    wrong_kind: HashSet<i64>,
}

impl Monitor {
    pub fn new(
        store: SharedStore,
        recorders: Recorders,
        keyring: Arc<Keyring>,
        events: EventBus,
        config: MonitorConfig,
    ) -> Self {
        Monitor {
            store,
            recorders,
            keyring,
            events,
            config,
            answering_since: HashMap::new(),
            wrong_kind: HashSet::new(),
        }
    }

    pub async fn run(mut self, observer: Arc<dyn Observer>, stop: CancellationToken) {
        let mut ticks = tokio::time::interval(self.config.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let config = self.config;
        tracing::info!(interval = ?config.interval, timeout = ?config.check_timeout, window = ?config.failover_window, "health monitor started");
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = ticks.tick() => {}
            }
            if let Err(error) = self.tick(observer.as_ref()).await {
                tracing::warn!(%error, "health check round failed");
            }
        }
        tracing::info!("health monitor stopped");
    }

    /// One round: check all servers concurrently, write the outcome in one transaction, tell
    /// every client about each server whose state changed, refresh the settings cache, and
    /// report silent recorders and broken recorders that answer again.
    pub async fn tick(&mut self, observer: &dyn Observer) -> Result<(), StoreError> {
        let servers = self.store.list_servers().await?;
        let timeout = self.config.check_timeout;
        let (recorders, keyring) = (&self.recorders, &self.keyring);
        let checks = servers.iter().map(|server| async move {
            let answer = recorders.health(&keyring.endpoint(server).await, timeout).await;
            if let Err(error) = &answer {
                tracing::debug!(server = %server.name, %error, "health check failed");
            }
            answer.ok()
        });
        let mut answers = join_all(checks).await;
        for (server, answer) in servers.iter().zip(answers.iter_mut()) {
            let mismatch =
                answer.as_ref().is_some_and(|health| health.kind.as_str() != server.kind.as_str());
            if mismatch {
                // Whatever answers there is not the server registered at that address.
                if self.wrong_kind.insert(server.id) {
                    tracing::warn!(server = %server.name, address = %server.address, "the agent there is not a {} server; it is treated as unreachable", server.kind);
                }
                *answer = None;
            } else if answer.is_some() {
                self.wrong_kind.remove(&server.id);
            }
        }
        let now = Utc::now();
        let records: Vec<HealthRecord> = servers
            .iter()
            .zip(&answers)
            .map(|(server, answer)| HealthRecord {
                server_id: server.id,
                read_state: server.state,
                state: next_state(server, answer.as_ref()),
                seen_at: answer.as_ref().map(|_| now),
            })
            .collect();
        self.store.record_health(&records).await?;

        for (server, record) in servers.iter().zip(&records) {
            if server.state != record.state {
                tracing::info!(server = %server.name, from = %server.state, to = %record.state, "server state changed");
                self.publish(server.id).await?;
            }
        }
        for (server, answer) in servers.iter().zip(&answers) {
            if let Some(health) = answer {
                self.refresh_settings(&servers, server, health).await;
            }
        }
        for (server, answer) in servers.iter().zip(&answers) {
            if answer.is_none() && needs_failover(server, self.config, now) {
                observer.silent(server.clone());
            }
        }
        for (server, answer) in servers.iter().zip(&answers) {
            let broken_and_answering = server.kind == ServerKind::Recorder
                && server.state == ServerState::Broken
                && answer.is_some();
            if !broken_and_answering {
                if self.answering_since.remove(&server.id).is_some() {
                    self.publish(server.id).await?;
                }
                continue;
            }
            let since = match self.answering_since.get(&server.id) {
                Some(since) => *since,
                None => {
                    // A broken recorder back on the network: pages can offer failback now.
                    tracing::info!(recorder = %server.name, "broken recorder answers again");
                    let now = Instant::now();
                    self.answering_since.insert(server.id, now);
                    self.publish(server.id).await?;
                    now
                }
            };
            observer.answering(server.clone(), since);
        }
        observer.round_done();
        Ok(())
    }

    async fn publish(&self, id: i64) -> Result<(), StoreError> {
        if let Some(server) = self.store.server(id).await? {
            self.events.publish(SystemEvent::ServerChanged { server });
        }
        Ok(())
    }

    /// Keeps each recorder's latest settings bundle: from the recorder itself while it is ok,
    /// from the failover server while one acts for it (changes made during the failover period).
    async fn refresh_settings(&self, servers: &[Server], server: &Server, health: &Health) {
        let owner = match server.kind {
            ServerKind::Recorder if server.state != ServerState::Broken => Some(server.id),
            ServerKind::Failover => health
                .acting_for
                .as_deref()
                .and_then(|name| {
                    servers
                        .iter()
                        .find(|other| other.name == name && other.state == ServerState::Broken)
                })
                .map(|recorder| recorder.id),
            _ => None,
        };
        let Some(owner) = owner else { return };
        let cached = match self.store.cached_settings(owner).await {
            Ok(cached) => cached,
            Err(error) => {
                tracing::warn!(%error, "cannot read the settings cache");
                return;
            }
        };
        if !settings_cache::is_stale(cached.as_ref(), health) {
            return;
        }
        let from = self.keyring.endpoint(server).await;
        if let Err(error) =
            settings_cache::refresh(&self.store, self.recorders.as_ref(), &from, owner).await
        {
            tracing::warn!(server = %server.name, %error, "settings not cached");
        }
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

/// A monitored recorder, not in maintenance, silent for the whole window since it was last seen.
pub fn needs_failover(server: &Server, config: MonitorConfig, now: chrono::DateTime<Utc>) -> bool {
    let silent_for = server.last_seen_at.map(|seen| (now - seen).to_std().unwrap_or_default());
    server.kind == ServerKind::Recorder
        && server.failover_enabled
        && !server.maintenance_mode
        && matches!(server.state, ServerState::Unreachable | ServerState::Ok)
        && silent_for.is_some_and(|silent| silent >= config.failover_window)
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
    fn failover_needs_the_whole_window_of_silence() {
        let config = MonitorConfig::default();
        let now = Utc::now();
        let seen = |ago_ms: i64| Server {
            last_seen_at: Some(now - chrono::Duration::milliseconds(ago_ms)),
            ..server(ServerKind::Recorder)
        };
        assert!(!needs_failover(&seen(1_000), config, now), "one lost answer is not enough");
        assert!(needs_failover(&seen(2_000), config, now));
        assert!(
            !needs_failover(&server(ServerKind::Recorder), config, now),
            "never seen: nothing to move"
        );
        assert!(!needs_failover(&Server { maintenance_mode: true, ..seen(5_000) }, config, now));
        assert!(!needs_failover(&Server { failover_enabled: false, ..seen(5_000) }, config, now));
        assert!(!needs_failover(
            &Server { state: ServerState::Broken, ..seen(5_000) },
            config,
            now
        ));
        assert!(!needs_failover(
            &Server { kind: ServerKind::Failover, ..seen(5_000) },
            config,
            now
        ));
    }
}
