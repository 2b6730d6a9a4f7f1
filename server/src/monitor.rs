//! The health monitor: checks every registered server on an interval, all at once, each check
//! bounded by a short timeout, so one dead or slow host never delays the others. It keeps the
//! recorder settings cache fresh and starts a failover for a recorder that has missed its health
//! checks for the whole detection window.

use crate::engine::Engine;
use crate::recorders::Health;
use crate::store::{CachedSettings, HealthRecord};
use app::model::{Server, ServerKind, ServerState, SystemEvent};
use chrono::Utc;
use futures::future::join_all;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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

pub async fn run(engine: Arc<Engine>, stop: CancellationToken) {
    let config = engine.monitor;
    let mut ticks = tokio::time::interval(config.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!(interval = ?config.interval, timeout = ?config.check_timeout, window = ?config.failover_window, "health monitor started");
    let mut round = Round::default();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        if let Err(error) = tick(&engine, &mut round).await {
            tracing::warn!(%error, "health check round failed");
        }
    }
    tracing::info!("health monitor stopped");
}

/// What the monitor remembers between rounds.
#[derive(Default)]
pub struct Round {
    /// Recorders with a failover or failback under way (one at a time per recorder).
    busy: Arc<Mutex<HashSet<i64>>>,
    /// Broken recorders answering again, since when.
    answering_since: HashMap<i64, Instant>,
    /// A material-copy sync round is under way.
    syncing: Arc<AtomicBool>,
}

/// One round: check all servers concurrently, write the outcome in one transaction, tell every
/// client about each server whose state changed, refresh the settings cache, fail over, and
/// fail back recorders that have been back for the hold-down period.
pub async fn tick(engine: &Arc<Engine>, round: &mut Round) -> Result<(), crate::store::StoreError> {
    let config = engine.monitor;
    let servers = engine.store.list_servers().await?;
    let checks = servers.iter().map(|server| async {
        let answer = engine.recorders.health(&server.address, config.check_timeout).await;
        if let Err(error) = &answer {
            tracing::debug!(server = %server.name, %error, "health check failed");
        }
        answer.ok()
    });
    let answers = join_all(checks).await;
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
    engine.store.record_health(&records).await?;

    for (server, record) in servers.iter().zip(&records) {
        if server.state != record.state {
            tracing::info!(server = %server.name, from = %server.state, to = %record.state, "server state changed");
            if let Some(server) = engine.store.server(server.id).await? {
                engine.events.publish(SystemEvent::ServerChanged { server });
            }
        }
    }

    for (server, answer) in servers.iter().zip(&answers) {
        if let Some(health) = answer {
            refresh_settings(engine, &servers, server, health).await;
        }
    }

    for (server, _) in servers
        .iter()
        .zip(&answers)
        .filter(|(server, answer)| answer.is_none() && needs_failover(server, config, now))
    {
        let engine = engine.clone();
        let recorder = server.clone();
        exclusively(&round.busy, server.id, async move {
            if let Err(failure) = engine.fail_over(&recorder).await {
                tracing::error!(recorder = %recorder.name, "failover failed: {}", failure.message);
            }
        });
    }

    if !round.syncing.swap(true, Ordering::AcqRel) {
        let (engine, syncing) = (engine.clone(), round.syncing.clone());
        tokio::spawn(async move {
            if let Err(failure) = engine.sync_material_copies().await {
                tracing::warn!("material copy states not synchronised: {}", failure.message);
            }
            syncing.store(false, Ordering::Release);
        });
    }

    for (server, answer) in servers.iter().zip(&answers) {
        if server.kind != ServerKind::Recorder
            || server.state != ServerState::Broken
            || answer.is_none()
        {
            if round.answering_since.remove(&server.id).is_some() {
                publish_server(engine, server.id).await?;
            }
            continue;
        }
        let since = match round.answering_since.get(&server.id) {
            Some(since) => *since,
            None => {
                // A broken recorder back on the network: pages can offer failback now.
                tracing::info!(recorder = %server.name, "broken recorder answers again");
                round.answering_since.insert(server.id, Instant::now());
                publish_server(engine, server.id).await?;
                Instant::now()
            }
        };
        if since.elapsed() >= config.failback_hold_down
            && server.auto_failback
            && !server.maintenance_mode
        {
            let engine = engine.clone();
            let recorder = server.clone();
            exclusively(&round.busy, server.id, async move {
                match engine.automatic_failback(&recorder).await {
                    Ok(Some(answer)) => {
                        tracing::info!(recorder = %recorder.name, duration_ms = answer.duration_ms, "automatic failback performed")
                    }
                    Ok(None) => {}
                    Err(failure) => {
                        tracing::warn!(recorder = %recorder.name, "automatic failback refused: {}", failure.message)
                    }
                }
            });
        }
    }
    Ok(())
}

async fn publish_server(engine: &Engine, id: i64) -> Result<(), crate::store::StoreError> {
    if let Some(server) = engine.store.server(id).await? {
        engine.events.publish(SystemEvent::ServerChanged { server });
    }
    Ok(())
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

/// Runs one failover or failback per recorder at a time, in the background so a slow one
/// never holds up the next round; the database guards against other managers.
fn exclusively(
    busy: &Arc<Mutex<HashSet<i64>>>,
    recorder_id: i64,
    work: impl Future<Output = ()> + Send + 'static,
) {
    if !busy.lock().unwrap_or_else(|poison| poison.into_inner()).insert(recorder_id) {
        return;
    }
    let busy = busy.clone();
    tokio::spawn(async move {
        work.await;
        busy.lock().unwrap_or_else(|poison| poison.into_inner()).remove(&recorder_id);
    });
}

/// Keeps each recorder's latest settings bundle: from the recorder itself while it is ok, from
/// the failover server while one acts for it (changes made during the failover period).
async fn refresh_settings(engine: &Engine, servers: &[Server], server: &Server, health: &Health) {
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
    let cached = match engine.store.cached_settings(owner).await {
        Ok(cached) => cached,
        Err(error) => {
            tracing::warn!(%error, "cannot read the settings cache");
            return;
        }
    };
    let stale = match (&cached, health.settings_version) {
        (None, _) => true,
        (Some(cached), Some(version)) => cached.version != version,
        // An agent that does not report its version is read again every minute.
        (Some(cached), None) => Utc::now() - cached.fetched_at > chrono::Duration::minutes(1),
    };
    if !stale {
        return;
    }
    match engine.recorders.settings(&server.address).await {
        Ok(bundle) => {
            let version =
                bundle.get("version").and_then(serde_json::Value::as_i64).unwrap_or_default();
            let settings = CachedSettings { version, bundle, fetched_at: Utc::now() };
            if let Err(error) = engine.store.cache_settings(owner, &settings).await {
                tracing::warn!(%error, "cannot write the settings cache");
            } else {
                tracing::info!(server = %server.name, version, "recorder settings cached");
            }
        }
        Err(error) => tracing::warn!(server = %server.name, %error, "cannot read settings"),
    }
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
            kind: "failover".into(),
            acting_for: acting_for.map(Into::into),
            settings_version: None,
            recording: None,
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
