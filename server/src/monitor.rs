//! The health monitor: checks every registered server on an interval, all at once, each check
//! bounded by a short timeout, so one dead or slow host never delays the others.

use crate::engine::Engine;
use crate::recorders::Health;
use crate::store::HealthRecord;
use app::model::{Server, ServerKind, ServerState, SystemEvent};
use chrono::Utc;
use futures::future::join_all;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy)]
pub struct MonitorConfig {
    pub interval: Duration,
    pub check_timeout: Duration,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            interval: Duration::from_secs(1),
            check_timeout: Duration::from_millis(500),
        }
    }
}

pub async fn run(engine: Arc<Engine>, config: MonitorConfig, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(config.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!(interval = ?config.interval, timeout = ?config.check_timeout, "health monitor started");
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        if let Err(error) = tick(&engine, config).await {
            tracing::warn!(%error, "health check round failed");
        }
    }
    tracing::info!("health monitor stopped");
}

/// One round: check all servers concurrently, write the outcome in one transaction, and tell
/// every client about each server whose state changed.
pub async fn tick(engine: &Engine, config: MonitorConfig) -> Result<(), crate::store::StoreError> {
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
    Ok(())
}

/// What a health answer (or its absence) means for the server's state.
pub fn next_state(server: &Server, answer: Option<&Health>) -> ServerState {
    match (server.kind, answer) {
        (_, None) => ServerState::Unreachable,
        (ServerKind::Recorder, Some(_)) => ServerState::Ok,
        (ServerKind::Failover, Some(health)) if health.acting_for.is_some() => ServerState::Acting,
        (ServerKind::Failover, Some(_)) => ServerState::Standby,
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
            last_seen_at: None,
        }
    }

    fn health(acting_for: Option<&str>) -> Health {
        Health { name: "x".into(), kind: "failover".into(), acting_for: acting_for.map(Into::into) }
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
    }
}
