//! Which manager leads. Only the leader watches the recorders and acts on its own (automatic
//! failover and failback, following material copies); every manager serves people. Several
//! managers on one PostgreSQL database share a lease ([`lease`]); on SQLite there is exactly one
//! manager, which holds a lock on the database file ([`sole`]) and always leads.
//!
//! The engine sees only this small interface: whether this manager leads and with which epoch,
//! and a channel of changes. Every term of leadership has a larger epoch than the one before;
//! the leader's commands to agents carry it, so an agent can refuse a stale leader's.

pub mod lease;
pub mod sole;

use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Lease timings (`--lease-ms`, `--renew-ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseConfig {
    pub lease: Duration,
    pub renew: Duration,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig { lease: Duration::from_millis(3000), renew: Duration::from_millis(1000) }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LeaseConfigError {
    #[error(
        "--renew-ms ({renew_ms}) must be shorter than --lease-ms ({lease_ms}): the leader renews \
         its lease several times before it runs out"
    )]
    RenewNotShorter { renew_ms: u64, lease_ms: u64 },
    #[error("--renew-ms and --lease-ms must be at least 1")]
    Zero,
}

impl LeaseConfig {
    pub fn new(lease_ms: u64, renew_ms: u64) -> Result<Self, LeaseConfigError> {
        if lease_ms == 0 || renew_ms == 0 {
            return Err(LeaseConfigError::Zero);
        }
        if renew_ms >= lease_ms {
            return Err(LeaseConfigError::RenewNotShorter { renew_ms, lease_ms });
        }
        Ok(LeaseConfig {
            lease: Duration::from_millis(lease_ms),
            renew: Duration::from_millis(renew_ms),
        })
    }

    /// How long after a renewal *began* the leader still trusts its lease. The database counts
    /// the lease from when it ran the statement, which is later, so the leader stops acting
    /// before any other manager can take the lease over.
    pub fn trusted_for(&self) -> Duration {
        self.lease - self.lease / 6
    }
}

/// This manager's term as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Term {
    pub leading: bool,
    /// The term's epoch when leading; otherwise the latest epoch seen (0: none yet).
    pub epoch: i64,
}

/// A manager as `GET /api/v1/managers` lists it.
/// This manager, as the others see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerInfo {
    pub id: String,
    pub started_at: DateTime<Utc>,
}

enum Trust {
    /// The sole manager on its database.
    Always,
    /// Until this moment of the monotonic clock.
    Until(Instant),
    Not,
}

/// This manager's view of who leads, kept current by [`lease`] or fixed by [`sole`].
pub struct Leadership {
    pub me: ManagerInfo,
    /// Where this manager listens, known once it does.
    listen: OnceLock<String>,
    term: watch::Sender<Term>,
    trust: Mutex<Trust>,
    /// The largest epoch seen anywhere: followers' manual commands carry it too.
    known_epoch: Arc<AtomicI64>,
    lease: Option<lease::Lease>,
}

impl Leadership {
    fn with(me: ManagerInfo, trust: Trust, term: Term, lease: Option<lease::Lease>) -> Self {
        Leadership {
            me,
            listen: OnceLock::new(),
            known_epoch: Arc::new(AtomicI64::new(term.epoch)),
            term: watch::Sender::new(term),
            trust: Mutex::new(trust),
            lease,
        }
    }

    /// The epoch of this manager's term, while it leads and may still trust its lease.
    pub fn epoch(&self) -> Option<i64> {
        let term = *self.term.borrow();
        (term.leading && self.trusted()).then_some(term.epoch)
    }

    /// Whether this manager's lease may still be relied on, by its own clock.
    fn trusted(&self) -> bool {
        match *self.trust.lock().unwrap_or_else(|poison| poison.into_inner()) {
            Trust::Always => true,
            Trust::Until(until) => Instant::now() < until,
            Trust::Not => false,
        }
    }

    pub fn leading(&self) -> bool {
        self.epoch().is_some()
    }

    /// What commands to agents carry: this term's epoch, or the leader's as last seen.
    pub fn known_epoch(&self) -> i64 {
        self.known_epoch.load(Ordering::SeqCst)
    }

    /// The same number as [`Leadership::known_epoch`], for the client that sends commands.
    pub fn epoch_counter(&self) -> Arc<AtomicI64> {
        self.known_epoch.clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Term> {
        self.term.subscribe()
    }

    pub fn term(&self) -> Term {
        *self.term.borrow()
    }

    /// How often the lease is renewed (a lone manager: once a second, for what paces itself on it).
    pub fn renew_every(&self) -> Duration {
        self.lease.as_ref().map_or(Duration::from_secs(1), |lease| lease.config.renew)
    }

    /// Whether other managers may exist (PostgreSQL) or this one is alone (SQLite).
    pub fn shared(&self) -> bool {
        self.lease.is_some()
    }

    fn saw_epoch(&self, epoch: i64) {
        self.known_epoch.fetch_max(epoch, Ordering::SeqCst);
    }

    /// A renewal that began at `began` won the lease for `epoch`.
    fn won(&self, epoch: i64, began: Instant, trusted_for: Duration) {
        self.saw_epoch(epoch);
        *self.trust.lock().unwrap_or_else(|poison| poison.into_inner()) =
            Trust::Until(began + trusted_for);
        self.set_term(Term { leading: true, epoch });
    }

    /// Another manager holds the lease, with `epoch`.
    fn lost_to(&self, epoch: i64) {
        self.saw_epoch(epoch);
        self.step_down();
    }

    /// A renewal could not reach the database. The term goes on while the lease can still be
    /// trusted (a slow moment), and ends when it cannot.
    fn renewal_failed(&self) {
        if !self.trusted() {
            self.step_down();
        }
    }

    fn step_down(&self) {
        *self.trust.lock().unwrap_or_else(|poison| poison.into_inner()) = Trust::Not;
        self.set_term(Term { leading: false, epoch: self.known_epoch() });
    }

    /// Watchers hear of a term only when it differs from the last.
    fn set_term(&self, next: Term) {
        self.term.send_if_modified(|term| {
            let changed = *term != next;
            *term = next;
            changed
        });
    }

    pub fn listen(&self) -> &str {
        self.listen.get().map(String::as_str).unwrap_or("")
    }

    /// Once listening: a lone manager leads at once; one on PostgreSQL makes its first attempt
    /// to lead before this returns, then renews or watches the lease until `stop`.
    pub async fn start(self: &Arc<Self>, listen: std::net::SocketAddr, stop: CancellationToken) {
        let _ = self.listen.set(listen.to_string());
        if let Some(lease) = &self.lease {
            self.round(lease).await;
            tokio::spawn(lease::renew(self.clone(), stop));
        }
    }

    /// The managers renewing now, with who leads (on SQLite: this one).
    pub async fn managers(&self) -> Result<Vec<Manager>, sqlx::Error> {
        match &self.lease {
            Some(lease) => lease.managers().await,
            None => {
                let term = self.term();
                Ok(vec![Manager {
                    id: self.me.id.clone(),
                    listen: self.listen().to_owned(),
                    leader: term.leading,
                    epoch: term.leading.then_some(term.epoch),
                    leader_since: term.leading.then_some(self.me.started_at),
                    started_at: self.me.started_at,
                    last_renewed_at: Utc::now(),
                }])
            }
        }
    }
}

pub use app::model::Manager;

/// A name for this manager that no other has: the host, the process and a random part.
pub fn new_manager_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "standby".to_owned());
    let mut bytes = [0u8; 3];
    // A clash of the random part on the same host and pid is harmless: it only names the row.
    let _ = getrandom::getrandom(&mut bytes);
    format!("{host}-{}-{}", std::process::id(), hex::encode(bytes))
}
