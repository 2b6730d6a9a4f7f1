//! The engine: the one door every person, script and page goes through ([`door`], the
//! implementation of [`app::port::Console`]), the process steps behind it (failover, failback,
//! material copying), and the background work that drives them (the health monitor and what the
//! engine does about what it observes). Its parts are its own: nothing outside reaches the store
//! or the recorders through it.

mod accounts;
mod audit;
mod copy;
mod door;
mod failback;
mod failover;
mod groups;
mod licence;
mod log_view;
mod notify;
mod reactions;
pub mod refusal;
mod servers;

#[cfg(test)]
mod tests;

use crate::credentials::SessionPolicy;
use crate::credentials::login_guard::LoginGuard;
use crate::demo::DemoSite;
use crate::events::EventBus;
use crate::monitor::{Monitor, MonitorConfig};
use crate::recorders::{HttpRecorders, Keyring, Recorders};
use crate::store::SharedStore;
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// A warning already announced: (recorder, code, when its outage began).
type Warned = (i64, &'static str, Option<DateTime<Utc>>);

/// What an engine is made of; everything but the store has a default.
pub struct Parts {
    pub store: SharedStore,
    pub recorders: Recorders,
    pub sessions: SessionPolicy,
    pub monitor: MonitorConfig,
    pub demo: Option<Arc<DemoSite>>,
}

impl Parts {
    pub fn new(store: SharedStore) -> Self {
        Parts {
            store,
            recorders: Arc::new(HttpRecorders::new()),
            sessions: SessionPolicy::default(),
            monitor: MonitorConfig::default(),
            demo: None,
        }
    }
}

pub struct Engine {
    store: SharedStore,
    recorders: Recorders,
    keyring: Arc<Keyring>,
    events: EventBus,
    sessions: SessionPolicy,
    monitor: MonitorConfig,
    login_guard: LoginGuard,
    demo: Option<Arc<DemoSite>>,
    warned: Mutex<HashSet<Warned>>,
    /// When each copy under way (by failover id) was last given a grant.
    granted: Mutex<std::collections::HashMap<i64, std::time::Instant>>,
    /// Bumped when a session ends, a token is revoked or a user removed: open event streams
    /// then check their credential at once.
    credentials: tokio::sync::watch::Sender<()>,
}

impl Engine {
    pub fn new(parts: Parts) -> Arc<Self> {
        Arc::new(Engine {
            keyring: Arc::new(Keyring::new(parts.store.clone())),
            store: parts.store,
            recorders: parts.recorders,
            events: EventBus::default(),
            sessions: parts.sessions,
            monitor: parts.monitor,
            login_guard: LoginGuard::default(),
            demo: parts.demo,
            warned: Mutex::default(),
            granted: Mutex::default(),
            credentials: tokio::sync::watch::Sender::new(()),
        })
    }

    /// On start: failovers and failbacks left mid-step by a manager that died are finished or
    /// rolled back, visibly in the failover log.
    pub async fn recover(&self) {
        if let Err(refusal) = self.recover_failovers().await {
            tracing::error!("recovering interrupted failovers failed: {refusal}");
        }
        if let Err(refusal) = self.recover_failbacks().await {
            tracing::error!("recovering interrupted failbacks failed: {refusal}");
        }
    }

    /// The background work until `stop`: the health monitor, and failover, failback and
    /// material-copy follow-up for what it observes.
    pub async fn run(self: &Arc<Self>, stop: CancellationToken) {
        let monitor = Monitor::new(
            self.store.clone(),
            self.recorders.clone(),
            self.keyring.clone(),
            self.events.clone(),
            self.monitor,
        );
        monitor.run(Arc::new(reactions::Reactions::new(self.clone())), stop).await;
    }

    fn check_timeout(&self) -> std::time::Duration {
        self.monitor.check_timeout
    }

    /// The bound of the check that confirms a death before failover. The monitor has already
    /// seen the recorder silent for the whole window (or its connection refused); a live agent
    /// beats every heartbeat, so one that cannot answer within one heartbeat (at most the check
    /// timeout) is not recording for anyone, and waiting longer only lengthens the gap.
    fn reprobe_timeout(&self) -> std::time::Duration {
        self.monitor.check_timeout.min(self.monitor.heartbeat)
    }
}

/// Test builds only: `STANDBY_TEST_CRASH_AT=<step>` kills the manager at that step, so the
/// integration tests can prove recovery from every step. Release builds have no such hook.
fn crash_point(step: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("STANDBY_TEST_CRASH_AT").is_ok_and(|wanted| wanted == step) {
        eprintln!("standby: crashing at {step} (STANDBY_TEST_CRASH_AT)");
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
}
