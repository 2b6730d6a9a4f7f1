//! The engine: the one door every person, script and page goes through ([`door`], the
//! implementation of [`app::port::Console`]), the process steps behind it (failover, failback,
//! material copying), and the background work that drives them (the health monitor and what the
//! engine does about what it observes). Its parts are its own: nothing outside reaches the store
//! or the recorders through it.

mod accounts;
mod audit;
mod copy;
mod door;
mod drill;
mod evidence;
mod failback;
mod failover;
mod failover_server_lost;
mod groups;
mod licence;
mod log_cache;
mod log_view;
mod mid_step;
mod notify;
mod reactions;
mod readiness;
pub mod refusal;
mod servers;

#[cfg(test)]
mod tests;

use crate::credentials::SessionPolicy;
use crate::credentials::login_guard::LoginGuard;
use crate::demo::DemoSite;
use crate::events::EventBus;
use crate::leadership::{Leadership, ManagerInfo};
use crate::monitor::{Monitor, MonitorConfig};
use crate::recorders::{HttpRecorders, Keyring, Recorders};
use crate::store::SharedStore;
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
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
    pub leadership: Arc<Leadership>,
}

impl Parts {
    pub fn new(store: SharedStore) -> Self {
        Parts {
            store,
            recorders: Arc::new(HttpRecorders::new()),
            sessions: SessionPolicy::default(),
            monitor: MonitorConfig::default(),
            demo: None,
            leadership: Arc::new(Leadership::sole(ManagerInfo {
                id: crate::leadership::new_manager_id(),
                started_at: Utc::now(),
            })),
        }
    }
}

/// Why a manager that does not lead does nothing on its own.
const NOT_LEADER: &str = "This manager does not lead now: the leading manager acts on its own.";

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
    log_cache: log_cache::LogCache,
    leadership: Arc<Leadership>,
    /// The epoch of the term whose start recovered what was left mid-step (-1: none yet).
    recovered_in: AtomicI64,
    /// What the leader's latest coverage check found (pages are told when it changes).
    coverage: Mutex<Option<readiness::Checked>>,
    /// Drills under way on this manager.
    drills: drill::Drills,
    /// The engine itself, for work a request starts that outlives it (a drill).
    me: std::sync::Weak<Engine>,
}

impl Engine {
    pub fn new(parts: Parts) -> Arc<Self> {
        Arc::new_cyclic(|me| Engine {
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
            log_cache: log_cache::LogCache::default(),
            leadership: parts.leadership,
            recovered_in: AtomicI64::new(-1),
            coverage: Mutex::default(),
            drills: drill::Drills::default(),
            me: me.clone(),
        })
    }

    /// When a term of leadership begins (on start, for a lone manager): failovers and failbacks
    /// left mid-step by a manager that died are finished or rolled back, visibly in the
    /// failover log. A manager that does not lead leaves them to the one that does.
    pub async fn recover(&self) {
        let Some(epoch) = self.leadership.epoch() else { return };
        self.recovered_in.store(epoch, Ordering::SeqCst);
        self.end_orphaned_drills().await;
        if let Err(refusal) = self.resume_all().await {
            tracing::error!("recovering interrupted failovers and failbacks failed: {refusal}");
        }
    }

    /// The background work until `stop`: while this manager leads, the health monitor, and
    /// failover, failback and material-copy follow-up for what it observes. A term that ends
    /// stops them; the next one starts them again, after recovering what was left mid-step.
    pub async fn run(self: &Arc<Self>, stop: CancellationToken) {
        let mut terms = self.leadership.subscribe();
        loop {
            let Some(epoch) = next_term(&mut terms, &stop).await else { return };
            if self.recovered_in.load(Ordering::SeqCst) != epoch {
                self.recover().await;
            }
            let term = stop.child_token();
            let ended = tokio::spawn({
                let (mut terms, term) = (terms.clone(), term.clone());
                async move {
                    let _ = terms.wait_for(|now| !now.leading || now.epoch != epoch).await;
                    term.cancel();
                }
            });
            let monitor = Monitor::new(
                self.store.clone(),
                self.recorders.clone(),
                self.keyring.clone(),
                self.events.clone(),
                self.monitor,
            );
            let announcing = tokio::spawn(self.clone().announce_managers(term.clone()));
            monitor.run(Arc::new(reactions::Reactions::new(self.clone())), term).await;
            ended.abort();
            announcing.abort();
            if stop.is_cancelled() {
                return;
            }
            tracing::warn!(epoch, "this manager's term has ended; it stops watching the recorders");
        }
    }

    /// Once listening: joins the other managers, if any, and makes the first attempt to lead.
    pub async fn join_managers(&self, listen: std::net::SocketAddr, stop: CancellationToken) {
        self.leadership.start(listen, stop).await;
    }

    /// While this manager leads several: every page is told when a manager comes or goes, or
    /// another leads. (A lone manager on SQLite has nothing to announce.)
    async fn announce_managers(self: Arc<Self>, term: CancellationToken) {
        if !self.leadership.shared() {
            return;
        }
        let mut last: Option<Vec<(String, bool)>> = None;
        let mut ticks = tokio::time::interval(self.leadership.renew_every());
        loop {
            tokio::select! {
                _ = term.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let Ok(managers) = self.managers_now().await else { continue };
            let shape: Vec<(String, bool)> =
                managers.list.iter().map(|manager| (manager.id.clone(), manager.leader)).collect();
            if last.as_ref() != Some(&shape) {
                self.events.publish(app::model::SystemEvent::ManagersChanged { managers });
                last = Some(shape);
            }
        }
    }

    /// Several managers on one PostgreSQL database: their change events reach every browser.
    pub fn relay_events(&self, pool: sqlx::PgPool) {
        crate::relay::start(&self.events, pool, self.leadership.me.id.clone());
    }

    /// On a graceful stop, after [`Engine::run`] has returned: another manager takes over at once.
    pub async fn resign(&self) {
        self.leadership.resign().await;
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

/// The epoch of this manager's next term (or the current one), or `None` on stop.
async fn next_term(
    terms: &mut tokio::sync::watch::Receiver<crate::leadership::Term>,
    stop: &CancellationToken,
) -> Option<i64> {
    tokio::select! {
        _ = stop.cancelled() => None,
        term = terms.wait_for(|term| term.leading) => term.ok().map(|term| term.epoch),
    }
}

/// Test builds only, at a named step: `STANDBY_TEST_CRASH_AT=<step>` kills the manager there, so
/// the integration tests can prove recovery from every step; `STANDBY_TEST_PAUSE_AT=<step>`
/// creates the file `STANDBY_TEST_PAUSE_FILE` there, the first time only, and waits until the
/// test removes it (which may first take the database away). Release builds have neither.
async fn step_done(step: &str) {
    #[cfg(debug_assertions)]
    {
        if std::env::var("STANDBY_TEST_CRASH_AT").is_ok_and(|wanted| wanted == step) {
            eprintln!("standby: crashing at {step} (STANDBY_TEST_CRASH_AT)");
            std::process::abort();
        }
        let pause = std::env::var_os("STANDBY_TEST_PAUSE_FILE").map(std::path::PathBuf::from);
        static PAUSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if let Some(pause) = pause
            && std::env::var("STANDBY_TEST_PAUSE_AT").is_ok_and(|wanted| wanted == step)
            && !PAUSED.swap(true, Ordering::SeqCst)
            && std::fs::write(&pause, step).is_ok()
        {
            eprintln!("standby: paused at {step} until {} is removed", pause.display());
            while pause.exists() {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
}
